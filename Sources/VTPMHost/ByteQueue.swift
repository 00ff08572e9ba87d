/// Bytes received and not yet consumed by a framer. Reads never go past the end: they
/// return nil instead (like NIO's ByteBuffer `getInteger`), so hostile input cannot trap.
struct ByteQueue: Sendable {
    private var storage: [UInt8] = []
    private var head = 0

    var count: Int { storage.count - head }
    var isEmpty: Bool { count == 0 }

    mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        // Reclaim consumed space before growing, so the storage stays bounded by what is
        // actually pending.
        if head > 0 && head >= storage.count / 2 {
            storage.removeFirst(head)
            head = 0
        }
        storage.append(contentsOf: bytes)
    }

    /// The byte at `offset` from the start of the pending bytes.
    func u8(at offset: Int) -> UInt8? {
        guard offset >= 0, offset < count else { return nil }
        return storage[head + offset]
    }

    /// The big-endian u16/u32 at `offset`.
    func u16(at offset: Int) -> UInt16? {
        guard offset >= 0, offset + 2 <= count else { return nil }
        return UInt16(storage[head + offset]) << 8 | UInt16(storage[head + offset + 1])
    }

    func u32(at offset: Int) -> UInt32? {
        guard offset >= 0, offset + 4 <= count else { return nil }
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(storage[head + offset + i]) }
        return v
    }

    /// Removes and returns the first `n` bytes (all of them when fewer are pending).
    mutating func take(_ n: Int) -> [UInt8] {
        let k = max(0, min(n, count))
        let out = Array(storage[head..<(head + k)])
        skip(k)
        return out
    }

    /// Discards the first `n` bytes (all of them when fewer are pending).
    mutating func skip(_ n: Int) {
        head += max(0, min(n, count))
        if head == storage.count {
            storage.removeAll(keepingCapacity: storage.capacity <= 65536)
            head = 0
        }
    }

    mutating func removeAll() { _ = take(count) }
}
