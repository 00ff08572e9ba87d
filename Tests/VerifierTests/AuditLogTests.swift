import Attestation
import Crypto
import Foundation
import Synchronization
import XCTest

@testable import vtpm_verifier

final class AuditLogTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "/vtpm-audit-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func lines() throws -> [String] {
        String(decoding: try readFile(dir + "/audit.log", max: 1 << 20), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// Group commit: appends from many threads at once each get a distinct id, and once they
    /// have all returned the file holds every record, chained and signed in id order (checked by
    /// a fresh open, which rebuilds the index from the file, and by verify).
    func testConcurrentAppendsAreAllDurableAndChained() throws {
        let log = try AuditLog(directory: dir)
        let ids = Mutex<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for k in 0..<40 {
                let id = try! log.append(kind: "attest", ["agent": "g\(t)", "n": k])
                ids.withLock { $0.append(id) }
            }
        }
        let all = ids.withLock { $0 }
        XCTAssertEqual(all.count, 320)
        XCTAssertEqual(Set(all), Set(1...320))
        let reopened = try AuditLog(directory: dir)
        XCTAssertEqual(reopened.count, 320)
        let (checked, failure) = try reopened.verify()
        XCTAssertEqual(checked, 320)
        XCTAssertNil(failure)
        XCTAssertEqual(try lines().count, 320)
    }

    func testChainAndSignaturesComputedIndependently() throws {
        let log = try AuditLog(directory: dir)
        XCTAssertEqual(try log.append(kind: "attest", ["agent": "g1", "verdict": "TRUSTED", "reason": "3 entries verified"]), 1)
        XCTAssertEqual(try log.append(kind: "attest", ["agent": "g2", "verdict": "TAMPERED", "reason": "a b  c"]), 2)
        // Recompute the chain here from the file, with swift-crypto, and check the signatures with
        // the published public key.
        let pub = try P256.Signing.PublicKey(pemRepresentation: String(contentsOfFile: dir + "/audit-key.pub.pem", encoding: .utf8))
        var prev = [UInt8](repeating: 0, count: 32)
        for (i, line) in try lines().enumerated() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            let body = parts.dropLast(2).joined(separator: " ")
            let hash = Array(SHA256.hash(data: prev + Array(body.utf8)))
            XCTAssertEqual(String(parts[parts.count - 2]), hash.map { String(format: "%02x", $0) }.joined())
            let sig = try P256.Signing.ECDSASignature(derRepresentation: hexBytes(String(parts.last!))!)
            XCTAssertTrue(pub.isValidSignature(sig, for: Data(hash)))
            let obj = try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [String: Any]
            XCTAssertEqual(obj["id"] as? Int, i + 1)
            prev = hash
        }
        XCTAssertNil(try log.verify().failure)
        XCTAssertEqual(try log.verify().checked, 2)
    }

    func testReopenContinuesTheChain() throws {
        do {
            let log = try AuditLog(directory: dir)
            try log.append(kind: "start", [:])
        }
        let again = try AuditLog(directory: dir)
        XCTAssertEqual(try again.append(kind: "start", [:]), 2)
        XCTAssertNil(try again.verify().failure)
        XCTAssertEqual(try again.record(id: 2)?.body["kind"] as? String, "start")
    }

    func testAlteredDeletedAndReorderedRecordsAreNamed() throws {
        let log = try AuditLog(directory: dir)
        for i in 0..<5 { try log.append(kind: "attest", ["agent": "g\(i)", "verdict": "TRUSTED"]) }
        let original = try lines()
        let key = log.publicKey
        func check(_ ls: [String]) -> Int? { AuditLog.verify(Array((ls.joined(separator: "\n") + "\n").utf8), key: key).failure?.id }
        var altered = original
        altered[2] = altered[2].replacingOccurrences(of: "TRUSTED", with: "UNTRUSTED")
        XCTAssertEqual(check(altered), 3)
        var deleted = original
        deleted.remove(at: 1)
        XCTAssertEqual(check(deleted), 2)
        XCTAssertEqual(check([original[0], original[2], original[1], original[3], original[4]]), 2)
        // A record re-signed with another key: its signature fails.
        let other = P256.Signing.PrivateKey()
        var forged = original
        let parts = forged[4].split(separator: " ", omittingEmptySubsequences: false)
        let hash = hexBytes(String(parts[parts.count - 2]))!
        forged[4] = parts.dropLast().joined(separator: " ") + " " + hexOf(Array(try other.signature(for: Data(hash)).derRepresentation))
        XCTAssertEqual(check(forged), 5)
        XCTAssertNil(check(original))
    }

    func testTornTailIsCutAtOpen() throws {
        do {
            let log = try AuditLog(directory: dir)
            try log.append(kind: "start", [:])
        }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/audit.log"))
        try h.seekToEnd()
        try h.write(contentsOf: Data("{\"id\":2,\"ki".utf8))
        try h.close()
        let log = try AuditLog(directory: dir)
        XCTAssertEqual(try log.append(kind: "start", [:]), 2)
        XCTAssertNil(try log.verify().failure)
    }

    func testHostPort() throws {
        XCTAssertEqual(try splitHostPort("127.0.0.1:80").0, "127.0.0.1")
        XCTAssertEqual(try splitHostPort("[::1]:4000").1, 4000)
        for bad in ["", "host", "host:", "host:0", "host:65536", ":80", "[::1]4000", "host:x"] {
            XCTAssertThrowsError(try splitHostPort(bad), bad)
        }
    }

    func testGuestNames() {
        for good in ["g1", "web-01.example", "A_b"] { XCTAssertTrue(VerifierDaemon.validName(good), good) }
        for bad in ["", ".hidden", "../x", "a/b", "a b", String(repeating: "a", count: 65)] {
            XCTAssertFalse(VerifierDaemon.validName(bad), bad)
        }
    }
}

final class PackagingTests: XCTestCase {
    static let verifierDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Verifier")

    /// The example policies shipped in Verifier/ are valid, in both formats.
    func testExamplePoliciesParse() throws {
        for f in ["example-policy.json", "example-policy.keylime.json"] {
            let data = try Data(contentsOf: Self.verifierDir.appendingPathComponent(f))
            let p = try RuntimePolicy.parse(Array(data))
            XCTAssertNotNil(p.allow["/bin/busybox"], f)
            XCTAssertNoThrow(try PolicyEvaluator(p), f)
        }
    }

    /// The shipped configuration file is accepted by `serve --config` with every default.
    func testDefaultConfigurationParses() throws {
        let serve = try Serve.parse(["--config", Self.verifierDir.appendingPathComponent("vtpm-verifier.conf").path])
        let s = try serve.settings()
        XCTAssertEqual(s.stateDir, "/var/lib/vtpm-verifier")
        XCTAssertEqual(s.interval, 10)
        XCTAssertEqual(s.pcr, 13)
        XCTAssertEqual(s.banks, ["sha1", "sha256"])
        XCTAssertNil(s.policy)
        XCTAssertNil(s.onChange)
        // Options win over the file.
        let over = try Serve.parse(["--config", Self.verifierDir.appendingPathComponent("vtpm-verifier.conf").path, "--pcr", "14"])
        XCTAssertEqual(try over.settings().pcr, 14)
    }
}
