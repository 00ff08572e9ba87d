#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Carries one TPM command to a TPM and brings its response back. Not thread-safe: a transport
/// belongs to one caller (one `TPMClient`), which sends one command at a time.
public protocol TPMTransport: AnyObject {
    func transmit(_ command: [UInt8]) throws(TransportError) -> [UInt8]
}

public enum TransportError: Error, Hashable, Sendable, CustomStringConvertible {
    case resolve(String, String)
    case connect(String, String)
    case io(String, String)
    case closed
    case timeout
    /// The peer broke its framing protocol (wrong size, non-zero acknowledgement...).
    case protocolError(String)

    public var description: String {
        switch self {
        case .resolve(let h, let why): return "cannot resolve \(h): \(why)"
        case .connect(let what, let why): return "cannot connect to \(what): \(why)"
        case .io(let op, let why): return "\(op) failed: \(why)"
        case .closed: return "the TPM closed the connection"
        case .timeout: return "the TPM did not answer in time"
        case .protocolError(let why): return "TPM transport protocol error: \(why)"
        }
    }
}

/// Limits of what a transport accepts from a TPM (a TPM response is at most a few KiB;
/// TPM_PT_MAX_RESPONSE_SIZE is 4096 on libtpms and on ours).
public enum TransportLimits {
    public static let maxResponseSize = 1 << 16
    public static let headerSize = 10
    public static let timeoutSeconds = 60
}

/// Opens the transport a TCTI names.
public func openTransport(_ tcti: TCTI) throws(TransportError) -> TPMTransport {
    switch tcti {
    case .device(let path): return try DeviceTransport(path: path)
    case .mssim(let host, let port): return try MSSimTransport(host: host, port: port)
    case .swtpm(let host, let port): return SwtpmTransport(host: host, port: port)
    case .unix(let path): return try UnixTransport(path: path)
    }
}

/// The size field of a response header (Part 1, 18.2: tag u16, size u32, code u32), checked.
func responseSize(header: [UInt8]) throws(TransportError) -> Int {
    guard header.count >= TransportLimits.headerSize else { throw .protocolError("response shorter than its header") }
    let size = Int(header[2]) << 24 | Int(header[3]) << 16 | Int(header[4]) << 8 | Int(header[5])
    guard size >= TransportLimits.headerSize, size <= TransportLimits.maxResponseSize else {
        throw .protocolError("response size \(size) out of range")
    }
    return size
}

/// Reads one response framed by its own header's size field (swtpm's data channel, Unix sockets).
func readFramedResponse(_ s: StreamSocket) throws(TransportError) -> [UInt8] {
    let header = try s.readExact(TransportLimits.headerSize)
    let size = try responseSize(header: header)
    return header + (try s.readExact(size - TransportLimits.headerSize))
}

/// A kernel TPM device: write the command, read the whole response in one read (the kernel
/// driver's contract).
public final class DeviceTransport: TPMTransport {
    private var fd: Int32
    public init(path: String) throws(TransportError) {
        fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw .connect(path, errnoString(errno)) }
    }
    deinit { _ = systemClose(fd) }

    public func transmit(_ command: [UInt8]) throws(TransportError) -> [UInt8] {
        let written = command.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == command.count else { throw .io("write", errnoString(errno)) }
        var buffer = [UInt8](repeating: 0, count: TransportLimits.maxResponseSize)
        var n: Int
        repeat {
            n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        } while n < 0 && errno == EINTR
        guard n >= 0 else { throw .io("read", errnoString(errno)) }
        let response = Array(buffer[0..<n])
        guard try responseSize(header: response) == n else { throw .protocolError("device response size mismatch") }
        return response
    }
}

/// The reference simulator's TCP protocol (tpm2-tss `mssim`): TPM_SEND_COMMAND {u32 8, u8 locality,
/// u32 length, command} answered by {u32 length, response, u32 0}; on opening, the platform port
/// (port + 1) gets TPM_SIGNAL_POWER_ON and TPM_SIGNAL_NV_ON (each acknowledged with u32 0), as
/// tpm2-tss does: both are harmless when the simulator already runs.
///
/// Simulators serve one connection at a time, so by default each command has its own connection
/// (ended with TPM_SESSION_END) and other clients (tpm2-tools) get their turn between commands;
/// `persistent` keeps one connection for a client that owns the simulator.
public final class MSSimTransport: TPMTransport {
    public enum Code {
        public static let powerOn: UInt32 = 1
        public static let powerOff: UInt32 = 2
        public static let sendCommand: UInt32 = 8
        public static let nvOn: UInt32 = 11
        public static let sessionEnd: UInt32 = 20
    }
    public var locality: UInt8 = 0
    private let host: String
    private let port: UInt16
    private let persistent: Bool
    private var socket: StreamSocket?

    public init(host: String, port: UInt16, powerOn: Bool = true, persistent: Bool = false) throws(TransportError) {
        self.host = host
        self.port = port
        self.persistent = persistent
        if powerOn { try Self.platform(host: host, port: port, [Code.powerOn, Code.nvOn]) }
    }

    deinit { end() }

    private func end() {
        if let s = socket {
            try? s.writeAll(u32Bytes(Code.sessionEnd))
            s.close()
        }
        socket = nil
    }

    /// Sends platform signals on port + 1, each acknowledged with u32 0, then SESSION_END.
    public static func platform(host: String, port: UInt16, _ codes: [UInt32]) throws(TransportError) {
        let s = try StreamSocket.tcp(host: host, port: port + 1, timeoutSeconds: TransportLimits.timeoutSeconds)
        for code in codes {
            try s.writeAll(u32Bytes(code))
            let ack = try s.readU32()
            guard ack == 0 else { throw .protocolError("platform signal \(code) answered \(ack)") }
        }
        try s.writeAll(u32Bytes(Code.sessionEnd))
    }

    public static func sendCommandFrame(_ command: [UInt8], locality: UInt8) -> [UInt8] {
        u32Bytes(Code.sendCommand) + [locality] + u32Bytes(UInt32(command.count)) + command
    }

    public func transmit(_ command: [UInt8]) throws(TransportError) -> [UInt8] {
        let s: StreamSocket
        if let existing = socket {
            s = existing
        } else {
            s = try StreamSocket.tcp(host: host, port: port, timeoutSeconds: TransportLimits.timeoutSeconds)
            socket = s
        }
        defer { if !persistent { end() } }
        do {
            return try exchange(s, command)
        } catch {
            // A broken connection is not reused.
            end()
            throw error
        }
    }

    private func exchange(_ s: StreamSocket, _ command: [UInt8]) throws(TransportError) -> [UInt8] {
        try s.writeAll(Self.sendCommandFrame(command, locality: locality))
        let length = Int(try s.readU32())
        guard length >= TransportLimits.headerSize, length <= TransportLimits.maxResponseSize else {
            throw .protocolError("mssim response length \(length) out of range")
        }
        let response = try s.readExact(length)
        guard try responseSize(header: response) == length else { throw .protocolError("mssim response size mismatch") }
        let trailer = try s.readU32()
        guard trailer == 0 else { throw .protocolError("mssim trailer \(trailer), expected 0") }
        return response
    }
}

/// swtpm's TCP data channel (tpm2-tss `swtpm`): a raw command on a new connection, the response
/// framed by its header. The control channel (port + 1) speaks swtpm's ioctl protocol; `initialize`
/// sends CMD_INIT to a swtpm started without `not-need-init`.
public final class SwtpmTransport: TPMTransport {
    private let host: String
    private let port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public func transmit(_ command: [UInt8]) throws(TransportError) -> [UInt8] {
        let s = try StreamSocket.tcp(host: host, port: port, timeoutSeconds: TransportLimits.timeoutSeconds)
        try s.writeAll(command)
        return try readFramedResponse(s)
    }

    /// CMD_INIT (2) with flags 0 on the control channel; the answer is a u32 result, 0 = ok.
    public func initialize() throws(TransportError) {
        let s = try StreamSocket.tcp(host: host, port: port + 1, timeoutSeconds: TransportLimits.timeoutSeconds)
        try s.writeAll(u32Bytes(2) + u32Bytes(0))
        let result = try s.readU32()
        guard result == 0 else { throw .protocolError("swtpm CMD_INIT answered \(result)") }
    }
}

/// Raw commands over one Unix stream connection, responses framed by their headers.
public final class UnixTransport: TPMTransport {
    private let socket: StreamSocket
    public init(path: String) throws(TransportError) {
        socket = try StreamSocket.unix(path: path, timeoutSeconds: TransportLimits.timeoutSeconds)
    }

    public func transmit(_ command: [UInt8]) throws(TransportError) -> [UInt8] {
        try socket.writeAll(command)
        return try readFramedResponse(socket)
    }
}
