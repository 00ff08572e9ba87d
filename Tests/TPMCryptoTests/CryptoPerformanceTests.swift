import Crypto
import Foundation
import TPMCrypto
import XCTest

/// Timings for the operations the benchmarks compare with swtpm (CreatePrimary, Sign). Skipped
/// unless VTPM_PERF=1; run in release for meaningful numbers:
///   VTPM_PERF=1 swift test -c release --filter CryptoPerformanceTests
final class CryptoPerformanceTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["VTPM_PERF"] == "1", "set VTPM_PERF=1 to run")
    }

    private func time(_ label: String, _ n: Int, _ body: (Int) throws -> Void) rethrows {
        let start = DispatchTime.now().uptimeNanoseconds
        for i in 0..<n { try body(i) }
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 / Double(n)
        print(String(format: "PERF %@: %.3f ms/op (n=%d)", label, ms, n))
    }

    func testPrimaryDerivationAndSigning() throws {
        let seed = [UInt8](repeating: 0x5A, count: 64)
        try time("RSA-2048 primary derivation (KDFa-SHA256 prime search)", 20) { i in
            _ = try PrimaryKeyDerivation.rsaKey(hash: .sha256, seed: seed, label: "Primary Object Creation",
                                                contextU: HashAlgorithm.sha256.digest([UInt8(i)]), contextV: [], modulusBits: 2048)
        }
        try time("RSA-3072 primary derivation", 5) { i in
            _ = try PrimaryKeyDerivation.rsaKey(hash: .sha256, seed: seed, label: "P", contextU: [UInt8(i)], contextV: [],
                                                modulusBits: 3072)
        }
        try time("ECC P-256 primary derivation", 200) { i in
            _ = try PrimaryKeyDerivation.eccKey(hash: .sha256, seed: seed, label: "P", contextU: [UInt8(i)], contextV: [], curve: .nistP256)
        }
        let key = try PrimaryKeyDerivation.rsaKey(hash: .sha256, seed: seed, label: "P", contextU: [], contextV: [], modulusBits: 2048)
        let digest = HashAlgorithm.sha256.digest([1, 2, 3])
        try time("RSA-2048 key load from modulus + prime", 200) { _ in
            _ = try RSAPrivateKey(publicKey: key.publicKey, prime: key.prime())
        }
        try time("RSA-2048 RSASSA sign", 500) { _ in _ = try key.signPKCS1v15(hash: .sha256, digest: digest) }
        var drbg = HMACDRBG(entropy: seed)
        try time("RSA-2048 RSAPSS sign", 500) { _ in _ = try key.signPSS(hash: .sha256, digest: digest, using: &drbg) }
        let sig = try key.signPKCS1v15(hash: .sha256, digest: digest)
        time("RSA-2048 RSASSA verify", 2000) { _ in
            XCTAssertTrue(key.publicKey.verifyPKCS1v15(hash: .sha256, digest: digest, signature: sig))
        }
        let label = RSAPublicKey.oaepLabel("DUPLICATE")
        let ct = try key.publicKey.encryptOAEP(hash: .sha256, label: label, [1, 2, 3], using: &drbg)
        try time("RSA-2048 OAEP decrypt", 500) { _ in _ = try key.decryptOAEP(hash: .sha256, label: label, ct) }
        for curve in ECCCurve.allCases {
            let ecc = try ECCPrivateKey.generate(curve: curve, using: &drbg)
            try time("ECDSA \(curve) sign", 1000) { _ in _ = try ecc.signECDSA(digest: digest, using: &drbg) }
            let s = try ecc.signECDSA(digest: digest, using: &drbg)
            time("ECDSA \(curve) verify", 1000) { _ in XCTAssertTrue(ecc.publicKey.verifyECDSA(digest: digest, signature: s)) }
            let peer = try ECCPrivateKey.generate(curve: curve, using: &drbg).publicKey
            try time("ECDH \(curve) ZGen", 1000) { _ in _ = try ecc.sharedPoint(with: peer) }
        }
        // swift-crypto (BoringSSL) for comparison: it cannot take our nonces or return the
        // full ECDH point, so TPMCrypto uses OpenSSL for ECC.
        let p384 = P384.Signing.PrivateKey()
        time("swift-crypto P-384 sign (random nonce, for comparison)", 1000) { _ in _ = try? p384.signature(for: digest) }
        let p384ka = P384.KeyAgreement.PrivateKey(), p384peer = P384.KeyAgreement.PrivateKey().publicKey
        time("swift-crypto P-384 ECDH x only (for comparison)", 1000) { _ in _ = try? p384ka.sharedSecretFromKeyAgreement(with: p384peer) }
        let p256 = P256.Signing.PrivateKey()
        time("swift-crypto P-256 sign (random nonce, for comparison)", 1000) { _ in _ = try? p256.signature(for: digest) }
        let aesKey = [UInt8](repeating: 1, count: 16), iv = [UInt8](repeating: 2, count: 16)
        let data = [UInt8](repeating: 3, count: 1024)
        try time("AES-128-CFB 1 KiB", 2000) { _ in _ = try AESCipher.encrypt(.cfb, key: aesKey, iv: iv, data) }
    }
}
