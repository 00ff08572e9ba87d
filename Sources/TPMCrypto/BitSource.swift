/// A source of bits for key generation, nonces, salts and padding. The engine passes its DRBG
/// (ordinary keys, signatures) or a `KDFaBitSource` (primary keys), so every output of this
/// module is a function of the bits it was given: the TPM stays deterministic under test.
public protocol BitSource {
    /// The next `count` bits (count >= 1) as ceil(count/8) octets, big-endian, with the unused
    /// high-order bits of the first octet cleared.
    mutating func nextBits(_ count: Int) -> [UInt8]
}

extension BitSource {
    /// `count` whole octets.
    public mutating func nextBytes(_ count: Int) -> [UInt8] {
        count > 0 ? nextBits(8 * count) : []
    }
}

extension HMACDRBG: BitSource {
    public mutating func nextBits(_ count: Int) -> [UInt8] {
        var out = generate((count + 7) / 8)
        if count % 8 != 0, !out.isEmpty { out[0] &= UInt8((1 << (count % 8)) - 1) }
        return out
    }
}

/// The deterministic stream behind primary-key derivation (docs/primary-keys.md, frozen):
/// request j (j = 1, 2, ...) for b bits answers
///     KDFa(hash, seed, label, contextU, contextV || [j]32, b)
/// (Part 1, 11.4.10.2), so each candidate prime or scalar is one KDFa call whose counter
/// names it. Different requests never share output.
public struct KDFaBitSource: BitSource, Sendable {
    public let hash: HashAlgorithm
    private let seed: [UInt8]
    public let label: String
    public let contextU: [UInt8]
    public let contextV: [UInt8]
    /// The number of requests answered so far.
    public private(set) var counter: UInt32 = 0

    public init(hash: HashAlgorithm, seed: [UInt8], label: String, contextU: [UInt8], contextV: [UInt8]) {
        self.hash = hash
        self.seed = seed
        self.label = label
        self.contextU = contextU
        self.contextV = contextV
    }

    public mutating func nextBits(_ count: Int) -> [UInt8] {
        counter &+= 1
        return bits(at: counter, count: count)
    }

    /// What request `counter` answers for `count` bits, whatever the requests before it.
    public func bits(at counter: UInt32, count: Int) -> [UInt8] {
        kdfa(hash, key: seed, label: label, contextU: contextU, contextV: contextV + be32(counter), bits: count)
    }

    /// Continues after request `counter` (the requests up to it count as answered).
    public mutating func skip(to counter: UInt32) {
        self.counter = counter
    }
}
