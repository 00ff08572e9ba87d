import Foundation

/// A bounds-checked reader of little-endian data (IMA writes its binary list in the host's
/// byte order; on x86 that is little-endian). Every read returns nil past the end instead
/// of trapping, like NIO's ByteBuffer reads.
struct ByteCursor {
    let bytes: [UInt8]
    private(set) var offset: Int
    let end: Int

    init(_ bytes: [UInt8], offset: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.offset = max(0, min(offset, bytes.count))
        self.end = max(self.offset, min(end ?? bytes.count, bytes.count))
    }

    var remaining: Int { end - offset }
    var isAtEnd: Bool { offset >= end }

    mutating func u32le() -> UInt32? {
        guard remaining >= 4 else { return nil }
        var v: UInt32 = 0
        for i in (0..<4).reversed() { v = v << 8 | UInt32(bytes[offset + i]) }
        offset += 4
        return v
    }

    /// Skips `n` bytes and says where they start.
    mutating func skip(_ n: Int) -> Int? {
        guard n >= 0, remaining >= n else { return nil }
        defer { offset += n }
        return offset
    }

    mutating func take(_ n: Int) -> [UInt8]? {
        guard n >= 0, remaining >= n else { return nil }
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }
}

extension Array where Element == UInt8 {
    mutating func appendU32LE(_ v: UInt32) {
        append(UInt8(v & 0xFF))
        append(UInt8(v >> 8 & 0xFF))
        append(UInt8(v >> 16 & 0xFF))
        append(UInt8(v >> 24 & 0xFF))
    }
}

/// Lower-case hex, as IMA prints digests.
public func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Hex to bytes; nil for odd length or a non-hex character (either case accepted).
public func bytesFromHex<S: StringProtocol>(_ s: S) -> [UInt8]? {
    let u = Array(s.utf8)
    guard u.count % 2 == 0 else { return nil }
    func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }
    var out = [UInt8]()
    out.reserveCapacity(u.count / 2)
    var i = 0
    while i < u.count {
        guard let hi = nibble(u[i]), let lo = nibble(u[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}

/// Hex octets (either case) to bytes, without going through String; nil on odd length or a
/// non-hex octet.
func hexBytes(_ u: ArraySlice<UInt8>) -> [UInt8]? {
    guard u.count % 2 == 0 else { return nil }
    @inline(__always) func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c &- 0x30
        case 0x61...0x66: return c &- 0x61 &+ 10
        case 0x41...0x46: return c &- 0x41 &+ 10
        default: return nil
        }
    }
    var out = [UInt8]()
    out.reserveCapacity(u.count / 2)
    var i = u.startIndex
    while i < u.endIndex {
        guard let hi = nibble(u[i]), let lo = nibble(u[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}

/// The index of the first `byte` in `s`, found with memchr (at memory speed, not byte by byte:
/// the parsers' field and name scans).
@inline(__always)
func memchrIndex(_ byte: UInt8, in s: ArraySlice<UInt8>) -> Int? {
    s.withUnsafeBytes { p in
        guard let base = p.baseAddress, let hit = memchr(base, Int32(byte), p.count) else { return nil }
        return s.startIndex + (UnsafeRawPointer(hit) - base)
    }
}

/// Hex octets (either case) decoded into `out`, which has exactly half their count of bytes;
/// false on a non-hex octet (then `out` holds garbage).
@inline(__always)
func decodeHex(_ u: ArraySlice<UInt8>, into out: UnsafeMutableRawBufferPointer) -> Bool {
    guard u.count == out.count * 2 else { return false }
    return u.withUnsafeBytes { src in
        var bad: UInt8 = 0
        for i in 0..<out.count {
            let hi = hexNibble(src[2 * i])
            let lo = hexNibble(src[2 * i + 1])
            bad |= (hi | lo) & 0xF0
            out[i] = hi << 4 | (lo & 0x0F)
        }
        return bad == 0
    }
}

/// A hex digit's value, or 0xFF for anything else (no branches on the common path).
private let hexTable: [UInt8] = (0..<256).map { c -> UInt8 in
    switch c {
    case 0x30...0x39: return UInt8(c - 0x30)
    case 0x61...0x66: return UInt8(c - 0x61 + 10)
    case 0x41...0x46: return UInt8(c - 0x41 + 10)
    default: return 0xFF
    }
}

@inline(__always)
private func hexNibble(_ c: UInt8) -> UInt8 { hexTable.withUnsafeBufferPointer { $0[Int(c)] } }
