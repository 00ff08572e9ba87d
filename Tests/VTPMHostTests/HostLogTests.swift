import Foundation
import XCTest

@testable import VTPMHost

/// The host's log through swift-log: one line per event, the instance first, `key=value`
/// metadata after the message, swtpm's numeric levels and swift-log's names.
final class HostLogTests: XCTestCase {
    /// Everything logged through a log made on a pipe's write end, once the log is gone.
    private func captured(level: Int, _ body: (HostLog) -> Void) -> String {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        do {
            let log = HostLog(fd: fds[1], level: level, prefix: "vtpm: ", ownsFD: true)
            body(log)
        }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += chunk[0..<n]
        }
        close(fds[0])
        return String(decoding: out, as: UTF8.self)
    }

    func testLinesCarryInstanceAndEvent() {
        let text = captured(level: 2) { log in
            let vm = log.with("instance", "vm1")
            vm.info("idle TPM evicted from memory", event: "evict")
            vm.debug("not at level 2")
            log.error("cannot listen")
            XCTAssertTrue(vm.enabled(.info))
            XCTAssertFalse(vm.enabled(.debug))
        }
        XCTAssertEqual(text, "vtpm: vm1: idle TPM evicted from memory event=evict\nvtpm: cannot listen\n")
        XCTAssertEqual(captured(level: 1) { $0.info("hidden") }, "")
        XCTAssertEqual(captured(level: 3) { $0.debug("command: 8001") }, "vtpm: command: 8001\n")
    }

    func testLevelNames() {
        XCTAssertEqual(HostLog.threshold(parsing: "1"), .notice)
        XCTAssertEqual(HostLog.threshold(parsing: "2"), .info)
        XCTAssertEqual(HostLog.threshold(parsing: "3"), .debug)
        XCTAssertEqual(HostLog.threshold(parsing: "warning"), .warning)
        XCTAssertEqual(HostLog.threshold(parsing: "DEBUG"), .debug)
        XCTAssertNil(HostLog.threshold(parsing: "loud"))
        XCTAssertFalse(HostLog.discard.enabled(.error))
    }
}
