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

    // Version 4 (policy/audit): the permanent part ends with the PCR policy (ENTITY_AUTH: empty
    // authValue, TPM_ALG_NULL, empty policy), the audit state of a new TPM (SHA-512, counter 0,
    // SetCommandCodeAuditStatus) and, with a saved state, its empty PCR authValue; the volatile
    // part has an empty PCR authValue and command audit digest before the DRBG state.
    static let defaultV4Permanent: [UInt8] =
        [0, 0, 0x00, 0x10, 0, 0] + [0x00, 0x0D] + [UInt8](repeating: 0, count: 8) + [0, 1, 0, 0, 0x01, 0x40]

    /// The size of the version-4 and -5 fields at the end of a permanent body.
    static func v4TailSize(_ s: PersistentState) -> Int {
        var w = TPMWriter()
        s.pcrPolicy.encodeState(to: &w)
        s.audit.encodeState(to: &w)
        if let saved = s.savedState { w.sized(saved.pcrAuthValue) }
        // And version 5's saved commit state.
        if let saved = s.savedState { saved.commit.encodeState(to: &w) }
        return w.count
    }

    static func permanentV4(fromV3 p: [UInt8], savedState: Bool) -> [UInt8] {
        seal(part: 1, version: 4, body(p) + defaultV4Permanent + (savedState ? [0, 0] : []))
    }

    static func volatileV4(fromV3 v: [UInt8], permanentV4 p: [UInt8]) -> [UInt8] {
        var b = body(v)
        b.replaceSubrange(0..<32, with: p.suffix(32))
        b.insert(contentsOf: [0, 0, 0, 0], at: b.count - 72)
        return seal(part: 2, version: 4, b)
    }

    // Version 5 (commit state): a saved state ends with the commit state of a TPM that never
    // committed (counter 0, no nonce, an empty array: 26 zero octets), and so does the volatile
    // part, before the DRBG state.
    static let defaultV5Commit = [UInt8](repeating: 0, count: 8 + 2 + 16)

    static func permanentV5(fromV4 p: [UInt8], savedState: Bool) -> [UInt8] {
        seal(part: 1, version: 5, body(p) + (savedState ? defaultV5Commit : []))
    }

    static func volatileV5(fromV4 v: [UInt8], permanentV5 p: [UInt8]) -> [UInt8] {
        var b = body(v)
        b.replaceSubrange(0..<32, with: p.suffix(32))
        b.insert(contentsOf: defaultV5Commit, at: b.count - 72)
        return seal(part: 2, version: 5, b)
    }
}
