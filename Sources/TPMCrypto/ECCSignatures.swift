/// An ECC signature (TPMS_SIGNATURE_ECC's signatureR and signatureS), each half padded to the
/// curve's `byteCount`.
public struct ECCSignature: Sendable, Equatable {
    public let r: [UInt8]
    public let s: [UInt8]

    public init(r: [UInt8], s: [UInt8]) {
        self.r = r
        self.s = s
    }
}

// MARK: - ECDSA (FIPS 186-5, 6.4; TPM_ALG_ECDSA)

extension ECCPrivateKey {
    /// ECDSA over a digest with the per-message secret k given (1 <= k <= n - 1): r = x([k]G)
    /// mod n, s = k^-1 (e + r d) mod n, e the digest's leftmost bits up to the order's length.
    /// k^-1 is computed in constant time (Fermat) and s by OpenSSL's constant-time ECDSA core.
    /// Throws `noResult` when r or s is zero (choose another k).
    public func signECDSA(digest: [UInt8], nonce: [UInt8]) throws -> ECCSignature {
        let g = curve.group
        guard let k = curve.scalarInRange(nonce) else { throw TPMCryptoError.valueOutOfRange }
        guard let rPoint = ECPointRef.multiply(g, generatorScalar: k, point: nil, scalar: nil), let (x, _) = rPoint.affine(),
            let r = BigNum.mod(x, g.order), !r.isZero,
            let kinv = BigNum.modExpConstantTime(k, g.order - BigNum(2), g.order),
            let s = ecdsaSignatureS(g, privateKey: d, digest: digest, kinv: kinv, r: r, count: curve.byteCount)
        else { throw TPMCryptoError.noResult }
        return ECCSignature(r: r.bytes(count: curve.byteCount)!, s: s)
    }

    /// ECDSA with k drawn from `source` by the scalar rule (`ECCCurve.randomScalar`), redrawn
    /// in the negligible case that r or s is zero.
    public func signECDSA<S: BitSource>(digest: [UInt8], using source: inout S) throws -> ECCSignature {
        for _ in 0..<16 {
            var k = try curve.randomScalar(from: &source).bytes(count: curve.byteCount)!
            defer { secureWipe(&k) }
            do {
                return try signECDSA(digest: digest, nonce: k)
            } catch TPMCryptoError.noResult {
                continue
            }
        }
        throw TPMCryptoError.noResult
    }
}

extension ECCPublicKey {
    /// ECDSA verification (FIPS 186-5, 6.4.2) of a digest: r and s in [1, n - 1], then
    /// x([e w]G + [r w]Q) mod n == r with w = s^-1.
    public func verifyECDSA(digest: [UInt8], signature: ECCSignature) -> Bool {
        let g = curve.group
        let r = BigNum(signature.r)
        let s = BigNum(signature.s)
        guard !r.isZero, !s.isZero, BigNum.compare(r, g.order) < 0, BigNum.compare(s, g.order) < 0,
            let w = BigNum.modInverse(s, g.order),
            let u1 = BigNum.modMul(curve.digestInteger(digest), w, g.order),
            let u2 = BigNum.modMul(r, w, g.order),
            let pt = ECPointRef.multiply(g, generatorScalar: u1, point: pointRef(), scalar: u2),
            let (x, _) = pt.affine(), let v = BigNum.mod(x, g.order)
        else { return false }
        return BigNum.compare(v, r) == 0
    }
}

extension ECCCurve {
    /// The integer of a digest's leftmost min(8 * length, order bits) bits (FIPS 186-5, 6.4.1
    /// steps 3-4; RFC 6979 bits2int).
    func digestInteger(_ digest: [UInt8]) -> BigNum {
        let e = BigNum(digest)
        let excess = 8 * digest.count - group.order.bitCount
        return excess > 0 ? e.shiftedRight(excess) : e
    }
}

// MARK: - EC Schnorr (TPM_ALG_ECSCHNORR)

// The TPM's Schnorr variant, as the TCG reference code (Part 4, CryptEccSignature.c) and
// libtpms define it:
//   R = [k]G;  E = H(x(R) || digest), x(R) padded to the order's octet length;
//   r = E truncated to that many leading octets (an integer, not reduced mod n);
//   s = k + r d mod n;  the signature is (r, s).
// Verification: with r, s in [1, n - 1], R' = [s]G - [r]Q, and r must equal the truncated
// H(x(R') || digest).
extension ECCPrivateKey {
    /// EC Schnorr over a digest with k given (1 <= k <= n - 1). Throws `noResult` when r is 0
    /// or >= n or s is 0 (choose another k): unlike the reference code, which would return such
    /// a signature, we never emit one that verification must reject.
    public func signSchnorr(hash: HashAlgorithm, digest: [UInt8], nonce: [UInt8]) throws -> ECCSignature {
        let g = curve.group
        let size = curve.byteCount
        guard let k = curve.scalarInRange(nonce) else { throw TPMCryptoError.valueOutOfRange }
        guard let rPoint = ECPointRef.multiply(g, generatorScalar: k, point: nil, scalar: nil), let (x, _) = rPoint.affine()
        else { throw TPMCryptoError.noResult }
        let e = Array(hash.digest([x.bytes(count: size)!, digest]).prefix(size))
        let r = BigNum(e)
        guard !r.isZero, BigNum.compare(r, g.order) < 0 else { throw TPMCryptoError.noResult }
        // s = k + r d mod n is ECDSA's s = kinv (m + r d) mod n with kinv = 1 and m = k, so
        // OpenSSL's constant-time ECDSA core computes it. m is passed as a digest of `size`
        // octets, which the core shifts right by 8 * size - order bits: pre-shift k left.
        let shift = 8 * size - g.order.bitCount
        guard var m = k.shiftedLeft(shift).bytes(count: size) else { throw TPMCryptoError.noResult }
        defer { secureWipe(&m) }
        guard let s = ecdsaSignatureS(g, privateKey: d, digest: m, kinv: BigNum(1), r: r, count: size) else {
            throw TPMCryptoError.noResult
        }
        return ECCSignature(r: r.bytes(count: size)!, s: s)
    }

    /// EC Schnorr with k drawn from `source` by the scalar rule.
    public func signSchnorr<S: BitSource>(hash: HashAlgorithm, digest: [UInt8], using source: inout S) throws -> ECCSignature {
        for _ in 0..<16 {
            var k = try curve.randomScalar(from: &source).bytes(count: curve.byteCount)!
            defer { secureWipe(&k) }
            do {
                return try signSchnorr(hash: hash, digest: digest, nonce: k)
            } catch TPMCryptoError.noResult {
                continue
            }
        }
        throw TPMCryptoError.noResult
    }
}

extension ECCPublicKey {
    public func verifySchnorr(hash: HashAlgorithm, digest: [UInt8], signature: ECCSignature) -> Bool {
        let g = curve.group
        let r = BigNum(signature.r)
        let s = BigNum(signature.s)
        guard !r.isZero, !s.isZero, BigNum.compare(r, g.order) < 0, BigNum.compare(s, g.order) < 0,
            let pt = ECPointRef.multiply(g, generatorScalar: s, point: pointRef(), scalar: g.order - r),
            let (x, _) = pt.affine(), let xb = x.bytes(count: curve.byteCount)
        else { return false }
        let e = Array(hash.digest([xb, digest]).prefix(curve.byteCount))
        return BigNum.compare(BigNum(e), r) == 0
    }
}
