import TPMCrypto
import XCTest

/// KDFa is SP 800-108 counter mode (32-bit counter before the fixed data, fixed data =
/// label || 0x00 || contextU || contextV || [L]32). Expected values come from an independent
/// implementation: Python `cryptography`'s KBKDFHMAC with the same layout (see
/// tests/vectors/kdfa_vectors.py, which prints them).
final class KDFTests: XCTestCase {
    func testKDFaAgainstIndependentSP800108() {
        XCTAssertEqual(
            kdfa(
                .sha256, key: Array(0..<32), label: "STORAGE", contextU: [UInt8](repeating: 1, count: 32),
                contextV: [UInt8](repeating: 2, count: 16), bits: 256),
            hex("4627576aa1135506e588dedd0f0506355459739f835246615ab0c6259a409338"))
        XCTAssertEqual(
            kdfa(.sha1, key: Array("secret key".utf8), label: "CFB", contextU: Array("abc".utf8), contextV: [], bits: 128),
            hex("31d8a8e86bdb44d30a1cc2632932c1f4"))
        XCTAssertEqual(
            kdfa(.sha512, key: [UInt8](repeating: 0, count: 64), label: "KDF label", contextU: [], contextV: [], bits: 1024),
            hex(
                "f44e7cafe7f8886fc0508dec942219cd729dae7270b47b5612574b13475d3071e0358605aaf04719d23fce290bd3eb0ea7356c9f2d37c94660758cf41dafb35132a5a1e01f56b912140aebe05f5322e6d2e9b42e6f8e4212ef8d2ca43be23bb6d27a93b9e4b4d810ea72d921c604d7e77f553606ef2fa35db16f6879b17e0031"
            ))
        XCTAssertEqual(
            kdfa(.sha384, key: Array("k".utf8), label: "ATH", contextU: Array("nonceA".utf8), contextV: Array("nonceB".utf8), bits: 384),
            hex("d6aacfe909fac5aa7dcc0b5993c6019d0dabc1496f7ece4e0ac5e91ddbb24f41c517db907d1aa1f9978de6b45850c4f3"))
    }

    /// A bit count that is not a multiple of 8: L carries the exact bits and the unused high
    /// bits of the first octet are cleared (Part 1, 11.4.10.2). Expected value: HMAC-SHA256
    /// computed by Python's hmac module over [1]32 || "TEST" || 0 || [250]32, first 32
    /// octets, first octet masked with 0x03.
    func testKDFaOddBits() {
        let out = kdfa(.sha256, key: Array("key".utf8), label: "TEST", contextU: [], contextV: [], bits: 250)
        XCTAssertEqual(out.count, 32)
        XCTAssertEqual(out, hex("0212f8a7d1e323f53e858ffe76423b2f5c98cd4441e49fe796d9168f8424922c"))
    }

    func testLabelWithExplicitTerminatorIsNotDoubled() {
        let a = kdfa(.sha256, key: [1], label: "X", contextU: [], contextV: [], bits: 64)
        let b = kdfa(.sha256, key: [1], label: "X\u{0}", contextU: [], contextV: [], bits: 64)
        XCTAssertEqual(a, b)
    }
}

/// NIST CAVP HMAC_DRBG (SHA-256, no prediction resistance, no additional input, no
/// personalization), COUNT = 0: instantiate, generate 1024 bits (discarded), generate 1024
/// bits and compare.
final class DRBGTests: XCTestCase {
    func testCAVPVector() {
        var d = HMACDRBG(
            entropy: hex("ca851911349384bffe89de1cbdc46e6831e44d34a4fb935ee285dd14b71a7488"),
            nonce: hex("659ba96c601dc69fc902940805ec0ca8"))
        _ = d.generate(128)
        XCTAssertEqual(
            d.generate(128),
            hex(
                "e528e9abf2dece54d47c7e75e5fe302149f817ea9fb4bee6f4199697d04d5b89d54fbb978a15b5c443c9ec21036d2460b6f73ebad0dc2aba6e624abf07745bc107694bb7547bb0995f70de25d6b29e2d3011bb19d27676c07162c8b5ccde0668961df86803482cb37ed6d5c0bb8d50cf1f50d476aa0458bdaba806f48be9dcb8"
            ))
    }

    func testExportImportContinuesIdentically() {
        var a = HMACDRBG(entropy: [UInt8](repeating: 7, count: 48))
        _ = a.generate(10)
        guard var b = HMACDRBG(exportedState: a.exportedState) else { return XCTFail("import failed") }
        XCTAssertEqual(a.generate(50), b.generate(50))
        XCTAssertNil(HMACDRBG(exportedState: [1, 2, 3]))
    }

    func testSystemEntropyIsNotConstant() {
        XCTAssertEqual(SystemEntropy.bytes(33).count, 33)
        XCTAssertNotEqual(SystemEntropy.bytes(32), SystemEntropy.bytes(32))
    }
}
