internal import COpenSSL
import Foundation

/// The hash algorithms the TPM implements, identified by their TPM_ALG_ID values so the
/// engine can map without this module knowing any TPM structure.
public enum HashAlgorithm: UInt16, CaseIterable, Sendable {
    case sha1 = 0x0004
    case sha256 = 0x000B
    case sha384 = 0x000C
    case sha512 = 0x000D

    public var digestSize: Int {
        switch self {
        case .sha1: return 20
        case .sha256: return 32
        case .sha384: return 48
        case .sha512: return 64
        }
    }

    /// The hash's input block size (HMAC, Part 1 and FIPS 198-1).
    public var blockSize: Int {
        switch self {
        case .sha1, .sha256: return 64
        case .sha384, .sha512: return 128
        }
    }

    /// One-shot digest.
    public func digest<D: DataProtocol>(_ data: D) -> [UInt8] {
        var h = Hasher(self)
        h.update(data)
        return h.finalize()
    }

    /// One-shot digest of an array: the generic one called across modules is not specialized
    /// (generic metadata looked up at run time on every call), and the engine hashes arrays.
    public func digest(_ data: [UInt8]) -> [UInt8] {
        var h = Hasher(self)
        h.update(data)
        return h.finalize()
    }

    /// Digest of several buffers concatenated, without building the concatenation.
    public func digest(_ parts: [[UInt8]]) -> [UInt8] {
        var h = Hasher(self)
        for p in parts { h.update(p) }
        return h.finalize()
    }

    /// HMAC (FIPS 198-1) with this hash, of arrays (as `digest(_: [UInt8])`).
    public func hmac(key: [UInt8], data: [UInt8]) -> [UInt8] { KeyedPRF(self, key: key).mac(data) }

    /// HMAC (FIPS 198-1) with this hash.
    public func hmac<K: DataProtocol, D: DataProtocol>(key: K, data: D) -> [UInt8] {
        let prf = withContiguousBytes(key) { KeyedPRF(self, key: $0) }
        return withContiguousBytes(data) { prf.mac($0) }
    }
}

/// `body` over the octets of `data`, copied into one buffer only when `data` is not contiguous.
@inline(__always)
func withContiguousBytes<D: DataProtocol, R>(_ data: D, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    if let r = data.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) { return r }
    return Array(data).withUnsafeBytes(body)
}

/// An incremental hash whose state stays inside this process (OpenSSL's SHA functions on a
/// context held in this value: copying a `Hasher` forks the computation). For hash state that
/// must leave the process (ContextSave of a sequence), see `ExportableHasher`.
public struct Hasher {
    private var context = vtpm_hash_ctx()
    public let algorithm: HashAlgorithm

    public init(_ alg: HashAlgorithm) {
        algorithm = alg
        let known = vtpm_hash_init(&context, UInt32(alg.rawValue))
        precondition(known == 1, "vtpm_hash_init: every HashAlgorithm is known")
    }

    public mutating func update<D: DataProtocol>(_ data: D) {
        withContiguousBytes(data) { update(bufferPointer: $0) }
    }

    /// `update` of an array (as `HashAlgorithm.digest(_: [UInt8])`).
    public mutating func update(_ data: [UInt8]) {
        data.withUnsafeBytes { update(bufferPointer: $0) }
    }

    /// `update` of a big-endian UInt32 (a command code, a handle), without an array.
    public mutating func update(bigEndian v: UInt32) {
        var be = v.bigEndian
        withUnsafeBytes(of: &be) { update(bufferPointer: $0) }
    }

    public mutating func update(bufferPointer: UnsafeRawBufferPointer) {
        vtpm_hash_update(&context, bufferPointer.baseAddress, bufferPointer.count)
    }

    public func finalize() -> [UInt8] {
        var c = context
        defer { vtpm_hash_wipe(&c) }
        return [UInt8](unsafeUninitializedCapacity: algorithm.digestSize) { out, count in
            vtpm_hash_final(&c, out.baseAddress)
            count = algorithm.digestSize
        }
    }
}

/// Constant-time comparison of two byte strings (lengths are not secret).
public func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var d: UInt8 = 0
    for i in 0..<a.count { d |= a[i] ^ b[i] }
    return d == 0
}
