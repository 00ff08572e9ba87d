import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The host's log, through swift-log: a `Logger` whose handler (`HostLogHandler`) writes one
/// line per event to a file descriptor (stderr unless `--log file=...` says otherwise, so
/// systemd's journal gets it), with a prefix, the message, and the event's metadata
/// (`instance=vm1 event=evict`). Filtered by level as swtpm's `--log level=N` does (1: errors
/// and notices; 2: connections and state changes; 3 and up: every command and response in
/// hex) or by swift-log's level names (`--log-level debug`). Secrets never reach it: command
/// dumps are opt-in debugging of a test TPM.
public final class HostLog: Sendable {
    public enum Level: Int, Sendable {
        case error = 1
        case info = 2
        case debug = 3

        var logging: Logger.Level {
            switch self {
            case .error: return .error
            case .info: return .info
            case .debug: return .debug
            }
        }
    }

    /// The swift-log logger every line goes through; its metadata is on every line.
    public let logger: Logger
    private let sink: HostLogSink?

    /// Logs to `fd` (not closed by the log unless `ownsFD`); a negative fd discards everything.
    /// `level` is swtpm's number (1-3).
    public convenience init(fd: Int32, level: Int = 1, prefix: String = "", ownsFD: Bool = false) {
        self.init(fd: fd, threshold: Self.threshold(level: level), prefix: prefix, ownsFD: ownsFD)
    }

    /// Logs to `fd` every event at `threshold` or more severe.
    public init(fd: Int32, threshold: Logger.Level, prefix: String = "", ownsFD: Bool = false) {
        let sink = fd >= 0 ? HostLogSink(fd: fd, ownsFD: ownsFD) : nil
        self.sink = sink
        var logger = Logger(label: "vtpm") { _ in HostLogHandler(sink: sink, prefix: prefix) }
        logger.logLevel = sink == nil ? .critical : threshold
        self.logger = logger
    }

    private init(sink: HostLogSink?, logger: Logger) {
        self.sink = sink
        self.logger = logger
    }

    /// swtpm's numeric levels as swift-log levels: 1 errors and notices, 2 info, 3 and up debug.
    public static func threshold(level: Int) -> Logger.Level {
        level <= 1 ? .notice : level == 2 ? .info : .debug
    }

    /// `--log-level`: swtpm's numbers (1-3) or swift-log's names (trace ... critical).
    public static func threshold(parsing text: String) -> Logger.Level? {
        if let n = Int(text), n >= 0 { return threshold(level: n) }
        return Logger.Level(rawValue: text.lowercased())
    }

    /// Errors to standard error, as swtpm does without `--log`.
    public static func standardError(prefix: String = "vtpm: ") -> HostLog { HostLog(fd: 2, prefix: prefix) }
    public static let discard = HostLog(fd: -1)

    /// The same destination and level with metadata added to every line (`instance`: one
    /// instance of many).
    public func with(_ key: String, _ value: String) -> HostLog {
        var logger = self.logger
        logger[metadataKey: key] = .string(value)
        return HostLog(sink: sink, logger: logger)
    }

    /// The same destination and level with a longer prefix.
    public func appending(prefix more: String) -> HostLog {
        guard let handler = logger.handler as? HostLogHandler else { return self }
        var logger = Logger(label: "vtpm") { _ in HostLogHandler(sink: handler.sink, prefix: handler.prefix + more) }
        logger.logLevel = self.logger.logLevel
        logger.handler.metadata = handler.metadata
        return HostLog(sink: sink, logger: logger)
    }

    /// Opens `path` for appending (or truncated with `truncate`), as swtpm's `--log file=`.
    public static func file(_ path: String, level: Int, prefix: String, truncate: Bool) throws -> HostLog {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0o640)
        guard fd >= 0 else { throw StateStoreError.system("cannot open log file", path, errno) }
        return HostLog(fd: fd, level: level, prefix: prefix, ownsFD: true)
    }

    /// Whether events of this level are written (checked before building costly messages).
    public func enabled(_ l: Level) -> Bool { sink != nil && l.logging >= logger.logLevel }

    /// One event; `event` names it in the metadata (`event=evict`) for log processors.
    public func log(_ l: Level, _ message: @autoclosure () -> String, event: String? = nil) {
        guard enabled(l) else { return }
        logger.log(level: l.logging, "\(message())", metadata: event.map { ["event": .string($0)] })
    }

    public func error(_ message: @autoclosure () -> String, event: String? = nil) { log(.error, message(), event: event) }
    public func info(_ message: @autoclosure () -> String, event: String? = nil) { log(.info, message(), event: event) }
    public func debug(_ message: @autoclosure () -> String, event: String? = nil) { log(.debug, message(), event: event) }
}

/// The descriptor lines go to. One write(2) per line: lines from different threads do not
/// interleave (O_APPEND files and pipes take a short write whole), so no lock is needed.
final class HostLogSink: Sendable {
    let fd: Int32
    let ownsFD: Bool
    /// systemd's journal reads stderr: a `<N>` syslog priority before each line sets the
    /// entry's priority (sd-daemon(3)). Only when stderr is the journal stream
    /// ($JOURNAL_STREAM names its device and inode).
    let journal: Bool

    init(fd: Int32, ownsFD: Bool) {
        self.fd = fd
        self.ownsFD = ownsFD
        journal = Self.isJournal(fd)
    }

    deinit { if ownsFD { close(fd) } }

    static func isJournal(_ fd: Int32) -> Bool {
        guard let env = getenv("JOURNAL_STREAM") else { return false }
        let parts = String(cString: env).split(separator: ":")
        var st = stat()
        guard parts.count == 2, fstat(fd, &st) == 0 else { return false }
        return UInt64(parts[0]) == UInt64(st.st_dev) && UInt64(parts[1]) == UInt64(st.st_ino)
    }

    func write(_ text: String) {
        let line = Array(text.utf8)
        var n = -1
        repeat { n = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } } while n < 0 && errno == EINTR
    }
}

/// swift-log's handler for `HostLog`: `PREFIX message key=value ...`, one line per event.
struct HostLogHandler: LogHandler {
    let sink: HostLogSink?
    let prefix: String
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .info

    init(sink: HostLogSink?, prefix: String) {
        self.sink = sink
        self.prefix = prefix
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        guard let sink else { return }
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let more = event.metadata { all.merge(more) { $1 } }
        var line = sink.journal ? "<\(Self.syslogPriority(event.level))>" : ""
        line += prefix
        // The instance first, as the old "NAME: message" lines had it.
        if let instance = all.removeValue(forKey: "instance") { line += "\(instance): " }
        line += event.message.description
        for key in all.keys.sorted() { line += " \(key)=\(all[key]!)" }
        sink.write(line + "\n")
    }

    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }
}

extension Collection where Element == UInt8 {
    /// Lower-case hex, for debug logs and test messages.
    var hex: String { map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }
}
