import Foundation
import NIOCore
import NIOPosix
import XCTest

@testable import VTPMHost

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A blocking TCP client with a receive timeout: what a TCTI does, in a few lines.
final class TestClient {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    /// Exactly `n` bytes, or what arrived before EOF/timeout.
    func receive(_ n: Int) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: max(n, 1))
        while out.count < n {
            let got = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, n - out.count, 0) }
            if got <= 0 { break }
            out += buf[0..<got]
        }
        return out
    }

    /// A TPM response: header, then the rest by its size.
    func response() -> [UInt8] {
        let header = receive(10)
        guard header.count == 10 else { return header }
        let size = Int(header[2..<6].reduce(0) { $0 << 8 | UInt32($1) })
        return header + receive(max(0, size - 10))
    }

    /// True when the server closed the connection (EOF before the timeout).
    func isClosed() -> Bool {
        var b: UInt8 = 0
        return recv(fd, &b, 1, 0) == 0
    }
}

final class EndToEndTests: XCTestCase {
    private func server(_ instance: Instance, _ protocols: [ServerProtocol]) throws -> (HostServer, [Int]) {
        let s = HostServer(instance: instance, log: .discard)
        var ports: [Int] = []
        for p in protocols {
            let address = try s.listen(.tcp(host: "127.0.0.1", port: 0), speaking: p)
            ports.append(address?.port ?? 0)
        }
        return (s, ports)
    }

    /// swtpm protocol: a connection per command (the swtpm TCTI), several commands on one
    /// connection (abrmd), and the control channel stopping and restarting the TPM.
    func testSwtpmDataAndControl() throws {
        let instance = try makeInstance(self)
        try instance.sync { try $0.powerOn(resumeVolatile: true) }
        let (s, ports) = try server(instance, [.swtpmData(disconnect: false), .swtpmControl(.init())])
        defer { s.shutdown() }

        for command in [Commands.startupClear, Commands.extend16] {
            let c = try TestClient(port: ports[0])
            c.send(command)
            XCTAssertEqual(responseCode(c.response()), 0)
        }
        let c = try TestClient(port: ports[0])
        // Two commands in one segment, then one split across segments.
        c.send(Commands.getRandom8 + Commands.read16)
        let random = c.response()
        XCTAssertEqual(responseCode(random), 0)
        XCTAssertEqual(random.count, 20)
        let read = c.response()
        XCTAssertEqual(responseCode(read), 0)
        XCTAssertEqual(Array(read.suffix(32)), Commands.extended16)
        c.send(Array(Commands.getRandom8.prefix(3)))
        usleep(50_000)
        c.send(Array(Commands.getRandom8.dropFirst(3)))
        XCTAssertEqual(responseCode(c.response()), 0)

        let ctrl = try TestClient(port: ports[1])
        ctrl.send(be32(1))
        XCTAssertEqual(ctrl.receive(8), bytes(hex: "000000000001efef"))
        ctrl.send(be32(14))
        XCTAssertEqual(ctrl.receive(4), be32(0))
        c.send(Commands.getRandom8)
        XCTAssertEqual(c.response(), bytes(hex: "80010000000a00000101"), "stopped: TPM_RC_FAILURE as swtpm")
        ctrl.send(be32(2) + be32(1))
        XCTAssertEqual(ctrl.receive(4), be32(0))
        c.send(Commands.getRandom8)
        XCTAssertEqual(responseCode(c.response()), 0x100, "after INIT: needs Startup")
    }

    /// A lying size gets TPM_RC_COMMAND_SIZE and a closed connection; other connections go on.
    func testBadInputIsolated() throws {
        let instance = try makeInstance(self)
        try instance.sync { try $0.powerOn(resumeVolatile: true) }
        let (s, ports) = try server(instance, [.swtpmData(disconnect: false)])
        defer { s.shutdown() }
        let good = try TestClient(port: ports[0])
        let bad = try TestClient(port: ports[0])
        bad.send([0x80, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 1, 0x44])
        XCTAssertEqual(bad.response(), bytes(hex: "80010000000a00000142"))
        XCTAssertTrue(bad.isClosed())
        let garbage = try TestClient(port: ports[0])
        garbage.send((0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7919) })
        good.send(Commands.startupClear)
        XCTAssertEqual(responseCode(good.response()), 0)
    }

    /// The data plane: a connection idle past the park time is served again when a command
    /// comes; a client stalled mid-command or one that never reads holds up no other connection
    /// of the instance; shutdown closes every connection, parked ones included.
    func testDataPlaneParkingAndIsolation() throws {
        let instance = try makeInstance(self)
        try instance.sync { try $0.powerOn(resumeVolatile: true) }
        let s = HostServer(instance: instance, log: .discard)
        let port = try s.listen(.tcp(host: "127.0.0.1", port: 0), speaking: .swtpmData(disconnect: false))?.port ?? 0
        let idle = try TestClient(port: port)
        idle.send(Commands.startupClear)
        XCTAssertEqual(responseCode(idle.response()), 0)
        let stalled = try TestClient(port: port)
        stalled.send(Array(Commands.getRandom8.prefix(5)))
        let deaf = try TestClient(port: port)
        for _ in 0..<200 { deaf.send(Commands.getRandom8) }
        usleep(UInt32(DataConnection.idleMilliseconds + 300) * 1000)
        // Parked meanwhile: served again.
        idle.send(Commands.getRandom8)
        XCTAssertEqual(responseCode(idle.response()), 0)
        let other = try TestClient(port: port)
        other.send(Commands.getRandom8)
        XCTAssertEqual(responseCode(other.response()), 0)
        s.shutdown()
        XCTAssertTrue(idle.isClosed())
        XCTAssertTrue(other.isClosed())
    }

    /// A server holds at most `DataConnections.defaultLimit` connections: one more is closed at
    /// once, the ones it holds still answer, and a place freed is usable again.
    func testDataConnectionLimit() throws {
        let instance = try makeInstance(self)
        try instance.sync { try $0.powerOn(resumeVolatile: true) }
        let s = HostServer(instance: instance, log: .discard)
        defer { s.shutdown() }
        let port = try s.listen(.tcp(host: "127.0.0.1", port: 0), speaking: .swtpmData(disconnect: false))?.port ?? 0
        var held: [TestClient] = []
        for i in 0..<DataConnections.defaultLimit {
            let c = try TestClient(port: port)
            c.send(i == 0 ? Commands.startupClear : Commands.getRandom8)
            XCTAssertEqual(responseCode(c.response()), 0)
            held.append(c)
        }
        let extra = try TestClient(port: port)
        XCTAssertTrue(extra.isClosed())
        held[0].send(Commands.getRandom8)
        XCTAssertEqual(responseCode(held[0].response()), 0)
        _ = held.removeLast()  // closes it (deinit)
        usleep(200_000)
        let again = try TestClient(port: port)
        again.send(Commands.getRandom8)
        XCTAssertEqual(responseCode(again.response()), 0)
    }

    /// A command that never completes is answered with TPM_RC_COMMAND_SIZE and closed after
    /// the partial-command timeout.
    func testStalledCommandTimesOut() throws {
        let instance = try makeInstance(self)
        try instance.sync { try $0.powerOn(resumeVolatile: true) }
        // A short timeout.
        let s = HostServer(instance: instance, log: .discard)
        s.dataPartialTimeoutMilliseconds = 200
        defer { s.shutdown() }
        let port = try s.listen(.tcp(host: "127.0.0.1", port: 0), speaking: .swtpmData(disconnect: false))?.port ?? 0
        let c = try TestClient(port: port)
        c.send(Array(Commands.getRandom8.prefix(7)))
        XCTAssertEqual(c.response(), bytes(hex: "80010000000a00000142"))
        XCTAssertTrue(c.isClosed())
    }

    /// mssim: the platform port's POWER_ON and NV_ON (what tpm2-tss sends on connect), then
    /// commands with locality, the handshake, and a powered-off TPM's empty answer.
    func testMSSim() throws {
        let instance = try makeInstance(self)
        try instance.sync { try $0.powerOn(resumeVolatile: true) }
        let (s, ports) = try server(instance, [.mssimCommand, .mssimPlatform])
        defer { s.shutdown() }
        let platform = try TestClient(port: ports[1])
        let tpm = try TestClient(port: ports[0])
        platform.send(be32(1))
        XCTAssertEqual(platform.receive(4), be32(0))
        platform.send(be32(11))
        XCTAssertEqual(platform.receive(4), be32(0))

        func send(_ command: [UInt8], locality: UInt8 = 0) -> [UInt8] {
            tpm.send(be32(8) + [locality] + be32(UInt32(command.count)) + command)
            let length = Int(tpm.receive(4).reduce(0) { $0 << 8 | UInt32($1) })
            let response = tpm.receive(length)
            XCTAssertEqual(tpm.receive(4), be32(0))
            return response
        }
        XCTAssertEqual(responseCode(send(Commands.startupClear)), 0)
        XCTAssertEqual(responseCode(send(Commands.extend16)), 0)
        let read = send(Commands.read16, locality: 3)
        XCTAssertEqual(Array(read.suffix(32)), Commands.extended16)
        XCTAssertEqual(send(Commands.getRandom8).count, 20)

        tpm.send(be32(15) + be32(1))
        XCTAssertEqual(tpm.receive(12), be32(1) + be32(0x0D) + be32(0))

        platform.send(be32(2))
        XCTAssertEqual(platform.receive(4), be32(0))
        XCTAssertEqual(send(Commands.getRandom8), [], "no power: empty response")
        platform.send(be32(1))
        XCTAssertEqual(platform.receive(4), be32(0))
        XCTAssertEqual(responseCode(send(Commands.getRandom8)), 0x100, "power cycle: Startup needed")

        platform.send(be32(77))
        XCTAssertEqual(platform.receive(4), be32(1))
        XCTAssertTrue(platform.isClosed())
        tpm.send(be32(20))
        XCTAssertTrue(tpm.isClosed())
    }

    /// CMD_SHUTDOWN answers, then the server ends; the state is saved and the directory freed.
    func testShutdownRequest() throws {
        let dir = temporaryDirectory(self)
        let instance = try makeInstance(self, dir: dir)
        try instance.sync { try $0.powerOn(resumeVolatile: true) }
        let (s, ports) = try server(instance, [.swtpmControl(.init())])
        let ctrl = try TestClient(port: ports[0])
        ctrl.send(be32(3))
        XCTAssertEqual(ctrl.receive(4), be32(0))
        let done = expectation(description: "terminated")
        DispatchQueue.global().async {
            s.waitForTermination()
            done.fulfill()
        }
        wait(for: [done], timeout: 10)
        XCTAssertNotNil(try StateStore(directory: dir).read(.permanent), "lock released, state present")
    }
}
