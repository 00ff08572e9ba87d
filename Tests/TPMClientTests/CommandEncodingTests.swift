import Crypto
import TPMClient
import TPMCrypto
import TPMWire
import XCTest

func hex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = s.filter { !$0.isWhitespace }.makeIterator()
    while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
    return out
}

/// Expected octets are written out by hand from Part 1, 18 and Part 3 (header, handles,
/// authorization area, parameters), or computed with Python's struct/hashlib.
final class CommandEncodingTests: XCTestCase {
    func testStartupClear() {
        let (bytes, _) = TPMCommand(.startup, parameters: [0, 0]).marshal()
        XCTAssertEqual(bytes, hex("8001 0000000c 00000144 0000"))
    }

    func testPCRExtendWithPasswordSession() {
        var w = TPMWriter()
        TPMLDigestValues([TPMTHA(hashAlg: .sha256, digest: [UInt8](repeating: 0xAB, count: 32))]).encode(to: &w)
        let (bytes, _) = TPMCommand(.pcrExtend, handles: [TPMHandle(11)], authorizations: [.emptyPassword], parameters: w.bytes)
            .marshal()
        let expected =
            hex(
                """
                8002 00000041 00000182 0000000b
                00000009 40000009 0000 00 0000
                00000001 000b
                """) + [UInt8](repeating: 0xAB, count: 32)
        XCTAssertEqual(bytes, expected)
    }

    func testPolicySessionCarriesANonceAndNoHMAC() {
        // Policy sessions are created by the TPM; build one through a fake transport.
        let fake = FakeTransport(responses: [hex("8001 00000030 00000000 03000000 0020") + [UInt8](repeating: 7, count: 32)])
        let client = TPMClient(transport: fake)
        client.nonceSource = { [UInt8](repeating: 0x11, count: $0) }
        let session = try! client.startPolicySession()
        XCTAssertEqual(session.handle, TPMHandle(0x0300_0000))
        XCTAssertEqual(session.nonceTPM, [UInt8](repeating: 7, count: 32))
        // StartAuthSession: tpmKey NULL, bind NULL, nonceCaller, empty salt, POLICY, sym NULL, SHA-256.
        XCTAssertEqual(
            fake.sent[0],
            hex("8001 0000003b 00000176 40000007 40000007 0020") + [UInt8](repeating: 0x11, count: 32)
                + hex("0000 01 0010 000b"))
        let (bytes, nonces) = TPMCommand(.create, handles: [TPMHandle(0x8000_0000)], authorizations: [.policy(session)])
            .marshal(nonce: { [UInt8](repeating: 0x22, count: $0) })
        XCTAssertEqual(nonces, [[UInt8](repeating: 0x22, count: 32)])
        XCTAssertEqual(
            bytes,
            hex("8002 0000003b 00000153 80000000 00000029 03000000 0020") + [UInt8](repeating: 0x22, count: 32) + hex("00 0000"))
    }

    func testEKPolicyIsPolicySecretOfTheEndorsementHierarchy() {
        // Part 3, 23.4: policyDigest' = H(policyDigest || TPM_CC_PolicySecret || authObject's Name),
        // then H(policyDigest' || policyRef).
        let step = Array(SHA256.hash(data: [UInt8](repeating: 0, count: 32) + hex("00000151 4000000b")))
        XCTAssertEqual(KeyTemplates.ekPolicyA, Array(SHA256.hash(data: step)))
    }

    func testEKTemplatesMarshalAsTheProfileSays() {
        // Computed with Python struct.pack from the EK Credential Profile 2.4's template L-1 / L-2.
        let policy = "0020 837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa"
        XCTAssertEqual(
            KeyTemplates.ekRSA2048.wireBytes,
            hex("0001 000b 000300b2 \(policy) 0006 0080 0043 0010 0800 00000000 0100") + [UInt8](repeating: 0, count: 256))
        XCTAssertEqual(
            KeyTemplates.ekECCP256.wireBytes,
            hex("0023 000b 000300b2 \(policy) 0006 0080 0043 0010 0003 0010 0020") + [UInt8](repeating: 0, count: 32)
                + hex("0020") + [UInt8](repeating: 0, count: 32))
        XCTAssertEqual(
            KeyTemplates.akRSA2048.wireBytes, hex("0001 000b 00050072 0000 0010 0014 000b 0800 00000000 0000"))
        XCTAssertEqual(
            KeyTemplates.akECCP256.wireBytes, hex("0023 000b 00050072 0000 0010 0018 000b 0003 0010 0000 0000"))
    }

    func testHMACSessionCommandAndResponseHMAC() throws {
        // An unsalted, unbound session: the HMAC key is the entity's authValue (Part 1, 19.6).
        let nonceTPM = [UInt8](repeating: 0x5A, count: 32)
        let fake = FakeTransport(responses: [hex("8001 00000030 00000000 02000001 0020") + nonceTPM])
        let client = TPMClient(transport: fake)
        client.nonceSource = { [UInt8](repeating: 0x33, count: $0) }
        let session = try client.startHMACSession()
        let auth: [UInt8] = Array("secret".utf8)
        let nonceCaller = [UInt8](repeating: 0x44, count: 32)
        let cmd = TPMCommand(
            .readPublic, handles: [TPMHandle(0x8100_0001)], names: [hex("81000001")],
            authorizations: [.hmac(session, authValue: auth)], parameters: [])
        let (bytes, _) = cmd.marshal(nonce: { _ in nonceCaller })
        let cpHash = Array(SHA256.hash(data: hex("00000173 81000001")))
        let key = SymmetricKey(data: auth)
        let hmacInput: [UInt8] = cpHash + nonceCaller + nonceTPM + [1]
        let expected = Array(HMAC<SHA256>.authenticationCode(for: hmacInput, using: key))
        XCTAssertEqual(Array(bytes.suffix(32)), expected)
        XCTAssertEqual(bytes[bytes.count - 35], 1)

        // The response: rpHash = H(0 || cc || params); HMAC over rpHash || newNonceTPM || nonceCaller || attrs.
        let params: [UInt8] = [0xDE, 0xAD]
        let newNonce = [UInt8](repeating: 0x66, count: 32)
        let rpHash = Array(SHA256.hash(data: hex("00000000 00000173") + params))
        let rInput: [UInt8] = rpHash + newNonce + nonceCaller + [1]
        let rHMAC = Array(HMAC<SHA256>.authenticationCode(for: rInput, using: key))
        var w = TPMWriter()
        w.u16(0x8002)
        w.u32(0)
        w.u32(0)
        w.u32(UInt32(params.count))
        w.bytes(params)
        w.sized(newNonce)
        w.u8(1)
        w.sized(rHMAC)
        w.patchU32(at: 2, UInt32(w.bytes.count))
        fake.responses.append(w.bytes)
        client.nonceSource = { _ in nonceCaller }
        let r = try client.execute(cmd)
        XCTAssertEqual(r.parameters, params)
        XCTAssertEqual(session.nonceTPM, newNonce)

        // A tampered response HMAC is refused.
        var bad = w.bytes
        bad[bad.count - 1] ^= 1
        fake.responses.append(bad)
        XCTAssertThrowsError(try client.execute(cmd)) { XCTAssertEqual($0 as? TPMClientError, .responseHMAC(.readPublic)) }
    }

    func testResponseParsing() {
        XCTAssertThrowsError(try TPMResponse.parse(hex("8001 0000000a 00000184"), command: .startup, hasHandle: false, sessionCount: 0)) {
            XCTAssertEqual($0 as? TPMClientError, .tpm(TPMRC(0x184), .startup))
        }
        XCTAssertThrowsError(try TPMResponse.parse(hex("8001 0000000b 00000000"), command: .startup, hasHandle: false, sessionCount: 0))
        XCTAssertThrowsError(try TPMResponse.parse(hex("8001 0000000e 00000000"), command: .load, hasHandle: true, sessionCount: 0))
        // A sessions response whose parameterSize runs past the end.
        XCTAssertThrowsError(
            try TPMResponse.parse(hex("8002 00000012 00000000 000000ff 0000"), command: .pcrExtend, hasHandle: false, sessionCount: 1))
        let ok = try? TPMResponse.parse(
            hex("8002 00000013 00000000 00000000 0000 01 0000"), command: .pcrExtend, hasHandle: false, sessionCount: 1)
        XCTAssertEqual(ok?.sessions.count, 1)
    }
}

/// A transport that records commands and answers from a queue.
final class FakeTransport: TPMTransport {
    var responses: [[UInt8]]
    var sent: [[UInt8]] = []
    init(responses: [[UInt8]]) { self.responses = responses }
    func transmit(_ command: [UInt8]) throws(TransportError) -> [UInt8] {
        sent.append(command)
        guard !responses.isEmpty else { throw .closed }
        return responses.removeFirst()
    }
}
