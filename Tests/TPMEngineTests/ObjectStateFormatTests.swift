import Crypto
import Foundation
import TPMCrypto
import TPMWire
import XCTest

@testable import TPMEngine

/// Key objects in the instance state (OBJECT kind 3, docs/state-format.md), frozen by fixtures:
/// Fixtures/v2-keys.*.bin were exported with an RSA storage primary, an ECDSA key under it and
/// sealed data loaded; they must keep loading, re-export to the same bytes, and the objects keep
/// working.
final class ObjectStateFormatTests: XCTestCase {
    static let fixtureDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let secret = Array("frozen in a fixture".utf8)

    /// VTPM_WRITE_STATE_FIXTURES=1 swift test --filter ObjectStateFormatTests writes the fixtures
    /// (only for new files: committed fixtures are frozen).
    func testWriteFixturesWhenAsked() throws {
        guard ProcessInfo.processInfo.environment["VTPM_WRITE_STATE_FIXTURES"] == "1" else { return }
        let tpm = startedTPM(seed: 77)
        let srk = try makePrimary(tpm, .owner, Templates.rsa(bits: 1024), auth: [1])
        let signer = Templates.ecc(attributes: Templates.signingAttributes, scheme: .ecdsa(hashAlg: .sha256))
        let created = try parseCreate(tpm.execute(command: createCommand(parent: srk.handle, signer, parentAuth: [1], auth: [2])))
        tpm.execute(
            command: loadCommand(parent: srk.handle, outPrivate: created.outPrivate, publicArea: created.publicArea, parentAuth: [1])
        )
        .check()
        let sealed = try parseCreate(
            tpm.execute(
                command: createCommand(
                    parent: srk.handle, Templates.keyedHash(attributes: Templates.sealAttributes.union(.stClear)), parentAuth: [1],
                    data: Self.secret)))
        tpm.execute(command: loadCommand(parent: srk.handle, outPrivate: sealed.outPrivate, publicArea: sealed.publicArea, parentAuth: [1]))
            .check()
        let dir = Self.fixtureDirectory
        try Data(tpm.exportPermanentState()).write(to: dir.appendingPathComponent("v2-keys.permanent.bin"))
        try Data(tpm.exportVolatileState()).write(to: dir.appendingPathComponent("v2-keys.volatile.bin"))
    }

    func testKeyFixtureLoadsAndWorks() throws {
        let permanent = Array(try Data(contentsOf: Self.fixtureDirectory.appendingPathComponent("v2-keys.permanent.bin")))
        let volatile = Array(try Data(contentsOf: Self.fixtureDirectory.appendingPathComponent("v2-keys.volatile.bin")))
        let tpm = try TPM(environment: testEnvironment(seed: 5), permanentState: permanent, volatileState: volatile)
        let upgraded3 = StateUpgrade.permanentV3(fromV2: permanent)
        let saved = tpm.persistent.savedState != nil
        let upgraded4 = StateUpgrade.permanentV4(fromV3: upgraded3, savedState: saved)
        let upgraded = StateUpgrade.permanentV5(fromV4: upgraded4, savedState: saved)
        XCTAssertEqual(tpm.exportPermanentState(), upgraded, "canonical re-export, as version 5")
        let volatile4 = StateUpgrade.volatileV4(
            fromV3: StateUpgrade.volatileV3(fromV2: volatile, permanentV3: upgraded3), permanentV4: upgraded4)
        XCTAssertEqual(tpm.exportVolatileState(), StateUpgrade.volatileV5(fromV4: volatile4, permanentV5: upgraded))
        let srk = TPMHandle(0x8000_0000)
        let signer = TPMHandle(0x8000_0001)
        let sealed = TPMHandle(0x8000_0002)
        guard let srkObject = tpm.keyObject(srk), let signerObject = tpm.keyObject(signer), let sealedObject = tpm.keyObject(sealed) else {
            return XCTFail("objects missing")
        }
        XCTAssertTrue(srkObject.flags.contains(.primary))
        XCTAssertTrue(sealedObject.flags.contains(.stClear))
        XCTAssertEqual(sealedObject.savedHandle, .savedTransientClear)
        // Names from the public areas (swift-crypto), Qualified Names from the chain.
        for o in [srkObject, signerObject, sealedObject] {
            XCTAssertEqual(o.name.buffer, independentName(o.publicArea.wireBytes))
        }
        let srkQN = [0, 0x0B] + Array(SHA256.hash(data: [0x40, 0, 0, 1] + srkObject.name.buffer))
        XCTAssertEqual(srkObject.qualifiedName.buffer, srkQN)
        XCTAssertEqual(signerObject.qualifiedName.buffer, [0, 0x0B] + Array(SHA256.hash(data: srkQN + signerObject.name.buffer)))
        // The objects work: unseal, sign (verified by swift-crypto), create under the SRK.
        let u = tpm.execute(command: command(.unseal, tag: .sessions, withPassword(handles: [sealed], params: [])))
        var p = try checkedParameters(u, hasHandle: false)
        XCTAssertEqual(try p.sized(max: 128), Self.secret)
        let digest = Array(SHA256.hash(data: [1]))
        let sig = try parseSignature(tpm.execute(command: signCommand(signer, digest: digest, auth: [2])))
        XCTAssertTrue(try independentlyVerify(sig, publicArea: signerObject.publicArea, message: [1]))
        XCTAssertEqual(responseCode(tpm.execute(command: flushCommand(sealed))), 0)
        XCTAssertEqual(
            responseCode(
                tpm.execute(
                    command: createCommand(
                        parent: srk, Templates.keyedHash(attributes: Templates.sealAttributes), parentAuth: [1], data: [1]))),
            0)
    }
}
