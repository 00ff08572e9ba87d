import Crypto
import Foundation
import Measurement
import TPMWire
import XCTest

@testable import Attestation

/// One round's checks with a real quote (Fixtures, swtpm + tpm2-tools). The fixture's PCR 14 holds
/// an extend no measurement list can produce, so a round that gets as far as the replay must
/// find the mismatch; every earlier check is exercised with the genuine quote and forged parts.
final class AppraisalTests: XCTestCase {
    var attest: [UInt8] = []
    var signature: [UInt8] = []
    var akPublic: [UInt8] = []
    var ekPublic: [UInt8] = []
    var nonce: [UInt8] = []
    var pcrs: [PCRBankValues] = []
    var counters = BootCounters(resetCount: 0, restartCount: 0, clock: 0)

    override func setUpWithError() throws {
        let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("rsa-rsassa")
        func read(_ f: String) throws -> [UInt8] { Array(try Data(contentsOf: dir.appendingPathComponent(f))) }
        attest = try read("quote.msg")
        signature = try read("quote.sig")
        akPublic = try read("ak.pub")
        ekPublic = try read("ek.pub")
        let hex = String(decoding: try read("nonce"), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        nonce = bytesFromHex(hex)!
        let sha1 = try read("pcrs.sha1")
        let sha256 = try read("pcrs.sha256")
        pcrs = [
            PCRBankValues(algorithm: 0x0004, values: [0: Array(sha1[0..<20]), 14: Array(sha1[20..<40])]),
            PCRBankValues(algorithm: 0x000B, values: [0: Array(sha256[0..<32]), 14: Array(sha256[32..<64])]),
        ]
        let a = try TPMSAttest(wire: attest)
        counters = BootCounters(resetCount: a.clockInfo.resetCount, restartCount: a.clockInfo.restartCount, clock: a.clockInfo.clock)
    }

    var guest: EnrolledGuest {
        EnrolledGuest(
            name: "g", address: "127.0.0.1:1", akPublic: akPublic, ekPublic: ekPublic, ekCertificate: nil, enrollment: "pinned-ek",
            pcr: 14, banks: [.sha1, .sha256])
    }

    var selection: [UInt8] {
        TPMLPCRSelection([TPMSPCRSelection(hash: .sha1, pcrs: [0, 14]), TPMSPCRSelection(hash: .sha256, pcrs: [0, 14])]).wireBytes
    }

    func entries(_ n: Int) throws -> [IMAEntry] {
        try (0..<n).map { try IMAEntry(pcr: 14, algorithm: "sha256", fileDigest: Array(SHA256.hash(data: [UInt8($0)])), path: "/p\($0)") }
    }

    func evidence(first: UInt64 = 0, entries: [IMAEntry]? = nil, ak: [UInt8]? = nil, reset: UInt32? = nil) throws -> Evidence {
        Evidence(
            attest: attest, signature: signature, pcrs: pcrs, firstEntry: first, entries: try entries ?? self.entries(2),
            akPublic: ak ?? akPublic, ekPublic: ekPublic, ekCertificate: nil, resetCount: reset ?? counters.resetCount,
            restartCount: counters.restartCount)
    }

    func round(_ e: Evidence, first: UInt64 = 0, nonce n: [UInt8]? = nil, state: GuestState = GuestState()) -> RoundResult {
        Appraiser.appraise(
            evidence: e, challenge: Challenge(nonce: n ?? nonce, pcrSelection: selection, firstEntry: first), guest: guest, state: state,
            policy: nil)
    }

    func testEachCheckNamed() throws {
        // A genuine quote reaches the replay, which cannot match the fixture's PCR 14.
        let r = round(try evidence())
        XCTAssertEqual(r.verdict, .tampered)
        XCTAssertEqual(r.check, "replay")
        XCTAssertTrue(r.reason.contains("PCR 14"), r.reason)
        XCTAssertEqual(r.state, GuestState())  // nothing advanced
        // Another AK named in the evidence.
        var otherAK = akPublic
        otherAK[otherAK.count - 1] ^= 1
        XCTAssertEqual(round(try evidence(ak: otherAK)).check, QuoteCheck.attestationKey.rawValue)
        // A stale nonce: a replayed answer.
        var stale = nonce
        stale[3] ^= 0x80
        XCTAssertEqual(round(try evidence(), nonce: stale).check, QuoteCheck.nonce.rawValue)
        // Counters the agent reports differ from the signed ones.
        XCTAssertEqual(round(try evidence(reset: counters.resetCount &+ 1)).check, RoundCheck.counters.rawValue)
        // Entries starting elsewhere than asked.
        XCTAssertEqual(round(try evidence(first: 0), first: 1).check, RoundCheck.entries.rawValue)
        // An entry whose stored template hash does not match its data.
        var edited = try entries(2)
        edited[1] = try IMAEntry(
            pcr: 14, templateHash: edited[0].templateHash, templateName: "ima-ng", templateData: edited[1].templateData)
        let r2 = round(try evidence(entries: edited))
        XCTAssertEqual(r2.check, RoundCheck.replay.rawValue)
        XCTAssertTrue(r2.reason.contains("entry 1"), r2.reason)
        // An entry for another PCR.
        let other = [try IMAEntry(pcr: 10, algorithm: "sha256", fileDigest: [UInt8](repeating: 1, count: 32), path: "/x")]
        XCTAssertTrue(round(try evidence(entries: other)).reason.contains("PCR 10"))
    }

    func testCountersAndBoots() throws {
        // A previous quote with a higher resetCount: a rolled-back TPM.
        let later = GuestState(counters: BootCounters(resetCount: counters.resetCount + 1, restartCount: 0, clock: 0))
        XCTAssertEqual(round(try evidence(), state: later).check, QuoteCheck.counters.rawValue)
        // A previous boot (lower resetCount) and a list continuing at entry 2: verify from 0 again.
        var replay = IMAReplayState(banks: [.sha1, .sha256])
        try replay.apply(try entries(2))
        let earlier = GuestState(counters: BootCounters(resetCount: 0, restartCount: 0, clock: 0), replay: replay)
        XCTAssertGreaterThan(counters.resetCount, 0)  // swtpm after Startup(CLEAR): 1
        let r = round(try evidence(first: 2, entries: []), first: 2, state: earlier)
        XCTAssertTrue(r.restartFromZero)
        XCTAssertEqual(r.bootChange, .reset)
        // First contact asking from the middle: verify from 0.
        XCTAssertTrue(round(try evidence(first: 2, entries: []), first: 2).restartFromZero)
    }

    func testChallengeForGuest() {
        var s = GuestState()
        var c = Appraiser.challenge(for: guest, state: s, nonce: [UInt8](repeating: 1, count: 32))
        XCTAssertEqual(c.firstEntry, 0)
        XCTAssertEqual(
            try TPMLPCRSelection(wire: c.pcrSelection),
            // From entry 0: also PCRs 0-9, which boot_aggregate is the hash of.
            TPMLPCRSelection([
                TPMSPCRSelection(hash: .sha1, pcrs: Array(0...9) + [14]), TPMSPCRSelection(hash: .sha256, pcrs: Array(0...9) + [14]),
            ]))
        var replay = IMAReplayState(banks: [.sha256])
        try? replay.apply(try! entries(3))
        s.replay = replay
        c = Appraiser.challenge(for: guest, state: s, nonce: [UInt8](repeating: 1, count: 32))
        XCTAssertEqual(c.firstEntry, 3)
        XCTAssertNotEqual(Appraiser.freshNonce(), Appraiser.freshNonce())
    }

    /// boot_aggregate against the quoted PCRs 0-9: the expected values computed here with
    /// swift-crypto from IMA's definition (SHA-256 over PCRs 0-9 of the bank, in order).
    func testBootAggregateAgainstQuotedPCRs() throws {
        let a = try TPMSAttest(wire: attest)
        func quote(_ values: [UInt8: [UInt8]]) -> VerifiedQuote {
            VerifiedQuote(attest: a, pcrs: [0x000B: values], counters: counters, change: .first)
        }
        let g = EnrolledGuest(
            name: "g", address: "", akPublic: akPublic, ekPublic: ekPublic, ekCertificate: nil, enrollment: "pinned-ek", pcr: 14,
            banks: [.sha256])
        var values = [UInt8: [UInt8]]()
        for i in 0...9 { values[UInt8(i)] = [UInt8](repeating: 0, count: 32) }
        let zeros = Array(SHA256.hash(data: [UInt8](repeating: 0, count: 320)))
        let list = [try IMAEntry.bootAggregate(pcr: 14, bank: .sha256, aggregate: zeros)] + (try entries(1))
        XCTAssertNil(Appraiser.bootAggregateMismatch(list, quote: quote(values), guest: g))
        // PCR 0 extended by firmware behind the list's back.
        values[0] = Array(SHA256.hash(data: [UInt8](repeating: 0, count: 32) + [UInt8](repeating: 7, count: 32)))
        let expected = Array(SHA256.hash(data: values[0]! + [UInt8](repeating: 0, count: 288)))
        let m = Appraiser.bootAggregateMismatch(list, quote: quote(values), guest: g)
        XCTAssertTrue(m?.contains(hexString(expected)) ?? false, m ?? "nil")
        let right = [try IMAEntry.bootAggregate(pcr: 14, bank: .sha256, aggregate: expected)]
        XCTAssertNil(Appraiser.bootAggregateMismatch(right, quote: quote(values), guest: g))
        // PCR 9 not quoted; a list not starting with boot_aggregate; an aggregate of a bank not quoted; no list.
        var short = values
        short[9] = nil
        XCTAssertEqual(Appraiser.bootAggregateMismatch(right, quote: quote(short), guest: g), "PCR 9 of the sha256 bank was not quoted")
        XCTAssertEqual(
            Appraiser.bootAggregateMismatch(try entries(1), quote: quote(values), guest: g), "entry 0 is /p0, not boot_aggregate")
        let sha1 = [try IMAEntry.bootAggregate(pcr: 14, bank: .sha1, aggregate: [UInt8](repeating: 0, count: 20))]
        XCTAssertTrue(Appraiser.bootAggregateMismatch(sha1, quote: quote(values), guest: g)?.contains("sha1 digest") ?? false)
        XCTAssertNotNil(Appraiser.bootAggregateMismatch([], quote: quote(values), guest: g))
    }
}
