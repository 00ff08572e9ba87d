import Crypto
import Foundation
import TPMClient
import TPMCrypto
import TPMWire
import XCTest

/// The client against swtpm: every command the agent uses, with values checked independently
/// (PCR values recomputed with swift-crypto, the quote's ECDSA signature verified by it).
/// `VTPMSimLiveTests` runs the same tests against `vtpm sim` over the mssim protocol.
class SwtpmLiveTests: XCTestCase {
    var tpm: LiveTPM!
    var client: TPMClient!
    var kind: LiveTPM.Kind { .swtpm }

    override func setUpWithError() throws {
        tpm = try LiveTPM(kind)
        client = try TPMClient(tcti: tpm.tcti)
        try client.startup()  // already started: TPM_RC_INITIALIZE is success
    }

    override func tearDown() {
        client = nil
        tpm?.stop()
    }

    func testPCRExtendAndReadAllBanks() throws {
        let banks = try client.allocatedBanks()
        XCTAssertTrue(banks.contains(.sha256))
        let data = Array("measured".utf8)
        var digests: [TPMTHA] = []
        for b in banks {
            guard let h = HashAlgorithm(rawValue: b.rawValue) else { continue }
            digests.append(TPMTHA(hashAlg: b, digest: h.digest(data)))
        }
        try client.pcrExtend(16, digests: digests)
        let selection = TPMLPCRSelection(digests.map { TPMSPCRSelection(hash: $0.hashAlg, pcrs: [16]) })
        let (values, _) = try client.pcrRead(selection)
        let d256 = Array(SHA256.hash(data: data))
        XCTAssertEqual(values[PCRKey(bank: .sha256, pcr: 16)], Array(SHA256.hash(data: [UInt8](repeating: 0, count: 32) + d256)))
    }

    func testHMACSessionAgainstTheTPM() throws {
        // PCR_Extend authorized by an unsalted, unbound HMAC session (PCR authValue empty): the TPM
        // checks our command HMAC, we check its response HMAC, twice with rolling nonces.
        let session = try client.startHMACSession()
        for i in 0..<2 {
            var w = TPMWriter()
            TPMLDigestValues([TPMTHA(hashAlg: .sha256, digest: [UInt8](repeating: UInt8(i), count: 32))]).encode(to: &w)
            let before = session.nonceTPM
            try client.execute(
                TPMCommand(
                    .pcrExtend, handles: [TPMHandle(16)], names: [[0, 0, 0, 16]], authorizations: [.hmac(session, authValue: [])],
                    parameters: w.bytes))
            XCTAssertNotEqual(session.nonceTPM, before)
        }
        // A wrong authValue: the TPM refuses the HMAC. A PCR is not subject to dictionary-attack
        // protection, so the code is TPM_RC_BAD_AUTH for session 1 (0x9A2), not TPM_RC_AUTH_FAIL.
        var w = TPMWriter()
        TPMLDigestValues([TPMTHA(hashAlg: .sha256, digest: [UInt8](repeating: 9, count: 32))]).encode(to: &w)
        XCTAssertThrowsError(
            try client.execute(
                TPMCommand(
                    .pcrExtend, handles: [TPMHandle(16)], names: [[0, 0, 0, 16]],
                    authorizations: [.hmac(session, authValue: [1])], parameters: w.bytes))
        ) { XCTAssertEqual(($0 as? TPMClientError)?.responseCode, TPMRC(0x9A2)) }
        try client.flushContext(session.handle)
    }

    func testPCRReadMoreThanEight() throws {
        let selection = TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: Array(0..<24))])
        let (values, _) = try client.pcrRead(selection)
        XCTAssertEqual(values.count, 24)
        XCTAssertEqual(values[PCRKey(bank: .sha256, pcr: 23)], [UInt8](repeating: 0, count: 32))
    }

    func testEKAndAKQuoteAndCredentialActivation() throws {
        let ek = try client.createPrimary(hierarchy: .endorsement, template: KeyTemplates.ekECCP256)
        XCTAssertEqual(ek.outPublic.publicArea.authPolicy.buffer, KeyTemplates.ekPolicyA)
        // The Name is nameAlg || SHA-256(TPMT_PUBLIC).
        XCTAssertEqual(ek.name, [0, 0x0B] + Array(SHA256.hash(data: ek.outPublic.bytes)))

        // Without the policy the EK cannot be a parent (no userWithAuth): TPM_RC_AUTH_UNAVAILABLE
        // (0x12F) for session 1.
        XCTAssertThrowsError(try client.create(parent: ek.handle, parentAuth: .emptyPassword, template: KeyTemplates.akECCP256)) {
            XCTAssertEqual(($0 as? TPMClientError)?.responseCode, TPMRC(0x12F).session(1))
        }
        let ak = try client.create(
            parent: ek.handle, parentAuth: .policy(try client.endorsementPolicySession()), template: KeyTemplates.akECCP256)
        let (akHandle, akName) = try client.load(
            parent: ek.handle, parentAuth: .policy(try client.endorsementPolicySession()), object: ak)
        XCTAssertEqual(akName, [0, 0x0B] + Array(SHA256.hash(data: ak.outPublic.bytes)))
        let (readBack, name, _) = try client.readPublic(akHandle)
        XCTAssertEqual(readBack.bytes, ak.outPublic.bytes)
        XCTAssertEqual(name, akName)

        let nonce = Array("fresh nonce 1234".utf8)
        let selection = TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: [0, 16])])
        let q = try client.quote(key: akHandle, qualifyingData: nonce, pcrs: selection)
        let attest = try TPMSAttest(wire: q.attest)
        XCTAssertEqual(attest.extraData.buffer, nonce)
        guard case .quote(let info) = attest.attested else { return XCTFail("not a quote") }
        let (values, _) = try client.pcrRead(selection)
        let concatenated = [0, 16].flatMap { values[PCRKey(bank: .sha256, pcr: $0)] ?? [] }
        XCTAssertEqual(info.pcrDigest.buffer, Array(SHA256.hash(data: concatenated)))
        // Verify the ECDSA signature with swift-crypto.
        var r = TPMReader(q.signature)
        let sig = try TPMTSignature(from: &r, allowNull: false, support: .client)
        guard case .ecdsa(let ecc) = sig.signature, case .ecc(let point) = ak.outPublic.publicArea.unique else {
            return XCTFail("not ECDSA")
        }
        let key = try P256.Signing.PublicKey(x963Representation: [4] + point.x.buffer + point.y.buffer)
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: ecc.signatureR.buffer + ecc.signatureS.buffer)
        XCTAssertTrue(key.isValidSignature(signature, for: SHA256.hash(data: q.attest)))

        // Credential activation: MakeCredential against the EK's public key, ActivateCredential
        // with the AK (password) and the EK (policy).
        let secret = Array("the credential".utf8)
        let (blob, encSecret) = try client.makeCredential(handle: ek.handle, credential: secret, objectName: akName)
        let recovered = try client.activateCredential(
            activate: akHandle, activateAuth: .emptyPassword, key: ek.handle,
            keyAuth: .policy(try client.endorsementPolicySession()), credentialBlob: blob, secret: encSecret)
        XCTAssertEqual(recovered, secret)

        // The AK survives as its blobs: flush, load again, same Name; and as a saved context.
        let context = try client.contextSave(akHandle)
        try client.flushContext(akHandle)
        let (again, againName) = try client.load(
            parent: ek.handle, parentAuth: .policy(try client.endorsementPolicySession()), object: ak)
        XCTAssertEqual(againName, akName)
        try client.flushContext(again)
        let restored = try client.contextLoad(context)
        XCTAssertEqual(try client.readPublic(restored).name, akName)
    }

    func testRSAEKAndAK() throws {
        let ek = try client.createPrimary(hierarchy: .endorsement, template: KeyTemplates.ekRSA2048)
        guard case .rsa(let n) = ek.outPublic.publicArea.unique else { return XCTFail("not RSA") }
        XCTAssertEqual(n.count, 256)
        let ak = try client.create(
            parent: ek.handle, parentAuth: .policy(try client.endorsementPolicySession()), template: KeyTemplates.akRSA2048)
        let (akHandle, _) = try client.load(parent: ek.handle, parentAuth: .policy(try client.endorsementPolicySession()), object: ak)
        let q = try client.quote(
            key: akHandle, qualifyingData: [1, 2, 3], pcrs: TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: [16])]))
        var r = TPMReader(q.signature)
        let sig = try TPMTSignature(from: &r, allowNull: false, support: .client)
        XCTAssertEqual(sig.sigAlg, .rsassa)
    }

    func testClockCapabilityAndNV() throws {
        let t1 = try client.readClock()
        let t2 = try client.readClock()
        XCTAssertEqual(t1.clockInfo.resetCount, t2.clockInfo.resetCount)
        XCTAssertGreaterThanOrEqual(t2.clockInfo.clock, t1.clockInfo.clock)
        XCTAssertEqual(try client.property(.pcrCount), 24)
        // No EK certificate in a fresh swtpm: TPM_RC_HANDLE for handle 1 (0x18B).
        XCTAssertThrowsError(try client.nvReadPublic(EKCertificateIndex.rsa2048)) {
            XCTAssertEqual(($0 as? TPMClientError)?.responseCode, TPMRC(0x18B))
        }
    }

    func testMSSimTransportFramingThroughFakeServer() throws {
        // The mssim frame of a command (TpmTcpProtocol.h: TPM_SEND_COMMAND = 8, locality, size).
        XCTAssertEqual(
            MSSimTransport.sendCommandFrame([0x80, 1, 0, 0, 0, 12, 0, 0, 1, 0x44, 0, 0], locality: 3),
            [0, 0, 0, 8, 3, 0, 0, 0, 12, 0x80, 1, 0, 0, 0, 12, 0, 0, 1, 0x44, 0, 0])
    }
}

/// The same tests against `vtpm sim` (XCTest on Linux discovers only methods a class declares).
final class VTPMSimLiveTests: SwtpmLiveTests {
    override var kind: LiveTPM.Kind { .vtpmSim }
    override func testPCRExtendAndReadAllBanks() throws { try super.testPCRExtendAndReadAllBanks() }
    override func testPCRReadMoreThanEight() throws { try super.testPCRReadMoreThanEight() }
    override func testHMACSessionAgainstTheTPM() throws { try super.testHMACSessionAgainstTheTPM() }
    override func testEKAndAKQuoteAndCredentialActivation() throws { try super.testEKAndAKQuoteAndCredentialActivation() }
    override func testRSAEKAndAK() throws { try super.testRSAEKAndAK() }
    override func testClockCapabilityAndNV() throws { try super.testClockCapabilityAndNV() }
    override func testMSSimTransportFramingThroughFakeServer() throws { try super.testMSSimTransportFramingThroughFakeServer() }
}
