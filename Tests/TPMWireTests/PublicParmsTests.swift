import TPMWire
import XCTest

private func wire(_ s: String) -> [UInt8] {
    let d = Array(s.filter { !$0.isWhitespace }.utf8)
    return stride(from: 0, to: d.count - 1, by: 2).map { UInt8(String(decoding: d[$0...$0 + 1], as: UTF8.self), radix: 16)! }
}

/// The algorithm profile of the engine's table (restated here: TPMWire cannot see the engine).
private let support = TPMAlgorithmSupport(
    algorithms: [
        .rsa, .sha1, .hmac, .aes, .mgf1, .keyedHash, .xor, .sha256, .sha384, .sha512, .rsassa, .rsaes, .rsapss, .oaep,
        .ecdsa, .ecdh, .ecschnorr, .kdf1SP800_56A, .kdf1SP800_108, .ecc, .symCipher, .ctr, .ofb, .cbc, .cfb, .ecb,
    ],
    rsaKeyBits: [1024, 2048, 3072, 4096], aesKeyBits: [128, 192, 256], eccCurves: [.nistP256, .nistP384, .nistP521])

private func aesObject(_ bits: UInt16, _ mode: TPMAlgID) -> TPMTPublicParms {
    TPMTPublicParms(.symCipher(TPMSSymCipherParms(sym: TPMTSymDefObject(algorithm: .aes, keyBits: bits, mode: mode))))
}

private func decode(_ bytes: [UInt8], _ s: TPMAlgorithmSupport = support) throws -> TPMTPublicParms {
    var r = TPMReader(bytes)
    let p = try TPMTPublicParms(from: &r, support: s)
    guard r.isAtEnd else { throw TPMError.size }
    return p
}

private func code(_ bytes: [UInt8], _ s: TPMAlgorithmSupport = support) -> TPMRC? {
    do {
        _ = try decode(bytes, s)
        return nil
    } catch let e as TPMError {
        return e.rc
    } catch {
        return TPMRC(0xFFFF_FFFF)
    }
}

/// TPMT_PUBLIC_PARMS as Part 2 lays it out (12.2.3): each expected encoding below is written
/// by hand from the tables, not produced by our encoder.
final class PublicParmsTests: XCTestCase {
    /// (hand-written wire bytes, the value they mean)
    let valid: [(String, TPMTPublicParms)] = [
        // RSA 2048 storage-key style: AES-128-CFB, no scheme, default exponent.
        (
            "0001 0006 0080 0043 0010 0800 00000000",
            TPMTPublicParms(
                .rsa(
                    TPMSRSAParms(
                        symmetric: TPMTSymDefObject(algorithm: .aes, keyBits: 128, mode: .cfb),
                        scheme: .null, keyBits: 2048, exponent: 0)))
        ),
        // RSA 3072 signing: RSASSA with SHA-384, exponent 65537.
        (
            "0001 0010 0014 000c 0c00 00010001",
            TPMTPublicParms(
                .rsa(
                    TPMSRSAParms(
                        symmetric: .null, scheme: TPMTRSAScheme(.rsassa(hashAlg: .sha384)),
                        keyBits: 3072, exponent: 65537)))
        ),
        // RSA 4096 OAEP with SHA-1; RSAES has no details; PSS with SHA-512.
        (
            "0001 0010 0017 0004 1000 00000000",
            TPMTPublicParms(
                .rsa(
                    TPMSRSAParms(
                        symmetric: .null, scheme: TPMTRSAScheme(.oaep(hashAlg: .sha1)),
                        keyBits: 4096, exponent: 0)))
        ),
        (
            "0001 0010 0015 0400 00000003",
            TPMTPublicParms(.rsa(TPMSRSAParms(symmetric: .null, scheme: TPMTRSAScheme(.rsaes), keyBits: 1024, exponent: 3)))
        ),
        (
            "0001 0010 0016 000d 0800 00000000",
            TPMTPublicParms(
                .rsa(
                    TPMSRSAParms(
                        symmetric: .null, scheme: TPMTRSAScheme(.rsapss(hashAlg: .sha512)),
                        keyBits: 2048, exponent: 0)))
        ),
        // ECC P-256 ECDSA/SHA-256, no KDF; P-521 ECDH with KDF1_SP800_108/SHA-512 and AES-256-CFB;
        // P-384 ECSCHNORR with KDF1_SP800_56A.
        (
            "0023 0010 0018 000b 0003 0010",
            TPMTPublicParms(
                .ecc(
                    TPMSECCParms(
                        symmetric: .null, scheme: TPMTECCScheme(.ecdsa(hashAlg: .sha256)),
                        curveID: .nistP256, kdf: .null)))
        ),
        (
            "0023 0006 0100 0043 0019 000d 0005 0022 000d",
            TPMTPublicParms(
                .ecc(
                    TPMSECCParms(
                        symmetric: TPMTSymDefObject(algorithm: .aes, keyBits: 256, mode: .cfb),
                        scheme: TPMTECCScheme(.ecdh(hashAlg: .sha512)), curveID: .nistP521,
                        kdf: TPMTKDFScheme(.kdf1SP800_108(hashAlg: .sha512)))))
        ),
        (
            "0023 0010 001c 000c 0004 0020 000c",
            TPMTPublicParms(
                .ecc(
                    TPMSECCParms(
                        symmetric: .null, scheme: TPMTECCScheme(.ecschnorr(hashAlg: .sha384)),
                        curveID: .nistP384, kdf: TPMTKDFScheme(.kdf1SP800_56A(hashAlg: .sha384)))))
        ),
        (
            "0023 0010 0010 0003 0007 0004",
            TPMTPublicParms(
                .ecc(
                    TPMSECCParms(
                        symmetric: .null, scheme: .null, curveID: .nistP256,
                        kdf: TPMTKDFScheme(.mgf1(hashAlg: .sha1)))))
        ),
        // Keyed hash: none, HMAC/SHA-256, XOR/SHA-256 with KDFa, XOR with no KDF.
        ("0008 0010", TPMTPublicParms(.keyedHash(TPMSKeyedHashParms(scheme: .null)))),
        ("0008 0005 000b", TPMTPublicParms(.keyedHash(TPMSKeyedHashParms(scheme: TPMTKeyedHashScheme(.hmac(hashAlg: .sha256)))))),
        (
            "0008 000a 000b 0022",
            TPMTPublicParms(.keyedHash(TPMSKeyedHashParms(scheme: TPMTKeyedHashScheme(.xor(hashAlg: .sha256, kdf: .kdf1SP800_108)))))
        ),
        (
            "0008 000a 0004 0010",
            TPMTPublicParms(.keyedHash(TPMSKeyedHashParms(scheme: TPMTKeyedHashScheme(.xor(hashAlg: .sha1, kdf: .null)))))
        ),
        // Symmetric cipher objects: every size and mode, and NULL mode (chosen at use).
        ("0025 0006 0080 0043", aesObject(128, .cfb)),
        ("0025 0006 00c0 0040", aesObject(192, .ctr)),
        ("0025 0006 0100 0042", aesObject(256, .cbc)),
        ("0025 0006 0080 0041", aesObject(128, .ofb)),
        ("0025 0006 0080 0044", aesObject(128, .ecb)),
        ("0025 0006 0080 0010", aesObject(128, .null)),
    ]

    func testValidEncodingsDecodeAndReencodeExactly() throws {
        for (hex, value) in valid {
            let bytes = wire(hex)
            XCTAssertEqual(try decode(bytes), value, hex)
            XCTAssertEqual(value.wireBytes, bytes, hex)
        }
    }

    func testEveryTruncationIsInsufficient() {
        for (hex, _) in valid {
            let bytes = wire(hex)
            for n in 0..<bytes.count {
                XCTAssertEqual(code(Array(bytes.prefix(n))), .insufficient, "\(hex) cut at \(n)")
            }
        }
    }

    /// Each bad value gets the code its Part 2 table names; the same codes libtpms returns for
    /// these inputs through TPM2_TestParms (before its parameter number is added).
    func testBadValuesAreRejectedWithTheirCodes() {
        let cases: [(String, TPMRC)] = [
            // TPMI_ALG_PUBLIC: TPM_RC_TYPE.
            ("000b 0010", .type), ("0010", .type), ("0018 0010", .type), ("0000", .type),
            // TPMI_ALG_SYM_OBJECT: TPM_RC_SYMMETRIC (XOR is not a block cipher; SM4, Camellia,
            // TDES are not implemented).
            ("0001 000a 000b 0010 0800 00000000", .symmetric), ("0001 0013 0080 0043 0010 0800 00000000", .symmetric),
            ("0001 0026 0080 0043 0010 0800 00000000", .symmetric), ("0001 0003 0080 0043 0010 0800 00000000", .symmetric),
            // TPMI_AES_KEY_BITS: TPM_RC_VALUE.
            ("0001 0006 0064 0043 0010 0800 00000000", .value), ("0001 0006 0000 0043 0010 0800 00000000", .value),
            // TPMI_ALG_SYM_MODE: TPM_RC_MODE (a hash is no mode; CMAC is not implemented).
            ("0001 0006 0080 000b 0010 0800 00000000", .mode), ("0001 0006 0080 003f 0010 0800 00000000", .mode),
            // TPMI_ALG_RSA_SCHEME: TPM_RC_VALUE; its hash: TPM_RC_HASH (NULL and SM3 too).
            ("0001 0010 0018 000b 0800 00000000", .value), ("0001 0010 0099 000b 0800 00000000", .value),
            ("0001 0010 0014 0010 0800 00000000", .hash), ("0001 0010 0016 0012 0800 00000000", .hash),
            // TPMI_RSA_KEY_BITS: TPM_RC_VALUE.
            ("0001 0010 0010 03e8 00000000", .value), ("0001 0010 0010 2000 00000000", .value),
            // TPMI_ALG_ECC_SCHEME: TPM_RC_SCHEME (an RSA scheme; ECDAA, SM2, ECMQV not implemented).
            ("0023 0010 0014 000b 0003 0010", .scheme), ("0023 0010 001a 000b 0001 0003 0010", .scheme),
            ("0023 0010 001b 000b 0003 0010", .scheme), ("0023 0010 001d 000b 0003 0010", .scheme),
            // TPMI_ECC_CURVE: TPM_RC_CURVE (none, P-192, P-224, BN P-256, SM2 P-256, unknown).
            ("0023 0010 0010 0000 0010", .curve), ("0023 0010 0010 0001 0010", .curve), ("0023 0010 0010 0002 0010", .curve),
            ("0023 0010 0010 0010 0010", .curve), ("0023 0010 0010 0020 0010", .curve), ("0023 0010 0010 0006 0010", .curve),
            // TPMI_ALG_KDF: TPM_RC_KDF (a hash; KDF2 not implemented); its hash: TPM_RC_HASH.
            ("0023 0010 0010 0003 000b 000b", .kdf), ("0023 0010 0010 0003 0021 000b", .kdf),
            ("0023 0010 0010 0003 0022 0005", .hash),
            // TPMI_ALG_KEYEDHASH_SCHEME: TPM_RC_VALUE; XOR's hash may not be NULL, its KDF must be one.
            ("0008 000b", .value), ("0008 0014 000b", .value), ("0008 0005 0010", .hash), ("0008 000a 0010 0022", .hash),
            ("0008 000a 000b 000b", .kdf),
            // A symmetric cipher object needs a cipher: NULL is TPM_RC_SYMMETRIC there.
            ("0025 0010", .symmetric), ("0025 000a 000b", .symmetric),
        ]
        for (hex, rc) in cases { XCTAssertEqual(code(wire(hex)), rc, hex) }
    }

    /// A union selector without a member on this TPM is TPM_RC_SELECTOR (Part 2, the "#"
    /// default of each union). Reached directly: the TPMI types in front of them already
    /// refuse such selectors.
    func testUnionSelectorsWithoutAMemberAreSelector() {
        func rc(_ body: (inout TPMReader) throws -> Void) -> TPMRC? {
            var r = TPMReader([0, 0x0B, 0, 0x0B, 0, 0x0B])
            do { try body(&r) } catch let e as TPMError { return e.rc } catch { return nil }
            return nil
        }
        XCTAssertEqual(rc { _ = try TPMUPublicParms(from: &$0, selector: .null, support: support) }, .selector)
        XCTAssertEqual(rc { _ = try TPMUPublicParms(from: &$0, selector: .sha256, support: support) }, .selector)
        XCTAssertEqual(rc { _ = try TPMUAsymScheme(from: &$0, selector: .sha256, support: support) }, .selector)
        XCTAssertEqual(rc { _ = try TPMUAsymScheme(from: &$0, selector: .ecdaa, support: support) }, .selector)
        XCTAssertEqual(rc { _ = try TPMUKDFScheme(from: &$0, selector: .hmac, support: support) }, .selector)
        XCTAssertEqual(rc { _ = try TPMUKDFScheme(from: &$0, selector: .kdf2, support: support) }, .selector)
        XCTAssertEqual(rc { _ = try TPMUSchemeKeyedHash(from: &$0, selector: .rsa, support: support) }, .selector)
        XCTAssertEqual(rc { _ = try TPMUCapabilities(from: &$0, selector: TPMCap(0x100)) }, .selector)
        XCTAssertEqual(rc { _ = try TPMUCapabilities(from: &$0, selector: TPMCap(11)) }, .selector)
        // The NULL members decode to nothing.
        XCTAssertNil(rc { XCTAssertEqual(try TPMUAsymScheme(from: &$0, selector: .null, support: support), .null) })
    }

    /// With ECDAA in the profile, its union member carries a commit count after the hash.
    func testECDAAMemberWhenImplemented() throws {
        var withECDAA = support
        withECDAA.algorithms.insert(.ecdaa)
        let bytes = wire("0023 0010 001a 000b 0007 0003 0010")
        let p = try decode(bytes, withECDAA)
        XCTAssertEqual(
            p,
            TPMTPublicParms(
                .ecc(
                    TPMSECCParms(
                        symmetric: .null, scheme: TPMTECCScheme(.ecdaa(hashAlg: .sha256, count: 7)),
                        curveID: .nistP256, kdf: .null))))
        XCTAssertEqual(p.wireBytes, bytes)
    }

    /// Whatever the bytes, decoding returns or throws a TPMError; it never traps.
    func testArbitraryBytesNeverTrap() {
        var g = SystemRandomNumberGenerator()
        let prefixes: [[UInt8]] = [[0, 1], [0, 0x23], [0, 8], [0, 0x25], []]
        for i in 0..<4000 {
            let tail = (0..<Int.random(in: 0...24, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
            let bytes = prefixes[i % prefixes.count] + tail
            if let rc = code(bytes) { XCTAssertNotEqual(rc.rawValue, 0xFFFF_FFFF) }
        }
    }
}
