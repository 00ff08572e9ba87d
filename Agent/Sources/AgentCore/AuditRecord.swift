/// One Linux audit record: its type (the netlink message type), the event's serial and time
/// from the `audit(SECONDS.MILLIS:SERIAL):` prefix, and its fields in order. Values that the
/// kernel hex-encodes (untrusted strings with spaces, quotes or control characters) stay as
/// written; `string(_:)` decodes either form.
public struct AuditRecord: Hashable, Sendable {
    public var type: UInt16
    public var serial: UInt64
    public var timestamp: String
    public var fields: [(key: String, value: String)]

    public init(type: UInt16, serial: UInt64, timestamp: String, fields: [(key: String, value: String)]) {
        self.type = type
        self.serial = serial
        self.timestamp = timestamp
        self.fields = fields
    }

    public static func == (a: AuditRecord, b: AuditRecord) -> Bool {
        a.type == b.type && a.serial == b.serial && a.timestamp == b.timestamp
            && a.fields.map(\.key) == b.fields.map(\.key) && a.fields.map(\.value) == b.fields.map(\.value)
    }

    public func hash(into h: inout Hasher) {
        h.combine(type)
        h.combine(serial)
    }

    /// The record types of an exec event (linux/audit.h).
    public enum Kind {
        public static let syscall: UInt16 = 1300
        public static let path: UInt16 = 1302
        public static let cwd: UInt16 = 1307
        public static let execve: UInt16 = 1309
        public static let eoe: UInt16 = 1320
        public static let proctitle: UInt16 = 1327
    }

    /// The raw value of the first field named `key`.
    public subscript(key: String) -> String? { fields.first { $0.key == key }?.value }

    /// A string field: `"quoted"` values lose their quotes, hex-encoded ones are decoded,
    /// `(null)` is nil. Decoded bytes that are not UTF-8 are kept with replacement characters.
    public func string(_ key: String) -> String? {
        guard let raw = self[key] else { return nil }
        return Self.decodeString(raw)
    }

    /// The bytes of a string field (exact, for paths that are not UTF-8).
    public func bytes(_ key: String) -> [UInt8]? {
        guard let raw = self[key] else { return nil }
        return Self.decodeBytes(raw)
    }

    public static func decodeBytes(_ raw: String) -> [UInt8]? {
        if raw.count >= 2, raw.hasPrefix("\""), raw.hasSuffix("\"") { return Array(raw.utf8.dropFirst().dropLast()) }
        if raw == "(null)" || raw == "?" { return nil }
        return hexDecode(raw)
    }

    public static func decodeString(_ raw: String) -> String? {
        decodeBytes(raw).map { String(decoding: $0, as: UTF8.self) }
    }

    static func hexDecode(_ s: String) -> [UInt8]? {
        let utf8 = Array(s.utf8)
        guard utf8.count % 2 == 0, !utf8.isEmpty, utf8.count <= AuditLimits.maxRecordSize else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = hexNibble(utf8[i]), let lo = hexNibble(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func hexNibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

public enum AuditLimits {
    /// MAX_AUDIT_MESSAGE_LENGTH of the kernel (8970): no record is longer.
    public static let maxRecordSize = 8970
    /// Fields in one record (a PATH or SYSCALL record has ~30).
    public static let maxFields = 512
    /// Events waiting for their EOE record.
    public static let maxPendingEvents = 4096
    /// Records joined into one event (argv of EXECVE can be split over many records, PATH items).
    public static let maxRecordsPerEvent = 256
}

public enum AuditParseError: Error, Hashable, Sendable, CustomStringConvertible {
    case tooLong(Int)
    case noPrefix
    case badPrefix(String)
    case badField(String)
    case tooManyFields

    public var description: String {
        switch self {
        case .tooLong(let n): return "record of \(n) bytes exceeds \(AuditLimits.maxRecordSize)"
        case .noPrefix: return "no audit(TIME:SERIAL): prefix"
        case .badPrefix(let p): return "malformed prefix '\(p)'"
        case .badField(let f): return "malformed field '\(f.prefix(60))'"
        case .tooManyFields: return "more than \(AuditLimits.maxFields) fields"
        }
    }
}

extension AuditRecord {
    /// Parses the text of a record as the kernel sends it over netlink:
    /// `audit(1700000000.123:456): key=value key="quoted value" ...`. A trailing NUL or newline
    /// is ignored; values are `"..."` (no escapes inside: the kernel hex-encodes any string
    /// containing a quote), or unquoted up to the next space. SYSCALL records of some kernels add a
    /// `\x1d`-separated enriched part (interpreted fields); it is split off as further fields.
    public init(type: UInt16, text: [UInt8]) throws(AuditParseError) {
        guard text.count <= AuditLimits.maxRecordSize else { throw .tooLong(text.count) }
        var bytes = text
        while let last = bytes.last, last == 0 || last == 10 { bytes.removeLast() }
        // Prefix.
        let prefix = Array("audit(".utf8)
        guard bytes.count > prefix.count, Array(bytes[0..<prefix.count]) == prefix else { throw .noPrefix }
        guard let close = bytes.firstIndex(of: UInt8(ascii: ")")) else { throw .noPrefix }
        let inner = String(decoding: bytes[prefix.count..<close], as: UTF8.self)
        let parts = inner.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let serial = UInt64(parts[1]), !parts[0].isEmpty,
            parts[0].allSatisfy({ $0.isNumber || $0 == "." })
        else { throw .badPrefix(inner) }
        var i = close + 1
        guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else {
            if i == bytes.count {
                self.init(type: type, serial: serial, timestamp: String(parts[0]), fields: [])
                return
            }
            throw .badPrefix(inner)
        }
        i += 1
        var fields: [(key: String, value: String)] = []
        let space = UInt8(ascii: " ")
        let gs: UInt8 = 0x1D
        while i < bytes.count {
            while i < bytes.count, bytes[i] == space || bytes[i] == gs { i += 1 }
            guard i < bytes.count else { break }
            let keyStart = i
            while i < bytes.count, bytes[i] != UInt8(ascii: "="), bytes[i] != space, bytes[i] != gs { i += 1 }
            guard i < bytes.count, bytes[i] == UInt8(ascii: "="), i > keyStart else {
                throw .badField(String(decoding: bytes[keyStart..<min(i, bytes.count)], as: UTF8.self))
            }
            let key = String(decoding: bytes[keyStart..<i], as: UTF8.self)
            i += 1
            let valueStart = i
            if i < bytes.count, bytes[i] == UInt8(ascii: "\"") {
                i += 1
                while i < bytes.count, bytes[i] != UInt8(ascii: "\"") { i += 1 }
                guard i < bytes.count else { throw .badField(key) }
                i += 1
            } else if i < bytes.count, bytes[i] == UInt8(ascii: "'") {
                // msg='...' in user records.
                i += 1
                while i < bytes.count, bytes[i] != UInt8(ascii: "'") { i += 1 }
                guard i < bytes.count else { throw .badField(key) }
                i += 1
            } else {
                while i < bytes.count, bytes[i] != space, bytes[i] != gs { i += 1 }
            }
            fields.append((key, String(decoding: bytes[valueStart..<i], as: UTF8.self)))
            guard fields.count <= AuditLimits.maxFields else { throw .tooManyFields }
        }
        self.init(type: type, serial: serial, timestamp: String(parts[0]), fields: fields)
    }
}
