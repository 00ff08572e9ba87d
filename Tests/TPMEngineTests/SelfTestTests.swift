import Crypto
import TPMCrypto
import TPMWire
import XCTest

@testable import TPMEngine

private func wire(_ s: String) -> [UInt8] {
    let d = Array(s.filter { !$0.isWhitespace }.utf8)
    return stride(from: 0, to: d.count - 1, by: 2).map { UInt8(String(decoding: d[$0...$0 + 1], as: UTF8.self), radix: 16)! }
}

private func algList(_ algs: [UInt16], count: UInt32? = nil) -> [UInt8] {
    var w = TPMWriter()
    w.u32(count ?? UInt32(algs.count))
    for a in algs { w.u16(a) }
    return w.bytes
}

/// The toDoList of an IncrementalSelfTest response.
private func toDo(_ r: [UInt8]) -> [UInt16]? {
    guard responseCode(r) == 0, let l = try? TPMLAlg(wire: Array(r.dropFirst(10))) else { return nil }
    return l.items.map(\.rawValue)
}

/// TPM2_SelfTest, TPM2_IncrementalSelfTest, TPM2_GetTestResult (Part 3, 10) and failure mode.
final class SelfTestTests: XCTestCase {
    /// SHA-1, HMAC, SHA-256, SHA-384, SHA-512, KDF1_SP800_108: the algorithms with a test.
    let testable: [UInt16] = [0x0004, 0x0005, 0x000B, 0x000C, 0x000D, 0x0022]

    func testNothingIsTestedAfterStartupAndIncrementalTestsOnlyWhatIsAsked() {
        let tpm = startedTPM()
        // An empty toTest list tests nothing and reports what is untested.
        XCTAssertEqual(toDo(tpm.execute(command: command(.incrementalSelfTest, algList([])))), testable)
        // GetTestResult outside failure mode: TPM_RC_SUCCESS, as the reference code and libtpms
        // answer even before any test has run (tpm2-tools' gettestresult script expects it).
        XCTAssertEqual(tpm.execute(command: command(.getTestResult)), wire("8001 00000010 00000000 0000 00000000"))
        // Testing SHA-256 takes it off the list; RSA is implemented but has no test of its own.
        XCTAssertEqual(
            toDo(tpm.execute(command: command(.incrementalSelfTest, algList([0x000B])))), testable.filter { $0 != 0x000B })
        XCTAssertEqual(
            toDo(tpm.execute(command: command(.incrementalSelfTest, algList([0x0001, 0x0004, 0x0004])))),
            testable.filter { $0 != 0x000B && $0 != 0x0004 })
        XCTAssertEqual(tpm.volatile.testedAlgorithms, [.sha256, .sha1])
    }

    func testIncrementalSelfTestErrors() {
        let tpm = startedTPM()
        // Not implemented (SM4, NULL, an undefined value): TPM_RC_VALUE + P1 (swtpm: same),
        // and nothing is tested, even the valid algorithms before it.
        for bad: UInt16 in [0x0013, 0x0010, 0x0002, 0xFFFF] {
            XCTAssertEqual(responseCode(tpm.execute(command: command(.incrementalSelfTest, algList([0x000B, bad])))), 0x1C4)
        }
        XCTAssertTrue(tpm.volatile.testedAlgorithms.isEmpty)
        // More than MAX_ALG_LIST_SIZE: TPM_RC_SIZE + P1; a short list: TPM_RC_INSUFFICIENT + P1;
        // trailing bytes: TPM_RC_SIZE (swtpm: same codes).
        XCTAssertEqual(responseCode(tpm.execute(command: command(.incrementalSelfTest, algList(Array(repeating: 4, count: 65))))), 0x1D5)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.incrementalSelfTest, algList(Array(repeating: 4, count: 64))))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.incrementalSelfTest, algList([4], count: 2)))), 0x1DA)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.incrementalSelfTest, algList([]) + [0]))), 0x095)
    }

    func testSelfTestRunsEverythingThenGetTestResultSucceeds() {
        let tpm = startedTPM()
        XCTAssertEqual(tpm.execute(command: command(.selfTest, [0])), wire("8001 0000000a 00000000"))
        XCTAssertEqual(toDo(tpm.execute(command: command(.incrementalSelfTest, algList([])))), [])
        // swtpm answers these same bytes once tested: empty outData, TPM_RC_SUCCESS.
        XCTAssertEqual(tpm.execute(command: command(.getTestResult)), wire("8001 00000010 00000000 0000 00000000"))
        XCTAssertEqual(Set(tpm.volatile.testedAlgorithms), Set(testable.map { TPMAlgID($0) }))
        // fullTest = YES retests (and passes again).
        XCTAssertEqual(responseCode(tpm.execute(command: command(.selfTest, [1]))), 0)
        XCTAssertEqual(toDo(tpm.execute(command: command(.incrementalSelfTest, algList([])))), [])
        XCTAssertFalse(tpm.isInFailureMode)
        // _TPM_Init forgets what was tested.
        tpm.powerOn()
        XCTAssertEqual(responseCode(tpm.execute(command: command(.startup, [0, 0]))), 0)
        XCTAssertEqual(toDo(tpm.execute(command: command(.incrementalSelfTest, algList([])))), testable)
    }

    func testSelfTestAndGetTestResultErrors() {
        let tpm = startedTPM()
        // fullTest is a TPMI_YES_NO: 2 is TPM_RC_VALUE + P1; missing: INSUFFICIENT + P1;
        // trailing bytes: TPM_RC_SIZE (swtpm: same codes).
        XCTAssertEqual(responseCode(tpm.execute(command: command(.selfTest, [2]))), 0x1C4)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.selfTest))), 0x1DA)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.selfTest, [0, 0]))), 0x095)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.getTestResult, [0]))), 0x095)
        XCTAssertTrue(tpm.volatile.testedAlgorithms.isEmpty)
    }

    // MARK: the known-answer tests themselves

    func testKnownAnswerTestsPassWithTheirVectors() {
        for kind: SelfTestKind in [.hash(.sha1), .hash(.sha256), .hash(.sha384), .hash(.sha512), .hmac, .kdfa] {
            XCTAssertTrue(TPM.knownAnswerTest(kind, vectors: .known), "\(kind)")
        }
    }

    /// Each test really compares: one changed expected bit makes it fail.
    func testKnownAnswerTestsFailOnAnyWrongVector() {
        func flipped(_ b: [UInt8]) -> [UInt8] { b.isEmpty ? [1] : [b[0] ^ 1] + b.dropFirst() }
        for h in HashAlgorithm.allCases {
            var v = SelfTestVectors.known
            v.hashDigests[h] = flipped(v.hashDigests[h] ?? [])
            XCTAssertFalse(TPM.knownAnswerTest(.hash(h), vectors: v), "\(h)")
            var m = SelfTestVectors.known
            m.hmacs[h] = flipped(m.hmacs[h] ?? [])
            XCTAssertFalse(TPM.knownAnswerTest(.hmac, vectors: m), "HMAC \(h)")
        }
        var d = SelfTestVectors.known
        d.drbgSecondOutput = flipped(d.drbgSecondOutput)
        XCTAssertFalse(TPM.knownAnswerTest(.hmac, vectors: d))
        var k = SelfTestVectors.known
        k.kdfaResult = flipped(k.kdfaResult)
        XCTAssertFalse(TPM.knownAnswerTest(.kdfa, vectors: k))
        var missing = SelfTestVectors.known
        missing.hashDigests = [:]
        XCTAssertFalse(TPM.knownAnswerTest(.hash(.sha256), vectors: missing))
    }

    /// The hash and HMAC vectors agree with swift-crypto called directly (not through the
    /// engine's HashAlgorithm wrapper); they are also the published FIPS 180 / RFC values.
    func testHashAndHMACVectorsAgreeWithSwiftCrypto() {
        let v = SelfTestVectors.known
        let key = SymmetricKey(data: v.hmacKey)
        XCTAssertEqual(v.hashDigests[.sha1], Array(Insecure.SHA1.hash(data: v.hashMessage)))
        XCTAssertEqual(v.hashDigests[.sha256], Array(SHA256.hash(data: v.hashMessage)))
        XCTAssertEqual(v.hashDigests[.sha384], Array(SHA384.hash(data: v.hashMessage)))
        XCTAssertEqual(v.hashDigests[.sha512], Array(SHA512.hash(data: v.hashMessage)))
        XCTAssertEqual(v.hmacs[.sha1], Array(HMAC<Insecure.SHA1>.authenticationCode(for: v.hmacData, using: key)))
        XCTAssertEqual(v.hmacs[.sha256], Array(HMAC<SHA256>.authenticationCode(for: v.hmacData, using: key)))
        XCTAssertEqual(v.hmacs[.sha384], Array(HMAC<SHA384>.authenticationCode(for: v.hmacData, using: key)))
        XCTAssertEqual(v.hmacs[.sha512], Array(HMAC<SHA512>.authenticationCode(for: v.hmacData, using: key)))
    }

    // MARK: failure mode

    private func failingTPM() -> TPM {
        let tpm = startedTPM()
        var bad = SelfTestVectors.known
        bad.hashDigests[.sha384] = [UInt8](repeating: 0, count: 48)
        XCTAssertThrowsError(try tpm.runSelfTests(TPM.testableAlgorithms, vectors: bad)) {
            XCTAssertEqual($0 as? TPMError, TPMError(.failure))
        }
        XCTAssertTrue(tpm.isInFailureMode)
        return tpm
    }

    func testAFailingTestEntersFailureMode() {
        let tpm = failingTPM()
        // Tests before the failing one (SHA-1, HMAC, SHA-256) passed and were recorded.
        XCTAssertEqual(tpm.volatile.testedAlgorithms, [.sha1, .hmac, .sha256])
        // GetTestResult: success, outData the failure code ("SF" and SHA-384), TPM_RC_FAILURE.
        XCTAssertEqual(tpm.execute(command: command(.getTestResult)), wire("8001 00000014 00000000 0004 5346000c 00000101"))
        // Everything else: TPM_RC_FAILURE, SelfTest included.
        XCTAssertEqual(tpm.execute(command: command(.selfTest, [1])), wire("8001 0000000a 00000101"))
        XCTAssertEqual(responseCode(tpm.execute(command: command(.incrementalSelfTest, algList([])))), 0x101)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.getRandom, [0, 8]))), 0x101)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.testParms, [0, 8, 0, 0x10]))), 0x101)
        // With sessions, even the allowed commands fail (Part 3, 5.3).
        let pw = withPassword(handles: [], params: [])
        XCTAssertEqual(responseCode(tpm.execute(command: command(.getTestResult, tag: .sessions, pw))), 0x101)
        // Until the next _TPM_Init.
        tpm.powerOn()
        XCTAssertFalse(tpm.isInFailureMode)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.startup, [0, 0]))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.selfTest, [1]))), 0)
    }

    /// Part 3, 30.2: in failure mode GetCapability reports the vendor and firmware properties
    /// (TPM_PT_MANUFACTURER...TPM_PT_FIRMWARE_VERSION_2) and nothing else.
    func testGetCapabilityInFailureMode() {
        let tpm = failingTPM()
        func cap(_ c: UInt32, _ p: UInt32, _ n: UInt32) -> [UInt8] {
            var w = TPMWriter()
            w.u32(c)
            w.u32(p)
            w.u32(n)
            return tpm.execute(command: command(.getCapability, w.bytes))
        }
        XCTAssertEqual(
            cap(6, 0, 100),
            wire(
                "8001 00000053 00000000 00 00000006 00000008 00000105 5654504d 00000106 7674706d 00000107 00000000"
                    + " 00000108 00000000 00000109 00000000 0000010a 00000001 0000010b 00010000 0000010c 00000000"))
        // From a property below TPM_PT_MANUFACTURER, one at a time.
        XCTAssertEqual(cap(6, 0x100, 1), wire("8001 0000001b 00000000 01 00000006 00000001 00000105 5654504d"))
        XCTAssertEqual(cap(6, 0x10C, 5), wire("8001 0000001b 00000000 00 00000006 00000001 0000010c 00000000"))
        // Above TPM_PT_FIRMWARE_VERSION_2: an empty list and NO (one of the answers Part 3 allows).
        XCTAssertEqual(cap(6, 0x10D, 5), wire("8001 00000013 00000000 00 00000006 00000000"))
        XCTAssertEqual(cap(6, 0x200, 5), wire("8001 00000013 00000000 00 00000006 00000000"))
        // Any other capability, valid or not: no value (TPM_RC_FAILURE, as libtpms).
        for c: UInt32 in [0, 1, 2, 5, 7, 8, 11, 0x100] { XCTAssertEqual(cap(c, 0, 1), wire("8001 0000000a 00000101"), "cap \(c)") }
    }

    // MARK: TPM2_TestParms

    /// Every case was sent to swtpm too. Where libtpms answers differently the reason is the
    /// algorithm profile (our one table), noted per case.
    func testTestParms() {
        let tpm = startedTPM()
        let cases: [(String, UInt32)] = [
            ("0001 0010 0010 0800 00000000", 0),  // rsa2048
            ("0001 0010 0010 0400 00000000", 0),  // rsa1024
            ("0001 0010 0010 0c00 00000000", 0),  // rsa3072
            ("0001 0010 0010 1000 00000000", 0),  // rsa4096 (libtpms 0.9: 0x1C4, it stops at 3072)
            ("0001 0010 0010 03e8 00000000", 0x1C4),  // rsa1000
            ("0001 0006 0080 0043 0010 0800 00000000", 0),  // restricted-decrypt style: AES-128-CFB
            ("0001 000a 000b 0010 0800 00000000", 0x1D6),  // XOR is not a TPMI_ALG_SYM_OBJECT
            ("0001 0026 0080 0043 0010 0800 00000000", 0x1D6),  // Camellia (libtpms: 0)
            ("0001 0003 0080 0043 0010 0800 00000000", 0x1D6),  // TDES (libtpms: 0)
            ("0001 0013 0080 0043 0010 0800 00000000", 0x1D6),  // SM4
            ("0001 0006 0064 0043 0010 0800 00000000", 0x1C4),  // AES-100
            ("0001 0006 0080 003f 0010 0800 00000000", 0x1C9),  // CMAC mode (libtpms: 0)
            ("0001 0006 0080 0010 0010 0800 00000000", 0),  // NULL mode
            ("0001 0006 0080 0099 0010 0800 00000000", 0x1C9),
            ("0001 0010 0014 000b 0800 00000000", 0),  // RSASSA SHA-256
            ("0001 0010 0014 0010 0800 00000000", 0x1C3),
            ("0001 0010 0015 0800 00000000", 0),  // RSAES
            ("0001 0010 0017 0004 0800 00000000", 0),  // OAEP SHA-1
            ("0001 0010 0016 0012 0800 00000000", 0x1C3),  // PSS SM3
            ("0001 0010 0018 000b 0800 00000000", 0x1C4),  // ECDSA in an RSA key
            ("0023 0010 0010 0003 0010", 0),  // P-256
            ("0023 0010 0010 0004 0010", 0),  // P-384
            ("0023 0010 0010 0005 0010", 0),  // P-521
            ("0023 0010 0010 0001 0010", 0x1E6),  // P-192 (libtpms: 0)
            ("0023 0010 0010 0010 0010", 0), ("0023 0010 0010 0011 0010", 0x1E6),  // BN-P256; BN-P638 (libtpms: 0, D6)
            ("0023 0010 0010 0020 0010", 0x1E6),  // SM2 P-256 (libtpms: 0)
            ("0023 0010 0010 0006 0010", 0x1E6),
            ("0023 0010 0018 000b 0003 0010", 0),  // ECDSA
            ("0023 0010 0019 000c 0003 0010", 0),  // ECDH
            ("0023 0010 001c 000d 0003 0010", 0),  // ECSCHNORR
            ("0023 0010 001a 000b 0001 0003 0010", 0),  // ECDAA (as libtpms)
            ("0023 0010 0014 000b 0003 0010", 0x1D2),  // RSASSA in an ECC key
            ("0023 0010 0010 0003 0022 000b", 0),  // KDF1_SP800_108
            ("0023 0010 0010 0003 0020 000b", 0),  // KDF1_SP800_56A
            ("0023 0010 0010 0003 0021 000b", 0),  // KDF2
            ("0023 0010 0010 0003 000b 000b", 0x1CC),
            ("0023 0010 0010 0003 0022 0005", 0x1C3),
            ("0008 0010", 0), ("0008 0005 000b", 0), ("0008 000a 000b 0022", 0), ("0008 000a 000b 0010", 0),
            ("0008 000a 0010 0022", 0x1C3), ("0008 000b", 0x1C4), ("0008 0005 0010", 0x1C3), ("0008 000a 000b 000b", 0x1CC),
            ("0025 0006 0080 0043", 0), ("0025 0006 0100 0042", 0), ("0025 0006 0080 0041", 0), ("0025 0006 0080 0044", 0),
            ("0025 0006 00c0 0040", 0),  // AES-192-CTR (libtpms 0.9: 0x1C4, no AES-192)
            ("0025 0006 0080 0010", 0), ("0025 0010", 0x1D6), ("0025 000a 000b", 0x1D6),
            ("000b 0010", 0x1CA), ("0010", 0x1CA), ("0018", 0x1CA),
            ("0001 0010 0010 0800 000000", 0x1DA), ("", 0x1DA), ("00", 0x1DA),
            ("0001 0010 0010 0800 00000000 00", 0x095),
        ]
        for (hex, rc) in cases {
            XCTAssertEqual(responseCode(tpm.execute(command: command(.testParms, wire(hex)))), rc, hex)
        }
    }
}
