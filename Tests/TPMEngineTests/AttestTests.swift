import Crypto
import TPMCrypto
import TPMWire
import XCTest

@testable import TPMEngine

func quoteCommand(_ key: TPMHandle, nonce: [UInt8], scheme: TPMUSigScheme = .null, pcrs: TPMLPCRSelection) -> [UInt8] {
    var w = TPMWriter()
    w.sized(nonce)
    TPMTSigScheme(scheme).encode(to: &w)
    pcrs.encode(to: &w)
    return command(.quote, tag: .sessions, withPassword(handles: [key], params: w.bytes))
}

func certifyCommand(object: TPMHandle, signer: TPMHandle, nonce: [UInt8], scheme: TPMUSigScheme = .null) -> [UInt8] {
    var w = TPMWriter()
    w.sized(nonce)
    TPMTSigScheme(scheme).encode(to: &w)
    return command(.certify, tag: .sessions, withPasswords(handles: [object, signer], passwords: [[], []], params: w.bytes))
}

func getTimeCommand(signer: TPMHandle, nonce: [UInt8], scheme: TPMUSigScheme = .null, privacy: TPMHandle = .endorsement) -> [UInt8] {
    var w = TPMWriter()
    w.sized(nonce)
    TPMTSigScheme(scheme).encode(to: &w)
    return command(.getTime, tag: .sessions, withPasswords(handles: [privacy, signer], passwords: [[], []], params: w.bytes))
}

func certifyCreationCommand(
    signer: TPMHandle, object: TPMHandle, nonce: [UInt8], creationHash: [UInt8], ticket: TPMTTKCreation, scheme: TPMUSigScheme = .null
) -> [UInt8] {
    var w = TPMWriter()
    w.u32(signer.rawValue)
    w.u32(object.rawValue)
    var a = TPMWriter()
    a.u32(TPMHandle.passwordSession.rawValue)
    a.sized([UInt8]())
    a.u8(1)
    a.sized([UInt8]())
    w.u32(UInt32(a.count))
    w.bytes(a.bytes)
    w.sized(nonce)
    w.sized(creationHash)
    TPMTSigScheme(scheme).encode(to: &w)
    ticket.encode(to: &w)
    return command(.certifyCreation, tag: .sessions, w.bytes)
}

/// The attestation and its signature from an attestation command's response.
func parseAttestation(_ r: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> ([UInt8], TPMSAttest, TPMTSignature) {
    XCTAssertEqual(responseCode(r), 0, "attestation", file: file, line: line)
    var p = try checkedParameters(r, hasHandle: false)
    let bytes = try p.sized(max: 2048)
    let sig = try TPMTSignature(from: &p, allowNull: true, support: support)
    XCTAssertTrue(p.isAtEnd)
    return (bytes, try TPMSAttest(wire: bytes), sig)
}

func ecdsaValid(_ sig: TPMTSignature, key: TPMTPublic, data: [UInt8]) throws -> Bool {
    guard case .ecdsa(let s) = sig.signature, case .ecc(let q) = key.unique else { return false }
    let pk = try P256.Signing.PublicKey(x963Representation: [4] + q.x.buffer + q.y.buffer)
    return pk.isValidSignature(
        try P256.Signing.ECDSASignature(rawRepresentation: s.signatureR.buffer + s.signatureS.buffer), for: SHA256.hash(data: data))
}

/// TPM2_Quote, TPM2_Certify, TPM2_CertifyCreation and TPM2_GetTime: TPMS_ATTEST contents
/// computed independently (PCR digests, Names, clock, obfuscation) and signatures checked by
/// swift-crypto.
final class AttestTests: XCTestCase {
    static let ak = Templates.ecc(attributes: Templates.signingAttributes.union(.restricted), scheme: .ecdsa(hashAlg: .sha256))

    func extend(_ tpm: TPM, _ pcr: UInt32, _ data: [UInt8]) {
        var w = TPMWriter()
        w.u32(1)
        w.u16(TPMAlgID.sha256.rawValue)
        w.bytes(Array(SHA256.hash(data: data)))
        tpm.execute(command: command(.pcrExtend, tag: .sessions, withPassword(handles: [TPMHandle(pcr)], params: w.bytes))).check()
    }

    func testQuote() throws {
        let tpm = startedTPM()
        extend(tpm, 16, Array("measured".utf8))
        extend(tpm, 23, Array("other".utf8))
        let ak = try makePrimary(tpm, .endorsement, Self.ak)
        let nonce = Array("fresh nonce".utf8)
        let sel = TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: [0, 16, 23]), TPMSPCRSelection(hash: .sha512, pcrs: [1])])
        let (bytes, attest, sig) = try parseAttestation(tpm.execute(command: quoteCommand(ak.handle, nonce: nonce, pcrs: sel)))
        XCTAssertTrue(try ecdsaValid(sig, key: ak.publicArea, data: bytes))
        XCTAssertEqual(attest.type, .attestQuote)
        XCTAssertEqual(Array(bytes[0..<4]), [0xFF, 0x54, 0x43, 0x47])
        XCTAssertEqual(attest.extraData.buffer, nonce)
        // The endorsement hierarchy sees the clock and counters in the clear.
        XCTAssertEqual(attest.firmwareVersion, 0x0001_0000_0000_0000)
        XCTAssertEqual(attest.clockInfo.resetCount, tpm.persistent.resetCount)
        XCTAssertEqual(attest.clockInfo.restartCount, tpm.persistent.restartCount)
        XCTAssertEqual(attest.qualifiedSigner.buffer, [0, 0x0B] + Array(SHA256.hash(data: [0x40, 0, 0, 0x0B] + ak.name)))
        guard case .quote(let q) = attest.attested else { return XCTFail("not a quote") }
        // PCR 0 (zero), 16 and 23 (extended once from zero), in PCR order; SHA-512 unallocated.
        let v16 = Array(SHA256.hash(data: [UInt8](repeating: 0, count: 32) + Array(SHA256.hash(data: Array("measured".utf8)))))
        let v23 = Array(SHA256.hash(data: [UInt8](repeating: 0, count: 32) + Array(SHA256.hash(data: Array("other".utf8)))))
        XCTAssertEqual(q.pcrDigest.buffer, Array(SHA256.hash(data: [UInt8](repeating: 0, count: 32) + v16 + v23)))
        XCTAssertEqual(
            q.pcrSelect,
            TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: [0, 16, 23]), TPMSPCRSelection(hash: .sha512, select: [0, 0, 0])]))
        // A quote reveals Clock: an orderly Shutdown(STATE) no longer stands after it.
        tpm.shutdown(.state)
        _ = try parseAttestation(tpm.execute(command: quoteCommand(ak.handle, nonce: nonce, pcrs: sel)))
        XCTAssertEqual(tpm.persistent.orderlyState, PersistentState.orderlyNone)
    }

    /// A signer outside the endorsement and platform hierarchies gets obfuscated counters and
    /// firmware version: offsets from KDFa(SHA-512, shProof, "OBFUSCATE", qualifiedSigner),
    /// read big-endian, the same for every attestation by that signer.
    func testObfuscation() throws {
        let tpm = startedTPM()
        let key = try makePrimary(tpm, .owner, Self.ak)
        let (_, a, _) = try parseAttestation(tpm.execute(command: quoteCommand(key.handle, nonce: [], pcrs: TPMLPCRSelection([]))))
        let o = testKDFa(key: tpm.persistent.shProof, label: "OBFUSCATE", contextU: a.qualifiedSigner.buffer, bits: 128, sha512: true)
        func be(_ s: ArraySlice<UInt8>) -> UInt64 { s.reduce(0) { $0 << 8 | UInt64($1) } }
        XCTAssertEqual(a.firmwareVersion, 0x0001_0000_0000_0000 &+ be(o[0..<8]))
        XCTAssertEqual(a.clockInfo.resetCount, tpm.persistent.resetCount &+ UInt32(be(o[8..<12])))
        XCTAssertEqual(a.clockInfo.restartCount, tpm.persistent.restartCount &+ UInt32(be(o[12..<16])))
        // GetTime with no signer: a NULL signature; TPM_RH_NULL as signer; the time info in
        // the clear inside, the header obfuscated.
        let (_, t, sig) = try parseAttestation(tpm.execute(command: getTimeCommand(signer: .null, nonce: [1])))
        XCTAssertEqual(sig, .null)
        XCTAssertEqual(t.qualifiedSigner.buffer, [0x40, 0, 0, 7])
        guard case .time(let info) = t.attested else { return XCTFail("not time") }
        XCTAssertEqual(info.firmwareVersion, 0x0001_0000_0000_0000)
        XCTAssertEqual(info.time.clockInfo.resetCount, tpm.persistent.resetCount)
        let o2 = testKDFa(key: tpm.persistent.shProof, label: "OBFUSCATE", contextU: [0x40, 0, 0, 7], bits: 128, sha512: true)
        XCTAssertEqual(t.firmwareVersion, 0x0001_0000_0000_0000 &+ be(o2[0..<8]))
    }

    func testCertifyAndCertifyCreation() throws {
        let tpm = startedTPM()
        let ak = try makePrimary(tpm, .endorsement, Self.ak)
        let srk = try makePrimary(tpm, .owner, Templates.ecc())
        let (bytes, a, sig) = try parseAttestation(tpm.execute(command: certifyCommand(object: srk.handle, signer: ak.handle, nonce: [5])))
        XCTAssertTrue(try ecdsaValid(sig, key: ak.publicArea, data: bytes))
        XCTAssertEqual(
            a.attested,
            .certify(
                TPMSCertifyInfo(
                    name: TPM2BName(srk.name), qualifiedName: TPM2BName([0, 0x0B] + Array(SHA256.hash(data: [0x40, 0, 0, 1] + srk.name))))))
        // Certify without a signer.
        let (_, _, nullSig) = try parseAttestation(tpm.execute(command: certifyCommand(object: srk.handle, signer: .null, nonce: [])))
        XCTAssertEqual(nullSig, .null)

        let (cbytes, c, csig) = try parseAttestation(
            tpm.execute(
                command: certifyCreationCommand(
                    signer: ak.handle, object: srk.handle, nonce: [6], creationHash: srk.creationHash, ticket: srk.ticket)))
        XCTAssertTrue(try ecdsaValid(csig, key: ak.publicArea, data: cbytes))
        XCTAssertEqual(
            c.attested, .creation(TPMSCreationInfo(objectName: TPM2BName(srk.name), creationHash: TPM2BDigest(srk.creationHash))))
        var badHash = srk.creationHash
        badHash[0] ^= 1
        XCTAssertEqual(
            responseCode(
                tpm.execute(
                    command: certifyCreationCommand(
                        signer: ak.handle, object: srk.handle, nonce: [], creationHash: badHash, ticket: srk.ticket))),
            0x4E0)
    }

    func testErrorCodesMatchLibtpms() {
        typealias C = DifferentialCase
        let k0 = TPMHandle(0x8000_0000)
        let k1 = TPMHandle(0x8000_0001)
        let cp = { (h: TPMHandle, t: TPMTPublic) in createPrimaryCommand(h, t) }
        let sel = TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: [0])])
        let anyTicket = TPMTTKCreation(hierarchy: .owner, digest: TPM2BDigest([1]))
        let cases: [C] = [
            C(
                name: "quote storage key", steps: [cp(.owner, Templates.ecc()), quoteCommand(k0, nonce: [], pcrs: sel)],
                expected: [0x000, 0x19C]),
            C(
                name: "quote scheme mismatch",
                steps: [cp(.owner, Self.ak), quoteCommand(k0, nonce: [], scheme: .ecschnorr(hashAlg: .sha256), pcrs: sel)],
                expected: [0x000, 0x2D2]),
            C(
                name: "quote no scheme",
                steps: [cp(.owner, Templates.ecc(attributes: Templates.signingAttributes)), quoteCommand(k0, nonce: [], pcrs: sel)],
                expected: [0x000, 0x2D2]),
            C(name: "quote null handle", steps: [quoteCommand(.null, nonce: [], pcrs: sel)], expected: [0x2D2]),
            C(
                name: "quote long nonce",
                steps: [cp(.owner, Self.ak), quoteCommand(k0, nonce: [UInt8](repeating: 1, count: 67), pcrs: sel)],
                expected: [0x000, 0x1D5]),
            C(name: "quote ok", steps: [cp(.owner, Self.ak), quoteCommand(k0, nonce: [1], pcrs: sel)], expected: [0x000, 0x000]),
            C(
                name: "quote hmac key",
                steps: [
                    cp(.owner, Templates.keyedHash(attributes: Templates.signingAttributes, scheme: .hmac(hashAlg: .sha256))),
                    quoteCommand(k0, nonce: [1], pcrs: sel),
                ], expected: [0x000, 0x000]),
            C(
                name: "certify non-signer", steps: [cp(.owner, Templates.ecc()), certifyCommand(object: k0, signer: k0, nonce: [])],
                expected: [0x000, 0x29C]),
            C(
                name: "certify null signer", steps: [cp(.owner, Templates.ecc()), certifyCommand(object: k0, signer: .null, nonce: [])],
                expected: [0x000, 0x000]),
            C(
                name: "certify adminWithPolicy object",
                steps: [
                    cp(.owner, Templates.ecc(attributes: Templates.storageAttributes.union(.adminWithPolicy))),
                    certifyCommand(object: k0, signer: .null, nonce: []),
                ], expected: [0x000, 0x124]),
            C(
                name: "certify self", steps: [cp(.owner, Self.ak), certifyCommand(object: k0, signer: k0, nonce: [])],
                expected: [0x000, 0x000]),
            C(name: "gettime null", steps: [getTimeCommand(signer: .null, nonce: [])], expected: [0x000]),
            C(name: "gettime owner privacy", steps: [getTimeCommand(signer: .null, nonce: [], privacy: .owner)], expected: [0x184]),
            C(
                name: "gettime storage signer", steps: [cp(.owner, Templates.ecc()), getTimeCommand(signer: k0, nonce: [])],
                expected: [0x000, 0x29C]),
            C(
                name: "gettime scheme",
                steps: [cp(.owner, Self.ak), getTimeCommand(signer: k0, nonce: [], scheme: .ecdsa(hashAlg: .sha384))],
                expected: [0x000, 0x2D2]),
            C(
                name: "certifycreation bad ticket",
                steps: [
                    cp(.owner, Self.ak), cp(.owner, Templates.ecc()),
                    certifyCreationCommand(signer: k0, object: k1, nonce: [], creationHash: [1], ticket: anyTicket),
                ], expected: [0x000, 0x000, 0x4E0]),
            C(
                name: "certifycreation non-signer",
                steps: [
                    cp(.owner, Templates.ecc()),
                    certifyCreationCommand(signer: k0, object: k0, nonce: [], creationHash: [1], ticket: anyTicket),
                ], expected: [0x000, 0x19C]),
            C(
                name: "certifycreation scheme",
                steps: [
                    cp(.owner, Self.ak),
                    certifyCreationCommand(
                        signer: k0, object: k0, nonce: [], creationHash: [1], ticket: anyTicket, scheme: .rsassa(hashAlg: .sha256)),
                ], expected: [0x000, 0x3D2]),
        ]
        runDifferential(cases)
    }
}
