import TPMCrypto
import TPMEngine

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension TPMEnvironment {
    /// The real operating system: entropy from getrandom(2) and time from the monotonic clock.
    /// Only hosts use it; the engine never reads the OS itself, so tests inject their own.
    public static let system = TPMEnvironment(
        entropy: { SystemEntropy.bytes($0) },
        milliseconds: { monotonicMilliseconds() }
    )
}

/// Milliseconds of CLOCK_MONOTONIC: never goes backwards and ignores wall-clock changes, which
/// is what the TPM's Time and Clock need (Part 1, 36: Clock advances; it is set only by
/// ClockSet, never by the host's calendar).
func monotonicMilliseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1000 &+ UInt64(ts.tv_nsec) / 1_000_000
}
