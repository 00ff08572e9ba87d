/// The prime curves the TPM implements, by TPM_ECC_CURVE value (Part 2, 6.4): the NIST curves
/// and the Barreto-Naehrig curve BN-P256 (for ECDAA).
public enum ECCCurve: UInt16, CaseIterable, Sendable {
    case nistP256 = 0x0003
    case nistP384 = 0x0004
    case nistP521 = 0x0005
    case bnP256 = 0x0010

    /// The curve size in bits (of p and of the order n).
    public var keyBits: Int {
        switch self {
        case .nistP256: return 256
        case .nistP384: return 384
        case .nistP521: return 521
        case .bnP256: return 256
        }
    }

    /// Octets in a coordinate, a scalar or a signature half: ceil(keyBits / 8).
    public var byteCount: Int { (keyBits + 7) / 8 }

    var group: ECGroup {
        switch self {
        case .nistP256: return ECGroup.p256
        case .nistP384: return ECGroup.p384
        case .nistP521: return ECGroup.p521
        case .bnP256: return ECGroup.bnP256
        }
    }

    /// The domain parameters (TPMS_ALGORITHM_DETAIL_ECC's p, a, b, gX, gY, n, h): each padded
    /// to `byteCount` octets except the cofactor, which is minimal, and BN-P256's a = 0, which is
    /// one zero octet (the size Part 4's curve table gives it; libtpms answers the same).
    public var parameters: ECCParameters {
        let g = group
        let c = byteCount
        return ECCParameters(
            p: g.p.bytes(count: c)!, a: self == .bnP256 ? [0] : g.a.bytes(count: c)!, b: g.b.bytes(count: c)!,
            gX: g.gx.bytes(count: c)!, gY: g.gy.bytes(count: c)!, n: g.order.bytes(count: c)!,
            h: g.cofactor.minimalBytes)
    }

    /// The scalar rule shared by key generation, primary-key derivation and signature nonces
    /// (FIPS 186-5, A.4.2): c = the next `keyBits` bits from the source as an integer; if
    /// c <= n - 2 the scalar is c + 1 (so 1 <= d <= n - 1), otherwise draw again. At most 64
    /// draws (for these curves a draw is rejected with probability below 2^-32; BN-P256's order is
    /// below 2^256 by about 2^210, so about 2^-46 there).
    /// Frozen for primary keys (docs/primary-keys.md).
    func randomScalar<S: BitSource>(from source: inout S) throws -> BigNum {
        let n = group.order
        let nMinus1 = n - BigNum(1)
        for _ in 0..<64 {
            var raw = source.nextBits(keyBits)
            let c = BigNum(raw)
            secureWipe(&raw)
            if BigNum.compare(c, nMinus1) < 0 {
                let d = c + BigNum(1)
                d.setConstantTime()
                return d
            }
        }
        throw TPMCryptoError.noResult
    }

    /// An integer from octets, required to be in [1, n - 1].
    func scalarInRange(_ bytes: [UInt8]) -> BigNum? {
        let k = BigNum(bytes)
        guard !k.isZero, BigNum.compare(k, group.order) < 0 else { return nil }
        k.setConstantTime()
        return k
    }

    /// The point's coordinates, each padded to `byteCount`.
    func encode(_ pt: ECPointRef) -> ECCPoint? {
        guard let (x, y) = pt.affine(), let xb = x.bytes(count: byteCount), let yb = y.bytes(count: byteCount) else {
            return nil
        }
        return ECCPoint(x: xb, y: yb)
    }

    /// The point, if on this curve (coordinates below p, curve equation, not infinity).
    func decode(_ point: ECCPoint) -> ECPointRef? {
        guard !point.x.isEmpty || !point.y.isEmpty else { return nil }
        return ECPointRef.validated(group, x: BigNum(point.x), y: BigNum(point.y))
    }

    // MARK: point arithmetic (TPM2_Commit, TPM2_ECDH_ZGen, ECDAA)

    /// True when the point lies on the curve with coordinates below p (which also excludes the
    /// point at infinity: the TPM encodes it as empty coordinates).
    public func isValid(_ point: ECCPoint) -> Bool { decode(point) != nil }

    /// [k]G for 1 <= k <= n - 1 (constant time).
    public func multiplyGenerator(by scalar: [UInt8]) throws -> ECCPoint {
        guard let k = scalarInRange(scalar) else { throw TPMCryptoError.valueOutOfRange }
        guard let r = ECPointRef.multiply(group, generatorScalar: k, point: nil, scalar: nil), let out = encode(r) else {
            throw TPMCryptoError.noResult
        }
        return out
    }

    /// [k]P for a valid point P and 1 <= k <= n - 1 (constant time).
    public func multiply(_ point: ECCPoint, by scalar: [UInt8]) throws -> ECCPoint {
        guard let p = decode(point) else { throw TPMCryptoError.invalidPoint }
        guard let k = scalarInRange(scalar) else { throw TPMCryptoError.valueOutOfRange }
        guard let r = ECPointRef.multiply(group, generatorScalar: nil, point: p, scalar: k), let out = encode(r) else {
            throw TPMCryptoError.noResult
        }
        return out
    }

    /// P + Q for valid points; `noResult` when the sum is the point at infinity.
    public func add(_ a: ECCPoint, _ b: ECCPoint) throws -> ECCPoint {
        guard let p = decode(a), let q = decode(b) else { throw TPMCryptoError.invalidPoint }
        guard let r = ECPointRef.add(p, q), let out = encode(r) else { throw TPMCryptoError.noResult }
        return out
    }
}

/// A curve's domain parameters, big-endian.
public struct ECCParameters: Sendable, Equatable {
    public let p: [UInt8]
    public let a: [UInt8]
    public let b: [UInt8]
    public let gX: [UInt8]
    public let gY: [UInt8]
    public let n: [UInt8]
    public let h: [UInt8]
}

/// An affine point (TPMS_ECC_POINT's x and y), big-endian. Points this module returns have
/// both coordinates padded to the curve's `byteCount`; points it takes may be shorter.
public struct ECCPoint: Sendable, Equatable {
    public let x: [UInt8]
    public let y: [UInt8]

    public init(x: [UInt8], y: [UInt8]) {
        self.x = x
        self.y = y
    }
}
