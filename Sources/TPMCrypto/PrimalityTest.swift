/// The primality test of RSA key generation: trial division by the odd primes below 4096, a
/// Miller-Rabin round with base 2 (a cheap filter for composites), then Miller-Rabin (FIPS
/// 186-5, B.3.1) with the round counts of FIPS 186-5 Table B.1 for randomly
/// generated candidates at the 2^-112 (1024-bit primes) and 2^-128 (1536 bits and more) error
/// levels, and 8 rounds for smaller primes. The bases are derived from the candidate (KDFa over
/// its octets), so the test is a pure function of its input.
///
/// Key generation defines its result by primality itself (RSAKeyGeneration.swift); this test
/// only decides it, wrongly with probability below 2^-112 per candidate, so a faster or
/// stronger test may replace it without changing any derived key.
enum PrimalityTest {
    /// Odd primes below 4096 grouped so that each group's product fits a machine word: one
    /// bignum division per group, then word arithmetic.
    static let smallPrimeGroups: [(product: UInt, primes: [UInt])] = {
        let limit = 4096
        var composite = [Bool](repeating: false, count: limit)
        var groups: [(product: UInt, primes: [UInt])] = []
        var product: UInt = 1
        var primes: [UInt] = []
        for n in 3..<limit where !composite[n] && n % 2 == 1 {
            for m in stride(from: n * n, to: limit, by: 2 * n) { composite[m] = true }
            let (next, overflow) = product.multipliedReportingOverflow(by: UInt(n))
            if overflow {
                groups.append((product, primes))
                product = UInt(n)
                primes = [UInt(n)]
            } else {
                product = next
                primes.append(UInt(n))
            }
        }
        groups.append((product, primes))
        return groups
    }()

    /// The odd primes below 4096, ascending.
    static let smallPrimes: [UInt32] = smallPrimeGroups.flatMap { $0.primes.map { UInt32($0) } }

    /// Words of the residue table: enough for candidates of up to 2048 bits (RSA-4096 primes).
    static let residueWords = 64

    /// residueTable[k * residueWords + i] = 2^(32 i) mod smallPrimes[k]: with the candidate as
    /// 32-bit words w_i, c mod p = (sum of w_i * 2^(32 i) mod p) mod p, which needs no division
    /// of a bignum (each term is below 2^44, so a sum of 64 terms fits 64 bits).
    static let residueTable: [UInt32] = {
        var t: [UInt32] = []
        t.reserveCapacity(smallPrimes.count * residueWords)
        for p in smallPrimes {
            var r: UInt64 = 1
            for _ in 0..<residueWords {
                t.append(UInt32(r))
                r = (r << 32) % UInt64(p)
            }
        }
        return t
    }()

    /// `octets` (big-endian) as little-endian 32-bit words in `words` (resized as needed).
    static func loadWords(_ octets: [UInt8], into words: inout [UInt32]) {
        let n = (octets.count + 3) / 4
        if words.count != n { words = [UInt32](repeating: 0, count: n) }
        for i in 0..<n { words[i] = 0 }
        for (j, o) in octets.reversed().enumerated() { words[j / 4] |= UInt32(o) << (8 * UInt32(j % 4)) }
    }

    /// True when an odd prime below 4096 divides the number whose little-endian 32-bit words
    /// are `words` (at most `residueWords` of them). For a number above 4096 this proves it
    /// composite.
    static func hasSmallFactor(words: [UInt32]) -> Bool {
        precondition(words.count <= residueWords, "candidate too large for the residue table")
        return residueTable.withUnsafeBufferPointer { table in
            words.withUnsafeBufferPointer { w in
                for (k, p) in smallPrimes.enumerated() {
                    let row = k * residueWords
                    var acc: UInt64 = 0
                    for i in 0..<w.count { acc &+= UInt64(w[i]) &* UInt64(table[row + i]) }
                    if acc % UInt64(p) == 0 { return true }
                }
                return false
            }
        }
    }

    /// The number with little-endian 32-bit words `words` modulo m (m >= 1).
    static func remainder(words: [UInt32], modulo m: UInt32) -> UInt32 {
        var r: UInt64 = 0
        for w in words.reversed() { r = (r << 32 | UInt64(w)) % UInt64(m) }
        return UInt32(r)
    }

    /// True when an odd prime below 4096 divides `c` (for c above 4096 this proves it composite).
    static func hasSmallFactor(_ c: BigNum) -> Bool {
        for g in smallPrimeGroups {
            let r = c.remainder(dividingBy: g.product)
            for p in g.primes where r % p == 0 { return true }
        }
        return false
    }

    static func millerRabinRounds(bits: Int) -> Int {
        bits >= 1536 ? 4 : bits >= 1024 ? 5 : 8
    }

    /// For odd w > 4096: no small factor and `millerRabinRounds` Miller-Rabin rounds passed.
    /// `trialDivided`: the caller has already found no small factor (key generation tests that
    /// on the candidate's octets before it makes a bignum); the verdict is the same.
    /// `abandon` is asked before each exponentiation: when it answers true the verdict no longer
    /// matters to the caller (a parallel search found an earlier prime) and the test answers false.
    /// `likelyPrime` is called once w passed the base-2 round (almost surely prime).
    static func isProbablePrime(
        _ w: BigNum, _ ctx: BNContext, trialDivided: Bool = false, abandon: () -> Bool = { false },
        likelyPrime: () -> Void = {}
    ) -> Bool {
        guard w.isOdd, w.bitCount > 12, trialDivided || !hasSmallFactor(w) else { return false }
        let one = BigNum(1)
        let wMinus1 = w - one
        // w - 1 = 2^a * m with m odd
        var a = 0
        while !wMinus1.isBitSet(a) { a += 1 }
        let m = wMinus1.shiftedRight(a)
        guard let mont = MontgomeryContext(w, ctx) else { return false }
        // A first round with base 2, which needs no derived base and exponentiates a machine
        // word: it rejects almost every composite that trial division let through, cheaply. It
        // only adds a test (a prime passes it), so the FIPS rounds below still decide.
        guard millerRabinRound(z: BigNum.modExp(word: 2, m, mont, ctx), w: w, wMinus1: wMinus1, a: a, ctx) else { return false }
        likelyPrime()
        let wBytes = w.minimalBytes
        let range = w - BigNum(3)
        for i in 0..<millerRabinRounds(bits: w.bitCount) {
            if abandon() { return false }
            // base in [2, w - 2]
            let raw = kdfa(.sha256, key: wBytes, label: "MR base", contextU: [], contextV: be32(UInt32(i)), bits: w.bitCount + 64)
            guard let r = BigNum.mod(BigNum(raw), range) else { return false }
            let b = r + BigNum(2)
            guard millerRabinRound(z: BigNum.modExp(b, m, mont, ctx), w: w, wMinus1: wMinus1, a: a, ctx) else { return false }
        }
        return true
    }

    /// One Miller-Rabin round given z = b^m mod w (w - 1 = 2^a * m): whether w passes.
    private static func millerRabinRound(z start: BigNum, w: BigNum, wMinus1: BigNum, a: Int, _ ctx: BNContext) -> Bool {
        var z = start
        if z.isOne || BigNum.compare(z, wMinus1) == 0 { return true }
        for _ in 1..<max(a, 1) {
            z = BigNum.modSquare(z, w, ctx)
            if BigNum.compare(z, wMinus1) == 0 { return true }
            if z.isOne { return false }
        }
        return false
    }
}
