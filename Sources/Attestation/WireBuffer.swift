/// Big-endian reading and writing for the evidence protocol. Reads return typed errors past
/// the end, never trap (the protocol's peer may be hostile).
struct WireReader {
    private let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func u8(_ field: String) throws -> UInt8 {
        guard remaining >= 1 else { throw EvidenceProtocolError.truncated(field: field) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16(_ field: String) throws -> UInt16 {
        UInt16(try take(2, field).reduce(0) { $0 << 8 | UInt32($1) })
    }

    mutating func u32(_ field: String) throws -> UInt32 {
        try take(4, field).reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func u64(_ field: String) throws -> UInt64 {
        try take(8, field).reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func take(_ n: Int, _ field: String) throws -> [UInt8] {
        guard n >= 0, remaining >= n else { throw EvidenceProtocolError.truncated(field: field) }
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    /// u16 length then bytes; the length is checked against `max` before anything is read.
    mutating func blob16(_ field: String, max: Int) throws -> [UInt8] {
        let n = Int(try u16(field))
        guard n <= max else { throw EvidenceProtocolError.fieldTooLarge(field: field, size: n, max: max) }
        return try take(n, field)
    }

    /// u32 length then bytes, bounded by `max`.
    mutating func blob32(_ field: String, max: Int) throws -> [UInt8] {
        let n = Int(try u32(field))
        guard n <= max else { throw EvidenceProtocolError.fieldTooLarge(field: field, size: n, max: max) }
        return try take(n, field)
    }

    func finish() throws {
        guard remaining == 0 else { throw EvidenceProtocolError.trailingBytes(remaining) }
    }
}

struct WireWriter {
    private(set) var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes += [UInt8(v >> 8), UInt8(v & 0xFF)] }
    mutating func u32(_ v: UInt32) { for s in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(v >> UInt32(s) & 0xFF)) } }
    mutating func u64(_ v: UInt64) { for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(v >> UInt64(s) & 0xFF)) } }
    mutating func raw(_ b: [UInt8]) { bytes += b }
    mutating func blob16(_ b: [UInt8]) {
        u16(UInt16(truncatingIfNeeded: b.count))
        bytes += b
    }
    mutating func blob32(_ b: [UInt8]) {
        u32(UInt32(truncatingIfNeeded: b.count))
        bytes += b
    }
}
