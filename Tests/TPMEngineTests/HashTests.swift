import Crypto
import TPMWire
import XCTest

@testable import TPMEngine

final class HashTests: XCTestCase {
    func hashCommand(_ data: [UInt8], _ alg: TPMAlgID, _ hierarchy: TPMHandle, trailing: [UInt8] = []) -> [UInt8] {
        var p = TPMWriter()
        p.sized(data)
        p.u16(alg.rawValue)
        p.u32(hierarchy.rawValue)
        return command(.hash, p.bytes + trailing)
    }

    func testDigestsMatchSwiftCrypto() throws {
        let tpm = startedTPM()
        let inputs: [[UInt8]] = [[], Array("abc".utf8), (0..<1024).map { UInt8(truncatingIfNeeded: $0 * 7) }]
        for alg in [TPMAlgID.sha1, .sha256, .sha384, .sha512] {
            for data in inputs {
                let r = tpm.execute(command: hashCommand(data, alg, .null))
                XCTAssertEqual(responseCode(r), 0)
                let (digest, ticket) = try digestAndTicket(r)
                XCTAssertEqual(digest, independentDigest(alg, data), "\(alg) \(data.count)")
                XCTAssertEqual(ticket, .null)
            }
        }
    }

    func testTicketIsHMACOfHierarchyProof() throws {
        let tpm = startedTPM()
        let cases: [(TPMHandle, [UInt8])] = [
            (.owner, tpm.persistent.shProof), (.endorsement, tpm.persistent.ehProof), (.platform, tpm.persistent.phProof),
        ]
        for (hierarchy, proof) in cases {
            for data in [[], [0xFF, 0x54, 0x43], Array("abcdef".utf8)] as [[UInt8]] {
                let (digest, ticket) = try digestAndTicket(tpm.execute(command: hashCommand(data, .sha384, hierarchy)))
                XCTAssertEqual(ticket.tag, .hashCheck)
                XCTAssertEqual(ticket.hierarchy, hierarchy)
                XCTAssertEqual(ticket.digest.buffer, independentTicket(proof: proof, digest: digest))
            }
        }
    }

    func testNoTicketForGeneratedValue() throws {
        let tpm = startedTPM()
        let (_, ticket) = try digestAndTicket(tpm.execute(command: hashCommand([0xFF, 0x54, 0x43, 0x47], .sha256, .owner)))
        XCTAssertEqual(ticket, .null)
    }

    /// Part 3 lists no hierarchy-enabled check for TPM2_Hash; libtpms gives the ticket too.
    func testDisabledHierarchyStillGetsTicket() throws {
        let tpm = startedTPM()
        tpm.volatile.startupClear.remove(.shEnable)
        let (digest, ticket) = try digestAndTicket(tpm.execute(command: hashCommand(Array("abc".utf8), .sha256, .owner)))
        XCTAssertEqual(ticket.digest.buffer, independentTicket(proof: tpm.persistent.shProof, digest: digest))
    }

    /// Responses recorded from swtpm 0.7.1 / libtpms 0.9.2 for the same commands. Tickets
    /// are keyed by per-TPM proofs, so only their structure can be compared.
    func testMatchesSwtpm() {
        let tpm = startedTPM()
        XCTAssertEqual(
            tpm.execute(command: hashCommand(Array("abc".utf8), .sha256, .null)),
            hex("800100000034000000000020ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad8024400000070000"))
        XCTAssertEqual(
            tpm.execute(command: hashCommand([0xFF, 0x54, 0x43, 0x47] + Array("xx".utf8), .sha256, .owner)),
            hex("800100000034000000000020aef557a2e170a57d194eb686c7ffbac4fa92d1d5c655bdceb2b995c5059aa5598024400000070000"))
        let r = tpm.execute(command: hashCommand([], .sha1, .endorsement))
        XCTAssertEqual(r.count, 0x68)
        XCTAssertEqual(Array(r.prefix(40)), hex("800100000068000000000014da39a3ee5e6b4b0d3255bfef95601890afd8070980244000000b0040"))

        let codes: [([UInt8], UInt32)] = [
            (hashCommand([1], .null, .owner), 0x2C3),
            (hashCommand([1], TPMAlgID(0x99), .owner), 0x2C3),
            (hashCommand([1], .sha256, .lockout), 0x3C4),
            (hashCommand([1], .sha256, TPMHandle(0x8000_0000)), 0x3C4),
            (hashCommand([UInt8](repeating: 0, count: 1025), .sha256, .owner), 0x1D5),
            (hashCommand([1], .sha256, .owner, trailing: [0]), 0x95),
        ]
        for (cmd, rc) in codes { XCTAssertEqual(responseCode(tpm.execute(command: cmd)), rc) }
        // hierarchy cut short: TPM_RC_INSUFFICIENT + P3.
        var p = TPMWriter()
        p.sized([UInt8]([1]))
        p.u16(TPMAlgID.sha256.rawValue)
        p.u16(0x4000)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.hash, p.bytes))), 0x3DA)
    }
}
