import TPMCrypto
import TPMWire

/// Known-answer vectors for the self tests (Part 1, 12.3). Every expected value comes from a
/// published source, never from our own code:
/// - hashes: the "abc" examples of FIPS 180-4 (NIST's SHA examples);
/// - HMAC: RFC 2202 test case 2 (SHA-1) and RFC 4231 test case 2 (SHA-2), key "Jefe";
/// - KDFa: SP 800-108 counter mode as computed by Python `cryptography`'s KBKDFHMAC
///   (tests/vectors/kdfa_vectors.py, first vector);
/// - HMAC_DRBG: NIST CAVP HMAC_DRBG.rsp, SHA-256, no prediction resistance, no reseed,
///   COUNT = 0 (instantiate, generate 1024 bits twice, compare the second).
/// Tests pass altered vectors to check that a failing test puts the TPM in failure mode.
struct SelfTestVectors: Sendable {
    var hashMessage: [UInt8]
    var hashDigests: [HashAlgorithm: [UInt8]]
    var hmacKey: [UInt8]
    var hmacData: [UInt8]
    var hmacs: [HashAlgorithm: [UInt8]]
    var kdfaKey: [UInt8]
    var kdfaLabel: String
    var kdfaContextU: [UInt8]
    var kdfaContextV: [UInt8]
    var kdfaResult: [UInt8]
    var drbgEntropy: [UInt8]
    var drbgNonce: [UInt8]
    var drbgSecondOutput: [UInt8]

    static let known = SelfTestVectors(
        hashMessage: Array("abc".utf8),
        hashDigests: [
            .sha1: hexBytes("a9993e364706816aba3e25717850c26c9cd0d89d"),
            .sha256: hexBytes("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            .sha384: hexBytes(
                "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"),
            .sha512: hexBytes(
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                    + "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
        ],
        hmacKey: Array("Jefe".utf8),
        hmacData: Array("what do ya want for nothing?".utf8),
        hmacs: [
            .sha1: hexBytes("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
            .sha256: hexBytes("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            .sha384: hexBytes(
                "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"),
            .sha512: hexBytes(
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                    + "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"),
        ],
        kdfaKey: Array(0..<32),
        kdfaLabel: "STORAGE",
        kdfaContextU: [UInt8](repeating: 1, count: 32),
        kdfaContextV: [UInt8](repeating: 2, count: 16),
        kdfaResult: hexBytes("4627576aa1135506e588dedd0f0506355459739f835246615ab0c6259a409338"),
        drbgEntropy: hexBytes("ca851911349384bffe89de1cbdc46e6831e44d34a4fb935ee285dd14b71a7488"),
        drbgNonce: hexBytes("659ba96c601dc69fc902940805ec0ca8"),
        drbgSecondOutput: hexBytes(
            "e528e9abf2dece54d47c7e75e5fe302149f817ea9fb4bee6f4199697d04d5b89"
                + "d54fbb978a15b5c443c9ec21036d2460b6f73ebad0dc2aba6e624abf07745bc1"
                + "07694bb7547bb0995f70de25d6b29e2d3011bb19d27676c07162c8b5ccde0668"
                + "961df86803482cb37ed6d5c0bb8d50cf1f50d476aa0458bdaba806f48be9dcb8"))
}

/// Hex digits to bytes; a malformed literal gives bytes that fail their test rather than trap.
private func hexBytes(_ s: String) -> [UInt8] {
    let digits = Array(s.utf8)
    var out: [UInt8] = []
    out.reserveCapacity(digits.count / 2)
    var i = 0
    while i + 1 < digits.count {
        guard let hi = hexValue(digits[i]), let lo = hexValue(digits[i + 1]) else { return [] }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    default: return nil
    }
}

extension TPM {
    /// volatile.failureCode after a failed self test: this prefix ("SF", self-test failure) and
    /// the TPM_ALG_ID of the algorithm whose test failed. GetTestResult reports it in outData.
    static let selfTestFailurePrefix: UInt32 = 0x5346_0000

    /// The testable algorithms whose test has not run since _TPM_Init (or since the last
    /// SelfTest(fullTest = YES) began), in TPM_ALG_ID order: the toDoList.
    var untestedAlgorithms: [TPMAlgID] {
        TPM.testableAlgorithms.filter { !volatile.testedAlgorithms.contains($0) }
    }

    /// Runs the known-answer tests of `algs` in TPM_ALG_ID order, skipping those already
    /// tested and those without a test, and records each that passes. The first failure puts
    /// the TPM in failure mode (Part 1, 12.3: a failed self test is fatal until _TPM_Init)
    /// and is reported as TPM_RC_FAILURE.
    func runSelfTests(_ algs: [TPMAlgID], vectors: SelfTestVectors = .known) throws {
        for alg in TPM.testableAlgorithms where algs.contains(alg) && !volatile.testedAlgorithms.contains(alg) {
            guard let kind = TPM.algorithmIndex[alg]?.selfTest, TPM.knownAnswerTest(kind, vectors: vectors) else {
                enterFailureMode(TPM.selfTestFailurePrefix | UInt32(alg.rawValue))
                throw TPMError(.failure)
            }
            volatile.testedAlgorithms.insert(alg)
        }
    }

    /// Runs a self test before first use of `alg` (Part 1, 12.3: a command whose result
    /// depends on an untested function tests it first). For commands that use an algorithm.
    func ensureTested(_ alg: TPMAlgID) throws {
        if !volatile.testedAlgorithms.contains(alg) { try runSelfTests([alg]) }
    }

    /// One known-answer test. Both hash implementations the engine uses are checked: the
    /// one-shot swift-crypto digest and the exportable incremental one used by sequences.
    static func knownAnswerTest(_ kind: SelfTestKind, vectors v: SelfTestVectors) -> Bool {
        switch kind {
        case .hash(let h):
            guard let expected = v.hashDigests[h] else { return false }
            var incremental = ExportableHasher(h)
            for byte in v.hashMessage { incremental.update([byte]) }
            return constantTimeEqual(h.digest(v.hashMessage), expected) && constantTimeEqual(incremental.finalize(), expected)
        case .hmac:
            for h in HashAlgorithm.allCases {
                guard let expected = v.hmacs[h], constantTimeEqual(h.hmac(key: v.hmacKey, data: v.hmacData), expected) else {
                    return false
                }
            }
            var drbg = HMACDRBG(entropy: v.drbgEntropy, nonce: v.drbgNonce)
            _ = drbg.generate(v.drbgSecondOutput.count)
            return constantTimeEqual(drbg.generate(v.drbgSecondOutput.count), v.drbgSecondOutput)
        case .kdfa:
            let out = kdfa(
                .sha256, key: v.kdfaKey, label: v.kdfaLabel, contextU: v.kdfaContextU, contextV: v.kdfaContextV,
                bits: v.kdfaResult.count * 8)
            return constantTimeEqual(out, v.kdfaResult)
        }
    }
}
