import Crypto
import Foundation
import TPMWire
import XCTest

@testable import TPMEngine

/// State format version 2 (docs/state-format.md): sessions and dictionary-attack state in
/// the blobs, mid-session exports, the documented layout byte for byte, hostile input, and
/// the frozen version-2 fixtures.
final class SessionStateFormatTests: XCTestCase {
    static let fixtureDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    let ownerAuth = Array("fixture owner".utf8)
    static let zero = [UInt8](repeating: 0, count: 32)
    static func cc(_ c: TPMCC) -> [UInt8] { Spec.u32(c.rawValue) }
    /// The owner policy the fixtures' policy session is working towards.
    static let ownerPolicy = Spec.hash(
        .sha256, Spec.hash(.sha256, zero, cc(.policyCommandCode), cc(.hierarchyChangeAuth)), cc(.policyAuthValue))

    func changeOwnerAuth(_ tpm: TPM, _ auth: [UInt8], password: [UInt8] = []) -> UInt32 {
        responseCode(
            tpm.execute(
                command: command(
                    .hierarchyChangeAuth, tag: .sessions, withPassword(handles: [.owner], password: password, params: Spec.b2(auth)))))
    }

    /// A started instance with: owner auth and policy set; an HMAC session bound to owner in
    /// slot 0 (used once, so its nonce rolled); a policy session in slot 1 halfway through
    /// owner's policy; an HMAC session saved from slot 2; an audit session in slot 3; DA
    /// parameters changed and one lockout failure. Returns the client sessions.
    func makeRunningInstance(seed: UInt8, clock: TestClock) throws -> (TPM, [ClientSession]) {
        let tpm = startedTPM(seed: seed, clock: clock)
        XCTAssertEqual(changeOwnerAuth(tpm, ownerAuth), 0)
        tpm.persistent.owner.policyAlg = .sha256
        tpm.persistent.owner.policy = Self.ownerPolicy
        let owner = Entity(.owner, auth: ownerAuth)
        let bound = try XCTUnwrap(tpm.startSession(symmetric: .aes(128), bind: owner))
        XCTAssertEqual(
            tpm.run(
                .hierarchyChangeAuth, handles: [.owner], Spec.b2(ownerAuth), [SessionUse(session: bound, attributes: 0x21, entity: owner)],
                responseAuth: ownerAuth
            ).code, 0)
        let policy = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .xor(.sha256)))
        XCTAssertEqual(responseCode(tpm.policy(.policyCommandCode, policy, Self.cc(.hierarchyChangeAuth))), 0)
        let saved = try XCTUnwrap(tpm.startSession(alg: .sha384, symmetric: .aes(256)))
        XCTAssertEqual(responseCode(tpm.contextSave(saved.handle)), 0)
        XCTAssertEqual(
            responseCode(
                tpm.execute(
                    command: command(
                        .dictionaryAttackParameters, tag: .sessions,
                        withPassword(handles: [.lockout], params: Spec.u32(5) + Spec.u32(60) + Spec.u32(120))))), 0)
        XCTAssertEqual(
            responseCode(
                tpm.execute(
                    command: command(
                        .dictionaryAttackLockReset, tag: .sessions, withPassword(handles: [.lockout], password: [1], params: [])))), 0x98E)
        // Last, so that it stays the exclusive audit session (a failed command changes nothing).
        let audit = try XCTUnwrap(tpm.startSession(alg: .sha1, symmetric: .null))
        XCTAssertEqual(tpm.run(.getRandom, Spec.u16(4), [SessionUse(session: audit, attributes: 0x81)]).code, 0)
        clock.advance(4_321)
        return (tpm, [bound, policy, saved, audit])
    }

    /// The sessions work on: the bound session authorizes with the client's arithmetic, the
    /// policy session completes owner's policy, the saved session loads.
    func continueWith(_ tpm: TPM, _ sessions: [ClientSession], savedContext: TPMSContext?) {
        let owner = Entity(.owner, auth: ownerAuth)
        let (bound, policy, saved) = (sessions[0], sessions[1], sessions[2])
        XCTAssertEqual(
            tpm.run(
                .hierarchyChangeAuth, handles: [.owner], Spec.b2(ownerAuth), [SessionUse(session: bound, attributes: 0x21, entity: owner)],
                responseAuth: ownerAuth
            ).code, 0)
        XCTAssertEqual(responseCode(tpm.policy(.policyAuthValue, policy)), 0)
        policy.authValueNeeded = true
        XCTAssertEqual(
            tpm.run(
                .hierarchyChangeAuth, handles: [.owner], Spec.b2(ownerAuth), [SessionUse(session: policy, attributes: 0x21, entity: owner)],
                responseAuth: ownerAuth
            ).code, 0)
        policy.authValueNeeded = false
        if let savedContext {
            XCTAssertEqual(responseCode(tpm.contextLoad(savedContext)), 0)
            XCTAssertEqual(tpm.run(.getRandom, Spec.u16(8), [SessionUse(session: saved, attributes: 0x41)]).code, 0)
        }
    }

    func testMidSessionExportImportContinues() throws {
        let clock = TestClock()
        let (tpm, sessions) = try makeRunningInstance(seed: 3, clock: clock)
        let p = tpm.exportPermanentState()
        let v = tpm.exportVolatileState()
        XCTAssertEqual(Array(p[4..<8]), Spec.u32(StateBlob.currentVersion))
        let other = TestClock()
        let copy = try TPM(environment: testEnvironment(seed: 9, clock: other), permanentState: p, volatileState: v)
        XCTAssertEqual(copy.exportPermanentState(), p)
        XCTAssertEqual(copy.exportVolatileState(), v, "export(import(x)) == x")
        XCTAssertEqual(copy.volatile.sessionSlots, tpm.volatile.sessionSlots)
        XCTAssertEqual(copy.volatile.sessionContextCounter, 5)
        XCTAssertEqual(copy.volatile.exclusiveAuditSession, TPMHandle(0x0200_0003))
        XCTAssertEqual(copy.persistent.da, tpm.persistent.da)
        XCTAssertFalse(copy.persistent.da.lockoutAuthEnabled)
        XCTAssertEqual(copy.volatile.daLockoutTimer, 0, "Time of the lockout failure")
        continueWith(copy, sessions, savedContext: nil)
        // lockoutAuth is still disabled, and recovers lockoutRecovery (120 s) after its failure.
        let reset = command(.dictionaryAttackLockReset, tag: .sessions, withPassword(handles: [.lockout], params: []))
        XCTAssertEqual(responseCode(copy.execute(command: reset)), 0x921)
        other.advance(120_000 - 4_321)
        XCTAssertEqual(responseCode(copy.execute(command: reset)), 0)
    }

    func testShutdownStateKeepsSavedSessionsInThePermanentPart() throws {
        let clock = TestClock()
        let (tpm, sessions) = try makeRunningInstance(seed: 4, clock: clock)
        let bound = sessions[0]
        var rd = responseParameters(tpm.contextSave(bound.handle))
        let ctx = try TPMSContext(from: &rd)
        tpm.shutdown(.state)
        let p = tpm.exportPermanentState()
        XCTAssertEqual(tpm.persistent.savedState?.savedSessions, [0: 5, 2: 4])
        let copy = try TPM(environment: testEnvironment(seed: 5), permanentState: p)
        XCTAssertEqual(copy.persistent.savedState?.sessionContextCounter, 6)
        copy.powerOn()
        XCTAssertEqual(copy.startup(.state), 0)
        XCTAssertEqual(copy.activeSessionCount, 2, "the saved sessions; the loaded ones are gone")
        XCTAssertEqual(responseCode(copy.contextLoad(ctx)), 0)
        XCTAssertEqual(
            copy.run(
                .hierarchyChangeAuth, handles: [.owner], Spec.b2(ownerAuth),
                [SessionUse(session: bound, attributes: 0x21, entity: Entity(.owner, auth: ownerAuth))], responseAuth: ownerAuth
            ).code, 0)
    }

    // MARK: the documented layout

    /// Version-1 document blobs (StateFormatDocumentTests) turned into version 2 by the
    /// additions docs/state-format.md lists, field by field.
    static func permanentV2(_ extra: (inout TPMWriter) -> Void = { _ in }) -> [UInt8] {
        let v1 = StateFormatDocumentTests.permanent()
        var w = TPMWriter()
        w.bytes(v1[16..<(v1.count - 32)])
        // 29a-29c: the session counter and one saved session (slot 5, bits 0x0009).
        w.u64(0x1_0010)
        w.u8(1)
        w.u8(5)
        w.u16(9)
        // 30-35: DA.
        w.u32(2)
        w.u32(6)
        w.u32(77)
        w.u32(88)
        w.u8(0)
        w.u8(1)
        extra(&w)
        return seal(part: 1, w.bytes)
    }

    static func seal(part: UInt32, _ body: [UInt8]) -> [UInt8] {
        var w = TPMWriter()
        w.u32(0x7654_504D)
        w.u32(2)
        w.u32(part)
        w.u32(UInt32(body.count))
        w.bytes(body)
        return w.bytes + Array(SHA256.hash(data: w.bytes))
    }

    struct VolatileV2 {
        var counter: UInt64 = 0x2_0007
        var loaded: [(index: UInt8, session: [UInt8])] = [(1, hmacSession), (4, policySession)]
        var saved: [(index: UInt8, bits: UInt16)] = [(2, 0x0005)]
        var audit: UInt32 = 0x0200_0001
        var order: [UInt8]?
        var kind: UInt8?
    }

    /// An HMAC SHA-256 session, AES-128, bound, DA-bound, with a key and an audit digest.
    static let hmacSession: [UInt8] = {
        var w = TPMWriter()
        w.u8(1)
        w.u8(0)
        w.u16(0x000B)
        w.u16(0x0006)
        w.u16(128)
        w.sized([UInt8](repeating: 0x33, count: 32))
        w.sized([UInt8](repeating: 0x44, count: 16))
        w.u8(0b1101)  // DA-bound, audit, bound
        w.sized(Spec.u32(0x4000_000B))
        w.sized(Array("ek".utf8))
        w.sized([UInt8](repeating: 0x55, count: 32))
        return w.bytes
    }()

    /// A policy SHA-1 session, XOR, with every policy field set.
    static let policySession: [UInt8] = {
        var w = TPMWriter()
        w.u8(1)
        w.u8(1)
        w.u16(0x0004)
        w.u16(0x000A)
        w.u16(0x000B)
        w.sized([UInt8]())
        w.sized([UInt8](repeating: 0x66, count: 20))
        w.u8(0)
        w.sized([UInt8]())
        w.sized([UInt8](repeating: 0x77, count: 20))  // policyDigest
        w.u32(0x129)
        w.u8(0x05)
        w.u8(1)  // cpHash
        w.sized([UInt8](repeating: 0x88, count: 20))
        w.u8(0b100101)  // authValue needed, PP, PCR counter
        w.u32(17)
        w.u64(1_000)
        w.u64(9_000)
        w.u64(5 << 32 | 2)
        return w.bytes
    }()

    static func volatileV2(_ t: VolatileV2 = VolatileV2(), permanent p: [UInt8]) -> [UInt8] {
        let v1 = StateFormatDocumentTests.volatile(permanent: p)
        let body = Array(v1[16..<(v1.count - 32)])
        var w = TPMWriter()
        w.bytes(body.dropLast(72))
        // 22a-22i.
        w.u64(t.counter)
        var entries: [(UInt8, [UInt8])] = t.loaded.map { ($0.index, [t.kind ?? 1] + $0.session) }
        entries += t.saved.map { ($0.index, [2] + Spec.u16($0.bits)) }
        entries.sort { $0.0 < $1.0 }
        if let order = t.order { entries = order.map { i in entries.first { $0.0 == i }! } }
        w.u8(UInt8(entries.count))
        for (i, e) in entries {
            w.u8(i)
            w.bytes(e)
        }
        w.u32(t.audit)
        w.u64(300)
        w.u64(400)
        w.bytes(body.suffix(72))
        return seal(part: 2, w.bytes)
    }

    func testVersion2DocumentIsTheEngineEncoding() throws {
        let p = Self.permanentV2()
        let v = Self.volatileV2(permanent: p)
        let tpm = try TPM(environment: testEnvironment(), permanentState: p, volatileState: v)
        // Re-exported as version 3: the same fields plus the empty NV ones (NVStateTests checks
        // the version-3 document with NV contents).
        // And as version 4: the defaults of the policy/audit fields (the saved state's empty PCR
        // authValue among them).
        let p3 = StateUpgrade.permanentV3(fromV2: p)
        // And as version 5: the saved and the live commit state of a TPM that never committed.
        let p4 = StateUpgrade.permanentV4(fromV3: p3, savedState: true)
        let p5 = StateUpgrade.permanentV5(fromV4: p4, savedState: true)
        XCTAssertEqual(tpm.exportPermanentState(), p5, "the document's encoding is the engine's")
        let v4 = StateUpgrade.volatileV4(fromV3: StateUpgrade.volatileV3(fromV2: v, permanentV3: p3), permanentV4: p4)
        XCTAssertEqual(tpm.exportVolatileState(), StateUpgrade.volatileV5(fromV4: v4, permanentV5: p5))
        XCTAssertEqual(tpm.persistent.savedState?.sessionContextCounter, 0x1_0010)
        XCTAssertEqual(tpm.persistent.savedState?.savedSessions, [5: 9])
        XCTAssertEqual(
            tpm.persistent.da,
            DictionaryAttackState(failedTries: 2, maxTries: 6, recoveryTime: 77, lockoutRecovery: 88, lockoutAuthEnabled: false, used: true)
        )
        XCTAssertEqual(tpm.volatile.sessionContextCounter, 0x2_0007)
        XCTAssertEqual(tpm.volatile.sessionSlots[2], .saved(5))
        XCTAssertEqual(tpm.volatile.exclusiveAuditSession, TPMHandle(0x0200_0001))
        XCTAssertEqual([tpm.volatile.daSelfHealTimer, tpm.volatile.daLockoutTimer], [300, 400])
        let h = try XCTUnwrap(tpm.loadedSession(TPMHandle(0x0200_0001)))
        XCTAssertEqual(h.type, .hmac)
        XCTAssertEqual(h.symmetric, .aes(keyBits: 128))
        XCTAssertEqual(h.bound, BoundEntity(name: Spec.u32(0x4000_000B), authValue: Array("ek".utf8)))
        XCTAssertTrue(h.isDABound && h.isAudit && !h.isLockoutBound)
        let p1 = try XCTUnwrap(tpm.loadedSession(TPMHandle(0x0300_0004))?.policy)
        XCTAssertEqual(p1.commandCode, .hierarchyChangeAuth)
        XCTAssertEqual(p1.locality, 5)
        XCTAssertEqual(p1.restriction, PolicyRestriction(kind: .cpHash, digest: [UInt8](repeating: 0x88, count: 20)))
        XCTAssertTrue(p1.isAuthValueNeeded && p1.isPPRequired && !p1.isPasswordNeeded)
        XCTAssertEqual(p1.pcrUpdateCounter, 17)
        XCTAssertEqual([p1.startTime, p1.timeout, p1.epoch], [1_000, 9_000, 5 << 32 | 2])
        XCTAssertEqual(tpm.loadedSession(TPMHandle(0x0300_0004))?.symmetric, .xor(.sha256))
        // GetCapability sees them.
        XCTAssertEqual([tpm.property(0x203), tpm.property(0x205), tpm.property(0x20E)], [2, 3, 2])
    }

    func testMalformedVersion2FieldsAreRejected() {
        let p = Self.permanentV2()
        // Permanent: a bad saved-session bits value and a bad counter need their own blobs.
        func perm(counter: UInt64 = 0x1_0010, index: UInt8 = 5, bits: UInt16 = 9, lockoutEnabled: UInt8 = 0) -> [UInt8] {
            let v1 = StateFormatDocumentTests.permanent()
            var w = TPMWriter()
            w.bytes(v1[16..<(v1.count - 32)])
            w.u64(counter)
            w.u8(1)
            w.u8(index)
            w.u16(bits)
            w.u32(2)
            w.u32(6)
            w.u32(77)
            w.u32(88)
            w.u8(lockoutEnabled)
            w.u8(1)
            return Self.seal(part: 1, w.bytes)
        }
        var cases: [(String, [UInt8], [UInt8]?)] = [
            ("saved session bits 3", perm(bits: 3), nil),
            ("saved session index 64", perm(index: 64), nil),
            ("counter low bits 2", perm(counter: 0x2_0002), nil),
            ("DA boolean 2", perm(lockoutEnabled: 2), nil),
            ("trailing octet", Self.permanentV2 { $0.u8(0) }, nil),
        ]
        func vol(_ edit: (inout VolatileV2) -> Void) -> [UInt8] {
            var t = VolatileV2()
            edit(&t)
            return Self.volatileV2(t, permanent: p)
        }
        var badPolicy = Self.policySession
        badPolicy[badPolicy.count - 24 - 4 - 1] = 0b11  // authValue and password both needed
        var badFlags = Self.hmacSession
        badFlags[60] = 0b1110  // lockout-bound without DA-bound
        var shortNonce = Self.policySession
        shortNonce[11] = 15  // a nonceTPM of 15 octets
        cases += [
            ("four loaded sessions", p, vol { $0.loaded += [(7, Self.hmacSession), (8, Self.hmacSession)] }),
            ("slots out of order", p, vol { $0.order = [4, 2, 1] }),
            ("slot kind 3", p, vol { $0.kind = 3 }),
            ("saved bits 0", p, vol { $0.saved = [(2, 0)] }),
            ("counter low bits 1", p, vol { $0.counter = 0x3_0001 }),
            ("exclusive audit on a free slot", p, vol { $0.audit = 0x0200_0009 }),
            ("exclusive audit a policy handle", p, vol { $0.audit = 0x0300_0004 }),
            ("policy needs authValue and password", p, vol { $0.loaded = [(4, badPolicy)] }),
            ("lockout-bound without DA-bound", p, vol { $0.loaded = [(1, badFlags)] }),
            ("nonce size", p, vol { $0.loaded = [(4, shortNonce)] }),
        ]
        XCTAssertNoThrow(try TPM(environment: testEnvironment(), permanentState: p, volatileState: Self.volatileV2(permanent: p)))
        for (name, perm, vol) in cases {
            XCTAssertThrowsError(try TPM(environment: testEnvironment(), permanentState: perm, volatileState: vol), name) {
                guard case .malformed? = $0 as? StateError else { return XCTFail("\(name): \($0)") }
            }
        }
    }

    /// Every single-octet edit of a state with sessions (digest recomputed) either loads and
    /// exports to the same bytes, or throws StateError: the session encodings are canonical
    /// and strict.
    func testEditedSessionStateLoadsCanonicallyOrThrows() throws {
        let clock = TestClock()
        let (tpm, _) = try makeRunningInstance(seed: 6, clock: clock)
        let p = tpm.exportPermanentState()
        let v = tpm.exportVolatileState()
        // The session area of the volatile part: from the counter to the DRBG state.
        let start = v.count - 32 - 72 - 24 - 200 * 3 - 40
        var rng = SplitMix(seed: 0xC0FFEE)
        var loaded = 0
        for i in max(48, start)..<(v.count - 32 - 72) {
            for _ in 0..<2 {
                var blob = v
                blob[i] = rng.next() % 2 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : blob[i] ^ (1 << UInt8(rng.next() % 8))
                let body = Array(blob.dropLast(32))
                blob = body + Array(SHA256.hash(data: body))
                do {
                    let t = try TPM(environment: testEnvironment(clock: clock), permanentState: p, volatileState: blob)
                    loaded += 1
                    XCTAssertEqual(t.exportVolatileState(), blob, "offset \(i)")
                } catch is StateError {
                } catch {
                    XCTFail("offset \(i): \(error)")
                }
            }
        }
        XCTAssertGreaterThan(loaded, 0)
    }

    // MARK: version-2 fixtures ("old formats keep loading")

    private func fixture(_ name: String) throws -> [UInt8] {
        let url = Bundle.module.resourceURL?.appendingPathComponent("Fixtures/\(name)")
        return [UInt8](try Data(contentsOf: try XCTUnwrap(url)))
    }

    /// The client's view of the fixture sessions after the makers ran: handles, hashes,
    /// ciphers and keys (the nonces come from the loaded state).
    private func clientSessions(_ tpm: TPM) throws -> [ClientSession] {
        func c(_ h: UInt32, _ alg: TPMAlgID, _ sym: ClientSession.Symmetric, policy: Bool) throws -> ClientSession {
            let s = try XCTUnwrap(tpm.loadedSession(TPMHandle(h)))
            return ClientSession(
                handle: TPMHandle(h), alg: alg, nonceCaller: [UInt8](repeating: 0, count: s.nonceTPM.count), nonceTPM: s.nonceTPM,
                sessionKey: s.sessionKey, symmetric: sym, bound: s.bound.map { ($0.name, $0.authValue) }, isPolicy: policy)
        }
        return [
            try c(0x0200_0000, .sha256, .aes(128), policy: false), try c(0x0300_0001, .sha256, .xor(.sha256), policy: true),
            ClientSession(
                handle: TPMHandle(0x0200_0002), alg: .sha384, nonceCaller: [], nonceTPM: [], sessionKey: [], symmetric: .aes(256),
                bound: nil, isPolicy: false),
        ]
    }

    /// Writes the fixtures: VTPM_WRITE_STATE_FIXTURES=1 swift test --filter SessionStateFormatTests.
    /// Only for new files: committed fixtures are frozen.
    func testWriteVersion2FixturesWhenAsked() throws {
        guard ProcessInfo.processInfo.environment["VTPM_WRITE_STATE_FIXTURES"] == "1" else { return }
        let dir = Self.fixtureDirectory
        let (running, _) = try makeRunningInstance(seed: 42, clock: TestClock())
        try Data(running.exportPermanentState()).write(to: dir.appendingPathComponent("v2-running.permanent.bin"))
        try Data(running.exportVolatileState()).write(to: dir.appendingPathComponent("v2-running.volatile.bin"))
        let (resume, _) = try makeRunningInstance(seed: 43, clock: TestClock())
        resume.shutdown(.state)
        try Data(resume.exportPermanentState()).write(to: dir.appendingPathComponent("v2-resume.permanent.bin"))
    }

    func testVersion2RunningFixtureLoads() throws {
        let tpm = try TPM(
            environment: testEnvironment(), permanentState: try fixture("v2-running.permanent.bin"),
            volatileState: try fixture("v2-running.volatile.bin"))
        XCTAssertEqual(tpm.persistent.owner.authValue, ownerAuth)
        XCTAssertEqual(tpm.persistent.owner.policy, Self.ownerPolicy)
        XCTAssertEqual(
            tpm.persistent.da,
            DictionaryAttackState(
                failedTries: 0, maxTries: 5, recoveryTime: 60, lockoutRecovery: 120, lockoutAuthEnabled: false, used: false))
        XCTAssertEqual(tpm.volatile.sessionContextCounter, 5)
        XCTAssertEqual(tpm.volatile.sessionSlots[2], .saved(4))
        XCTAssertEqual(tpm.volatile.exclusiveAuditSession, TPMHandle(0x0200_0003))
        XCTAssertEqual(
            tpm.loadedSession(TPMHandle(0x0300_0001))?.policy?.digest,
            Spec.hash(.sha256, Self.zero, Self.cc(.policyCommandCode), Self.cc(.hierarchyChangeAuth)))
        XCTAssertEqual(tpm.loadedSession(TPMHandle(0x0200_0000))?.bound?.authValue, ownerAuth)
        let audit = try XCTUnwrap(tpm.loadedSession(TPMHandle(0x0200_0003)))
        XCTAssertTrue(audit.isAudit)
        XCTAssertEqual(audit.auditDigest.count, 20)
        // Time and Clock continue from the exported values; the sessions carry on.
        XCTAssertEqual(tpm.currentTime(), 4_321)
        continueWith(tpm, try clientSessions(tpm), savedContext: nil)
        XCTAssertEqual(tpm.flush(TPMHandle(0x0200_0002)), 0, "the saved session is still tracked")
    }

    func testVersion2ResumeFixtureLoads() throws {
        let tpm = try TPM(environment: testEnvironment(), permanentState: try fixture("v2-resume.permanent.bin"))
        XCTAssertEqual(tpm.persistent.savedState?.savedSessions, [2: 4])
        XCTAssertEqual(tpm.persistent.savedState?.sessionContextCounter, 5)
        tpm.powerOn()
        XCTAssertEqual(tpm.startup(.state), 0)
        XCTAssertEqual(tpm.activeSessionCount, 1)
        XCTAssertEqual(tpm.volatile.sessionSlots[2], .saved(4))
        XCTAssertEqual(tpm.persistent.da.maxTries, 5)
        XCTAssertEqual(tpm.flush(TPMHandle(0x0200_0002)), 0)
    }
}
