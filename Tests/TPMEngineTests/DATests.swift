import TPMWire
import XCTest

@testable import TPMEngine

/// Dictionary-attack protection (Part 1, 19.8; Part 3, 25). Codes as libtpms answers them
/// (the same sequences were run against swtpm); time moves with the test clock.
final class DATests: XCTestCase {
    func lockoutCommand(_ tpm: TPM, _ cc: TPMCC, password: [UInt8] = [], _ params: [UInt8] = []) -> UInt32 {
        responseCode(
            tpm.execute(command: command(cc, tag: .sessions, withPassword(handles: [.lockout], password: password, params: params))))
    }

    func parameters(_ tpm: TPM, maxTries: UInt32, recovery: UInt32, lockoutRecovery: UInt32) -> UInt32 {
        lockoutCommand(tpm, .dictionaryAttackParameters, Spec.u32(maxTries) + Spec.u32(recovery) + Spec.u32(lockoutRecovery))
    }

    /// An HMAC session bound to a DA-protected entity that is not lockoutAuth (what a key
    /// without noDA will be): put in a slot directly, since no such entity exists yet.
    func daBoundSession(_ tpm: TPM) throws -> ClientSession {
        let s = try XCTUnwrap(tpm.startSession(symmetric: .aes(128)))
        var session = try XCTUnwrap(tpm.loadedSession(s.handle))
        session.isDABound = true
        tpm.storeSession(session, at: s.handle)
        return s
    }

    func testDefaultsAndPropertiesAsLibtpms() {
        let tpm = startedTPM()
        // libtpms: TPM_PT_LOCKOUT_COUNTER 0, MAX_AUTH_FAIL 3, LOCKOUT_INTERVAL 1000,
        // LOCKOUT_RECOVERY 1000, NV_WRITE_RECOVERY 0; TPMA_PERMANENT without inLockout.
        XCTAssertEqual((0x20E...0x212).map { tpm.property($0) }, [0, 3, 1000, 1000, 0])
        XCTAssertEqual(tpm.property(0x200) & 0x200, 0)
        XCTAssertEqual(parameters(tpm, maxTries: 5, recovery: 7, lockoutRecovery: 9), 0)
        XCTAssertEqual((0x20E...0x211).map { tpm.property($0) }, [0, 5, 7, 9])
        XCTAssertTrue(tpm.nvChanged)
        tpm.persistent.da.failedTries = 5
        XCTAssertEqual(tpm.property(0x20E), 5)
        XCTAssertEqual(tpm.property(0x200) & 0x200, 0x200, "inLockout")
        XCTAssertEqual(lockoutCommand(tpm, .dictionaryAttackLockReset), 0)
        XCTAssertEqual(tpm.property(0x20E), 0)
        XCTAssertEqual(tpm.property(0x200) & 0x200, 0)
        // Parameter decoding: a short parameter is TPM_RC_INSUFFICIENT + P3.
        XCTAssertEqual(lockoutCommand(tpm, .dictionaryAttackParameters, Spec.u32(1) + Spec.u32(2)), 0x3DA)
        // Both commands need lockoutAuth (TPMI_RH_LOCKOUT: owner is TPM_RC_VALUE).
        XCTAssertEqual(
            responseCode(
                tpm.execute(command: command(.dictionaryAttackLockReset, tag: .sessions, withPassword(handles: [.owner], params: [])))),
            0x184)
    }

    func testLockoutAuthFailureDisablesLockoutForLockoutRecovery() {
        let clock = TestClock()
        let tpm = startedTPM(clock: clock)
        tpm.acknowledgeNVWrite()
        XCTAssertEqual(lockoutCommand(tpm, .dictionaryAttackLockReset, password: [1]), 0x98E, "TPM_RC_AUTH_FAIL + S1")
        XCTAssertTrue(tpm.nvChanged, "the failure is recorded in NV before the response")
        XCTAssertEqual(lockoutCommand(tpm, .dictionaryAttackLockReset), 0x921, "TPM_RC_LOCKOUT, even with the right password")
        XCTAssertEqual(lockoutCommand(tpm, .dictionaryAttackLockReset, password: [1]), 0x921)
        XCTAssertEqual(tpm.property(0x20E), 0, "lockoutAuth failures do not count in failedTries")
        clock.advance(999_999)
        XCTAssertEqual(lockoutCommand(tpm, .dictionaryAttackLockReset), 0x921)
        clock.advance(1)
        XCTAssertEqual(lockoutCommand(tpm, .dictionaryAttackLockReset), 0)
        // HierarchyChangeAuth of lockout is lockoutAuth too.
        XCTAssertEqual(
            responseCode(
                tpm.execute(
                    command: command(
                        .hierarchyChangeAuth, tag: .sessions, withPassword(handles: [.lockout], password: [2], params: [0, 0])))),
            0x98E)
        XCTAssertEqual(lockoutCommand(tpm, .dictionaryAttackParameters, Spec.u32(1) + Spec.u32(1) + Spec.u32(1)), 0x921)
    }

    func testLockoutRecoveryZeroWaitsForTheNextStartup() {
        let clock = TestClock()
        let tpm = startedTPM(clock: clock)
        XCTAssertEqual(parameters(tpm, maxTries: 3, recovery: 1000, lockoutRecovery: 0), 0)
        XCTAssertEqual(lockoutCommand(tpm, .dictionaryAttackLockReset, password: [1]), 0x98E)
        clock.advance(10_000_000)
        XCTAssertEqual(lockoutCommand(tpm, .dictionaryAttackLockReset), 0x921)
        tpm.shutdown(.clear)
        tpm.powerOff()
        tpm.powerOn()
        XCTAssertEqual(tpm.startup(.clear), 0)
        XCTAssertEqual(lockoutCommand(tpm, .dictionaryAttackLockReset), 0)
    }

    func testLockoutBoundSessionsCountAgainstLockoutAuth() throws {
        let clock = TestClock()
        let tpm = startedTPM(clock: clock)
        XCTAssertEqual(parameters(tpm, maxTries: 3, recovery: 1000, lockoutRecovery: 2), 0)
        let s = try XCTUnwrap(tpm.startSession(bind: Entity(.lockout)))
        let owner = Entity(.owner)
        // libtpms: a session bound to lockoutAuth whose HMAC is wrong disables lockoutAuth,
        // whatever it authorized; while lockoutAuth is disabled the session cannot be used.
        XCTAssertEqual(
            tpm.run(.hierarchyChangeAuth, handles: [.owner], Spec.b2([]), [SessionUse(session: s, entity: owner, hmac: [0])]).code, 0x98E)
        XCTAssertEqual(lockoutCommand(tpm, .dictionaryAttackLockReset), 0x921)
        XCTAssertEqual(tpm.run(.hierarchyChangeAuth, handles: [.owner], Spec.b2([]), [SessionUse(session: s, entity: owner)]).code, 0x921)
        XCTAssertEqual(tpm.run(.getRandom, Spec.u16(4), [SessionUse(session: s, attributes: 0x41)]).code, 0x921)
        clock.advance(2_000)
        XCTAssertEqual(tpm.run(.hierarchyChangeAuth, handles: [.owner], Spec.b2([]), [SessionUse(session: s, entity: owner)]).code, 0)
        // A session bound to owner (exempt): a wrong HMAC is TPM_RC_BAD_AUTH, nothing counts.
        let b = try XCTUnwrap(tpm.startSession(bind: owner))
        XCTAssertEqual(
            tpm.run(.hierarchyChangeAuth, handles: [.owner], Spec.b2([]), [SessionUse(session: b, entity: owner, hmac: [0])]).code, 0x9A2)
        // ... but used for lockout, lockout's protection applies.
        XCTAssertEqual(
            tpm.run(.hierarchyChangeAuth, handles: [.lockout], Spec.b2([]), [SessionUse(session: b, entity: Entity(.lockout), hmac: [0])])
                .code, 0x98E)
        XCTAssertEqual(lockoutCommand(tpm, .dictionaryAttackLockReset), 0x921)
    }

    func testFailedTriesLockoutAndSelfHealing() throws {
        let clock = TestClock()
        let tpm = startedTPM(clock: clock)
        XCTAssertEqual(parameters(tpm, maxTries: 2, recovery: 10, lockoutRecovery: 1000), 0)
        let s = try daBoundSession(tpm)
        func use(_ hmac: [UInt8]? = nil) -> UInt32 {
            tpm.run(.getRandom, Spec.u16(4), [SessionUse(session: s, attributes: 0x41, hmac: hmac)]).code
        }
        XCTAssertEqual(use(), 0)
        XCTAssertTrue(tpm.persistent.da.used, "a DA-protected authorization was checked")
        XCTAssertEqual(use([1]), 0x98E)
        XCTAssertEqual(tpm.property(0x20E), 1)
        XCTAssertEqual(use([1]), 0x98E)
        XCTAssertEqual(tpm.property(0x20E), 2)
        XCTAssertEqual(tpm.property(0x200) & 0x200, 0x200)
        XCTAssertEqual(use(), 0x921, "in lockout")
        // failedTries decays by one per recoveryTime (10 s) after the last failure.
        clock.advance(9_999)
        XCTAssertEqual(tpm.property(0x20E), 2)
        clock.advance(1)
        XCTAssertEqual(tpm.property(0x20E), 1)
        XCTAssertEqual(use(), 0)
        clock.advance(25_000)
        XCTAssertEqual(tpm.property(0x20E), 0)
        // DictionaryAttackLockReset clears it at once.
        XCTAssertEqual(use([1]), 0x98E)
        XCTAssertEqual(use([1]), 0x98E)
        XCTAssertEqual(use(), 0x921)
        XCTAssertEqual(lockoutCommand(tpm, .dictionaryAttackLockReset), 0)
        XCTAssertEqual(use(), 0)
        // recoveryTime 0: no counting at all.
        XCTAssertEqual(parameters(tpm, maxTries: 2, recovery: 0, lockoutRecovery: 1000), 0)
        for _ in 0..<5 { XCTAssertEqual(use([1]), 0x98E) }
        XCTAssertEqual(tpm.property(0x20E), 0)
    }

    func testNonOrderlyShutdownCountsAFailureOnlyAfterDAUse() throws {
        // Not orderly, DA used: one failure counted at the next Startup.
        var tpm = startedTPM()
        _ = try daBoundSession(tpm)
        XCTAssertEqual(tpm.run(.getRandom, Spec.u16(4), [SessionUse(session: try XCTUnwrap(tpm.startSession()), attributes: 0x41)]).code, 0)
        let s = try daBoundSession(tpm)
        XCTAssertEqual(tpm.run(.getRandom, Spec.u16(4), [SessionUse(session: s, attributes: 0x41)]).code, 0)
        tpm.powerOff()
        tpm.powerOn()
        XCTAssertEqual(tpm.startup(.clear), 0)
        XCTAssertEqual(tpm.property(0x20E), 1)
        XCTAssertFalse(tpm.persistent.da.used)
        // Not orderly, DA not used: nothing.
        tpm.powerOff()
        tpm.powerOn()
        XCTAssertEqual(tpm.startup(.clear), 0)
        XCTAssertEqual(tpm.property(0x20E), 1)
        // Orderly after DA use: nothing.
        tpm = startedTPM()
        let t = try daBoundSession(tpm)
        XCTAssertEqual(tpm.run(.getRandom, Spec.u16(4), [SessionUse(session: t, attributes: 0x41)]).code, 0)
        tpm.shutdown(.clear)
        tpm.powerOff()
        tpm.powerOn()
        XCTAssertEqual(tpm.startup(.clear), 0)
        XCTAssertEqual(tpm.property(0x20E), 0)
    }

    func testDictionaryAttackStateIsInThePermanentPart() throws {
        let tpm = startedTPM()
        XCTAssertEqual(parameters(tpm, maxTries: 9, recovery: 8, lockoutRecovery: 7), 0)
        XCTAssertEqual(lockoutCommand(tpm, .dictionaryAttackLockReset, password: [1]), 0x98E)
        tpm.persistent.da.failedTries = 4
        let again = try TPM(environment: testEnvironment(), permanentState: tpm.exportPermanentState())
        XCTAssertEqual(
            again.persistent.da,
            DictionaryAttackState(failedTries: 4, maxTries: 9, recoveryTime: 8, lockoutRecovery: 7, lockoutAuthEnabled: false))
    }
}
