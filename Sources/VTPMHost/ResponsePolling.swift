import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Polling for a connection's next command right after its response, before sleeping in
/// read(2) — what KVM's halt polling does for an idle vCPU, for the same reason.
///
/// A client that sends its next command a few microseconds after reading a response (a
/// guest's IMA extends, a benchmark loop, tpm2-tools' session set-up) otherwise pays a
/// sleep and a wake-up on our side per command: the data socket's wake-up crosses to
/// another core (an inter-processor interrupt, a VM exit on a virtualized host) and costs more
/// than the command. Polling takes that wake-up out; it costs CPU for as long as it polls.
///
/// Bounds, so that polling never takes more than it gives:
/// - a connection polls only when its previous gap (response sent to next command read) was
///   within the window: a client that sends at human or IMA rate never polls, a client
///   that paused polls once in vain (at most one window) and then sleeps until it proves
///   fast again;
/// - at most one connection per processor beyond the first polls at once, process-wide (none
///   on a one-processor machine, where the client could not run meanwhile); the others sleep
///   as before;
/// - every turn of the loop yields the processor (sched_yield), so a client or a guest on the
///   same core runs first.
///
/// `vtpm serve --poll-us N` and `$VTPM_POLL_US` (the swtpm-compatible commands) set the
/// window; 0 turns polling off.
public enum ResponsePolling {
    /// The default window: the gap a client with a few microseconds of work per command
    /// leaves on this project's machines, with margin; a quarter of KVM's default
    /// halt_poll_ns (200 µs).
    public static let defaultWindowMicroseconds = 50

    /// The largest window accepted.
    public static let maxWindowMicroseconds = 1000

    private static let window = Atomic<Int>(defaultWindowMicroseconds)
    private static let pollers = Atomic<Int>(0)

    /// Connections that may poll at once: the processors online less one.
    static let maxPollers: Int = {
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return n > 1 ? Int(n) - 1 : 0
    }()

    /// Microseconds; 0 turns polling off. Clamped to 0...`maxWindowMicroseconds`.
    public static var windowMicroseconds: Int {
        get { window.load(ordering: .relaxed) }
        set { window.store(min(max(0, newValue), maxWindowMicroseconds), ordering: .relaxed) }
    }

    /// Reads `$VTPM_POLL_US` when set: false if it is set and is not a number in range (the
    /// caller reports it), true otherwise.
    public static func configureFromEnvironment() -> Bool {
        guard let text = getenv("VTPM_POLL_US").map({ String(cString: $0) }) else { return true }
        guard let us = Int(text), (0...maxWindowMicroseconds).contains(us) else { return false }
        windowMicroseconds = us
        return true
    }

    /// Whether a gap of `nanoseconds` between a response and the next command is short enough
    /// for the connection to poll next time.
    static func worthPolling(gapNanoseconds: UInt64) -> Bool {
        gapNanoseconds <= UInt64(windowMicroseconds) * 1000
    }

    /// Reads into `buffer` without sleeping for at most the window after `since` (a
    /// monotonic time in ns, when the response went out). The byte count, 0 when the peer
    /// closed; nil when nothing came in time, no polling slot was free, or the socket has an
    /// error (the caller's blocking read then sees the same).
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, since: UInt64) -> Int? {
        let us = windowMicroseconds
        guard us > 0, acquire() else { return nil }
        defer { release() }
        let deadline = since + UInt64(us) * 1000
        while true {
            let n = recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT))
            if n >= 0 { return n }
            guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else { return nil }
            if Monitor.now() >= deadline { return nil }
            sched_yield()
        }
    }

    /// Takes a polling slot, if one is free.
    static func acquire() -> Bool {
        var current = pollers.load(ordering: .relaxed)
        while current < maxPollers {
            let (exchanged, original) = pollers.compareExchange(
                expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    static func release() { pollers.subtract(1, ordering: .relaxed) }
}
