/// Splits a byte stream into evidence-protocol frames: a big-endian u32 payload length, the
/// payload. The length is checked against `maxPayload` as soon as its four bytes arrive, so
/// a hostile peer cannot make the receiver buffer more than that. Fed by any transport
/// (NIO handler, blocking socket) and tested with bytes alone.
public struct EvidenceFrameDecoder: Sendable {
    public let maxPayload: Int
    private var buffer: [UInt8] = []
    private var start = 0

    public init(maxPayload: Int) { self.maxPayload = maxPayload }

    /// Bytes received and not yet returned as a frame.
    public var bufferedCount: Int { buffer.count - start }

    public mutating func append<S: Sequence>(_ bytes: S) where S.Element == UInt8 { buffer.append(contentsOf: bytes) }

    /// The next complete payload, or nil when more bytes are needed. A frame longer than
    /// the bound, or shorter than version and type, is an error (the connection should close).
    public mutating func nextPayload() throws -> [UInt8]? {
        guard bufferedCount >= 4 else { return nil }
        var n = 0
        for i in 0..<4 { n = n << 8 | Int(buffer[start + i]) }
        guard n <= maxPayload else { throw EvidenceProtocolError.frameTooLarge(size: n, max: maxPayload) }
        guard n >= 2 else { throw EvidenceProtocolError.emptyPayload }
        guard bufferedCount >= 4 + n else { return nil }
        let payload = Array(buffer[(start + 4)..<(start + 4 + n)])
        start += 4 + n
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 65536 {
            buffer.removeFirst(start)
            start = 0
        }
        return payload
    }

    /// The next complete message, decoded.
    public mutating func nextMessage() throws -> EvidenceMessage? {
        guard let p = try nextPayload() else { return nil }
        return try EvidenceMessage(payload: p)
    }
}
