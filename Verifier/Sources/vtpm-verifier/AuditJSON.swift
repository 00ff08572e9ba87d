import Foundation

/// The audit record body, written byte for byte as
/// `JSONSerialization.data(withJSONObject:options: [.sortedKeys, .withoutEscapingSlashes])`
/// writes it, without building Foundation objects for every record. Values may be String, Int
/// or [String] (all the daemon logs); anything else returns nil and the caller uses
/// JSONSerialization itself. AuditJSONTests compares the two.
enum AuditJSON {
    static func encode(_ body: [String: any Sendable]) -> [UInt8]? {
        guard let keys = order(of: Array(body.keys)) else { return nil }
        var out: [UInt8] = [0x7B]
        out.reserveCapacity(256)
        for (i, k) in keys.enumerated() {
            if i > 0 { out.append(0x2C) }
            string(k, into: &out)
            out.append(0x3A)
            switch body[k] {
            case let s as String: string(s, into: &out)
            case let n as Int: out += Array(String(n).utf8)
            case let a as [String]:
                out.append(0x5B)
                for (j, s) in a.enumerated() {
                    if j > 0 { out.append(0x2C) }
                    string(s, into: &out)
                }
                out.append(0x5D)
            default: return nil
            }
        }
        out.append(0x7D)
        return out
    }

    /// JSON string: the escapes JSONSerialization uses (", \, the named control characters,
    /// \u00xx with lowercase hex for the others below 0x20); everything else as its UTF-8.
    static func string(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        for c in s.utf8 {
            switch c {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x08: out += [0x5C, 0x62]
            case 0x09: out += [0x5C, 0x74]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0C: out += [0x5C, 0x66]
            case 0x0D: out += [0x5C, 0x72]
            case 0..<0x20: out += [0x5C, 0x75, 0x30, 0x30, hexDigits[Int(c >> 4)], hexDigits[Int(c & 0x0F)]]
            default: out.append(c)
            }
        }
        out.append(0x22)
    }

    /// Foundation's sortedKeys order is not byte order ("_" < "a" < "b" < "B" < "b-c"); rather
    /// than imitate its comparison, ask JSONSerialization once per key set (the daemon logs a
    /// handful of kinds) and remember the answer.
    private static let cache = OrderCache()

    static func order(of keys: [String]) -> [String]? {
        let id = keys.sorted().joined(separator: "\u{0}")
        if let known = cache.get(id) { return known }
        var probe = [String: Int]()
        for (i, k) in keys.enumerated() { probe[k] = i }
        guard let data = try? JSONSerialization.data(withJSONObject: probe, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return nil
        }
        let text = Array(data)
        var positions = [(Int, String)]()
        for (i, k) in keys.enumerated() {
            var needle = [UInt8]()
            string(k, into: &needle)
            needle += Array(":\(i)".utf8)
            // A key is followed by ":index" and then "," or "}": a longer number never matches.
            let found = firstIndex(of: needle, in: text) { end in end < text.count && (text[end] == 0x2C || text[end] == 0x7D) }
            guard let at = found else { return nil }
            positions.append((at, k))
        }
        let sorted = positions.sorted { $0.0 < $1.0 }.map(\.1)
        cache.put(id, sorted)
        return sorted
    }

    private final class OrderCache: @unchecked Sendable {
        private let lock = NSLock()
        private var known: [String: [String]] = [:]

        func get(_ id: String) -> [String]? { lock.withLock { known[id] } }

        func put(_ id: String, _ order: [String]) {
            lock.withLock {
                if known.count > 64 { known.removeAll() }  // bounded: kinds x optional fields is small
                known[id] = order
            }
        }
    }
}

/// Where `needle` first occurs in `hay` such that `accept` (given the index just past it) agrees;
/// nil if nowhere. `needle` is not empty.
func firstIndex(of needle: [UInt8], in hay: [UInt8], accept: (Int) -> Bool = { _ in true }) -> Int? {
    guard needle.count <= hay.count else { return nil }
    for i in 0...(hay.count - needle.count) where hay[i] == needle[0] {
        let end = i + needle.count
        if hay[i..<end].elementsEqual(needle) && accept(end) { return i }
    }
    return nil
}
