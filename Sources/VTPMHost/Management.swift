import Dispatch
import Foundation
import NIOCore
import NIOPosix

/// The management API of `vtpm serve` (docs/management-api.md): one JSON object per line on
/// a Unix socket, each request answered by one line.
public struct ManagementRequest: Codable, Sendable, Equatable {
    /// create, destroy, suspend, resume, list, show, qemu-args, ping.
    public var op: String
    public var name: String?
    public var pcrBanks: [String]?
    public var mssimPort: Int?
    public var device: String?
    /// create: provision EKs and certificates (default true).
    public var ek: Bool?
    /// create: also serve a raw data socket, data.sock (default false: QEMU needs none).
    public var dataSocket: Bool?

    public init(
        op: String, name: String? = nil, pcrBanks: [String]? = nil, mssimPort: Int? = nil, device: String? = nil, ek: Bool? = nil,
        dataSocket: Bool? = nil
    ) {
        self.ek = ek
        self.dataSocket = dataSocket
        self.op = op
        self.name = name
        self.pcrBanks = pcrBanks
        self.mssimPort = mssimPort
        self.device = device
    }
}

public struct ManagementResponse: Codable, Sendable, Equatable {
    public var ok: Bool
    public var error: String?
    public var instance: InstanceStatus?
    public var instances: [InstanceStatus]?
    public var arguments: [String]?
    public var version: Int?

    public init(
        ok: Bool, error: String? = nil, instance: InstanceStatus? = nil, instances: [InstanceStatus]? = nil,
        arguments: [String]? = nil, version: Int? = nil
    ) {
        self.ok = ok
        self.error = error
        self.instance = instance
        self.instances = instances
        self.arguments = arguments
        self.version = version
    }

    static func failure(_ message: String) -> ManagementResponse { ManagementResponse(ok: false, error: message) }
}

public enum ManagementAPI {
    /// The protocol's version, answered by `ping`.
    public static let version = 1
    /// Longest request line accepted; a longer one closes the connection.
    public static let maxLine = 64 * 1024

    /// Answers one request line (any bytes: malformed input gets an error response).
    public static func handle(_ line: [UInt8], manager: InstanceManager) -> ManagementResponse {
        let request: ManagementRequest
        do {
            request = try JSONDecoder().decode(ManagementRequest.self, from: Data(line))
        } catch {
            return .failure("malformed request: expected one JSON object with an \"op\" field")
        }
        func need(_ name: String?) throws -> String {
            guard let name else { throw ManagementError("'\(request.op)' needs a \"name\"") }
            return name
        }
        do {
            switch request.op {
            case "ping":
                return ManagementResponse(ok: true, version: version)
            case "create":
                let name = try need(request.name)
                try manager.create(
                    name: name, pcrBanks: request.pcrBanks ?? ["sha256"], mssimPort: request.mssimPort, ek: request.ek ?? true,
                    dataSocket: request.dataSocket ?? false)
                return ManagementResponse(ok: true, instance: try manager.status(name: name))
            case "destroy":
                try manager.destroy(name: try need(request.name))
                return ManagementResponse(ok: true)
            case "suspend":
                let name = try need(request.name)
                try manager.suspend(name: name)
                return ManagementResponse(ok: true, instance: try manager.status(name: name))
            case "resume":
                let name = try need(request.name)
                try manager.resume(name: name)
                return ManagementResponse(ok: true, instance: try manager.status(name: name))
            case "show":
                return ManagementResponse(ok: true, instance: try manager.status(name: try need(request.name)))
            case "list":
                return ManagementResponse(ok: true, instances: manager.list())
            case "qemu-args":
                let args = try manager.qemuArguments(name: try need(request.name), device: request.device ?? "tpm-tis")
                return ManagementResponse(ok: true, arguments: args)
            default:
                return .failure("unknown operation '\(request.op)'")
            }
        } catch {
            return .failure("\(error)")
        }
    }
}

/// Serves the management API on a Unix socket (mode 0600 unless told otherwise).
/// Requests run off the event loop (they wait for instances), one connection's requests in
/// order.
public final class ManagementServer: @unchecked Sendable {
    // @unchecked: `channel` is set once in init.
    private var channel: (any Channel)?
    public let path: String

    public init(path: String, mode: mode_t = 0o600, manager: InstanceManager, group: any EventLoopGroup) throws {
        self.path = path
        let bootstrap = ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ManagementHandler(manager: manager))
                }
            }
        channel = try bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).wait()
        chmod(path, mode)
    }

    public func close() {
        try? channel?.close().wait()
        unlink(path)
    }
}

final class ManagementHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let manager: InstanceManager
    private var pending: [UInt8] = []
    private var busy = false
    private var lines: [[UInt8]] = []
    private let work = DispatchQueue(label: "vtpm.management.connection")

    init(manager: InstanceManager) { self.manager = manager }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        pending.append(contentsOf: buffer.readableBytesView)
        while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(Array(pending[..<nl]))
            pending.removeSubrange(...nl)
        }
        if pending.count > ManagementAPI.maxLine {
            let reply = Self.encode(.failure("request longer than \(ManagementAPI.maxLine) bytes"))
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: reply))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            pending.removeAll()
            lines.removeAll()
            return
        }
        next(context: context)
    }

    private func next(context: ChannelHandlerContext) {
        guard !busy, !lines.isEmpty else { return }
        busy = true
        let line = lines.removeFirst()
        let manager = self.manager
        let loop = context.eventLoop
        let boxed = NIOLoopBound((self, context), eventLoop: loop)
        work.async {
            let reply = Self.encode(ManagementAPI.handle(line, manager: manager))
            loop.execute {
                let (handler, context) = boxed.value
                handler.busy = false
                context.writeAndFlush(handler.wrapOutboundOut(ByteBuffer(bytes: reply)), promise: nil)
                handler.next(context: context)
            }
        }
    }

    static func encode(_ r: ManagementResponse) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(r)) ?? Data(#"{"ok":false,"error":"internal encoding error"}"#.utf8)
        return Array(data) + [UInt8(ascii: "\n")]
    }
}

/// The CLI's side: one request, one response.
public enum ManagementClient {
    public static func send(_ request: ManagementRequest, socket path: String) throws -> ManagementResponse {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ManagementError("cannot create a socket") }
        defer { Glibc.close(fd) }
        guard var address = UnixSocket.address(path) else { throw ManagementError("socket path too long: \(path)") }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            throw ManagementError("cannot reach the vtpm daemon at \(path): \(String(cString: strerror(errno))) (is 'vtpm serve' running?)")
        }
        var line = Array(try JSONEncoder().encode(request))
        line.append(UInt8(ascii: "\n"))
        var offset = 0
        while offset < line.count {
            let n = line[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw ManagementError("cannot send to the vtpm daemon: \(String(cString: strerror(errno)))") }
            offset += n
        }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !reply.contains(UInt8(ascii: "\n")) {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw ManagementError("the vtpm daemon closed the connection without answering") }
            reply += chunk[..<n]
            guard reply.count <= 16 << 20 else { throw ManagementError("answer too long") }
        }
        let end = reply.firstIndex(of: UInt8(ascii: "\n"))!
        return try JSONDecoder().decode(ManagementResponse.self, from: Data(reply[..<end]))
    }
}
