import Crypto
import TPMCrypto
import TPMWire
import XCTest

@testable import TPMEngine

/// Objects end to end: what CreatePrimary, Create, Load, ReadPublic, Unseal and
/// ObjectChangeAuth return, checked against values computed here with swift-crypto; private
/// areas bound to their parent and Name; contexts and state export of key objects.
final class ObjectTests: XCTestCase {
    func readPublic(_ tpm: TPM, _ h: TPMHandle) throws -> (TPMTPublic, [UInt8], [UInt8]) {
        let r = tpm.execute(command: command(.readPublic, be32(h.rawValue)))
        XCTAssertEqual(responseCode(r), 0)
        var p = responseParameters(r)
        let pub = try TPM2BPublic(from: &p, allowNull: true, support: support).publicArea
        return (pub, try p.sized(max: 66), try p.sized(max: 66))
    }

    func unseal(_ tpm: TPM, _ h: TPMHandle, auth: [UInt8] = []) throws -> [UInt8] {
        let r = tpm.execute(command: command(.unseal, tag: .sessions, withPassword(handles: [h], password: auth, params: [])))
        XCTAssertEqual(responseCode(r), 0)
        var p = try checkedParameters(r, hasHandle: false)
        return try p.sized(max: 128)
    }

    func qualified(_ parentQN: [UInt8], _ name: [UInt8]) -> [UInt8] { [0, 0x0B] + Array(SHA256.hash(data: parentQN + name)) }

    /// Creation data (Part 2, 15.1), its hash and ticket, Name and Qualified Name, computed
    /// independently. The creation data bytes equal libtpms's for the same command (the PCR
    /// digest over an empty selection, the hierarchy handle as parent Name).
    func testCreatePrimaryOutputs() throws {
        let tpm = startedTPM()
        let sel = TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: [0, 7]), TPMSPCRSelection(hash: .sha384, pcrs: [1])])
        let r = tpm.execute(command: createPrimaryCommand(.endorsement, Templates.rsa(), outsideInfo: [1, 2, 3], pcrs: sel))
        XCTAssertEqual(responseCode(r), 0)
        let p = try parseCreatePrimary(r)
        XCTAssertEqual(p.handle, TPMHandle(0x8000_0000))
        XCTAssertEqual(p.name, independentName(p.publicBytes))
        var expectedPublic = Templates.rsa()
        expectedPublic.unique = p.publicArea.unique
        XCTAssertEqual(p.publicArea, expectedPublic)
        guard case .rsa(let n) = p.publicArea.unique else { return XCTFail("unique") }
        XCTAssertEqual(n.count, 256)
        XCTAssertTrue(n.buffer[0] & 0x80 != 0)

        // PCR 0 and 7 of SHA-256 (zeros after Startup at locality 0); SHA-384 is not allocated,
        // so its selection is cleared and contributes nothing.
        let pcrDigest = Array(SHA256.hash(data: [UInt8](repeating: 0, count: 64)))
        XCTAssertEqual(p.creationData.pcrDigest.buffer, pcrDigest)
        XCTAssertEqual(
            p.creationData.pcrSelect,
            TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: [0, 7]), TPMSPCRSelection(hash: .sha384, select: [0, 0, 0])]))
        XCTAssertEqual(p.creationData.locality, .zero)
        XCTAssertEqual(p.creationData.parentNameAlg, .null)
        XCTAssertEqual(p.creationData.parentName.buffer, [0x40, 0, 0, 0x0B])
        XCTAssertEqual(p.creationData.parentQualifiedName.buffer, [0x40, 0, 0, 0x0B])
        XCTAssertEqual(p.creationData.outsideInfo.buffer, [1, 2, 3])
        XCTAssertEqual(p.creationHash, Array(SHA256.hash(data: p.creationDataBytes)))
        XCTAssertEqual(p.ticket.hierarchy, .endorsement)
        let ticket = HMAC<SHA512>.authenticationCode(
            for: [0x80, 0x21] + p.name + p.creationHash, using: SymmetricKey(data: tpm.persistent.ehProof))
        XCTAssertEqual(p.ticket.digest.buffer, Array(ticket))

        let (pub, name, qn) = try readPublic(tpm, p.handle)
        XCTAssertEqual(pub, p.publicArea)
        XCTAssertEqual(name, p.name)
        XCTAssertEqual(qn, qualified([0x40, 0, 0, 0x0B], p.name))
    }

    func testCreateLoadUnsealAndQualifiedNames() throws {
        let tpm = startedTPM()
        let srk = try makePrimary(tpm, .owner, Templates.ecc(), auth: [9, 9])
        let secret = Array("the disk key".utf8)
        let r = tpm.execute(
            command: createCommand(
                parent: srk.handle, Templates.keyedHash(attributes: Templates.sealAttributes), parentAuth: [9, 9], auth: [1, 2, 3],
                data: secret, outsideInfo: [7]))
        XCTAssertEqual(responseCode(r), 0)
        let created = try parseCreate(r)
        let publicBytes = created.publicArea.wireBytes
        let name = independentName(publicBytes)
        XCTAssertEqual(created.creationData.parentNameAlg, .sha256)
        XCTAssertEqual(created.creationData.parentName.buffer, srk.name)
        XCTAssertEqual(created.creationData.parentQualifiedName.buffer, qualified([0x40, 0, 0, 1], srk.name))
        XCTAssertEqual(created.ticket.hierarchy, .owner)
        XCTAssertEqual(
            created.ticket.digest.buffer,
            Array(
                HMAC<SHA512>.authenticationCode(
                    for: [0x80, 0x21] + name + created.creationHash, using: SymmetricKey(data: tpm.persistent.shProof))))
        // The unique field of a data object: H(seedValue || data); the seed is secret, so check
        // its size and that it is not the hash of the data alone.
        guard case .keyedHash(let unique) = created.publicArea.unique else { return XCTFail("unique") }
        XCTAssertEqual(unique.count, 32)
        XCTAssertNotEqual(unique.buffer, Array(SHA256.hash(data: secret)))

        let l = tpm.execute(
            command: loadCommand(parent: srk.handle, outPrivate: created.outPrivate, publicArea: created.publicArea, parentAuth: [9, 9]))
        XCTAssertEqual(responseCode(l), 0)
        let h = responseHandle(l)
        var lp = try checkedParameters(l, hasHandle: true)
        XCTAssertEqual(try lp.sized(max: 66), name)
        XCTAssertEqual(try unseal(tpm, h, auth: [1, 2, 3]), secret)
        // Trailing zeros of an authValue do not count.
        XCTAssertEqual(try unseal(tpm, h, auth: [1, 2, 3, 0, 0]), secret)
        // Wrong password on a noDA object: TPM_RC_BAD_AUTH + S1.
        let bad = tpm.execute(command: command(.unseal, tag: .sessions, withPassword(handles: [h], password: [1, 2], params: [])))
        XCTAssertEqual(responseCode(bad), 0x9A2)
        let (_, n2, qn) = try readPublic(tpm, h)
        XCTAssertEqual(n2, name)
        XCTAssertEqual(qn, qualified(qualified([0x40, 0, 0, 1], srk.name), name))
    }

    /// A private area loads only under its parent and with its own public area; any change to
    /// it is TPM_RC_INTEGRITY + P1.
    func testPrivateAreaIsBoundToParentAndName() throws {
        let tpm = startedTPM()
        let srk = try makePrimary(tpm, .owner, Templates.ecc())
        let other = try makePrimary(tpm, .endorsement, Templates.ecc())
        let child = Templates.ecc(attributes: Templates.signingAttributes, scheme: .ecdsa(hashAlg: .sha256))
        let created = try parseCreate(tpm.execute(command: createCommand(parent: srk.handle, child)))
        XCTAssertEqual(
            responseCode(
                tpm.execute(command: loadCommand(parent: other.handle, outPrivate: created.outPrivate, publicArea: created.publicArea))),
            0x1DF)
        var otherPublic = created.publicArea
        otherPublic.objectAttributes.insert(.noDA)
        XCTAssertEqual(
            responseCode(tpm.execute(command: loadCommand(parent: srk.handle, outPrivate: created.outPrivate, publicArea: otherPublic))),
            0x1DF)
        for i in [2, 10, 40, created.outPrivate.count - 1] {
            var priv = created.outPrivate
            priv[i] ^= 1
            XCTAssertEqual(
                responseCode(tpm.execute(command: loadCommand(parent: srk.handle, outPrivate: priv, publicArea: created.publicArea))),
                0x1DF,
                "octet \(i)")
        }
        // Layout: TPM2B integrity (SHA-256 of the parent's nameAlg), TPM2B IV (16), ciphertext.
        XCTAssertEqual(Array(created.outPrivate[0..<2]), [0, 32])
        XCTAssertEqual(Array(created.outPrivate[34..<36]), [0, 16])
        let l = tpm.execute(command: loadCommand(parent: srk.handle, outPrivate: created.outPrivate, publicArea: created.publicArea))
        XCTAssertEqual(responseCode(l), 0)
        // The integrity HMAC as Part 1, 23 defines it, from the parent's seed (KDFa by hand).
        let seed = try XCTUnwrap(tpm.keyObject(srk.handle)?.sensitive?.seedValue.buffer)
        let hmacKey = testKDFa(key: seed, label: "INTEGRITY", contextU: [], bits: 256)
        let expected = HMAC<SHA256>.authenticationCode(
            for: Array(created.outPrivate[34...]) + independentName(created.publicArea.wireBytes), using: SymmetricKey(data: hmacKey))
        XCTAssertEqual(Array(created.outPrivate[2..<34]), Array(expected))
    }

    func testObjectChangeAuth() throws {
        let tpm = startedTPM()
        let srk = try makePrimary(tpm, .owner, Templates.ecc())
        let created = try parseCreate(
            tpm.execute(
                command: createCommand(parent: srk.handle, Templates.keyedHash(attributes: Templates.sealAttributes), auth: [1], data: [42])
            ))
        let h = responseHandle(
            tpm.execute(command: loadCommand(parent: srk.handle, outPrivate: created.outPrivate, publicArea: created.publicArea)))
        let r = tpm.execute(
            command: command(
                .objectChangeAuth, tag: .sessions, withPassword(handles: [h, srk.handle], password: [1], params: [0, 2, 5, 6])))
        XCTAssertEqual(responseCode(r), 0)
        var p = try checkedParameters(r, hasHandle: false)
        let newPrivate = try p.sized(max: 1024)
        // The loaded object keeps its old authValue.
        XCTAssertEqual(try unseal(tpm, h, auth: [1]), [42])
        tpm.execute(command: flushCommand(h)).check()
        let h2 = responseHandle(
            tpm.execute(command: loadCommand(parent: srk.handle, outPrivate: newPrivate, publicArea: created.publicArea)))
        XCTAssertEqual(try unseal(tpm, h2, auth: [5, 6]), [42])
        let old = tpm.execute(command: command(.unseal, tag: .sessions, withPassword(handles: [h2], password: [1], params: [])))
        XCTAssertEqual(responseCode(old), 0x9A2)
    }

    func testLoadExternalNamesAndHierarchy() throws {
        let tpm = startedTPM()
        let pub = StaticKeys.eccPublic()
        let r = tpm.execute(command: loadExternalCommand(sensitive: nil, publicArea: pub, hierarchy: .owner))
        XCTAssertEqual(responseCode(r), 0)
        let (_, name, qn) = try readPublic(tpm, responseHandle(r))
        XCTAssertEqual(name, independentName(pub.wireBytes))
        // An external object's Qualified Name is its Name (as in libtpms).
        XCTAssertEqual(qn, name)
        // A NULL nameAlg gives no Name.
        var noName = pub
        noName.nameAlg = .null
        let r2 = tpm.execute(command: loadExternalCommand(sensitive: nil, publicArea: noName))
        XCTAssertEqual(responseCode(r2), 0)
        XCTAssertEqual(try readPublic(tpm, responseHandle(r2)).1, [])
    }

    /// Key objects survive ContextSave/ContextLoad and a state export/import; saved contexts die
    /// with a TPM Reset, an stClear object's already with a TPM Restart.
    func testContextsAndStateOfKeyObjects() throws {
        let tpm = startedTPM()
        let srk = try makePrimary(tpm, .owner, Templates.ecc())
        let (sealed, _) = try makeChild(tpm, parent: srk.handle, Templates.keyedHash(attributes: Templates.sealAttributes), data: [7, 7])
        let ctx = try tpm.savedContext(sealed)
        XCTAssertEqual(ctx.savedHandle, .savedTransient)
        XCTAssertEqual(ctx.hierarchy, .owner)
        tpm.execute(command: flushCommand(sealed)).check()
        let loaded = tpm.contextLoad(ctx)
        XCTAssertEqual(responseCode(loaded), 0)
        XCTAssertEqual(try unseal(tpm, responseHandle(loaded)), [7, 7])

        let copy = try TPM(
            environment: testEnvironment(seed: 3), permanentState: tpm.exportPermanentState(), volatileState: tpm.exportVolatileState())
        XCTAssertEqual(try unseal(copy, responseHandle(loaded)), [7, 7])
        XCTAssertEqual(copy.exportVolatileState(), tpm.exportVolatileState())

        // NULL hierarchy: gone after a TPM Reset.
        let tmp = try makePrimary(tpm, .null, Templates.keyedHash(attributes: Templates.sealAttributes), data: [1])
        let tmpCtx = try tpm.savedContext(tmp.handle)
        XCTAssertEqual(tmpCtx.hierarchy, .null)
        let stc = Templates.keyedHash(attributes: Templates.sealAttributes.union(.stClear))
        tpm.execute(command: flushCommand(tmp.handle)).check()
        tpm.execute(command: flushCommand(srk.handle)).check()
        let st = try makePrimary(tpm, .owner, stc, data: [2])
        let stCtx = try tpm.savedContext(st.handle)
        XCTAssertEqual(stCtx.savedHandle, .savedTransientClear)
        tpm.shutdown(.state)
        tpm.powerOff()
        tpm.powerOn()
        XCTAssertEqual(tpm.startup(.clear), 0)  // TPM Restart
        XCTAssertEqual(responseCode(tpm.contextLoad(tmpCtx)), 0)
        XCTAssertEqual(responseCode(tpm.contextLoad(stCtx)), 0x1DF)
        XCTAssertEqual(responseCode(tpm.contextLoad(ctx)), 0)
        tpm.powerOff()
        tpm.powerOn()
        XCTAssertEqual(tpm.startup(.clear), 0)  // TPM Reset
        // No saved object context survives a TPM Reset (Part 1, 30.3).
        XCTAssertEqual(responseCode(tpm.contextLoad(tmpCtx)), 0x1DF)
        XCTAssertEqual(responseCode(tpm.contextLoad(ctx)), 0x1DF)
    }

    /// CreateLoaded under a hierarchy makes the object CreatePrimary makes; under a storage
    /// parent it returns a private area that TPM2_Load accepts.
    func testCreateLoaded() throws {
        let tpm = startedTPM()
        let template = Templates.ecc(attributes: Templates.signingAttributes, scheme: .ecdsa(hashAlg: .sha256))
        let primary = try makePrimary(tpm, .owner, template, data: [4])
        let r = tpm.execute(command: createLoadedCommand(parent: .owner, templateBytes: template.wireBytes, data: [4]))
        XCTAssertEqual(responseCode(r), 0)
        var p = try checkedParameters(r, hasHandle: true)
        XCTAssertEqual(try p.sized(max: 2048), [])
        let pub = try TPM2BPublic(from: &p, allowNull: false, support: support).publicArea
        XCTAssertEqual(pub, primary.publicArea)
        XCTAssertEqual(try p.sized(max: 66), primary.name)
        tpm.execute(command: flushCommand(responseHandle(r))).check()
        tpm.execute(command: flushCommand(primary.handle)).check()

        let srk = try makePrimary(tpm, .owner, Templates.ecc())
        let sealed = Templates.keyedHash(attributes: Templates.sealAttributes)
        let c = tpm.execute(command: createLoadedCommand(parent: srk.handle, templateBytes: sealed.wireBytes, auth: [3], data: [8, 9]))
        XCTAssertEqual(responseCode(c), 0)
        var cp = try checkedParameters(c, hasHandle: true)
        let priv = try cp.sized(max: 2048)
        let cpub = try TPM2BPublic(from: &cp, allowNull: false, support: support).publicArea
        let name = try cp.sized(max: 66)
        XCTAssertEqual(name, independentName(cpub.wireBytes))
        XCTAssertEqual(try unseal(tpm, responseHandle(c), auth: [3]), [8, 9])
        tpm.execute(command: flushCommand(responseHandle(c))).check()
        let l = tpm.execute(command: loadCommand(parent: srk.handle, outPrivate: priv, publicArea: cpub))
        XCTAssertEqual(responseCode(l), 0)
        XCTAssertEqual(try unseal(tpm, responseHandle(l), auth: [3]), [8, 9])
        let (_, _, qn) = try readPublic(tpm, responseHandle(l))
        XCTAssertEqual(qn, qualified(qualified([0x40, 0, 0, 1], srk.name), name))
    }

    /// A session salted to an ECC storage key (the salt computed here with swift-crypto's ECDH
    /// and KDFe from Part 1, 11.4.10.3) authorizes Unseal with an HMAC over the object's Name
    /// and authValue, and encrypts the unsealed data; a session salted to an RSA key does too.
    func testSaltedSessionsAuthorizeObjects() throws {
        let tpm = startedTPM()
        let srk = try makePrimary(tpm, .owner, Templates.ecc())
        let rsaSRK = try makePrimary(tpm, .owner, Templates.rsa(bits: 2048))
        let secret = Array("sealed by a salted session".utf8)
        let created = try parseCreate(
            tpm.execute(
                command: createCommand(
                    parent: srk.handle, Templates.keyedHash(attributes: Templates.sealAttributes), auth: [1, 2, 3], data: secret)))
        let sealed = responseHandle(
            tpm.execute(command: loadCommand(parent: srk.handle, outPrivate: created.outPrivate, publicArea: created.publicArea)))
        let name = independentName(created.publicArea.wireBytes)

        func start(tpmKey: TPMHandle, encryptedSalt: [UInt8], salt: [UInt8]) throws -> ClientSession {
            let nonce = [UInt8](repeating: 0x33, count: 32)
            var w = TPMWriter()
            w.u32(tpmKey.rawValue)
            w.u32(TPMHandle.null.rawValue)
            w.sized(nonce)
            w.sized(encryptedSalt)
            w.u8(0)
            w.bytes(ClientSession.Symmetric.aes(128).wire)
            w.u16(TPMAlgID.sha256.rawValue)
            let r = tpm.execute(command: command(.startAuthSession, w.bytes))
            XCTAssertEqual(responseCode(r), 0)
            var p = responseParameters(r, handle: true)
            let nonceTPM = try p.sized(max: 64)
            return ClientSession(
                handle: responseHandle(r), alg: .sha256, nonceCaller: nonce, nonceTPM: nonceTPM,
                sessionKey: Spec.kdfa(.sha256, key: salt, label: "ATH", nonceTPM, nonce, bits: 256), symmetric: .aes(128), bound: nil,
                isPolicy: false)
        }

        // ECC: Qe from swift-crypto, Z = x([e]Qs), salt = KDFe(SHA-256, Z, "SECRET", Qe.x, Qs.x).
        guard case .ecc(let qs) = srk.publicArea.unique else { return XCTFail() }
        let e = P256.KeyAgreement.PrivateKey()
        let qe = Array(e.publicKey.x963Representation)
        let z = try e.sharedSecretFromKeyAgreement(with: P256.KeyAgreement.PublicKey(x963Representation: [4] + qs.x.buffer + qs.y.buffer))
        let zx = z.withUnsafeBytes { Array($0) }
        let salt = Array(SHA256.hash(data: be32(1) + zx + Array("SECRET".utf8) + [0] + Array(qe[1..<33]) + qs.x.buffer))
        let point = TPMSECCPoint(x: TPM2BECCParameter(Array(qe[1..<33])), y: TPM2BECCParameter(Array(qe[33...]))).wireBytes
        let eccSession = try start(tpmKey: srk.handle, encryptedSalt: point, salt: salt)

        // RSA: OAEP-SHA256 with the label "SECRET\0" (TPMCrypto's encoder; the TPM decrypts).
        guard case .rsa(let n) = rsaSRK.publicArea.unique else { return XCTFail() }
        let rsaSalt = [UInt8](repeating: 0x5C, count: 32)
        var drbg = HMACDRBG(entropy: [UInt8](repeating: 9, count: 48))
        let encryptedSalt = try RSAPublicKey(modulus: n.buffer, exponent: 65537).encryptOAEP(
            hash: .sha256, label: RSAPublicKey.oaepLabel("SECRET"), rsaSalt, using: &drbg)
        let rsaSession = try start(tpmKey: rsaSRK.handle, encryptedSalt: encryptedSalt, salt: rsaSalt)

        for session in [eccSession, rsaSession] {
            let r = tpm.run(
                .unseal, handles: [sealed], names: [name], [],
                [SessionUse(session: session, attributes: 0x41, entity: Entity(sealed, auth: [1, 2, 3], name: name))])
            XCTAssertEqual(r.code, 0)
            XCTAssertEqual(r.parameters, [0, UInt8(secret.count)] + secret)
            // The wrong authValue of a noDA object: TPM_RC_BAD_AUTH + S1.
            let bad = tpm.run(
                .unseal, handles: [sealed], names: [name], [],
                [SessionUse(session: session, attributes: 0x01, entity: Entity(sealed, auth: [9], name: name))])
            XCTAssertEqual(bad.code, 0x9A2)
        }
    }

    /// Data sealed to PCR 16 with a policy (authPolicy = PolicyPCR digest computed here,
    /// userWithAuth clear): a password is refused (TPM_RC_AUTH_UNAVAILABLE), a policy session
    /// that ran PolicyPCR unseals it, and after PCR 16 changes the policy no longer matches.
    func testPolicySealedData() throws {
        let tpm = startedTPM()
        let zero = [UInt8](repeating: 0, count: 32)
        let sel = TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: [16])])
        let pcrDigest = Array(SHA256.hash(data: zero))
        let policy = Array(SHA256.hash(data: zero + [0, 0, 1, 0x7F] + sel.wireBytes + pcrDigest))
        let srk = try makePrimary(tpm, .owner, Templates.ecc())
        let template = Templates.keyedHash(attributes: [.fixedTPM, .fixedParent, .noDA], policy: policy)
        let (sealed, pub) = try makeChild(tpm, parent: srk.handle, template, data: Array("disk key".utf8))
        let name = independentName(pub.wireBytes)
        let pw = tpm.execute(command: command(.unseal, tag: .sessions, withPassword(handles: [sealed], params: [])))
        XCTAssertEqual(responseCode(pw), 0x12F)

        let s = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        XCTAssertEqual(responseCode(tpm.policy(.policyPCR, s, [0, 0] + sel.wireBytes)), 0)
        XCTAssertEqual(tpm.policyDigest(s), policy)
        let r = tpm.run(
            .unseal, handles: [sealed], names: [name], [], [SessionUse(session: s, attributes: 0x01, entity: Entity(sealed, name: name))])
        XCTAssertEqual(r.code, 0)
        XCTAssertEqual(r.parameters, [0, 8] + Array("disk key".utf8))

        var w = TPMWriter()
        TPMLDigestValues([TPMTHA(hashAlg: .sha256, digest: zero)]).encode(to: &w)
        tpm.execute(command: command(.pcrExtend, tag: .sessions, withPassword(handles: [TPMHandle(16)], params: w.bytes))).check()
        XCTAssertEqual(responseCode(tpm.policy(.policyPCR, s, [0, 0] + sel.wireBytes)), 0)
        let after = tpm.run(
            .unseal, handles: [sealed], names: [name], [], [SessionUse(session: s, attributes: 0x01, entity: Entity(sealed, name: name))])
        XCTAssertEqual(after.code, 0x99D)  // TPM_RC_POLICY_FAIL, session 1
    }

    /// The encoding of a key object decodes to the same object and refuses damage.
    func testKeyObjectEncoding() throws {
        let tpm = startedTPM()
        let srk = try makePrimary(tpm, .owner, Templates.rsa(bits: 1024))
        guard let object = tpm.transientObject(srk.handle) else { return XCTFail("not loaded") }
        let bytes = object.encoded
        guard case .key(let back)? = TransientObject(encoded: bytes) else { return XCTFail("decode") }
        XCTAssertEqual(TransientObject.key(back).encoded, bytes)
        XCTAssertEqual(back.name.buffer, srk.name)
        for i in stride(from: 0, to: bytes.count, by: 7) {
            var b = bytes
            b[i] ^= 0xFF
            if let o = TransientObject(encoded: b), case .key(let k) = o {
                // A flip inside a value the format cannot check (the modulus or prime) must still
                // give a consistent key, or be refused.
                XCTAssertNotNil(k.material.rsaPrivate, "octet \(i)")
            }
        }
        XCTAssertNil(TransientObject(encoded: Array(bytes.dropLast())))
        XCTAssertNil(TransientObject(encoded: bytes + [0]))
    }
}

/// KDFa (Part 1, 11.4.10.2) with SHA-256 or SHA-512, written from the specification with
/// swift-crypto's HMAC.
func testKDFa(key: [UInt8], label: String, contextU: [UInt8], contextV: [UInt8] = [], bits: Int, sha512: Bool = false) -> [UInt8] {
    var out: [UInt8] = []
    var i: UInt32 = 1
    while out.count * 8 < bits {
        let msg = be32(i) + Array(label.utf8) + [0] + contextU + contextV + be32(UInt32(bits))
        if sha512 {
            out += Array(HMAC<SHA512>.authenticationCode(for: msg, using: SymmetricKey(data: key)))
        } else {
            out += Array(HMAC<SHA256>.authenticationCode(for: msg, using: SymmetricKey(data: key)))
        }
        i += 1
    }
    return Array(out.prefix(bits / 8))
}
