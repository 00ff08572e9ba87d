/// RSA key-pair generation from a BitSource: the DRBG for TPM2_Create, a `KDFaBitSource` for
/// primary keys. The algorithm is part of the primary-key derivation that docs/primary-keys.md
/// freezes (EK certificates depend on it): change nothing here without a state-format version.
///
/// For a modulus of `nlen` bits each prime has b = nlen/2 bits. A candidate is one request of
/// b bits from the source, read big-endian, with bits b-1, b-2 and 0 set (so p, q >=
/// 1.5 * 2^(b-1) > sqrt(2) * 2^(b-1) and n has exactly nlen bits, FIPS 186-5 A.1.3). It is
/// accepted when gcd(c - 1, e) = 1 and c is prime; for q, also when |p - q| > 2^(b-100) and
/// d = e^-1 mod lcm(p-1, q-1) > 2^b (FIPS 186-5 A.1.1, A.1.3). p is the first accepted
/// candidate, q the first accepted one after it. Each prime may use at most 32 * b
/// candidates (the chance of needing more is below 2^-130); then generation fails.
///
/// "Prime" is the mathematical property. `PrimalityTest` decides it (trial division, then
/// Miller-Rabin with FIPS 186-5 round counts), wrongly with probability below 2^-112, so the
/// output is a pure function of the source's bits whatever test a later version uses.
extension RSAPrivateKey {
    public static let modulusBitsRangeForGeneration = 1024...4096

    /// Generates a key pair with an `modulusBits`-bit modulus (even, 1024...4096) and public
    /// exponent `exponent` (odd, >= 3). Throws `noResult` when the source yields no prime within
    /// the budget.
    public static func generate<S: BitSource>(
        modulusBits: Int, exponent: UInt32 = RSAPublicKey.defaultExponent,
        using source: inout S
    ) throws -> RSAPrivateKey {
        guard modulusBitsRangeForGeneration.contains(modulusBits), modulusBits % 2 == 0 else {
            throw TPMCryptoError.invalidKey
        }
        guard exponent >= 3, exponent & 1 == 1 else { throw TPMCryptoError.invalidKey }
        let b = modulusBits / 2
        let e = BigNum(UInt(exponent))
        let ctx = BNContext()
        let p = try findPrime(bits: b, exponent: exponent, source: &source, ctx: ctx) { _ in true }
        let minDistance = BigNum(1)
        minDistance.setBit(b - 100)
        minDistance.setBit(0)  // > 2^(b-100) means >= 2^(b-100) + 1
        let dFloor = BigNum(0)
        dFloor.setBit(b)
        let q = try findPrime(bits: b, exponent: exponent, source: &source, ctx: ctx) { q in
            let diff = BigNum.compare(p, q) >= 0 ? p - q : q - p
            guard BigNum.compare(diff, minDistance) >= 0 else { return false }
            guard let d = privateExponent(p: p, q: q, e: e) else { return false }
            return BigNum.compare(d, dFloor) > 0
        }
        return try RSAPrivateKey(p: p, q: q, exponent: exponent)
    }

    /// The first candidate of `bits` bits (top two and lowest bit set) that is prime, has
    /// gcd(c - 1, e) = 1 and satisfies `accept`. The checks are ordered cheapest first; the
    /// candidate accepted does not depend on the order.
    static func findPrime<S: BitSource>(
        bits b: Int, exponent e: UInt32, source: inout S, ctx: BNContext,
        accept: (BigNum) -> Bool
    ) throws -> BigNum {
        // Trial division and the gcd with e work on the candidate's octets (32-bit words and a
        // residue table, no bignum division or allocation); only the candidates without a small
        // factor (about one in eight) become bignums for Miller-Rabin.
        var words: [UInt32] = []
        defer { for i in words.indices { words[i] = 0 } }
        for _ in 0..<(32 * b) {
            var raw = source.nextBits(b)
            defer { secureWipe(&raw) }
            func set(_ bit: Int) { raw[raw.count - 1 - bit / 8] |= UInt8(1) << UInt8(bit % 8) }
            set(b - 1)
            set(b - 2)
            set(0)
            PrimalityTest.loadWords(raw, into: &words)
            guard !PrimalityTest.hasSmallFactor(words: words) else { continue }
            // gcd(c - 1, e) = gcd(e, (c - 1) mod e), in machine words.
            let cModE = UInt(PrimalityTest.remainder(words: words, modulo: e))
            guard wordGCD(UInt(e), (cModE + UInt(e) - 1) % UInt(e)) == 1 else { continue }
            let c = BigNum(raw)
            guard PrimalityTest.isProbablePrime(c, ctx, trialDivided: true), accept(c) else { continue }
            return c
        }
        throw TPMCryptoError.noResult
    }
}

private func wordGCD(_ a: UInt, _ b: UInt) -> UInt {
    var (x, y) = (a, b)
    while y != 0 { (x, y) = (y, x % y) }
    return x
}
