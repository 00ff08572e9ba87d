import Foundation
import TPMCrypto
import XCTest

@testable import Attestation

/// Shape and refusals; that a TPM recovers the secret is tests/integration/test_verifier_tpm.py
/// (tpm2 activatecredential on swtpm).
final class MakeCredentialTests: XCTestCase {
    func key(_ kind: String, _ file: String) throws -> TPMPublicKey {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(kind).appendingPathComponent(file)
        return try TPMPublicKey(tpm2bPublic: Array(try Data(contentsOf: url)))
    }

    func testLayoutWithRSAEK() throws {
        let ek = try key("rsa-rsassa", "ek.pub")
        let ak = try key("rsa-rsassa", "ak.pub")
        var drbg = HMACDRBG(entropy: [UInt8](repeating: 1, count: 48))
        let c = try MakeCredential.make(ek: ek, objectName: ak.name, credential: [UInt8](repeating: 7, count: 32), using: &drbg)
        // TPM2B_ID_OBJECT: size, TPM2B_DIGEST(HMAC-SHA256), encIdentity = CFB(2 + 32 bytes).
        XCTAssertEqual(c.credentialBlob.count, 2 + 2 + 32 + 2 + 32)
        XCTAssertEqual(Array(c.credentialBlob.prefix(4)), [0, 68, 0, 32])
        // TPM2B_ENCRYPTED_SECRET: a 2048-bit OAEP block.
        XCTAssertEqual(Array(c.secret.prefix(2)), [1, 0])
        XCTAssertEqual(c.secret.count, 2 + 256)
        // Deterministic for the same bits; different for others.
        var same = HMACDRBG(entropy: [UInt8](repeating: 1, count: 48))
        XCTAssertEqual(try MakeCredential.make(ek: ek, objectName: ak.name, credential: [UInt8](repeating: 7, count: 32), using: &same), c)
        XCTAssertNotEqual(try MakeCredential.make(ek: ek, objectName: ak.name, credential: [UInt8](repeating: 7, count: 32)), c)
    }

    func testRefusals() throws {
        let ek = try key("rsa-rsassa", "ek.pub")
        let ak = try key("rsa-rsassa", "ak.pub")
        XCTAssertThrowsError(try MakeCredential.make(ek: ak, objectName: ak.name, credential: [1]))
        XCTAssertThrowsError(try MakeCredential.make(ek: ek, objectName: ak.name, credential: []))
        XCTAssertThrowsError(try MakeCredential.make(ek: ek, objectName: ak.name, credential: [UInt8](repeating: 0, count: 33)))
        XCTAssertThrowsError(try MakeCredential.make(ek: ek, objectName: [0], credential: [1]))
    }
}
