import TPMWire
import XCTest

/// Structures encoded by tpm2-tss (TSSVectors.swift): each decodes, re-encodes to the same
/// octets, and where the meaning is fixed by a published profile (the TCG EK templates,
/// tpm2-tools' AK and SRK defaults) decodes to the value that profile gives.
final class TSSCrossCheckTests: XCTestCase {
    typealias V = TSSVectors

    /// Decodes `hex` with `decode`, checks the value when given, and checks our encoding of it
    /// is the TSS's octet for octet; every truncation must fail with TPM_RC_INSUFFICIENT.
    @discardableResult
    private func check<T: Equatable & TPMEncodable>(
        _ hex: String, _ expected: T? = nil, file: StaticString = #filePath, line: UInt = #line,
        _ decode: (inout TPMReader) throws -> T
    ) throws -> T {
        let bytes = hexBytes(hex)
        let value = try decodeAll(bytes, decode)
        if let expected {
            XCTAssertEqual(value, expected, file: file, line: line)
            XCTAssertEqual(expected.wireBytes, bytes, "our encoding of the expected value", file: file, line: line)
        }
        XCTAssertEqual(value.wireBytes, bytes, "re-encoding", file: file, line: line)
        assertEveryTruncationIsInsufficient(bytes, String(hex.prefix(24)), file: file, line: line, decode)
        return value
    }

    @discardableResult
    private func check<T: Equatable & TPMEncodable>(
        _ hex: String, file: StaticString = #filePath, line: UInt = #line, _ decode: (inout TPMReader) throws -> T
    ) throws -> T {
        try check(hex, nil, file: file, line: line, decode)
    }

    private func publicArea(_ r: inout TPMReader) throws -> TPM2BPublic {
        try TPM2BPublic(from: &r, allowNull: false, support: objectSupport)
    }

    // MARK: TCG EK Credential Profile templates

    /// PolicyA (SHA-256) and PolicyB-SHA384/SHA512 of the EK profile: the policy digests the
    /// templates carry.
    private let policyASHA256 = hexBytes("837197674484B3F81A90CC8D46A5D724FD52D76E06520B64F2A1DA1B331469AA")
    private let policyBSHA256 = hexBytes("CA3D0A99A2B93906F7A3342414EFCFB3A385D44CD1FD459089D19B5071C0B7A0")
    private let policyBSHA384 = hexBytes("B26E7D28D11A50BC53D882BCF5FD3A1A074148BB35D3B4E4CB1C0AD9BDE419CACB47BA09699646150F9FC000F3F80E12")
    private let policyBSHA512 = hexBytes(
        "B8221CA69E8550A4914DE3FAA6A18C072CC01208073A928D5D66D59EF79E49A429C41A6B269571D57EDB25FBDB1838425608B413CD616A5F6DB5B6071AF99BEA")

    private let lowAttributes: TPMAObject = [.fixedTPM, .fixedParent, .sensitiveDataOrigin, .adminWithPolicy, .restricted, .decrypt]
    private var highAttributes: TPMAObject { lowAttributes.union(.userWithAuth) }

    private func aesCFB(_ bits: UInt16) -> TPMTSymDefObject { TPMTSymDefObject(algorithm: .aes, keyBits: bits, mode: .cfb) }

    func testEKTemplateRSA2048LowRange() throws {
        let expected = TPM2BPublic(
            TPMTPublic(
                nameAlg: .sha256, objectAttributes: lowAttributes, authPolicy: TPM2BDigest(policyASHA256),
                parameters: .rsa(TPMSRSAParms(symmetric: aesCFB(128), scheme: .null, keyBits: 2048, exponent: 0)),
                unique: .rsa(TPM2BPublicKeyRSA([UInt8](repeating: 0, count: 256)))))
        XCTAssertEqual(lowAttributes.rawValue, 0x0003_00B2)
        try check(V.tpm2bPublicEkRsa2048, expected, publicArea)
    }

    func testEKTemplateECCP256LowRange() throws {
        let zero32 = TPM2BECCParameter([UInt8](repeating: 0, count: 32))
        let expected = TPM2BPublic(
            TPMTPublic(
                nameAlg: .sha256, objectAttributes: lowAttributes, authPolicy: TPM2BDigest(policyASHA256),
                parameters: .ecc(TPMSECCParms(symmetric: aesCFB(128), scheme: .null, curveID: .nistP256, kdf: .null)),
                unique: .ecc(TPMSECCPoint(x: zero32, y: zero32))))
        try check(V.tpm2bPublicEkEcc256, expected, publicArea)
    }

    func testEKTemplatesHighRange() throws {
        func rsa(_ bits: UInt16, _ sym: UInt16, _ alg: TPMAlgID, _ policy: [UInt8]) -> TPM2BPublic {
            TPM2BPublic(
                TPMTPublic(
                    nameAlg: alg, objectAttributes: highAttributes, authPolicy: TPM2BDigest(policy),
                    parameters: .rsa(TPMSRSAParms(symmetric: aesCFB(sym), scheme: .null, keyBits: bits, exponent: 0)),
                    unique: .rsa(TPM2BPublicKeyRSA())))
        }
        func ecc(_ curve: TPMECCCurve, _ alg: TPMAlgID, _ policy: [UInt8]) -> TPM2BPublic {
            TPM2BPublic(
                TPMTPublic(
                    nameAlg: alg, objectAttributes: highAttributes, authPolicy: TPM2BDigest(policy),
                    parameters: .ecc(TPMSECCParms(symmetric: aesCFB(256), scheme: .null, curveID: curve, kdf: .null)),
                    unique: .ecc(TPMSECCPoint(x: TPM2BECCParameter(), y: TPM2BECCParameter()))))
        }
        try check(V.tpm2bPublicEkHighRsa2048, rsa(2048, 128, .sha256, policyBSHA256), publicArea)
        try check(V.tpm2bPublicEkHighRsa3072, rsa(3072, 256, .sha384, policyBSHA384), publicArea)
        try check(V.tpm2bPublicEkHighRsa4096, rsa(4096, 256, .sha384, policyBSHA384), publicArea)
        try check(V.tpm2bPublicEkHighEcc384, ecc(.nistP384, .sha384, policyBSHA384), publicArea)
        try check(V.tpm2bPublicEkHighEcc521, ecc(.nistP521, .sha512, policyBSHA512), publicArea)
    }

    // MARK: tpm2-tools defaults and other templates

    private func tpmtPublic(_ r: inout TPMReader) throws -> TPMTPublic {
        try TPMTPublic(from: &r, allowNull: false, support: objectSupport)
    }

    func testAKTemplates() throws {
        let attributes: TPMAObject = [.restricted, .userWithAuth, .sign, .fixedTPM, .fixedParent, .sensitiveDataOrigin]
        try check(
            V.tpmtPublicAkRsa,
            TPMTPublic(
                nameAlg: .sha256, objectAttributes: attributes,
                parameters: .rsa(
                    TPMSRSAParms(symmetric: .null, scheme: TPMTRSAScheme(.rsassa(hashAlg: .sha256)), keyBits: 2048, exponent: 0)),
                unique: .rsa(TPM2BPublicKeyRSA())), tpmtPublic)
        try check(
            V.tpmtPublicAkEcc,
            TPMTPublic(
                nameAlg: .sha256, objectAttributes: attributes,
                parameters: .ecc(
                    TPMSECCParms(
                        symmetric: .null, scheme: TPMTECCScheme(.ecdsa(hashAlg: .sha256)),
                        curveID: .nistP256, kdf: .null)),
                unique: .empty(for: .ecc)!), tpmtPublic)
    }

    func testStorageAndOtherTemplates() throws {
        let primary: TPMAObject = [.restricted, .decrypt, .fixedTPM, .fixedParent, .sensitiveDataOrigin, .userWithAuth]
        try check(
            V.tpmtPublicSrk,
            TPMTPublic(
                nameAlg: .sha256, objectAttributes: primary,
                parameters: .rsa(TPMSRSAParms(symmetric: aesCFB(128), scheme: .null, keyBits: 2048, exponent: 0)),
                unique: .empty(for: .rsa)!), tpmtPublic)
        try check(
            V.tpmtPublicEccSrk,
            TPMTPublic(
                nameAlg: .sha384, objectAttributes: primary,
                parameters: .ecc(TPMSECCParms(symmetric: aesCFB(256), scheme: .null, curveID: .nistP384, kdf: .null)),
                unique: .empty(for: .ecc)!), tpmtPublic)
        let hmac = try check(V.tpmtPublicHmac, tpmtPublic)
        XCTAssertEqual(hmac.parameters, .keyedHash(TPMSKeyedHashParms(scheme: TPMTKeyedHashScheme(.hmac(hashAlg: .sha512)))))
        XCTAssertEqual(hmac.unique, .keyedHash(TPM2BDigest()))
        let aes = try check(V.tpmtPublicAes, tpmtPublic)
        XCTAssertEqual(aes.parameters, .symCipher(TPMSSymCipherParms(sym: TPMTSymDefObject(algorithm: .aes, keyBits: 256, mode: .ctr))))
        let oaep = try check(V.tpmtPublicRsa3072Oaep, tpmtPublic)
        XCTAssertEqual(oaep.nameAlg, .sha1)
        XCTAssertEqual(
            oaep.parameters,
            .rsa(
                TPMSRSAParms(
                    symmetric: .null, scheme: TPMTRSAScheme(.oaep(hashAlg: .sha384)),
                    keyBits: 3072, exponent: 0)))
    }

    // MARK: keys and Names

    /// The Name the TSS computed (nameAlg || H(marshalled TPMT_PUBLIC), checked against
    /// Python's hashlib when generated). The hash closure is handed exactly the TSS octets and
    /// answers with the digest the TSS got for them.
    private func checkName(publicHex: String, nameHex: String, alg: TPMAlgID) throws {
        let pub = try check(publicHex, tpmtPublic)
        let name = hexBytes(nameHex)
        var calls = 0
        let ours = pub.name { a, data in
            calls += 1
            XCTAssertEqual(a, alg)
            XCTAssertEqual(data, hexBytes(publicHex))
            return Array(name.dropFirst(2))
        }
        XCTAssertEqual(calls, 1)
        XCTAssertEqual(ours.buffer, name)
    }

    func testKeysFromRealKeyMaterialAndTheirNames() throws {
        try checkName(publicHex: V.tpmtPublicRsaKey, nameHex: V.nameRsaKey, alg: .sha256)
        try checkName(publicHex: V.tpmtPublicEccKey, nameHex: V.nameEccKey, alg: .sha512)
        let rsa = try check(V.tpmtPublicRsaKey, tpmtPublic)
        guard case .rsa(let n) = rsa.unique else { return XCTFail("unique") }
        XCTAssertEqual(n.count, 256)
        let ecc = try check(V.tpmtPublicEccKey, tpmtPublic)
        guard case .ecc(let p) = ecc.unique, case .ecc(let parms) = ecc.parameters else { return XCTFail("ecc") }
        XCTAssertEqual(parms.curveID, .nistP521)
        XCTAssertLessThanOrEqual(p.x.count, 66)
    }

    func testSensitiveAreas() throws {
        let sensitive: (inout TPMReader) throws -> TPMTSensitive = { try TPMTSensitive(from: &$0, support: objectSupport) }
        let rsa = try check(V.tpmtSensitiveRsa, sensitive)
        XCTAssertEqual(rsa.authValue.buffer, Array("secret".utf8))
        guard case .rsa(let prime) = rsa.sensitive else { return XCTFail("rsa") }
        XCTAssertEqual(prime.count, 128)
        let wrapped = try check(V.tpm2bSensitiveRsa) { try TPM2BSensitive(from: &$0, support: objectSupport) }
        XCTAssertEqual(wrapped.sensitiveArea, rsa)
        let ecc = try check(V.tpmtSensitiveEcc, sensitive)
        guard case .ecc(let d) = ecc.sensitive else { return XCTFail("ecc") }
        XCTAssertLessThanOrEqual(d.count, 66)
        try check(
            V.tpmtSensitiveKeyedhash,
            TPMTSensitive(
                authValue: TPM2BAuth(), seedValue: TPM2BDigest([UInt8](repeating: 0x11, count: 32)),
                sensitive: .keyedHash(TPM2BSensitiveData(Array("sealed data 1234".utf8)))), sensitive)
        try check(
            V.tpmtSensitiveSym,
            TPMTSensitive(
                authValue: TPM2BAuth(), seedValue: TPM2BDigest([UInt8](repeating: 0x33, count: 32)),
                sensitive: .symCipher(TPM2BSymKey([UInt8](repeating: 0x22, count: 32)))), sensitive)
        try check(V.tpm2bSensitiveCreateEmpty, TPM2BSensitiveCreate()) { try TPM2BSensitiveCreate(from: &$0) }
        try check(
            V.tpm2bSensitiveCreate,
            TPM2BSensitiveCreate(
                TPMSSensitiveCreate(
                    userAuth: TPM2BAuth(Array("passw0rd".utf8)), data: TPM2BSensitiveData(Array("seal me".utf8))))
        ) {
            try TPM2BSensitiveCreate(from: &$0)
        }
    }

    // MARK: signatures and schemes

    func testSignatures() throws {
        let sig: (inout TPMReader) throws -> TPMTSignature = { try TPMTSignature(from: &$0, allowNull: true, support: objectSupport) }
        try check(
            V.tpmtSignatureRsassa,
            TPMTSignature(
                .rsassa(
                    TPMSSignatureRSA(
                        hash: .sha256, sig: TPM2BPublicKeyRSA((0...255).map(UInt8.init))))), sig)
        try check(
            V.tpmtSignatureRsapss,
            TPMTSignature(
                .rsapss(
                    TPMSSignatureRSA(
                        hash: .sha384, sig: TPM2BPublicKeyRSA([UInt8](repeating: 0xA5, count: 384))))), sig)
        try check(
            V.tpmtSignatureEcdsa,
            TPMTSignature(
                .ecdsa(
                    TPMSSignatureECC(
                        hash: .sha256, signatureR: TPM2BECCParameter((1...32).map(UInt8.init)),
                        signatureS: TPM2BECCParameter((33...64).map(UInt8.init))))), sig)
        try check(
            V.tpmtSignatureEcschnorr,
            TPMTSignature(
                .ecschnorr(
                    TPMSSignatureECC(
                        hash: .sha512, signatureR: TPM2BECCParameter([UInt8](repeating: 7, count: 66)),
                        signatureS: TPM2BECCParameter([UInt8](repeating: 9, count: 66))))), sig)
        try check(V.tpmtSignatureHmac, TPMTSignature(.hmac(TPMTHA(hashAlg: .sha1, digest: (0...19).map(UInt8.init)))), sig)
        try check(V.tpmtSignatureNull, TPMTSignature.null, sig)
    }

    func testSchemes() throws {
        try check(V.tpmtSigSchemeEcdaa, TPMTSigScheme(.ecdaa(hashAlg: .sha256, count: 5))) {
            try TPMTSigScheme(from: &$0, allowNull: true, support: objectSupportWithECDAA)
        }
        // ECDAA is not in the engine's profile: TPMI_ALG_SIG_SCHEME refuses it.
        XCTAssertEqual(
            decodeRC(hexBytes(V.tpmtSigSchemeEcdaa)) { try TPMTSigScheme(from: &$0, allowNull: true, support: objectSupport) },
            .scheme)
        let scheme: (inout TPMReader) throws -> TPMTSigScheme = { try TPMTSigScheme(from: &$0, allowNull: true, support: objectSupport) }
        try check(V.tpmtSigSchemeRsapss, TPMTSigScheme(.rsapss(hashAlg: .sha256)), scheme)
        try check(V.tpmtSigSchemeHmac, TPMTSigScheme(.hmac(hashAlg: .sha384)), scheme)
        try check(V.tpmtSigSchemeNull, TPMTSigScheme.null, scheme)
        let decrypt: (inout TPMReader) throws -> TPMTRSADecrypt = { try TPMTRSADecrypt(from: &$0, allowNull: true, support: objectSupport) }
        try check(V.tpmtRsaDecryptOaep, TPMTRSADecrypt(.oaep(hashAlg: .sha256)), decrypt)
        try check(V.tpmtRsaDecryptRsaes, TPMTRSADecrypt(.rsaes), decrypt)
        try check(V.tpmtRsaDecryptNull, TPMTRSADecrypt.null, decrypt)
        let symDef: (inout TPMReader) throws -> TPMTSymDef = { try TPMTSymDef(from: &$0, allowNull: true, support: objectSupport) }
        try check(V.tpmtSymDefXor, TPMTSymDef.xor(hashAlg: .sha256), symDef)
        try check(V.tpmtSymDefAes, TPMTSymDef.aes(keyBits: 128, mode: .cfb), symDef)
        try check(V.tpmtSymDefNull, TPMTSymDef.null, symDef)
        try check(
            V.tpm2bEccPoint,
            TPM2BECCPoint(
                TPMSECCPoint(
                    x: TPM2BECCParameter((0...31).map(UInt8.init)), y: TPM2BECCParameter((32...63).map(UInt8.init))))
        ) {
            try TPM2BECCPoint(from: &$0)
        }
    }

    // MARK: tickets, creation data, attestation

    func testTickets() throws {
        try check(V.tpmtTkCreation, TPMTTKCreation(hierarchy: .owner, digest: TPM2BDigest((0...31).map(UInt8.init)))) {
            try TPMTTKCreation(from: &$0)
        }
        try check(V.tpmtTkVerified, TPMTTKVerified(hierarchy: .endorsement, digest: TPM2BDigest((0...47).map(UInt8.init)))) {
            try TPMTTKVerified(from: &$0)
        }
        try check(V.tpmtTkAuth, TPMTTKAuth(tag: .authSigned, hierarchy: .platform, digest: TPM2BDigest((0...19).map(UInt8.init)))) {
            try TPMTTKAuth(from: &$0)
        }
        try check(V.tpmtTkAuthNull, TPMTTKAuth(tag: .authSecret, hierarchy: .null, digest: TPM2BDigest())) { try TPMTTKAuth(from: &$0) }
    }

    func testCreationData() throws {
        let sha256Name = TPM2BName([0x00, 0x0B] + (0...31).map(UInt8.init))
        try check(
            V.tpm2bCreationData,
            TPM2BCreationData(
                TPMSCreationData(
                    pcrSelect: TPMLPCRSelection([
                        TPMSPCRSelection(hash: .sha256, pcrs: [0, 1, 2, 3, 7]),
                        TPMSPCRSelection(hash: .sha1, pcrs: [16]),
                    ]),
                    pcrDigest: TPM2BDigest((0...31).map(UInt8.init)), locality: [.zero, .three], parentNameAlg: .sha256,
                    parentName: sha256Name, parentQualifiedName: TPM2BName([0x00, 0x0B] + (100...131).map(UInt8.init)),
                    outsideInfo: TPM2BData(Array("outside".utf8))))
        ) { try TPM2BCreationData(from: &$0) }
        let owner = TPM2BName([0x40, 0x00, 0x00, 0x01])
        try check(
            V.tpm2bCreationDataPrimary,
            TPM2BCreationData(
                TPMSCreationData(
                    pcrSelect: TPMLPCRSelection([]), pcrDigest: TPM2BDigest(), locality: [], parentNameAlg: .null,
                    parentName: owner, parentQualifiedName: owner, outsideInfo: TPM2BData()))
        ) { try TPM2BCreationData(from: &$0) }
    }

    func testAttestationStructures() throws {
        let signer = TPM2BName([0x00, 0x0B] + (200...231).map(UInt8.init))
        let clock = TPMSClockInfo(clock: 0x0102_0304_0506_0708, resetCount: 3, restartCount: 9, safe: true)
        let firmware: UInt64 = 0x2000_0000_0001_0203
        let count32 = TPM2BDigest((0...31).map(UInt8.init))
        let zeroName = TPM2BName([0x00, 0x0B] + [UInt8](repeating: 0, count: 32))
        func attest(_ a: TPMUAttest) -> TPMSAttest {
            TPMSAttest(
                qualifiedSigner: signer, extraData: TPM2BData(Array("nonce-123".utf8)), clockInfo: clock,
                firmwareVersion: firmware, attested: a)
        }
        let decode: (inout TPMReader) throws -> TPMSAttest = { try TPMSAttest(from: &$0) }
        let cases: [(String, TPMUAttest)] = [
            (
                V.tpmsAttestQuote,
                .quote(
                    TPMSQuoteInfo(
                        pcrSelect: TPMLPCRSelection([
                            TPMSPCRSelection(hash: .sha256, pcrs: Array(0...7)),
                            TPMSPCRSelection(hash: .sha384, pcrs: [23]),
                        ]), pcrDigest: count32))
            ),
            (
                V.tpmsAttestCertify,
                .certify(
                    TPMSCertifyInfo(
                        name: signer, qualifiedName: TPM2BName([0x00, 0x0C] + [UInt8](repeating: 0, count: 48))))
            ),
            (V.tpmsAttestCreation, .creation(TPMSCreationInfo(objectName: signer, creationHash: count32))),
            (
                V.tpmsAttestCommandAudit,
                .commandAudit(
                    TPMSCommandAuditInfo(
                        auditCounter: 77, digestAlg: .sha256, auditDigest: TPM2BDigest([UInt8](repeating: 0, count: 32)),
                        commandDigest: count32))
            ),
            (V.tpmsAttestSessionAudit, .sessionAudit(TPMSSessionAuditInfo(exclusiveSession: true, sessionDigest: count32))),
            (
                V.tpmsAttestTime,
                .time(
                    TPMSTimeAttestInfo(
                        time: TPMSTimeInfo(time: 123_456_789, clockInfo: clock),
                        firmwareVersion: firmware))
            ),
            (
                V.tpmsAttestNv,
                .nv(
                    TPMSNVCertifyInfo(
                        indexName: zeroName, offset: 16,
                        nvContents: TPM2BMaxNVBuffer(Array("NV contents".utf8))))
            ),
            (V.tpmsAttestNvDigest, .nvDigest(TPMSNVDigestCertifyInfo(indexName: zeroName, nvDigest: count32))),
        ]
        for (hex, attested) in cases {
            let value = try check(hex, attest(attested), decode)
            // TPM2B_ATTEST carries the same octets and gives the structure back.
            let blob = TPM2BAttest(value)
            XCTAssertEqual(blob.buffer, hexBytes(hex))
            XCTAssertEqual(try blob.attest(), value)
        }
    }
}
