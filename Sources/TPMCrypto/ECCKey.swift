/// An ECC public key: a validated point on a named curve.
public struct ECCPublicKey: Sendable, Equatable {
    public let curve: ECCCurve
    /// Coordinates padded to the curve's `byteCount`.
    public let point: ECCPoint

    /// Validates the point (coordinates below p, on the curve, not infinity; the TPM's
    /// TPM_RC_ECC_POINT checks) and normalizes its coordinates to `byteCount` octets.
    public init(curve: ECCCurve, point: ECCPoint) throws {
        guard let p = curve.decode(point), let normalized = curve.encode(p) else { throw TPMCryptoError.invalidPoint }
        self.curve = curve
        self.point = normalized
    }

    init(curve: ECCCurve, validated p: ECPointRef) throws {
        guard let normalized = curve.encode(p) else { throw TPMCryptoError.invalidPoint }
        self.curve = curve
        point = normalized
    }

    func pointRef() -> ECPointRef {
        // The point was validated at init, so decoding cannot fail.
        curve.decode(point)!
    }
}

/// An ECC private key: the scalar d (1 <= d <= n - 1) in a cleared-on-release bignum, and its
/// public point Q = [d]G.
public final class ECCPrivateKey: @unchecked Sendable {
    public let curve: ECCCurve
    public let publicKey: ECCPublicKey
    let d: BigNum

    /// From a scalar (the TPM's sensitive area for an ECC key), big-endian, in [1, n - 1].
    public convenience init(curve: ECCCurve, scalar: [UInt8]) throws {
        guard let d = curve.scalarInRange(scalar) else { throw TPMCryptoError.invalidKey }
        try self.init(curve: curve, d: d)
    }

    init(curve: ECCCurve, d: BigNum) throws {
        guard let q = ECPointRef.multiply(curve.group, generatorScalar: d, point: nil, scalar: nil) else {
            throw TPMCryptoError.invalidKey
        }
        self.curve = curve
        self.d = d
        publicKey = try ECCPublicKey(curve: curve, validated: q)
    }

    /// A key pair whose scalar follows the rule of `ECCCurve.randomScalar` from `source` (the
    /// DRBG for TPM2_Create and ephemeral keys, a `KDFaBitSource` for primary keys).
    public static func generate<S: BitSource>(curve: ECCCurve, using source: inout S) throws -> ECCPrivateKey {
        try ECCPrivateKey(curve: curve, d: curve.randomScalar(from: &source))
    }

    /// The scalar, padded to the curve's `byteCount`. A fresh array the caller owns (and should
    /// wipe when done).
    public func scalar() -> [UInt8] { d.bytes(count: curve.byteCount)! }

    /// [d]Q for a peer's public key on the same curve: TPM2_ECDH_ZGen's output point, whose x
    /// coordinate is the shared value Z for KDFe (SP 800-56A, 5.7.1.2; cofactor 1). Constant
    /// time in d.
    public func sharedPoint(with peer: ECCPublicKey) throws -> ECCPoint {
        guard peer.curve == curve else { throw TPMCryptoError.invalidPoint }
        guard let r = ECPointRef.multiply(curve.group, generatorScalar: nil, point: peer.pointRef(), scalar: d),
            let out = curve.encode(r)
        else { throw TPMCryptoError.noResult }
        return out
    }
}
