/// The generator behind derived objects (Part 1, 27.2-27.3, "Derived Objects"; the reference's
/// DRBG_InstantiateSeededKdf and the KDF branch of DRBG_Generate, which libtpms shares): the
/// SP 800-108 counter-mode KDF keyed with the derivation parent's secret, read as one stream.
/// Block i (i = 1, 2, ...) is
///     HMAC_hash(key, [i]32 || label || 0x00 || context || [8192]32)
/// (the zero only when the label does not already end with one, as the reference's KDFa adds
/// it), the octets of successive requests follow one another, and a request that would take
/// the stream past TPM_MAX_DERIVATION_BITS (8192) of generated blocks gets nothing.
public struct DerivationStream: Sendable {
    public static let maxBits = 8192

    private let hash: HashAlgorithm
    private let key: [UInt8]
    private let label: [UInt8]
    private let context: [UInt8]
    private var counter: UInt32 = 0
    /// Octets of the last block not yet handed out.
    private var residual: [UInt8] = []

    public init(hash: HashAlgorithm, key: [UInt8], label: [UInt8], context: [UInt8]) {
        self.hash = hash
        self.key = key
        self.label = label.last == 0 ? label : label + [0]
        self.context = context
    }

    /// The next `count` octets; nil when the request passes the limit (the reference counts
    /// the blocks generated so far, residual octets included).
    public mutating func next(_ count: Int) -> [UInt8]? {
        guard (Int(counter) * hash.digestSize + count) * 8 <= DerivationStream.maxBits else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            if residual.isEmpty {
                counter += 1
                residual = hash.hmac(key: key, data: be32(counter) + label + context + be32(UInt32(DerivationStream.maxBits)))
            }
            let n = min(residual.count, count - out.count)
            out += residual.prefix(n)
            residual.removeFirst(n)
        }
        return out
    }
}

extension ECCPrivateKey {
    /// Octets a derived scalar takes from its source: the order's octets and 64 extra bits.
    public static func extraBitsOctets(_ curve: ECCCurve) -> Int { curve.byteCount + 8 }

    /// A key from a string of random octets by the "extra random bits" method (FIPS 186-5,
    /// A.4.1; the reference's BnEccGetPrivate with a supplied generator, as derived objects use
    /// it): with c the octets as an integer, d = (c mod (n - 1)) + 1.
    public static func fromExtraBits(curve: ECCCurve, _ octets: [UInt8]) throws -> ECCPrivateKey {
        let n = curve.group.order
        guard let r = BigNum.mod(BigNum(octets), n - BigNum(1)) else { throw TPMCryptoError.noResult }
        let d = r + BigNum(1)
        d.setConstantTime()
        return try ECCPrivateKey(curve: curve, d: d)
    }
}
