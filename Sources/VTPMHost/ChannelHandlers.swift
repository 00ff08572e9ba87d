import NIOCore
import TPMEngine

/// What a connection handler asks of its server.
struct ConnectionEvents: Sendable {
    /// The client asked the process to exit (swtpm CMD_SHUTDOWN, mssim STOP).
    var terminate: @Sendable () -> Void = {}
    /// A data connection ended (swtpm `--terminate` exits then).
    var dataConnectionClosed: @Sendable () -> Void = {}
}

/// The plumbing every protocol handler shares: requests go to the instance's queue in
/// arrival order and their replies come back in that order; no more bytes are read while
/// replies are pending (backpressure: a client that never reads cannot make us queue
/// unbounded replies); a request left incomplete closes the connection after a timeout, so
/// a stalled or lying client holds nothing for long. Subclasses feed their framer in
/// `received` and call `reply`.
class OrderedReplyHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum After { case keepOpen, close, terminate }

    let instance: Instance
    let events: ConnectionEvents
    let partialTimeout: TimeAmount
    private var inFlight = 0
    private var readPending = false
    /// No further requests are taken: the connection closes once pending replies are out.
    private(set) var closing = false
    private var timer: Scheduled<Void>?
    private var lastWrite: EventLoopFuture<Void>?

    init(instance: Instance, events: ConnectionEvents, partialTimeout: TimeAmount) {
        self.instance = instance
        self.events = events
        self.partialTimeout = partialTimeout
    }

    /// Feeds the bytes of one read to the framer and dispatches the requests it completes.
    func received(context: ChannelHandlerContext, bytes: ByteBufferView) {}
    /// Whether the framer holds an incomplete request.
    var hasPartialRequest: Bool { false }
    /// What to send (if anything) when an incomplete request times out, before closing.
    func timeoutReply() -> [UInt8]? { nil }

    /// Runs `body` on the instance after the requests before it and sends its reply. `slow`
    /// requests (key generation) never run on the event loop, so other instances served by
    /// the same loop are not held up.
    final func dispatch(
        context: ChannelHandlerContext, slow: Bool = false, _ body: @escaping @Sendable (InstanceCore) -> ([UInt8], After)
    ) {
        inFlight += 1
        instance.submit(on: context.eventLoop, slow: slow, body).assumeIsolated().whenSuccess { reply, after in
            self.replied(context: context, reply: reply, after: after)
        }
    }

    /// Stops taking requests; the connection closes after the replies already pending
    /// (and `reply`, if any).
    final func finish(context: ChannelHandlerContext, reply: [UInt8] = [], after: After = .close) {
        dispatch(context: context) { _ in (reply, after) }
        closing = true
    }

    private func replied(context: ChannelHandlerContext, reply: [UInt8], after: After) {
        inFlight -= 1
        guard context.channel.isActive else { return }
        if !reply.isEmpty { lastWrite = context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: reply))) }
        switch after {
        case .keepOpen:
            if inFlight == 0 && readPending && !closing {
                readPending = false
                context.read()
            }
            armTimer(context: context)
        case .close, .terminate:
            closing = true
            let close = {
                context.close(promise: nil)
                if after == .terminate { self.events.terminate() }
            }
            // Closing drops writes not yet on the wire: close once the last one is out.
            if let lastWrite { lastWrite.assumeIsolated().whenComplete { _ in close() } } else { close() }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard !closing else { return }
        timer?.cancel()
        timer = nil
        received(context: context, bytes: buffer.readableBytesView)
        armTimer(context: context)
    }

    func read(context: ChannelHandlerContext) {
        if inFlight > 0 || closing { readPending = !closing } else { context.read() }
    }

    private func armTimer(context: ChannelHandlerContext) {
        guard timer == nil, !closing, hasPartialRequest else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: partialTimeout) {
            self.timer = nil
            guard !self.closing, self.hasPartialRequest else { return }
            if self.inFlight > 0 {
                // We are the ones not reading; the client is not stalled.
                self.armTimer(context: context)
                return
            }
            self.finish(context: context, reply: self.timeoutReply() ?? [])
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        closing = true
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// swtpm's control channel.
final class ControlHandler: OrderedReplyHandler {
    private var framer = ControlFramer()
    let options: ControlChannel.Options

    init(
        instance: Instance, events: ConnectionEvents, options: ControlChannel.Options,
        partialTimeout: TimeAmount = .milliseconds(ControlFramer.timeoutMilliseconds)
    ) {
        self.options = options
        super.init(instance: instance, events: events, partialTimeout: partialTimeout)
    }

    override func received(context: ChannelHandlerContext, bytes: ByteBufferView) {
        framer.append(bytes)
        while !closing, let message = framer.next() {
            let options = self.options
            let failed = framer.isFailed
            dispatch(context: context) { core in
                let (reply, disposition) = ControlChannel.handle(message, core: core, options: options)
                switch disposition {
                case .keepOpen: return (reply, failed ? .close : .keepOpen)
                case .close: return (reply, .close)
                case .terminate: return (reply, .terminate)
                }
            }
            if failed { finish(context: context) }
        }
        if framer.isFailed && !closing { finish(context: context) }
    }

    override var hasPartialRequest: Bool { framer.hasPartialMessage }
}

/// The mssim command port.
final class MSSimTPMHandler: OrderedReplyHandler {
    private var framer = MSSimTPMFramer()

    override func received(context: ChannelHandlerContext, bytes: ByteBufferView) {
        framer.append(bytes)
        while !closing, let event = framer.next() {
            switch event {
            case .command(let locality, let command):
                dispatch(context: context, slow: Instance.isSlow(command)) { core in
                    // Without power the reference simulator answers with an empty response.
                    let response = core.isRunning ? core.execute(locality: locality, command: command) : []
                    return (MSSim.commandReply(response), .keepOpen)
                }
            case .oversizedCommand:
                dispatch(context: context) { core in
                    (MSSim.commandReply(core.isRunning ? TPM.errorResponse(.commandSize) : []), .keepOpen)
                }
            case .handshake(let version):
                if version == 0 {
                    finish(context: context)
                } else {
                    dispatch(context: context) { _ in (MSSim.handshakeReply, .keepOpen) }
                }
            case .sessionEnd, .unknown:
                finish(context: context)
            case .stop:
                finish(context: context, after: .terminate)
            }
        }
    }

    override var hasPartialRequest: Bool { framer.hasPartialMessage }
}

/// The mssim platform port.
final class MSSimPlatformHandler: OrderedReplyHandler {
    private var framer = MSSimPlatformFramer()

    override func received(context: ChannelHandlerContext, bytes: ByteBufferView) {
        framer.append(bytes)
        while !closing, let code = framer.next() {
            switch code {
            case MSSim.Code.sessionEnd, MSSim.Code.stop:
                // STOP ends the reference simulator's platform service, not its TPM: here
                // it ends this connection.
                finish(context: context)
            default:
                dispatch(context: context) { core in MSSimPlatformHandler.signal(code, core: core) }
            }
        }
    }

    /// One platform signal. The reference simulator acknowledges each with u32 0, and an
    /// unknown one with u32 1 before closing.
    static func signal(_ code: UInt32, core: InstanceCore) -> ([UInt8], After) {
        switch code {
        case MSSim.Code.powerOn:
            // Harmless when already on: tpm2-tss sends it on every connect.
            guard !core.isRunning else { return (MSSim.ack, .keepOpen) }
            return powerOn(core)
        case MSSim.Code.reset:
            // _TPM_Init without a power cycle; ignored without power, as in the reference.
            guard core.isRunning else { return (MSSim.ack, .keepOpen) }
            return powerOn(core)
        case MSSim.Code.powerOff:
            core.powerOff()
            return (MSSim.ack, .keepOpen)
        case MSSim.Code.physicalPresenceOn, MSSim.Code.physicalPresenceOff:
            core.setPhysicalPresence(code == MSSim.Code.physicalPresenceOn)
            return (MSSim.ack, .keepOpen)
        case MSSim.Code.cancelOn, MSSim.Code.cancelOff, MSSim.Code.nvOn, MSSim.Code.nvOff:
            // Accepted without effect: a command always runs to completion before the next
            // signal is handled, and NV stays available (see docs/servers.md).
            return (MSSim.ack, .keepOpen)
        default:
            core.log.error("unknown platform signal \(code)")
            return (MSSim.platformNak, .close)
        }
    }

    private static func powerOn(_ core: InstanceCore) -> ([UInt8], After) {
        do {
            try core.powerOn(resumeVolatile: false)
            return (MSSim.ack, .keepOpen)
        } catch {
            core.log.error("cannot power on the TPM: \(error)")
            return (MSSim.platformNak, .keepOpen)
        }
    }

    override var hasPartialRequest: Bool { framer.hasPartialMessage }
}
