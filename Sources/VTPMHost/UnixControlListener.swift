import Dispatch
import NIOCore
import TPMEngine

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// swtpm's control channel on a Unix socket, the way QEMU (`-tpmdev emulator`) and libvirt use
/// it: besides every request of `ControlChannel`, CMD_SET_DATAFD hands over the data channel
/// as a descriptor passed with SCM_RIGHTS on the 4-byte command word. SwiftNIO's stream
/// channels read with read(2), which drops ancillary data, so this listener reads with
/// recvmsg(2) itself: a Dispatch read source per socket (no thread per connection), requests
/// delimited by `ControlFramer`, handled on the instance's queue, replies written before the
/// next request is read. A data descriptor it receives is adopted by the `HostServer`'s event
/// loop as a swtpm data connection.
final class UnixControlListener: @unchecked Sendable {
    // @unchecked: every mutable field is touched on `queue` only.
    let path: String
    private let listenFD: Int32
    private let queue: DispatchQueue
    private var source: (any DispatchSourceRead)?
    private var connections: [ObjectIdentifier: UnixControlConnection] = [:]
    let context: Context

    /// What connections need from their server.
    struct Context: Sendable {
        var instance: Instance
        var options: ControlChannel.Options
        var events: ConnectionEvents
        /// Adopts a data descriptor (taking ownership of it in every case); false when one is
        /// in use already or it is not a stream socket (TPM_IOERROR).
        var adoptDataChannel: @Sendable (Int32) -> Bool
        var log: HostLog
    }

    init(path: String, mode: mode_t, context: Context) throws {
        self.path = path
        self.context = context
        queue = DispatchQueue(label: "vtpm.ctrl." + path)
        listenFD = try UnixSocket.listen(path: path, mode: mode)
        let source = DispatchSource.makeReadSource(fileDescriptor: listenFD, queue: queue)
        source.setEventHandler { [weak self] in self?.acceptAll() }
        let fd = listenFD
        source.setCancelHandler { Glibc.close(fd) }
        self.source = source
        source.resume()
    }

    private func acceptAll() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 { return }  // EAGAIN: nothing more to accept; other errors: try on the next event
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            let connection = UnixControlConnection(fd: fd, queue: queue, context: context)
            let id = ObjectIdentifier(connection)
            connections[id] = connection
            connection.onClose = { [weak self] in self?.connections[id] = nil }
            connection.start()
        }
    }

    /// Stops listening, closes every connection and removes the socket file. Blocks until done.
    func close() {
        queue.sync {
            source?.cancel()
            source = nil
            for c in connections.values { c.close() }
            connections.removeAll()
        }
        unlink(path)
    }
}

/// One control connection (QEMU keeps one for the VM's life).
final class UnixControlConnection: @unchecked Sendable {
    // @unchecked: touched on `queue` only.
    private let fd: Int32
    private let queue: DispatchQueue
    private let context: UnixControlListener.Context
    private var source: (any DispatchSourceRead)?
    private var framer = ControlFramer()
    /// A descriptor that arrived with the bytes not yet consumed, for the SET_DATAFD among them.
    private var receivedFD: Int32 = -1
    /// Counts reads, so the partial-request timer knows whether anything arrived since.
    private var reads = 0
    private var closed = false
    var onClose: () -> Void = {}

    /// A reply that cannot be written within this time closes the connection.
    static let writeTimeoutMilliseconds: Int32 = 5000

    init(fd: Int32, queue: DispatchQueue, context: UnixControlListener.Context) {
        self.fd = fd
        self.queue = queue
        self.context = context
    }

    func start() {
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler { [weak self] in self?.readable() }
        let fd = self.fd
        source.setCancelHandler { Glibc.close(fd) }
        self.source = source
        source.resume()
    }

    private func readable() {
        guard !closed else { return }
        var buffer = [UInt8](repeating: 0, count: 8192)
        while !closed {
            let (n, descriptors) = UnixSocket.receive(fd, into: &buffer)
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { break }
                close()
                return
            }
            if let first = descriptors.first {
                // One descriptor per SET_DATAFD; anything else received is not ours to keep.
                if receivedFD >= 0 { Glibc.close(receivedFD) }
                receivedFD = first
                for extra in descriptors.dropFirst() { Glibc.close(extra) }
            }
            if n == 0 {
                close()
                return
            }
            reads += 1
            framer.append(buffer[0..<n])
            process()
        }
        armPartialTimer()
    }

    private func process() {
        while !closed, let message = framer.next() {
            let failed = framer.isFailed
            let (reply, disposition) = handle(message)
            guard write(reply) else {
                close()
                return
            }
            switch disposition {
            case .keepOpen where !failed: continue
            case .terminate:
                close()
                context.events.terminate()
                return
            default:
                close()
                return
            }
        }
        if framer.isFailed {
            close()
            return
        }
        if !framer.hasPartialMessage && receivedFD >= 0 {
            // A descriptor that came with something other than SET_DATAFD.
            Glibc.close(receivedFD)
            receivedFD = -1
        }
    }

    private func handle(_ message: ControlMessage) -> ([UInt8], ControlDisposition) {
        guard message.code == PTM.Command.setDataFD.rawValue else {
            let options = context.options
            return context.instance.sync { core in ControlChannel.handle(message, core: core, options: options) }
        }
        // swtpm: a request with bytes after the command word is still SET_DATAFD; what
        // matters is the descriptor.
        guard receivedFD >= 0 else {
            context.log.error("SET_DATAFD without a valid data socket in the message")
            return (MSSim.u32(PTM.Result.badParameter), .keepOpen)
        }
        let fd = receivedFD
        receivedFD = -1
        guard context.adoptDataChannel(fd) else { return (MSSim.u32(PTM.Result.ioError), .keepOpen) }
        return (MSSim.u32(PTM.Result.success), .keepOpen)
    }

    /// Writes all of `bytes` (the socket is non-blocking: waits for room, bounded).
    private func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                offset += n
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                if poll(&p, 1, Self.writeTimeoutMilliseconds) <= 0 { return false }
                continue
            }
            return false
        }
        return true
    }

    /// swtpm closes a connection whose request stays incomplete for 500 ms.
    private func armPartialTimer() {
        guard !closed, framer.hasPartialMessage else { return }
        let seen = reads
        queue.asyncAfter(deadline: .now() + .milliseconds(Int(ControlFramer.timeoutMilliseconds))) { [weak self] in
            guard let self, !self.closed, self.reads == seen, self.framer.hasPartialMessage else { return }
            self.close()
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        if receivedFD >= 0 {
            Glibc.close(receivedFD)
            receivedFD = -1
        }
        source?.cancel()
        source = nil
        onClose()
    }
}

/// The few socket calls NIO does not offer.
enum UnixSocket {
    /// The socket address of `path`; nil when the path does not fit in sockaddr_un.
    static func address(_ path: String) -> sockaddr_un? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        guard path.utf8.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        return address
    }

    /// A listening Unix stream socket at `path` (an existing socket file is replaced), mode
    /// `mode`, non-blocking, close-on-exec.
    static func listen(path: String, mode: mode_t) throws -> Int32 {
        guard var address = address(path) else { throw IOError(errnoCode: ENAMETOOLONG, reason: "socket path too long") }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var st = stat()
        if lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK { unlink(path) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            let e = errno
            Glibc.close(fd)
            throw IOError(errnoCode: e, reason: "bind")
        }
        chmod(path, mode)
        guard Glibc.listen(fd, 16) == 0 else {
            let e = errno
            Glibc.close(fd)
            unlink(path)
            throw IOError(errnoCode: e, reason: "listen")
        }
        return fd
    }

    /// recvmsg(2) into `buffer`, with room for a few passed descriptors (made close-on-exec).
    /// Returns the byte count (-1 on error, errno set) and the descriptors received.
    static func receive(_ fd: Int32, into buffer: inout [UInt8]) -> (Int, [Int32]) {
        let maxFDs = 4
        let controlLength = MemoryLayout<cmsghdr>.stride + maxFDs * MemoryLayout<Int32>.stride + 16
        var control = [UInt8](repeating: 0, count: controlLength)
        var descriptors: [Int32] = []
        let n: Int = buffer.withUnsafeMutableBytes { data in
            control.withUnsafeMutableBytes { ctl in
                var iov = iovec(iov_base: data.baseAddress, iov_len: data.count)
                return withUnsafeMutablePointer(to: &iov) { iovp in
                    var msg = msghdr()
                    msg.msg_iov = iovp
                    msg.msg_iovlen = 1
                    msg.msg_control = ctl.baseAddress
                    msg.msg_controllen = ctl.count
                    let r = recvmsg(fd, &msg, Int32(MSG_CMSG_CLOEXEC))
                    guard r >= 0 else { return r }
                    // Walk the control messages by hand (CMSG_* are macros Swift cannot call).
                    var offset = 0
                    let header = MemoryLayout<cmsghdr>.size
                    while offset + header <= Int(msg.msg_controllen) {
                        let h = ctl.load(fromByteOffset: offset, as: cmsghdr.self)
                        let length = Int(h.cmsg_len)
                        guard length >= header, offset + length <= Int(msg.msg_controllen) else { break }
                        if h.cmsg_level == SOL_SOCKET && h.cmsg_type == Int32(SCM_RIGHTS) {
                            let dataStart = offset + MemoryLayout<cmsghdr>.stride
                            var p = dataStart
                            while p + MemoryLayout<Int32>.size <= offset + length {
                                descriptors.append(ctl.loadUnaligned(fromByteOffset: p, as: Int32.self))
                                p += MemoryLayout<Int32>.size
                            }
                        }
                        offset += (length + MemoryLayout<Int>.size - 1) & ~(MemoryLayout<Int>.size - 1)
                    }
                    return r
                }
            }
        }
        return (n, descriptors)
    }
}
