import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where a server listens.
public enum Endpoint: Equatable, Sendable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    /// A Unix socket; `mode` (e.g. 0o770, swtpm's default) is applied to the socket file.
    case unix(path: String, mode: mode_t)

    public var description: String {
        switch self {
        case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path, _): return path
        }
    }
}

/// The protocols a listener can speak.
public enum ServerProtocol: Sendable {
    /// swtpm's data channel; `disconnect` closes each connection after one reply.
    case swtpmData(disconnect: Bool)
    case swtpmControl(ControlChannel.Options)
    case mssimCommand
    case mssimPlatform
}

/// The listeners of one instance and the process's life around them: bind, serve, and on
/// SIGTERM/SIGINT or a client's shutdown request, stop listening and save the state.
public final class HostServer: @unchecked Sendable {
    // @unchecked: `channels` and `unixPaths` are only changed during setup on the
    // caller's thread and read after `waitForTermination` returns.
    /// The longest Unix socket path a listener takes: SwiftNIO refuses more than 103 bytes (the
    /// portable size of sockaddr_un's sun_path less the NUL), below Linux's 107.
    public static let maxUnixSocketPath = 103

    public let instance: Instance
    let log: HostLog
    private let group: MultiThreadedEventLoopGroup
    private let ownsGroup: Bool
    /// All listeners and connections live on this one loop: the TPM work runs on the
    /// instance's queue, the loop only moves bytes.
    private let loop: any EventLoop
    private var channels: [any Channel] = []
    /// Open connections, so shutdown can close them before the state is saved.
    private let connections: NIOLoopBoundBox<[ObjectIdentifier: any Channel]>
    private var unixPaths: [String] = []
    private var unixControlListeners: [UnixControlListener] = []
    /// Listening sockets of the raw data channel, served by the `DataPlane` (not SwiftNIO).
    private var dataListeners: [UInt64] = []
    /// Open raw data connections (listener-accepted and SET_DATAFD).
    private let dataConnections = DataConnections()
    /// A data command left incomplete this long without progress closes its connection.
    public var dataPartialTimeoutMilliseconds: Int32 = 5000
    /// The data connection handed over by SET_DATAFD, if one is attached (one at a time, as
    /// swtpm).
    private let adoptedData: NIOLockedValueBox<ObjectIdentifier?> = NIOLockedValueBox(nil)
    private let terminated: EventLoopPromise<Void>
    private let terminating: NIOLoopBoundBox<Bool>
    private var signalSources: [any DispatchSourceSignal] = []
    private var isShutDown = false
    /// `--terminate`: exit when a data connection ends.
    public var terminateOnDataDisconnect = false

    public init(instance: Instance, log: HostLog, group: MultiThreadedEventLoopGroup? = nil) {
        self.instance = instance
        self.log = log
        self.ownsGroup = group == nil
        self.group = group ?? MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = self.group.next()
        terminated = loop.makePromise(of: Void.self)
        terminating = .makeBoxSendingValue(false, eventLoop: loop)
        connections = .makeBoxSendingValue([:], eventLoop: loop)
    }

    /// Starts listening; returns the address bound (with the port chosen when 0 was asked).
    @discardableResult
    public func listen(_ endpoint: Endpoint, speaking proto: ServerProtocol) throws -> SocketAddress? {
        let instance = self.instance
        let events = ConnectionEvents(
            terminate: { [weak self] in self?.requestTermination() },
            dataConnectionClosed: { [weak self] in
                if self?.terminateOnDataDisconnect == true { self?.requestTermination() }
            })
        let connections = self.connections
        let bootstrap = ServerBootstrap(group: loop)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let id = ObjectIdentifier(channel)
                    connections.value[id] = channel
                    channel.closeFuture.whenComplete { _ in connections.value[id] = nil }
                    let handler: any ChannelHandler
                    switch proto {
                    case .swtpmData:
                        preconditionFailure("the data channel is served by the DataPlane")
                    case .swtpmControl(let options):
                        handler = ControlHandler(instance: instance, events: events, options: options)
                    case .mssimCommand:
                        handler = MSSimTPMHandler(instance: instance, events: events, partialTimeout: .seconds(5))
                    case .mssimPlatform:
                        handler = MSSimPlatformHandler(instance: instance, events: events, partialTimeout: .seconds(5))
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        if case .swtpmControl(var options) = proto, case .unix(let path, let mode) = endpoint {
            options.descriptorPassing = true
            let context = UnixControlListener.Context(
                instance: instance, options: options, events: events,
                adoptDataChannel: { [weak self] fd in self?.adoptDataChannel(fd) ?? false }, log: log)
            unixControlListeners.append(try UnixControlListener(path: path, mode: mode, context: context))
            log.info("listening on \(endpoint)")
            return nil
        }
        if case .swtpmData(let disconnect) = proto {
            let context = DataConnectionContext(
                instance: instance, events: events, disconnectAfterReply: disconnect,
                partialTimeoutMilliseconds: dataPartialTimeoutMilliseconds, connections: dataConnections)
            let fd: Int32
            var address: SocketAddress?
            switch endpoint {
            case .tcp(let host, let port):
                (fd, address) = try TCPSocket.listen(host: host, port: port)
            case .unix(let path, let mode):
                fd = try UnixSocket.listen(path: path, mode: mode)
                unixPaths.append(path)
            }
            do {
                dataListeners.append(try DataPlane.shared.addListener(fd, context: context))
            } catch {
                close(fd)
                throw error
            }
            log.info("listening on \(endpoint)")
            return address
        }
        let channel: any Channel
        switch endpoint {
        case .tcp(let host, let port):
            channel = try bootstrap.bind(host: host, port: port).wait()
        case .unix(let path, let mode):
            guard path.utf8.count <= Self.maxUnixSocketPath else {
                throw ManagementError(
                    "the socket path \(path) is \(path.utf8.count) bytes; at most \(Self.maxUnixSocketPath) are allowed: "
                        + "use a shorter directory")
            }
            channel = try bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).wait()
            unixPaths.append(path)
            chmod(path, mode)
        }
        channels.append(channel)
        log.info("listening on \(endpoint)")
        return channel.localAddress
    }

    /// Serves a data socket passed by SET_DATAFD (QEMU's end of a socketpair) as swtpm's data
    /// channel. Takes ownership of `fd` in every case. False when one is attached already or
    /// the descriptor is not a stream socket.
    func adoptDataChannel(_ fd: Int32) -> Bool {
        var type: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0, type == Int32(SOCK_STREAM.rawValue) else {
            log.error("SET_DATAFD: the descriptor passed is not a stream socket")
            close(fd)
            return false
        }
        let claimed = adoptedData.withLockedValue { current -> Bool in
            guard current == nil else { return false }
            current = ObjectIdentifier(self)  // placeholder until the channel exists
            return true
        }
        guard claimed else {
            close(fd)
            return false
        }
        let adoptedData = self.adoptedData
        let events = ConnectionEvents(
            terminate: { [weak self] in self?.requestTermination() },
            dataConnectionClosed: { [weak self] in
                adoptedData.withLockedValue { $0 = nil }
                // swtpm 0.7 waits for the next SET_DATAFD then, unless --terminate.
                if self?.terminateOnDataDisconnect == true { self?.requestTermination() }
            })
        let context = DataConnectionContext(
            instance: instance, events: events, disconnectAfterReply: false,
            partialTimeoutMilliseconds: dataPartialTimeoutMilliseconds, connections: dataConnections)
        DataPlane.shared.serve(fd, context: context)
        log.info("data channel attached by SET_DATAFD")
        return true
    }

    /// For a process that serves this one TPM only (`vtpm socket`): raw data connections are
    /// served by the thread that accepted them while nothing else waits (`DataPlane.servesOneTPM`).
    /// Call before listening.
    public static func servesOneTPM() { DataPlane.shared.servesOneTPM() }

    /// A listening error in a few words, as swtpm says it ("Address already in use").
    public static func describe(_ error: any Error) -> String {
        if let e = error as? IOError { return String(cString: strerror(e.errnoCode)) }
        return "\(error)"
    }

    /// Makes SIGTERM and SIGINT end the server gracefully.
    public func handleSignals() {
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in self?.requestTermination() }
            source.resume()
            signalSources.append(source)
        }
    }

    /// Asks the server to stop (from any thread, any number of times).
    public func requestTermination() {
        loop.execute { self.markTerminated() }
    }

    /// On the loop: completes the termination promise once.
    private func markTerminated() {
        guard !terminating.value else { return }
        terminating.value = true
        terminated.succeed(())
    }

    /// Blocks until termination is requested, then stops listening, closes connections,
    /// saves the state and releases the state directory. Not from an event loop.
    public func waitForTermination() {
        try? terminated.futureResult.wait()
        shutdown()
    }

    /// Stops listening and saves the state (what `waitForTermination` does after the
    /// request). Call it from one thread; calls after the first do nothing.
    public func shutdown() {
        guard !isShutDown else { return }
        isShutDown = true
        try? loop.submit { self.markTerminated() }.wait()
        for c in channels { try? c.close().wait() }
        channels.removeAll()
        for l in unixControlListeners { l.close() }
        unixControlListeners.removeAll()
        for token in dataListeners { DataPlane.shared.removeListener(token) }
        dataListeners.removeAll()
        dataConnections.closeAll()
        let connections = self.connections
        let loop = self.loop
        try? loop.flatSubmit {
            EventLoopFuture.andAllComplete(connections.value.values.map { $0.close() }, on: loop)
        }.wait()
        for p in unixPaths { unlink(p) }
        unixPaths.removeAll()
        instance.sync { core in
            do { try core.flush() } catch { log.error("cannot save the TPM state: \(error)") }
            core.powerOff()
        }
        for s in signalSources { s.cancel() }
        signalSources.removeAll()
        if ownsGroup { try? group.syncShutdownGracefully() }
        instance.sync { $0.store.release() }
    }
}
