// The ECC arithmetic of the split (anonymous) signing scheme ECDAA and of the commit values
// behind it (Part 1, annex C: TPM2_Commit and the ECDAA signature), and of the two-phase key
// exchange (SP 800-56A C(2e, 2s) ECC CDH, TPM2_ZGen_2Phase).
//
// ECDAA signature over `digest` with the commit random value r (from TPM2_Commit), a fresh
// nonce k in [1, n - 1] and the private key d:
//   T = H(k || digest) mod n;  s = r + T d mod n;  the signature is (k, s).
// A verifier holding E = [r]G (or [r]P1) and Q = [d]G checks [s]G = E + [T]Q.

extension ECCCurve {
    /// A scalar in [1, n - 1] derived, by the rule of `randomScalar`, from the KDFa stream
    /// KDFa(hash, seed, label, contextU, contextV || [j]32, bits) (`KDFaBitSource`). The TPM
    /// derives a commit's random value r from its commit nonce, the key's Name and the commit
    /// count, so the same count always gives the same r until the nonce changes (TPM Reset).
    public func derivedScalar(
        hash: HashAlgorithm, seed: [UInt8], label: String, contextU: [UInt8], contextV: [UInt8]
    ) throws -> [UInt8] {
        var source = KDFaBitSource(hash: hash, seed: seed, label: label, contextU: contextU, contextV: contextV)
        let k = try randomScalar(from: &source)
        return k.bytes(count: byteCount)!
    }

    /// x mod n, padded to `byteCount` (an ECDAA verifier's T = H(k || digest) mod n).
    public func modOrder(_ bytes: [UInt8]) -> [UInt8]? {
        guard let v = BigNum.mod(BigNum(bytes), group.order) else { return nil }
        return v.bytes(count: byteCount)
    }

    /// x mod p, padded to `byteCount` (TPM2_Commit: x2 = H_nameAlg(s2) mod p).
    public func modPrime(_ bytes: [UInt8]) -> [UInt8]? {
        guard let v = BigNum.mod(BigNum(bytes), group.p) else { return nil }
        return v.bytes(count: byteCount)
    }
}

extension ECCPrivateKey {
    /// The ECDAA signature (k, s) with the commit value r and the nonce k, both in [1, n - 1].
    /// Throws `valueOutOfRange` for r or k out of range and `noResult` when T or s is 0 (draw
    /// another k).
    public func signECDAA(hash: HashAlgorithm, digest: [UInt8], commitR: [UInt8], nonce: [UInt8]) throws -> ECCSignature {
        let g = curve.group
        let size = curve.byteCount
        guard let r = curve.scalarInRange(commitR), curve.scalarInRange(nonce) != nil else {
            throw TPMCryptoError.valueOutOfRange
        }
        let kBytes = BigNum(nonce).bytes(count: size)!
        guard let t = BigNum.mod(BigNum(hash.digest([kBytes, digest])), g.order), !t.isZero else {
            throw TPMCryptoError.noResult
        }
        // s = r + T d mod n is ECDSA's s = kinv (m + r' d) mod n with kinv = 1, m = r and
        // r' = T, so OpenSSL's constant-time ECDSA core computes it (as for EC Schnorr). m is
        // passed as a digest of `size` octets, which the core shifts right by
        // 8 * size - order bits: pre-shift r left.
        let shift = 8 * size - g.order.bitCount
        guard var m = r.shiftedLeft(shift).bytes(count: size) else { throw TPMCryptoError.noResult }
        defer { secureWipe(&m) }
        guard let s = ecdsaSignatureS(g, privateKey: d, digest: m, kinv: BigNum(1), r: t, count: size) else {
            throw TPMCryptoError.noResult
        }
        return ECCSignature(r: kBytes, s: s)
    }

    /// ECDAA with the nonce k drawn from `source` by the scalar rule.
    public func signECDAA<S: BitSource>(
        hash: HashAlgorithm, digest: [UInt8], commitR: [UInt8], using source: inout S
    ) throws -> ECCSignature {
        for _ in 0..<16 {
            var k = try curve.randomScalar(from: &source).bytes(count: curve.byteCount)!
            defer { secureWipe(&k) }
            do {
                return try signECDAA(hash: hash, digest: digest, commitR: commitR, nonce: k)
            } catch TPMCryptoError.noResult {
                continue
            }
        }
        throw TPMCryptoError.noResult
    }

    /// [d]P for a valid point P on this key's curve (TPM2_Commit's K = [d]P2). Constant time in d.
    public func multiply(_ point: ECCPoint) throws -> ECCPoint {
        let peer = try ECCPublicKey(curve: curve, point: point)
        return try sharedPoint(with: peer)
    }
}

extension ECCPublicKey {
    /// Checks an ECDAA signature (k, s) against the commit point E = [r]G: [s]G = E + [T]Q with
    /// T = H(k || digest) mod n. For tests and verifiers; the TPM itself does not verify ECDAA.
    public func verifyECDAA(hash: HashAlgorithm, digest: [UInt8], signature: ECCSignature, commitPoint: ECCPoint) -> Bool {
        let g = curve.group
        let s = BigNum(signature.s)
        guard !s.isZero, BigNum.compare(s, g.order) < 0, let e = curve.decode(commitPoint),
            let t = BigNum.mod(BigNum(hash.digest([signature.r, digest])), g.order), !t.isZero,
            let lhs = ECPointRef.multiply(g, generatorScalar: s, point: nil, scalar: nil),
            let tq = ECPointRef.multiply(g, generatorScalar: nil, point: pointRef(), scalar: t),
            let rhs = ECPointRef.add(e, tq),
            let a = curve.encode(lhs), let b = curve.encode(rhs)
        else { return false }
        return a == b
    }
}

/// Overwrites a secret the caller holds (a commit random value) before it is released.
public func wipeSecret(_ bytes: inout [UInt8]) { secureWipe(&bytes) }
