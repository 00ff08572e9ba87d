import Foundation
import Measurement
import TPMWire
import XCTest

@testable import Attestation

/// Quotes made by swtpm through tpm2-tools (Fixtures/make-fixtures.sh): the verifier accepts
/// them as they are and refuses every alteration with the check that names it.
final class QuoteVerificationTests: XCTestCase {
    struct Fixture {
        let ak: TPMPublicKey
        let akName: [UInt8]
        let ek: TPMPublicKey
        let attest: [UInt8]
        let signature: [UInt8]
        let nonce: [UInt8]
        let pcrs: [PCRBankValues]
    }

    static let kinds = ["rsa-rsassa", "rsa-rsapss", "ecc-ecdsa"]
    /// sha1:0,14+sha256:0,14 as the fixtures were quoted.
    static let selection = TPMLPCRSelection([
        TPMSPCRSelection(hash: .sha1, pcrs: [0, 14]), TPMSPCRSelection(hash: .sha256, pcrs: [0, 14]),
    ])

    func fixture(_ kind: String) throws -> Fixture {
        let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(kind)
        func read(_ f: String) throws -> [UInt8] { Array(try Data(contentsOf: dir.appendingPathComponent(f))) }
        let sha1 = try read("pcrs.sha1")
        let sha256 = try read("pcrs.sha256")
        let nonceHex = String(decoding: try read("nonce"), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Fixture(
            ak: try TPMPublicKey(tpm2bPublic: try read("ak.pub")), akName: try read("ak.name"),
            ek: try TPMPublicKey(tpm2bPublic: try read("ek.pub")), attest: try read("quote.msg"), signature: try read("quote.sig"),
            nonce: bytesFromHex(nonceHex)!,
            pcrs: [
                PCRBankValues(algorithm: 0x0004, values: [0: Array(sha1[0..<20]), 14: Array(sha1[20..<40])]),
                PCRBankValues(algorithm: 0x000B, values: [0: Array(sha256[0..<32]), 14: Array(sha256[32..<64])]),
            ])
    }

    func verify(
        _ f: Fixture, attest: [UInt8]? = nil, signature: [UInt8]? = nil, pcrs: [PCRBankValues]? = nil, ak: TPMPublicKey? = nil,
        nonce: [UInt8]? = nil, selection: TPMLPCRSelection = selection, previous: BootCounters? = nil
    ) throws -> VerifiedQuote {
        try QuoteVerifier.verify(
            attest: attest ?? f.attest, signature: signature ?? f.signature, pcrs: pcrs ?? f.pcrs, ak: ak ?? f.ak, nonce: nonce ?? f.nonce,
            expectedSelection: selection, previous: previous)
    }

    func assertFails(
        _ check: QuoteCheck, _ body: @autoclosure () throws -> VerifiedQuote, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try body(), file: file, line: line) {
            XCTAssertEqual(($0 as? QuoteFailure)?.check, check, "\($0)", file: file, line: line)
        }
    }

    func testKeysAndNames() throws {
        for k in Self.kinds {
            let f = try fixture(k)
            XCTAssertEqual(f.ak.name, f.akName, k)
            XCTAssertTrue(f.ak.isAttestationKey, k)
            XCTAssertFalse(f.ak.isEndorsementKey, k)
            XCTAssertTrue(f.ek.isEndorsementKey, k)
            XCTAssertFalse(f.ek.isAttestationKey, k)
        }
    }

    func testGenuineQuotesVerify() throws {
        for k in Self.kinds {
            let q = try verify(try fixture(k))
            XCTAssertEqual(q.change, .first, k)
            // PCR 14 holds one extend of H("a") from zero in each bank (make-fixtures.sh).
            let a256 = IMAHashAlgorithm.sha256.digest(Array("a".utf8))
            XCTAssertEqual(q.pcrs[0x000B]?[14], IMAHashAlgorithm.sha256.extend([UInt8](repeating: 0, count: 32), with: a256), k)
        }
    }

    func testForgeries() throws {
        for k in Self.kinds {
            let f = try fixture(k)
            // Another nonce: a replayed answer to an older challenge.
            var nonce = f.nonce
            nonce[0] ^= 1
            assertFails(.nonce, try verify(f, nonce: nonce))
            // Any edited byte after the type (extraData, clock, PCR digest): the signature breaks.
            for i in stride(from: 6, to: f.attest.count, by: 7) {
                var a = f.attest
                a[i] ^= 0x40
                XCTAssertThrowsError(try verify(f, attest: a), "\(k) byte \(i)") {
                    let c = ($0 as? QuoteFailure)?.check
                    XCTAssertTrue(c == .signature || c == .attestStructure, "\(k) byte \(i): \($0)")
                }
            }
            var magic = f.attest
            magic[0] = 0xFE
            assertFails(.magic, try verify(f, attest: magic))
            var type = f.attest
            type[5] = 0x17  // TPM_ST_ATTEST_CERTIFY
            assertFails(.attestType, try verify(f, attest: type))
            assertFails(.attestStructure, try verify(f, attest: Array(f.attest.prefix(5))))
            // PCR values other than the quoted ones.
            var pcrs = f.pcrs
            pcrs[1].values[14]![0] ^= 1
            assertFails(.pcrDigest, try verify(f, pcrs: pcrs))
            // A PCR missing, or a selection other than asked.
            var missing = f.pcrs
            missing[0].values[0] = nil
            assertFails(.pcrSelection, try verify(f, pcrs: missing))
            assertFails(.pcrSelection, try verify(f, selection: TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: [0, 14])])))
            // A truncated or garbage signature.
            assertFails(.signature, try verify(f, signature: Array(f.signature.dropLast())))
            assertFails(.signature, try verify(f, signature: [0, 0x14, 0, 0x0B]))
        }
    }

    /// A quote verified with another guest's AK (quote from another TPM, or AKs swapped).
    func testOtherAKRefused() throws {
        let rsa = try fixture("rsa-rsassa")
        let pss = try fixture("rsa-rsapss")
        let ecc = try fixture("ecc-ecdsa")
        assertFails(.signature, try verify(rsa, ak: pss.ak))
        assertFails(.signature, try verify(rsa, ak: ecc.ak))
        assertFails(.signature, try verify(ecc, ak: rsa.ak))
    }

    func testCounters() throws {
        let f = try fixture("rsa-rsassa")
        let q = try verify(f)
        let c = q.counters
        XCTAssertEqual(
            try verify(f, previous: BootCounters(resetCount: c.resetCount, restartCount: c.restartCount, clock: c.clock)).change, .none)
        XCTAssertEqual(
            try verify(f, previous: BootCounters(resetCount: c.resetCount, restartCount: c.restartCount, clock: 0)).change, .none)
        assertFails(
            .counters, try verify(f, previous: BootCounters(resetCount: c.resetCount, restartCount: c.restartCount, clock: c.clock + 1)))
        assertFails(.counters, try verify(f, previous: BootCounters(resetCount: c.resetCount + 1, restartCount: 0, clock: 0)))
        assertFails(.counters, try verify(f, previous: BootCounters(resetCount: c.resetCount, restartCount: c.restartCount + 1, clock: 0)))
        XCTAssertEqual(
            try QuoteVerifier.compare(
                BootCounters(resetCount: 2, restartCount: 0, clock: 5), BootCounters(resetCount: 1, restartCount: 9, clock: 99)), .reset)
        XCTAssertEqual(
            try QuoteVerifier.compare(
                BootCounters(resetCount: 1, restartCount: 3, clock: 5), BootCounters(resetCount: 1, restartCount: 2, clock: 99)), .restart)
    }

    func testMalformedPublicAreas() throws {
        let f = try fixture("rsa-rsassa")
        let bytes = f.ak.tpm2bPublic
        XCTAssertThrowsError(try TPMPublicKey(tpm2bPublic: Array(bytes.dropLast())))
        XCTAssertThrowsError(try TPMPublicKey(tpm2bPublic: bytes + [0]))
        XCTAssertThrowsError(try TPMPublicKey(tpm2bPublic: []))
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            var b = bytes
            b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            _ = try? TPMPublicKey(tpm2bPublic: b)
        }
    }
}
