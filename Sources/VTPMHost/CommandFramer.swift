import TPMEngine
import TPMWire

/// A TPM command taken off swtpm's data channel.
public struct FramedCommand: Equatable, Sendable {
    public var command: [UInt8]
    /// The locality of a command that came with swtpm's TCG send-command prefix
    /// ({u32 TPM_SEND_COMMAND = 8, u8 locality, u32 length}), nil for a bare command.
    public var locality: UInt8?
    /// A prefixed command gets a prefixed reply ({u32 length, response, u32 0}).
    public var prefixed: Bool { locality != nil }

    public init(command: [UInt8], locality: UInt8? = nil) {
        self.command = command
        self.locality = locality
    }
}

public enum CommandFrame: Equatable, Sendable {
    case command(FramedCommand)
    /// The size in the header is below the 10-octet header or above MAX_COMMAND_SIZE. The
    /// stream has no other boundary, so the connection is answered with TPM_RC_COMMAND_SIZE
    /// (what libtpms answers for such a size) and closed.
    case badSize(prefixed: Bool)
}

/// Frames raw TPM 2.0 commands on a byte stream by the commandSize field of their header
/// (Part 1, 18.2; the swtpm data channel and /dev/tpm* carry them this way). Pure bytes in,
/// commands out: no sockets, so tests feed it any split of any input.
///
/// swtpm itself treats whatever one read() returns as one command; framing by size instead
/// handles commands split across TCP segments and several commands in one segment.
public struct TPMCommandFramer: Sendable {
    /// swtpm's prefix command word (the mssim TPM_SEND_COMMAND). A bare command starts with
    /// its tag, 0x8001 or 0x8002, so the two cannot be confused.
    public static let sendCommand: UInt32 = 8
    static let prefixSize = 9
    static let headerSize = 10

    private var buffer = ByteQueue()
    private var failed = false

    public init() {}

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        guard !failed else { return }
        buffer.append(bytes)
    }

    /// The next complete command, or nil until more bytes arrive. After `.badSize` the
    /// framer yields nothing more.
    public mutating func next() -> CommandFrame? {
        guard !failed, let first = buffer.u32(at: 0) else { return nil }
        if first == TPMCommandFramer.sendCommand {
            guard let locality = buffer.u8(at: 4), let length = buffer.u32(at: 5) else { return nil }
            // The prefix's length is the boundary; what is inside is the TPM's to judge.
            guard length <= UInt32(TPMLimits.maxCommandSize) else { return fail(prefixed: true) }
            guard buffer.count >= TPMCommandFramer.prefixSize + Int(length) else { return nil }
            buffer.skip(TPMCommandFramer.prefixSize)
            return .command(FramedCommand(command: buffer.take(Int(length)), locality: locality))
        }
        guard let size = buffer.u32(at: 2) else { return nil }
        guard size >= UInt32(TPMCommandFramer.headerSize), size <= UInt32(TPMLimits.maxCommandSize) else {
            return fail(prefixed: false)
        }
        guard buffer.count >= Int(size) else { return nil }
        return .command(FramedCommand(command: buffer.take(Int(size))))
    }

    private mutating func fail(prefixed: Bool) -> CommandFrame {
        failed = true
        buffer.removeAll()
        return .badSize(prefixed: prefixed)
    }

    /// Part of a command has arrived and the rest has not.
    public var hasPartialCommand: Bool { !failed && !buffer.isEmpty }

    /// A response as sent back for a command that came bare or prefixed.
    public static func reply(_ response: [UInt8], prefixed: Bool) -> [UInt8] {
        guard prefixed else { return response }
        var w = TPMWriter(capacity: response.count + 8)
        w.u32(UInt32(response.count))
        w.bytes(response)
        w.u32(0)
        return w.bytes
    }

    /// The reply to `.badSize`.
    public static func badSizeReply(prefixed: Bool) -> [UInt8] {
        reply(TPM.errorResponse(.commandSize), prefixed: prefixed)
    }
}
