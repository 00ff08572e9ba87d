/// KDFe (Part 1, 11.4.10.3): the SP 800-56A concatenation KDF the TPM applies to an ECDH
/// shared value. K(i) = H([i]32 || Z || use || 0x00 || partyUInfo || partyVInfo), i from 1;
/// the result is the first `bits` bits with the unused high bits of the first octet cleared (as
/// KDFa). `use` is given without its terminating zero; one 0x00 always follows it. Z is the
/// x-coordinate of the shared point, padded to the curve's size by the caller; partyUInfo and
/// partyVInfo are the x-coordinates the command names (for duplication and credential blobs,
/// the ephemeral key's and the receiving key's).
public func kdfe(_ alg: HashAlgorithm, z: [UInt8], use: String, partyUInfo: [UInt8], partyVInfo: [UInt8], bits: Int) -> [UInt8] {
    guard bits > 0 else { return [] }
    var label = Array(use.utf8)
    if label.last != 0 { label.append(0) }
    let bytesNeeded = (bits + 7) / 8
    var out: [UInt8] = []
    out.reserveCapacity(bytesNeeded + alg.digestSize)
    var counter: UInt32 = 1
    while out.count < bytesNeeded {
        out += alg.digest([be32(counter), z, label, partyUInfo, partyVInfo])
        counter &+= 1
    }
    out.removeLast(out.count - bytesNeeded)
    if bits % 8 != 0 { out[0] &= UInt8((1 << (bits % 8)) - 1) }
    return out
}

/// MGF1 (RFC 8017, B.2.1): H(seed || [0]32) || H(seed || [1]32) || ..., first `length` octets.
/// TPM_ALG_MGF1 as a KDF for ECDH schemes; OAEP and PSS use it internally.
public func mgf1(_ alg: HashAlgorithm, seed: [UInt8], length: Int) -> [UInt8] {
    guard length > 0 else { return [] }
    var out: [UInt8] = []
    out.reserveCapacity(length + alg.digestSize)
    var counter: UInt32 = 0
    while out.count < length {
        out += alg.digest([seed, be32(counter)])
        counter &+= 1
    }
    out.removeLast(out.count - length)
    return out
}

/// KDF2 (ISO/IEC 18033-2 and ANSI X9.63; TPM_ALG_KDF2): H(Z || [1]32 || otherInfo) ||
/// H(Z || [2]32 || otherInfo) || ..., first `length` octets.
public func kdf2(_ alg: HashAlgorithm, z: [UInt8], otherInfo: [UInt8], length: Int) -> [UInt8] {
    guard length > 0 else { return [] }
    var out: [UInt8] = []
    out.reserveCapacity(length + alg.digestSize)
    var counter: UInt32 = 1
    while out.count < length {
        out += alg.digest([z, be32(counter), otherInfo])
        counter &+= 1
    }
    out.removeLast(out.count - length)
    return out
}
