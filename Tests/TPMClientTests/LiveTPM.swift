import Foundation
import TPMClient
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// A TPM started for one test on ports of this target's range (33000-33999), with a fresh
/// state directory: swtpm (libtpms, the reference) over swtpm's TCP protocol, or our `vtpm sim`
/// over the mssim protocol. The client tests run against both.
final class LiveTPM {
    enum Kind: String {
        case swtpm
        case vtpmSim
    }

    let kind: Kind
    let port: UInt16
    let dir: URL
    let process: Process

    /// The repository's `vtpm` (built with the tests: `swift build --build-tests` builds every product).
    static var vtpmBinary: URL {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for flavour in ["debug", "release"] {
            let u = repo.appendingPathComponent(".build/\(flavour)/vtpm")
            if FileManager.default.isExecutableFile(atPath: u.path) { return u }
        }
        return repo.appendingPathComponent(".build/debug/vtpm")
    }

    init(_ kind: Kind) throws {
        self.kind = kind
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tpmclient-\(getpid())-\(kind.rawValue)")
        // Ports of this target's range that are free now (the range overlaps the kernel's
        // ephemeral ports, so other processes may hold some): try pairs until one starts.
        var attempt = 0
        while true {
            attempt += 1
            let p = UInt16(33000 + 2 * Int.random(in: 0..<499))
            guard Self.free(p), Self.free(p + 1) else { continue }
            try? FileManager.default.removeItem(at: dir)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let proc = Process()
            switch kind {
            case .swtpm:
                proc.executableURL = URL(fileURLWithPath: "/usr/bin/swtpm")
                proc.arguments = [
                    "socket", "--tpm2", "--server", "type=tcp,port=\(p)", "--ctrl", "type=tcp,port=\(p + 1)",
                    "--tpmstate", "dir=\(dir.path)", "--flags", "not-need-init,startup-clear", "--seccomp", "action=none",
                ]
            case .vtpmSim:
                proc.executableURL = Self.vtpmBinary
                proc.arguments = ["sim", "--port", "\(p)", "--state-dir", dir.path]
            }
            proc.standardOutput = FileHandle.nullDevice
            proc.standardError = FileHandle.nullDevice
            try proc.run()
            let tcti: TCTI = kind == .swtpm ? .swtpm(host: "127.0.0.1", port: p) : .mssim(host: "127.0.0.1", port: p)
            for _ in 0..<250 where proc.isRunning {
                if let c = try? TPMClient(tcti: tcti), (try? c.startup()) != nil {
                    port = p
                    process = proc
                    return
                }
                usleep(20_000)
            }
            if proc.isRunning { proc.terminate() }
            proc.waitUntilExit()
            guard attempt < 10 else {
                XCTFail("\(kind) did not start (\(Self.vtpmBinary.path) for vtpm)")
                throw TPMClientError.unsupported("\(kind) did not start")
            }
        }
    }

    static func free(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    var tcti: TCTI {
        kind == .swtpm ? .swtpm(host: "127.0.0.1", port: port) : .mssim(host: "127.0.0.1", port: port)
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: dir)
    }
}
