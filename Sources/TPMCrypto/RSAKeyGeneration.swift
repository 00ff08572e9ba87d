import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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
        if var indexed = source as? KDFaBitSource, ParallelPrimeSearch.workers > 1 {
            // Primary keys: every candidate is addressed by its KDFa counter, so the candidates
            // can be tested on several threads and the first accepted one taken, as below.
            let key = try generate(bits: b, exponent: exponent, indexed: &indexed)
            source = indexed as! S  // S is KDFaBitSource: the cast above succeeded
            return key
        }
        let ctx = BNContext()
        let p = try findPrime(bits: b, exponent: exponent, source: &source, ctx: ctx) { _ in true }
        let qCheck = QCheck(p: p, bits: b, exponent: exponent)
        let q = try findPrime(bits: b, exponent: exponent, source: &source, ctx: ctx) { qCheck.accepts($0) }
        return try RSAPrivateKey(p: p, q: q, exponent: exponent)
    }

    /// The same key from a counter-addressed source, its candidates tested by
    /// `ParallelPrimeSearch.workers` threads; `source` ends where the sequential search would
    /// leave it (after q's candidate).
    static func generate(bits b: Int, exponent: UInt32, indexed source: inout KDFaBitSource) throws -> RSAPrivateKey {
        let search = ParallelPrimeSearch(source: source, bits: b, exponent: exponent)
        var pOctets = try search.first(after: source.counter, p: nil)
        defer { secureWipe(&pOctets.octets) }
        var qOctets = try search.first(after: pOctets.counter, p: pOctets.octets)
        defer { secureWipe(&qOctets.octets) }
        source.skip(to: qOctets.counter)
        return try RSAPrivateKey(p: BigNum(pOctets.octets), q: BigNum(qOctets.octets), exponent: exponent)
    }

    /// The further conditions on q given p: |p - q| > 2^(b-100) and d > 2^b.
    struct QCheck {
        let p: BigNum
        let e: BigNum
        let minDistance = BigNum(1)
        let dFloor = BigNum(0)

        init(p: BigNum, bits b: Int, exponent: UInt32) {
            self.p = p
            e = BigNum(UInt(exponent))
            minDistance.setBit(b - 100)
            minDistance.setBit(0)  // > 2^(b-100) means >= 2^(b-100) + 1
            dFloor.setBit(b)
        }

        func accepts(_ q: BigNum) -> Bool {
            let diff = BigNum.compare(p, q) >= 0 ? p - q : q - p
            guard BigNum.compare(diff, minDistance) >= 0 else { return false }
            guard let d = privateExponent(p: p, q: q, e: e) else { return false }
            return BigNum.compare(d, dFloor) > 0
        }
    }

    /// The first candidate of `bits` bits (top two and lowest bit set) that is prime, has
    /// gcd(c - 1, e) = 1 and satisfies `accept`. The checks are ordered cheapest first; the
    /// candidate accepted does not depend on the order.
    static func findPrime<S: BitSource>(
        bits b: Int, exponent e: UInt32, source: inout S, ctx: BNContext,
        accept: (BigNum) -> Bool
    ) throws -> BigNum {
        var words: [UInt32] = []
        defer { for i in words.indices { words[i] = 0 } }
        for _ in 0..<(candidateBudget(bits: b)) {
            var raw = source.nextBits(b)
            defer { secureWipe(&raw) }
            if let c = testCandidate(&raw, bits: b, exponent: e, words: &words, ctx: ctx, accept: accept) { return c }
        }
        throw TPMCryptoError.noResult
    }

    /// Each prime may use at most 32 * b candidates.
    static func candidateBudget(bits b: Int) -> Int { 32 * b }

    /// One candidate: sets its fixed bits in `raw` and answers it as a bignum when accepted.
    /// Trial division and the gcd with e work on the candidate's octets (32-bit words and a
    /// residue table, no bignum division or allocation); only the candidates without a small
    /// factor (about one in eight) become bignums for Miller-Rabin.
    static func testCandidate(
        _ raw: inout [UInt8], bits b: Int, exponent e: UInt32, words: inout [UInt32], ctx: BNContext,
        abandon: () -> Bool = { false }, likelyPrime: () -> Void = {}, accept: (BigNum) -> Bool
    ) -> BigNum? {
        func set(_ bit: Int) { raw[raw.count - 1 - bit / 8] |= UInt8(1) << UInt8(bit % 8) }
        set(b - 1)
        set(b - 2)
        set(0)
        PrimalityTest.loadWords(raw, into: &words)
        guard !PrimalityTest.hasSmallFactor(words: words) else { return nil }
        // gcd(c - 1, e) = gcd(e, (c - 1) mod e), in machine words.
        let cModE = UInt(PrimalityTest.remainder(words: words, modulo: e))
        guard wordGCD(UInt(e), (cModE + UInt(e) - 1) % UInt(e)) == 1 else { return nil }
        let c = BigNum(raw)
        guard PrimalityTest.isProbablePrime(c, ctx, trialDivided: true, abandon: abandon, likelyPrime: likelyPrime), accept(c)
        else { return nil }
        return c
    }
}

/// How many threads may search one primary RSA key's primes (process-wide). The default, 4, suits
/// a process that serves one TPM (swtpm_setup, `vtpm socket`): key generation takes about half
/// the wall time on two cores. A daemon serving many guests sets 1: a guest asking for keys in a
/// loop should not take more than one core from its neighbours. The key is the same either way.
public enum KeyGeneration {
    private static let limit = Atomic<Int>(4)

    public static var threadLimit: Int {
        get { limit.load(ordering: .relaxed) }
        set { limit.store(max(1, newValue), ordering: .relaxed) }
    }
}

/// The first accepted candidate of a counter-addressed source, found by several threads. Each
/// thread claims the next counter, tests that candidate, and records it when accepted; a thread
/// stops when it claims a counter beyond the earliest accepted one recorded. Counters are
/// claimed in increasing order and each claimed one is tested to the end unless an earlier
/// accepted one is known, so when every thread has stopped all counters below the earliest
/// accepted one were tested and rejected: the answer is the sequential search's.
struct ParallelPrimeSearch: Sendable {
    /// Threads per search: `KeyGeneration.threadLimit`, at most the processors online.
    static var workers: Int { min(KeyGeneration.threadLimit, processorsOnline) }

    static let processorsOnline: Int = {
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return n < 1 ? 1 : Int(n)
    }()

    let source: KDFaBitSource
    let bits: Int
    let exponent: UInt32

    init(source: KDFaBitSource, bits: Int, exponent: UInt32) {
        self.source = source
        self.bits = bits
        self.exponent = exponent
    }

    /// The accepted candidate with the smallest counter above `after` (within the budget) and
    /// that counter. With `p` (p's octets) this searches q, with q's further conditions.
    func first(after: UInt32, p: [UInt8]?) throws -> (octets: [UInt8], counter: UInt32) {
        let state = SearchState(next: after, last: after &+ UInt32(RSAPrivateKey.candidateBudget(bits: bits)))
        let n = Self.workers
        if n > 1 {
            DispatchQueue.concurrentPerform(iterations: n) { _ in work(state, p: p) }
        } else {
            work(state, p: p)
        }
        return try state.result()
    }

    private func work(_ state: SearchState, p: [UInt8]?) {
        let ctx = BNContext()
        var words: [UInt32] = []
        defer { for i in words.indices { words[i] = 0 } }
        let qCheck = p.map { BigNum($0) }.map { RSAPrivateKey.QCheck(p: $0, bits: bits, exponent: exponent) }
        while let counter = state.claim() {
            guard state.waitForEarlierLikelyPrime(counter) else { continue }
            var raw = source.bits(at: counter, count: bits)
            defer { secureWipe(&raw) }
            var marked = false
            let c = RSAPrivateKey.testCandidate(
                &raw, bits: bits, exponent: exponent, words: &words, ctx: ctx, abandon: { state.isSettledBelow(counter) },
                likelyPrime: {
                    state.markLikelyPrime(counter)
                    marked = true
                }
            ) { qCheck?.accepts($0) ?? true }
            if c != nil {
                state.record(counter, raw)
            } else if marked {
                state.unmarkLikelyPrime(counter)
            }
        }
    }
}

/// The shared state of one parallel search.
private final class SearchState: Sendable {
    private let next: Atomic<UInt32>
    private let last: UInt32
    /// The smallest accepted counter found so far (UInt32.max: none).
    private let best = Atomic<UInt32>(UInt32.max)
    /// The accepted candidate with counter `best` (counter .max: none yet).
    private let found = Mutex(Found())

    private struct Found {
        var octets: [UInt8] = []
        var counter = UInt32.max
    }

    /// Counters after..<last+1 are to be searched.
    init(next after: UInt32, last: UInt32) {
        self.next = Atomic(after)
        self.last = last
    }

    /// The next counter to test, or nil when the search is over for this thread.
    func claim() -> UInt32? {
        let c = next.add(1, ordering: .relaxed).newValue
        return c <= last && c < best.load(ordering: .acquiring) ? c : nil
    }

    /// Whether an accepted candidate before `counter` is known (testing `counter` is moot).
    func isSettledBelow(_ counter: UInt32) -> Bool { best.load(ordering: .acquiring) < counter }

    /// The smallest counter whose candidate passed the base-2 round and is still being tested
    /// (UInt32.max: none). Such a candidate is almost surely the answer: a thread that claimed a
    /// later counter waits for its verdict rather than test candidates that would be thrown away.
    /// Only a throttle: the answer depends on `best` alone.
    private let likely = Atomic<UInt32>(UInt32.max)

    func markLikelyPrime(_ counter: UInt32) { _ = likely.min(counter, ordering: .releasing) }

    func unmarkLikelyPrime(_ counter: UInt32) {
        _ = likely.compareExchange(expected: counter, desired: .max, ordering: .releasing)
    }

    /// Before testing `counter`: waits while an earlier candidate is being confirmed. False when
    /// an accepted candidate before `counter` is known (nothing to test); true otherwise.
    func waitForEarlierLikelyPrime(_ counter: UInt32) -> Bool {
        while true {
            if best.load(ordering: .acquiring) < counter { return false }
            let l = likely.load(ordering: .acquiring)
            if l >= counter { return true }
            // A few Miller-Rabin rounds (about a millisecond for RSA-2048) remain on the other
            // thread.
            usleep(50)
        }
    }

    func record(_ counter: UInt32, _ octets: [UInt8]) {
        found.withLock { f in
            guard counter < f.counter else { return }
            secureWipe(&f.octets)
            f = Found(octets: octets, counter: counter)
            best.store(counter, ordering: .releasing)
        }
    }

    func result() throws -> (octets: [UInt8], counter: UInt32) {
        // Taken out, so the caller holds the only copy of the octets (and can wipe them).
        let f = found.withLock { f in
            defer { f = Found() }
            return f
        }
        guard f.counter != .max else { throw TPMCryptoError.noResult }
        return (f.octets, f.counter)
    }
}

private func wordGCD(_ a: UInt, _ b: UInt) -> UInt {
    var (x, y) = (a, b)
    while y != 0 { (x, y) = (y, x % y) }
    return x
}
