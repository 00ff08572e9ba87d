import Crypto
import TPMCrypto
import TPMWire
import XCTest
import _CryptoExtras

@testable import TPMEngine

func signCommand(_ key: TPMHandle, digest: [UInt8], scheme: TPMUSigScheme = .null, ticket: TPMTTKHashcheck = .null, auth: [UInt8] = [])
    -> [UInt8]
{
    var w = TPMWriter()
    w.sized(digest)
    TPMTSigScheme(scheme).encode(to: &w)
    ticket.encode(to: &w)
    return command(.sign, tag: .sessions, withPassword(handles: [key], password: auth, params: w.bytes))
}

func verifySignatureCommand(_ key: TPMHandle, digest: [UInt8], signature: TPMTSignature) -> [UInt8] {
    var w = TPMWriter()
    w.u32(key.rawValue)
    w.sized(digest)
    signature.encode(to: &w)
    return command(.verifySignature, w.bytes)
}

func parseSignature(_ r: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> TPMTSignature {
    XCTAssertEqual(responseCode(r), 0, "sign", file: file, line: line)
    var p = try checkedParameters(r, hasHandle: false)
    return try TPMTSignature(from: &p, allowNull: true, support: support)
}

func hashCommand(_ data: [UInt8], alg: TPMAlgID = .sha256, hierarchy: TPMHandle = .owner) -> [UInt8] {
    var w = TPMWriter()
    w.sized(data)
    w.u16(alg.rawValue)
    w.u32(hierarchy.rawValue)
    return command(.hash, w.bytes)
}

/// Verifies an RSA or ECDSA signature over `message` with swift-crypto (BoringSSL): the
/// independent check of what TPM2_Sign returns.
func independentlyVerify(_ sig: TPMTSignature, publicArea: TPMTPublic, message: [UInt8]) throws -> Bool {
    switch (sig.signature, publicArea.unique) {
    case (.rsassa(let s), .rsa(let n)), (.rsapss(let s), .rsa(let n)):
        XCTAssertEqual(s.hash, .sha256)
        let key = try _RSA.Signing.PublicKey(n: n.buffer, e: [1, 0, 1])
        let padding: _RSA.Signing.Padding
        if case .rsassa = sig.signature { padding = .insecurePKCS1v1_5 } else { padding = .PSS }
        return key.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: s.sig.buffer), for: SHA256.hash(data: message), padding: padding)
    case (.ecdsa(let s), .ecc(let q)):
        XCTAssertEqual(s.hash, .sha256)
        let key = try P256.Signing.PublicKey(x963Representation: [4] + q.x.buffer + q.y.buffer)
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: s.signatureR.buffer + s.signatureS.buffer)
        return key.isValidSignature(signature, for: SHA256.hash(data: message))
    default:
        return false
    }
}

/// TPM2_Sign and TPM2_VerifySignature: signatures checked by swift-crypto, and by libtpms
/// (the `libtpmsVerifies` cases, replayed on swtpm by tests/differential/replay.py).
final class SignTests: XCTestCase {
    static let rsaSigner = Templates.rsa(attributes: Templates.signingAttributes, scheme: .rsassa(hashAlg: .sha256))
    static let pssSigner = Templates.rsa(attributes: Templates.signingAttributes, scheme: .rsapss(hashAlg: .sha256))
    static let ecdsaSigner = Templates.ecc(attributes: Templates.signingAttributes, scheme: .ecdsa(hashAlg: .sha256))

    func testRSAAndECDSASignaturesVerifyWithSwiftCrypto() throws {
        let tpm = startedTPM()
        let message = Array("attest this".utf8)
        let digest = Array(SHA256.hash(data: message))
        for template in [Self.rsaSigner, Self.pssSigner, Self.ecdsaSigner] {
            let key = try makePrimary(tpm, .owner, template)
            let sig = try parseSignature(tpm.execute(command: signCommand(key.handle, digest: digest)))
            XCTAssertTrue(try independentlyVerify(sig, publicArea: key.publicArea, message: message), "\(sig.sigAlg)")
            XCTAssertFalse(try independentlyVerify(sig, publicArea: key.publicArea, message: message + [0]))
            // The TPM verifies its own signature and issues a ticket (Part 2, 10.7.4).
            let v = tpm.execute(command: verifySignatureCommand(key.handle, digest: digest, signature: sig))
            XCTAssertEqual(responseCode(v), 0)
            var p = responseParameters(v)
            let ticket = try TPMTTKVerified(from: &p)
            XCTAssertEqual(ticket.hierarchy, .owner)
            let expected = HMAC<SHA512>.authenticationCode(
                for: [0x80, 0x22] + digest + key.name, using: SymmetricKey(data: tpm.persistent.shProof))
            XCTAssertEqual(ticket.digest.buffer, Array(expected))
            tpm.execute(command: flushCommand(key.handle)).check()
        }
    }

    /// A scheme given with the command is used for a key without one; the NULL hierarchy gives
    /// NULL verification tickets.
    func testSchemeFromCommandAndNullTicket() throws {
        let tpm = startedTPM()
        let key = try makePrimary(tpm, .null, Templates.ecc(attributes: Templates.signingAttributes))
        let message = Array("m".utf8)
        let digest = Array(SHA256.hash(data: message))
        XCTAssertEqual(responseCode(tpm.execute(command: signCommand(key.handle, digest: digest))), 0x2D2)
        let sig = try parseSignature(tpm.execute(command: signCommand(key.handle, digest: digest, scheme: .ecdsa(hashAlg: .sha256))))
        XCTAssertTrue(try independentlyVerify(sig, publicArea: key.publicArea, message: message))
        let v = tpm.execute(command: verifySignatureCommand(key.handle, digest: digest, signature: sig))
        var p = responseParameters(v)
        XCTAssertEqual(try TPMTTKVerified(from: &p), .null)
        // A SHA-384 digest with an ECDSA-SHA384 scheme on a P-256 key: truncated, still valid.
        let d384 = Array(SHA384.hash(data: message))
        let sig384 = try parseSignature(tpm.execute(command: signCommand(key.handle, digest: d384, scheme: .ecdsa(hashAlg: .sha384))))
        guard case .ecdsa(let s) = sig384.signature, case .ecc(let q) = key.publicArea.unique else { return XCTFail() }
        let pk = try P256.Signing.PublicKey(x963Representation: [4] + q.x.buffer + q.y.buffer)
        XCTAssertTrue(
            pk.isValidSignature(
                try P256.Signing.ECDSASignature(rawRepresentation: s.signatureR.buffer + s.signatureS.buffer),
                for: SHA384.hash(data: message)))
    }

    /// Restricted signing keys sign only digests the TPM computed, proven by a hashcheck ticket
    /// from TPM2_Hash; data that starts with TPM_GENERATED_VALUE earns no ticket.
    func testRestrictedKeyNeedsHashcheckTicket() throws {
        let tpm = startedTPM()
        let ak = try makePrimary(
            tpm, .endorsement, Templates.rsa(attributes: Templates.signingAttributes.union(.restricted), scheme: .rsassa(hashAlg: .sha256)))
        let message = Array("an outside message".utf8)
        let digest = Array(SHA256.hash(data: message))
        XCTAssertEqual(responseCode(tpm.execute(command: signCommand(ak.handle, digest: digest))), 0x3E0)
        let (hashed, ticket) = try digestAndTicket(tpm.execute(command: hashCommand(message, hierarchy: .endorsement)))
        XCTAssertEqual(hashed, digest)
        let sig = try parseSignature(tpm.execute(command: signCommand(ak.handle, digest: digest, ticket: ticket)))
        XCTAssertTrue(try independentlyVerify(sig, publicArea: ak.publicArea, message: message))
        // The ticket is for this digest only.
        var other = digest
        other[0] ^= 1
        XCTAssertEqual(responseCode(tpm.execute(command: signCommand(ak.handle, digest: other, ticket: ticket))), 0x3E0)
        // A forged quote body: TPM2_Hash answers with a NULL ticket, which Sign refuses.
        let forged: [UInt8] = [0xFF, 0x54, 0x43, 0x47] + message
        let (fd, nullTicket) = try digestAndTicket(tpm.execute(command: hashCommand(forged, hierarchy: .endorsement)))
        XCTAssertEqual(nullTicket, .null)
        XCTAssertEqual(responseCode(tpm.execute(command: signCommand(ak.handle, digest: fd, ticket: nullTicket))), 0x3E0)
    }

    func testHMACSignature() throws {
        let tpm = startedTPM()
        let key = [UInt8](repeating: 0x5A, count: 40)
        let hk = try makePrimary(
            tpm, .owner, Templates.keyedHash(attributes: [.fixedTPM, .fixedParent, .userWithAuth, .sign], scheme: .hmac(hashAlg: .sha384)),
            data: key)
        let digest = Array(SHA384.hash(data: [1, 2, 3]))
        let sig = try parseSignature(tpm.execute(command: signCommand(hk.handle, digest: digest)))
        let expected = HMAC<SHA384>.authenticationCode(for: digest, using: SymmetricKey(data: key))
        XCTAssertEqual(sig, TPMTSignature(.hmac(TPMTHA(hashAlg: .sha384, digest: Array(expected)))))
        XCTAssertEqual(responseCode(tpm.execute(command: verifySignatureCommand(hk.handle, digest: digest, signature: sig))), 0)
        var bad = Array(expected)
        bad[0] ^= 1
        let badSig = TPMTSignature(.hmac(TPMTHA(hashAlg: .sha384, digest: bad)))
        XCTAssertEqual(responseCode(tpm.execute(command: verifySignatureCommand(hk.handle, digest: digest, signature: badSig))), 0x2DB)
    }

    /// Signatures made by this engine with keys loaded through LoadExternal, checked by libtpms:
    /// each case loads the same public key on the other TPM and runs VerifySignature there.
    func testLibtpmsVerifiesOurSignatures() throws {
        let tpm = startedTPM()
        let message = Array("cross-check".utf8)
        let digest = Array(SHA256.hash(data: message))
        var cases: [DifferentialCase] = []
        let keys: [(String, TPMTPublic, TPMTSensitive, TPMUSigScheme)] = [
            ("rsassa", StaticKeys.rsaPublic(), StaticKeys.rsaSensitive(), .rsassa(hashAlg: .sha256)),
            ("rsapss", StaticKeys.rsaPublic(scheme: .rsapss(hashAlg: .sha256)), StaticKeys.rsaSensitive(), .rsapss(hashAlg: .sha256)),
            ("ecdsa", StaticKeys.eccPublic(), StaticKeys.eccSensitive(), .ecdsa(hashAlg: .sha256)),
            (
                "ecschnorr", StaticKeys.eccPublic(scheme: .ecschnorr(hashAlg: .sha256)), StaticKeys.eccSensitive(),
                .ecschnorr(hashAlg: .sha256)
            ),
            ("ecschnorr sha384", StaticKeys.eccPublic(scheme: .null), StaticKeys.eccSensitive(), .ecschnorr(hashAlg: .sha384)),
        ]
        for (name, pub, sens, scheme) in keys {
            let l = tpm.execute(command: loadExternalCommand(sensitive: sens, publicArea: pub))
            XCTAssertEqual(responseCode(l), 0, name)
            let d = scheme.hashAlg == .sha384 ? Array(SHA384.hash(data: message)) : digest
            let sig = try parseSignature(tpm.execute(command: signCommand(responseHandle(l), digest: d, scheme: scheme)))
            XCTAssertEqual(sig.sigAlg, scheme.selector)
            tpm.execute(command: flushCommand(responseHandle(l))).check()
            cases.append(
                DifferentialCase(
                    name: "libtpms verifies \(name)",
                    steps: [
                        loadExternalCommand(sensitive: nil, publicArea: pub),
                        verifySignatureCommand(TPMHandle(0x8000_0000), digest: d, signature: sig),
                    ],
                    expected: [0, 0]))
            // And a damaged one is refused by both.
            var bad = sig
            switch bad.signature {
            case .rsassa(var s):
                s.sig.buffer[5] ^= 1
                bad = TPMTSignature(.rsassa(s))
            case .rsapss(var s):
                s.sig.buffer[5] ^= 1
                bad = TPMTSignature(.rsapss(s))
            case .ecdsa(var s):
                s.signatureS.buffer[5] ^= 1
                bad = TPMTSignature(.ecdsa(s))
            case .ecschnorr(var s):
                s.signatureS.buffer[5] ^= 1
                bad = TPMTSignature(.ecschnorr(s))
            default: break
            }
            cases.append(
                DifferentialCase(
                    name: "libtpms refuses damaged \(name)",
                    steps: [
                        loadExternalCommand(sensitive: nil, publicArea: pub),
                        verifySignatureCommand(TPMHandle(0x8000_0000), digest: d, signature: bad),
                    ],
                    expected: [0, 0x2DB]))
        }
        runDifferential(cases)
    }

    func testErrorCodesMatchLibtpms() {
        typealias C = DifferentialCase
        let d32 = [UInt8](repeating: 3, count: 32)
        let cp = { (t: TPMTPublic) in createPrimaryCommand(.owner, t) }
        let k = TPMHandle(0x8000_0000)
        let ecdsa = TPMTSignature(
            .ecdsa(TPMSSignatureECC(hash: .sha256, signatureR: TPM2BECCParameter([1]), signatureS: TPM2BECCParameter([1]))))
        let rsassa = TPMTSignature(.rsassa(TPMSSignatureRSA(hash: .sha256, sig: TPM2BPublicKeyRSA([1, 2, 3]))))
        let cases: [C] = [
            C(name: "sign storage key", steps: [cp(Templates.ecc()), signCommand(k, digest: d32)], expected: [0x000, 0x19C]),
            C(
                name: "sign x509 key",
                steps: [
                    cp(Templates.ecc(attributes: Templates.signingAttributes.union(.x509sign), scheme: .ecdsa(hashAlg: .sha256))),
                    signCommand(k, digest: d32),
                ], expected: [0x000, 0x182]),
            C(
                name: "sign scheme mismatch",
                steps: [cp(Self.ecdsaSigner), signCommand(k, digest: d32, scheme: .ecschnorr(hashAlg: .sha256))], expected: [0x000, 0x2D2]),
            C(
                name: "sign hash mismatch", steps: [cp(Self.ecdsaSigner), signCommand(k, digest: d32, scheme: .ecdsa(hashAlg: .sha1))],
                expected: [0x000, 0x2D2]),
            C(name: "sign digest size", steps: [cp(Self.ecdsaSigner), signCommand(k, digest: [1, 2, 3])], expected: [0x000, 0x1D5]),
            C(
                name: "sign rsa scheme on ecc",
                steps: [
                    cp(Templates.ecc(attributes: Templates.signingAttributes)),
                    signCommand(k, digest: d32, scheme: .rsassa(hashAlg: .sha256)),
                ], expected: [0x000, 0x2D2]),
            C(
                name: "sign hmac scheme on rsa",
                steps: [
                    cp(Templates.rsa(bits: 1024, attributes: Templates.signingAttributes)),
                    signCommand(k, digest: d32, scheme: .hmac(hashAlg: .sha256)),
                ], expected: [0x000, 0x2D2]),
            C(
                name: "sign restricted no ticket",
                steps: [
                    cp(Templates.ecc(attributes: Templates.signingAttributes.union(.restricted), scheme: .ecdsa(hashAlg: .sha256))),
                    signCommand(k, digest: d32),
                ], expected: [0x000, 0x3E0]),
            C(
                name: "sign bad ticket",
                steps: [
                    cp(Self.ecdsaSigner),
                    signCommand(k, digest: d32, ticket: TPMTTKHashcheck(tag: .hashCheck, hierarchy: .owner, digest: TPM2BDigest([1]))),
                ], expected: [0x000, 0x3E0]),
            C(
                name: "sign sequence", steps: [command(.hashSequenceStart, [0, 0, 0, 0x0B]), signCommand(k, digest: d32)],
                expected: [0x000, 0x19C]),
            C(
                name: "sign seal", steps: [cp(Templates.keyedHash(attributes: Templates.sealAttributes)), signCommand(k, digest: d32)],
                expected: [0x2C2, 0x910]),
            C(
                name: "sign ecdaa", steps: [cp(Self.ecdsaSigner), signCommand(k, digest: d32, scheme: .ecdaa(hashAlg: .sha256, count: 0))],
                expected: [0x000, 0x2D2]),
            C(
                name: "verify storage key", steps: [cp(Templates.ecc()), verifySignatureCommand(k, digest: d32, signature: ecdsa)],
                expected: [0x000, 0x182]),
            C(
                name: "verify rsa sig on ecc key",
                steps: [cp(Self.ecdsaSigner), verifySignatureCommand(k, digest: d32, signature: rsassa)], expected: [0x000, 0x2D2]),
            C(
                name: "verify bad ecdsa", steps: [cp(Self.ecdsaSigner), verifySignatureCommand(k, digest: d32, signature: ecdsa)],
                expected: [0x000, 0x2DB]),
            C(
                name: "verify short rsa",
                steps: [
                    cp(Templates.rsa(bits: 1024, attributes: Templates.signingAttributes)),
                    verifySignatureCommand(k, digest: d32, signature: rsassa),
                ], expected: [0x000, 0x2DB]),
            C(
                name: "verify null sig", steps: [cp(Self.ecdsaSigner), verifySignatureCommand(k, digest: d32, signature: .null)],
                expected: [0x000, 0x2D2]),
            C(
                name: "verify sequence",
                steps: [command(.hashSequenceStart, [0, 0, 0, 0x0B]), verifySignatureCommand(k, digest: d32, signature: ecdsa)],
                expected: [0x000, 0x182]),
        ]
        runDifferential(cases)
    }
}
