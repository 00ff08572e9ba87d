import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The CLI's channel to the daemon: a Unix stream socket (mode 0600, so only its owner talks
/// to the verifier), one JSON request line, one JSON response line
/// {"exit": N, "out": "...", "err": "..."}. Requests are bounded (64 MiB: a policy travels in one).
enum ControlSocket {
    static let maxRequest = 64 << 20

    struct Response: Codable, Sendable {
        var exit: Int32
        var out: String
        var err: String
    }

    static func address(_ path: String) throws -> sockaddr_un {
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: a.sun_path) else { throw CLIError("socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &a.sun_path) { p in
            for (i, b) in bytes.enumerated() { p[i] = b }
            p[bytes.count] = 0
        }
        return a
    }

    /// Serves forever; each connection on its own thread.
    static func serve(path: String, handler: @escaping @Sendable ([String: Any]) -> Response) throws {
        unlink(path)
        #if canImport(Glibc)
            let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let s = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard s >= 0 else { throw CLIError("socket: \(String(cString: strerror(errno)))") }
        var a = try address(path)
        let old = umask(0o177)
        let rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(old)
        guard rc == 0 else { throw CLIError("bind \(path): \(String(cString: strerror(errno)))") }
        chmod(path, 0o600)
        guard listen(s, 64) == 0 else { throw CLIError("listen: \(String(cString: strerror(errno)))") }
        let t = Thread {
            while true {
                let c = accept(s, nil, nil)
                if c < 0 { continue }
                Thread.detachNewThread { handle(c, handler) }
            }
        }
        t.start()
    }

    private static func handle(_ c: Int32, _ handler: @Sendable ([String: Any]) -> Response) {
        defer { close(c) }
        var data = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while !data.contains(0x0A) {
            let n = buf.withUnsafeMutableBytes { read(c, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            data += buf[0..<n]
            if data.count > maxRequest { return }
        }
        let line = Array(data.prefix(while: { $0 != 0x0A }))
        let resp: Response
        if let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] {
            resp = handler(obj)
        } else {
            resp = Response(exit: 2, out: "", err: "malformed request\n")
        }
        if let out = try? JSONEncoder().encode(resp) { try? writeAll(c, Array(out) + [0x0A]) }
    }

    /// Sends one request and waits for the answer.
    static func call(path: String, _ request: [String: Any], timeout: TimeInterval = 600) throws -> Response {
        #if canImport(Glibc)
            let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let s = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard s >= 0 else { throw CLIError("socket: \(String(cString: strerror(errno)))") }
        defer { close(s) }
        var a = try address(path)
        let rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            throw CLIError("cannot reach the verifier at \(path) (is `vtpm-verifier serve` running?): \(String(cString: strerror(errno)))")
        }
        try writeAll(s, Array(try JSONSerialization.data(withJSONObject: request)) + [0x0A])
        var data = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while !data.contains(0x0A) {
            let n = buf.withUnsafeMutableBytes { read(s, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            data += buf[0..<n]
        }
        guard let nl = data.firstIndex(of: 0x0A) else { throw CLIError("the verifier closed the connection without answering") }
        return try JSONDecoder().decode(Response.self, from: Data(data[..<nl]))
    }
}
