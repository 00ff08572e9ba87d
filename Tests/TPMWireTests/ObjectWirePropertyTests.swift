import TPMWire
import XCTest

/// Property tests over generated values of every object structure: decode(encode(x)) == x,
/// every proper prefix of an encoding fails with TPM_RC_INSUFFICIENT, an octet appended is
/// refused (TPM_RC_SIZE from an exact decode, and inside a sized structure), and arbitrary octets
/// never trap. The generator is seeded, so a failure names a replayable case.
final class ObjectWirePropertyTests: XCTestCase {
    private var g = SeededGenerator(seed: 0x5EED_0B1E_C7)

    private func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &g)] }
    private func chance() -> Bool { Bool.random(using: &g) }
    private func octets(_ max: Int) -> [UInt8] {
        // Favour the edges: empty, full, and anything between.
        let n = pick([0, max, Int.random(in: 0...max, using: &g)])
        return (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
    }
    private func b<B: TPM2BBound>(_: B.Type = B.self) -> TPM2B<B> { TPM2B<B>(octets(B.maxSize)) }
    private func hash() -> TPMAlgID { pick([.sha1, .sha256, .sha384, .sha512]) }
    private func u16() -> UInt16 { UInt16.random(in: 0...UInt16.max, using: &g) }
    private func u64() -> UInt64 { UInt64.random(in: 0...UInt64.max, using: &g) }

    // MARK: generators

    private func attributes() -> TPMAObject {
        TPMAObject(rawValue: UInt32.random(in: 0...UInt32.max, using: &g) & ~TPMAObject.reserved)
    }

    private func symObject(allowNull: Bool) -> TPMTSymDefObject {
        if allowNull, chance() { return .null }
        return TPMTSymDefObject(algorithm: .aes, keyBits: pick([128, 192, 256]), mode: pick([.cfb, .ctr, .ofb, .cbc, .ecb, .null]))
    }

    private func parameters(_ type: TPMAlgID) -> TPMUPublicParms {
        switch type {
        case .rsa:
            let scheme: TPMUAsymScheme = pick([.null, .rsaes, .rsassa(hashAlg: hash()), .rsapss(hashAlg: hash()), .oaep(hashAlg: hash())])
            return .rsa(
                TPMSRSAParms(
                    symmetric: symObject(allowNull: true), scheme: TPMTRSAScheme(scheme),
                    keyBits: pick([1024, 2048, 3072, 4096]), exponent: UInt32.random(in: 0...UInt32.max, using: &g)))
        case .ecc:
            let scheme: TPMUAsymScheme = pick([.null, .ecdsa(hashAlg: hash()), .ecdh(hashAlg: hash()), .ecschnorr(hashAlg: hash())])
            let kdf: TPMUKDFScheme = pick([.null, .mgf1(hashAlg: hash()), .kdf1SP800_56A(hashAlg: hash()), .kdf1SP800_108(hashAlg: hash())])
            return .ecc(
                TPMSECCParms(
                    symmetric: symObject(allowNull: true), scheme: TPMTECCScheme(scheme),
                    curveID: pick([.nistP256, .nistP384, .nistP521]), kdf: TPMTKDFScheme(kdf)))
        case .keyedHash:
            let kdf: TPMAlgID = pick([.null, .mgf1, .kdf1SP800_108])
            let scheme: TPMUSchemeKeyedHash = pick([.null, .hmac(hashAlg: hash()), .xor(hashAlg: hash(), kdf: kdf)])
            return .keyedHash(TPMSKeyedHashParms(scheme: TPMTKeyedHashScheme(scheme)))
        default:
            return .symCipher(TPMSSymCipherParms(sym: symObject(allowNull: false)))
        }
    }

    private func unique(_ type: TPMAlgID) -> TPMUPublicID {
        switch type {
        case .rsa: return .rsa(b())
        case .ecc: return .ecc(eccPoint())
        case .keyedHash: return .keyedHash(b())
        default: return .symCipher(b())
        }
    }

    private func eccPoint() -> TPMSECCPoint { TPMSECCPoint(x: b(), y: b()) }
    private func objectType() -> TPMAlgID { pick([.rsa, .ecc, .keyedHash, .symCipher]) }

    private func publicArea(allowNull: Bool = false) -> TPMTPublic {
        let type = objectType()
        return TPMTPublic(
            nameAlg: allowNull && chance() ? .null : hash(), objectAttributes: attributes(), authPolicy: b(),
            parameters: parameters(type), unique: unique(type))
    }

    private func sensitiveArea() -> TPMTSensitive {
        let secret: TPMUSensitiveComposite = pick([.rsa(b()), .ecc(b()), .keyedHash(b()), .symCipher(b())])
        return TPMTSensitive(authValue: b(), seedValue: b(), sensitive: secret)
    }

    private func signature() -> TPMTSignature {
        func ecc() -> TPMSSignatureECC { TPMSSignatureECC(hash: hash(), signatureR: b(), signatureS: b()) }
        let h = hash()
        let ha = TPMTHA(hashAlg: h, digest: (0..<TPMLimits.digestSize(h)!).map { _ in UInt8.random(in: 0...255, using: &g) })
        return TPMTSignature(
            pick([
                .null, .rsassa(TPMSSignatureRSA(hash: hash(), sig: b())), .rsapss(TPMSSignatureRSA(hash: hash(), sig: b())),
                .ecdsa(ecc()), .ecschnorr(ecc()), .hmac(ha),
            ]))
    }

    private func pcrSelection() -> TPMLPCRSelection {
        TPMLPCRSelection(
            (0..<Int.random(in: 0...TPMLimits.hashCount, using: &g)).map { _ in
                TPMSPCRSelection(hash: hash(), select: (0..<3).map { _ in UInt8.random(in: 0...255, using: &g) })
            })
    }

    private func clockInfo() -> TPMSClockInfo {
        TPMSClockInfo(
            clock: u64(), resetCount: UInt32.random(in: 0...UInt32.max, using: &g),
            restartCount: UInt32.random(in: 0...UInt32.max, using: &g), safe: chance())
    }

    private func attest() -> TPMSAttest {
        let attested: TPMUAttest = pick([
            .certify(TPMSCertifyInfo(name: b(), qualifiedName: b())),
            .creation(TPMSCreationInfo(objectName: b(), creationHash: b())),
            .quote(TPMSQuoteInfo(pcrSelect: pcrSelection(), pcrDigest: b())),
            .commandAudit(TPMSCommandAuditInfo(auditCounter: u64(), digestAlg: TPMAlgID(u16()), auditDigest: b(), commandDigest: b())),
            .sessionAudit(TPMSSessionAuditInfo(exclusiveSession: chance(), sessionDigest: b())),
            .time(TPMSTimeAttestInfo(time: TPMSTimeInfo(time: u64(), clockInfo: clockInfo()), firmwareVersion: u64())),
            .nv(TPMSNVCertifyInfo(indexName: b(), offset: u16(), nvContents: b())),
            .nvDigest(TPMSNVDigestCertifyInfo(indexName: b(), nvDigest: b())),
        ])
        return TPMSAttest(qualifiedSigner: b(), extraData: b(), clockInfo: clockInfo(), firmwareVersion: u64(), attested: attested)
    }

    private func creationData() -> TPMSCreationData {
        TPMSCreationData(
            pcrSelect: pcrSelection(), pcrDigest: b(), locality: TPMALocality(rawValue: UInt8.random(in: 0...255, using: &g)),
            parentNameAlg: TPMAlgID(u16()), parentName: b(), parentQualifiedName: b(), outsideInfo: b())
    }

    private func hierarchy() -> TPMHandle { pick([.owner, .endorsement, .platform, .null]) }

    // MARK: the properties

    /// decode(encode(x)) == x; every proper prefix is TPM_RC_INSUFFICIENT; one more octet is
    /// TPM_RC_SIZE for an exact decode.
    private func roundTrip<T: Equatable & TPMEncodable>(
        _ name: String, count: Int = 150, file: StaticString = #filePath, line: UInt = #line,
        _ make: () -> T, _ decode: (inout TPMReader) throws -> T
    ) {
        for i in 0..<count {
            let value = make()
            let bytes = value.wireBytes
            do {
                let back = try decodeAll(bytes, decode)
                XCTAssertEqual(back, value, "\(name) #\(i)", file: file, line: line)
                XCTAssertEqual(back.wireBytes, bytes, "\(name) #\(i)", file: file, line: line)
            } catch {
                XCTFail("\(name) #\(i): \(error) for \(bytes)", file: file, line: line)
                return
            }
            XCTAssertEqual(decodeRC(bytes + [0], decode), .size, "\(name) #\(i) trailing octet", file: file, line: line)
            if i % 5 == 0 { assertEveryTruncationIsInsufficient(bytes, "\(name) #\(i)", file: file, line: line, decode) }
        }
    }

    func testPublicAreas() {
        roundTrip("TPMT_PUBLIC", { publicArea() }) { try TPMTPublic(from: &$0, allowNull: false, support: objectSupport) }
        roundTrip("+TPMT_PUBLIC", { publicArea(allowNull: true) }) { try TPMTPublic(from: &$0, allowNull: true, support: objectSupport) }
        roundTrip("TPM2B_PUBLIC", { TPM2BPublic(publicArea()) }) { try TPM2BPublic(from: &$0, allowNull: false, support: objectSupport) }
        roundTrip("TPMA_OBJECT", { attributes() }) { try TPMAObject(from: &$0) }
        roundTrip("TPM2B_ECC_POINT", { TPM2BECCPoint(eccPoint()) }) { try TPM2BECCPoint(from: &$0) }
        roundTrip("TPMS_DERIVE", { TPMSDerive(label: b(), context: b()) }) { try TPMSDerive(from: &$0) }
    }

    /// A TPM2B_PUBLIC whose size is one off in either direction is TPM_RC_SIZE (the octet is
    /// there to read when the size is larger).
    func testPublicSizeOffByOne() {
        for _ in 0..<100 {
            let area = publicArea().wireBytes
            let n = area.count
            for (size, extra) in [(n + 1, [UInt8(0)]), (n - 1, [])] {
                let bytes = [UInt8(size >> 8), UInt8(size & 0xFF)] + area + extra
                XCTAssertEqual(decodeRC(bytes) { try TPM2BPublic(from: &$0, allowNull: false, support: objectSupport) }, .size)
            }
        }
    }

    func testTemplatesRoundTrip() throws {
        for _ in 0..<150 {
            let plain = publicArea()
            XCTAssertEqual(try TPMTPublic(template: TPM2BTemplate(plain.wireBytes), derivation: false, support: objectSupport), plain)
            var derived = plain
            derived.unique = .derive(TPMSDerive(label: b(), context: b()))
            XCTAssertEqual(try TPMTPublic(template: TPM2BTemplate(derived.wireBytes), derivation: true, support: objectSupport), derived)
        }
    }

    func testSensitiveStructures() {
        roundTrip("TPMT_SENSITIVE", { sensitiveArea() }) { try TPMTSensitive(from: &$0, support: objectSupport) }
        roundTrip("TPM2B_SENSITIVE", { TPM2BSensitive(chance() ? nil : sensitiveArea()) }) {
            try TPM2BSensitive(from: &$0, support: objectSupport)
        }
        roundTrip("TPM2B_SENSITIVE_CREATE", { TPM2BSensitiveCreate(TPMSSensitiveCreate(userAuth: b(), data: b())) }) {
            try TPM2BSensitiveCreate(from: &$0)
        }
        roundTrip("_PRIVATE", { TPMPrivate(integrityOuter: b(), integrityInner: b(), sensitive: TPM2BSensitive(sensitiveArea())) }) {
            try TPMPrivate(from: &$0, support: objectSupport)
        }
        roundTrip("TPM2B_PRIVATE", { b(PrivateBound.self) }) { try TPM2BPrivate(from: &$0) }
        roundTrip("TPM2B_ENCRYPTED_SECRET", { b(EncryptedSecretBound.self) }) { try TPM2BEncryptedSecret(from: &$0) }
        roundTrip("TPM2B_ID_OBJECT", { b(IDObjectBound.self) }) { try TPM2BIDObject(from: &$0) }
    }

    func testCredentialBlobsSplitAndJoin() throws {
        for _ in 0..<150 {
            let hmac: TPM2BDigest = b()
            let enc = octets(TPMLimits.maxIDObjectSize - 2 - hmac.count)
            let id = TPMSIDObject(integrityHMAC: hmac, encIdentity: enc)
            XCTAssertEqual(try TPMSIDObject(id.blob), id)
        }
    }

    func testSignaturesAndSchemes() {
        roundTrip("TPMT_SIGNATURE", { signature() }) { try TPMTSignature(from: &$0, allowNull: true, support: objectSupport) }
        roundTrip(
            "TPMT_SIG_SCHEME",
            {
                TPMTSigScheme(
                    pick([
                        .null, .hmac(hashAlg: hash()), .rsassa(hashAlg: hash()), .rsapss(hashAlg: hash()),
                        .ecdsa(hashAlg: hash()), .ecschnorr(hashAlg: hash()), .ecdaa(hashAlg: hash(), count: u16()),
                        .sm2(hashAlg: hash()),
                    ]))
            }
        ) { try TPMTSigScheme(from: &$0, allowNull: true, support: objectSupportWithECDAA) }
        roundTrip("TPMT_RSA_DECRYPT", { TPMTRSADecrypt(pick([.null, .rsaes, .oaep(hashAlg: hash())])) }) {
            try TPMTRSADecrypt(from: &$0, allowNull: true, support: objectSupport)
        }
        roundTrip(
            "TPMT_SYM_DEF",
            {
                pick([TPMTSymDef.null, .xor(hashAlg: hash()), .aes(keyBits: pick([128, 192, 256]), mode: pick([.cfb, .ctr, .null]))])
            }
        ) { try TPMTSymDef(from: &$0, allowNull: true, support: objectSupport) }
        roundTrip("TPM2B_IV", { b(IVBound.self) }) { try TPM2BIV(from: &$0) }
        roundTrip("TPM2B_SYM_KEY", { b(SymKeyBound.self) }) { try TPM2BSymKey(from: &$0) }
    }

    func testAttestationCreationAndTickets() {
        roundTrip("TPMS_ATTEST", { attest() }) { try TPMSAttest(from: &$0) }
        roundTrip("TPM2B_ATTEST", { TPM2BAttest(attest()) }) { try TPM2BAttest(from: &$0) }
        roundTrip("TPM2B_CREATION_DATA", { TPM2BCreationData(creationData()) }) { try TPM2BCreationData(from: &$0) }
        roundTrip("TPMT_TK_CREATION", { TPMTTKCreation(hierarchy: hierarchy(), digest: b()) }) { try TPMTTKCreation(from: &$0) }
        roundTrip("TPMT_TK_VERIFIED", { TPMTTKVerified(hierarchy: hierarchy(), digest: b()) }) { try TPMTTKVerified(from: &$0) }
        roundTrip("TPMT_TK_AUTH", { TPMTTKAuth(tag: pick([.authSigned, .authSecret]), hierarchy: hierarchy(), digest: b()) }) {
            try TPMTTKAuth(from: &$0)
        }
    }

    /// Accepted inputs re-encode to themselves: single-octet mutations of valid encodings that
    /// still decode must give back exactly the mutated octets (decoding is canonical, which is
    /// what makes a Name computed from a re-encoded public area match the octets received).
    func testMutatedInputsThatDecodeReencodeExactly() {
        var accepted = 0
        for _ in 0..<3000 {
            var bytes = TPM2BPublic(publicArea()).wireBytes
            let at = Int.random(in: 0..<bytes.count, using: &g)
            bytes[at] = UInt8.random(in: 0...255, using: &g)
            if let value = try? decodeAll(bytes, { try TPM2BPublic(from: &$0, allowNull: true, support: objectSupport) }) {
                accepted += 1
                XCTAssertEqual(value.wireBytes, bytes)
            }
        }
        XCTAssertGreaterThan(accepted, 100)
    }

    /// Whatever the octets, every decoder returns or throws a TPMError; none traps or loops.
    func testArbitraryOctetsNeverTrap() {
        let decoders: [(inout TPMReader) throws -> Void] = [
            { _ = try TPM2BPublic(from: &$0, allowNull: true, support: objectSupport) },
            { _ = try TPMTPublic(from: &$0, allowNull: false, support: objectSupport) },
            { _ = try TPM2BSensitive(from: &$0, support: objectSupport) },
            { _ = try TPM2BSensitiveCreate(from: &$0) },
            { _ = try TPMTSignature(from: &$0, allowNull: true, support: objectSupport) },
            { _ = try TPMTSigScheme(from: &$0, allowNull: true, support: objectSupport) },
            { _ = try TPMTRSADecrypt(from: &$0, allowNull: true, support: objectSupport) },
            { _ = try TPMTSymDef(from: &$0, allowNull: true, support: objectSupport) },
            { _ = try TPMSAttest(from: &$0) },
            { _ = try TPM2BCreationData(from: &$0) },
            { _ = try TPM2BECCPoint(from: &$0) },
            { _ = try TPMTTKAuth(from: &$0) },
            { _ = try TPMPrivate(from: &$0, support: objectSupport) },
            { _ = try TPMTPublic(template: TPM2BTemplate($0.rest()), derivation: true, support: objectSupport) },
        ]
        // Prefixes that get past the first checks, so the deeper fields are exercised too.
        let prefixes: [[UInt8]] = [[], [0, 1, 0, 0x0B], [0, 0x23, 0, 0x0B, 0, 0, 0, 0], [0xFF, 0x54, 0x43, 0x47, 0x80], [0, 0x14]]
        for i in 0..<6000 {
            let tail = (0..<Int.random(in: 0...48, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
            let bytes = prefixes[i % prefixes.count] + tail
            for decode in decoders {
                if let rc = decodeRC(bytes, decode) { XCTAssertNotEqual(rc.rawValue, 0xFFFF_FFFF) }
            }
        }
    }
}
