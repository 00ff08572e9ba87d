import Foundation
import TPMClient
import XCTest

/// A swtpm (libtpms: the reference TPM) started for one test on a port of this target's range,
/// with a fresh state directory; tests run the client against it over both transports it speaks.
final class LiveSwtpm {
    let port: UInt16
    let dir: URL
    let process: Process

    /// `index` picks the port pair 33100 + 2 * index (33000-33999 is this target's range).
    init(index: Int) throws {
        port = UInt16(33100 + 2 * index)
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tpmclient-\(getpid())-\(index)")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/swtpm")
        process.arguments = [
            "socket", "--tpm2", "--server", "type=tcp,port=\(port)", "--ctrl", "type=tcp,port=\(port + 1)",
            "--tpmstate", "dir=\(dir.path)", "--flags", "not-need-init,startup-clear", "--seccomp", "action=none",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<200 {
            if (try? SwtpmTransport(host: "127.0.0.1", port: port).transmit([0x80, 1, 0, 0, 0, 10, 0, 0, 1, 0x81])) != nil {
                return
            }
            usleep(20_000)
        }
        throw XCTSkip("swtpm did not start on port \(port)")
    }

    var tcti: TCTI { .swtpm(host: "127.0.0.1", port: port) }

    func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: dir)
    }
}
