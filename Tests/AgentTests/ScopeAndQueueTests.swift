import AgentCore
import Crypto
import Foundation
import XCTest

final class ScopeAndQueueTests: XCTestCase {
    func testScopeParsing() throws {
        XCTAssertEqual(try Scope(parsing: "all"), .all)
        XCTAssertEqual(try Scope(parsing: "cgroup:/guests/a"), .cgroup("/guests/a"))
        XCTAssertEqual(try Scope(parsing: "pidns:pid:[4026531836]"), .pidNamespace("pid:[4026531836]"))
        XCTAssertEqual(try Scope(parsing: "pidns:\(getpid())"), .pidNamespace(Scope.pidNamespace(of: getpid())!))
        XCTAssertThrowsError(try Scope(parsing: "cgroup:guests"))
        XCTAssertThrowsError(try Scope(parsing: "pidns:x"))
        XCTAssertThrowsError(try Scope(parsing: "container:1"))
    }

    func testCgroupMatching() {
        let text = "12:memory:/guests/a/app\n0::/guests/a\n"
        XCTAssertTrue(Scope.cgroupFile(text, contains: "/guests/a"))
        XCTAssertTrue(Scope.cgroupFile(text, contains: "/guests/a/"))
        XCTAssertFalse(Scope.cgroupFile(text, contains: "/guests/ab"))
        XCTAssertFalse(Scope.cgroupFile("0::/other\n", contains: "/guests"))
        XCTAssertTrue(Scope.cgroupFile("0::/other\n", contains: "/"))
        XCTAssertTrue(Scope.cgroup("/").contains(pid: getpid()) ?? false)
        XCTAssertNil(Scope.cgroup("/x").contains(pid: Int32.max))
    }

    func testBoundedQueueOrderAndBackPressure() {
        let q = BoundedQueue<Int>(capacity: 4)
        let producer = Thread {
            for i in 0..<100 { q.put(i) }
            q.close()
        }
        producer.start()
        var got: [Int] = []
        while let v = q.take(timeout: 5) { got.append(v) }
        XCTAssertEqual(got, Array(0..<100))
        XCTAssertLessThanOrEqual(q.stats.highWater, 4)
        XCTAssertNil(q.take(timeout: 0.01))
        XCTAssertFalse(q.put(1))
    }

    func testMeasuredOnceCacheAndFileDigest() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("agent-cache-\(getpid())")
        try Data("version one".utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let cache = MeasuredOnceCache()
        let f1 = try XCTUnwrap(OpenedFile(openPath: url.path, entryPath: Array(url.path.utf8), via: "path"))
        XCTAssertEqual(try f1.sha256(), Array(SHA256.hash(data: Array("version one".utf8))))
        XCTAssertTrue(cache.insert(f1.version))
        let again = try XCTUnwrap(OpenedFile(openPath: url.path, entryPath: [], via: "path"))
        XCTAssertFalse(cache.insert(again.version))
        // Modified in place: new ctime/size, a new version.
        usleep(10_000)
        let h = try FileHandle(forWritingTo: url)
        try h.seekToEnd()
        h.write(Data(" and two".utf8))
        try h.close()
        let f2 = try XCTUnwrap(OpenedFile(openPath: url.path, entryPath: [], via: "path"))
        XCTAssertTrue(cache.insert(f2.version))
        XCTAssertEqual(try f2.sha256(), Array(SHA256.hash(data: Array("version one and two".utf8))))
        XCTAssertEqual(cache.hitCount, 1)
        // Directories and missing files are not measured.
        XCTAssertNil(OpenedFile(openPath: "/tmp", entryPath: [], via: "path"))
        XCTAssertNil(OpenedFile(openPath: "/nonexistent/x", entryPath: [], via: "path"))
    }
}
