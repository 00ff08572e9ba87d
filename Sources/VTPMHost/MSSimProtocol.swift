import TPMEngine
import TPMWire

/// The TCP protocol of the TPM 2.0 reference simulator ("mssim"; TpmTcpProtocol.h of the
/// TCG reference code), spoken by tpm2-tss's `mssim` TCTI: a command port P and a platform
/// port P+1, every field big-endian.
public enum MSSim {
    /// Interface command words.
    public enum Code {
        public static let powerOn: UInt32 = 1
        public static let powerOff: UInt32 = 2
        public static let physicalPresenceOn: UInt32 = 3
        public static let physicalPresenceOff: UInt32 = 4
        public static let sendCommand: UInt32 = 8
        public static let cancelOn: UInt32 = 9
        public static let cancelOff: UInt32 = 10
        public static let nvOn: UInt32 = 11
        public static let nvOff: UInt32 = 12
        public static let remoteHandshake: UInt32 = 15
        public static let reset: UInt32 = 17
        public static let sessionEnd: UInt32 = 20
        public static let stop: UInt32 = 21
    }

    /// REMOTE_HANDSHAKE answer: server version 1 and the end-point flags tpmPlatformAvailable
    /// (0x01) | tpmInRawMode (0x04) | tpmSupportsPP (0x08), as the reference simulator.
    public static let serverVersion: UInt32 = 1
    public static let endpointFlags: UInt32 = 0x01 | 0x04 | 0x08

    /// A SEND_COMMAND whose length is above MAX_COMMAND_SIZE is read past and answered
    /// with TPM_RC_COMMAND_SIZE; beyond this length (the reference simulator's own buffer,
    /// 1 MiB) the client is not speaking the protocol and the connection is closed.
    public static let maxSkippedCommand = 1 << 20

    static func u32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
    }

    /// {u32 length, response, u32 0}: SEND_COMMAND's answer. A TPM without power answers
    /// with an empty response, as the reference simulator does.
    public static func commandReply(_ response: [UInt8]) -> [UInt8] {
        var w = TPMWriter(capacity: response.count + 8)
        w.u32(UInt32(response.count))
        w.bytes(response)
        w.u32(0)
        return w.bytes
    }

    public static let handshakeReply = u32(serverVersion) + u32(endpointFlags) + u32(0)
    public static let ack = u32(0)
    /// What the reference platform server sends for a command it does not know, before it
    /// closes the connection.
    public static let platformNak = u32(1)
}

/// What arrives on the mssim command port.
public enum MSSimTPMEvent: Equatable, Sendable {
    case command(locality: UInt8, command: [UInt8])
    /// A SEND_COMMAND longer than MAX_COMMAND_SIZE, fully read past: answer
    /// TPM_RC_COMMAND_SIZE.
    case oversizedCommand
    case handshake(clientVersion: UInt32)
    /// SESSION_END: the client is done; close without an answer.
    case sessionEnd
    /// STOP: the client asks the simulator to exit.
    case stop
    /// Anything else: the reference simulator closes the connection.
    case unknown(UInt32)
}

/// Frames the mssim command port. Pure bytes in, events out.
public struct MSSimTPMFramer: Sendable {
    private var buffer = ByteQueue()
    /// Bytes of an oversized command still to be read past.
    private var skipping = 0
    private var finished = false

    public init() {}

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        guard !finished else { return }
        buffer.append(bytes)
    }

    public mutating func next() -> MSSimTPMEvent? {
        guard !finished else { return nil }
        if skipping > 0 {
            let n = min(skipping, buffer.count)
            buffer.skip(n)
            skipping -= n
            return skipping == 0 ? .oversizedCommand : nil
        }
        guard let code = buffer.u32(at: 0) else { return nil }
        switch code {
        case MSSim.Code.sendCommand:
            guard let locality = buffer.u8(at: 4), let length = buffer.u32(at: 5) else { return nil }
            if Int(length) > MSSim.maxSkippedCommand { return finish(.unknown(code)) }
            if Int(length) > TPMLimits.maxCommandSize {
                buffer.skip(9)
                skipping = Int(length)
                return next()
            }
            guard buffer.count >= 9 + Int(length) else { return nil }
            buffer.skip(9)
            return .command(locality: locality, command: buffer.take(Int(length)))
        case MSSim.Code.remoteHandshake:
            guard let version = buffer.u32(at: 4) else { return nil }
            buffer.skip(8)
            return .handshake(clientVersion: version)
        case MSSim.Code.sessionEnd:
            return finish(.sessionEnd)
        case MSSim.Code.stop:
            return finish(.stop)
        default:
            return finish(.unknown(code))
        }
    }

    /// Events after which the connection ends: nothing that follows is read.
    private mutating func finish(_ e: MSSimTPMEvent) -> MSSimTPMEvent {
        finished = true
        buffer.removeAll()
        return e
    }

    public var hasPartialMessage: Bool { !finished && (skipping > 0 || !buffer.isEmpty) }
}

/// Frames the mssim platform port: a stream of u32 signals.
public struct MSSimPlatformFramer: Sendable {
    private var buffer = ByteQueue()
    public init() {}

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 { buffer.append(bytes) }

    public mutating func next() -> UInt32? {
        guard let code = buffer.u32(at: 0) else { return nil }
        buffer.skip(4)
        return code
    }

    public var hasPartialMessage: Bool { !buffer.isEmpty }
    public mutating func removeAll() { buffer.removeAll() }
}
