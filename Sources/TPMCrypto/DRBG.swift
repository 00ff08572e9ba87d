/// HMAC_DRBG with SHA-256 (NIST SP 800-90A Rev. 1, 10.1.2). The engine never reads the OS
/// itself: its host supplies entropy (`SystemEntropy` here, fixed bytes in tests), so an
/// instance is deterministic given its inputs.
public struct HMACDRBG: Sendable {
    private var key: [UInt8]
    private var v: [UInt8]
    public private(set) var reseedCounter: UInt64

    /// SP 800-90A 10.1.2.3: instantiate from entropy || nonce || personalization.
    public init(entropy: [UInt8], nonce: [UInt8] = [], personalization: [UInt8] = []) {
        key = [UInt8](repeating: 0, count: 32)
        v = [UInt8](repeating: 1, count: 32)
        reseedCounter = 1
        update(entropy + nonce + personalization)
    }

    private mutating func update(_ provided: [UInt8]) {
        round(0, provided)
        guard !provided.isEmpty else { return }
        round(1, provided)
    }

    /// K = HMAC(K, V || byte || provided); V = HMAC(K, V).
    private mutating func round(_ byte: UInt8, _ provided: [UInt8]) {
        var m = HMACStream(.sha256, key: key)
        m.update(v)
        m.update(byte: byte)
        m.update(provided)
        m.finalize(into: &key)
        KeyedPRF(.sha256, key: key).macInPlace(&v)
    }

    /// SP 800-90A 10.1.2.4.
    public mutating func reseed(entropy: [UInt8], additional: [UInt8] = []) {
        update(entropy + additional)
        reseedCounter = 1
    }

    /// SP 800-90A 10.1.2.5. Additional input (StirRandom's data, say) is mixed in first.
    public mutating func generate(_ count: Int, additional: [UInt8] = []) -> [UInt8] {
        if !additional.isEmpty { update(additional) }
        let prf = KeyedPRF(.sha256, key: key)
        let out = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            while initialized < count {
                prf.macInPlace(&v)
                let n = min(v.count, count - initialized)
                for i in 0..<n { buffer[initialized + i] = v[i] }
                initialized += n
            }
        }
        update(additional)
        reseedCounter &+= 1
        return out
    }

    /// The working state (K || V || counter), for saving an instance's volatile state.
    public var exportedState: [UInt8] {
        var c: [UInt8] = []
        for s in stride(from: 56, through: 0, by: -8) { c.append(UInt8(truncatingIfNeeded: reseedCounter >> UInt64(s))) }
        return key + v + c
    }

    public init?(exportedState s: [UInt8]) {
        guard s.count == 72 else { return nil }
        key = Array(s[0..<32])
        v = Array(s[32..<64])
        reseedCounter = s[64..<72].reduce(0) { $0 << 8 | UInt64($1) }
    }
}

/// Entropy from the operating system (getrandom(2) through the standard library's
/// SystemRandomNumberGenerator). Hosts pass it to instances; the engine never calls it.
public enum SystemEntropy {
    public static func bytes(_ count: Int) -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        var out = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            var x = g.next()
            for _ in 0..<8 where i < count {
                out[i] = UInt8(truncatingIfNeeded: x)
                x >>= 8
                i += 1
            }
        }
        return out
    }
}
