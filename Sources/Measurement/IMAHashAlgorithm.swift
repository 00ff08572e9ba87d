internal import COpenSSL
import Crypto
import Foundation

/// A hash algorithm as IMA names it: the file-digest algorithm in a d-ng field ("sha256:")
/// and the algorithm of a PCR bank. This module knows no TPM structure; the TPM algorithm
/// identifier is given only so other targets can map banks without a second table.
public enum IMAHashAlgorithm: String, CaseIterable, Hashable, Sendable, Codable {
    case sha1
    case sha256
    case sha384
    case sha512

    public var digestSize: Int {
        switch self {
        case .sha1: return 20
        case .sha256: return 32
        case .sha384: return 48
        case .sha512: return 64
        }
    }

    /// TPM_ALG_ID of the bank with this hash (Part 2, 6.3).
    public var tpmAlgorithmID: UInt16 {
        switch self {
        case .sha1: return 0x0004
        case .sha256: return 0x000B
        case .sha384: return 0x000C
        case .sha512: return 0x000D
        }
    }

    public init?(tpmAlgorithmID id: UInt16) {
        guard let a = IMAHashAlgorithm.allCases.first(where: { $0.tpmAlgorithmID == id }) else { return nil }
        self = a
    }

    public func digest<D: DataProtocol>(_ data: D) -> [UInt8] {
        switch self {
        case .sha1: return Array(Insecure.SHA1.hash(data: data))
        case .sha256: return Array(SHA256.hash(data: data))
        case .sha384: return Array(SHA384.hash(data: data))
        case .sha512: return Array(SHA512.hash(data: data))
        }
    }

    /// PCR extend: H(old || new) (Part 1, 17.2), hashed in two updates (no concatenation).
    public func extend(_ pcr: [UInt8], with value: [UInt8]) -> [UInt8] {
        pcr.withUnsafeBytes { p in value.withUnsafeBytes { v in hashParts(p, v) { Array($0) } } }
    }

    /// Hashes `data` and hands the digest to `body` without allocating: OpenSSL's low-level
    /// functions on a context and a digest that live on the stack (swift-crypto's hash types
    /// allocate and clear a context per hash, a third of a replay's time). The replay's per-entry path.
    @inline(__always)
    public func hash<R>(_ data: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try hashParts(data, UnsafeRawBufferPointer(start: nil, count: 0), body)
    }

    /// PCR extend in place: `pcr` (digestSize bytes) becomes H(pcr || value).
    @inline(__always)
    public func extend(_ pcr: UnsafeMutableRawBufferPointer, with value: UnsafeRawBufferPointer) {
        hashParts(UnsafeRawBufferPointer(pcr), value) { d in pcr.copyMemory(from: d) }
    }

    /// H(a || b) handed to `body` (the digest on the stack, at most 64 bytes).
    @inline(__always)
    private func hashParts<R>(
        _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R
    ) rethrows -> R {
        var out: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        // The COpenSSL shim's stack contexts (vtpm_hash_*, static inline: shared with TPMCrypto).
        var c = vtpm_hash_ctx()
        vtpm_hash_init(&c, UInt32(tpmAlgorithmID))
        vtpm_hash_update(&c, a.baseAddress, a.count)
        vtpm_hash_update(&c, b.baseAddress, b.count)
        withUnsafeMutableBytes(of: &out) { o in vtpm_hash_final(&c, o.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
        return try withUnsafeBytes(of: &out) { try body(UnsafeRawBufferPointer(rebasing: $0[0..<digestSize])) }
    }
}

/// The file-digest algorithms a d-ng field may name, with their digest sizes: the kernel's
/// hash_algo_name table restricted to what IMA can use for file hashes. A d-ng field whose
/// algorithm is not here, or whose digest has another size, is refused.
public enum IMAFileDigestAlgorithms {
    public static let sizes: [String: Int] = [
        "md5": 16, "sha1": 20, "rmd160": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64,
        "wp512": 64, "sm3": 32, "streebog256": 32, "streebog512": 64,
    ]
    private static let table: [([UInt8], Int)] = sizes.map { (Array($0.key.utf8), $0.value) }

    /// The size for an algorithm name given as bytes (no String made: the parsers' path).
    static func size(_ name: ArraySlice<UInt8>) -> Int? {
        // The common names first, by length and content.
        if name.count == 6, name.elementsEqual("sha256".utf8) { return 32 }
        for (n, size) in table where n.count == name.count && n.elementsEqual(name) { return size }
        return nil
    }
}
