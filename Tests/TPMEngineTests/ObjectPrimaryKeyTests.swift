import Crypto
import TPMCrypto
import TPMWire
import XCTest

@testable import TPMEngine

/// TPM2_CreatePrimary's derivation, frozen (docs/primary-keys.md): known answers computed by an
/// independent implementation (tests/vectors/create_primary.py), and determinism across
/// flushes, restarts and state export/import.
final class ObjectPrimaryKeyTests: XCTestCase {
    func tpmWithKnownSeeds() -> TPM {
        let tpm = startedTPM()
        tpm.persistent.sps = hex(CreatePrimaryVectors.storageSeed)
        tpm.persistent.eps = hex(CreatePrimaryVectors.endorsementSeed)
        tpm.persistent.pps = hex(CreatePrimaryVectors.platformSeed)
        return tpm
    }

    func testKnownAnswers() throws {
        let tpm = tpmWithKnownSeeds()
        let hierarchies: [String: TPMHandle] = ["owner": .owner, "endorsement": .endorsement, "platform": .platform]
        for v in CreatePrimaryVectors.cases {
            var r = TPMReader(hex(v.template))
            let template = try TPMTPublic(from: &r, allowNull: false, support: support)
            let result = try makePrimary(tpm, hierarchies[v.hierarchy]!, template, data: hex(v.data))
            XCTAssertEqual(hex(result.publicBytes), v.publicArea.replacingOccurrences(of: "\n", with: ""), v.name)
            XCTAssertEqual(result.name, independentName(result.publicBytes), v.name)
            XCTAssertEqual(responseCode(tpm.execute(command: flushCommand(result.handle))), 0)
        }
    }

    /// The same template, data and seed give the same object: after a flush, after a TPM Reset,
    /// and in an instance rebuilt from exported state; a different hierarchy, unique field or
    /// inSensitive.data gives a different one.
    func testDeterminism() throws {
        let tpm = startedTPM()
        let template = Templates.ecc(attributes: Templates.signingAttributes, scheme: .ecdsa(hashAlg: .sha256))
        let first = try makePrimary(tpm, .owner, template, data: [1, 2, 3])
        tpm.execute(command: flushCommand(first.handle)).check()
        XCTAssertEqual(try makePrimary(tpm, .owner, template, data: [1, 2, 3]).publicBytes, first.publicBytes)

        // A new instance from the exported state (the NULL seed is volatile, the others not).
        let copy = try TPM(environment: testEnvironment(seed: 9), permanentState: tpm.exportPermanentState(), volatileState: nil)
        copy.powerOn()
        XCTAssertEqual(responseCode(copy.execute(command: command(.startup, [0, 0]))), 0)
        XCTAssertEqual(try makePrimary(copy, .owner, template, data: [1, 2, 3]).publicBytes, first.publicBytes)

        // An RSA key too, across a TPM Reset of the same instance.
        let rsa = Templates.rsa()
        let r1 = try makePrimary(copy, .endorsement, rsa)
        copy.powerOff()
        copy.powerOn()
        XCTAssertEqual(responseCode(copy.execute(command: command(.startup, [0, 0]))), 0)
        XCTAssertEqual(try makePrimary(copy, .endorsement, rsa).publicBytes, r1.publicBytes)

        XCTAssertNotEqual(try makePrimary(copy, .platform, template, data: [1, 2, 3]).publicBytes, first.publicBytes)
        copy.execute(command: flushCommand(TPMHandle(0x8000_0000))).check()
        copy.execute(command: flushCommand(TPMHandle(0x8000_0001))).check()
        XCTAssertNotEqual(try makePrimary(copy, .owner, template, data: [1, 2, 4]).publicBytes, first.publicBytes)
        var other = template
        other.unique = .ecc(TPMSECCPoint(x: TPM2BECCParameter([1]), y: TPM2BECCParameter()))
        let withUnique = try makePrimary(copy, .owner, other, data: [1, 2, 3])
        XCTAssertNotEqual(withUnique.publicBytes, first.publicBytes)
    }

    /// The NULL hierarchy's seed changes at every TPM Reset, so its primaries do too.
    func testNullHierarchyChangesAtReset() throws {
        let tpm = startedTPM()
        let template = Templates.ecc(attributes: Templates.signingAttributes, scheme: .ecdsa(hashAlg: .sha256))
        let a = try makePrimary(tpm, .null, template)
        tpm.execute(command: flushCommand(a.handle)).check()
        XCTAssertEqual(try makePrimary(tpm, .null, template).publicBytes, a.publicBytes)
        tpm.powerOff()
        tpm.powerOn()
        XCTAssertEqual(responseCode(tpm.execute(command: command(.startup, [0, 0]))), 0)
        XCTAssertNotEqual(try makePrimary(tpm, .null, template).publicBytes, a.publicBytes)
    }
}

extension Array where Element == UInt8 {
    /// Asserts that a response succeeded.
    func check(file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(responseCode(self), 0, "response code", file: file, line: line)
    }
}
