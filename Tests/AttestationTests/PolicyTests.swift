import Crypto
import Foundation
import Measurement
import XCTest

@testable import Attestation

final class PolicyTests: XCTestCase {
    func entry(_ path: String, _ content: String) throws -> IMAEntry {
        try IMAEntry(pcr: 10, algorithm: "sha256", fileDigest: Array(SHA256.hash(data: Array(content.utf8))), path: path)
    }

    func hex(_ content: String) -> String { SHA256.hash(data: Array(content.utf8)).map { String(format: "%02x", $0) }.joined() }

    func testOurFormatAndJudgement() throws {
        let text = """
            {"vtpm-policy": 1, "mode": "enforce",
             "allow": {"/usr/bin/ls": ["sha256:\(hex("ls"))", "SHA256:\(hex("ls2").uppercased())"]},
             "allow-anywhere": ["sha256:\(hex("busybox"))"],
             "deny": ["sha256:\(hex("evil"))"],
             "exclude": ["/tmp/", "/var/log/.*\\\\.log$"]}
            """
        let p = try RuntimePolicy.parse(Array(text.utf8))
        XCTAssertEqual(p.allow["/usr/bin/ls"], ["sha256:\(hex("ls"))", "sha256:\(hex("ls2"))"])
        let ev = try PolicyEvaluator(p)
        XCTAssertNil(ev.judge(try entry("/usr/bin/ls", "ls"), index: 0))
        XCTAssertNil(ev.judge(try entry("/usr/bin/ls", "ls2"), index: 0))
        XCTAssertEqual(ev.judge(try entry("/usr/bin/ls", "other"), index: 3)?.reason, .digestNotAllowed)
        XCTAssertNil(ev.judge(try entry("/bin/sh", "busybox"), index: 0))
        XCTAssertEqual(ev.judge(try entry("/bin/unknown", "x"), index: 4)?.reason, .unknownFile)
        XCTAssertEqual(ev.judge(try entry("/bin/unknown", "x"), index: 4)?.path, "/bin/unknown")
        XCTAssertEqual(ev.judge(try entry("/usr/bin/ls", "evil"), index: 0)?.reason, .denied)
        XCTAssertNil(ev.judge(try entry("/tmp/x", "x"), index: 0))
        XCTAssertEqual(ev.judge(try entry("/home/tmp/x", "x"), index: 0)?.reason, .unknownFile)  // anchored at the start
        XCTAssertNil(ev.judge(try entry("/var/log/a.log", "x"), index: 0))
        XCTAssertEqual(ev.judge(try IMAEntry.violation(pcr: 10, path: "/bin/v"), index: 0)?.reason, .violation)
        XCTAssertNil(ev.judge(try IMAEntry.bootAggregate(pcr: 10, bank: .sha256, aggregate: [UInt8](repeating: 1, count: 32)), index: 0))
        // Round trip through our serialization.
        XCTAssertEqual(try RuntimePolicy.parse(p.serialized()), p)
    }

    func testKeylimeFormat() throws {
        let text = """
            {"meta": {"version": 1, "generator": 1}, "release": 0,
             "digests": {"/usr/bin/ls": ["\(hex("ls"))"], "/usr/bin/old": ["\(String(repeating: "ab", count: 20))"]},
             "excludes": ["/root/.*"], "keyrings": {}, "ima": {"ignored_keyrings": [], "log_hash_alg": "sha1", "dm_policy": null},
             "ima-buf": {}, "verification-keys": ""}
            """
        let p = try RuntimePolicy.parse(Array(text.utf8))
        XCTAssertEqual(p.allow["/usr/bin/ls"], ["sha256:\(hex("ls"))"])
        XCTAssertEqual(p.allow["/usr/bin/old"], ["sha1:\(String(repeating: "ab", count: 20))"])
        XCTAssertEqual(p.exclude, ["/root/.*"])
        let ev = try PolicyEvaluator(p)
        XCTAssertNil(ev.judge(try entry("/root/x", "x"), index: 0))
        XCTAssertNil(ev.judge(try entry("/usr/bin/ls", "ls"), index: 0))
    }

    func testMalformedPolicies() {
        let bad = [
            "[]", "{}", "not json", #"{"vtpm-policy": 2}"#, #"{"vtpm-policy": 1, "extra": 1}"#, #"{"vtpm-policy": 1, "mode": "lax"}"#,
            #"{"vtpm-policy": 1, "allow": {"/x": ["sha256:00"]}}"#, #"{"vtpm-policy": 1, "allow": {"/x": "sha256:00"}}"#,
            #"{"vtpm-policy": 1, "deny": ["\#(String(repeating: "0", count: 64))"]}"#, #"{"vtpm-policy": 1, "exclude": [1]}"#,
            #"{"vtpm-policy": 1, "allow-violations": "yes"}"#, #"{"meta": {"version": 2}, "digests": {}}"#,
            #"{"digests": {"/x": ["abc"]}}"#,
        ]
        for b in bad { XCTAssertThrowsError(try RuntimePolicy.parse(Array(b.utf8)), b) }
        XCTAssertThrowsError(try PolicyEvaluator(RuntimePolicy(exclude: ["(unclosed"])))
    }

    func testFromList() throws {
        let list = [
            try IMAEntry.bootAggregate(pcr: 10, bank: .sha256, aggregate: [UInt8](repeating: 1, count: 32)),
            try entry("/bin/a", "a"), try entry("/bin/a", "a2"), try IMAEntry.violation(pcr: 10, path: "/bin/v"),
        ]
        let p = RuntimePolicy.fromList(list)
        XCTAssertEqual(p.allow, ["/bin/a": ["sha256:\(hex("a"))", "sha256:\(hex("a2"))"]])
        XCTAssertEqual(try PolicyEvaluator(p).judge(list, firstIndex: 0).map(\.reason), [.violation])
    }
}
