import Crypto
import TPMCrypto
import XCTest

/// RSA against values computed elsewhere (tests/vectors/rsa_vectors.py): Python `cryptography`
/// signatures and ciphertexts, PSS/OAEP encodings written out in plain Python for a fixed
/// salt/seed (and verified there by `cryptography`), and the published pkcs-1v2-1 vectors.
final class RSATests: XCTestCase {
    typealias V = RSAVectors
    let message = Array("vtpm RSA known-answer message".utf8)

    func key2048() throws -> RSAPrivateKey { try RSAPrivateKey(p: hex(V.p2048), q: hex(V.q2048), exponent: 65537) }

    func digest(_ h: HashAlgorithm) -> [UInt8] { h.digest(message) }

    func testKeyFromPrimes() throws {
        let key = try key2048()
        XCTAssertEqual(key.publicKey.modulus, hex(V.n2048))
        XCTAssertEqual(key.publicKey.modulusBits, 2048)
        XCTAssertEqual(key.publicKey.modulusBytes, 256)
        XCTAssertEqual(key.prime(), hex(V.p2048))
    }

    /// The TPM keeps only one prime: the key rebuilt from n and either prime is the same key.
    func testKeyFromModulusAndOnePrime() throws {
        let pub = try RSAPublicKey(modulus: hex(V.n2048), exponent: 65537)
        for prime in [V.p2048, V.q2048] {
            let key = try RSAPrivateKey(publicKey: pub, prime: hex(prime))
            XCTAssertEqual(try key.signPKCS1v15(hash: .sha256, digest: digest(.sha256)), hex(V.pkcs1v15_sha256))
        }
        var wrong = hex(V.p2048)
        wrong[wrong.count - 1] ^= 2
        XCTAssertThrowsError(try RSAPrivateKey(publicKey: pub, prime: wrong)) { XCTAssertEqual($0 as? TPMCryptoError, .keyMismatch) }
        XCTAssertThrowsError(try RSAPrivateKey(publicKey: pub, prime: [1])) { XCTAssertEqual($0 as? TPMCryptoError, .keyMismatch) }
        XCTAssertThrowsError(try RSAPrivateKey(publicKey: pub, prime: hex(V.n2048))) {
            XCTAssertEqual($0 as? TPMCryptoError, .keyMismatch)
        }
    }

    func testPKCS1v15SignaturesMatchOpenSSL() throws {
        let key = try key2048()
        let expected: [(HashAlgorithm, String)] = [
            (.sha1, V.pkcs1v15_sha1), (.sha256, V.pkcs1v15_sha256), (.sha384, V.pkcs1v15_sha384), (.sha512, V.pkcs1v15_sha512),
        ]
        for (h, sig) in expected {
            XCTAssertEqual(try key.signPKCS1v15(hash: h, digest: digest(h)), hex(sig), "\(h)")
            XCTAssertTrue(key.publicKey.verifyPKCS1v15(hash: h, digest: digest(h), signature: hex(sig)))
            var bad = hex(sig)
            bad[100] ^= 1
            XCTAssertFalse(key.publicKey.verifyPKCS1v15(hash: h, digest: digest(h), signature: bad))
            XCTAssertFalse(key.publicKey.verifyPKCS1v15(hash: h, digest: h.digest([0]), signature: hex(sig)))
        }
    }

    /// PSS with the TPM's salt length (the digest size here) and salt 00 01 02 ...; verified by
    /// `cryptography` in the generator. OpenSSL's maximum-salt signatures must verify too.
    func testPSSWithKnownSaltAndAnySaltLength() throws {
        let key = try key2048()
        let expected: [(HashAlgorithm, String, String)] = [
            (.sha1, V.pss_sha1, V.pss_sha1_openssl_maxsalt), (.sha256, V.pss_sha256, V.pss_sha256_openssl_maxsalt),
            (.sha384, V.pss_sha384, V.pss_sha384_openssl_maxsalt), (.sha512, V.pss_sha512, V.pss_sha512_openssl_maxsalt),
        ]
        for (h, sig, openssl) in expected {
            XCTAssertEqual(key.publicKey.pssSaltLength(hash: h), h.digestSize)
            var salt = FixedBitSource(Array(0..<UInt8(h.digestSize)))
            XCTAssertEqual(try key.signPSS(hash: h, digest: digest(h), using: &salt), hex(sig), "\(h)")
            XCTAssertEqual(salt.requests, [8 * h.digestSize])
            XCTAssertTrue(key.publicKey.verifyPSS(hash: h, digest: digest(h), signature: hex(sig)))
            XCTAssertTrue(key.publicKey.verifyPSS(hash: h, digest: digest(h), signature: hex(openssl)))
            var bad = hex(openssl)
            bad[0] ^= 0x40
            XCTAssertFalse(key.publicKey.verifyPSS(hash: h, digest: digest(h), signature: bad))
            XCTAssertFalse(key.publicKey.verifyPSS(hash: h, digest: digest(h), signature: Array(hex(sig).dropFirst())))
            XCTAssertFalse(key.publicKey.verifyPKCS1v15(hash: h, digest: digest(h), signature: hex(sig)))
        }
    }

    /// pss-vect.txt Example 1.1 (RSA Laboratories' PKCS #1 v2.1 vectors): SHA-1, 1024-bit key,
    /// 20-octet salt, which is also what the TPM's rule picks for this key.
    func testPublishedPSSVector() throws {
        let key = try RSAPrivateKey(p: hex(V.pssvect_p), q: hex(V.pssvect_q), exponent: 65537)
        let d = HashAlgorithm.sha1.digest(hex(V.pssvect_message))
        XCTAssertEqual(key.publicKey.pssSaltLength(hash: .sha1), 20)
        XCTAssertEqual(try key.signPSS(hash: .sha1, digest: d, salt: hex(V.pssvect_salt)), hex(V.pssvect_signature))
        XCTAssertTrue(key.publicKey.verifyPSS(hash: .sha1, digest: d, signature: hex(V.pssvect_signature)))
    }

    /// Small keys with large hashes: the salt shrinks to emLen - hLen - 2 (1024 bits, SHA-512:
    /// 128 - 64 - 2 = 62). These are the salt lengths libtpms signs with for this key
    /// (tests/vectors/rsa_libtpms_oracle.py recovers them from its signatures).
    func testPSSSaltShrinksForSmallKeys() throws {
        let key = try RSAPrivateKey(p: hex(V.pssvect_p), q: hex(V.pssvect_q), exponent: 65537)
        XCTAssertEqual(HashAlgorithm.allCases.map { key.publicKey.pssSaltLength(hash: $0) }, [20, 32, 48, 62])
        var source = HMACDRBG(entropy: [UInt8](repeating: 3, count: 32))
        let sig = try key.signPSS(hash: .sha512, digest: HashAlgorithm.sha512.digest([1]), using: &source)
        XCTAssertTrue(key.publicKey.verifyPSS(hash: .sha512, digest: HashAlgorithm.sha512.digest([1]), signature: sig))
    }

    /// OAEP with the TPM's zero-terminated labels: our encryption with a known seed equals the
    /// generator's, and both that and OpenSSL's own (random-seed) ciphertext decrypt.
    func testOAEPWithTPMLabels() throws {
        let key = try key2048()
        let msg = Array(0..<UInt8(32))
        let cases: [(HashAlgorithm, String, String, String)] = [
            (.sha256, "DUPLICATE", V.oaep_sha256, V.oaep_sha256_openssl),
            (.sha1, "SECRET", V.oaep_sha1, V.oaep_sha1_openssl),
            (.sha384, "IDENTITY", V.oaep_sha384, V.oaep_sha384_openssl),
        ]
        for (h, labelString, ours, openssl) in cases {
            let label = RSAPublicKey.oaepLabel(labelString)
            XCTAssertEqual(label.last, 0)
            var seed = FixedBitSource([UInt8](repeating: 0xA5, count: h.digestSize))
            XCTAssertEqual(try key.publicKey.encryptOAEP(hash: h, label: label, msg, using: &seed), hex(ours))
            XCTAssertEqual(try key.decryptOAEP(hash: h, label: label, hex(ours)), msg)
            XCTAssertEqual(try key.decryptOAEP(hash: h, label: label, hex(openssl)), msg)
            // The label without its zero, another hash, a flipped bit: all rejected.
            XCTAssertThrowsError(try key.decryptOAEP(hash: h, label: Array(labelString.utf8), hex(ours))) {
                XCTAssertEqual($0 as? TPMCryptoError, .decryptionFailed)
            }
            XCTAssertThrowsError(try key.decryptOAEP(hash: h == .sha256 ? .sha1 : .sha256, label: label, hex(ours)))
            var bad = hex(openssl)
            bad[200] ^= 0x80
            XCTAssertThrowsError(try key.decryptOAEP(hash: h, label: label, bad))
        }
    }

    /// oaep-vect.txt Example 1.1: SHA-1, empty label, given seed.
    func testPublishedOAEPVector() throws {
        let key = try RSAPrivateKey(p: hex(V.oaepvect_p), q: hex(V.oaepvect_q), exponent: 65537)
        let ct = try key.publicKey.encryptOAEP(hash: .sha1, label: [], hex(V.oaepvect_message), seed: hex(V.oaepvect_seed))
        XCTAssertEqual(ct, hex(V.oaepvect_ciphertext))
        XCTAssertEqual(try key.decryptOAEP(hash: .sha1, label: [], ct), hex(V.oaepvect_message))
    }

    func testOAEPLengthLimits() throws {
        let key = try key2048()
        var src = FixedBitSource([])
        // k - 2 hLen - 2 = 256 - 66 = 190 octets fit with SHA-256; 191 do not.
        XCTAssertNoThrow(try key.publicKey.encryptOAEP(hash: .sha256, label: [], [UInt8](repeating: 1, count: 190), using: &src))
        XCTAssertThrowsError(try key.publicKey.encryptOAEP(hash: .sha256, label: [], [UInt8](repeating: 1, count: 191), using: &src)) {
            XCTAssertEqual($0 as? TPMCryptoError, .messageTooLong)
        }
        XCTAssertThrowsError(try key.decryptOAEP(hash: .sha256, label: [], [1, 2, 3])) {
            XCTAssertEqual($0 as? TPMCryptoError, .decryptionFailed)
        }
    }

    func testRSAESPKCS1v15() throws {
        let key = try key2048()
        let msg = Array("secret seed value".utf8)
        var ps = FixedBitSource((0..<(256 - msg.count - 3)).map { UInt8($0 % 255 + 1) })
        XCTAssertEqual(try key.publicKey.encryptPKCS1v15(msg, using: &ps), hex(V.rsaes))
        XCTAssertEqual(try key.decryptPKCS1v15(hex(V.rsaes)), msg)
        XCTAssertEqual(try key.decryptPKCS1v15(hex(V.rsaes_openssl)), msg)
        // Zero octets from the source are skipped: the padding stays nonzero.
        var zeros = FixedBitSource([0, 0, 0] + [UInt8](repeating: 7, count: 300))
        let ct = try key.publicKey.encryptPKCS1v15(msg, using: &zeros)
        XCTAssertEqual(try key.decryptRaw(ct).prefix(4), [0, 2, 7, 7])
        XCTAssertThrowsError(try key.publicKey.encryptPKCS1v15([UInt8](repeating: 1, count: 246), using: &zeros)) {
            XCTAssertEqual($0 as? TPMCryptoError, .messageTooLong)
        }
        // A raw-encrypted value without the 00 02 structure does not decrypt.
        XCTAssertThrowsError(try key.decryptPKCS1v15(key.publicKey.encryptRaw(hex(V.raw_m)))) {
            XCTAssertEqual($0 as? TPMCryptoError, .decryptionFailed)
        }
    }

    func testRawRSA() throws {
        let key = try key2048()
        XCTAssertEqual(try key.publicKey.encryptRaw(hex(V.raw_m)), hex(V.raw_c))
        XCTAssertEqual(try key.decryptRaw(hex(V.raw_c)), hex(V.raw_m))
        // Short input is an integer: leading zeros do not matter.
        XCTAssertEqual(try key.decryptRaw(key.publicKey.encryptRaw([5])), [UInt8](repeating: 0, count: 255) + [5])
        // Values >= n are refused both ways.
        XCTAssertThrowsError(try key.publicKey.encryptRaw(hex(V.n2048))) { XCTAssertEqual($0 as? TPMCryptoError, .valueOutOfRange) }
        XCTAssertThrowsError(try key.decryptRaw([UInt8](repeating: 0xFF, count: 256))) {
            XCTAssertEqual($0 as? TPMCryptoError, .valueOutOfRange)
        }
        XCTAssertThrowsError(try key.decryptRaw([UInt8](repeating: 1, count: 257)))
    }

    func testExponentThree() throws {
        let key = try RSAPrivateKey(p: hex(V.p1024e3), q: hex(V.q1024e3), exponent: 3)
        XCTAssertEqual(key.publicKey.modulus, hex(V.n1024e3))
        XCTAssertEqual(try key.signPKCS1v15(hash: .sha256, digest: digest(.sha256)), hex(V.pkcs1v15_e3_sha256))
    }

    func testInvalidKeys() {
        XCTAssertThrowsError(try RSAPublicKey(modulus: hex(V.n2048) + [0], exponent: 65537))  // even
        XCTAssertThrowsError(try RSAPublicKey(modulus: hex(V.n2048), exponent: 65536))
        XCTAssertThrowsError(try RSAPublicKey(modulus: hex(V.n2048), exponent: 1))
        XCTAssertThrowsError(try RSAPublicKey(modulus: [0xFF, 0xFF, 0xFF], exponent: 65537))  // too small
        XCTAssertThrowsError(try RSAPublicKey(modulus: [UInt8](repeating: 0xFF, count: 513), exponent: 65537))  // too large
        XCTAssertThrowsError(try RSAPrivateKey(p: hex(V.p2048), q: hex(V.p2048), exponent: 65537))
        XCTAssertThrowsError(try RSAPrivateKey(p: [1], q: hex(V.q2048), exponent: 65537))
        // gcd(e, lcm(p-1, q-1)) != 1: e = 3 with p = 7 (3 | p - 1) on a 1024-bit q.
        XCTAssertThrowsError(try RSAPrivateKey(p: [7], q: hex(V.pssvect_q) + [0x01], exponent: 3))
    }

    func testDigestSizeAndSmallKeys() throws {
        let key = try key2048()
        XCTAssertThrowsError(try key.signPKCS1v15(hash: .sha256, digest: [1, 2, 3])) {
            XCTAssertEqual($0 as? TPMCryptoError, .digestSizeMismatch)
        }
        var src = FixedBitSource([])
        XCTAssertThrowsError(try key.signPSS(hash: .sha384, digest: digest(.sha256), using: &src)) {
            XCTAssertEqual($0 as? TPMCryptoError, .digestSizeMismatch)
        }
        XCTAssertFalse(key.publicKey.verifyPSS(hash: .sha256, digest: [1], signature: hex(V.pss_sha256)))
    }

    /// Generation from a DRBG: right size, consistent, reproducible from the same seed.
    func testGenerateFromDRBG() throws {
        var a = HMACDRBG(entropy: [UInt8](repeating: 9, count: 32))
        var b = HMACDRBG(entropy: [UInt8](repeating: 9, count: 32))
        let k1 = try RSAPrivateKey.generate(modulusBits: 2048, using: &a)
        let k2 = try RSAPrivateKey.generate(modulusBits: 2048, using: &b)
        XCTAssertEqual(k1.publicKey, k2.publicKey)
        XCTAssertEqual(k1.publicKey.modulusBits, 2048)
        XCTAssertEqual(k1.publicKey.exponent, 65537)
        let d = HashAlgorithm.sha256.digest([1, 2, 3])
        XCTAssertTrue(k1.publicKey.verifyPKCS1v15(hash: .sha256, digest: d, signature: try k1.signPKCS1v15(hash: .sha256, digest: d)))
        var c = HMACDRBG(entropy: [UInt8](repeating: 9, count: 32))
        XCTAssertThrowsError(try RSAPrivateKey.generate(modulusBits: 1000, using: &c))
        XCTAssertThrowsError(try RSAPrivateKey.generate(modulusBits: 2048, exponent: 4, using: &c))
    }

    /// A source that never yields a prime (all ones above the forced bits make 2^b - 1, which is
    /// composite for these b) runs out of its budget instead of looping.
    func testGenerationGivesUpOnAUselessSource() {
        var ones = ConstantSource(byte: 0xFF)
        XCTAssertThrowsError(try RSAPrivateKey.generate(modulusBits: 1024, using: &ones)) {
            XCTAssertEqual($0 as? TPMCryptoError, .noResult)
        }
    }
}

struct ConstantSource: BitSource {
    let byte: UInt8
    mutating func nextBits(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: byte, count: (count + 7) / 8)
        if count % 8 != 0 { out[0] &= UInt8((1 << (count % 8)) - 1) }
        return out
    }
}
