import Attestation
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One TCP connection to an agent speaking the evidence protocol (docs/evidence-protocol.md),
/// with blocking I/O bounded by a deadline: the verifier's worker threads each hold one.
final class AgentConnection {
    private var fd: Int32 = -1
    private var decoder = EvidenceFrameDecoder(maxPayload: EvidenceProtocol.maxResponsePayload)
    let deadline: Date

    /// `address` is HOST:PORT (IPv6 as [HOST]:PORT).
    init(address: String, timeout: TimeInterval) throws {
        deadline = Date().addingTimeInterval(timeout)
        let (host, port) = try splitHostPort(address)
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &res) == 0, let first = res else { throw CLIError("cannot resolve \(host)") }
        defer { freeaddrinfo(res) }
        var lastError = "no address"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            let s = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if s >= 0 {
                setTimeouts(s)
                if connect(s, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 {
                    fd = s
                    return
                }
                lastError = String(cString: strerror(errno))
                close(s)
            }
            ai = a.pointee.ai_next
        }
        throw CLIError("cannot connect to \(address): \(lastError)")
    }

    deinit { if fd >= 0 { close(fd) } }

    private func setTimeouts(_ s: Int32) {
        let left = max(0.05, deadline.timeIntervalSinceNow)
        var tv = timeval()
        tv.tv_sec = Int(left)
        tv.tv_usec = .init((left - Double(Int(left))) * 1_000_000)
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ m: EvidenceMessage) throws {
        setTimeouts(fd)
        try writeAll(fd, try m.frame())
    }

    /// The next message; an Error message from the agent is returned like any other.
    func receive() throws -> EvidenceMessage {
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            if let m = try decoder.nextMessage() { return m }
            guard Date() < deadline else { throw CLIError("no answer within the timeout") }
            setTimeouts(fd)
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw CLIError("no answer within the timeout") }
                throw CLIError("read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { throw CLIError("the agent closed the connection") }
            decoder.append(buf[0..<n])
        }
    }

    func request(_ m: EvidenceMessage) throws -> EvidenceMessage {
        try send(m)
        return try receive()
    }
}

func splitHostPort(_ s: String) throws -> (String, Int) {
    var host: Substring
    var portText: Substring
    if s.hasPrefix("["), let close = s.firstIndex(of: "]") {
        host = s[s.index(after: s.startIndex)..<close]
        let rest = s[s.index(after: close)...]
        guard rest.hasPrefix(":") else { throw CLIError("'\(s)' is not [HOST]:PORT") }
        portText = rest.dropFirst()
    } else {
        guard let colon = s.lastIndex(of: ":") else { throw CLIError("'\(s)' is not HOST:PORT") }
        host = s[..<colon]
        portText = s[s.index(after: colon)...]
    }
    guard let port = Int(portText), (1...65535).contains(port), !host.isEmpty else { throw CLIError("'\(s)' is not HOST:PORT") }
    return (String(host), port)
}
