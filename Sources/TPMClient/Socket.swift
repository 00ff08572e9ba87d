#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A blocking stream socket (TCP or Unix) with send/receive time-outs: the transports are
/// synchronous, one command at a time, and a TPM that stops answering must not hang the caller.
final class StreamSocket {
    private(set) var fd: Int32

    private init(fd: Int32) { self.fd = fd }

    deinit { close() }

    func close() {
        if fd >= 0 {
            _ = systemClose(fd)
            fd = -1
        }
    }

    /// Connects to host:port (any address getaddrinfo gives, first that answers).
    static func tcp(host: String, port: UInt16, timeoutSeconds: Int) throws(TransportError) -> StreamSocket {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else { throw .resolve(host, String(cString: gai_strerror(rc))) }
        defer { freeaddrinfo(list) }
        var lastErrno: Int32 = 0
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let ai = cursor {
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            if fd >= 0 {
                let s = StreamSocket(fd: fd)
                s.setTimeouts(seconds: timeoutSeconds)
                if connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 {
                    var one: Int32 = 1
                    _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    return s
                }
                lastErrno = errno
            } else {
                lastErrno = errno
            }
            cursor = ai.pointee.ai_next
        }
        throw .connect("\(host):\(port)", errnoString(lastErrno))
    }

    /// Connects to a Unix stream socket.
    static func unix(path: String, timeoutSeconds: Int) throws(TransportError) -> StreamSocket {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity else { throw .connect(path, "socket path longer than \(capacity - 1) bytes") }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        #if canImport(Glibc)
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw .connect(path, errnoString(errno)) }
        let s = StreamSocket(fd: fd)
        s.setTimeouts(seconds: timeoutSeconds)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { throw .connect(path, errnoString(errno)) }
        return s
    }

    private func setTimeouts(seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func writeAll(_ bytes: [UInt8]) throws(TransportError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("send", errnoString(errno))
            }
            offset += n
        }
    }

    /// Reads exactly `count` bytes; the peer closing first is `.closed`.
    func readExact(_ count: Int) throws(TransportError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let n = out.withUnsafeMutableBytes { raw in recv(fd, raw.baseAddress! + offset, count - offset, 0) }
            if n == 0 { throw .closed }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw .timeout }
                throw .io("recv", errnoString(errno))
            }
            offset += n
        }
        return out
    }

    func readU32() throws(TransportError) -> UInt32 {
        let b = try readExact(4)
        return UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
    }
}

func errnoString(_ e: Int32) -> String { String(cString: strerror(e)) }

/// `close` under a name that does not collide with `StreamSocket.close()`.
func systemClose(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
        Glibc.close(fd)
    #else
        Darwin.close(fd)
    #endif
}

func u32Bytes(_ v: UInt32) -> [UInt8] {
    [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
}
