import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// TCP listening sockets for the raw data channel (which is served without SwiftNIO).
enum TCPSocket {
    /// A listening socket on `host` (a numeric IPv4 or IPv6 address, or a name getaddrinfo
    /// resolves; the first address is used) and `port` (0: any), with SO_REUSEADDR, close-on-exec.
    /// Returns the descriptor and the address bound.
    static func listen(host: String, port: Int, backlog: Int32 = 64) throws -> (Int32, SocketAddress) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let list, let info = Optional(list.pointee), let address = info.ai_addr else {
            if let list { freeaddrinfo(list) }
            throw IOError(errnoCode: EADDRNOTAVAIL, reason: "getaddrinfo \(host)")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(info.ai_family, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, address, info.ai_addrlen) == 0, Glibc.listen(fd, backlog) == 0 else {
            let e = errno
            close(fd)
            throw IOError(errnoCode: e, reason: "bind")
        }
        var bound = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let boundPort: Int
        if Int32(bound.ss_family) == AF_INET6 {
            boundPort = withUnsafePointer(to: &bound) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
        } else {
            boundPort = withUnsafePointer(to: &bound) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
        }
        let numeric = (try? SocketAddress(ipAddress: host, port: boundPort))
        return (fd, try numeric ?? SocketAddress.makeAddressResolvingHost(host, port: boundPort))
    }
}
