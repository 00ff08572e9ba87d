import Foundation
import XCTest

@testable import VTPMHost

#if canImport(Glibc)
    import Glibc
#endif

/// ResponsePolling.read on a socket pair: what it returns when bytes are waiting, when none
/// come, when the peer is gone, and when polling is off or every slot is taken.
final class ResponsePollingTests: XCTestCase {
    private var fds: [Int32] = [-1, -1]
    private var saved = 0

    override func setUp() {
        saved = ResponsePolling.windowMicroseconds
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
    }

    override func tearDown() {
        ResponsePolling.windowMicroseconds = saved
        for fd in fds where fd >= 0 { close(fd) }
    }

    private func send(_ bytes: [UInt8]) {
        XCTAssertEqual(bytes.withUnsafeBytes { Glibc.send(fds[1], $0.baseAddress, $0.count, 0) }, bytes.count)
    }

    private func poll(since: UInt64 = Monitor.now()) -> (Int?, [UInt8]) {
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { ResponsePolling.read(fds[0], into: $0, since: since) }
        return (n, Array(buffer.prefix(max(0, n ?? 0))))
    }

    func testWaitingBytesAreRead() throws {
        try XCTSkipIf(ResponsePolling.maxPollers == 0, "one processor: polling is off")
        ResponsePolling.windowMicroseconds = 200
        send([0x80, 0x01, 0, 0, 0, 10])
        let (n, bytes) = poll()
        XCTAssertEqual(n, 6)
        XCTAssertEqual(bytes, [0x80, 0x01, 0, 0, 0, 10])
    }

    func testBytesSentWhilePollingAreRead() throws {
        try XCTSkipIf(ResponsePolling.maxPollers == 0, "one processor: polling is off")
        // A window far longer than the sender needs: the bytes arrive while it polls.
        ResponsePolling.windowMicroseconds = ResponsePolling.maxWindowMicroseconds
        let sender = fds[1]
        let thread = Thread {
            var b: UInt8 = 0x42
            _ = Glibc.send(sender, &b, 1, 0)
        }
        let start = Monitor.now()
        thread.start()
        var n: Int? = nil
        var waited: UInt64 = 0
        // The thread may start after the window: poll again until its byte came (a nil answer
        // is the window ending, not an error).
        while n == nil && waited < 5_000_000_000 {
            n = poll().0
            waited = Monitor.now() - start
        }
        XCTAssertEqual(n, 1)
    }

    func testNothingWithinTheWindowIsNil() throws {
        try XCTSkipIf(ResponsePolling.maxPollers == 0, "one processor: polling is off")
        ResponsePolling.windowMicroseconds = 100
        let start = Monitor.now()
        XCTAssertNil(poll(since: start).0)
        XCTAssertGreaterThanOrEqual(Monitor.now() - start, 100_000, "polled for the whole window")
        // A window that ended before the call: one look, then nil.
        XCTAssertNil(poll(since: start - 1_000_000).0)
        // The bytes are still there for the blocking read that follows.
        send([1, 2, 3])
        XCTAssertEqual(poll().0, 3)
    }

    func testClosedPeerIsZero() throws {
        try XCTSkipIf(ResponsePolling.maxPollers == 0, "one processor: polling is off")
        ResponsePolling.windowMicroseconds = 200
        close(fds[1])
        fds[1] = -1
        XCTAssertEqual(poll().0, 0)
    }

    func testOffWhenTheWindowIsZero() {
        ResponsePolling.windowMicroseconds = 0
        send([1])
        XCTAssertNil(poll().0)
    }

    func testNoFreeSlotMeansNoPolling() throws {
        try XCTSkipIf(ResponsePolling.maxPollers == 0, "one processor: polling is off")
        ResponsePolling.windowMicroseconds = 200
        var taken = 0
        while ResponsePolling.acquire() { taken += 1 }
        XCTAssertEqual(taken, ResponsePolling.maxPollers)
        send([1])
        XCTAssertNil(poll().0, "every slot taken: the caller sleeps in read(2)")
        for _ in 0..<taken { ResponsePolling.release() }
        XCTAssertEqual(poll().0, 1)
    }

    func testWindowIsClampedAndGapsCompared() {
        ResponsePolling.windowMicroseconds = 5000
        XCTAssertEqual(ResponsePolling.windowMicroseconds, ResponsePolling.maxWindowMicroseconds)
        ResponsePolling.windowMicroseconds = -3
        XCTAssertEqual(ResponsePolling.windowMicroseconds, 0)
        ResponsePolling.windowMicroseconds = 50
        XCTAssertTrue(ResponsePolling.worthPolling(gapNanoseconds: 50_000))
        XCTAssertFalse(ResponsePolling.worthPolling(gapNanoseconds: 50_001))
    }
}
