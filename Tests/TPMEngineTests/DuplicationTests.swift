import Crypto
import TPMCrypto
import TPMEngine
import TPMWire
import XCTest
import _CryptoExtras

// TPM2_Duplicate, TPM2_Import and TPM2_Rewrap (Part 3, 13; Part 1, 23.3). Blobs without an
// outer wrapper are opened by the test itself (plain and inner-wrapped TPM2B_SENSITIVE, checked
// against swift-crypto's P-256); a key made by swift-crypto is wrapped by the test for an ECC
// parent (ECDH, KDFe "DUPLICATE", KDFa, AES-CFB, HMAC) and imported, and the signature the
// engine then makes with it verifies with swift-crypto. Error codes are libtpms 0.9.2's.

/// PolicyCommandCode(code) from a zero digest with SHA-256.
func policyCommandCodeDigest(_ code: TPMCC) -> [UInt8] {
    Array(SHA256.hash(data: [UInt8](repeating: 0, count: 32) + be32(0x16C) + be32(code.rawValue)))
}

/// StartAuthSession: a policy session (no salt, not bound, no symmetric, SHA-256).
func startPolicySessionCommand() -> [UInt8] {
    var w = TPMWriter()
    w.u32(TPMHandle.null.rawValue)
    w.u32(TPMHandle.null.rawValue)
    w.sized([UInt8](repeating: 7, count: 16))
    w.sized([UInt8]())
    w.u8(0x01)
    w.u16(TPMAlgID.null.rawValue)
    w.u16(TPMAlgID.sha256.rawValue)
    return command(.startAuthSession, w.bytes)
}

func policyCommandCodeCommand(_ session: TPMHandle, _ code: TPMCC) -> [UInt8] {
    command(.policyCommandCode, be32(session.rawValue) + be32(code.rawValue))
}

/// TPM2_Duplicate authorized by `session` (a policy session, no HMAC needed).
func duplicateCommand(
    _ object: TPMHandle, newParent: TPMHandle, session: TPMHandle, keyIn: [UInt8] = [], symmetric: TPMTSymDefObject = .null
) -> [UInt8] {
    var w = TPMWriter()
    w.u32(object.rawValue)
    w.u32(newParent.rawValue)
    var a = TPMWriter()
    a.u32(session.rawValue)
    a.sized([UInt8]())
    a.u8(0)
    a.sized([UInt8]())
    w.u32(UInt32(a.count))
    w.bytes(a.bytes)
    w.sized(keyIn)
    symmetric.encode(to: &w)
    return command(.duplicate, tag: .sessions, w.bytes)
}

func importCommand(
    parent: TPMHandle, keyIn: [UInt8] = [], publicArea: TPMTPublic, duplicate: [UInt8], seed: [UInt8] = [],
    symmetric: TPMTSymDefObject = .null
) -> [UInt8] {
    var w = TPMWriter()
    w.sized(keyIn)
    TPM2BPublic(publicArea).encode(to: &w)
    w.sized(duplicate)
    w.sized(seed)
    symmetric.encode(to: &w)
    return command(.import, tag: .sessions, withPassword(handles: [parent], params: w.bytes))
}

func rewrapCommand(oldParent: TPMHandle, newParent: TPMHandle, duplicate: [UInt8], name: [UInt8], seed: [UInt8]) -> [UInt8] {
    var w = TPMWriter()
    w.sized(duplicate)
    w.sized(name)
    w.sized(seed)
    return command(.rewrap, tag: .sessions, withPasswords(handles: [oldParent, newParent], passwords: [[]], params: w.bytes))
}

final class DuplicationTests: XCTestCase {
    typealias C = DifferentialCase
    static let t0 = TPMHandle(0x8000_0000)
    static let t1 = TPMHandle(0x8000_0001)
    static let t2 = TPMHandle(0x8000_0002)
    static let s0 = TPMHandle(0x0300_0000)
    static let aes128 = TPMTSymDefObject(algorithm: .aes, keyBits: 128, mode: .cfb)
    /// A duplicable ECDSA key whose DUP role is PolicyCommandCode(TPM2_Duplicate).
    static let duplicable = Templates.ecc(
        attributes: [.sensitiveDataOrigin, .userWithAuth, .sign], scheme: .ecdsa(hashAlg: .sha256),
        policy: policyCommandCodeDigest(.duplicate))
    static var encryptedDuplicable: TPMTPublic {
        var t = duplicable
        t.objectAttributes.insert(.encryptedDuplication)
        return t
    }

    struct Duplicated {
        var keyOut: [UInt8]
        var duplicate: [UInt8]
        var seed: [UInt8]
    }

    func duplicate(
        _ tpm: TPM, _ object: TPMHandle, newParent: TPMHandle, keyIn: [UInt8] = [], symmetric: TPMTSymDefObject = .null,
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> Duplicated {
        let s = tpm.execute(command: startPolicySessionCommand())
        XCTAssertEqual(responseCode(s), 0, file: file, line: line)
        let session = responseHandle(s)
        XCTAssertEqual(responseCode(tpm.execute(command: policyCommandCodeCommand(session, .duplicate))), 0, file: file, line: line)
        let r = tpm.execute(
            command: duplicateCommand(object, newParent: newParent, session: session, keyIn: keyIn, symmetric: symmetric))
        XCTAssertEqual(responseCode(r), 0, "Duplicate", file: file, line: line)
        var p = try checkedParameters(r, hasHandle: false)
        let d = Duplicated(keyOut: try p.sized(max: 64), duplicate: try p.sized(max: 2048), seed: try p.sized(max: 600))
        XCTAssertTrue(p.isAtEnd)
        return d
    }

    func importAndLoad(
        _ tpm: TPM, parent: TPMHandle, publicArea: TPMTPublic, d: Duplicated, keyIn: [UInt8], symmetric: TPMTSymDefObject,
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> TPMHandle {
        let r = tpm.execute(
            command: importCommand(
                parent: parent, keyIn: keyIn, publicArea: publicArea, duplicate: d.duplicate, seed: d.seed, symmetric: symmetric))
        XCTAssertEqual(responseCode(r), 0, "Import", file: file, line: line)
        var p = try checkedParameters(r, hasHandle: false)
        let outPrivate = try p.sized(max: 2048)
        let l = tpm.execute(command: loadCommand(parent: parent, outPrivate: outPrivate, publicArea: publicArea))
        XCTAssertEqual(responseCode(l), 0, "Load", file: file, line: line)
        return responseHandle(l)
    }

    /// Signs with the key at `h` and verifies with swift-crypto.
    func assertSigns(_ tpm: TPM, _ h: TPMHandle, publicArea: TPMTPublic, file: StaticString = #filePath, line: UInt = #line) throws {
        let message = Array("duplicated".utf8)
        let sig = try parseSignature(tpm.execute(command: signCommand(h, digest: Array(SHA256.hash(data: message)))))
        XCTAssertTrue(try independentlyVerify(sig, publicArea: publicArea, message: message), file: file, line: line)
    }

    /// Parses a plain TPM2B_SENSITIVE and checks the ECC scalar against the public point.
    func assertPlainSensitive(_ plain: [UInt8], publicArea: TPMTPublic, file: StaticString = #filePath, line: UInt = #line) throws {
        var r = TPMReader(plain)
        let size = Int(try r.u16())
        XCTAssertEqual(size, r.remaining, file: file, line: line)
        let s = try TPMTSensitive(from: &r, support: support)
        guard case .ecc(let d) = s.sensitive, case .ecc(let q) = publicArea.unique else { return XCTFail("ECC", file: file, line: line) }
        let key = try P256.Signing.PrivateKey(rawRepresentation: d.buffer)
        XCTAssertEqual(Array(key.publicKey.rawRepresentation), q.x.buffer + q.y.buffer, file: file, line: line)
        XCTAssertEqual(s.authValue.count, 32, "authValue padded to the nameAlg digest", file: file, line: line)
    }

    /// Duplicate with every combination of wrappers, Import under another parent, Load, Sign.
    func testRoundTripsInOneTPM() throws {
        let tpm = startedTPM()
        let key = try makePrimary(tpm, .owner, Self.duplicable)
        let newParent = try makePrimary(tpm, .endorsement, Templates.ecc())
        let name = independentName(key.publicBytes)
        XCTAssertEqual(name, key.name)
        let cases: [(TPMTSymDefObject, [UInt8])] = [(.null, []), (Self.aes128, []), (Self.aes128, [UInt8](repeating: 9, count: 16))]
        for (inner, keyIn) in cases {
            let d = try duplicate(tpm, key.handle, newParent: newParent.handle, keyIn: keyIn, symmetric: inner)
            XCTAssertEqual(d.keyOut.count, inner.algorithm == .null || !keyIn.isEmpty ? 0 : 16)
            XCTAssertEqual(d.seed.count, 4 + 64, "an ECC point")
            let k = keyIn.isEmpty ? d.keyOut : keyIn
            // Another parent cannot open the outer wrapper.
            let storage = try makePrimary(tpm, .owner, Templates.ecc())
            let r = tpm.execute(
                command: importCommand(
                    parent: storage.handle, keyIn: k, publicArea: key.publicArea, duplicate: d.duplicate, seed: d.seed, symmetric: inner))
            XCTAssertEqual(responseCode(r), 0x3DF, "TPM_RC_INTEGRITY + P3")
            XCTAssertEqual(responseCode(tpm.execute(command: flushCommand(storage.handle))), 0)
            let h = try importAndLoad(tpm, parent: newParent.handle, publicArea: key.publicArea, d: d, keyIn: k, symmetric: inner)
            try assertSigns(tpm, h, publicArea: key.publicArea)
            XCTAssertEqual(responseCode(tpm.execute(command: flushCommand(h))), 0)
        }
        // An RSA new parent: the seed travels under OAEP.
        XCTAssertEqual(responseCode(tpm.execute(command: flushCommand(newParent.handle))), 0)
        let rsaParent = try makePrimary(tpm, .owner, Templates.rsa())
        let d = try duplicate(tpm, key.handle, newParent: rsaParent.handle, symmetric: Self.aes128)
        XCTAssertEqual(d.seed.count, 256)
        let h = try importAndLoad(tpm, parent: rsaParent.handle, publicArea: key.publicArea, d: d, keyIn: d.keyOut, symmetric: Self.aes128)
        try assertSigns(tpm, h, publicArea: key.publicArea)
    }

    /// Without an outer wrapper the blob is readable by whoever holds the inner key: the test
    /// opens both forms itself.
    func testBlobsWithoutOuterWrapperOpenedIndependently() throws {
        let tpm = startedTPM()
        let key = try makePrimary(tpm, .owner, Self.duplicable)
        let plain = try duplicate(tpm, key.handle, newParent: .null)
        XCTAssertEqual(plain.seed, [])
        XCTAssertEqual(plain.keyOut, [])
        try assertPlainSensitive(plain.duplicate, publicArea: key.publicArea)

        let innerKey = [UInt8](repeating: 0x42, count: 16)
        let wrapped = try duplicate(tpm, key.handle, newParent: .null, keyIn: innerKey, symmetric: Self.aes128)
        let opened = try Spec1.cfb(innerKey, wrapped.duplicate, decrypt: true)
        XCTAssertEqual(Array(opened[0..<2]), [0, 32])
        let rest = Array(opened[34...])
        XCTAssertEqual(Array(opened[2..<34]), Array(SHA256.hash(data: rest + key.name)), "inner integrity H(plain || name)")
        try assertPlainSensitive(rest, publicArea: key.publicArea)
    }

    /// A P-256 key made by swift-crypto, wrapped by the test for an ECC parent (outer and
    /// inner wrappers), is imported, loaded, and signs what swift-crypto verifies.
    func testImportOfAnExternalKey() throws {
        let tpm = startedTPM()
        let parent = try makePrimary(tpm, .owner, Templates.ecc())
        guard case .ecc(let q) = parent.publicArea.unique else { return XCTFail("ECC") }
        let external = P256.Signing.PrivateKey()
        let raw = Array(external.publicKey.rawRepresentation)
        var publicArea = Templates.ecc(attributes: [.userWithAuth, .sign], scheme: .ecdsa(hashAlg: .sha256))
        publicArea.unique = .ecc(TPMSECCPoint(x: TPM2BECCParameter(Array(raw[0..<32])), y: TPM2BECCParameter(Array(raw[32...]))))
        let name = independentName(publicArea.wireBytes)
        let sensitive = TPMTSensitive(
            authValue: TPM2BAuth(), seedValue: TPM2BDigest(), sensitive: .ecc(TPM2BECCParameter(Array(external.rawRepresentation))))
        let plain = Spec1.sized(sensitive.wireBytes)
        let innerKey = [UInt8](repeating: 0x24, count: 16)
        let inner = try Spec1.cfb(innerKey, Spec1.sized(Array(SHA256.hash(data: plain + name))) + plain)
        // The outer wrapper: a seed shared with the parent by ECDH under "DUPLICATE".
        let eph = P256.KeyAgreement.PrivateKey()
        let qs = try P256.KeyAgreement.PublicKey(rawRepresentation: q.x.buffer + q.y.buffer)
        let z = try eph.sharedSecretFromKeyAgreement(with: qs).withUnsafeBytes { Array($0) }
        let qe = Array(eph.publicKey.rawRepresentation)
        let seed = Spec1.kdfe(z: z, "DUPLICATE", Array(qe[0..<32]), q.x.buffer)
        let enc = try Spec1.cfb(Spec1.kdfa(seed, "STORAGE", name, [], bits: 128), inner)
        let blob = Spec1.sized(Spec1.hmac(Spec1.kdfa(seed, "INTEGRITY", [], [], bits: 256), enc + name)) + enc
        let secret = Spec1.sized(Array(qe[0..<32])) + Spec1.sized(Array(qe[32...]))
        let d = Duplicated(keyOut: [], duplicate: blob, seed: secret)
        let h = try importAndLoad(tpm, parent: parent.handle, publicArea: publicArea, d: d, keyIn: innerKey, symmetric: Self.aes128)
        try assertSigns(tpm, h, publicArea: publicArea)
        // The same blob under a label other than "DUPLICATE" does not open.
        let wrongSeed = Spec1.kdfe(z: z, "IDENTITY", Array(qe[0..<32]), q.x.buffer)
        let enc2 = try Spec1.cfb(Spec1.kdfa(wrongSeed, "STORAGE", name, [], bits: 128), inner)
        let blob2 = Spec1.sized(Spec1.hmac(Spec1.kdfa(wrongSeed, "INTEGRITY", [], [], bits: 256), enc2 + name)) + enc2
        let r = tpm.execute(
            command: importCommand(
                parent: parent.handle, keyIn: innerKey, publicArea: publicArea, duplicate: blob2, seed: secret, symmetric: Self.aes128))
        XCTAssertEqual(responseCode(r), 0x3DF)
    }

    /// Rewrap moves a blob from one new parent to another; Import under the second works.
    func testRewrap() throws {
        let tpm = startedTPM()
        let key = try makePrimary(tpm, .owner, Self.duplicable)
        let first = try makePrimary(tpm, .owner, Templates.ecc())
        let d = try duplicate(tpm, key.handle, newParent: first.handle, symmetric: Self.aes128)
        XCTAssertEqual(responseCode(tpm.execute(command: flushCommand(key.handle))), 0)
        let second = try makePrimary(tpm, .endorsement, Templates.rsa())
        let r = tpm.execute(
            command: rewrapCommand(oldParent: first.handle, newParent: second.handle, duplicate: d.duplicate, name: key.name, seed: d.seed))
        XCTAssertEqual(responseCode(r), 0)
        var p = try checkedParameters(r, hasHandle: false)
        let rewrapped = Duplicated(keyOut: d.keyOut, duplicate: try p.sized(max: 2048), seed: try p.sized(max: 600))
        XCTAssertEqual(rewrapped.seed.count, 256)
        XCTAssertEqual(rewrapped.duplicate.count, d.duplicate.count, "same nameAlg: same size")
        let h = try importAndLoad(
            tpm, parent: second.handle, publicArea: key.publicArea, d: rewrapped, keyIn: d.keyOut, symmetric: Self.aes128)
        try assertSigns(tpm, h, publicArea: key.publicArea)
        // Rewrapping to TPM_RH_NULL leaves the inner blob, which the test opens with the key.
        let r2 = tpm.execute(
            command: rewrapCommand(oldParent: first.handle, newParent: .null, duplicate: d.duplicate, name: key.name, seed: d.seed))
        XCTAssertEqual(responseCode(r2), 0)
        var p2 = try checkedParameters(r2, hasHandle: false)
        let bare = try p2.sized(max: 2048)
        XCTAssertEqual(try p2.sized(max: 600), [])
        let opened = try Spec1.cfb(d.keyOut, bare, decrypt: true)
        try assertPlainSensitive(Array(opened[34...]), publicArea: key.publicArea)
    }

    /// PolicyDuplicationSelect binds the DUP role to one new parent: Duplicate to it works, to
    /// another parent the session's nameHash does not match (TPM_RC_POLICY_FAIL + S1).
    func testPolicyDuplicationSelect() throws {
        let tpm = startedTPM()
        let newParent = try makePrimary(tpm, .endorsement, Templates.ecc())
        let other = try makePrimary(tpm, .owner, Templates.ecc(nameAlg: .sha384))
        // H(0...0 || TPM_CC_PolicyDuplicationSelect || newParentName || NO), computed here.
        let policy = Array(SHA256.hash(data: [UInt8](repeating: 0, count: 32) + be32(0x188) + newParent.name + [0]))
        var template = Self.duplicable
        template.authPolicy = TPM2BDigest(policy)
        let key = try makePrimary(tpm, .owner, template)
        func select(_ parentName: [UInt8]) -> TPMHandle {
            let session = responseHandle(tpm.execute(command: startPolicySessionCommand()))
            var w = TPMWriter()
            w.u32(session.rawValue)
            w.sized(key.name)
            w.sized(parentName)
            w.u8(0)
            XCTAssertEqual(responseCode(tpm.execute(command: command(.policyDuplicationSelect, w.bytes))), 0)
            return session
        }
        let refused = tpm.execute(command: duplicateCommand(key.handle, newParent: other.handle, session: select(newParent.name)))
        XCTAssertEqual(responseCode(refused), 0x99D)
        let wrongDigest = tpm.execute(command: duplicateCommand(key.handle, newParent: other.handle, session: select(other.name)))
        XCTAssertEqual(responseCode(wrongDigest), 0x99D)
        let r = tpm.execute(command: duplicateCommand(key.handle, newParent: newParent.handle, session: select(newParent.name)))
        XCTAssertEqual(responseCode(r), 0)
    }

    /// Error codes compared with libtpms 0.9.2.
    func testDifferential() {
        let s = Self.self
        let cp = { (t: TPMTPublic, h: TPMHandle) in createPrimaryCommand(h, t) }
        let storage = cp(Templates.ecc(), .owner)
        let signer = cp(Templates.ecc(attributes: Templates.signingAttributes, scheme: .ecdsa(hashAlg: .sha256)), .owner)
        let dupKey = cp(s.duplicable, .owner)
        let start = startPolicySessionCommand()
        let pcc = policyCommandCodeCommand(s.s0, .duplicate)
        let dup = { (o: TPMHandle, np: TPMHandle, k: [UInt8], sym: TPMTSymDefObject) in
            duplicateCommand(o, newParent: np, session: s.s0, keyIn: k, symmetric: sym)
        }
        var fixedWithPolicy = Templates.ecc()
        fixedWithPolicy.authPolicy = TPM2BDigest(policyCommandCodeDigest(.duplicate))
        let extPublic = StaticKeys.eccPublic()
        let extPlain = Spec1.sized(StaticKeys.eccSensitive().wireBytes)
        let imp = { (pub: TPMTPublic, blob: [UInt8], seed: [UInt8], k: [UInt8], sym: TPMTSymDefObject) in
            importCommand(parent: s.t0, keyIn: k, publicArea: pub, duplicate: blob, seed: seed, symmetric: sym)
        }
        var fixedPublic = extPublic
        fixedPublic.objectAttributes.insert(.fixedTPM)
        var encDupPublic = extPublic
        encDupPublic.objectAttributes.insert(.encryptedDuplication)
        var otherScalar = StaticKeys.eccSensitive()
        otherScalar.sensitive = .ecc(TPM2BECCParameter([UInt8](repeating: 0x11, count: 32)))
        let gx = hex("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296")
        let gy = hex("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")
        let gSecret = Spec1.sized(gx) + Spec1.sized(gy)
        let rw = { (o: TPMHandle, n: TPMHandle, blob: [UInt8], seed: [UInt8]) in
            rewrapCommand(oldParent: o, newParent: n, duplicate: blob, name: [0, 4, 1, 2, 3, 4], seed: seed)
        }
        let cases: [C] = [
            C(name: "dup: plain, NULL parent", steps: [dupKey, start, pcc, dup(s.t0, .null, [], .null)], expected: [0, 0, 0, 0]),
            C(
                name: "dup: to a storage key", steps: [dupKey, storage, start, pcc, dup(s.t0, s.t1, [], s.aes128)],
                expected: [0, 0, 0, 0, 0]),
            C(
                name: "dup: fixedParent", steps: [cp(fixedWithPolicy, .owner), start, pcc, dup(s.t0, .null, [], .null)],
                expected: [0, 0, 0, 0x182]),
            C(
                name: "dup: new parent signs", steps: [dupKey, signer, start, pcc, dup(s.t0, s.t1, [], .null)],
                expected: [0, 0, 0, 0, 0x28A]),
            C(
                name: "dup: encryptedDuplication without inner wrapper",
                steps: [cp(s.encryptedDuplicable, .owner), storage, start, pcc, dup(s.t0, s.t1, [], .null)], expected: [0, 0, 0, 0, 0x2D6]),
            C(
                name: "dup: encryptedDuplication to NULL",
                steps: [cp(s.encryptedDuplicable, .owner), start, pcc, dup(s.t0, .null, [], s.aes128)], expected: [0, 0, 0, 0x285]),
            C(name: "dup: key without cipher", steps: [dupKey, start, pcc, dup(s.t0, .null, [1], .null)], expected: [0, 0, 0, 0x1D5]),
            C(
                name: "dup: key of the wrong size", steps: [dupKey, start, pcc, dup(s.t0, .null, [1, 2], s.aes128)],
                expected: [0, 0, 0, 0x1D5]),
            C(name: "dup: policy without the command code", steps: [dupKey, start, dup(s.t0, .null, [], .null)], expected: [0, 0, 0x99D]),
            C(
                name: "dup: password session",
                steps: [dupKey, command(.duplicate, tag: .sessions, withPassword(handles: [s.t0, .null], params: [0, 0, 0, 0x10]))],
                expected: [0, 0x124]),
            C(name: "import: plain external key", steps: [storage, imp(extPublic, extPlain, [], [], .null)], expected: [0, 0]),
            C(name: "import: fixedTPM", steps: [storage, imp(fixedPublic, extPlain, [], [], .null)], expected: [0, 0x2C2]),
            C(name: "import: parent signs", steps: [signer, imp(extPublic, extPlain, [], [], .null)], expected: [0, 0x18A]),
            C(name: "import: key of the wrong size", steps: [storage, imp(extPublic, extPlain, [], [1], s.aes128)], expected: [0, 0x1D5]),
            C(name: "import: key without cipher", steps: [storage, imp(extPublic, extPlain, [], [1], .null)], expected: [0, 0x1D5]),
            C(
                name: "import: encryptedDuplication, no inner", steps: [storage, imp(encDupPublic, extPlain, [], [], .null)],
                expected: [0, 0x1C2]),
            C(
                name: "import: encryptedDuplication, no outer",
                steps: [storage, imp(encDupPublic, extPlain, [], [UInt8](repeating: 1, count: 16), s.aes128)], expected: [0, 0x4C2]),
            C(
                name: "import: seed off the curve",
                steps: [storage, imp(extPublic, extPlain, Spec1.sized(gx) + Spec1.sized(gx), [], .null)], expected: [0, 0x4E7]),
            C(name: "import: seed too short", steps: [storage, imp(extPublic, extPlain, [0, 1], [], .null)], expected: [0, 0x4DA]),
            C(
                name: "import: outer HMAC wrong",
                steps: [storage, imp(extPublic, [0, 32] + [UInt8](repeating: 0, count: 60), gSecret, [], .null)], expected: [0, 0x3DF]),
            C(
                name: "import: inner digest wrong",
                steps: [storage, imp(extPublic, extPlain, [], [UInt8](repeating: 1, count: 16), s.aes128)], expected: [0, 0x3D5]),
            C(
                name: "import: size field too large",
                steps: [storage, imp(extPublic, [0, 200] + Array(extPlain.dropFirst(2)), [], [], .null)], expected: [0, 0x3D5]),
            C(
                name: "import: octets left over",
                steps: [storage, imp(extPublic, Spec1.sized(StaticKeys.eccSensitive().wireBytes + [0]), [], [], .null)],
                expected: [0, 0x3D5]),
            C(name: "import: empty blob", steps: [storage, imp(extPublic, [], [], [], .null)], expected: [0, 0x3DA]),
            C(
                name: "import: scalar of another key", steps: [storage, imp(extPublic, Spec1.sized(otherScalar.wireBytes), [], [], .null)],
                expected: [0, 0x0A5]),
            C(
                name: "import: wrong type",
                steps: [storage, imp(extPublic, Spec1.sized(StaticKeys.rsaSensitive().wireBytes), [], [], .null)], expected: [0, 0x3CA]),
            C(name: "rewrap: NULL to NULL", steps: [rw(.null, .null, [1, 2, 3], [])], expected: [0]),
            C(name: "rewrap: NULL with a seed", steps: [rw(.null, .null, [1, 2, 3], gSecret)], expected: [0x18B]),
            C(name: "rewrap: parent without a seed", steps: [storage, rw(s.t0, .null, [1, 2, 3], [])], expected: [0, 0x18B]),
            C(name: "rewrap: old parent signs", steps: [signer, rw(s.t0, .null, [1, 2, 3], gSecret)], expected: [0, 0x18A]),
            C(name: "rewrap: new parent signs", steps: [signer, rw(.null, s.t0, [1, 2, 3], [])], expected: [0, 0x28A]),
            C(
                name: "rewrap: seed off the curve", steps: [storage, rw(s.t0, .null, [1, 2, 3], Spec1.sized(gx) + Spec1.sized(gx))],
                expected: [0, 0x3C4]),
            C(
                name: "rewrap: HMAC wrong", steps: [storage, rw(s.t0, .null, [0, 32] + [UInt8](repeating: 0, count: 40), gSecret)],
                expected: [0, 0x1DF]),
            C(name: "rewrap: NULL to a storage key", steps: [storage, rw(.null, s.t0, [1, 2, 3], [])], expected: [0, 0]),
        ]
        runDifferential(cases)
    }
}

/// Hostile input to the credential, duplication and HMAC-sequence commands: valid commands
/// mutated at random (a fixed seed) each get a well-formed answer, never a trap, and the engine
/// stays usable.
final class CredentialHostileTests: XCTestCase {
    func mutate(_ seed: [UInt8], _ rng: inout ObjectHostileTests.Rand) -> [UInt8] {
        var c = seed
        switch rng.below(4) {
        case 0:
            for _ in 0...rng.below(4) { c[10 + rng.below(c.count - 10)] ^= UInt8(1 << rng.below(8)) }
        case 1:
            c[10 + rng.below(c.count - 10)] = UInt8(truncatingIfNeeded: rng.next())
        case 2:
            c = Array(c.prefix(10 + rng.below(c.count - 10)))
        default:
            c += (0..<rng.below(40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        }
        if rng.below(2) == 0 {
            let n = UInt32(c.count)
            c[2] = UInt8(n >> 24)
            c[3] = UInt8(n >> 16 & 0xFF)
            c[4] = UInt8(n >> 8 & 0xFF)
            c[5] = UInt8(n & 0xFF)
        }
        return c
    }

    func wellFormed(_ r: [UInt8], _ cmd: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertGreaterThanOrEqual(r.count, 10, file: file, line: line)
        guard r.count >= 10 else { return }
        let size = Int(r[2]) << 24 | Int(r[3]) << 16 | Int(r[4]) << 8 | Int(r[5])
        XCTAssertEqual(size, r.count, "size field", file: file, line: line)
        if responseCode(r) != 0 { XCTAssertEqual(r.count, 10, "error responses are bare: \(hex(cmd))", file: file, line: line) }
    }

    func testMutatedCommands() throws {
        let tpm = startedTPM()
        let parent = try makePrimary(tpm, .owner, Templates.ecc())
        let key = try makePrimary(tpm, .owner, DuplicationTests.duplicable)
        let aes = DuplicationTests.aes128
        // Valid material for every command.
        var p = TPMReader(tpm.execute(command: makeCredentialCommand(parent.handle, credential: [1, 2, 3], name: key.name)))
        _ = try p.bytes(10)
        let blob = try p.sized(max: 200)
        let secret = try p.sized(max: 600)
        let session = responseHandle(tpm.execute(command: startPolicySessionCommand()))
        XCTAssertEqual(responseCode(tpm.execute(command: policyCommandCodeCommand(session, .duplicate))), 0)
        let dupCommand = duplicateCommand(key.handle, newParent: parent.handle, session: session, symmetric: aes)
        var d = try checkedParameters(tpm.execute(command: dupCommand), hasHandle: false)
        let innerKey = try d.sized(max: 64)
        let duplicate = try d.sized(max: 2048)
        let seed = try d.sized(max: 600)
        let seeds: [[UInt8]] = [
            makeCredentialCommand(parent.handle, credential: [1, 2, 3], name: key.name),
            activateCredentialCommand(activate: key.handle, key: parent.handle, blob: blob, secret: secret),
            importCommand(
                parent: parent.handle, keyIn: innerKey, publicArea: key.publicArea, duplicate: duplicate, seed: seed, symmetric: aes),
            rewrapCommand(oldParent: parent.handle, newParent: parent.handle, duplicate: duplicate, name: key.name, seed: seed),
            dupCommand,
        ]
        var rng = ObjectHostileTests.Rand(state: 0xC4ED_D0B1)
        var codes: [UInt32: Int] = [:]
        for i in 0..<1500 {
            let s = seeds[i % seeds.count]
            if i % seeds.count == 4 {
                // The duplication policy must be met again before each Duplicate.
                // (a successful Duplicate ends the session: its continueSession is clear).
                if responseCode(tpm.execute(command: policyCommandCodeCommand(session, .duplicate))) != 0 {
                    XCTAssertEqual(responseHandle(tpm.execute(command: startPolicySessionCommand())), session)
                    XCTAssertEqual(responseCode(tpm.execute(command: policyCommandCodeCommand(session, .duplicate))), 0)
                }
            }
            let c = mutate(s, &rng)
            let r = tpm.execute(command: c)
            codes[responseCode(r), default: 0] += 1
            wellFormed(r, c)
            if responseCode(r) == 0 { _ = tpm.execute(command: flushCommand(TPMHandle(0x8000_0002))) }
        }
        XCTAssertGreaterThan(codes.count, 20)
        XCTAssertGreaterThan(codes[0] ?? 0, 20)
        let again = tpm.execute(command: activateCredentialCommand(activate: key.handle, key: parent.handle, blob: blob, secret: secret))
        XCTAssertEqual(responseCode(again), 0)
    }

    func testMutatedHMACSequences() throws {
        let tpm = startedTPM()
        let attributes: TPMAObject = [.fixedTPM, .fixedParent, .userWithAuth, .sign]
        let k = try makePrimary(tpm, .owner, Templates.keyedHash(attributes: attributes, scheme: .hmac(hashAlg: .sha256)), data: [9, 9])
        var rng = ObjectHostileTests.Rand(state: 0x4D4C)
        for i in 0..<600 {
            let start = tpm.execute(command: hmacStartCommand(k.handle, auth: [1], alg: .sha256))
            XCTAssertEqual(responseCode(start), 0)
            let seq = responseHandle(start)
            let seeds = [hmacStartCommand(k.handle, auth: [1], alg: .null)]
            var u = TPMWriter()
            u.sized([UInt8](repeating: UInt8(i & 0xFF), count: i % 97))
            let update = command(.sequenceUpdate, tag: .sessions, withPassword(handles: [seq], password: [1], params: u.bytes))
            var cw = TPMWriter()
            cw.sized([UInt8](repeating: 1, count: 5))
            cw.u32(TPMHandle.null.rawValue)
            let complete = command(.sequenceComplete, tag: .sessions, withPassword(handles: [seq], password: [1], params: cw.bytes))
            for s in seeds + [update, complete] {
                let c = mutate(s, &rng)
                wellFormed(tpm.execute(command: c), c)
            }
            for h in [TPMHandle(0x8000_0001), TPMHandle(0x8000_0002)] { _ = tpm.execute(command: flushCommand(h)) }
        }
    }
}
