import CLinuxSockets
import NIOCore
import Synchronization
import TPMEngine

#if canImport(Glibc)
    import Glibc
#endif

/// What a raw TPM data connection needs from its server.
struct DataConnectionContext: Sendable {
    var instance: Instance
    var events: ConnectionEvents
    /// `--server ...,disconnect` (and `-p`): one command per connection.
    var disconnectAfterReply: Bool
    /// A command left incomplete this long without progress is answered TPM_RC_COMMAND_SIZE
    /// and the connection closed.
    var partialTimeoutMilliseconds: Int32
    /// The server's open data connections (so it can close them at shutdown).
    var connections: DataConnections
}

/// The raw data connections of one server: registered while served, so `closeAll` can wake
/// every thread blocked on one (shutdown(2)) and wait for them to finish before the state is
/// saved. A descriptor is closed only by its thread, after it left this set, so a number
/// reused by the kernel is never shut down by mistake.
///
/// A server holds at most `limit` connections (parked ones included): each busy one has a
/// thread, so a client opening connections without end must not make threads without end. A
/// TPM has one or two real clients (swtpm serves one connection at a time); one more than the
/// limit is closed at once, and the others — and every other instance — go on as before.
final class DataConnections: @unchecked Sendable {
    // @unchecked: every field is touched under `monitor`.
    private let monitor = Monitor()
    private var open: Set<Int32> = []
    private var closed = false
    let limit: Int

    static let defaultLimit = 64

    init(limit: Int = DataConnections.defaultLimit) { self.limit = limit }

    /// False once the server is shutting down, or when it holds `limit` connections already
    /// (the caller closes `fd` then).
    func add(_ fd: Int32) -> Bool {
        monitor.withLock {
            guard !closed, open.count < limit else { return false }
            open.insert(fd)
            return true
        }
    }

    func remove(_ fd: Int32) {
        monitor.withLock {
            open.remove(fd)
            if open.isEmpty { monitor.broadcast() }
        }
    }

    var count: Int { monitor.withLock { open.count } }

    /// Refuses new connections, shuts down the open ones and waits (at most `timeout` ms) until
    /// their threads have let go of them.
    func closeAll(timeoutMilliseconds: UInt64 = 5000) {
        monitor.withLock {
            closed = true
            for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
            let deadline = Monitor.now() + timeoutMilliseconds * 1_000_000
            while !open.isEmpty && Monitor.now() < deadline { _ = monitor.wait(untilNanoseconds: deadline) }
        }
    }
}

/// Raw TPM byte streams (swtpm's data channel over TCP or a Unix socket, an instance's
/// data.sock, a socket passed by SET_DATAFD) are served here rather than by SwiftNIO: each
/// connection has a thread that blocks in read(2), frames the command by its header's size,
/// runs it on the instance (under the instance's queue, so commands of one instance stay
/// serialized across all its connections and protocols) and writes the response with
/// send(2) — two system calls per command, no pipeline, no event-loop wake-ups. A TPM has
/// few active connections (a VM keeps one), so a thread each is cheap; idle threads are kept
/// for reuse, so a client that connects per command (the swtpm TCTI) costs no thread creation.
///
/// Listening sockets of every server share one epoll set. Threads take turns: one "leader"
/// waits in epoll_wait, accepts a connection, hands leadership to an idle thread (or a new
/// one) and serves that connection itself, so the first command on a new connection costs no
/// hand-off between threads.
///
/// Isolation: a connection's thread blocks only on its own socket and on its own instance's
/// queue; a client that stalls mid-command (5 s), never reads its responses, or asks for key
/// generation holds up nobody else. Memory per connection is bounded: at most one command
/// (MAX_COMMAND_SIZE plus the TCG prefix) plus one read is buffered, and nothing more is read
/// while a response is being written.
final class DataPlane: @unchecked Sendable {
    // @unchecked: the pool's fields are touched under `monitor`; `listeners` under `listenerLock`.
    static let shared = DataPlane()

    private let epoll: Int32
    private let listenerLock = Monitor()
    /// What the epoll set holds, by token: listening sockets and parked connections.
    private var listeners: [UInt64: (fd: Int32, context: DataConnectionContext)] = [:]
    private var parked: [UInt64: (fd: Int32, context: DataConnectionContext)] = [:]
    private var nextToken: UInt64 = 1

    private let monitor = Monitor()
    private var hasLeader = false
    private var idle = 0
    /// Idle threads signalled and not yet awake: they are spoken for.
    private var signalled = 0
    private var jobs: [(fd: Int32, context: DataConnectionContext)] = []
    /// Idle threads beyond this many exit.
    private static let maxIdle = 4
    /// Stack of a connection thread: the engine (RSA key generation included) runs on it.
    private static let stackSize = 4 << 20

    /// Whether the leader serves the connection it accepted itself, keeping its turn at the
    /// epoll set while that connection waits for its next command (`servesOneTPM`).
    private let leaderServes = Atomic<Bool>(false)

    /// For a process that serves one TPM (`vtpm socket`, swtpm's command line): the thread
    /// that accepts a connection keeps the turn at the epoll set while it serves it, and passes
    /// the turn on only when the set has something to do (another connection, a parked one's
    /// bytes) or the connection ends or parks. A connection per command (the swtpm TCTI) then
    /// costs no hand-off between threads, as in swtpm's single loop. Not for the daemon: there the
    /// set holds other instances, which must not wait while this instance runs a command.
    func servesOneTPM() { leaderServes.store(true, ordering: .relaxed) }

    private init() {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epoll >= 0, "epoll_create1: \(String(cString: strerror(errno)))")
    }

    // MARK: listeners

    /// Serves connections accepted on `fd` (a listening socket; made non-blocking here) with
    /// `context`. Returns a token for `removeListener`.
    func addListener(_ fd: Int32, context: DataConnectionContext) throws -> UInt64 {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let token: UInt64 = try listenerLock.withLock {
            let token = nextToken
            nextToken += 1
            var event = epoll_event()
            event.events = EPOLLIN.rawValue
            event.data.u64 = token
            guard epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0 else {
                throw IOError(errnoCode: errno, reason: "epoll_ctl")
            }
            listeners[token] = (fd, context)
            return token
        }
        demand()
        return token
    }

    /// Stops listening and closes the socket.
    func removeListener(_ token: UInt64) {
        listenerLock.withLock {
            guard let l = listeners.removeValue(forKey: token) else { return }
            var event = epoll_event()
            _ = epoll_ctl(epoll, EPOLL_CTL_DEL, l.fd, &event)
            close(l.fd)
        }
    }

    // MARK: parked connections

    /// Takes an idle connection (no partial command) off its thread: the epoll set watches it
    /// and the next leader serves it when bytes arrive. So a VM that holds its data
    /// connection for days costs a descriptor, not a thread. False if it cannot be watched
    /// (the caller goes on serving it).
    func park(_ fd: Int32, context: DataConnectionContext, byLeader: Bool = false) -> Bool {
        let added: Bool = listenerLock.withLock {
            let token = nextToken
            nextToken += 1
            var event = epoll_event()
            event.events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLONESHOT.rawValue
            event.data.u64 = token
            guard epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0 else { return false }
            parked[token] = (fd, context)
            return true
        }
        // The leader goes back to epoll_wait itself: nobody else is needed.
        if added && !byLeader { demand() }
        return added
    }

    // MARK: connections handed in

    /// Serves an already connected stream socket (SET_DATAFD) on a thread of the pool.
    /// Takes ownership of `fd`.
    func serve(_ fd: Int32, context: DataConnectionContext) {
        help(
            monitor.withLock {
                jobs.append((fd, context))
                return demandLocked()
            })
    }

    // MARK: the pool

    /// Someone must take leadership or a job: wake an idle thread not yet spoken for, or
    /// start one.
    private func demand() { help(monitor.withLock { demandLocked() }) }

    private enum Help {
        case signal
        case spawn
    }

    /// Under `monitor`: books the help `demand` needs; `help` gives it after the lock is
    /// released, so the woken thread does not find the lock still held (a futex round trip
    /// per connection otherwise).
    private func demandLocked() -> Help {
        if idle - signalled > 0 {
            signalled += 1
            return .signal
        }
        return .spawn
    }

    private func help(_ h: Help) {
        switch h {
        case .signal: monitor.signal()
        case .spawn: spawn()
        }
    }

    private func spawn() {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, DataPlane.stackSize)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let argument = Unmanaged.passRetained(self).toOpaque()
        let created = pthread_create(
            &thread, &attributes,
            { argument in
                guard let argument else { return nil }
                Unmanaged<DataPlane>.fromOpaque(argument).takeRetainedValue().work()
                return nil
            }, argument)
        if created != 0 {
            // No thread: the work waits for one of the running threads to come back.
            Unmanaged<DataPlane>.fromOpaque(argument).release()
        }
    }

    private enum Task {
        case lead
        case job(Int32, DataConnectionContext)
        case exit
    }

    /// A pool thread: leads (accepts) or serves, then comes back for more.
    private func work() {
        while true {
            let task: Task = monitor.withLock {
                while true {
                    if !hasLeader && hasWatched() {
                        hasLeader = true
                        return .lead
                    }
                    if !jobs.isEmpty {
                        let j = jobs.removeFirst()
                        return .job(j.fd, j.context)
                    }
                    if idle >= DataPlane.maxIdle { return .exit }
                    idle += 1
                    monitor.wait()
                    idle -= 1
                    if signalled > 0 { signalled -= 1 }
                }
            }
            switch task {
            case .exit: return
            case .job(let fd, let context): DataConnection.serve(fd, context: context)
            case .lead:
                var leading = true
                while leading {
                    let (fd, context, resumed) = lead()
                    // accept4 without SOCK_NONBLOCK gives a blocking socket.
                    if leaderServes.load(ordering: .relaxed) {
                        leading = DataConnection.serve(fd, context: context, registered: resumed, blocking: true, leader: self)
                    } else {
                        passLeadership()
                        DataConnection.serve(fd, context: context, registered: resumed, blocking: true)
                        leading = false
                    }
                }
            }
        }
    }

    /// The leader gives up its turn at the epoll set: an idle thread takes it (or a new one).
    fileprivate func passLeadership() {
        help(
            monitor.withLock {
                hasLeader = false
                return demandLocked()
            })
    }

    /// The epoll set's descriptor, readable when a listener or a parked connection has
    /// something for the leader (a leader serving a connection watches it with poll(2)).
    fileprivate var watchDescriptor: Int32 { epoll }

    /// Whether the epoll set watches anything (no leader is needed before that).
    private func hasWatched() -> Bool { listenerLock.withLock { !listeners.isEmpty || !parked.isEmpty } }

    /// Waits for a new connection on any listener (accepted) or bytes on a parked connection
    /// (taken out of the set). `resumed`: a parked connection, already registered with its server.
    private func lead() -> (fd: Int32, context: DataConnectionContext, resumed: Bool) {
        var event = epoll_event()
        while true {
            let n = epoll_wait(epoll, &event, 1, -1)
            guard n == 1 else { continue }
            let token = event.data.u64
            let ready: (Int32, DataConnectionContext, Bool)? = listenerLock.withLock {
                // Under the lock: the listener cannot be closed (and its number reused) meanwhile.
                if let l = listeners[token] {
                    let fd = accept4(l.fd, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
                    return fd >= 0 ? (fd, l.context, false) : nil
                }
                guard let c = parked.removeValue(forKey: token) else { return nil }
                var unused = epoll_event()
                _ = epoll_ctl(epoll, EPOLL_CTL_DEL, c.fd, &unused)
                return (c.fd, c.context, true)
            }
            if let ready { return ready }
        }
    }
}

/// One raw data connection, served on the calling thread until it ends.
enum DataConnection {
    /// Commands are framed in a bounded buffer: one command with the TCG prefix at most, plus
    /// what one read may add.
    static let readSize = 4096

    /// A connection with no command for this long is parked (`DataPlane.park`): its thread
    /// goes back to the pool.
    static let idleMilliseconds = 1000

    /// `registered`: a parked connection coming back (already in its server's set, set up).
    /// `blocking`: the descriptor is known to be in blocking mode (accepted here).
    /// `leader`: the calling thread holds the turn at that data plane's epoll set
    /// (`DataPlane.servesOneTPM`): it waits for this connection and the set together, and
    /// passes the turn on when the set has work. Returns whether it still holds the turn.
    @discardableResult
    static func serve(
        _ fd: Int32, context: DataConnectionContext, registered: Bool = false, blocking: Bool = false, leader: DataPlane? = nil
    ) -> Bool {
        var leading = leader != nil
        var fds = [
            pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: leader?.watchDescriptor ?? -1, events: Int16(POLLIN), revents: 0),
        ]
        /// Waits until `fd` is readable while leading: false when the connection stayed idle for
        /// the idle time. Passes the turn on (and stops leading) when the epoll set has work.
        func awaitCommand() -> Bool {
            while true {
                let n = poll(&fds, 2, Int32(idleMilliseconds))
                if n == 0 { return false }
                if n < 0 { if errno == EINTR { continue } else { return true } }
                // The connection first: its end (a client that connects per command closes
                // before it connects again) brings the leader back to the set at once.
                if fds[0].revents == 0 && fds[1].revents != 0 {
                    leader!.passLeadership()
                    leading = false
                }
                return true  // readable (or hung up: the read says which), or no longer leading
            }
        }
        if !registered {
            guard context.connections.add(fd) else {
                close(fd)
                return leading
            }
            // Blocking I/O on this thread (a descriptor passed by SET_DATAFD may be
            // non-blocking); a read waiting longer than the idle time returns EAGAIN.
            if !blocking { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) }
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            var idle = timeval(tv_sec: idleMilliseconds / 1000, tv_usec: (idleMilliseconds % 1000) * 1000)
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, socklen_t(MemoryLayout<timeval>.size))
        }
        var parked = false
        defer {
            if !parked {
                context.connections.remove(fd)
                close(fd)
                context.events.dataConnectionClosed()
            }
        }
        var framer = TPMCommandFramer()
        var buffer = [UInt8](repeating: 0, count: readSize)
        let instance = context.instance
        // ResponsePolling: when the last response went out (0: no read since then yet) and
        // whether the client's last gap was short enough to poll for the next command.
        var respondedAt: UInt64 = 0
        var polling = false
        while true {
            while let frame = framer.next() {
                switch frame {
                case .command(let c):
                    let response = instance.sync { core in
                        // A prefixed command sets the locality for what follows, as in swtpm.
                        if let l = c.locality { core.locality = l }
                        return TPMCommandFramer.reply(core.execute(locality: core.locality, command: c.command), prefixed: c.prefixed)
                    }
                    guard write(fd, response), !context.disconnectAfterReply else { return leading }
                    respondedAt = Monitor.now()
                case .badSize(let prefixed):
                    _ = write(fd, TPMCommandFramer.badSizeReply(prefixed: prefixed))
                    return leading
                }
            }
            if framer.hasPartialCommand && leading {
                // The rest of a command may take seconds: not while holding the turn.
                leader!.passLeadership()
                leading = false
            }
            if framer.hasPartialCommand {
                // Part of a command is here: the rest must come within the timeout.
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&p, 1, context.partialTimeoutMilliseconds)
                if ready == 0 {
                    _ = write(fd, TPM.errorResponse(.commandSize))
                    return leading
                }
                if ready < 0 && errno != EINTR { return leading }
            }
            if polling && respondedAt != 0 && !framer.hasPartialCommand,
                let n = buffer.withUnsafeMutableBytes({ ResponsePolling.read(fd, into: $0, since: respondedAt) })
            {
                respondedAt = 0
                guard n > 0 else { return leading }
                framer.append(buffer[0..<n])
                continue
            }
            if leading && !awaitCommand() {
                // Idle for the idle time: parked, and the leader goes back to the epoll set.
                if DataPlane.shared.park(fd, context: context, byLeader: true) {
                    parked = true
                    return leading
                }
                leader!.passLeadership()
                leading = false
                continue
            }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 && respondedAt != 0 {
                polling = ResponsePolling.worthPolling(gapNanoseconds: Monitor.now() - respondedAt)
                respondedAt = 0
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                // Idle (SO_RCVTIMEO) or a partial command's poll saw bytes a read did not get.
                if framer.hasPartialCommand { continue }
                if DataPlane.shared.park(fd, context: context) {
                    parked = true
                    return leading
                }
                continue
            }
            guard n > 0 else { return leading }
            framer.append(buffer[0..<n])
        }
    }

    /// Writes all of `bytes`; false when the peer is gone.
    static func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return false
            }
        }
        return true
    }
}
