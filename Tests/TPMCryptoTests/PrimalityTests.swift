import XCTest

@testable import TPMCrypto

/// The key-generation primality test against OpenSSL's BN_check_prime (64+ Miller-Rabin rounds
/// with random bases) and against numbers that fool weaker tests.
final class PrimalityTests: XCTestCase {
    func testSmallPrimeTable() {
        let primes = PrimalityTest.smallPrimeGroups.flatMap(\.primes)
        XCTAssertEqual(primes.count, 563)  // the odd primes below 4096
        XCTAssertEqual(primes.first, 3)
        XCTAssertEqual(primes.last, 4093)
        for g in PrimalityTest.smallPrimeGroups { XCTAssertEqual(g.primes.reduce(1, *), g.product) }
    }

    /// Chernick's Carmichael numbers (6k+1)(12k+1)(18k+1): Fermat pseudoprimes to every coprime
    /// base, with no factor below 4096 here, so only the Miller-Rabin rounds can reject them.
    /// (Found with sympy; the last has 312 bits.)
    func testCarmichaelNumbersAreRejected() {
        let ctx = BNContext()
        for n in [
            "01450c09b6c1", "01677dac8dd1", "01a265adafa9",
            "27c37f079855a03c083d1f3f4c5cea5330bd2118760625145454d8fcde25324e61a2ac2388b659",
        ] {
            XCTAssertFalse(PrimalityTest.isProbablePrime(BigNum(hex(n)), ctx), n)
            XCTAssertFalse(PrimalityTest.hasSmallFactor(BigNum(hex(n))), n)
        }
    }

    func testKnownPrimesAndSemiprimes() {
        let ctx = BNContext()
        let primes = [RSAVectors.p2048, RSAVectors.q2048, RSAVectors.pssvect_p, RSAVectors.p1024e3]
        for p in primes { XCTAssertTrue(PrimalityTest.isProbablePrime(BigNum(hex(p)), ctx)) }
        XCTAssertFalse(PrimalityTest.isProbablePrime(BigNum(hex(RSAVectors.n2048)), ctx))
        XCTAssertFalse(PrimalityTest.isProbablePrime(BigNum(hex(RSAVectors.n1024e3)), ctx))
        // Even numbers and numbers below 4096 are outside the test's domain: always false.
        XCTAssertFalse(PrimalityTest.isProbablePrime(BigNum(4093), ctx))
        XCTAssertFalse(PrimalityTest.isProbablePrime(BigNum(hex(RSAVectors.p2048) + [0]), ctx))
    }

    /// Trial division and remainders on 32-bit words (key generation's fast path) agree with
    /// the same computations on OpenSSL bignums, for every candidate size up to 2048 bits.
    func testWordArithmeticAgreesWithBignums() {
        var drbg = HMACDRBG(entropy: [UInt8](repeating: 0x5A, count: 32))
        var words: [UInt32] = []
        var factors = 0
        for i in 0..<400 {
            let bits = 13 + (i * 37) % 2036
            var raw = drbg.nextBits(bits)
            raw[raw.count - 1] |= 1
            PrimalityTest.loadWords(raw, into: &words)
            XCTAssertEqual(words.count, (raw.count + 3) / 4)
            let c = BigNum(raw)
            let small = PrimalityTest.hasSmallFactor(words: words)
            XCTAssertEqual(small, PrimalityTest.hasSmallFactor(c), hexString(raw))
            if small { factors += 1 }
            for m: UInt32 in [3, 65537, 4093, 0xFFFF_FFFB] {
                XCTAssertEqual(UInt(PrimalityTest.remainder(words: words, modulo: m)), c.remainder(dividingBy: UInt(m)))
            }
        }
        // About 86% of odd numbers have an odd prime factor below 4096.
        XCTAssertGreaterThan(factors, 300)
        XCTAssertLessThan(factors, 380)
        XCTAssertEqual(PrimalityTest.smallPrimes.count, 563)
    }

    /// Same verdict as OpenSSL on random odd numbers of key-generation sizes.
    func testAgreesWithOpenSSL() {
        let ctx = BNContext()
        var drbg = HMACDRBG(entropy: [UInt8](repeating: 0x33, count: 32))
        var primesSeen = 0
        for i in 0..<600 {
            let bits = [256, 512, 1024][i % 3]
            let c = BigNum(drbg.nextBits(bits))
            c.setBit(bits - 1)
            c.setBit(0)
            let ours = PrimalityTest.isProbablePrime(c, ctx)
            XCTAssertEqual(ours, c.isProbablePrime(ctx), hexString(c.minimalBytes))
            if ours { primesSeen += 1 }
        }
        XCTAssertGreaterThan(primesSeen, 0)
    }
}
