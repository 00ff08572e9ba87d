import Foundation
import XCTest

@testable import TPMEngine

#if canImport(Glibc)
    import Glibc
#endif

/// A minimal swtpm-style TCP front for one engine instance, so that real clients (tpm2-pytss
/// ESAPI through libtss2's `swtpm` TCTI, or raw-byte scripts that also talk to swtpm) can
/// drive it in tests: raw TPM commands on `port`, and the control channel on `port + 1`,
/// where only what the TCTI uses is understood (CMD_SET_LOCALITY; every other control
/// command is acknowledged). One command at a time, under a lock.
final class EngineTestServer: @unchecked Sendable {
    let port: UInt16
    private let tpm: TPM
    private let lock = NSLock()
    private var locality: UInt8 = 0
    private var dataFD: Int32 = -1
    private var controlFD: Int32 = -1

    /// Binds two consecutive free ports on 127.0.0.1.
    init(tpm: TPM) throws {
        self.tpm = tpm
        for _ in 0..<50 {
            let d = try EngineTestServer.listener(port: 0)
            let p = EngineTestServer.boundPort(d)
            if p < UInt16.max, let c = try? EngineTestServer.listener(port: p + 1) {
                dataFD = d
                controlFD = c
                port = p
                return
            }
            close(d)
        }
        throw POSIXError(.EADDRINUSE)
    }

    /// Runs `body` with the engine while no command is executing.
    func withTPM<T>(_ body: (TPM) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(tpm)
    }

    func start() {
        let d = dataFD
        let c = controlFD
        Thread { [self] in acceptLoop(d) { self.serveData($0) } }.start()
        Thread { [self] in acceptLoop(c) { self.serveControl($0) } }.start()
    }

    func stop() {
        for fd in [dataFD, controlFD] where fd >= 0 {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
        dataFD = -1
        controlFD = -1
    }

    private func acceptLoop(_ fd: Int32, _ serve: (Int32) -> Void) {
        while true {
            let conn = accept(fd, nil, nil)
            if conn < 0 { return }
            serve(conn)
            close(conn)
        }
    }

    private func serveData(_ conn: Int32) {
        while let header = readExactly(conn, 10) {
            let size = Int(header[2]) << 24 | Int(header[3]) << 16 | Int(header[4]) << 8 | Int(header[5])
            guard size >= 10, size <= 1 << 16, let rest = readExactly(conn, size - 10) else { return }
            let response: [UInt8] = withTPM { tpm in
                let r = tpm.execute(locality: locality, command: header + rest)
                tpm.acknowledgeNVWrite()
                return r
            }
            guard writeAll(conn, response) else { return }
        }
    }

    private func serveControl(_ conn: Int32) {
        while let cmd = readExactly(conn, 4) {
            if cmd == [0, 0, 0, 5] {  // CMD_SET_LOCALITY
                guard let l = readExactly(conn, 1) else { return }
                withTPM { _ in locality = l[0] }
            }
            guard writeAll(conn, [0, 0, 0, 0]) else { return }
        }
    }

    private func readExactly(_ fd: Int32, _ n: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: n)
        var got = 0
        while got < n {
            let r = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, n - got, 0) }
            if r <= 0 { return nil }
            got += r
        }
        return out
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let r = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if r <= 0 { return false }
            sent += r
        }
        return true
    }

    private static func listener(port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0, listen(fd, 8) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        return fd
    }

    private static func boundPort(_ fd: Int32) -> UInt16 {
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return UInt16(bigEndian: addr.sin_port)
    }
}

/// Runs a Python 3 script (the system interpreter, which has tpm2-pytss) with `args`;
/// returns its exit status and output. nil when there is no such interpreter.
func runPython(_ script: String, args: [String], timeout: TimeInterval = 120) -> (status: Int32, output: String)? {
    let python = "/usr/bin/python3"
    guard FileManager.default.isExecutableFile(atPath: python) else { return nil }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = ["-c", script] + args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    do { try p.run() } catch { return nil }
    // The scripts print little, so the pipe never fills while the child runs.
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    if p.isRunning { p.terminate() }
    p.waitUntilExit()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

final class SessionHarnessTests: XCTestCase {
    /// A long-running engine for manual differential runs against swtpm:
    /// VTPM_SESSION_HARNESS_PORT_FILE=/path swift test --filter SessionHarnessTests writes the
    /// chosen data port to that file and serves until the file is deleted. With
    /// VTPM_SESSION_HARNESS_OWNER_POLICY=<hex SHA-256 digest> owner gets that policy (what
    /// TPM2_SetPrimaryPolicy, not implemented yet, does on swtpm).
    func testServeWhenAsked() throws {
        guard let path = ProcessInfo.processInfo.environment["VTPM_SESSION_HARNESS_PORT_FILE"] else { return }
        let tpm = TPM(
            environment: TPMEnvironment(
                entropy: { n in (0..<n).map { _ in UInt8.random(in: 0...255) } },
                milliseconds: {
                    UInt64(Date().timeIntervalSince1970 * 1000)
                }))
        tpm.powerOn()
        if let hex = ProcessInfo.processInfo.environment["VTPM_SESSION_HARNESS_OWNER_POLICY"], hex.count == 64 {
            tpm.persistent.owner.policyAlg = .sha256
            tpm.persistent.owner.policy = stride(from: 0, to: 64, by: 2).map { i in
                UInt8(hex[hex.index(hex.startIndex, offsetBy: i)..<hex.index(hex.startIndex, offsetBy: i + 2)], radix: 16) ?? 0
            }
        }
        let server = try EngineTestServer(tpm: tpm)
        server.start()
        try "\(server.port)\n".write(toFile: path, atomically: true, encoding: .utf8)
        while FileManager.default.fileExists(atPath: path) { Thread.sleep(forTimeInterval: 0.2) }
        server.stop()
    }
}
