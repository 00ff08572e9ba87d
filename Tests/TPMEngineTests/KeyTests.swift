import Crypto
import Foundation
import TPMCrypto
import TPMWire
import XCTest
import _CryptoExtras

@testable import TPMEngine

func rsaEncryptCommand(_ key: TPMHandle, message: [UInt8], scheme: TPMUAsymScheme = .null, label: [UInt8] = []) -> [UInt8] {
    var w = TPMWriter()
    w.u32(key.rawValue)
    w.sized(message)
    TPMTRSADecrypt(scheme).encode(to: &w)
    w.sized(label)
    return command(.rsaEncrypt, w.bytes)
}

func rsaDecryptCommand(_ key: TPMHandle, cipherText: [UInt8], scheme: TPMUAsymScheme = .null, label: [UInt8] = []) -> [UInt8] {
    var w = TPMWriter()
    w.sized(cipherText)
    TPMTRSADecrypt(scheme).encode(to: &w)
    w.sized(label)
    return command(.rsaDecrypt, tag: .sessions, withPassword(handles: [key], params: w.bytes))
}

func zGenCommand(_ key: TPMHandle, x: [UInt8], y: [UInt8]) -> [UInt8] {
    var w = TPMWriter()
    TPM2BECCPoint(TPMSECCPoint(x: TPM2BECCParameter(x), y: TPM2BECCParameter(y))).encode(to: &w)
    return command(.ecdhZGen, tag: .sessions, withPassword(handles: [key], params: w.bytes))
}

func encryptDecryptCommand(_ key: TPMHandle, decrypt: Bool, mode: TPMAlgID = .null, iv: [UInt8], data: [UInt8], two: Bool = false)
    -> [UInt8]
{
    var w = TPMWriter()
    if two { w.sized(data) }
    w.u8(decrypt ? 1 : 0)
    w.u16(mode.rawValue)
    w.sized(iv)
    if !two { w.sized(data) }
    return command(two ? .encryptDecrypt2 : .encryptDecrypt, tag: .sessions, withPassword(handles: [key], params: w.bytes))
}

func hmacCommand(_ key: TPMHandle, data: [UInt8], hash: TPMAlgID = .null) -> [UInt8] {
    var w = TPMWriter()
    w.sized(data)
    w.u16(hash.rawValue)
    return command(.hmac, tag: .sessions, withPassword(handles: [key], params: w.bytes))
}

/// Output TPM2B octets of a successful response, in order.
func outputBuffers(_ r: [UInt8], count: Int, file: StaticString = #filePath, line: UInt = #line) throws -> [[UInt8]] {
    XCTAssertEqual(responseCode(r), 0, file: file, line: line)
    var p = responseParameters(r)
    if r.count >= 2, r[1] == 0x02 { p = try checkedParameters(r, hasHandle: false) }
    return try (0..<count).map { _ in try p.sized(max: 4096) }
}

/// RSA_Encrypt/Decrypt, ECDH_KeyGen/ZGen, ECC_Parameters, EncryptDecrypt(2) and HMAC, checked
/// against swift-crypto (BoringSSL), NIST SP 800-38A and FIPS 186 constants, and libtpms.
final class KeyTests: XCTestCase {
    static let rsaD = hex(
        "520117ce1425621af5f658829ecde9707b1cb801278272ccde349c5ca9d0e46ea5ef25ff055a26fc141abaaca758a87204a6116f2f4b84d9"
            + "2ce844a332e9b8c371c24546d92c4589bc1ecc3f446e81b65beefa6c05444f68cd5860cfde3bb9e70eb0a929bfe504da36a839b82cd8"
            + "5a3369e8df592b1b8c3475fc87f8d181c8f428cf8a6d71226cca8e5f325c34e31e033c92d6237b25248a5940c6f69b01c97d42a3ad8a"
            + "19868f83f88d6b2fea40108ae7ed77b15cfb29e466dcb8f040ed41749ae66cd2b98390a156b946e36bca3f6ec1013e7c418e029bd284"
            + "bc3366a6df604fcde38fcddf0ca6ae40dd6c80eb658bec88a6f07210403fb97f983336f4f301")
    static let rsaQ = hex(
        "bba99882e0dbc40ad84e0b35b2caf4bc0e8c3b5bd53ab50936aa38a587622ca5ecc525c514eb4ff75320e68415df2bff97d2c969725b02"
            + "92885a56583154abe781acec1abf9116dbeccb7ba442b51f3318eb03e90ae6797a4e32b04dd75b3ad40363a910d67362507eebe751fa"
            + "1874d996064ee145632815e90566b69677e7e9")
    static let decryptAttributes: TPMAObject = [.userWithAuth, .decrypt]

    func loadStaticRSA(_ tpm: TPM, scheme: TPMUAsymScheme = .null) -> TPMHandle {
        let r = tpm.execute(
            command: loadExternalCommand(
                sensitive: StaticKeys.rsaSensitive(), publicArea: StaticKeys.rsaPublic(attributes: Self.decryptAttributes, scheme: scheme)))
        XCTAssertEqual(responseCode(r), 0)
        return responseHandle(r)
    }

    func testRSAEncryptionInterop() throws {
        let tpm = startedTPM()
        let h = loadStaticRSA(tpm)
        let sc = try _RSA.Encryption.PrivateKey(n: StaticKeys.rsaN, e: [1, 0, 1], d: Self.rsaD, p: StaticKeys.rsaP, q: Self.rsaQ)
        let message = Array("a secret for the TPM".utf8)
        // swift-crypto encrypts, the TPM decrypts: OAEP-SHA256, OAEP-SHA1, PKCS#1 v1.5.
        let oaep256 = Array(try sc.publicKey.encrypt(message, padding: .PKCS1_OAEP_SHA256))
        XCTAssertEqual(
            try outputBuffers(tpm.execute(command: rsaDecryptCommand(h, cipherText: oaep256, scheme: .oaep(hashAlg: .sha256))), count: 1)[
                0], message)
        let oaep1 = Array(try sc.publicKey.encrypt(message, padding: .PKCS1_OAEP))
        XCTAssertEqual(
            try outputBuffers(tpm.execute(command: rsaDecryptCommand(h, cipherText: oaep1, scheme: .oaep(hashAlg: .sha1))), count: 1)[0],
            message)
        let v15 = Array(try sc.publicKey.encrypt(message, padding: ._WEAK_AND_INSECURE_PKCS_V1_5))
        XCTAssertEqual(try outputBuffers(tpm.execute(command: rsaDecryptCommand(h, cipherText: v15, scheme: .rsaes)), count: 1)[0], message)
        // The TPM encrypts, swift-crypto decrypts.
        for (scheme, padding) in [
            (TPMUAsymScheme.oaep(hashAlg: .sha256), _RSA.Encryption.Padding.PKCS1_OAEP_SHA256),
            (.oaep(hashAlg: .sha1), .PKCS1_OAEP), (.rsaes, ._WEAK_AND_INSECURE_PKCS_V1_5),
        ] {
            let c = try outputBuffers(tpm.execute(command: rsaEncryptCommand(h, message: message, scheme: scheme)), count: 1)[0]
            XCTAssertEqual(c.count, 256)
            XCTAssertEqual(Array(try sc.decrypt(c, padding: padding)), message, "\(scheme)")
        }
        // Raw RSA: c = m^e mod n, m = c^d mod n (the result is k octets).
        let raw = try outputBuffers(tpm.execute(command: rsaEncryptCommand(h, message: [0, 0, 5])), count: 1)[0]
        let back = try outputBuffers(tpm.execute(command: rsaDecryptCommand(h, cipherText: raw)), count: 1)[0]
        XCTAssertEqual(back, [UInt8](repeating: 0, count: 255) + [5])
        // A labelled OAEP round trip inside the TPM; the wrong label does not decrypt.
        let label = Array("DUPLICATE".utf8) + [0]
        let lc = try outputBuffers(
            tpm.execute(command: rsaEncryptCommand(h, message: message, scheme: .oaep(hashAlg: .sha256), label: label)), count: 1)[0]
        XCTAssertEqual(
            try outputBuffers(
                tpm.execute(command: rsaDecryptCommand(h, cipherText: lc, scheme: .oaep(hashAlg: .sha256), label: label)), count: 1)[0],
            message)
        XCTAssertEqual(
            responseCode(tpm.execute(command: rsaDecryptCommand(h, cipherText: lc, scheme: .oaep(hashAlg: .sha256), label: [0]))), 0x084)
    }

    /// Ciphertexts this engine makes decrypt on libtpms (the cases replay there), and a
    /// ciphertext with the wrong label does not.
    func testLibtpmsDecryptsOurCiphertexts() throws {
        let tpm = startedTPM()
        let h = loadStaticRSA(tpm)
        let label = Array("IDENTITY".utf8) + [0]
        var cases: [DifferentialCase] = []
        let load = loadExternalCommand(
            sensitive: StaticKeys.rsaSensitive(), publicArea: StaticKeys.rsaPublic(attributes: Self.decryptAttributes, scheme: .null))
        for (name, scheme) in [
            ("oaep sha256", TPMUAsymScheme.oaep(hashAlg: .sha256)), ("oaep sha384", .oaep(hashAlg: .sha384)), ("rsaes", .rsaes),
        ] {
            let c = try outputBuffers(
                tpm.execute(command: rsaEncryptCommand(h, message: [1, 2, 3], scheme: scheme, label: label)), count: 1)[0]
            cases.append(
                DifferentialCase(
                    name: "libtpms decrypts \(name)",
                    steps: [load, rsaDecryptCommand(TPMHandle(0x8000_0000), cipherText: c, scheme: scheme, label: label)],
                    expected: [0, 0]))
        }
        runDifferential(cases)
    }

    func testECDH() throws {
        let tpm = startedTPM()
        let key = try makePrimary(
            tpm, .owner,
            Templates.ecc(
                attributes: [.fixedTPM, .fixedParent, .sensitiveDataOrigin, .userWithAuth, .decrypt], scheme: .ecdh(hashAlg: .sha256)))
        guard case .ecc(let q) = key.publicArea.unique else { return XCTFail() }
        let tpmPublic = try P256.KeyAgreement.PublicKey(x963Representation: [4] + q.x.buffer + q.y.buffer)
        // swift-crypto's ephemeral key; the TPM computes [d]Qe, whose x is the shared secret.
        let mine = P256.KeyAgreement.PrivateKey()
        let pub = Array(mine.publicKey.x963Representation)
        let z = try outputBuffers(tpm.execute(command: zGenCommand(key.handle, x: Array(pub[1..<33]), y: Array(pub[33...]))), count: 1)[0]
        let shared = try mine.sharedSecretFromKeyAgreement(with: tpmPublic)
        XCTAssertEqual(Array(z[2..<34]), shared.withUnsafeBytes { Array($0) })
        // KeyGen: the TPM's ephemeral point and Z; ZGen of that point gives the same Z.
        let kg = try outputBuffers(tpm.execute(command: command(.ecdhKeyGen, be32(key.handle.rawValue))), count: 2)
        var zr = TPMReader(kg[0])
        var pr = TPMReader(kg[1])
        let zPoint = try TPMSECCPoint(from: &zr)
        let ePoint = try TPMSECCPoint(from: &pr)
        let z2 = try outputBuffers(tpm.execute(command: zGenCommand(key.handle, x: ePoint.x.buffer, y: ePoint.y.buffer)), count: 1)[0]
        XCTAssertEqual(z2, zPoint.wireBytes)
        // A point off the curve: TPM_RC_ECC_POINT + P1.
        XCTAssertEqual(responseCode(tpm.execute(command: zGenCommand(key.handle, x: ePoint.x.buffer, y: ePoint.x.buffer))), 0x1E7)
    }

    /// The P-256 domain parameters (FIPS 186-5 / SEC 2) and the shape libtpms gives.
    func testECCParameters() throws {
        let tpm = startedTPM()
        let r = tpm.execute(command: command(.eccParameters, [0, 3]))
        XCTAssertEqual(responseCode(r), 0)
        let body = Array(r[10...])
        XCTAssertEqual(Array(body[0..<12]), [0, 3, 1, 0, 0, 0x20, 0, 0x0B, 0, 0x10, 0, 0x20])
        let p = hex("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff")
        let n = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")
        let gx = hex("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296")
        XCTAssertEqual(Array(body[12..<44]), p)
        var rd = TPMReader(Array(body[10...]))
        let fields = try (0..<7).map { _ in try rd.sized(max: 66) }
        XCTAssertEqual(fields[0], p)
        XCTAssertEqual(fields[3], gx)
        XCTAssertEqual(fields[5], n)
        XCTAssertEqual(fields[6], [1])
        XCTAssertTrue(rd.isAtEnd)
        XCTAssertEqual(r.count, 227)  // libtpms's response size for P-256
        XCTAssertEqual(responseCode(tpm.execute(command: command(.eccParameters, [0x77, 0x77]))), 0x1E6)
    }

    /// AES-128 in every mode on NIST SP 800-38A's F.1-F.5 example, and swift-crypto.
    func testEncryptDecryptSP80038A() throws {
        let tpm = startedTPM()
        let key = hex("2b7e151628aed2a6abf7158809cf4f3c")
        let iv = hex("000102030405060708090a0b0c0d0e0f")
        let plain = hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51")
        let sym = try makePrimary(
            tpm, .owner, Templates.symCipher(mode: .null, attributes: [.fixedTPM, .fixedParent, .userWithAuth, .decrypt, .sign]), data: key)
        let expected: [(TPMAlgID, [UInt8], String)] = [
            (.ecb, [], "3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf"),
            (.cbc, iv, "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"),
            (.cfb, iv, "3b3fd92eb72dad20333449f8e83cfb4ac8a64537a0b3a93fcde3cdad9f1ce58b"),
            (.ofb, iv, "3b3fd92eb72dad20333449f8e83cfb4a7789508d16918f03f53c52dac54ed825"),
            (.ctr, hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"), "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"),
        ]
        for (mode, ivIn, cipher) in expected {
            for two in [false, true] {
                let out = try outputBuffers(
                    tpm.execute(command: encryptDecryptCommand(sym.handle, decrypt: false, mode: mode, iv: ivIn, data: plain, two: two)),
                    count: 2)
                XCTAssertEqual(out[0], hex(cipher), "\(mode)")
                let back = try outputBuffers(
                    tpm.execute(command: encryptDecryptCommand(sym.handle, decrypt: true, mode: mode, iv: ivIn, data: out[0], two: two)),
                    count: 2)
                XCTAssertEqual(back[0], plain, "\(mode)")
            }
        }
        // CBC's ivOut chains: the last ciphertext block, as swift-crypto's CBC continues.
        let cbc = try outputBuffers(
            tpm.execute(command: encryptDecryptCommand(sym.handle, decrypt: false, mode: .cbc, iv: iv, data: plain)), count: 2)
        XCTAssertEqual(cbc[1], Array(cbc[0][16...]))
        let more = Array(try AES._CBC.encrypt(plain, using: SymmetricKey(data: key), iv: .init(ivBytes: cbc[1]), noPadding: true))
        let next = try outputBuffers(
            tpm.execute(command: encryptDecryptCommand(sym.handle, decrypt: false, mode: .cbc, iv: cbc[1], data: plain)), count: 2)
        XCTAssertEqual(next[0], more)
    }

    func testHMAC() throws {
        let tpm = startedTPM()
        let key = Array("an hmac key of moderate length".utf8)
        let k = try makePrimary(
            tpm, .owner, Templates.keyedHash(attributes: [.fixedTPM, .fixedParent, .userWithAuth, .sign, .decrypt]), data: key)
        let data = Array("data to authenticate".utf8)
        for (alg, expected) in [
            (TPMAlgID.sha256, Array(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: key)))),
            (.sha1, Array(HMAC<Insecure.SHA1>.authenticationCode(for: data, using: SymmetricKey(data: key)))),
            (.sha512, Array(HMAC<SHA512>.authenticationCode(for: data, using: SymmetricKey(data: key)))),
        ] {
            XCTAssertEqual(try outputBuffers(tpm.execute(command: hmacCommand(k.handle, data: data, hash: alg)), count: 1)[0], expected)
        }
        XCTAssertEqual(responseCode(tpm.execute(command: hmacCommand(k.handle, data: data))), 0x2C4)
    }

    func testErrorCodesMatchLibtpms() {
        typealias C = DifferentialCase
        let k = TPMHandle(0x8000_0000)
        let cp = { (t: TPMTPublic) in createPrimaryCommand(.owner, t) }
        let le = { (p: TPMTPublic, s: TPMTSensitive?) in loadExternalCommand(sensitive: s, publicArea: p) }
        let dec = StaticKeys.rsaPublic(attributes: Self.decryptAttributes, scheme: .null)
        let decOAEP = StaticKeys.rsaPublic(attributes: Self.decryptAttributes, scheme: .oaep(hashAlg: .sha256))
        let sym: TPMAObject = [.fixedTPM, .fixedParent, .sensitiveDataOrigin, .userWithAuth, .decrypt]
        let aes = Templates.symCipher(mode: .cbc, attributes: sym)
        let iv16 = [UInt8](repeating: 0, count: 16)
        let p256 = StaticKeys.eccPublic(attributes: Self.decryptAttributes, scheme: .ecdh(hashAlg: .sha256))
        let cases: [C] = [
            C(name: "rsaenc ecc key", steps: [cp(Templates.ecc()), rsaEncryptCommand(k, message: [1])], expected: [0x000, 0x19C]),
            C(
                name: "rsaenc sign key", steps: [le(StaticKeys.rsaPublic(), nil), rsaEncryptCommand(k, message: [1])],
                expected: [0x000, 0x182]),
            C(
                name: "rsaenc bad label",
                steps: [le(dec, nil), rsaEncryptCommand(k, message: [1], scheme: .oaep(hashAlg: .sha256), label: [1])],
                expected: [0x000, 0x3C4]),
            C(
                name: "rsaenc scheme mismatch", steps: [le(decOAEP, nil), rsaEncryptCommand(k, message: [1], scheme: .rsaes)],
                expected: [0x000, 0x2D2]),
            C(
                name: "rsaenc oaep hash mismatch",
                steps: [le(decOAEP, nil), rsaEncryptCommand(k, message: [1], scheme: .oaep(hashAlg: .sha1))], expected: [0x000, 0x2D2]),
            // Part 4's CryptRsaEncrypt: a message the padding cannot hold, or raw input not below n,
            // is TPM_RC_VALUE; libtpms passes OpenSSL's refusal on as TPM_RC_FAILURE.
            C(
                name: "rsaenc too long",
                steps: [le(dec, nil), rsaEncryptCommand(k, message: [UInt8](repeating: 1, count: 250), scheme: .oaep(hashAlg: .sha256))],
                expected: [0x000, 0x084], libtpms: [0x000, 0x101]),
            C(
                name: "rsaenc raw too big", steps: [le(dec, nil), rsaEncryptCommand(k, message: [UInt8](repeating: 0xFF, count: 256))],
                expected: [0x000, 0x084], libtpms: [0x000, 0x101]),
            C(
                name: "rsaenc storage key", steps: [cp(Templates.rsa(bits: 1024)), rsaEncryptCommand(k, message: [1], scheme: .rsaes)],
                expected: [0x000, 0x000]),
            C(
                name: "rsadec restricted", steps: [cp(Templates.rsa(bits: 1024)), rsaDecryptCommand(k, cipherText: [1])],
                expected: [0x000, 0x182]),
            C(
                name: "rsadec public only", steps: [le(dec, nil), rsaDecryptCommand(k, cipherText: [UInt8](repeating: 1, count: 256))],
                expected: [0x000, 0x12F]),
            C(
                name: "rsadec short", steps: [le(dec, StaticKeys.rsaSensitive()), rsaDecryptCommand(k, cipherText: [1, 2])],
                expected: [0x000, 0x095]),
            // Part 4's CryptRsaDecrypt: a padding that does not check is TPM_RC_VALUE; libtpms passes
            // OpenSSL's refusal on as TPM_RC_FAILURE.
            C(
                name: "rsadec bad padding",
                steps: [le(decOAEP, StaticKeys.rsaSensitive()), rsaDecryptCommand(k, cipherText: [UInt8](repeating: 1, count: 256))],
                expected: [0x000, 0x084], libtpms: [0x000, 0x101]),
            C(
                name: "rsadec bad label",
                steps: [le(dec, StaticKeys.rsaSensitive()), rsaDecryptCommand(k, cipherText: [1], label: [1, 2])], expected: [0x000, 0x3C4]),
            C(name: "ecdh keygen rsa", steps: [le(dec, nil), command(.ecdhKeyGen, be32(k.rawValue))], expected: [0x000, 0x19C]),
            C(name: "ecdh keygen public", steps: [le(p256, nil), command(.ecdhKeyGen, be32(k.rawValue))], expected: [0x000, 0x000]),
            C(
                name: "ecdh keygen signing",
                steps: [
                    cp(Templates.ecc(attributes: Templates.signingAttributes, scheme: .ecdsa(hashAlg: .sha256))),
                    command(.ecdhKeyGen, be32(k.rawValue)),
                ], expected: [0x000, 0x000]),
            C(
                name: "zgen restricted", steps: [cp(Templates.ecc()), zGenCommand(k, x: StaticKeys.eccX, y: StaticKeys.eccY)],
                expected: [0x000, 0x182]),
            C(
                name: "zgen ecdsa key",
                steps: [
                    le(StaticKeys.eccPublic(attributes: [.userWithAuth, .decrypt, .sign], scheme: .null), StaticKeys.eccSensitive()),
                    zGenCommand(k, x: StaticKeys.eccX, y: StaticKeys.eccY),
                ], expected: [0x000, 0x000]),
            C(
                name: "zgen off curve",
                steps: [le(p256, StaticKeys.eccSensitive()), zGenCommand(k, x: StaticKeys.eccX, y: StaticKeys.eccX)],
                expected: [0x000, 0x1E7]),
            C(
                name: "zgen rsa", steps: [le(dec, StaticKeys.rsaSensitive()), zGenCommand(k, x: StaticKeys.eccX, y: StaticKeys.eccY)],
                expected: [0x000, 0x19C]),
            C(
                name: "zgen empty point",
                steps: [
                    le(p256, StaticKeys.eccSensitive()), command(.ecdhZGen, tag: .sessions, withPassword(handles: [k], params: [0, 0])),
                ], expected: [0x000, 0x1D5]),
            C(
                name: "zgen ok", steps: [le(p256, StaticKeys.eccSensitive()), zGenCommand(k, x: StaticKeys.eccX, y: StaticKeys.eccY)],
                expected: [0x000, 0x000]),
            C(name: "ecc params p384", steps: [command(.eccParameters, [0, 4])], expected: [0x000]),
            C(name: "ecc params bad", steps: [command(.eccParameters, [0x77, 0x77])], expected: [0x1E6]),
            C(
                name: "encdec not sym", steps: [cp(Templates.ecc()), encryptDecryptCommand(k, decrypt: false, iv: iv16, data: [])],
                expected: [0x000, 0x19C]),
            C(
                name: "encdec encrypt without sign", steps: [cp(aes), encryptDecryptCommand(k, decrypt: false, iv: iv16, data: [])],
                expected: [0x000, 0x182]),
            C(
                name: "encdec mode mismatch", steps: [cp(aes), encryptDecryptCommand(k, decrypt: true, mode: .cfb, iv: iv16, data: [])],
                expected: [0x000, 0x2C9]),
            C(
                name: "encdec2 mode mismatch",
                steps: [cp(aes), encryptDecryptCommand(k, decrypt: true, mode: .cfb, iv: iv16, data: [], two: true)],
                expected: [0x000, 0x3C9]),
            C(
                name: "encdec iv size", steps: [cp(aes), encryptDecryptCommand(k, decrypt: true, iv: [1], data: [])],
                expected: [0x000, 0x3D5]),
            C(
                name: "encdec2 iv size", steps: [cp(aes), encryptDecryptCommand(k, decrypt: true, iv: [1], data: [], two: true)],
                expected: [0x000, 0x4D5]),
            C(
                name: "encdec partial block", steps: [cp(aes), encryptDecryptCommand(k, decrypt: true, iv: iv16, data: [1, 2, 3])],
                expected: [0x000, 0x4D5]),
            C(
                name: "encdec2 partial block",
                steps: [cp(aes), encryptDecryptCommand(k, decrypt: true, iv: iv16, data: [1, 2, 3], two: true)], expected: [0x000, 0x1D5]),
            C(
                name: "encdec null mode key",
                steps: [
                    cp(Templates.symCipher(mode: .null, attributes: sym)), encryptDecryptCommand(k, decrypt: true, iv: iv16, data: []),
                ], expected: [0x000, 0x2C9]),
            C(
                name: "encdec ecb iv",
                steps: [cp(Templates.symCipher(mode: .ecb, attributes: sym)), encryptDecryptCommand(k, decrypt: true, iv: iv16, data: [])],
                expected: [0x000, 0x3D5]),
            C(
                name: "encdec cmac mode", steps: [cp(aes), encryptDecryptCommand(k, decrypt: true, mode: .cmac, iv: iv16, data: [])],
                expected: [0x000, 0x2C9]),
            C(
                name: "encdec restricted",
                steps: [
                    cp(
                        Templates.symCipher(attributes: [
                            .fixedTPM, .fixedParent, .sensitiveDataOrigin, .userWithAuth, .decrypt, .restricted,
                        ])), encryptDecryptCommand(k, decrypt: true, iv: iv16, data: []),
                ], expected: [0x000, 0x182]),
            C(
                name: "encdec ok cfb partial",
                steps: [
                    cp(Templates.symCipher(mode: .cfb, attributes: sym)),
                    encryptDecryptCommand(k, decrypt: true, iv: iv16, data: [1, 2, 3]),
                ], expected: [0x000, 0x000]),
            C(name: "hmac not keyedhash", steps: [cp(Templates.ecc()), hmacCommand(k, data: [1])], expected: [0x000, 0x18A]),
            C(
                name: "hmac seal",
                steps: [cp(Templates.keyedHash(attributes: Templates.sealAttributes)), hmacCommand(k, data: [1], hash: .sha256)],
                expected: [0x2C2, 0x910]),
            C(
                name: "hmac restricted",
                steps: [
                    cp(Templates.keyedHash(attributes: Templates.storageAttributes, scheme: .xor(hashAlg: .sha256, kdf: .kdf1SP800_108))),
                    hmacCommand(k, data: [1]),
                ], expected: [0x000, 0x182]),
            C(
                name: "hmac hash mismatch",
                steps: [
                    cp(Templates.keyedHash(attributes: Templates.signingAttributes, scheme: .hmac(hashAlg: .sha256))),
                    hmacCommand(k, data: [1], hash: .sha1),
                ], expected: [0x000, 0x2C4]),
            C(
                name: "hmac key scheme",
                steps: [
                    cp(Templates.keyedHash(attributes: Templates.signingAttributes, scheme: .hmac(hashAlg: .sha256))),
                    hmacCommand(k, data: [1]),
                ], expected: [0x000, 0x000]),
        ]
        runDifferential(cases)
    }
}
