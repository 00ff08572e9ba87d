import Attestation
import Foundation
import Measurement
import XCTest

@testable import vtpm_verifier

/// The hand-written encoders must give the bytes Foundation gives: audit bodies are hashed and
/// signed, guest files are read back by JSONDecoder (and by older builds).
final class AuditJSONTests: XCTestCase {
    func foundation(_ body: [String: any Sendable]) throws -> [UInt8] {
        Array(try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes]))
    }

    func testBodiesMatchJSONSerialization() throws {
        var tricky = ""
        for c in 0..<0x20 { tricky.unicodeScalars.append(Unicode.Scalar(UInt8(c))) }
        tricky += "\"\\/\u{7F}é\u{2028}😀 \"lastRound\":"
        let bodies: [[String: any Sendable]] = [
            ["id": 1, "kind": "start", "time": "2026-11-27T20:53:00.123Z", "guests": 100, "records": 0, "policy": "none"],
            [
                "id": 7, "kind": "enroll", "time": "t", "agent": "g-1", "address": "127.0.0.1:46000", "enrollment": "pinned-ek",
                "ak-name": "000b", "ek-name": "000b", "pcr": 10,
            ],
            [
                "id": 8, "kind": "attest", "time": "t", "agent": "g_1", "verdict": "TAMPERED", "reason": tricky, "entries": -3,
                "check": "ima", "previous": "TRUSTED", "findings": ["entry 3: /bin/x (sha256:ab) is not in the policy", tricky, ""],
            ],
            [
                "id": 9, "kind": "policy", "source": "/a/b", "sha256": "ff", "mode": "enforce", "paths": 0, "anywhere": 1, "deny": 2,
                "exclude": 3,
            ],
            ["_": 1, "a": [String](), "B": "x", "b": "y", "b-c": "z", "ba": Int.min, "Z": Int.max],
        ]
        for b in bodies {
            let ours = try XCTUnwrap(AuditJSON.encode(b))
            XCTAssertEqual(String(decoding: ours, as: UTF8.self), String(decoding: try foundation(b), as: UTF8.self))
            XCTAssertEqual(ours, try foundation(b))
            // Again from the cached key order.
            XCTAssertEqual(AuditJSON.encode(b), try foundation(b))
        }
        XCTAssertNil(AuditJSON.encode(["id": 1, "x": 1.5]), "an unsupported value falls back to JSONSerialization")
    }

    func record(check: String?, lastRound: String?, verdict: Verdict?, cert: [UInt8]?) throws -> GuestRecord {
        let guest = EnrolledGuest(
            name: "g1", address: "[::1]:46000", akPublic: Array(0..<90), ekPublic: Array(repeating: 7, count: 300), ekCertificate: cert,
            enrollment: "pinned-ek", pcr: 10, banks: [.sha256, .sha1])
        let findings = try JSONDecoder().decode(
            [PolicyFinding].self,
            from: Data(#"[{"index":3,"path":"/usr/bin/x","digest":"sha256:00ff","reason":"unknown-file"}]"#.utf8))
        let state = GuestState(
            counters: BootCounters(resetCount: 3, restartCount: 1, clock: 123_456_789), replay: IMAReplayState(banks: [.sha256]),
            findings: findings, findingCount: 1)
        return GuestRecord(guest: guest, state: state, verdict: verdict, check: check, reason: "r \"x\"", lastRound: lastRound, rounds: 42)
    }

    func testGuestRecordMatchesJSONEncoder() throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        for check in [nil, "ima", #"a "lastRound": "reason": b"#] {
            for lastRound in [nil, "2026-11-27T20:53:00.123Z"] {
                for verdict in [nil, Verdict.trusted] {
                    for cert in [nil, [UInt8](repeating: 0x30, count: 700)] {
                        let r = try record(check: check, lastRound: lastRound, verdict: verdict, cert: cert)
                        let ours = try GuestRecord.encode(r, guestJSON: Array(enc.encode(r.guest)))
                        XCTAssertEqual(String(decoding: ours, as: UTF8.self), String(decoding: try enc.encode(r), as: UTF8.self))
                        let back = try JSONDecoder().decode(GuestRecord.self, from: Data(ours))
                        XCTAssertEqual(back.guest, r.guest)
                        XCTAssertEqual(back.state, r.state)
                        XCTAssertEqual(back.check, r.check)
                        XCTAssertEqual(back.lastRound, r.lastRound)
                        XCTAssertEqual(back.rounds, 42)
                    }
                }
            }
        }
    }
}
