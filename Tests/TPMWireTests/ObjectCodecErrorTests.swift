import TPMWire
import XCTest

/// Every rejection with the code Part 2 names. The codes for TPM2B_PUBLIC, TPM2B_SENSITIVE_CREATE,
/// TPM2B_SENSITIVE, TPMT_SIGNATURE and TPMT_RSA_DECRYPT were also sent to libtpms 0.9.2 (swtpm)
/// inside TPM2_CreatePrimary, TPM2_LoadExternal, TPM2_VerifySignature and TPM2_RSA_Encrypt, which
/// returned the same codes with the parameter number added; the only differences are bounds set
/// by the algorithm profile (libtpms stops at RSA 3072, so a 512-octet modulus is TPM_RC_SIZE
/// there, and it has BN P-638, so a 67-octet ECC parameter is accepted there).
final class ObjectCodecErrorTests: XCTestCase {
    private func b2(_ bytes: [UInt8]) -> [UInt8] { [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes }
    private func u16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    private func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * $0)) } }

    /// type, nameAlg, objectAttributes, authPolicy, parameters, unique.
    private func tpmtPublic(
        type: UInt16 = 0x0001, nameAlg: UInt16 = 0x000B, attributes: UInt32 = 0x0003_0072, policy: [UInt8] = [],
        parms: [UInt8] = hexBytes("0006 0080 0043 0010 0800 00000000"), unique: [UInt8]? = nil
    ) -> [UInt8] {
        u16(type) + u16(nameAlg) + u32(attributes) + b2(policy) + parms + (unique ?? b2([]))
    }

    private func publicRC(_ bytes: [UInt8], allowNull: Bool = false) -> TPMRC? {
        decodeRC(bytes) { try TPM2BPublic(from: &$0, allowNull: allowNull, support: objectSupport) }
    }

    func testTPM2BPublicSizeMustBeNonZeroAndExact() {
        let srk = tpmtPublic()
        XCTAssertNil(publicRC(b2(srk)))
        XCTAssertEqual(publicRC([0, 0]), .size)
        // One more than used (the extra octet is there), one less, and far more than the buffer.
        XCTAssertEqual(publicRC(u16(UInt16(srk.count + 1)) + srk + [0]), .size)
        XCTAssertEqual(publicRC(u16(UInt16(srk.count - 1)) + srk), .size)
        XCTAssertEqual(publicRC(u16(0x1000) + srk), .size)
        // A size that ends inside the area does not hide the area's own errors: the area is read
        // where it stands (as the reference code does), then the size is compared.
        XCTAssertEqual(publicRC(u16(2) + tpmtPublic(nameAlg: 0x0012)), .hash)
    }

    func testObjectAttributesReservedBits() {
        let reserved = [0, 3, 8, 9, 12, 13, 14, 15] + Array(20...31)
        for bit in 0..<32 {
            let bytes = b2(tpmtPublic(attributes: 0x0003_0072 | (1 << UInt32(bit))))
            XCTAssertEqual(publicRC(bytes), reserved.contains(bit) ? .reservedBits : nil, "bit \(bit)")
            XCTAssertEqual(thrownRC { _ = try TPMAObject(wire: u32(1 << UInt32(bit))) }, reserved.contains(bit) ? .reservedBits : nil)
        }
        XCTAssertEqual(TPMAObject.reserved, 0xFFF0_F309)
        let defined: TPMAObject = [
            .fixedTPM, .stClear, .fixedParent, .sensitiveDataOrigin, .userWithAuth, .adminWithPolicy,
            .noDA, .encryptedDuplication, .restricted, .decrypt, .sign, .x509sign,
        ]
        XCTAssertEqual(defined.rawValue, ~TPMAObject.reserved)
    }

    func testPublicAreaFieldCodes() {
        // TPMI_ALG_PUBLIC: TPM_RC_TYPE.
        XCTAssertEqual(publicRC(b2(tpmtPublic(type: 0x0010))), .type)
        XCTAssertEqual(publicRC(b2(tpmtPublic(type: 0x0006))), .type)
        // nameAlg: TPMI_ALG_HASH, NULL only for +TPM2B_PUBLIC.
        XCTAssertEqual(publicRC(b2(tpmtPublic(nameAlg: 0x0010))), .hash)
        XCTAssertNil(publicRC(b2(tpmtPublic(nameAlg: 0x0010)), allowNull: true))
        XCTAssertEqual(publicRC(b2(tpmtPublic(nameAlg: 0x0012)), allowNull: true), .hash)
        // authPolicy and the unique buffers against their bounds.
        XCTAssertNil(publicRC(b2(tpmtPublic(policy: [UInt8](repeating: 1, count: 64)))))
        XCTAssertEqual(publicRC(b2(tpmtPublic(policy: [UInt8](repeating: 1, count: 65)))), .size)
        XCTAssertNil(publicRC(b2(tpmtPublic(unique: b2([UInt8](repeating: 1, count: 512))))))
        XCTAssertEqual(publicRC(b2(tpmtPublic(unique: b2([UInt8](repeating: 1, count: 513))))), .size)
        let ecc = hexBytes("0006 0080 0043 0010 0003 0010")
        XCTAssertNil(publicRC(b2(tpmtPublic(type: 0x23, parms: ecc, unique: b2([UInt8](repeating: 1, count: 66)) + b2([])))))
        XCTAssertEqual(publicRC(b2(tpmtPublic(type: 0x23, parms: ecc, unique: b2([UInt8](repeating: 1, count: 67)) + b2([])))), .size)
        XCTAssertEqual(publicRC(b2(tpmtPublic(type: 0x23, parms: ecc, unique: b2([]) + b2([UInt8](repeating: 1, count: 67))))), .size)
        let keyedHash = hexBytes("0005 000b")
        XCTAssertNil(publicRC(b2(tpmtPublic(type: 0x08, parms: keyedHash, unique: b2([UInt8](repeating: 1, count: 64))))))
        XCTAssertEqual(publicRC(b2(tpmtPublic(type: 0x08, parms: keyedHash, unique: b2([UInt8](repeating: 1, count: 65))))), .size)
        // Parameters keep their own codes (PublicParms.swift): an RSA key size not implemented.
        XCTAssertEqual(publicRC(b2(tpmtPublic(parms: hexBytes("0010 0010 0200 00000000")))), .value)
    }

    func testUnionSelectorsWithoutAMember() {
        let bytes: [UInt8] = [0, 0, 0, 0, 0, 0]
        for selector in [TPMAlgID.null, .sha256, .aes, .ecdaa] {
            XCTAssertEqual(decodeRC(bytes) { try TPMUPublicID(from: &$0, selector: selector, support: objectSupport) }, .selector)
            XCTAssertEqual(
                decodeRC(bytes) { try TPMUSensitiveComposite(from: &$0, selector: selector, support: objectSupport) },
                .selector)
        }
        for selector in [TPMAlgID.aes, .rsa, .ecdaa, .sm2, .oaep] {
            XCTAssertEqual(decodeRC(bytes) { try TPMUSignature(from: &$0, selector: selector, support: objectSupport) }, .selector)
            XCTAssertEqual(decodeRC(bytes) { try TPMUSigScheme(from: &$0, selector: selector, support: objectSupport) }, .selector)
        }
        XCTAssertEqual(decodeRC(bytes) { try TPMUAttest(from: &$0, type: .creation) }, .tag)
    }

    // MARK: template (TPM2_CreateLoaded)

    func testTemplates() throws {
        let derive = b2(Array("label".utf8)) + b2([UInt8](repeating: 7, count: 32))
        let head = tpmtPublic(type: 0x08, parms: hexBytes("0005 000b"), unique: [])
        // A derivation parent: unique is a TPMS_DERIVE.
        let derived = try TPMTPublic(template: TPM2BTemplate(head + derive), derivation: true, support: objectSupport)
        XCTAssertEqual(
            derived.unique,
            .derive(
                TPMSDerive(
                    label: TPM2BLabel(Array("label".utf8)),
                    context: TPM2BLabel([UInt8](repeating: 7, count: 32)))))
        XCTAssertEqual(derived.wireBytes, head + derive)
        // An ordinary parent: the same octets are a TPM2B_DIGEST unique plus 34 left over.
        func rc(_ bytes: [UInt8], _ derivation: Bool) -> TPMRC? {
            thrownRC { _ = try TPMTPublic(template: TPM2BTemplate(bytes), derivation: derivation, support: objectSupport) }
        }
        XCTAssertEqual(rc(head + derive, false), .size)
        XCTAssertNil(rc(head + b2([1, 2, 3]), false))
        XCTAssertEqual(rc(head + b2([1, 2, 3]) + [0], false), .size)
        XCTAssertEqual(rc(head + derive + [0], true), .size)
        // Labels are TPM2B_LABELs (32 octets); a template's nameAlg may not be NULL.
        XCTAssertEqual(rc(head + b2([UInt8](repeating: 1, count: 33)) + b2([]), true), .size)
        XCTAssertEqual(rc(tpmtPublic(nameAlg: 0x10), false), .hash)
        // Every truncation of a template is TPM_RC_INSUFFICIENT.
        let full = head + derive
        for n in 0..<full.count { XCTAssertEqual(rc(Array(full.prefix(n)), true), .insufficient, "cut at \(n)") }
        // The buffer holds at most one largest public area.
        XCTAssertEqual(decodeRC(b2([UInt8](repeating: 0, count: TPMLimits.maxPublicAreaSize + 1))) { try TPM2BTemplate(from: &$0) }, .size)
    }

    // MARK: sensitive

    private func sensitiveCreateRC(_ bytes: [UInt8]) -> TPMRC? { decodeRC(bytes) { try TPM2BSensitiveCreate(from: &$0) } }

    func testSensitiveCreate() {
        XCTAssertNil(sensitiveCreateRC(b2(b2([]) + b2([]))))
        XCTAssertEqual(sensitiveCreateRC([0, 0]), .size)
        XCTAssertEqual(sensitiveCreateRC(u16(5) + b2([]) + b2([]) + [0]), .size)
        XCTAssertEqual(sensitiveCreateRC(u16(3) + b2([]) + b2([])), .size)
        XCTAssertEqual(sensitiveCreateRC(b2(b2([UInt8](repeating: 0, count: 65)) + b2([]))), .size)
        XCTAssertNil(sensitiveCreateRC(b2(b2([UInt8](repeating: 0, count: 64)) + b2([UInt8](repeating: 0, count: 128)))))
        XCTAssertEqual(sensitiveCreateRC(b2(b2([]) + b2([UInt8](repeating: 0, count: 129)))), .size)
    }

    private func sensitiveRC(_ bytes: [UInt8]) -> TPMRC? {
        decodeRC(bytes) { try TPM2BSensitive(from: &$0, support: objectSupport) }
    }

    private func tpmtSensitive(type: UInt16, auth: Int = 0, seed: Int = 0, secret: Int) -> [UInt8] {
        u16(type) + b2([UInt8](repeating: 1, count: auth)) + b2([UInt8](repeating: 2, count: seed))
            + b2([UInt8](repeating: 3, count: secret))
    }

    func testSensitive() throws {
        XCTAssertEqual(try decodeAll([0, 0]) { try TPM2BSensitive(from: &$0, support: objectSupport) }, TPM2BSensitive())
        XCTAssertEqual(TPM2BSensitive().wireBytes, [0, 0])
        let area = tpmtSensitive(type: 1, secret: 128)
        XCTAssertNil(sensitiveRC(b2(area)))
        XCTAssertEqual(sensitiveRC(u16(UInt16(area.count + 1)) + area + [0]), .size)
        XCTAssertEqual(sensitiveRC(u16(UInt16(area.count - 1)) + area), .size)
        // Each secret against its bound: one RSA prime, an ECC scalar, sealed data, an AES key.
        for (type, bound) in [(UInt16(0x01), 256), (0x23, 66), (0x08, 128), (0x25, 32)] {
            XCTAssertNil(sensitiveRC(b2(tpmtSensitive(type: type, secret: bound))), "type \(type)")
            XCTAssertEqual(sensitiveRC(b2(tpmtSensitive(type: type, secret: bound + 1))), .size, "type \(type)")
        }
        XCTAssertEqual(sensitiveRC(b2(tpmtSensitive(type: 0x10, secret: 1))), .type)
        XCTAssertEqual(sensitiveRC(b2(tpmtSensitive(type: 0x0B, secret: 1))), .type)
        XCTAssertEqual(sensitiveRC(b2(tpmtSensitive(type: 1, auth: 65, secret: 1))), .size)
        XCTAssertEqual(sensitiveRC(b2(tpmtSensitive(type: 1, seed: 65, secret: 1))), .size)
        XCTAssertNil(sensitiveRC(b2(tpmtSensitive(type: 1, auth: 64, seed: 64, secret: 256))))
        // The largest sensitive area is the one TPMLimits sizes TPM2B_PRIVATE for.
        XCTAssertEqual(tpmtSensitive(type: 1, auth: 64, seed: 64, secret: 256).count, TPMLimits.maxSensitiveAreaSize)
    }

    func testPrivateAndCredentialBlobs() throws {
        let largest = TPMPrivate(
            integrityOuter: TPM2BDigest([UInt8](repeating: 1, count: 64)), integrityInner: TPM2BDigest([UInt8](repeating: 2, count: 64)),
            sensitive: TPM2BSensitive(
                TPMTSensitive(
                    authValue: TPM2BAuth([UInt8](repeating: 3, count: 64)), seedValue: TPM2BDigest([UInt8](repeating: 4, count: 64)),
                    sensitive: .rsa(TPM2BPrivateKeyRSA([UInt8](repeating: 5, count: 256))))))
        XCTAssertEqual(largest.wireBytes.count, TPMLimits.maxPrivateSize)
        XCTAssertEqual(try decodeAll(largest.wireBytes) { try TPMPrivate(from: &$0, support: objectSupport) }, largest)
        XCTAssertNil(decodeRC(b2(largest.wireBytes)) { try TPM2BPrivate(from: &$0) })
        XCTAssertEqual(decodeRC(b2(largest.wireBytes + [0])) { try TPM2BPrivate(from: &$0) }, .size)

        // TPMS_ID_OBJECT: the HMAC, then the encrypted TPM2B_DIGEST as it stands.
        let blob = TPM2BIDObject(b2([UInt8](repeating: 9, count: 32)) + [0xAB, 0xCD] + [UInt8](repeating: 7, count: 32))
        let id = try TPMSIDObject(blob)
        XCTAssertEqual(id.integrityHMAC.buffer, [UInt8](repeating: 9, count: 32))
        XCTAssertEqual(id.encIdentity, [0xAB, 0xCD] + [UInt8](repeating: 7, count: 32))
        XCTAssertEqual(id.blob, blob)
        XCTAssertEqual(thrownRC { _ = try TPMSIDObject(TPM2BIDObject([0, 33] + [UInt8](repeating: 0, count: 32))) }, .insufficient)
        XCTAssertEqual(thrownRC { _ = try TPMSIDObject(TPM2BIDObject([0, 65] + [UInt8](repeating: 0, count: 65))) }, .size)
        XCTAssertEqual(TPMLimits.maxIDObjectSize, 132)
    }

    func testECCPoint() {
        let point = b2([1, 2]) + b2([3])
        XCTAssertNil(decodeRC(b2(point)) { try TPM2BECCPoint(from: &$0) })
        XCTAssertEqual(decodeRC([0, 0]) { try TPM2BECCPoint(from: &$0) }, .size)
        XCTAssertEqual(decodeRC(u16(8) + point + [0]) { try TPM2BECCPoint(from: &$0) }, .size)
        XCTAssertEqual(decodeRC(u16(6) + point) { try TPM2BECCPoint(from: &$0) }, .size)
    }

    // MARK: signatures, schemes, symmetric definitions

    private func signatureRC(_ bytes: [UInt8], allowNull: Bool = false) -> TPMRC? {
        decodeRC(bytes) { try TPMTSignature(from: &$0, allowNull: allowNull, support: objectSupport) }
    }

    func testSignatureCodes() {
        XCTAssertEqual(signatureRC(u16(0x10)), .scheme)
        XCTAssertNil(signatureRC(u16(0x10), allowNull: true))
        XCTAssertEqual(signatureRC(u16(0x06)), .scheme)
        XCTAssertEqual(signatureRC(u16(0x15) + u16(0x0B)), .scheme)
        // ECDAA and SM2 are signature schemes this TPM does not implement.
        XCTAssertEqual(signatureRC(u16(0x1A) + u16(0x0B) + b2([1]) + b2([2])), .scheme)
        XCTAssertEqual(signatureRC(u16(0x1B) + u16(0x0B) + b2([1]) + b2([2])), .scheme)
        XCTAssertEqual(signatureRC(u16(0x14) + u16(0x10) + b2([1])), .hash)
        XCTAssertEqual(signatureRC(u16(0x14) + u16(0x0B) + b2([UInt8](repeating: 0, count: 513))), .size)
        XCTAssertNil(signatureRC(u16(0x16) + u16(0x0B) + b2([UInt8](repeating: 0, count: 512))))
        XCTAssertEqual(signatureRC(u16(0x18) + u16(0x0B) + b2([UInt8](repeating: 0, count: 67)) + b2([])), .size)
        XCTAssertEqual(signatureRC(u16(0x1C) + u16(0x0B) + b2([]) + b2([UInt8](repeating: 0, count: 67))), .size)
        XCTAssertEqual(signatureRC(u16(0x05) + u16(0x10)), .hash)
        XCTAssertEqual(signatureRC(u16(0x05) + u16(0x0B) + [UInt8](repeating: 0, count: 31)), .insufficient)
        XCTAssertNil(signatureRC(u16(0x05) + u16(0x0B) + [UInt8](repeating: 0, count: 32)))
    }

    func testSigSchemeCodes() {
        func rc(_ bytes: [UInt8], allowNull: Bool = true) -> TPMRC? {
            decodeRC(bytes) { try TPMTSigScheme(from: &$0, allowNull: allowNull, support: objectSupport) }
        }
        XCTAssertEqual(rc(u16(0x10), allowNull: false), .scheme)
        XCTAssertEqual(rc(u16(0x17) + u16(0x0B)), .scheme)
        XCTAssertEqual(rc(u16(0x0A) + u16(0x0B)), .scheme)
        XCTAssertEqual(rc(u16(0x18) + u16(0x10)), .hash)
        XCTAssertEqual(rc(u16(0x05) + u16(0x12)), .hash)
        XCTAssertNil(rc(u16(0x1C) + u16(0x0C)))
        // The engine picks a signing scheme from a key's scheme; decryption schemes have none.
        XCTAssertEqual(TPMUSigScheme(TPMUAsymScheme.rsapss(hashAlg: .sha384)), .rsapss(hashAlg: .sha384))
        XCTAssertEqual(TPMUSigScheme(TPMUAsymScheme.ecdaa(hashAlg: .sha256, count: 3)), .ecdaa(hashAlg: .sha256, count: 3))
        XCTAssertNil(TPMUSigScheme(TPMUAsymScheme.oaep(hashAlg: .sha256)))
        XCTAssertNil(TPMUSigScheme(TPMUAsymScheme.ecdh(hashAlg: .sha256)))
        XCTAssertEqual(TPMUSigScheme(TPMUSchemeKeyedHash.hmac(hashAlg: .sha1)), .hmac(hashAlg: .sha1))
        XCTAssertNil(TPMUSigScheme(TPMUSchemeKeyedHash.xor(hashAlg: .sha1, kdf: .kdf1SP800_108)))
        XCTAssertEqual(TPMUSigScheme(TPMUAsymScheme.null), .null)
    }

    func testRSADecryptCodes() {
        func rc(_ bytes: [UInt8], allowNull: Bool = true) -> TPMRC? {
            decodeRC(bytes) { try TPMTRSADecrypt(from: &$0, allowNull: allowNull, support: objectSupport) }
        }
        XCTAssertEqual(rc(u16(0x14) + u16(0x0B)), .value)
        XCTAssertEqual(rc(u16(0x19) + u16(0x0B)), .value)
        XCTAssertEqual(rc(u16(0x10), allowNull: false), .value)
        XCTAssertEqual(rc(u16(0x17) + u16(0x10)), .hash)
        XCTAssertNil(rc(u16(0x15)))
    }

    func testSymmetricCodes() {
        func rc(_ bytes: [UInt8], allowNull: Bool = true) -> TPMRC? {
            decodeRC(bytes) { try TPMTSymDef(from: &$0, allowNull: allowNull, support: objectSupport) }
        }
        XCTAssertEqual(rc(u16(0x10), allowNull: false), .symmetric)
        XCTAssertEqual(rc(u16(0x03) + u16(128) + u16(0x43)), .symmetric)
        XCTAssertEqual(rc(u16(0x0B)), .symmetric)
        XCTAssertEqual(rc(u16(0x0A) + u16(0x10)), .hash)
        XCTAssertEqual(rc(u16(0x06) + u16(100) + u16(0x43)), .value)
        XCTAssertEqual(rc(u16(0x06) + u16(128) + u16(0x0B)), .mode)
        XCTAssertEqual(rc(u16(0x06) + u16(128) + u16(0x3F)), .mode)
        XCTAssertNil(rc(u16(0x06) + u16(256) + u16(0x10)))
        XCTAssertEqual(decodeRC(u16(0x10)) { try TPMIAlgSymMode(from: &$0, allowNull: false, support: objectSupport) }, .mode)
        XCTAssertEqual(try decodeAll(u16(0x10)) { try TPMIAlgSymMode(from: &$0, allowNull: true, support: objectSupport) }.alg, .null)
        XCTAssertEqual(decodeRC(u16(0x06)) { try TPMIAlgSymMode(from: &$0, allowNull: true, support: objectSupport) }, .mode)
    }

    // MARK: tickets, creation data, attestation

    func testTicketCodes() {
        let digest = b2([1, 2, 3])
        XCTAssertNil(decodeRC(u16(0x8021) + u32(0x4000_0001) + digest) { try TPMTTKCreation(from: &$0) })
        XCTAssertEqual(decodeRC(u16(0x8022) + u32(0x4000_0001) + digest) { try TPMTTKCreation(from: &$0) }, .tag)
        XCTAssertEqual(decodeRC(u16(0x8021) + u32(0x4000_000A) + digest) { try TPMTTKCreation(from: &$0) }, .value)
        XCTAssertEqual(decodeRC(u16(0x8021) + u32(0x8000_0000) + digest) { try TPMTTKCreation(from: &$0) }, .value)
        XCTAssertEqual(
            decodeRC(u16(0x8021) + u32(0x4000_0001) + b2([UInt8](repeating: 0, count: 65))) {
                try TPMTTKCreation(from: &$0)
            }, .size)
        XCTAssertEqual(decodeRC(u16(0x8021) + u32(0x4000_0001) + digest) { try TPMTTKVerified(from: &$0) }, .tag)
        XCTAssertEqual(decodeRC(u16(0x8024) + u32(0x4000_0001) + digest) { try TPMTTKAuth(from: &$0) }, .tag)
        XCTAssertNil(decodeRC(u16(0x8025) + u32(0x4000_000B) + digest) { try TPMTTKAuth(from: &$0) })
        XCTAssertNil(decodeRC(u16(0x8023) + u32(0x4000_000C) + digest) { try TPMTTKAuth(from: &$0) })
        XCTAssertEqual(decodeRC(u16(0x8023) + u32(0x4000_0002) + digest) { try TPMTTKAuth(from: &$0) }, .value)
        XCTAssertEqual(TPMTTKCreation.null.wireBytes, hexBytes("8021 40000007 0000"))
        XCTAssertEqual(TPMTTKVerified.null.wireBytes, hexBytes("8022 40000007 0000"))
    }

    func testCreationDataSize() {
        let data = TPMSCreationData(
            pcrSelect: TPMLPCRSelection([]), pcrDigest: TPM2BDigest(), locality: [.zero], parentNameAlg: .sha256,
            parentName: TPM2BName(), parentQualifiedName: TPM2BName(), outsideInfo: TPM2BData()
        ).wireBytes
        XCTAssertNil(decodeRC(b2(data)) { try TPM2BCreationData(from: &$0) })
        XCTAssertEqual(decodeRC([0, 0]) { try TPM2BCreationData(from: &$0) }, .size)
        XCTAssertEqual(decodeRC(u16(UInt16(data.count + 1)) + data + [0]) { try TPM2BCreationData(from: &$0) }, .size)
        XCTAssertEqual(decodeRC(u16(UInt16(data.count - 1)) + data) { try TPM2BCreationData(from: &$0) }, .size)
        // TPM2B_NAME is bounded by sizeof(TPMU_NAME) = 66.
        XCTAssertEqual(decodeRC(b2([UInt8](repeating: 0, count: 67))) { try TPM2BName(from: &$0) }, .size)
    }

    func testAttestCodes() throws {
        let good = hexBytes(TSSVectors.tpmsAttestSessionAudit)
        XCTAssertNil(decodeRC(good) { try TPMSAttest(from: &$0) })
        var badMagic = good
        badMagic[3] ^= 1
        XCTAssertEqual(decodeRC(badMagic) { try TPMSAttest(from: &$0) }, .tag)
        for type: UInt16 in [0x8013, 0x801B, 0x8021, 0x8000] {
            var bad = good
            bad[4] = UInt8(type >> 8)
            bad[5] = UInt8(type & 0xFF)
            XCTAssertEqual(decodeRC(bad) { try TPMSAttest(from: &$0) }, .tag, "type \(type)")
        }
        // exclusiveSession is a TPMI_YES_NO; safe in the clock info too.
        var notYesNo = good
        notYesNo[good.count - 35] = 2
        XCTAssertEqual(decodeRC(notYesNo) { try TPMSAttest(from: &$0) }, .value)
        XCTAssertEqual(decodeRC(good + [0]) { try TPMSAttest(from: &$0) }, .size)
        XCTAssertEqual(thrownRC { _ = try TPM2BAttest(good + [0]).attest() }, .size)
        // NV contents are a TPM2B_MAX_NV_BUFFER.
        let nv = TPMSNVCertifyInfo(indexName: TPM2BName(), offset: 0, nvContents: TPM2BMaxNVBuffer([UInt8](repeating: 0, count: 1024)))
        XCTAssertNil(decodeRC(nv.wireBytes) { try TPMSNVCertifyInfo(from: &$0) })
        XCTAssertEqual(decodeRC(b2([]) + u16(0) + b2([UInt8](repeating: 0, count: 1025))) { try TPMSNVCertifyInfo(from: &$0) }, .size)
    }

    /// The largest TPMS_ATTEST is exactly what TPMLimits sizes TPM2B_ATTEST for.
    func testLargestAttestFitsItsBound() throws {
        let name = TPM2BName([UInt8](repeating: 1, count: 66))
        let attest = TPMSAttest(
            qualifiedSigner: name, extraData: TPM2BData([UInt8](repeating: 2, count: 66)),
            clockInfo: TPMSClockInfo(clock: 1, resetCount: 2, restartCount: 3, safe: false), firmwareVersion: 4,
            attested: .nv(TPMSNVCertifyInfo(indexName: name, offset: 5, nvContents: TPM2BMaxNVBuffer([UInt8](repeating: 3, count: 1024)))))
        XCTAssertEqual(attest.wireBytes.count, TPMLimits.maxAttestSize)
        XCTAssertEqual(try TPM2BAttest(wire: b2(attest.wireBytes)).attest(), attest)
        XCTAssertEqual(decodeRC(b2(attest.wireBytes + [0])) { try TPM2BAttest(from: &$0) }, .size)
    }

    // MARK: bounds

    /// Each TPM2B accepts its bound and refuses one more octet with TPM_RC_SIZE.
    func testBufferBounds() {
        func check<B: TPM2BBound>(_: B.Type, _ bound: Int, line: UInt = #line) {
            XCTAssertEqual(B.maxSize, bound, line: line)
            XCTAssertNil(decodeRC(b2([UInt8](repeating: 0, count: bound))) { try TPM2B<B>(from: &$0) }, line: line)
            XCTAssertEqual(decodeRC(b2([UInt8](repeating: 0, count: bound + 1))) { try TPM2B<B>(from: &$0) }, .size, line: line)
        }
        check(IVBound.self, 16)
        check(SymKeyBound.self, 32)
        check(PublicKeyRSABound.self, 512)
        check(PrivateKeyRSABound.self, 256)
        check(ECCParameterBound.self, 66)
        check(LabelBound.self, 32)
        check(DeriveBound.self, 68)
        check(NameBound.self, 66)
        check(TemplateBound.self, 606)
        check(PrivateBound.self, 526)
        check(IDObjectBound.self, 132)
        check(EncryptedSecretBound.self, 512)
        check(AttestBound.self, 1263)
        check(MaxNVBufferBound.self, 1024)
    }

    /// The largest TPMT_PUBLIC is an RSA-4096 one; TPM2B_TEMPLATE's bound pairs the largest
    /// parameters (ECC with ECDAA, 2 octets more than RSA's) with the largest unique field, so it
    /// holds every public area with those 2 octets to spare.
    func testLargestPublicAreaFitsTheTemplateBound() throws {
        let rsa = TPMTPublic(
            nameAlg: .sha512, objectAttributes: [.decrypt], authPolicy: TPM2BDigest([UInt8](repeating: 1, count: 64)),
            parameters: .rsa(
                TPMSRSAParms(
                    symmetric: TPMTSymDefObject(algorithm: .aes, keyBits: 256, mode: .cfb),
                    scheme: TPMTRSAScheme(.oaep(hashAlg: .sha512)), keyBits: 4096, exponent: 3)),
            unique: .rsa(TPM2BPublicKeyRSA([UInt8](repeating: 2, count: 512))))
        XCTAssertEqual(rsa.wireBytes.count + 2, TPMLimits.maxPublicAreaSize)
        let fromTemplate = try TPMTPublic(template: TPM2BTemplate(rsa.wireBytes), derivation: false, support: objectSupport)
        XCTAssertEqual(fromTemplate, rsa)
    }
}
