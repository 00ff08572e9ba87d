import Crypto
import _CryptoExtras

/// AES in full-block CFB mode (CFB-128, NIST SP 800-38A 6.3), the TPM's symmetric mode for
/// context blobs and parameter encryption (Part 1, 11.4.6). swift-crypto's `AES._CFB`
/// (BoringSSL underneath) does the work; this wrapper fixes the argument checks and keeps
/// `_CryptoExtras` out of the engine.
public enum AESCFB {
    public enum Failure: Error, Sendable {
        /// The key is not 16, 24 or 32 octets, or the IV is not 16 octets.
        case badKeyOrIV
    }

    public static let blockSize = 16

    public static func encrypt(key: [UInt8], iv: [UInt8], _ plaintext: [UInt8]) throws -> [UInt8] {
        try run(key: key, iv: iv, plaintext, encrypt: true)
    }

    public static func decrypt(key: [UInt8], iv: [UInt8], _ ciphertext: [UInt8]) throws -> [UInt8] {
        try run(key: key, iv: iv, ciphertext, encrypt: false)
    }

    private static func run(key: [UInt8], iv: [UInt8], _ input: [UInt8], encrypt: Bool) throws -> [UInt8] {
        guard [16, 24, 32].contains(key.count), iv.count == blockSize else { throw Failure.badKeyOrIV }
        if input.isEmpty { return [] }
        let k = SymmetricKey(data: key)
        let v = try AES._CFB.IV(ivBytes: iv)
        let out = encrypt ? try AES._CFB.encrypt(input, using: k, iv: v) : try AES._CFB.decrypt(input, using: k, iv: v)
        return Array(out)
    }
}
