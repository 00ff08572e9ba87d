import Crypto
import TPMCrypto
import XCTest

/// ECC against published vectors (NIST CAVP ECDH, RFC 6979) and an independent implementation
/// (tests/vectors/ecc_vectors.py), and cross-checked both ways with swift-crypto (BoringSSL),
/// which shares no code with the OpenSSL underneath TPMCrypto.
final class ECCTests: XCTestCase {
    typealias V = ECCVectors

    func testCurveParameters() {
        let expected: [(ECCCurve, [String])] = [
            (.nistP256, [V.p256_p, V.p256_a, V.p256_b, V.p256_gx, V.p256_gy, V.p256_n]),
            (.nistP384, [V.p384_p, V.p384_a, V.p384_b, V.p384_gx, V.p384_gy, V.p384_n]),
            (.nistP521, [V.p521_p, V.p521_a, V.p521_b, V.p521_gx, V.p521_gy, V.p521_n]),
        ]
        for (curve, values) in expected {
            let p = curve.parameters
            XCTAssertEqual([p.p, p.a, p.b, p.gX, p.gY, p.n], values.map(hex), "\(curve)")
            XCTAssertEqual(p.h, [1])
            XCTAssertEqual(p.p.count, curve.byteCount)
        }
        XCTAssertEqual(ECCCurve.nistP521.byteCount, 66)
        XCTAssertEqual(ECCCurve(rawValue: 0x0003), .nistP256)
    }

    /// NIST CAVP KAS ECC CDH, COUNT = 0: Q = [d]G and Z = x([d]QCAVS); y from the generator.
    func testECDHAgainstCAVP() throws {
        let cases: [(ECCCurve, [String])] = [
            (
                .nistP256,
                [
                    V.cavp_p256_d, V.cavp_p256_qcavs_x, V.cavp_p256_qcavs_y, V.cavp_p256_qiut_x, V.cavp_p256_qiut_y,
                    V.cavp_p256_z, V.cavp_p256_shared_y,
                ]
            ),
            (
                .nistP384,
                [
                    V.cavp_p384_d, V.cavp_p384_qcavs_x, V.cavp_p384_qcavs_y, V.cavp_p384_qiut_x, V.cavp_p384_qiut_y,
                    V.cavp_p384_z, V.cavp_p384_shared_y,
                ]
            ),
            (
                .nistP521,
                [
                    V.cavp_p521_d, V.cavp_p521_qcavs_x, V.cavp_p521_qcavs_y, V.cavp_p521_qiut_x, V.cavp_p521_qiut_y,
                    V.cavp_p521_z, V.cavp_p521_shared_y,
                ]
            ),
        ]
        for (curve, v) in cases {
            let key = try ECCPrivateKey(curve: curve, scalar: hex(v[0]))
            XCTAssertEqual(key.publicKey.point, ECCPoint(x: hex(v[3]), y: hex(v[4])), "\(curve)")
            XCTAssertEqual(key.scalar(), hex(v[0]))
            let peer = try ECCPublicKey(curve: curve, point: ECCPoint(x: hex(v[1]), y: hex(v[2])))
            XCTAssertEqual(try key.sharedPoint(with: peer), ECCPoint(x: hex(v[5]), y: hex(v[6])), "\(curve)")
        }
    }

    /// ECDH agrees with swift-crypto for fresh keys on every curve.
    func testECDHMatchesSwiftCrypto() throws {
        var drbg = HMACDRBG(entropy: Array("ecdh".utf8) + [UInt8](repeating: 1, count: 28))
        for curve in nistCurves {
            let a = try ECCPrivateKey.generate(curve: curve, using: &drbg)
            let b = try ECCPrivateKey.generate(curve: curve, using: &drbg)
            let z = try a.sharedPoint(with: b.publicKey)
            XCTAssertEqual(z, try b.sharedPoint(with: a.publicKey))
            XCTAssertEqual(z.x, try swiftCryptoSharedSecret(curve, a.scalar(), b.publicKey.point), "\(curve)")
        }
    }

    /// RFC 6979 A.2.5-A.2.7: our deterministic nonce and ECDSA give the published signatures.
    func testRFC6979Signatures() throws {
        let cases: [(ECCCurve, HashAlgorithm, String, String, String, String)] = [
            (.nistP256, .sha256, "sample", V.rfc6979_0_x, V.rfc6979_0_r, V.rfc6979_0_s),
            (.nistP256, .sha256, "test", V.rfc6979_1_x, V.rfc6979_1_r, V.rfc6979_1_s),
            (.nistP384, .sha384, "sample", V.rfc6979_2_x, V.rfc6979_2_r, V.rfc6979_2_s),
            (.nistP521, .sha512, "sample", V.rfc6979_3_x, V.rfc6979_3_r, V.rfc6979_3_s),
        ]
        for (curve, h, message, x, r, s) in cases {
            let key = try ECCPrivateKey(curve: curve, scalar: hex(x))
            let digest = h.digest(Array(message.utf8))
            let k = try RFC6979.nonce(curve: curve, privateKey: hex(x), digest: digest, hash: h)
            let sig = try key.signECDSA(digest: digest, nonce: k)
            XCTAssertEqual(sig, ECCSignature(r: hex(r), s: hex(s)), "\(curve) \(message)")
            XCTAssertTrue(key.publicKey.verifyECDSA(digest: digest, signature: sig))
        }
        // The RFC also prints k for P-256/SHA-256 "sample".
        XCTAssertEqual(
            try RFC6979.nonce(
                curve: .nistP256, privateKey: hex(V.rfc6979_0_x), digest: HashAlgorithm.sha256.digest(Array("sample".utf8)),
                hash: .sha256),
            hex("a6e3c57dd01abe90086538398355dd4c3b17aa873382b0f24d6129493d8aad60"))
    }

    /// Our ECDSA signatures verify with swift-crypto, and swift-crypto's verify with ours.
    func testECDSACrossVerification() throws {
        var drbg = HMACDRBG(entropy: Array("ecdsa".utf8) + [UInt8](repeating: 2, count: 27))
        let message = Array("cross-verified message".utf8)
        for curve in nistCurves {
            let key = try ECCPrivateKey.generate(curve: curve, using: &drbg)
            let (h, digest): (HashAlgorithm, [UInt8]) =
                curve == .nistP256
                ? (.sha256, HashAlgorithm.sha256.digest(message))
                : curve == .nistP384 ? (.sha384, HashAlgorithm.sha384.digest(message)) : (.sha512, HashAlgorithm.sha512.digest(message))
            let sig = try key.signECDSA(digest: digest, using: &drbg)
            XCTAssertEqual(sig.r.count, curve.byteCount)
            XCTAssertTrue(try swiftCryptoVerifies(curve, key.publicKey.point, sig, message), "\(curve)")
            XCTAssertTrue(key.publicKey.verifyECDSA(digest: digest, signature: sig))
            let theirs = try swiftCryptoSign(curve, key.scalar(), message)
            XCTAssertTrue(key.publicKey.verifyECDSA(digest: digest, signature: theirs), "\(curve)")
            var bad = theirs.s
            bad[5] ^= 1
            XCTAssertFalse(key.publicKey.verifyECDSA(digest: digest, signature: ECCSignature(r: theirs.r, s: bad)))
            XCTAssertFalse(key.publicKey.verifyECDSA(digest: h.digest([0]), signature: theirs))
        }
    }

    /// A digest longer than the order (SHA-512 on P-256) is truncated to its leftmost bits, as
    /// FIPS 186-5 and the TPM require; swift-crypto agrees.
    func testECDSADigestTruncation() throws {
        var drbg = HMACDRBG(entropy: [UInt8](repeating: 5, count: 32))
        let key = try ECCPrivateKey.generate(curve: .nistP256, using: &drbg)
        let message = Array("long digest".utf8)
        let digest = HashAlgorithm.sha512.digest(message)
        let sig = try key.signECDSA(digest: digest, using: &drbg)
        let pub = try P256.Signing.PublicKey(x963Representation: [4] + key.publicKey.point.x + key.publicKey.point.y)
        let s = try P256.Signing.ECDSASignature(rawRepresentation: sig.r + sig.s)
        XCTAssertTrue(pub.isValidSignature(s, for: SHA512.hash(data: message)))
        XCTAssertTrue(key.publicKey.verifyECDSA(digest: Array(digest.prefix(32)), signature: sig))
    }

    /// The TPM's EC Schnorr with fixed d and k against the plain-Python computation, for SHA-256
    /// and SHA-512 (truncated to the order's octets on P-256 and P-384, not on P-521).
    func testSchnorrKnownAnswers() throws {
        let cases: [(ECCCurve, [String])] = [
            (
                .nistP256,
                [
                    V.schnorr_p256_d, V.schnorr_p256_k, V.schnorr_p256_qx, V.schnorr_p256_qy, V.schnorr_p256_sha256_r,
                    V.schnorr_p256_sha256_s, V.schnorr_p256_sha512_r, V.schnorr_p256_sha512_s,
                ]
            ),
            (
                .nistP384,
                [
                    V.schnorr_p384_d, V.schnorr_p384_k, V.schnorr_p384_qx, V.schnorr_p384_qy, V.schnorr_p384_sha256_r,
                    V.schnorr_p384_sha256_s, V.schnorr_p384_sha512_r, V.schnorr_p384_sha512_s,
                ]
            ),
            (
                .nistP521,
                [
                    V.schnorr_p521_d, V.schnorr_p521_k, V.schnorr_p521_qx, V.schnorr_p521_qy, V.schnorr_p521_sha256_r,
                    V.schnorr_p521_sha256_s, V.schnorr_p521_sha512_r, V.schnorr_p521_sha512_s,
                ]
            ),
        ]
        let message = Array("schnorr message".utf8)
        for (curve, v) in cases {
            let key = try ECCPrivateKey(curve: curve, scalar: hex(v[0]))
            XCTAssertEqual(key.publicKey.point, ECCPoint(x: hex(v[2]), y: hex(v[3])))
            for (h, r, s) in [(HashAlgorithm.sha256, v[4], v[5]), (.sha512, v[6], v[7])] {
                let digest = h.digest(message)
                let sig = try key.signSchnorr(hash: h, digest: digest, nonce: hex(v[1]))
                XCTAssertEqual(sig, ECCSignature(r: hex(r), s: hex(s)), "\(curve) \(h)")
                XCTAssertTrue(key.publicKey.verifySchnorr(hash: h, digest: digest, signature: sig))
                XCTAssertFalse(key.publicKey.verifySchnorr(hash: h, digest: h.digest([1]), signature: sig))
                XCTAssertFalse(key.publicKey.verifySchnorr(hash: h == .sha256 ? .sha512 : .sha256, digest: digest, signature: sig))
                XCTAssertFalse(key.publicKey.verifyECDSA(digest: digest, signature: sig))
            }
            var drbg = HMACDRBG(entropy: [UInt8](repeating: 6, count: 32))
            let random = try key.signSchnorr(hash: .sha384, digest: HashAlgorithm.sha384.digest(message), using: &drbg)
            XCTAssertTrue(key.publicKey.verifySchnorr(hash: .sha384, digest: HashAlgorithm.sha384.digest(message), signature: random))
        }
    }

    /// Signatures libtpms 0.9.2 made with the Schnorr test keys (tests/vectors/ecc_libtpms_oracle.py):
    /// our ECDSA and EC Schnorr verification accept the TPM's own signatures, so both sides agree on
    /// the TPM's Schnorr variant (hash of the padded x(R) and the digest, truncation, r not reduced).
    func testVerifiesLibtpmsSignatures() throws {
        let keys: [String: (ECCCurve, String, String)] = [
            "p256": (.nistP256, V.schnorr_p256_qx, V.schnorr_p256_qy),
            "p384": (.nistP384, V.schnorr_p384_qx, V.schnorr_p384_qy),
            "p521": (.nistP521, V.schnorr_p521_qx, V.schnorr_p521_qy),
        ]
        let signatures: [(String, String, String, String, String)] = [
            (
                "p256", "ecdsa", "sha256", "02e9fd764b745aad76a35ecb523abba1cc256391e24c70b3223589c26d252de0",
                "f48515c5a8c68bdb2ac586cd5584f34dfd0d5b8f3eced2ad229a95c4c06aad17"
            ),
            (
                "p256", "schnorr", "sha256", "f2f63a73f4eabbc67d22763cd50d1f81f56113f511fae21e2396a0efa27762dc",
                "956c5182b6ac17b2bfd62588932050f91dfef0e242c0546cd4edc281ea575bcb"
            ),
            (
                "p256", "ecdsa", "sha512", "268fd7f3fabca5212bd950990d98ade63149f95e24fe84799994b0c29cd97c09",
                "4ec99d085f3703959be8307a4d230390471f358c321cd7ad023f46eb2024dfca"
            ),
            (
                "p256", "schnorr", "sha512", "18f8c5a6c4af2343b6f02fcfb7fee0589465d35e8ccc633fd8ba73725f863855",
                "17ef1e8281681ae1f82488cd6d744792d6281296b13edb74a351cbf44c14ec9f"
            ),
            (
                "p384", "ecdsa", "sha256",
                "3a86b33db8403db980e30a02b19f64a92839557178e8325074fa67e6f56c3bddfef2363d1a75fc44230677f596eb94d3",
                "3dfcff71de1aecbefc76231b3b436b398159ef38fdbef902dce87140c56692cc9171d4fe9b079fda4e00317e56f74496"
            ),
            (
                "p384", "schnorr", "sha256",
                "00000000000000000000000000000000312e0350a64b2f0db968f5079100c34c8414fa07cb6edbf9df795d4ecb57c875",
                "32261167cf4be4f1e3ed0c037464089b0e0845f50edfb1ceb49090359a710f70ec53c024c9989a75ceaac447ddfda47b"
            ),
            (
                "p384", "ecdsa", "sha512",
                "889e1f9e5752d22372e61f6eeca4fae10b8c67afa5f788fdbeee0670fdc846522d09976eab127c53d339dfa71e22e01e",
                "6a50a1d3dee0fb436305f6c75299b96a6a11beaa7c8d384de00c5ac7f35267b5f05ea2e388b34957f40ad5314e246d6d"
            ),
            (
                "p384", "schnorr", "sha512",
                "154f968394b7dd8622abcfd82820934a393fb7df1eee0edb33e19a2ab80c72f6f4ca59c879052849151989246ab76ae0",
                "f4224d9b49a554475b228409334bf1d98e075e86ca6606b39726e7f924881f28d1f736b09d59c6ba23c8546ecb8b5024"
            ),
            (
                "p521", "ecdsa", "sha256",
                "015e7cf18054ca27218672413348838a4a6b35f0eec62eff3dd3e7b7715f5efb3fa5667520d6f02bfefa61d9da19d571"
                    + "1da04e703569358bc50aac434cf4e85736ad",
                "0080ddcaae900b7f5aefa2555553646c9883981d66b66443cff655efb92568fdd820005cf174264e49aaf2807ba0b51e"
                    + "4d419a0e6ca0fddcf327fa30bc103a1f1370"
            ),
            (
                "p521", "schnorr", "sha256",
                "00000000000000000000000000000000000000000000000000000000000000000000a65873f6c4e17e545a286023dcb3"
                    + "a7054a61252c03b0bd1aab4e55ded40fbd72",
                "00d764b2376e3422da8d21a1bcbb46d881d15bf25ecdf2c1deaf7ebd57641c4f65af5f953cc602061bd49f2a67996fc7"
                    + "9b8786e3b09a702deb1b36d11cda120d845b"
            ),
            (
                "p521", "ecdsa", "sha512",
                "014ff66d476cf2f938f0d054cc533c3c0138dd38fe870750ecb21e42200073e865e35d3489e0082aa3c064814eaacd5d"
                    + "d49ae3a204a543e79f1623e8a908e78eb0b4",
                "00d3347344b1571de44586d67c7e9e45a09011a3d1fd04023589680ac98b1019c7e6837a13e9af35d5b198c3db36b247"
                    + "51979e90954937de1c206f361286a9f29a35"
            ),
            (
                "p521", "schnorr", "sha512",
                "000004ff573acb4571acaefdd2dcbe2d449c5bc7979124fa0397b5d153e326b793dcb5d47d83cef22c8b77bb48e0a7c6"
                    + "2d12fd9f5aaf8bab980cc4f81365e34530d2",
                "006ba9a68fe529156ca4d2064d8405a64f5e300159c87aa13097ccdffed78e509d4ec8a7d797888322bd0a4adc1f19dc"
                    + "09dd1e8deee80ea0f3e7a93e057cd50cd23f"
            ),
        ]
        XCTAssertEqual(signatures.count, 12)
        for (name, scheme, hashName, r, s) in signatures {
            let (curve, x, y) = keys[name]!
            let key = try ECCPublicKey(curve: curve, point: ECCPoint(x: hex(x), y: hex(y)))
            let h: HashAlgorithm = hashName == "sha256" ? .sha256 : .sha512
            let digest = h.digest(Array("schnorr message".utf8))
            let sig = ECCSignature(r: hex(r), s: hex(s))
            if scheme == "ecdsa" {
                XCTAssertTrue(key.verifyECDSA(digest: digest, signature: sig), "\(name) \(hashName)")
                XCTAssertFalse(key.verifySchnorr(hash: h, digest: digest, signature: sig))
            } else {
                XCTAssertTrue(key.verifySchnorr(hash: h, digest: digest, signature: sig), "\(name) \(hashName)")
                XCTAssertFalse(key.verifyECDSA(digest: digest, signature: sig))
            }
        }
    }

    /// Public keys from scalars and point arithmetic agree with swift-crypto's [k]G.
    func testPointArithmetic() throws {
        for curve in nistCurves {
            let g = try curve.multiplyGenerator(by: [1])
            XCTAssertEqual(g, ECCPoint(x: curve.parameters.gX, y: curve.parameters.gY))
            let two = try curve.multiplyGenerator(by: [2])
            let three = try curve.multiplyGenerator(by: [3])
            XCTAssertEqual(try curve.add(two, three), try swiftCryptoPublicPoint(curve, scalar: 5), "\(curve)")
            XCTAssertEqual(try curve.multiply(two, by: [3]), try swiftCryptoPublicPoint(curve, scalar: 6))
            XCTAssertEqual(try curve.add(g, g), two)
            // [n-1]G = -G; adding G gives the point at infinity, which has no coordinates.
            var nMinus1 = curve.parameters.n
            nMinus1[nMinus1.count - 1] -= 1
            let minusG = try curve.multiplyGenerator(by: nMinus1)
            XCTAssertEqual(minusG.x, g.x)
            XCTAssertThrowsError(try curve.add(minusG, g)) { XCTAssertEqual($0 as? TPMCryptoError, .noResult) }
            XCTAssertThrowsError(try curve.multiplyGenerator(by: curve.parameters.n)) {
                XCTAssertEqual($0 as? TPMCryptoError, .valueOutOfRange)
            }
            XCTAssertThrowsError(try curve.multiplyGenerator(by: [0]))
        }
    }

    /// Public points are checked: on the curve, coordinates below p, not infinity.
    func testPointValidation() throws {
        let curve = ECCCurve.nistP256
        let q = ECCPoint(x: hex(V.cavp_p256_qcavs_x), y: hex(V.cavp_p256_qcavs_y))
        XCTAssertTrue(curve.isValid(q))
        XCTAssertNoThrow(try ECCPublicKey(curve: curve, point: q))
        // Leading zeros are only a longer encoding of the same numbers.
        let padded = try ECCPublicKey(curve: curve, point: ECCPoint(x: [0] + q.x, y: [0, 0] + q.y))
        XCTAssertEqual(padded.point, q)
        var offCurve = q.y
        offCurve[31] ^= 1
        let rejects: [ECCPoint] = [
            ECCPoint(x: q.x, y: offCurve),
            ECCPoint(x: [], y: []),
            ECCPoint(x: [0], y: [0]),
            // (x, y + p) satisfies the equation mod p but is out of range.
            ECCPoint(x: q.x, y: addP256P(q.y)),
        ]
        for p in rejects {
            XCTAssertFalse(curve.isValid(p))
            XCTAssertThrowsError(try ECCPublicKey(curve: curve, point: p)) { XCTAssertEqual($0 as? TPMCryptoError, .invalidPoint) }
        }
        // A P-256 point is not a P-384 point.
        XCTAssertFalse(ECCCurve.nistP384.isValid(q))
        let key = try ECCPrivateKey(curve: .nistP384, scalar: hex(V.cavp_p384_d))
        XCTAssertThrowsError(try key.sharedPoint(with: ECCPublicKey(curve: curve, point: q))) {
            XCTAssertEqual($0 as? TPMCryptoError, .invalidPoint)
        }
    }

    func testScalarAndSignatureRanges() throws {
        let curve = ECCCurve.nistP256
        XCTAssertThrowsError(try ECCPrivateKey(curve: curve, scalar: [0])) { XCTAssertEqual($0 as? TPMCryptoError, .invalidKey) }
        XCTAssertThrowsError(try ECCPrivateKey(curve: curve, scalar: curve.parameters.n))
        let key = try ECCPrivateKey(curve: curve, scalar: hex(V.rfc6979_0_x))
        let digest = HashAlgorithm.sha256.digest([1])
        XCTAssertThrowsError(try key.signECDSA(digest: digest, nonce: [0])) { XCTAssertEqual($0 as? TPMCryptoError, .valueOutOfRange) }
        XCTAssertThrowsError(try key.signECDSA(digest: digest, nonce: curve.parameters.n))
        let sig = try key.signECDSA(digest: digest, nonce: [7])
        XCTAssertTrue(key.publicKey.verifyECDSA(digest: digest, signature: sig))
        XCTAssertFalse(key.publicKey.verifyECDSA(digest: digest, signature: ECCSignature(r: [0], s: sig.s)))
        XCTAssertFalse(key.publicKey.verifyECDSA(digest: digest, signature: ECCSignature(r: sig.r, s: curve.parameters.n)))
        XCTAssertFalse(key.publicKey.verifySchnorr(hash: .sha256, digest: digest, signature: ECCSignature(r: curve.parameters.n, s: [1])))
    }

    /// The scalar rule: c from keyBits bits, d = c + 1, redraw when c > n - 2.
    func testScalarRule() throws {
        // A first draw of n - 1 (too large) is skipped; the second draw 00..05 gives d = 6.
        var nMinus1 = ECCCurve.nistP256.parameters.n
        nMinus1[31] -= 1
        var source = FixedBitSource(nMinus1 + [UInt8](repeating: 0, count: 31) + [5])
        let key = try ECCPrivateKey.generate(curve: .nistP256, using: &source)
        XCTAssertEqual(key.scalar(), [UInt8](repeating: 0, count: 31) + [6])
        XCTAssertEqual(source.requests, [256, 256])
        // P-521 draws 521 bits: the top 7 bits of the first octet are cleared.
        var ones = ConstantSource(byte: 0xFF)
        XCTAssertThrowsError(try ECCPrivateKey.generate(curve: .nistP521, using: &ones)) {
            XCTAssertEqual($0 as? TPMCryptoError, .noResult)
        }
        var p521 = FixedBitSource([0xFF] + [UInt8](repeating: 0, count: 65))
        XCTAssertEqual(try ECCPrivateKey.generate(curve: .nistP521, using: &p521).scalar(), [1] + [UInt8](repeating: 0, count: 64) + [1])
    }

    // MARK: swift-crypto oracles

    /// The curves swift-crypto implements (BN-P256 is checked in TPMEngineTests/BNP256Tests).
    private let nistCurves: [ECCCurve] = [.nistP256, .nistP384, .nistP521]

    private func swiftCryptoPublicPoint(_ curve: ECCCurve, scalar: UInt8) throws -> ECCPoint {
        let raw = [UInt8](repeating: 0, count: curve.byteCount - 1) + [scalar]
        let pub: [UInt8]
        switch curve {
        case .nistP256: pub = Array(try P256.Signing.PrivateKey(rawRepresentation: raw).publicKey.rawRepresentation)
        case .nistP384: pub = Array(try P384.Signing.PrivateKey(rawRepresentation: raw).publicKey.rawRepresentation)
        case .nistP521: pub = Array(try P521.Signing.PrivateKey(rawRepresentation: raw).publicKey.rawRepresentation)
        case .bnP256: throw XCTSkip("swift-crypto has no BN curves")
        }
        return ECCPoint(x: Array(pub.prefix(curve.byteCount)), y: Array(pub.suffix(curve.byteCount)))
    }

    private func swiftCryptoSharedSecret(_ curve: ECCCurve, _ scalar: [UInt8], _ peer: ECCPoint) throws -> [UInt8] {
        let x963 = [4] + peer.x + peer.y
        switch curve {
        case .nistP256:
            return try P256.KeyAgreement.PrivateKey(rawRepresentation: scalar)
                .sharedSecretFromKeyAgreement(with: .init(x963Representation: x963)).withUnsafeBytes { Array($0) }
        case .nistP384:
            return try P384.KeyAgreement.PrivateKey(rawRepresentation: scalar)
                .sharedSecretFromKeyAgreement(with: .init(x963Representation: x963)).withUnsafeBytes { Array($0) }
        case .nistP521:
            return try P521.KeyAgreement.PrivateKey(rawRepresentation: scalar)
                .sharedSecretFromKeyAgreement(with: .init(x963Representation: x963)).withUnsafeBytes { Array($0) }
        case .bnP256: throw XCTSkip("swift-crypto has no BN curves")
        }
    }

    private func swiftCryptoVerifies(_ curve: ECCCurve, _ q: ECCPoint, _ sig: ECCSignature, _ message: [UInt8]) throws -> Bool {
        let x963 = [4] + q.x + q.y
        let raw = sig.r + sig.s
        switch curve {
        case .nistP256:
            return try P256.Signing.PublicKey(x963Representation: x963).isValidSignature(.init(rawRepresentation: raw), for: message)
        case .nistP384:
            return try P384.Signing.PublicKey(x963Representation: x963).isValidSignature(.init(rawRepresentation: raw), for: message)
        case .nistP521:
            return try P521.Signing.PublicKey(x963Representation: x963).isValidSignature(.init(rawRepresentation: raw), for: message)
        case .bnP256: throw XCTSkip("swift-crypto has no BN curves")
        }
    }

    private func swiftCryptoSign(_ curve: ECCCurve, _ scalar: [UInt8], _ message: [UInt8]) throws -> ECCSignature {
        let raw: [UInt8]
        switch curve {
        case .nistP256: raw = Array(try P256.Signing.PrivateKey(rawRepresentation: scalar).signature(for: message).rawRepresentation)
        case .nistP384: raw = Array(try P384.Signing.PrivateKey(rawRepresentation: scalar).signature(for: message).rawRepresentation)
        case .nistP521: raw = Array(try P521.Signing.PrivateKey(rawRepresentation: scalar).signature(for: message).rawRepresentation)
        case .bnP256: throw XCTSkip("swift-crypto has no BN curves")
        }
        return ECCSignature(r: Array(raw.prefix(curve.byteCount)), s: Array(raw.suffix(curve.byteCount)))
    }

    /// y + p for P-256, as 33 octets (schoolbook addition; the test must not use our bignums).
    private func addP256P(_ y: [UInt8]) -> [UInt8] {
        let p = hex(V.p256_p)
        var out = [UInt8](repeating: 0, count: 33)
        var carry = 0
        for i in (0..<32).reversed() {
            let s = Int(y[i]) + Int(p[i]) + carry
            out[i + 1] = UInt8(s & 0xFF)
            carry = s >> 8
        }
        out[0] = UInt8(carry)
        return out
    }
}
