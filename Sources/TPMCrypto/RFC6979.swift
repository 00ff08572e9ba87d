/// Deterministic ECDSA nonces (RFC 6979, 3.2): k from HMAC-DRBG-like steps over the private key
/// and the message digest. The TPM signs with nonces from its DRBG; this exists so ECDSA can be
/// pinned to the RFC's published signatures, and for callers that want deterministic ECDSA.
public enum RFC6979 {
    /// k for `digest` (h1 = H(m), computed with `hash`) and the private scalar, on `curve`.
    public static func nonce(curve: ECCCurve, privateKey scalar: [UInt8], digest: [UInt8], hash: HashAlgorithm) throws -> [UInt8] {
        guard let x = curve.scalarInRange(scalar) else { throw TPMCryptoError.invalidKey }
        let q = curve.group.order
        let qlen = q.bitCount
        let rlen = (qlen + 7) / 8
        // bits2octets(h1) = int2octets(bits2int(h1) mod q)
        let z1 = curve.digestInteger(digest)
        let z2 = BigNum.compare(z1, q) >= 0 ? z1 - q : z1
        var xOctets = x.bytes(count: rlen)!
        defer { secureWipe(&xOctets) }
        let hOctets = z2.bytes(count: rlen)!
        let hlen = hash.digestSize
        var v = [UInt8](repeating: 0x01, count: hlen)
        var key = [UInt8](repeating: 0x00, count: hlen)
        defer {
            secureWipe(&key)
            secureWipe(&v)
        }
        key = hash.hmac(key: key, data: v + [0x00] + xOctets + hOctets)
        v = hash.hmac(key: key, data: v)
        key = hash.hmac(key: key, data: v + [0x01] + xOctets + hOctets)
        v = hash.hmac(key: key, data: v)
        for _ in 0..<64 {
            var t: [UInt8] = []
            while 8 * t.count < qlen {
                v = hash.hmac(key: key, data: v)
                t += v
            }
            let k = BigNum(t).shiftedRight(max(0, 8 * t.count - qlen))
            if !k.isZero, BigNum.compare(k, q) < 0 { return k.bytes(count: curve.byteCount)! }
            key = hash.hmac(key: key, data: v + [0x00])
            v = hash.hmac(key: key, data: v)
        }
        throw TPMCryptoError.noResult
    }
}
