/// Reads big-endian TPM wire data. Every read checks that the bytes are really there and
/// throws TPM_RC_INSUFFICIENT otherwise (the code the reference unmarshalling code uses for
/// a buffer that ends early); nothing here can trap on any input.
public struct TPMReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    public let end: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        offset = 0
        end = bytes.count
    }

    init(bytes: [UInt8], offset: Int, end: Int) {
        self.bytes = bytes
        self.offset = offset
        self.end = end
    }

    public var remaining: Int { end - offset }
    public var isAtEnd: Bool { offset >= end }

    public mutating func u8() throws -> UInt8 {
        guard remaining >= 1 else { throw TPMError.insufficient }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func u16() throws -> UInt16 {
        guard remaining >= 2 else { throw TPMError.insufficient }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    public mutating func u32() throws -> UInt32 {
        guard remaining >= 4 else { throw TPMError.insufficient }
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(bytes[offset + i]) }
        offset += 4
        return v
    }

    public mutating func u64() throws -> UInt64 {
        guard remaining >= 8 else { throw TPMError.insufficient }
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(bytes[offset + i]) }
        offset += 8
        return v
    }

    public mutating func i8() throws -> Int8 { Int8(bitPattern: try u8()) }

    /// `count` raw bytes.
    public mutating func bytes(_ count: Int) throws -> [UInt8] {
        guard count >= 0, remaining >= count else { throw TPMError.insufficient }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// A TPM2B: u16 size then that many bytes. A size above `max` is TPM_RC_SIZE (Part 2,
    /// 10.4: "the size is greater than the maximum allowed"); a size past the end of the
    /// buffer is TPM_RC_INSUFFICIENT.
    public mutating func sized(max: Int) throws -> [UInt8] {
        let n = Int(try u16())
        guard n <= max else { throw TPMError.size }
        return try bytes(n)
    }

    /// A sub-reader over the next `count` bytes (for size-prefixed structures such as
    /// TPM2B_PUBLIC whose inner structure must consume exactly its size).
    public mutating func subReader(_ count: Int) throws -> TPMReader {
        guard count >= 0, remaining >= count else { throw TPMError.insufficient }
        defer { offset += count }
        return TPMReader(bytes: bytes, offset: offset, end: offset + count)
    }

    /// The bytes from `start` to the current offset (for hashing what was parsed).
    public func consumed(from start: Int) -> [UInt8] {
        Array(bytes[max(0, min(start, offset))..<offset])
    }

    /// The rest of the buffer, consumed.
    public mutating func rest() -> [UInt8] {
        defer { offset = end }
        return Array(bytes[offset..<end])
    }

    public mutating func decode<T: TPMDecodable>(_: T.Type = T.self) throws -> T {
        try T(from: &self)
    }
}

/// Writes big-endian TPM wire data.
public struct TPMWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }
    public mutating func u32(_ v: UInt32) {
        for s in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) }
    }
    public mutating func u64(_ v: UInt64) {
        for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) }
    }
    public mutating func i8(_ v: Int8) { u8(UInt8(bitPattern: v)) }
    public mutating func bytes<C: Collection>(_ b: C) where C.Element == UInt8 { bytes.append(contentsOf: b) }
    /// A TPM2B. Callers keep contents within u16; larger input is a programming error that
    /// is clamped rather than trapped.
    public mutating func sized<C: Collection>(_ b: C) where C.Element == UInt8 {
        u16(UInt16(clamping: b.count))
        bytes.append(contentsOf: b.prefix(Int(UInt16.max)))
    }
    public mutating func encode<T: TPMEncodable>(_ v: T) { v.encode(to: &self) }

    /// Writes a u16/u32 placeholder now and patches it later (size fields).
    public mutating func patchU32(at position: Int, _ v: UInt32) {
        guard position >= 0, position + 4 <= bytes.count else { return }
        for i in 0..<4 { bytes[position + i] = UInt8(truncatingIfNeeded: v >> UInt32(24 - 8 * i)) }
    }
    public mutating func patchU16(at position: Int, _ v: UInt16) {
        guard position >= 0, position + 2 <= bytes.count else { return }
        bytes[position] = UInt8(v >> 8)
        bytes[position + 1] = UInt8(truncatingIfNeeded: v)
    }
}

/// A structure that reads itself from the wire (TPMS, TPMT, TPML, TPM2B, TPMI...).
public protocol TPMDecodable {
    init(from reader: inout TPMReader) throws
}

/// A structure that writes itself to the wire.
public protocol TPMEncodable {
    func encode(to writer: inout TPMWriter)
}

public typealias TPMCodable = TPMDecodable & TPMEncodable

extension TPMEncodable {
    public var wireBytes: [UInt8] {
        var w = TPMWriter()
        encode(to: &w)
        return w.bytes
    }
}

extension TPMDecodable {
    /// Decodes exactly `bytes`: trailing bytes are TPM_RC_SIZE.
    public init(wire bytes: [UInt8]) throws {
        var r = TPMReader(bytes)
        self = try Self(from: &r)
        guard r.isAtEnd else { throw TPMError.size }
    }
}
