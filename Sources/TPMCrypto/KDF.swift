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

/// HMAC with a key set up once (the inner and outer pads hashed a single time) for several
/// messages, as KDFa's blocks are.
struct KeyedPRF {
    private enum State {
        case sha1(HMAC<Insecure.SHA1>)
        case sha256(HMAC<SHA256>)
        case sha384(HMAC<SHA384>)
        case sha512(HMAC<SHA512>)
    }
    private let state: State

    init(_ alg: HashAlgorithm, key: [UInt8]) {
        let k = SymmetricKey(data: key)
        switch alg {
        case .sha1: state = .sha1(HMAC(key: k))
        case .sha256: state = .sha256(HMAC(key: k))
        case .sha384: state = .sha384(HMAC(key: k))
        case .sha512: state = .sha512(HMAC(key: k))
        }
    }

    /// HMAC(key, the concatenation of `parts`).
    func mac(_ parts: [[UInt8]]) -> [UInt8] {
        switch state {
        case .sha1(var h):
            for p in parts { h.update(data: p) }
            return Array(h.finalize())
        case .sha256(var h):
            for p in parts { h.update(data: p) }
            return Array(h.finalize())
        case .sha384(var h):
            for p in parts { h.update(data: p) }
            return Array(h.finalize())
        case .sha512(var h):
            for p in parts { h.update(data: p) }
            return Array(h.finalize())
        }
    }
}
