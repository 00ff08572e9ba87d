/// What a host gives an instance: entropy and time. The engine reads no clock and no OS
/// randomness itself, so tests drive it deterministically and one process can hold
/// thousands of instances.
public struct TPMEnvironment: Sendable {
    /// `n` bytes of fresh entropy.
    public var entropy: @Sendable (Int) -> [UInt8]
    /// Milliseconds from any fixed origin, never going backwards (a monotonic clock).
    public var milliseconds: @Sendable () -> UInt64

    public init(entropy: @escaping @Sendable (Int) -> [UInt8], milliseconds: @escaping @Sendable () -> UInt64) {
        self.entropy = entropy
        self.milliseconds = milliseconds
    }
}
