import XCTest

@testable import TPMCrypto

/// The frozen primary-key derivation (docs/primary-keys.md) pinned by known answers from an
/// independent implementation of the document (tests/vectors/primary_keys.py: Python hmac
/// KDFa, sympy/openssl primality, `cryptography` public points). If one of these fails, the
/// derivation changed: EK certificates would no longer match their keys.
final class PrimaryKeyTests: XCTestCase {
    func hash(_ name: String) -> HashAlgorithm {
        ["sha1": .sha1, "sha256": .sha256, "sha384": .sha384, "sha512": .sha512][name]!
    }

    func testRSAKnownAnswers() throws {
        XCTAssertEqual(PrimaryKeyVectors.rsa.count, 4)
        for v in PrimaryKeyVectors.rsa {
            var source = KDFaBitSource(
                hash: hash(v.hash), seed: hex(v.seed), label: v.label, contextU: hex(v.contextU),
                contextV: hex(v.contextV))
            let key = try RSAPrivateKey.generate(modulusBits: v.modulusBits, exponent: v.exponent, using: &source)
            XCTAssertEqual(key.prime(), hex(v.p), "\(v.modulusBits)")
            XCTAssertEqual(source.counter, v.qCounter, "KDFa requests used")
            let other = try RSAPrivateKey(p: hex(v.p), q: hex(v.q), exponent: v.exponent)
            XCTAssertEqual(key.publicKey, other.publicKey)
            XCTAssertEqual(key.publicKey.modulusBits, v.modulusBits)
            XCTAssertTrue(v.pCounter < v.qCounter)
            // The convenience entry point is the same computation.
            let again = try PrimaryKeyDerivation.rsaKey(
                hash: hash(v.hash), seed: hex(v.seed), label: v.label, contextU: hex(v.contextU),
                contextV: hex(v.contextV), modulusBits: v.modulusBits, exponent: v.exponent)
            XCTAssertEqual(again.publicKey, key.publicKey)
        }
    }

    /// A KDFa source that generation cannot recognize, so it takes the sequential search.
    struct OpaqueSource: BitSource {
        var inner: KDFaBitSource
        mutating func nextBits(_ count: Int) -> [UInt8] { inner.nextBits(count) }
    }

    /// The parallel candidate search (primary keys) gives the sequential search's key and leaves
    /// the source at the same counter, over many seeds; the known answers above take the
    /// parallel path on a machine with several processors, this test takes it on any.
    func testParallelSearchEqualsSequential() throws {
        for i in 0..<16 {
            let seed = HashAlgorithm.sha256.digest(Array("parallel \(i)".utf8))
            let source = KDFaBitSource(hash: .sha256, seed: seed, label: "test", contextU: [1, 2], contextV: [UInt8(i)])
            var sequential = OpaqueSource(inner: source)
            let a = try RSAPrivateKey.generate(modulusBits: 1024, using: &sequential)
            // As many threads as the machine has processors, up to 4 (2 on CI's machine), then one
            // thread through the same code.
            for limit in [4, 1] {
                KeyGeneration.threadLimit = limit
                defer { KeyGeneration.threadLimit = 4 }
                var parallel = source
                let b = try RSAPrivateKey.generate(bits: 512, exponent: RSAPublicKey.defaultExponent, indexed: &parallel)
                XCTAssertEqual(a.publicKey, b.publicKey, "seed \(i), \(limit) threads")
                XCTAssertEqual(a.prime(), b.prime(), "seed \(i)")
                XCTAssertEqual(sequential.inner.counter, parallel.counter, "seed \(i)")
                XCTAssertGreaterThan(parallel.counter, 2)
            }
        }
    }

    func testECCKnownAnswers() throws {
        let curves: [String: ECCCurve] = [
            "nistP256": .nistP256, "nistP384": .nistP384, "nistP521": .nistP521, "bnP256": .bnP256,
        ]
        for v in PrimaryKeyVectors.ecc {
            let curve = curves[v.curve]!
            var source = KDFaBitSource(
                hash: hash(v.hash), seed: hex(v.seed), label: v.label, contextU: hex(v.contextU),
                contextV: hex(v.contextV))
            let key = try ECCPrivateKey.generate(curve: curve, using: &source)
            XCTAssertEqual(key.scalar(), hex(v.d), v.curve)
            XCTAssertEqual(key.publicKey.point, ECCPoint(x: hex(v.x), y: hex(v.y)), v.curve)
            XCTAssertEqual(source.counter, v.counter)
            let again = try PrimaryKeyDerivation.eccKey(
                hash: hash(v.hash), seed: hex(v.seed), label: v.label, contextU: hex(v.contextU),
                contextV: hex(v.contextV), curve: curve)
            XCTAssertEqual(again.scalar(), key.scalar())
        }
    }

    /// Request j of the stream is KDFa with [j]32 appended to contextV, for the bits asked.
    func testKDFaBitSourceLayout() {
        var s = KDFaBitSource(hash: .sha256, seed: [1, 2, 3], label: "L", contextU: [4], contextV: [5])
        XCTAssertEqual(s.nextBits(521), kdfa(.sha256, key: [1, 2, 3], label: "L", contextU: [4], contextV: [5, 0, 0, 0, 1], bits: 521))
        XCTAssertEqual(s.nextBits(64), kdfa(.sha256, key: [1, 2, 3], label: "L", contextU: [4], contextV: [5, 0, 0, 0, 2], bits: 64))
        XCTAssertEqual(s.counter, 2)
        XCTAssertEqual(s.nextBytes(3).count, 3)
    }

    /// Every input matters: changing any one gives another key.
    func testEveryInputChangesTheKey() throws {
        let seed = [UInt8](repeating: 7, count: 32)
        func key(
            _ h: HashAlgorithm = .sha256, seed s: [UInt8]? = nil, label: String = "L", u: [UInt8] = [1],
            v: [UInt8] = []
        ) throws -> [UInt8] {
            try PrimaryKeyDerivation.eccKey(hash: h, seed: s ?? seed, label: label, contextU: u, contextV: v, curve: .nistP256).scalar()
        }
        let base = try key()
        XCTAssertEqual(base, try key())
        XCTAssertNotEqual(base, try key(.sha384))
        XCTAssertNotEqual(base, try key(seed: [UInt8](repeating: 8, count: 32)))
        XCTAssertNotEqual(base, try key(label: "M"))
        XCTAssertNotEqual(base, try key(u: [2]))
        XCTAssertNotEqual(base, try key(v: [0]))
    }
}
