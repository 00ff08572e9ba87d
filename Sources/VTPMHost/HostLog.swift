#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The host's log: lines to a file descriptor (stderr unless `--log file=...` says otherwise),
/// each with a prefix, filtered by level as swtpm's `--log level=N` does (1: errors and
/// notices; 2: connections and state changes; 3 and up: every command and response in hex).
/// Secrets never reach it: command dumps are opt-in debugging of a test TPM.
public final class HostLog: Sendable {
    public enum Level: Int, Sendable {
        case error = 1
        case info = 2
        case debug = 3
    }

    private let fd: Int32
    private let ownsFD: Bool
    public let level: Int
    public let prefix: String

    /// Logs to `fd` (not closed by the log unless `ownsFD`); a negative fd discards everything.
    public init(fd: Int32, level: Int = 1, prefix: String = "", ownsFD: Bool = false) {
        self.fd = fd
        self.level = level
        self.prefix = prefix
        self.ownsFD = ownsFD
    }

    /// Errors to standard error, as swtpm does without `--log`.
    public static func standardError(prefix: String = "vtpm: ") -> HostLog { HostLog(fd: 2, prefix: prefix) }

    /// The same destination and level with a longer prefix (one instance of many).
    public func appending(prefix more: String) -> HostLog { HostLog(fd: fd, level: level, prefix: prefix + more) }
    public static let discard = HostLog(fd: -1)

    /// Opens `path` for appending (or truncated with `truncate`), as swtpm's `--log file=`.
    public static func file(_ path: String, level: Int, prefix: String, truncate: Bool) throws -> HostLog {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0o640)
        guard fd >= 0 else { throw StateStoreError.system("cannot open log file", path, errno) }
        return HostLog(fd: fd, level: level, prefix: prefix, ownsFD: true)
    }

    deinit { if ownsFD { close(fd) } }

    public func enabled(_ l: Level) -> Bool { fd >= 0 && l.rawValue <= level }

    public func log(_ l: Level, _ message: @autoclosure () -> String) {
        guard enabled(l) else { return }
        // One write(2) per line: lines from different threads do not interleave (O_APPEND
        // files and pipes take a short write whole), so no lock is needed.
        let line = Array((prefix + message() + "\n").utf8)
        var n = -1
        repeat { n = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } } while n < 0 && errno == EINTR
    }

    public func error(_ message: @autoclosure () -> String) { log(.error, message()) }
    public func info(_ message: @autoclosure () -> String) { log(.info, message()) }
    public func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }
}

extension Collection where Element == UInt8 {
    /// Lower-case hex, for debug logs and test messages.
    var hex: String { map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }
}
