import Crypto
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
        switch self {
        case .sha1: return Array(Insecure.SHA1.hash(data: data))
        case .sha256: return Array(SHA256.hash(data: data))
        case .sha384: return Array(SHA384.hash(data: data))
        case .sha512: return Array(SHA512.hash(data: data))
        }
    }

    /// Digest of several buffers concatenated, without building the concatenation.
    public func digest(_ parts: [[UInt8]]) -> [UInt8] {
        var h = Hasher(self)
        for p in parts { h.update(p) }
        return h.finalize()
    }

    /// HMAC (FIPS 198-1) with this hash.
    public func hmac<K: DataProtocol, D: DataProtocol>(key: K, data: D) -> [UInt8] {
        let k = SymmetricKey(data: Array(key))
        switch self {
        case .sha1: return Array(HMAC<Insecure.SHA1>.authenticationCode(for: data, using: k))
        case .sha256: return Array(HMAC<SHA256>.authenticationCode(for: data, using: k))
        case .sha384: return Array(HMAC<SHA384>.authenticationCode(for: data, using: k))
        case .sha512: return Array(HMAC<SHA512>.authenticationCode(for: data, using: k))
        }
    }
}

/// An incremental hash whose state stays inside this process (swift-crypto).
/// For hash state that must leave the process (ContextSave of a sequence), see
/// `ExportableHasher`.
public struct Hasher {
    private enum State {
        case sha1(Insecure.SHA1)
        case sha256(SHA256)
        case sha384(SHA384)
        case sha512(SHA512)
    }
    private var state: State
    public let algorithm: HashAlgorithm

    public init(_ alg: HashAlgorithm) {
        algorithm = alg
        switch alg {
        case .sha1: state = .sha1(Insecure.SHA1())
        case .sha256: state = .sha256(SHA256())
        case .sha384: state = .sha384(SHA384())
        case .sha512: state = .sha512(SHA512())
        }
    }

    public mutating func update<D: DataProtocol>(_ data: D) {
        switch state {
        case .sha1(var h):
            h.update(data: data)
            state = .sha1(h)
        case .sha256(var h):
            h.update(data: data)
            state = .sha256(h)
        case .sha384(var h):
            h.update(data: data)
            state = .sha384(h)
        case .sha512(var h):
            h.update(data: data)
            state = .sha512(h)
        }
    }

    public func finalize() -> [UInt8] {
        switch state {
        case .sha1(let h): return Array(h.finalize())
        case .sha256(let h): return Array(h.finalize())
        case .sha384(let h): return Array(h.finalize())
        case .sha512(let h): return Array(h.finalize())
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
