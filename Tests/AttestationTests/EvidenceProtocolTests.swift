import Crypto
import Measurement
import XCTest

@testable import Attestation

final class EvidenceProtocolTests: XCTestCase {
    func sampleEvidence() throws -> Evidence {
        let entries = try (0..<3).map {
            try IMAEntry(pcr: 14, algorithm: "sha256", fileDigest: Array(SHA256.hash(data: [UInt8($0)])), path: "/bin/p\($0)")
        }
        return Evidence(
            attest: Array(repeating: 0xA1, count: 120), signature: Array(repeating: 0xB2, count: 262),
            pcrs: [
                PCRBankValues(algorithm: 0x0004, values: [14: Array(repeating: 1, count: 20)]),
                PCRBankValues(algorithm: 0x000B, values: [0: Array(repeating: 2, count: 32), 14: Array(repeating: 3, count: 32)]),
            ],
            firstEntry: 7, entries: entries, akPublic: Array(repeating: 0xC3, count: 280), ekPublic: Array(repeating: 0xD4, count: 314),
            ekCertificate: Array(repeating: 0x30, count: 900), resetCount: 2, restartCount: 5)
    }

    func allMessages() throws -> [EvidenceMessage] {
        [
            .challenge(
                Challenge(nonce: Array(repeating: 7, count: 32), pcrSelection: [0, 0, 0, 1, 0, 0x0B, 3, 0, 0x40, 0], firstEntry: 12)),
            .evidence(try sampleEvidence()),
            .enrollRequest,
            .enrollResponse(
                EnrollResponse(
                    akPublic: [1, 2, 3], akName: [0, 0x0B] + Array(repeating: 9, count: 32), ekPublic: [4, 5], ekCertificate: nil)),
            .activateRequest(ActivateRequest(credentialBlob: Array(repeating: 1, count: 70), secret: Array(repeating: 2, count: 258))),
            .activateResponse(certInfo: Array(repeating: 5, count: 32)),
            .error(ProtocolErrorMessage(.entryOutOfRange, "first entry 99 beyond the list (12 entries)")),
        ]
    }

    func testRoundTripThroughFrameDecoder() throws {
        var stream = [UInt8]()
        let messages = try allMessages()
        for m in messages { stream += try m.frame() }
        // Byte by byte: the decoder waits for whole frames.
        var d = EvidenceFrameDecoder(maxPayload: EvidenceProtocol.maxResponsePayload)
        var out = [EvidenceMessage]()
        for b in stream {
            d.append([b])
            while let m = try d.nextMessage() { out.append(m) }
        }
        XCTAssertEqual(out, messages)
        XCTAssertEqual(d.bufferedCount, 0)
    }

    /// The layout docs/evidence-protocol.md gives for a Challenge, byte by byte.
    func testChallengeLayout() throws {
        let c = EvidenceMessage.challenge(Challenge(nonce: Array(repeating: 0xAA, count: 16), pcrSelection: [1, 2, 3], firstEntry: 0x0102))
        let expected: [UInt8] =
            [0, 0, 0, 2 + 1 + 16 + 2 + 3 + 8, 1, 1, 16] + Array(repeating: 0xAA, count: 16) + [0, 3, 1, 2, 3]
            + [0, 0, 0, 0, 0, 0, 1, 2]
        XCTAssertEqual(try c.frame(), expected)
    }

    func testEncoderRefusesOutOfBounds() {
        XCTAssertThrowsError(
            try EvidenceMessage.challenge(Challenge(nonce: Array(repeating: 0, count: 15), pcrSelection: [], firstEntry: 0)).frame())
        XCTAssertThrowsError(
            try EvidenceMessage.challenge(Challenge(nonce: Array(repeating: 0, count: 65), pcrSelection: [], firstEntry: 0)).frame())
        XCTAssertThrowsError(try EvidenceMessage.activateResponse(certInfo: Array(repeating: 0, count: 65)).frame())
        XCTAssertThrowsError(
            try EvidenceMessage.error(ProtocolErrorMessage(code: 1, message: String(repeating: "x", count: 1025))).frame())
        var e = try! sampleEvidence()
        e.pcrs = [PCRBankValues(algorithm: 0x000B, values: [24: Array(repeating: 0, count: 32)])]
        XCTAssertThrowsError(try EvidenceMessage.evidence(e).frame())
        e.pcrs = [PCRBankValues(algorithm: 0x000B, values: [1: Array(repeating: 0, count: 20)])]
        XCTAssertThrowsError(try EvidenceMessage.evidence(e).frame())
        e.pcrs = [PCRBankValues(algorithm: 0x0012, values: [:])]
        XCTAssertThrowsError(try EvidenceMessage.evidence(e).frame())
    }

    func testFrameBounds() throws {
        var d = EvidenceFrameDecoder(maxPayload: 1024)
        d.append([0, 0, 4, 1])
        XCTAssertThrowsError(try d.nextPayload()) { XCTAssertEqual($0 as? EvidenceProtocolError, .frameTooLarge(size: 1025, max: 1024)) }
        var d2 = EvidenceFrameDecoder(maxPayload: 1024)
        d2.append([0, 0, 0, 1, 1])
        XCTAssertThrowsError(try d2.nextPayload()) { XCTAssertEqual($0 as? EvidenceProtocolError, .emptyPayload) }
        var d3 = EvidenceFrameDecoder(maxPayload: 1024)
        d3.append([0xFF, 0xFF, 0xFF, 0xFF])
        XCTAssertThrowsError(try d3.nextPayload())
    }

    func testMalformedPayloads() throws {
        let challenge = try EvidenceMessage.challenge(Challenge(nonce: Array(repeating: 7, count: 32), pcrSelection: [1], firstEntry: 1))
            .payload()
        XCTAssertThrowsError(try EvidenceMessage(payload: [2] + challenge.dropFirst())) {
            XCTAssertEqual($0 as? EvidenceProtocolError, .unsupportedVersion(2))
        }
        XCTAssertThrowsError(try EvidenceMessage(payload: [1, 9] + challenge.dropFirst(2))) {
            XCTAssertEqual($0 as? EvidenceProtocolError, .unknownMessageType(9))
        }
        XCTAssertThrowsError(try EvidenceMessage(payload: challenge + [0])) {
            XCTAssertEqual($0 as? EvidenceProtocolError, .trailingBytes(1))
        }
        var shortNonce = challenge
        shortNonce[2] = 15
        XCTAssertThrowsError(try EvidenceMessage(payload: shortNonce))
        // Every truncation of every message is an error, never a trap.
        for m in try allMessages() {
            let p = try m.payload()
            for n in 0..<p.count where !(m == .enrollRequest && n == 2) {
                XCTAssertThrowsError(try EvidenceMessage(payload: Array(p.prefix(n))), "\(m.type) cut at \(n)")
            }
        }
    }

    func testEvidenceEntryChecks() throws {
        let p = try EvidenceMessage.evidence(try sampleEvidence()).payload()
        // entryCount sits after version, type, attest, signature, pcrs, firstEntry.
        let pcrsLen = 1 + (2 + 1 + 1 + 20) + (2 + 1 + 2 * (1 + 32))
        let countAt = 2 + (2 + 120) + (2 + 262) + pcrsLen + 8
        XCTAssertEqual(Array(p[countAt..<countAt + 4]), [0, 0, 0, 3])
        var more = p
        more[countAt + 3] = 4
        XCTAssertThrowsError(try EvidenceMessage(payload: more))
        var fewer = p
        fewer[countAt + 3] = 2
        XCTAssertThrowsError(try EvidenceMessage(payload: fewer))
        // A PCR index out of order (14 then 0 in the second bank).
        var disorder = p
        let bank2 = 2 + (2 + 120) + (2 + 262) + 1 + (2 + 1 + 1 + 20)
        disorder[bank2 + 3] = 14
        XCTAssertThrowsError(try EvidenceMessage(payload: disorder))
        // A corrupted list record inside the Evidence.
        var badRecord = p
        badRecord[countAt + 8] = 24  // the first record's PCR
        XCTAssertThrowsError(try EvidenceMessage(payload: badRecord)) {
            guard case .badEntries(.badPCR) = $0 as? EvidenceProtocolError else { return XCTFail("\($0)") }
        }
    }

    /// A peer's huge firstEntry is refused, never an overflow (found by the random test below).
    func testFirstEntryBounds() throws {
        var e = try sampleEvidence()
        e.firstEntry = UInt64(Int.max) - 3
        let ok = try EvidenceMessage.evidence(e).payload()
        XCTAssertNoThrow(try EvidenceMessage(payload: ok))
        e.firstEntry = UInt64(Int.max) - 2
        XCTAssertThrowsError(try EvidenceMessage.evidence(e).payload())
        // The same value sent by a peer whose encoder does not check: refused on receipt.
        let firstAt = 2 + (2 + 120) + (2 + 262) + 1 + (2 + 1 + 1 + 20) + (2 + 1 + 2 * (1 + 32))
        for v in [UInt64(Int.max) - 2, UInt64.max] {
            var p = ok
            for i in 0..<8 { p[firstAt + i] = UInt8(v >> (56 - 8 * UInt64(i)) & 0xFF) }
            XCTAssertThrowsError(try EvidenceMessage(payload: p))
        }
        let c = Challenge(nonce: Array(repeating: 1, count: 16), pcrSelection: [], firstEntry: UInt64(Int.max) + 1)
        XCTAssertThrowsError(try EvidenceMessage.challenge(c).payload())
        var cp = try EvidenceMessage.challenge(Challenge(nonce: Array(repeating: 1, count: 16), pcrSelection: [], firstEntry: 0)).payload()
        cp[cp.count - 8] = 0x80
        XCTAssertThrowsError(try EvidenceMessage(payload: cp))
        // The entries of a bad record near the top of the index range are named without overflow.
        var bad = IMABinaryFormat.encode(try sampleEvidence().entries)
        bad[0] = 24
        XCTAssertThrowsError(try IMABinaryFormat.parse(bad, firstIndex: Int.max))
    }

    func testRandomMutationsNeverTrap() throws {
        var rng = SystemRandomNumberGenerator()
        for m in try allMessages() {
            let p = try m.payload()
            for _ in 0..<500 {
                var b = p
                for _ in 0..<2 { b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
                _ = try? EvidenceMessage(payload: b)
            }
        }
    }
}
