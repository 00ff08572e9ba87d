import Crypto

/// KDFa (Part 1, 11.4.10.2): SP 800-108 KDF in counter mode with HMAC as the PRF.
/// K(i) = HMAC(key, [i]32 || label || 0x00 || contextU || contextV || [bits]32); the
/// result is the first `bits` bits, the unused high bits of the first octet cleared.
/// `label` is given without its terminating zero; one 0x00 always follows it (the spec's
/// "if the label is not null-terminated a zero is added").
public func kdfa(
    _ alg: HashAlgorithm, key: [UInt8], label: String, contextU: [UInt8], contextV: [UInt8], bits: Int
) -> [UInt8] {
    guard bits > 0 else { return [] }
    let bytesNeeded = (bits + 7) / 8
    var labelBytes = Array(label.utf8)
    if labelBytes.last != 0 { labelBytes.append(0) }
    var out: [UInt8] = []
    out.reserveCapacity(bytesNeeded + alg.digestSize)
    // The HMAC key is set up once; each block continues from a copy of that state.
    let prf = KeyedPRF(alg, key: key)
    var counter: UInt32 = 1
    let bitsBE = be32(UInt32(bits))
    while out.count < bytesNeeded {
        out += prf.mac([be32(counter), labelBytes, contextU, contextV, bitsBE])
        counter &+= 1
    }
    out.removeLast(out.count - bytesNeeded)
    if bits % 8 != 0 { out[0] &= UInt8((1 << (bits % 8)) - 1) }
    return out
}

@inline(__always) func be32(_ v: UInt32) -> [UInt8] {
    [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
}

/// HMAC (RFC 2104) with a key set up once (the inner and outer pads hashed a single time) for
/// several messages, as KDFa's blocks are. Built on the hash functions' non-generic
/// `update(bufferPointer:)`: key derivation calls this for every prime candidate, and
/// swift-crypto's generic `HMAC.update(data:)` costs more than the hashing there.
struct KeyedPRF {
    private enum State {
        case sha1(Insecure.SHA1, Insecure.SHA1)
        case sha256(SHA256, SHA256)
        case sha384(SHA384, SHA384)
        case sha512(SHA512, SHA512)
    }
    private let state: State

    init(_ alg: HashAlgorithm, key: [UInt8]) {
        switch alg {
        case .sha1: state = .sha1(Self.pads(Insecure.SHA1.self, key: key), Self.pads(Insecure.SHA1.self, key: key, outer: true))
        case .sha256: state = .sha256(Self.pads(SHA256.self, key: key), Self.pads(SHA256.self, key: key, outer: true))
        case .sha384: state = .sha384(Self.pads(SHA384.self, key: key), Self.pads(SHA384.self, key: key, outer: true))
        case .sha512: state = .sha512(Self.pads(SHA512.self, key: key), Self.pads(SHA512.self, key: key, outer: true))
        }
    }

    /// H after absorbing (K xor ipad), or (K xor opad) for `outer`, with K the key padded to
    /// the block size (hashed first when longer than a block).
    private static func pads<H: HashFunction>(_: H.Type, key: [UInt8], outer: Bool = false) -> H {
        var k = key.count > H.blockByteCount ? H.hash(data: key).withUnsafeBytes { Array($0) } : key
        k += [UInt8](repeating: 0, count: H.blockByteCount - k.count)
        let pad: UInt8 = outer ? 0x5C : 0x36
        for i in k.indices { k[i] ^= pad }
        var h = H()
        k.withUnsafeBytes { h.update(bufferPointer: $0) }
        secureWipe(&k)
        return h
    }

    private static func mac<H: HashFunction>(_ inner: H, _ outer: H, _ message: [UInt8]) -> [UInt8] {
        var i = inner
        message.withUnsafeBytes { i.update(bufferPointer: $0) }
        var o = outer
        i.finalize().withUnsafeBytes { o.update(bufferPointer: $0) }
        return o.finalize().withUnsafeBytes { Array($0) }
    }

    /// HMAC(key, the concatenation of `parts`).
    func mac(_ parts: [[UInt8]]) -> [UInt8] {
        var message: [UInt8] = []
        message.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for p in parts { message += p }
        switch state {
        case .sha1(let i, let o): return Self.mac(i, o, message)
        case .sha256(let i, let o): return Self.mac(i, o, message)
        case .sha384(let i, let o): return Self.mac(i, o, message)
        case .sha512(let i, let o): return Self.mac(i, o, message)
        }
    }
}
