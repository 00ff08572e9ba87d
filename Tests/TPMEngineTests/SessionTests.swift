import TPMWire
import XCTest

@testable import TPMEngine

/// Authorization sessions (Part 1, 19-21; Part 3, 11): session creation, HMAC authorization,
/// parameter encryption, audit, session contexts and slots. Response codes marked "libtpms"
/// are what swtpm 0.7 / libtpms 0.9 answered to the same command; HMACs and ciphers are
/// computed by SessionTestSupport.swift, independently of the engine.
final class SessionTests: XCTestCase {
    let owner = Entity(.owner)

    func startBody(
        tpmKey: UInt32 = 0x4000_0007, bind: UInt32 = 0x4000_0007, nonce: [UInt8] = [UInt8](repeating: 0x11, count: 16), salt: [UInt8] = [],
        type: UInt8 = 0, symmetric: [UInt8] = Spec.u16(0x10), alg: UInt16 = 0x000B
    ) -> [UInt8] {
        Spec.u32(tpmKey) + Spec.u32(bind) + Spec.b2(nonce) + Spec.b2(salt) + [type] + symmetric + Spec.u16(alg)
    }

    func start(_ tpm: TPM, _ body: [UInt8]) -> UInt32 { responseCode(tpm.execute(command: command(.startAuthSession, body))) }

    /// HierarchyChangeAuth(owner) with the given sessions.
    func changeOwnerAuth(_ tpm: TPM, _ newAuth: [UInt8], _ uses: [SessionUse], file: StaticString = #filePath, line: UInt = #line) -> UInt32
    {
        tpm.run(.hierarchyChangeAuth, handles: [.owner], Spec.b2(newAuth), uses, responseAuth: newAuth, file: file, line: line).code
    }

    /// Owner auth by password (checks what a decrypted newAuth became).
    func ownerAuthIs(_ tpm: TPM, _ auth: [UInt8]) -> Bool {
        responseCode(
            tpm.execute(
                command: command(
                    .hierarchyChangeAuth, tag: .sessions, withPassword(handles: [.owner], password: auth, params: Spec.b2(auth))))) == 0
    }

    // MARK: StartAuthSession

    func testStartAuthSessionErrorsAsLibtpms() {
        let tpm = startedTPM()
        let seq = responseHandle(tpm.startSequence(alg: .sha256)).rawValue
        let cases: [(String, [UInt8], UInt32)] = [
            ("nonce of 15", startBody(nonce: [UInt8](repeating: 1, count: 15)), 0x1D5),
            ("nonce of 33 with SHA-256", startBody(nonce: [UInt8](repeating: 1, count: 33)), 0x1D5),
            ("nonce of 21 with SHA-1", startBody(nonce: [UInt8](repeating: 1, count: 21), alg: 0x0004), 0x1D5),
            ("nonce of 65", startBody(nonce: [UInt8](repeating: 1, count: 65)), 0x1D5),
            ("salt without tpmKey", startBody(salt: [1]), 0x2C4),
            ("session type 2", startBody(type: 2), 0x3C4),
            ("session type 4", startBody(type: 4), 0x3C4),
            ("symmetric HMAC", startBody(symmetric: Spec.u16(0x05)), 0x4D6),
            ("symmetric SHA-256", startBody(symmetric: Spec.u16(0x0B)), 0x4D6),
            ("AES-100", startBody(symmetric: Spec.u16(6) + Spec.u16(100) + Spec.u16(0x43)), 0x4C4),
            ("AES CBC", startBody(symmetric: Spec.u16(6) + Spec.u16(128) + Spec.u16(0x42)), 0x4C9),
            ("AES mode NULL", startBody(symmetric: Spec.u16(6) + Spec.u16(128) + Spec.u16(0x10)), 0x4C9),
            ("AES mode RSA", startBody(symmetric: Spec.u16(6) + Spec.u16(128) + Spec.u16(0x01)), 0x4C9),
            ("XOR with NULL", startBody(symmetric: Spec.u16(0x0A) + Spec.u16(0x10)), 0x4C3),
            ("XOR with RSA", startBody(symmetric: Spec.u16(0x0A) + Spec.u16(0x01)), 0x4C3),
            ("authHash NULL", startBody(alg: 0x10), 0x5C3),
            ("authHash SM3", startBody(alg: 0x12), 0x5C3),
            ("tpmKey not loaded", startBody(tpmKey: 0x8000_0001), 0x910),
            ("tpmKey beyond the slots", startBody(tpmKey: 0x8000_0005), 0x184),
            ("tpmKey owner", startBody(tpmKey: 0x4000_0001), 0x184),
            ("tpmKey persistent", startBody(tpmKey: 0x8100_0000), 0x18B),
            ("tpmKey a sequence object", startBody(tpmKey: seq), 0x19C),
            ("tpmKey a sequence object, with salt", startBody(tpmKey: seq, salt: [1]), 0x19C),
            ("bind not loaded", startBody(bind: 0x8000_0001), 0x911),
            ("bind AUTH_00", startBody(bind: 0x4000_0010), 0x284),
            ("bind NV Index", startBody(bind: 0x0100_0000), 0x28B),
            ("bind persistent", startBody(bind: 0x8100_0000), 0x28B),
            ("bind TPM_RH_REVOKE", startBody(bind: 0x4000_0002), 0x284),
            ("bind PCR 24", startBody(bind: 24), 0x284),
            ("bind a session", startBody(bind: 0x0200_0000), 0x284),
            ("trailing octet", startBody() + [0], 0x095),
            ("short", Array(startBody().dropLast()), 0x5DA),
        ]
        for (name, body, code) in cases {
            XCTAssertEqual(start(tpm, body), code, name)
        }
        XCTAssertEqual(tpm.activeSessionCount, 0)
        // A password session has nothing to authorize here (libtpms: TPM_RC_HANDLE + S1).
        let body =
            Spec.u32(0x4000_0007) + Spec.u32(0x4000_0007) + Spec.u32(9) + [0x40, 0, 0, 9, 0, 0, 1, 0, 0] + Array(startBody().dropFirst(8))
        XCTAssertEqual(responseCode(tpm.execute(command: command(.startAuthSession, tag: .sessions, body))), 0x98B)
        // Bound to a sequence object: allowed.
        XCTAssertEqual(start(tpm, startBody(bind: seq)), 0)
    }

    func testSessionHandlesNoncesAndKinds() throws {
        let tpm = startedTPM()
        let r = tpm.execute(command: command(.startAuthSession, startBody(nonce: [UInt8](repeating: 7, count: 20), type: 1)))
        XCTAssertEqual(responseCode(r), 0)
        // Handle 0x03000000 (a policy session in slot 0), nonceTPM as long as nonceCaller.
        XCTAssertEqual(Array(r[10..<16]), [3, 0, 0, 0, 0, 20])
        XCTAssertEqual(r.count, 16 + 20)
        let s = try XCTUnwrap(tpm.loadedSession(TPMHandle(0x0300_0000)))
        XCTAssertEqual(s.type, .policy)
        XCTAssertEqual(s.sessionKey, [], "unbound and unsalted: no session key")
        XCTAssertEqual(s.policy?.digest, [UInt8](repeating: 0, count: 32))
        XCTAssertEqual(start(tpm, startBody(type: 3)), 0)
        XCTAssertEqual(tpm.loadedSession(TPMHandle(0x0300_0001))?.type, .trial)
        XCTAssertEqual(start(tpm, startBody()), 0)
        XCTAssertEqual(tpm.loadedSession(TPMHandle(0x0200_0002))?.type, .hmac)
    }

    // MARK: HMAC authorization and parameter encryption

    func testHMACAuthorizationWithEveryHashAndCipher() throws {
        let tpm = startedTPM()
        var auth: [UInt8] = []
        for alg in [TPMAlgID.sha1, .sha256, .sha384, .sha512] {
            for sym in [ClientSession.Symmetric.aes(128), .aes(192), .aes(256), .xor(alg), .xor(.sha1)] {
                let s = try XCTUnwrap(tpm.startSession(alg: alg, symmetric: sym))
                let next = Array("auth \(alg) \(sym)".utf8.prefix(32))
                // Authorizes owner and decrypts the new authValue.
                XCTAssertEqual(
                    changeOwnerAuth(tpm, next, [SessionUse(session: s, attributes: 0x21, entity: Entity(.owner, auth: auth))]), 0)
                XCTAssertTrue(ownerAuthIs(tpm, next), "\(alg) \(sym)")
                auth = next
                XCTAssertEqual(tpm.flush(s.handle), 0)
            }
        }
    }

    func testWrongHMACIsBadAuthAndLeavesTheSessionUsable() throws {
        let tpm = startedTPM()
        let s = try XCTUnwrap(tpm.startSession())
        XCTAssertEqual(changeOwnerAuth(tpm, Array("owner".utf8), [SessionUse(session: s, entity: owner)]), 0)
        let o = Entity(.owner, auth: Array("owner".utf8))
        // libtpms: a wrong, empty or over-long HMAC for a hierarchy is TPM_RC_BAD_AUTH + S1.
        for mac in [[UInt8](repeating: 0, count: 32), [], [UInt8](repeating: 0, count: 33)] {
            XCTAssertEqual(changeOwnerAuth(tpm, [], [SessionUse(session: s, entity: o, hmac: mac)]), 0x9A2)
        }
        // The nonce did not roll: the right HMAC still works.
        XCTAssertEqual(changeOwnerAuth(tpm, Array("owner".utf8), [SessionUse(session: s, entity: o)]), 0)
        XCTAssertEqual(tpm.persistent.da.failedTries, 0, "hierarchies are exempt from dictionary-attack counting")
    }

    func testBoundSessionLeavesTheAuthValueOutOnlyForItsEntity() throws {
        let tpm = startedTPM()
        XCTAssertEqual(changeOwnerAuth(tpm, Array("owner".utf8), [SessionUse(session: nil, entity: owner)]), 0)
        let o = Entity(.owner, auth: Array("owner".utf8))
        let b = try XCTUnwrap(tpm.startSession(symmetric: .aes(256), bind: o))
        XCTAssertEqual(tpm.loadedSession(b.handle)?.sessionKey.count, 32)
        // For owner (the bind entity): HMAC key is the session key alone (checked by the
        // caller's arithmetic, which leaves the authValue out for the bound entity).
        XCTAssertEqual(changeOwnerAuth(tpm, Array("owner".utf8), [SessionUse(session: b, attributes: 0x21, entity: o)]), 0)
        // For endorsement: session key and endorsement's authValue.
        XCTAssertEqual(
            tpm.run(.hierarchyChangeAuth, handles: [.endorsement], Spec.b2([]), [SessionUse(session: b, entity: Entity(.endorsement))])
                .code, 0)
        // The response to a change of owner's authValue uses the new value (as libtpms and ESAPI).
        XCTAssertEqual(changeOwnerAuth(tpm, Array("new".utf8), [SessionUse(session: b, attributes: 0x21, entity: o)]), 0)
        // The binding was to the old authValue: now the new one goes into the HMAC key.
        b.bound = nil
        XCTAssertEqual(
            changeOwnerAuth(tpm, Array("new".utf8), [SessionUse(session: b, entity: Entity(.owner, auth: Array("new".utf8)))]), 0)
    }

    func testDecryptAndEncryptSessionNoncesEnterTheAuthorizingHMAC() throws {
        let tpm = startedTPM()
        let seq = responseHandle(tpm.startSequence(auth: Array("seq".utf8), alg: .sha256))
        let a = try XCTUnwrap(tpm.startSession(symmetric: .null))
        let d = try XCTUnwrap(tpm.startSession(alg: .sha1, symmetric: .xor(.sha256)))
        let e = try XCTUnwrap(tpm.startSession(alg: .sha384, symmetric: .aes(256)))
        let entity = Entity(seq, auth: Array("seq".utf8), name: [])
        let u = tpm.run(
            .sequenceUpdate, handles: [seq], names: [[]], Spec.b2(Array("first ".utf8)),
            [SessionUse(session: a, entity: entity), SessionUse(session: d, attributes: 0x21)])
        XCTAssertEqual(u.code, 0)
        let r = tpm.run(
            .sequenceComplete, handles: [seq], names: [[]], Spec.b2(Array("second".utf8)) + Spec.u32(0x4000_0007),
            [SessionUse(session: a, entity: entity), SessionUse(session: d, attributes: 0x21), SessionUse(session: e, attributes: 0x41)])
        XCTAssertEqual(r.code, 0)
        XCTAssertEqual(Array(r.parameters.prefix(34)), Spec.b2(Spec.hash(.sha256, Array("first second".utf8))))
    }

    func testEncryptOnlySessionsOnGetRandomAndHash() throws {
        let tpm = startedTPM()
        let s = try XCTUnwrap(tpm.startSession(symmetric: .aes(128), bind: owner))
        let r = tpm.run(
            .hash, Spec.b2(Array("hello world".utf8)) + Spec.u16(0x0B) + Spec.u32(0x4000_0007), [SessionUse(session: s, attributes: 0x61)])
        XCTAssertEqual(r.code, 0)
        XCTAssertEqual(Array(r.parameters.prefix(34)), Spec.b2(Spec.hash(.sha256, Array("hello world".utf8))))
        let g = tpm.run(.getRandom, Spec.u16(16), [SessionUse(session: s, attributes: 0x41)])
        XCTAssertEqual(g.code, 0)
        XCTAssertEqual(g.parameters.count, 18)
        // Policy sessions may encrypt too.
        let p = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .xor(.sha512)))
        XCTAssertEqual(tpm.run(.getRandom, Spec.u16(8), [SessionUse(session: p, attributes: 0x41)]).code, 0)
    }

    func testSessionAttributeErrorsAsLibtpms() throws {
        let tpm = startedTPM()
        let s = try XCTUnwrap(tpm.startSession())
        let e = try XCTUnwrap(tpm.startSession(symmetric: .aes(128), bind: owner))
        let n = try XCTUnwrap(tpm.startSession(symmetric: .null))
        let hashParams = Spec.b2([1]) + Spec.u16(0x0B) + Spec.u32(0x4000_0007)
        XCTAssertEqual(tpm.run(.hash, hashParams, [SessionUse(session: n, attributes: 0x21)]).code, 0x996, "decrypt with NULL")
        XCTAssertEqual(tpm.run(.hash, hashParams, [SessionUse(session: n, attributes: 0x41)]).code, 0x996, "encrypt with NULL")
        XCTAssertEqual(
            tpm.run(
                .hierarchyChangeAuth, handles: [.owner], Spec.b2([]),
                [SessionUse(session: s, entity: owner), SessionUse(session: e, attributes: 0x40)]
            ).code,
            0xA82, "encrypt on a command without an encryptable response")
        XCTAssertEqual(
            tpm.run(
                .pcrExtend, handles: [TPMHandle(16)], Spec.u32(0),
                [SessionUse(session: s, entity: Entity(TPMHandle(16))), SessionUse(session: e, attributes: 0x20)]
            )
            .code, 0xA82, "decrypt on a command whose first parameter is not a TPM2B")
        XCTAssertEqual(
            tpm.run(
                .hierarchyChangeAuth, handles: [.owner], Spec.b2([]),
                [SessionUse(session: s, attributes: 0x21, entity: owner), SessionUse(session: e, attributes: 0x20)]
            ).code, 0xA82, "two decrypt sessions")
        XCTAssertEqual(
            tpm.run(.getRandom, Spec.u16(8), [SessionUse(session: e, attributes: 0x41), SessionUse(session: s, attributes: 0x40)]).code,
            0xA82)
        XCTAssertEqual(
            tpm.run(.getRandom, Spec.u16(8), [SessionUse(session: e, attributes: 0x81), SessionUse(session: s, attributes: 0x80)]).code,
            0xA82)
        XCTAssertEqual(
            tpm.run(
                .hierarchyChangeAuth, handles: [.owner], Spec.b2([]),
                [SessionUse(session: s, entity: owner), SessionUse(session: s, attributes: 0x20)]
            ).code,
            0xA8B, "the same session twice")
        let wrongType = ClientSession(
            handle: TPMHandle(s.handle.rawValue + 0x0100_0000), alg: .sha256, nonceCaller: s.nonceCaller, nonceTPM: s.nonceTPM,
            sessionKey: [],
            symmetric: .null, bound: nil, isPolicy: false)
        XCTAssertEqual(
            changeOwnerAuth(tpm, [], [SessionUse(session: wrongType, entity: owner)]), 0x98B, "an HMAC session named as a policy session")
        XCTAssertEqual(
            tpm.run(.getRandom, Spec.u16(8), [SessionUse(session: e, attributes: 0x01)]).code, 0x982, "a session that does nothing")
        // Commands that take no sessions: TPM_RC_AUTH_CONTEXT.
        let pw: [UInt8] = [0x40, 0, 0, 9, 0, 0, 1, 0, 0]
        XCTAssertEqual(
            responseCode(tpm.execute(command: command(.contextSave, tag: .sessions, Spec.u32(e.handle.rawValue) + Spec.u32(9) + pw))), 0x145
        )
        XCTAssertEqual(
            responseCode(tpm.execute(command: command(.flushContext, tag: .sessions, Spec.u32(9) + pw + Spec.u32(e.handle.rawValue)))),
            0x145)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.contextLoad, tag: .sessions, Spec.u32(9) + pw))), 0x145)
        // A trial session cannot be used in an authorization area (libtpms checks the
        // symmetric algorithm first: this one has AES, so TPM_RC_ATTRIBUTES + S1).
        XCTAssertEqual(tpm.flush(n.handle), 0)
        let t = try XCTUnwrap(tpm.startSession(type: 3))
        XCTAssertEqual(tpm.run(.getRandom, Spec.u16(8), [SessionUse(session: t, attributes: 0x41)]).code, 0x982)
        XCTAssertEqual(tpm.flush(t.handle), 0)
        // A policy session cannot audit.
        let p = try XCTUnwrap(tpm.startSession(type: 1))
        XCTAssertEqual(tpm.run(.getRandom, Spec.u16(8), [SessionUse(session: p, attributes: 0x81)]).code, 0x982)
        // A policy session for an entity without a policy: TPM_RC_AUTH_UNAVAILABLE.
        XCTAssertEqual(changeOwnerAuth(tpm, [], [SessionUse(session: p, entity: owner)]), 0x12F)
    }

    func testDecryptSizeField() throws {
        let tpm = startedTPM()
        let s = try XCTUnwrap(tpm.startSession())
        func hash(_ p: [UInt8]) -> UInt32 { tpm.run(.hash, p, [SessionUse(session: s, attributes: 0x21)]).code }
        // libtpms: a size running into the next parameter decrypts it too (the hash algorithm
        // becomes garbage: TPM_RC_HASH + P2), one running past the end is TPM_RC_SIZE for the
        // session, a missing size field TPM_RC_INSUFFICIENT for the session.
        XCTAssertEqual(hash(Spec.u16(3) + Array("abc".utf8) + Spec.u16(0x0B) + Spec.u32(0x4000_0007)), 0)
        XCTAssertEqual(hash(Spec.u16(4) + Array("abc".utf8) + Spec.u16(0x0B) + Spec.u32(0x4000_0007)), 0x2C3)
        XCTAssertEqual(hash(Spec.u16(9) + Array("abc".utf8) + Spec.u16(0x0B) + Spec.u32(0x4000_0007)), 0x2DA)
        XCTAssertEqual(hash(Spec.u16(10) + Array("abc".utf8) + Spec.u16(0x0B) + Spec.u32(0x4000_0007)), 0x995)
        XCTAssertEqual(hash(Spec.u16(103) + Array("abc".utf8) + Spec.u16(0x0B) + Spec.u32(0x4000_0007)), 0x995)
        XCTAssertEqual(hash([]), 0x99A)
        XCTAssertEqual(hash([0]), 0x99A)
        XCTAssertEqual(hash([0, 0]), 0x2DA)
    }

    func testContinueSessionClearFlushesAfterSuccessOnly() throws {
        let tpm = startedTPM()
        let s = try XCTUnwrap(tpm.startSession())
        XCTAssertEqual(changeOwnerAuth(tpm, [], [SessionUse(session: s, attributes: 0, entity: owner, hmac: [1])]), 0x9A2)
        XCTAssertNotNil(tpm.loadedSession(s.handle), "a failed command keeps the session")
        let r = tpm.run(.hierarchyChangeAuth, handles: [.owner], Spec.b2([]), [SessionUse(session: s, attributes: 0, entity: owner)])
        XCTAssertEqual(r.code, 0)
        XCTAssertEqual(r.attributes, [0])
        XCTAssertNil(tpm.loadedSession(s.handle))
        XCTAssertEqual(tpm.flush(s.handle), 0x1CB)
    }

    // MARK: audit (Part 1, 32.4)

    func testSessionAuditDigestAndExclusivity() throws {
        let tpm = startedTPM()
        let s = try XCTUnwrap(tpm.startSession(alg: .sha384, bind: owner))
        var digest = [UInt8](repeating: 0, count: 48)
        func audited(_ attrs: UInt8, _ count: UInt16) -> SessionResponse {
            let r = tpm.run(.getRandom, Spec.u16(count), [SessionUse(session: s, attributes: attrs)])
            if r.code == 0 {
                let cp = Spec.hash(.sha384, Spec.u32(TPMCC.getRandom.rawValue), Spec.u16(count))
                let rp = Spec.hash(.sha384, Spec.u32(0), Spec.u32(TPMCC.getRandom.rawValue), r.parameters)
                if attrs & 0x04 != 0 { digest = [UInt8](repeating: 0, count: 48) }
                digest = Spec.hash(.sha384, digest, cp, rp)
            }
            return r
        }
        // libtpms: the first audited command makes the session exclusive (0x83 back).
        XCTAssertEqual(audited(0x81, 8).attributes, [0x83])
        XCTAssertEqual(audited(0x83, 9).attributes, [0x83])
        XCTAssertEqual(tpm.loadedSession(s.handle)?.auditDigest, digest)
        XCTAssertNil(tpm.loadedSession(s.handle)?.bound, "an audit session is no longer bound")
        // Another command in between ends exclusivity: auditExclusive asked for is refused.
        XCTAssertEqual(responseCode(tpm.execute(command: command(.getRandom, [0, 1]))), 0)
        XCTAssertEqual(audited(0x83, 4).code, 0x121)
        XCTAssertEqual(audited(0x81, 4).attributes, [0x81])
        // auditReset starts a new digest and makes the session exclusive again.
        XCTAssertEqual(audited(0x87, 4).attributes, [0x87])
        XCTAssertEqual(tpm.loadedSession(s.handle)?.auditDigest, digest)
    }

    // MARK: slots, handles and contexts

    func testSessionMemoryAndHandleLimits() throws {
        let tpm = startedTPM()
        for i in 0..<3 { XCTAssertEqual(start(tpm, startBody()), 0, "\(i)") }
        XCTAssertEqual(start(tpm, startBody()), 0x903)
        XCTAssertEqual(tpm.property(0x203), 3)
        XCTAssertEqual(tpm.property(0x204), 0)
        for i in 0..<3 { XCTAssertEqual(tpm.flush(TPMHandle(0x0200_0000 + UInt32(i))), 0) }
        // 64 active sessions (each saved to make room), then TPM_RC_SESSION_HANDLES.
        for i in 0..<64 {
            XCTAssertEqual(start(tpm, startBody(type: UInt8(i % 2))), 0)
            let h = UInt32(i % 2 == 0 ? 0x0200_0000 : 0x0300_0000) + UInt32(i)
            XCTAssertEqual(responseCode(tpm.contextSave(TPMHandle(h))), 0, "\(i)")
        }
        XCTAssertEqual(start(tpm, startBody()), 0x905)
        XCTAssertEqual([tpm.property(0x203), tpm.property(0x204), tpm.property(0x205), tpm.property(0x206)], [0, 3, 64, 0])
        // TPM_CAP_HANDLES: saved sessions are listed as 0x02xxxxxx from 0x03000000 on.
        let r = tpm.execute(command: command(.getCapability, Spec.u32(1) + Spec.u32(0x0300_003E) + Spec.u32(10)))
        XCTAssertEqual(Array(r.suffix(12)), Spec.u32(2) + Spec.u32(0x0200_003E) + Spec.u32(0x0200_003F))
    }

    func testSessionContextsAsLibtpms() throws {
        let tpm = startedTPM()
        let a = try XCTUnwrap(tpm.startSession(bind: owner))
        let b = try XCTUnwrap(tpm.startSession(type: 1))
        let save = tpm.contextSave(a.handle)
        XCTAssertEqual(responseCode(save), 0)
        var rd = responseParameters(save)
        let ctx = try TPMSContext(from: &rd)
        // The first session context after a TPM Reset has sequence 4; the handle is kept and
        // the hierarchy is NULL (libtpms: the same).
        XCTAssertEqual(ctx.sequence, 4)
        XCTAssertEqual(ctx.savedHandle, a.handle)
        XCTAssertEqual(ctx.hierarchy, .null)
        XCTAssertEqual(responseCode(tpm.contextSave(a.handle)), 0x910, "a saved session is not loaded")
        // Capabilities: loaded 0x03000001, saved 0x02000000.
        let loaded = tpm.execute(command: command(.getCapability, Spec.u32(1) + Spec.u32(0x0200_0000) + Spec.u32(10)))
        XCTAssertEqual(Array(loaded.suffix(8)), Spec.u32(1) + Spec.u32(0x0300_0001))
        XCTAssertEqual(start(tpm, startBody()), 0)
        XCTAssertEqual(start(tpm, startBody()), 0)
        XCTAssertEqual(start(tpm, startBody()), 0x903)
        XCTAssertEqual(responseCode(tpm.contextLoad(ctx)), 0x903, "no free slot")
        XCTAssertEqual(tpm.flush(TPMHandle(0x0200_0003)), 0)
        XCTAssertEqual(tpm.contextLoad(ctx), [0x80, 1, 0, 0, 0, 14, 0, 0, 0, 0] + Spec.u32(a.handle.rawValue))
        XCTAssertEqual(responseCode(tpm.contextLoad(ctx)), 0x1CB, "loaded already")
        // The loaded session carries on: its HMAC arithmetic still agrees.
        XCTAssertEqual(changeOwnerAuth(tpm, [], [SessionUse(session: a, attributes: 0x21, entity: owner)]), 0)
        let again = tpm.contextSave(a.handle)
        var rd2 = responseParameters(again)
        XCTAssertEqual(try TPMSContext(from: &rd2).sequence, 5)
        XCTAssertEqual(responseCode(tpm.contextLoad(ctx)), 0x1CB, "an older save of the session")
        XCTAssertEqual(tpm.flush(a.handle), 0, "a saved session can be flushed")
        XCTAssertEqual(tpm.flush(a.handle), 0x1CB)
        var rest = responseParameters(again)
        XCTAssertEqual(responseCode(tpm.contextLoad(rest.rest())), 0x1CB)
        // FlushContext names a slot: 0x03 with an HMAC session's slot flushes it (libtpms).
        XCTAssertEqual(tpm.flush(TPMHandle(b.handle.rawValue - 0x0100_0000)), 0)
        XCTAssertEqual(tpm.flush(TPMHandle(0x0200_0040)), 0x1C4)
        // A session handle of the wrong type in a handle area: TPM_RC_HANDLE; beyond the
        // range: TPM_RC_VALUE (libtpms).
        XCTAssertEqual(start(tpm, startBody()), 0)
        XCTAssertEqual(responseCode(tpm.contextSave(TPMHandle(0x0300_0000))), 0x18B)
        XCTAssertEqual(responseCode(tpm.contextSave(TPMHandle(0x0200_0040))), 0x184)
    }

    func testContextGap() throws {
        let tpm = startedTPM()
        let a = try XCTUnwrap(tpm.startSession())
        var rd = responseParameters(tpm.contextSave(a.handle))
        let oldest = try TPMSContext(from: &rd)
        XCTAssertEqual(oldest.sequence, 4)
        // The counter has run 0xFFFF ahead (as after 65535 more saves): the next context ID
        // would have the oldest saved session's low bits.
        tpm.volatile.sessionContextCounter = 4 + 0x1_0000
        let b = try XCTUnwrap(tpm.startSession())
        XCTAssertEqual(responseCode(tpm.contextSave(b.handle)), 0x901, "TPM_RC_CONTEXT_GAP")
        _ = try XCTUnwrap(tpm.startSession())
        XCTAssertEqual(start(tpm, startBody()), 0x901, "the last free slot is kept for the oldest session")
        XCTAssertEqual(start(tpm, startBody(type: 1)), 0x901)
        // With one free slot only the oldest may be loaded; it can, and the gap is closed.
        XCTAssertEqual(responseCode(tpm.contextLoad(oldest)), 0)
        var rd2 = responseParameters(tpm.contextSave(b.handle))
        let saved = try TPMSContext(from: &rd2)
        XCTAssertEqual(saved.sequence, 0x1_0004)
        XCTAssertEqual(tpm.volatile.sessionContextCounter, 0x1_0005)
        // A sequence number more than 0x10000 behind the counter is not current.
        tpm.volatile.sessionContextCounter = 0x2_0005
        XCTAssertEqual(responseCode(tpm.contextLoad(saved)), 0x1CB)
        tpm.volatile.sessionContextCounter = 0x2_0004
        XCTAssertEqual(responseCode(tpm.contextLoad(saved)), 0)
        // When the low 16 bits wrap, the counter skips 0...3 (the reference's "loaded" marks).
        tpm.volatile.sessionContextCounter = 0x2_FFFF
        var rd3 = responseParameters(tpm.contextSave(b.handle))
        XCTAssertEqual(try TPMSContext(from: &rd3).sequence, 0x2_FFFF)
        XCTAssertEqual(tpm.volatile.sessionContextCounter, 0x3_0004)
    }

    func testSavedSessionsSurviveRestartAndResumeNotReset() throws {
        for (shutdown, startup, survives) in [(TPMSU.state, TPMSU.state, true), (.state, .clear, true), (.clear, .clear, false)] {
            let tpm = startedTPM()
            let a = try XCTUnwrap(tpm.startSession(bind: owner))
            let b = try XCTUnwrap(tpm.startSession(type: 1))
            let save = tpm.contextSave(a.handle)
            var rd = responseParameters(save)
            let ctx = try TPMSContext(from: &rd)
            tpm.shutdown(shutdown)
            tpm.powerOff()
            tpm.powerOn()
            XCTAssertEqual(tpm.startup(startup), 0)
            // libtpms: the loaded session is gone after any Startup; the saved one comes back
            // after Restart and Resume; after a Reset its context fails the integrity check.
            XCTAssertEqual(tpm.flush(b.handle), 0x1CB)
            XCTAssertEqual(responseCode(tpm.contextLoad(ctx)), survives ? 0 : 0x1DF)
            if survives {
                XCTAssertEqual(changeOwnerAuth(tpm, [], [SessionUse(session: a, attributes: 0x21, entity: owner)]), 0)
                XCTAssertEqual(tpm.property(0x205), 1)
            } else {
                XCTAssertEqual(tpm.property(0x205), 0)
                XCTAssertEqual(tpm.volatile.sessionContextCounter, 4)
            }
        }
    }

    /// Malformed and mutated authorization areas never trap and keep the engine sound.
    func testMutatedSessionCommandsGiveWellFormedResponses() throws {
        let tpm = startedTPM()
        let s = try XCTUnwrap(tpm.startSession(symmetric: .aes(128)))
        var rng = SplitMix(seed: 7)
        for i in 0..<4000 {
            // A valid command with HMAC, decrypt and encrypt, then mutated.
            s.nonceCaller = (0..<32).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            var body = Spec.u32(TPMHandle.owner.rawValue)
            let area = Spec.u32(s.handle.rawValue) + Spec.b2(s.nonceCaller) + [0x61] + Spec.b2([UInt8](repeating: 1, count: 32))
            body += Spec.u32(UInt32(area.count)) + area + Spec.b2([1, 2, 3])
            var cmd = command(TPMCC(i % 3 == 0 ? 0x17D : 0x129), tag: .sessions, body)
            for _ in 0..<(1 + Int(rng.next() % 3)) { cmd[Int(rng.next() % UInt64(cmd.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            let r = tpm.execute(command: cmd)
            XCTAssertGreaterThanOrEqual(r.count, 10)
            XCTAssertEqual(r[2..<6].reduce(0) { $0 << 8 | Int($1) }, r.count)
        }
        XCTAssertLessThanOrEqual(tpm.loadedSessionCount, 3)
    }
}
