import CoreMetrics
import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Prometheus
import TPMWire

/// The daemon's metrics (`vtpm serve --metrics HOST:PORT`), through the swift-metrics API
/// backed by a swift-prometheus registry:
///
/// - `vtpm_instances` (gauge): instances the daemon serves;
/// - `vtpm_commands_total{command="TPM2_..."}`: commands executed, by command;
/// - `vtpm_command_errors_total{command="TPM2_..."}`: those answered with an error code;
/// - `vtpm_command_duration_seconds` (histogram): the engine's time per command;
/// - `vtpm_evictions_total`, `vtpm_evicted_reloads_total`: idle engines written out of memory
///   (`--idle-evict`) and brought back by their next command.
///
/// Off unless enabled: `InstanceCore.execute` then pays one load of a flag.
public final class HostMetrics: Sendable {
    public static let shared = HostMetrics()
    private let state = NIOLockedValueBox<State>(State())
    public let registry = PrometheusCollectorRegistry()

    struct State {
        var enabled = false
        var factory: PrometheusMetricsFactory?
        var commands: [UInt32: (ok: CoreMetrics.Counter, errors: CoreMetrics.Counter)] = [:]
        var duration: CoreMetrics.Timer?
        var instances: CoreMetrics.Gauge?
        var evictions: CoreMetrics.Counter?
        var reloads: CoreMetrics.Counter?
    }

    /// Whether metrics are being collected (read on every command).
    public var enabled: Bool { state.withLockedValue { $0.enabled } }

    public func enable() {
        state.withLockedValue { s in
            guard !s.enabled else { return }
            var factory = PrometheusMetricsFactory(registry: registry)
            factory.defaultDurationHistogramBuckets = [
                .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250),
                .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100),
                .milliseconds(500), .seconds(2),
            ]
            s.factory = factory
            s.duration = CoreMetrics.Timer(label: "vtpm_command_duration_seconds", dimensions: [], factory: factory)
            s.instances = CoreMetrics.Gauge(label: "vtpm_instances", dimensions: [], factory: factory)
            s.evictions = CoreMetrics.Counter(label: "vtpm_evictions_total", dimensions: [], factory: factory)
            s.reloads = CoreMetrics.Counter(label: "vtpm_evicted_reloads_total", dimensions: [], factory: factory)
            s.enabled = true
        }
    }

    /// Records one command: its code (from the command bytes), whether the response was an
    /// error, and the engine's time.
    func record(command: [UInt8], response: [UInt8], nanoseconds: UInt64) {
        guard command.count >= 10 else { return }
        let cc = command[6..<10].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let failed = response.count >= 10 && response[6..<10].contains { $0 != 0 }
        let (counters, duration) = state.withLockedValue {
            s -> ((ok: CoreMetrics.Counter, errors: CoreMetrics.Counter)?, CoreMetrics.Timer?) in
            guard s.enabled, let factory = s.factory else { return (nil, nil) }
            if let c = s.commands[cc] { return (c, s.duration) }
            // Only defined codes get their own label (a hostile guest cannot grow the label set).
            let known = TPMCC.specificationNames.first { $0.0 == TPMCC(cc) }.map { "TPM2_" + $0.1 }
            let name = known ?? "other"
            let c = (
                ok: CoreMetrics.Counter(label: "vtpm_commands_total", dimensions: [("command", name)], factory: factory),
                errors: CoreMetrics.Counter(label: "vtpm_command_errors_total", dimensions: [("command", name)], factory: factory)
            )
            if known != nil { s.commands[cc] = c }
            return (c, s.duration)
        }
        guard let counters else { return }
        counters.ok.increment()
        if failed { counters.errors.increment() }
        duration?.recordNanoseconds(Int64(nanoseconds))
    }

    func recordEviction() { state.withLockedValue { $0.evictions }?.increment() }
    func recordReload() { state.withLockedValue { $0.reloads }?.increment() }

    func setInstances(_ n: Int) {
        state.withLockedValue { $0.instances }?.record(n)
    }

    /// The Prometheus text exposition of everything recorded.
    public func exposition() -> [UInt8] {
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }
}

/// A minimal HTTP/1.1 responder for Prometheus scrapes: `GET /metrics` gets the exposition,
/// anything else 404; one request per connection, requests bounded to 8 KiB.
public final class MetricsServer: @unchecked Sendable {
    // @unchecked: `channel` is set once in init.
    private var channel: (any Channel)?

    public init(host: String, port: Int, metrics: HostMetrics, group: any EventLoopGroup) throws {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(metrics: metrics))
                }
            }
        channel = try bootstrap.bind(host: host, port: port).wait()
    }

    public var localPort: Int? { channel?.localAddress?.port }

    public func close() { try? channel?.close().wait() }
}

final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let metrics: HostMetrics
    private var request: [UInt8] = []
    private var answered = false

    init(metrics: HostMetrics) { self.metrics = metrics }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        request.append(contentsOf: unwrapInboundIn(data).readableBytesView)
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        let complete = request.count >= 4 && (0...(request.count - 4)).contains { Array(request[$0..<($0 + 4)]) == end }
        guard complete || request.count > 8192 else { return }
        answered = true
        let line = String(decoding: request.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
        let parts = line.split(separator: " ")
        let status: String
        var body: [UInt8]
        var type = "text/plain; charset=utf-8"
        if request.count > 8192 {
            status = "431 Request Header Fields Too Large"
            body = Array("request too large\n".utf8)
        } else if parts.count == 3, parts[0] == "GET", parts[1] == "/metrics" || parts[1].hasPrefix("/metrics?") {
            status = "200 OK"
            body = metrics.exposition()
            type = "text/plain; version=0.0.4; charset=utf-8"
        } else {
            status = "404 Not Found"
            body = Array("only GET /metrics is served here\n".utf8)
        }
        let head = "HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        body = Array(head.utf8) + body
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: body))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}
