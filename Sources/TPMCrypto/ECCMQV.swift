// The ECC MQV primitive of SP 800-56A rev 3, 5.7.2.3 (TPM2_ZGen_2Phase with TPM_ALG_ECMQV): party
// A's static key (dsA, QsA) and ephemeral key (deA, QeA), party B's public QsB and QeB:
//   implicitsigA = (deA + avf(QeA) dsA) mod n
//   P = [h implicitsigA](QeB + [avf(QeB)]QsB);  P must not be the point at infinity
// where avf(Q) = (x_Q mod 2^f) + 2^f with f = ceil(ceil(log2 n) / 2) (the associate value
// function). The shared secret Z is x_P; the TPM returns the point P.

extension ECCCurve {
    /// avf: the associate value of a point's x coordinate.
    func associateValue(_ x: BigNum) -> BigNum {
        let f = (group.order.bitCount + 1) / 2
        let high = x.shiftedRight(f).shiftedLeft(f)
        return (x - high) + BigNum(1).shiftedLeft(f)
    }
}

extension ECCPrivateKey {
    /// P of the ECC MQV primitive with this key as A's static key and `ephemeral` as A's
    /// ephemeral key; `peerStatic` and `peerEphemeral` are B's. Throws `invalidPoint` for a
    /// peer key on another curve and `noResult` when P is the point at infinity.
    public func mqvPoint(ephemeral: ECCPrivateKey, peerStatic: ECCPublicKey, peerEphemeral: ECCPublicKey) throws -> ECCPoint {
        guard ephemeral.curve == curve, peerStatic.curve == curve, peerEphemeral.curve == curve else {
            throw TPMCryptoError.invalidPoint
        }
        let g = curve.group
        guard let (xeA, _) = ephemeral.publicKey.pointRef().affine(), let (xeB, _) = peerEphemeral.pointRef().affine(),
            let t = BigNum.modMul(curve.associateValue(xeA), d, g.order),
            let sig = BigNum.modAdd(ephemeral.d, t, g.order),
            let scalar = BigNum.modMul(sig, g.cofactor, g.order), !scalar.isZero,
            let bs = ECPointRef.multiply(g, generatorScalar: nil, point: peerStatic.pointRef(), scalar: curve.associateValue(xeB)),
            let sum = ECPointRef.add(peerEphemeral.pointRef(), bs)
        else { throw TPMCryptoError.noResult }
        scalar.setConstantTime()
        guard let p = ECPointRef.multiply(g, generatorScalar: nil, point: sum, scalar: scalar), let out = curve.encode(p) else {
            throw TPMCryptoError.noResult
        }
        return out
    }
}
