import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The agent's local control socket (`agent.sock` in the state directory, mode 0600): one JSON
/// request line, one JSON response line, then the connection closes.
///   {"op":"measure","paths":["/usr/bin/x", ...]} -> {"ok":true,"results":[{"path":..,"sha256":..}|{"path":..,"error":..}]}
///   {"op":"status"} -> {"ok":true,"status":{...}}
/// A measure request is answered once each file's entry is durable and extended.
public enum ControlProtocol {
    public static let socketName = "agent.sock"
    public static let maxRequest = 1 << 20
    public static let maxPaths = 4096
    public static let timeoutSeconds = 120
}

public final class ControlServer: @unchecked Sendable {
    let path: String
    let logger: Logger
    let handler: @Sendable ([String: Any]) -> [String: Any]
    private var fd: Int32 = -1

    public init(path: String, logger: Logger, handler: @escaping @Sendable ([String: Any]) -> [String: Any]) {
        self.path = path
        self.logger = logger
        self.handler = handler
    }

    public func start() throws {
        unlink(path)
        fd = try UnixSocket.listen(path: path)
        chmod(path, 0o600)
        let t = Thread { [self] in acceptLoop() }
        t.name = "control"
        t.start()
    }

    public func stop() {
        if fd >= 0 {
            shutdown(fd, Int32(SHUT_RDWR))
            _ = close(fd)
            fd = -1
        }
        unlink(path)
    }

    private func acceptLoop() {
        let listenFD = fd
        while true {
            let c = accept(listenFD, nil, nil)
            if c < 0 {
                if errno == EINTR { continue }
                return
            }
            let t = Thread { [self] in
                serve(c)
                _ = close(c)
            }
            t.start()
        }
    }

    private func serve(_ c: Int32) {
        UnixSocket.setTimeout(c, seconds: ControlProtocol.timeoutSeconds)
        guard let line = UnixSocket.readLine(c, max: ControlProtocol.maxRequest) else { return }
        var response: [String: Any]
        if let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] {
            response = handler(obj)
        } else {
            response = ["ok": false, "error": "request is not a JSON object line"]
        }
        guard var data = try? JSONSerialization.data(withJSONObject: response, options: [.sortedKeys]) else { return }
        data.append(10)
        UnixSocket.writeAll(c, Array(data))
    }
}

/// Blocking Unix-socket helpers for the control socket and its client.
public enum UnixSocket {
    static func address(_ path: String) throws -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw ControlError.pathTooLong(path) }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        return addr
    }

    public static func listen(path: String) throws -> Int32 {
        var addr = try address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | O_CLOEXEC, 0)
        guard fd >= 0 else { throw ControlError.io("socket", errnoText(errno)) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0, Glibc.listen(fd, 64) == 0 else {
            let e = errno
            _ = close(fd)
            throw ControlError.io("bind \(path)", errnoText(e))
        }
        return fd
    }

    public static func connect(path: String) throws -> Int32 {
        var addr = try address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | O_CLOEXEC, 0)
        guard fd >= 0 else { throw ControlError.io("socket", errnoText(errno)) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            _ = close(fd)
            throw ControlError.io("connect \(path)", errnoText(e))
        }
        return fd
    }

    public static func setTimeout(_ fd: Int32, seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Reads up to a newline (excluded); nil on error, time-out, EOF before one, or `max` exceeded.
    public static func readLine(_ fd: Int32, max: Int) -> [UInt8]? {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while out.count <= max {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return nil }
            if let nl = buf[0..<n].firstIndex(of: 10) {
                out += buf[0..<nl]
                return out.count <= max ? out : nil
            }
            out += buf[0..<n]
        }
        return nil
    }

    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return }
            off += n
        }
    }

    /// One request/response exchange with a running agent.
    public static func request(path: String, _ object: [String: Any]) throws -> [String: Any] {
        let fd = try connect(path: path)
        defer { _ = close(fd) }
        setTimeout(fd, seconds: ControlProtocol.timeoutSeconds)
        var data = try JSONSerialization.data(withJSONObject: object)
        data.append(10)
        writeAll(fd, Array(data))
        guard let line = readLine(fd, max: 64 << 20),
            let obj = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
        else { throw ControlError.io("read", "no response from the agent") }
        return obj
    }
}

public enum ControlError: Error, CustomStringConvertible {
    case pathTooLong(String)
    case io(String, String)
    public var description: String {
        switch self {
        case .pathTooLong(let p): return "socket path too long: \(p)"
        case .io(let op, let e): return "\(op): \(e)"
        }
    }
}
