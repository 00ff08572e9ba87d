import Crypto
import TPMWire
import XCTest

@testable import TPMEngine

/// What exporting a state read from a version-2 blob writes (docs/state-format.md, version 3):
/// the permanent body gains the empty NV fields (nvMaxCounter 0, no Index, no persistent
/// object); the volatile body is unchanged but for the digest of its new permanent part.
enum StateUpgrade {
    static let emptyNV: [UInt8] = [UInt8](repeating: 0, count: 8 + 2 + 1)

    static func body(_ blob: [UInt8]) -> [UInt8] { Array(blob[16..<(blob.count - 32)]) }

    static func seal(part: UInt32, version: UInt32, _ body: [UInt8]) -> [UInt8] {
        var w = TPMWriter()
        w.u32(0x7654_504D)
        w.u32(version)
        w.u32(part)
        w.u32(UInt32(body.count))
        w.bytes(body)
        return w.bytes + Array(SHA256.hash(data: w.bytes))
    }

    static func permanentV3(fromV2 p: [UInt8]) -> [UInt8] { seal(part: 1, version: 3, body(p) + emptyNV) }

    static func volatileV3(fromV2 v: [UInt8], permanentV3 p: [UInt8]) -> [UInt8] {
        var b = body(v)
        b.replaceSubrange(0..<32, with: p.suffix(32))
        return seal(part: 2, version: 3, b)
    }
}
