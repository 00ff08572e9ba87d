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
    var counter: UInt32 = 1
    let bitsBE = be32(UInt32(bits))
    while out.count < bytesNeeded {
        var msg = be32(counter)
        msg += labelBytes
        msg += contextU
        msg += contextV
        msg += bitsBE
        out += alg.hmac(key: key, data: msg)
        counter &+= 1
    }
    out.removeLast(out.count - bytesNeeded)
    if bits % 8 != 0 { out[0] &= UInt8((1 << (bits % 8)) - 1) }
    return out
}

@inline(__always) func be32(_ v: UInt32) -> [UInt8] {
    [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
}
