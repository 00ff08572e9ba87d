import Crypto
import TPMCrypto
import TPMWire
import XCTest

@testable import TPMEngine

/// PolicySecret, PolicySigned, PolicyTicket and PolicyAuthorize (Part 3, 23.3-23.5, 23.16):
/// every policyDigest computed here from Part 3's formulas with swift-crypto, signatures made
/// by swift-crypto, tickets recomputed from Part 2's TPMT_TK_AUTH / TPMT_TK_VERIFIED, and error
/// codes as libtpms 0.9 answers the same commands.
final class PolicySecretSignedTests: XCTestCase {
    static let zero = [UInt8](repeating: 0, count: 32)

    func cc(_ c: TPMCC) -> [UInt8] { Spec.u32(c.rawValue) }
    func H(_ parts: [UInt8]...) -> [UInt8] { Spec.hash(.sha256, parts) }

    /// PolicySecret's parameters.
    func secretParams(nonce: [UInt8] = [], cpHash: [UInt8] = [], ref: [UInt8] = [], expiration: Int32 = 0) -> [UInt8] {
        Spec.b2(nonce) + Spec.b2(cpHash) + Spec.b2(ref) + Spec.u32(UInt32(bitPattern: expiration))
    }

    func policySecret(
        _ tpm: TPM, _ s: ClientSession, entity: TPMHandle = .endorsement, password: [UInt8] = [], _ params: [UInt8]
    ) -> [UInt8] {
        tpm.execute(
            command: command(.policySecret, tag: .sessions, withPassword(handles: [entity, s.handle], password: password, params: params)))
    }

    /// The response parameters of a successful command with a password session.
    func parameters(_ r: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> [UInt8] {
        XCTAssertEqual(responseCode(r), 0, file: file, line: line)
        guard r.count >= 14 else { return [] }
        let n = Int(Spec.u32Value(r, 10))
        return Array(r[14..<(14 + n)])
    }

    /// TPMT_TK_AUTH as Part 2, 10.7.5 defines it (the timeout's epoch and reset count are this
    /// TPM's representation, read from its state).
    func expectedAuthTicket(
        _ tpm: TPM, tag: TPMST, proof: [UInt8], timeout: UInt64, expiresOnReset: Bool, cpHash: [UInt8] = [], ref: [UInt8] = [],
        name: [UInt8]
    ) -> [UInt8] {
        var m = Spec.u16(tag.rawValue) + cpHash + ref + name + Spec.u32(UInt32(timeout >> 32)) + Spec.u32(UInt32(timeout & 0xFFFF_FFFF))
        if timeout != 0 {
            let epoch = UInt64(tpm.persistent.resetCount) << 32 | UInt64(tpm.persistent.restartCount)
            m += Spec.u32(UInt32(epoch >> 32)) + Spec.u32(UInt32(epoch & 0xFFFF_FFFF))
            if expiresOnReset { m += Spec.u32(tpm.persistent.resetCount) }
        }
        return Spec.hmac(.sha512, key: proof, m)
    }

    // MARK: PolicySecret

    func testEKPolicyIsPolicySecretEndorsement() throws {
        let tpm = startedTPM()
        let expected = H(H(Self.zero, cc(.policySecret), Spec.u32(TPMHandle.endorsement.rawValue)), [])
        // The TCG EK Credential Profile's published policy (template L-1).
        XCTAssertEqual(hex(expected), "837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa")
        for type: UInt8 in [1, 3] {
            let s = try XCTUnwrap(tpm.startSession(type: type, symmetric: .null))
            let p = parameters(policySecret(tpm, s, secretParams()))
            // No expiration: an empty timeout and a NULL TPM_ST_AUTH_SECRET ticket.
            XCTAssertEqual(p, Spec.b2([]) + Spec.u16(0x8023) + Spec.u32(TPMHandle.null.rawValue) + Spec.b2([]))
            XCTAssertEqual(tpm.policyDigest(s), expected)
            XCTAssertEqual(tpm.flush(s.handle), 0)
        }
        // With a policyRef and a SHA-384 session.
        let s = try XCTUnwrap(tpm.startSession(type: 3, alg: .sha384, symmetric: .null))
        _ = parameters(policySecret(tpm, s, secretParams(ref: [1, 2, 3])))
        let zero48 = [UInt8](repeating: 0, count: 48)
        XCTAssertEqual(
            tpm.policyDigest(s),
            Spec.hash(.sha384, Spec.hash(.sha384, zero48, cc(.policySecret), Spec.u32(TPMHandle.endorsement.rawValue)), [1, 2, 3]))
    }

    func testPolicySecretAuthorizesAndIssuesTickets() throws {
        let clock = TestClock()
        let tpm = startedTPM(clock: clock)
        let ekPolicy = H(H(Self.zero, cc(.policySecret), Spec.u32(TPMHandle.endorsement.rawValue)), [])
        tpm.persistent.owner.policyAlg = .sha256
        tpm.persistent.owner.policy = ekPolicy
        XCTAssertEqual(
            responseCode(
                tpm.execute(
                    command: command(.hierarchyChangeAuth, tag: .sessions, withPassword(handles: [.endorsement], params: Spec.b2([9]))))), 0
        )
        let s = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        // The endorsement password is checked by the dispatcher: TPM_RC_BAD_AUTH + S1.
        XCTAssertEqual(responseCode(policySecret(tpm, s, password: [8], secretParams())), 0x9A2)
        XCTAssertEqual(tpm.policyDigest(s), Self.zero, "a failed PolicySecret changes nothing")
        // Parameter checks (libtpms's codes): another nonce, a cpHash of the wrong size, a
        // deadline passed (no nonce: absolute Time; Time is 0 here, so an expiration of 0 s is
        // not "none" only when negative or positive).
        XCTAssertEqual(responseCode(policySecret(tpm, s, password: [9], secretParams(nonce: [UInt8](repeating: 0, count: 32)))), 0x1CF)
        XCTAssertEqual(responseCode(policySecret(tpm, s, password: [9], secretParams(cpHash: [UInt8](repeating: 0, count: 20)))), 0x2D5)
        clock.advance(3_000)
        XCTAssertEqual(responseCode(policySecret(tpm, s, password: [9], secretParams(expiration: -2))), 0x4E3)
        XCTAssertEqual(tpm.policyDigest(s), Self.zero)

        // A ticket: expiration -100 with the session's nonce: the deadline is 100 s after the
        // session started (Time 0), not flagged.
        let p = parameters(policySecret(tpm, s, password: [9], secretParams(nonce: s.nonceTPM, expiration: -100)))
        var r = TPMReader(p)
        let timeout = try r.sized(max: 8)
        XCTAssertEqual(timeout, [0, 0, 0, 0, 0, 1, 0x86, 0xA0])
        let ticket = try TPMTTKAuth(from: &r)
        XCTAssertTrue(r.isAtEnd)
        XCTAssertEqual(ticket.tag, .authSecret)
        XCTAssertEqual(ticket.hierarchy, .endorsement)
        let endorsementName = Spec.u32(TPMHandle.endorsement.rawValue)
        XCTAssertEqual(
            ticket.digest.buffer,
            expectedAuthTicket(
                tpm, tag: .authSecret, proof: tpm.persistent.ehProof, timeout: 100_000, expiresOnReset: false, name: endorsementName))
        XCTAssertEqual(tpm.policyDigest(s), ekPolicy)
        XCTAssertEqual(tpm.loadedSession(s.handle)?.policy?.timeout, 100_000)
        // The session authorizes owner (whose policy is the EK policy) for ClockSet.
        let clockSet = tpm.run(
            .clockSet, handles: [.owner], Spec.u32(0) + Spec.u32(0xFFFF_FFFF), [SessionUse(session: s, entity: Entity(.owner))])
        XCTAssertEqual(clockSet.code, 0)

        // PolicyTicket in another session: the same digest, and the deadline.
        let t = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        func ticketParams(
            _ timeout: [UInt8], cpHash: [UInt8] = [], ref: [UInt8] = [], name: [UInt8] = endorsementName, digest: [UInt8]? = nil
        )
            -> [UInt8]
        {
            Spec.b2(timeout) + Spec.b2(cpHash) + Spec.b2(ref) + Spec.b2(name) + Spec.u16(0x8023) + Spec.u32(TPMHandle.endorsement.rawValue)
                + Spec.b2(digest ?? ticket.digest.buffer)
        }
        XCTAssertEqual(responseCode(tpm.policy(.policyTicket, t, ticketParams(timeout, ref: [1]))), 0x5E0, "policyRef differs")
        XCTAssertEqual(responseCode(tpm.policy(.policyTicket, t, ticketParams(timeout, name: Spec.u32(TPMHandle.owner.rawValue)))), 0x5E0)
        XCTAssertEqual(responseCode(tpm.policy(.policyTicket, t, ticketParams(Array(timeout.dropFirst())))), 0x1D5)
        XCTAssertEqual(responseCode(tpm.policy(.policyTicket, t, ticketParams(timeout))), 0)
        XCTAssertEqual(tpm.policyDigest(t), ekPolicy)
        XCTAssertEqual(tpm.loadedSession(t.handle)?.policy?.timeout, 100_000)
        // Not in a trial session (TPM_RC_ATTRIBUTES + H1).
        XCTAssertEqual(tpm.flush(s.handle), 0)
        let trial = try XCTUnwrap(tpm.startSession(type: 3, symmetric: .null))
        XCTAssertEqual(responseCode(tpm.policy(.policyTicket, trial, ticketParams(timeout))), 0x182)
        // Past the deadline: TPM_RC_EXPIRED + P1, and the policy session no longer authorizes.
        clock.advance(100_000)
        _ = tpm.policy(.policyRestart, t)
        XCTAssertEqual(responseCode(tpm.policy(.policyTicket, t, ticketParams(timeout))), 0x1E3)
        // A deadline that passes between the policy command and the use: TPM_RC_EXPIRED + S1.
        XCTAssertEqual(tpm.flush(trial.handle), 0)
        XCTAssertEqual(tpm.flush(t.handle), 0)
        let w = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        XCTAssertEqual(responseCode(policySecret(tpm, w, password: [9], secretParams(nonce: w.nonceTPM, expiration: 1))), 0)
        clock.advance(1_001)
        let late = tpm.run(
            .clockSet, handles: [.owner], Spec.u32(0) + Spec.u32(0xFFFF_FFFF), [SessionUse(session: w, entity: Entity(.owner))])
        XCTAssertEqual(late.code, 0x9A3)

        // Without a nonce the deadline is absolute Time and the ticket also ends with the TPM
        // Reset: the top bit of the timeout says so.
        let u = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        let now = tpm.currentTime()
        let q = parameters(policySecret(tpm, u, password: [9], secretParams(cpHash: [UInt8](repeating: 5, count: 32), expiration: -1000)))
        var qr = TPMReader(q)
        let qt = try qr.sized(max: 8)
        let plain = 1_000_000 + now % 1000
        XCTAssertEqual(qt, Spec.u32(0x8000_0000) + Spec.u32(UInt32(plain)))
        let qticket = try TPMTTKAuth(from: &qr)
        XCTAssertEqual(
            qticket.digest.buffer,
            expectedAuthTicket(
                tpm, tag: .authSecret, proof: tpm.persistent.ehProof, timeout: plain, expiresOnReset: true,
                cpHash: [UInt8](repeating: 5, count: 32), name: endorsementName))
    }

    func testPolicySecretAuthorizedByAnHMACSession() throws {
        // authHandle's own session may be an HMAC session (bound or not): the dispatcher checks
        // its HMAC over cpHash with the entity's authValue in the key.
        let tpm = startedTPM()
        XCTAssertEqual(
            responseCode(
                tpm.execute(
                    command: command(.hierarchyChangeAuth, tag: .sessions, withPassword(handles: [.endorsement], params: Spec.b2([9]))))
            ), 0)
        let e = Entity(.endorsement, auth: [9])
        let target = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        let names = [Spec.u32(TPMHandle.endorsement.rawValue), Spec.u32(target.handle.rawValue)]
        for bind in [nil, e] {
            let h = try XCTUnwrap(tpm.startSession(type: 0, symmetric: .aes(128), bind: bind))
            _ = tpm.policy(.policyRestart, target)
            let wrong = tpm.run(
                .policySecret, handles: [.endorsement, target.handle], names: names, secretParams(),
                [SessionUse(session: h, entity: Entity(.endorsement, auth: [8]))])
            XCTAssertEqual(wrong.code, 0x9A2, "TPM_RC_BAD_AUTH + S1 (endorsement is DA-exempt)")
            let ok = tpm.run(
                .policySecret, handles: [.endorsement, target.handle], names: names, secretParams(nonce: target.nonceTPM),
                [SessionUse(session: h, entity: e)])
            XCTAssertEqual(ok.code, 0)
            XCTAssertEqual(tpm.policyDigest(target), H(H(Self.zero, cc(.policySecret), names[0]), []))
            XCTAssertEqual(tpm.flush(h.handle), 0)
        }
    }

    func testPolicySecretWithNVIndices() throws {
        // The ticket's hierarchy (libtpms): owner for an ordinary Index, platform for one with
        // PLATFORMCREATE; a PIN Pass Index earns no ticket (an empty timeout, a NULL ticket).
        let tpm = startedTPM()
        XCTAssertEqual(responseCode(tpm.execute(command: NV.define(0x0150_0010, NV.rw, size: 8, auth: [7]))), 0)
        XCTAssertEqual(
            responseCode(tpm.execute(command: NV.define(0x0150_0011, NV.rw | NV.platformCreate, size: 8, auth: [7], by: .platform))), 0)
        XCTAssertEqual(
            responseCode(
                tpm.execute(command: NV.define(0x0150_0012, NV.ownerRead | NV.ownerWrite | NV.authRead | NV.pinPass, size: 8, auth: [5]))),
            0)
        XCTAssertEqual(responseCode(tpm.execute(command: NV.write(0x0150_0012, Spec.u32(0) + Spec.u32(5)))), 0)
        let pin = NV.ownerRead | NV.ownerWrite | NV.authRead | NV.pinPass | NV.written
        for (index, attrs, password, hierarchy) in [
            (UInt32(0x0150_0010), NV.rw, [UInt8(7)], TPMHandle.owner), (0x0150_0011, NV.rw | NV.platformCreate, [7], .platform),
            (0x0150_0012, pin, [5], .null),
        ] {
            let s = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
            let p = parameters(
                policySecret(tpm, s, entity: TPMHandle(index), password: password, secretParams(nonce: s.nonceTPM, expiration: -10)))
            var r = TPMReader(p)
            let timeout = try r.sized(max: 8)
            let ticket = try TPMTTKAuth(from: &r)
            XCTAssertEqual(ticket.tag, .authSecret)
            XCTAssertEqual(ticket.hierarchy, hierarchy, "\(index)")
            XCTAssertEqual(timeout.isEmpty, hierarchy == .null)
            XCTAssertEqual(ticket.digest.buffer.isEmpty, hierarchy == .null)
            // The policy names the Index by its Name: nameAlg || H(TPMS_NV_PUBLIC) (Part 1, 16).
            let name = Spec.u16(TPMAlgID.sha256.rawValue) + H(NV.publicArea(index, attrs, size: 8))
            XCTAssertEqual(tpm.policyDigest(s), H(H(Self.zero, cc(.policySecret), name), []))
            XCTAssertEqual(tpm.flush(s.handle), 0)
        }
    }

    func testPolicySecretWithPolicySessionNeedsAuthValue() throws {
        // An entity with a policy authorized by a policy session in PolicySecret: the session
        // must have PolicyAuthValue or PolicyPassword (TPM_RC_MODE + S1, the reference's
        // CheckPolicyAuthSession).
        let tpm = startedTPM()
        let ownerPolicy = H(Self.zero, cc(.policyCommandCode), cc(.policySecret))
        tpm.persistent.owner.policyAlg = .sha256
        tpm.persistent.owner.policy = ownerPolicy
        let target = try XCTUnwrap(tpm.startSession(type: 3, symmetric: .null))
        let a = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        _ = tpm.policy(.policyCommandCode, a, cc(.policySecret))
        let r = tpm.run(
            .policySecret, handles: [.owner, target.handle], secretParams(), [SessionUse(session: a, entity: Entity(.owner))])
        XCTAssertEqual(r.code, 0x989)
        // With PolicyAuthValue the digest differs from owner's policy: TPM_RC_POLICY_FAIL.
        _ = tpm.policy(.policyAuthValue, a)
        a.authValueNeeded = true
        XCTAssertEqual(
            tpm.run(.policySecret, handles: [.owner, target.handle], secretParams(), [SessionUse(session: a, entity: Entity(.owner))]).code,
            0x99D)
        // Owner's policy with PolicyAuthValue: accepted.
        tpm.persistent.owner.policy = H(ownerPolicy, cc(.policyAuthValue))
        _ = tpm.policy(.policyRestart, a)
        _ = tpm.policy(.policyCommandCode, a, cc(.policySecret))
        _ = tpm.policy(.policyAuthValue, a)
        XCTAssertEqual(
            tpm.run(.policySecret, handles: [.owner, target.handle], secretParams(), [SessionUse(session: a, entity: Entity(.owner))]).code,
            0)
        XCTAssertEqual(tpm.policyDigest(target), H(H(Self.zero, cc(.policySecret), Spec.u32(TPMHandle.owner.rawValue)), []))
    }

    // MARK: PolicySigned

    /// A P-256 signing key of swift-crypto's, loaded (public part) in `hierarchy`.
    func loadP256(_ tpm: TPM, _ key: P256.Signing.PrivateKey, hierarchy: TPMHandle = .owner) throws -> (TPMHandle, [UInt8]) {
        let raw = Array(key.publicKey.rawRepresentation)
        var pub = Templates.ecc(attributes: [.userWithAuth, .sign], scheme: .ecdsa(hashAlg: .sha256))
        pub.unique = .ecc(TPMSECCPoint(x: TPM2BECCParameter(Array(raw[0..<32])), y: TPM2BECCParameter(Array(raw[32...]))))
        let r = tpm.execute(command: loadExternalCommand(sensitive: nil, publicArea: pub, hierarchy: hierarchy))
        XCTAssertEqual(responseCode(r), 0)
        return (TPMHandle(Spec.u32Value(r, 10)), independentName(pub.wireBytes))
    }

    /// An ECDSA-SHA256 TPMT_SIGNATURE over SHA-256(message) by swift-crypto.
    func ecdsa(_ key: P256.Signing.PrivateKey, message: [UInt8]) throws -> [UInt8] {
        let sig = try key.signature(for: message)
        let rs = Array(sig.rawRepresentation)
        return Spec.u16(TPMAlgID.ecdsa.rawValue) + Spec.u16(TPMAlgID.sha256.rawValue) + Spec.b2(Array(rs[0..<32]))
            + Spec.b2(Array(rs[32...]))
    }

    func testPolicySignedWithAnExternalKey() throws {
        let tpm = startedTPM()
        let key = P256.Signing.PrivateKey()
        let (h, name) = try loadP256(tpm, key)
        let s = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        func signed(
            _ session: ClientSession, nonce: [UInt8], cpHash: [UInt8] = [], ref: [UInt8] = [], expiration: Int32 = 0,
            signature: [UInt8]? = nil
        ) throws -> [UInt8] {
            // aHash = H(nonceTPM || expiration || cpHashA || policyRef), signed.
            let sig = try signature ?? ecdsa(key, message: nonce + Spec.u32(UInt32(bitPattern: expiration)) + cpHash + ref)
            let params = Spec.b2(nonce) + Spec.b2(cpHash) + Spec.b2(ref) + Spec.u32(UInt32(bitPattern: expiration)) + sig
            return tpm.execute(command: command(.policySigned, Spec.u32(h.rawValue) + Spec.u32(session.handle.rawValue) + params))
        }
        // A signature over something else: TPM_RC_SIGNATURE + P5.
        let other = try ecdsa(key, message: [1])
        XCTAssertEqual(responseCode(try signed(s, nonce: s.nonceTPM, signature: other)), 0x5DB)
        XCTAssertEqual(responseCode(try signed(s, nonce: [UInt8](repeating: 1, count: 32))), 0x1CF)
        // An HMAC signature for an ECC key: TPM_RC_SCHEME + P5.
        let hmacSig = Spec.u16(TPMAlgID.hmac.rawValue) + Spec.u16(TPMAlgID.sha256.rawValue) + Self.zero
        XCTAssertEqual(responseCode(try signed(s, nonce: s.nonceTPM, signature: hmacSig)), 0x5D2)
        XCTAssertEqual(tpm.policyDigest(s), Self.zero)
        let ref: [UInt8] = [0xAA, 0xBB]
        let r = try signed(s, nonce: s.nonceTPM, ref: ref, expiration: -60)
        XCTAssertEqual(responseCode(r), 0)
        let expected = H(H(Self.zero, cc(.policySigned), name), ref)
        XCTAssertEqual(tpm.policyDigest(s), expected)
        // The ticket: TPM_ST_AUTH_SIGNED in the key's hierarchy (owner), 60 s after the start.
        var rr = TPMReader(Array(r[10...]))
        XCTAssertEqual(try rr.sized(max: 8), Spec.u32(0) + Spec.u32(60_000))
        let ticket = try TPMTTKAuth(from: &rr)
        XCTAssertEqual(ticket.tag, .authSigned)
        XCTAssertEqual(ticket.hierarchy, .owner)
        XCTAssertEqual(
            ticket.digest.buffer,
            expectedAuthTicket(
                tpm, tag: .authSigned, proof: tpm.persistent.shProof, timeout: 60_000, expiresOnReset: false, ref: ref, name: name))
        // PolicyTicket with it: the PolicySigned digest.
        let t = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        let tp =
            Spec.b2(Spec.u32(0) + Spec.u32(60_000)) + Spec.b2([]) + Spec.b2(ref) + Spec.b2(name) + Spec.u16(0x8025)
            + Spec.u32(TPMHandle.owner.rawValue) + Spec.b2(ticket.digest.buffer)
        XCTAssertEqual(responseCode(tpm.policy(.policyTicket, t, tp)), 0)
        XCTAssertEqual(tpm.policyDigest(t), expected)
        // A trial session checks no signature at all and returns a NULL ticket.
        XCTAssertEqual(tpm.flush(s.handle), 0)
        let trial = try XCTUnwrap(tpm.startSession(type: 3, symmetric: .null))
        let tr = try signed(trial, nonce: [], ref: ref, expiration: -60, signature: other)
        XCTAssertEqual(responseCode(tr), 0)
        XCTAssertEqual(Array(tr[10...]), Spec.b2([]) + Spec.u16(0x8025) + Spec.u32(TPMHandle.null.rawValue) + Spec.b2([]))
        XCTAssertEqual(tpm.policyDigest(trial), expected)
        // A key without `sign`: its signature does not verify, TPM_RC_SIGNATURE + P5 (libtpms
        // checks no attribute here either).
        let dec = try makePrimary(tpm, .owner, Templates.ecc())
        XCTAssertEqual(tpm.flush(t.handle), 0)
        let u = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        let params = Spec.b2([]) + Spec.b2([]) + Spec.b2([]) + Spec.u32(0) + other
        XCTAssertEqual(
            responseCode(
                tpm.execute(command: command(.policySigned, Spec.u32(dec.handle.rawValue) + Spec.u32(u.handle.rawValue) + params))), 0x5DB)
    }

    // MARK: PolicyAuthorize

    func testPolicyAuthorizeWithAVerifiedTicket() throws {
        let tpm = startedTPM()
        let key = P256.Signing.PrivateKey()
        let (h, name) = try loadP256(tpm, key)
        let ref: [UInt8] = [7, 7]
        // The approved policy: PolicyCommandCode(GetRandom)... any digest; here PolicyAuthValue.
        let approved = H(Self.zero, cc(.policyAuthValue))
        let aHash = H(approved, ref)
        var vw = TPMWriter()
        vw.u32(h.rawValue)
        vw.sized(aHash)
        vw.bytes(try ecdsa(key, message: approved + ref))
        let v = tpm.execute(command: command(.verifySignature, vw.bytes))
        XCTAssertEqual(responseCode(v), 0)
        var vr = TPMReader(Array(v[10...]))
        let verified = try TPMTTKVerified(from: &vr)
        // TPMT_TK_VERIFIED = HMAC(proof(owner), TPM_ST_VERIFIED || aHash || keyName).
        XCTAssertEqual(verified.hierarchy, .owner)
        XCTAssertEqual(verified.digest.buffer, Spec.hmac(.sha512, key: tpm.persistent.shProof, Spec.u16(0x8022) + aHash + name))
        let authorized = H(H(Self.zero, cc(.policyAuthorize), name), ref)
        func authorize(_ s: ClientSession, approved: [UInt8], ref: [UInt8], keySign: [UInt8], ticket: TPMTTKVerified) -> UInt32 {
            var w = TPMWriter()
            w.sized(approved)
            w.sized(ref)
            w.sized(keySign)
            ticket.encode(to: &w)
            return responseCode(tpm.policy(.policyAuthorize, s, w.bytes))
        }
        let s = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        XCTAssertEqual(authorize(s, approved: approved, ref: ref, keySign: name, ticket: verified), 0x1C4, "policy is still zeros")
        _ = tpm.policy(.policyAuthValue, s)
        XCTAssertEqual(authorize(s, approved: approved, ref: [7], keySign: name, ticket: verified), 0x4C4)
        XCTAssertEqual(authorize(s, approved: approved, ref: ref, keySign: [], ticket: verified), 0x3C3)
        XCTAssertEqual(authorize(s, approved: approved, ref: ref, keySign: Array(name.dropLast()), ticket: verified), 0x3D5)
        XCTAssertEqual(authorize(s, approved: approved, ref: ref, keySign: name, ticket: .null), 0x4C4)
        XCTAssertEqual(tpm.policyDigest(s), approved, "failures change nothing")
        XCTAssertEqual(authorize(s, approved: approved, ref: ref, keySign: name, ticket: verified), 0)
        XCTAssertEqual(tpm.policyDigest(s), authorized)
        // Trial: no checks; libtpms gives fe1a87... for this keySign and no policyRef.
        let t = try XCTUnwrap(tpm.startSession(type: 3, symmetric: .null))
        let fakeName = Spec.u16(0x000B) + Self.zero
        XCTAssertEqual(authorize(t, approved: [], ref: [], keySign: fakeName, ticket: .null), 0)
        XCTAssertEqual(tpm.policyDigest(t), H(H(Self.zero, cc(.policyAuthorize), fakeName), []))
        XCTAssertEqual(hex(tpm.policyDigest(t)), "fe1a8753ae004faf995d88ce624e0d6c85db90b04f440b319cb00bc0db5fd64a")
    }

    func testSetPrimaryPolicy() throws {
        let tpm = startedTPM()
        func set(_ h: TPMHandle, _ policy: [UInt8], _ alg: TPMAlgID) -> UInt32 {
            responseCode(
                tpm.execute(
                    command: command(
                        .setPrimaryPolicy, tag: .sessions, withPassword(handles: [h], params: Spec.b2(policy) + Spec.u16(alg.rawValue)))))
        }
        // libtpms: the size against hashAlg (TPM_RC_SIZE + P1), TPM_RH_NULL is no
        // TPMI_RH_HIERARCHY_POLICY (TPM_RC_VALUE + H1).
        XCTAssertEqual(set(.owner, [UInt8](repeating: 0, count: 20), .sha256), 0x1D5)
        XCTAssertEqual(set(.owner, [UInt8](repeating: 0, count: 32), .null), 0x1D5)
        XCTAssertEqual(set(.null, [], .null), 0x184)
        // The EK policy on owner; a PolicySecret(endorsement) session then authorizes owner.
        let ekPolicy = H(H(Self.zero, cc(.policySecret), Spec.u32(TPMHandle.endorsement.rawValue)), [])
        XCTAssertEqual(set(.owner, ekPolicy, .sha256), 0)
        XCTAssertEqual(tpm.persistent.owner, EntityAuth(authValue: [], policyAlg: .sha256, policy: ekPolicy))
        let s = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        _ = parameters(policySecret(tpm, s, secretParams()))
        XCTAssertEqual(
            tpm.run(.clockSet, handles: [.owner], Spec.u32(0) + Spec.u32(0xFFFF_FFFF), [SessionUse(session: s, entity: Entity(.owner))])
                .code,
            0)
        // Platform (STATE_CLEAR) and removal with NULL.
        XCTAssertEqual(set(.platform, ekPolicy, .sha256), 0)
        XCTAssertEqual(tpm.volatile.platform.policy, ekPolicy)
        XCTAssertEqual(set(.owner, [], .null), 0)
        XCTAssertEqual(tpm.persistent.owner, EntityAuth())
        XCTAssertEqual(TPM.commandIndex[.setPrimaryPolicy]?.attributes.rawValue, 0x0240_012E)
    }

    func testNewCommandsAreInTheTable() {
        for c: TPMCC in [.policySecret, .policySigned, .policyTicket, .policyAuthorize] {
            XCTAssertNotNil(TPM.commandIndex[c], "\(c)")
        }
        // TPMA_CC as libtpms reports them.
        XCTAssertEqual(TPM.commandIndex[.policySecret]?.attributes.rawValue, 0x0400_0151)
        XCTAssertEqual(TPM.commandIndex[.policySigned]?.attributes.rawValue, 0x0400_0160)
        XCTAssertEqual(TPM.commandIndex[.policyTicket]?.attributes.rawValue, 0x0200_0172)
        XCTAssertEqual(TPM.commandIndex[.policyAuthorize]?.attributes.rawValue, 0x0200_016A)
    }
}

/// Hostile input to the commands of this branch: random parameter areas (and random handles)
/// never trap and always get a well-formed answer.
final class PolicyAuditHostileTests: XCTestCase {
    func testRandomParametersGetWellFormedAnswers() throws {
        let codes: [TPMCC] = [
            .policySecret, .policySigned, .policyTicket, .policyAuthorize, .pcrSetAuthValue, .pcrSetAuthPolicy,
            .setCommandCodeAuditStatus, .getCommandAuditDigest, .getSessionAuditDigest, .setPrimaryPolicy,
        ]
        // A fixed seed: a failure reproduces.
        var rng = SplitMix64(seed: 0x7654_504D)
        let tpm = startedTPM()
        let s = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        let h = try XCTUnwrap(tpm.startSession(type: 0, symmetric: .null))
        let handles: [UInt32] = [
            s.handle.rawValue, h.handle.rawValue, 0x4000_0001, 0x4000_000B, 0x4000_000C, 0x4000_0007, 20, 0, 0x8000_0000,
        ]
        for i in 0..<20000 {
            let cc = codes[i % codes.count]
            let n = TPM.commandIndex[cc]?.handles.count ?? 0
            var body: [UInt8] = []
            for _ in 0..<n { body += Spec.u32(handles.randomElement(using: &rng) ?? 0) }
            var params = (0..<Int.random(in: 0..<80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Small sizes now and then, so decoding gets past the first fields.
            if params.count > 4 && Bool.random(using: &rng) { params[0] = 0 }
            let auth = n > 0 && Bool.random(using: &rng)
            let cmd =
                auth
                ? command(cc, tag: .sessions, withPassword(handles: [], params: params)).prefix(10) + body
                    + Array(command(cc, tag: .sessions, withPassword(handles: [], params: params)).dropFirst(10))
                : command(cc, body + params)
            var full = Array(cmd)
            full.replaceSubrange(2..<6, with: Spec.u32(UInt32(full.count)))
            let r = tpm.execute(command: full)
            XCTAssertGreaterThanOrEqual(r.count, 10)
            XCTAssertEqual(Int(Spec.u32Value(r, 2)), r.count)
            if responseCode(r) != 0 { XCTAssertEqual(r.count, 10) }
        }
    }
}

/// SplitMix64: a small seeded generator for reproducible hostile inputs.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
