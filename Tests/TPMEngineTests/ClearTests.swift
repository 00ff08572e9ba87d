import TPMEngine
import TPMWire
import XCTest

@testable import TPMEngine

/// TPM2_Clear and TPM2_ClearControl (Part 3, 24.6-24.7); codes as libtpms answers them.
final class ClearTests: XCTestCase {
    func run(_ tpm: TPM, _ cc: TPMCC, _ h: TPMHandle, password: [UInt8] = [], _ params: [UInt8] = []) -> UInt32 {
        responseCode(tpm.execute(command: command(cc, tag: .sessions, withPassword(handles: [h], password: password, params: params))))
    }

    func testClearResetsOwnerStateClockAndCounters() {
        let clock = TestClock()
        let tpm = startedTPM(clock: clock)
        XCTAssertEqual(run(tpm, .hierarchyChangeAuth, .owner, TPM2BAuth(Array("o".utf8)).wireBytes), 0)
        XCTAssertEqual(run(tpm, .hierarchyChangeAuth, .lockout, TPM2BAuth(Array("l".utf8)).wireBytes), 0)
        let sps = tpm.persistent.sps
        let eps = tpm.persistent.eps
        let shProof = tpm.persistent.shProof
        clock.advance(50_000)
        let counter = tpm.volatile.pcrUpdateCounter
        XCTAssertEqual(run(tpm, .clear, .owner), 0x184, "owner is not a TPMI_RH_CLEAR")
        XCTAssertEqual(run(tpm, .clear, .lockout, password: Array("l".utf8)), 0)
        XCTAssertNotEqual(tpm.persistent.sps, sps)
        XCTAssertNotEqual(tpm.persistent.shProof, shProof)
        XCTAssertEqual(tpm.persistent.eps, eps, "the endorsement seed survives Clear")
        XCTAssertEqual(tpm.persistent.owner.authValue, [])
        XCTAssertEqual(tpm.persistent.lockout.authValue, [])
        XCTAssertEqual(tpm.volatile.pcrUpdateCounter, counter + 1)
        let r = tpm.execute(command: command(.readClock))
        var reader = TPMReader(Array(r.dropFirst(10)))
        let info = try! TPMSTimeInfo(from: &reader)
        XCTAssertEqual(info.clockInfo.clock, 0)
        XCTAssertEqual(info.clockInfo.resetCount, 0)
        XCTAssertEqual(info.clockInfo.restartCount, 0)
        XCTAssertTrue(info.clockInfo.safe)
        // The empty owner password works again.
        XCTAssertEqual(run(tpm, .hierarchyChangeAuth, .owner, [0, 0]), 0)
        // A wrong lockout password is a dictionary-attack failure (TPM_RC_AUTH_FAIL, session
        // 1) and then locks lockoutAuth out for lockoutRecovery (TPM_RC_LOCKOUT).
        XCTAssertEqual(run(tpm, .clear, .lockout, password: [9]), 0x98E)
        XCTAssertEqual(run(tpm, .clear, .lockout), 0x921)
    }

    func testClearControl() {
        let tpm = startedTPM()
        XCTAssertEqual(run(tpm, .clearControl, .lockout, [1]), 0)
        XCTAssertTrue(tpm.persistent.disableClear)
        XCTAssertEqual(run(tpm, .clear, .lockout), 0x120, "TPM_RC_DISABLED")
        XCTAssertEqual(run(tpm, .clear, .platform), 0x120)
        XCTAssertEqual(run(tpm, .clearControl, .lockout, [0]), 0x08E, "only the platform may re-enable Clear")
        XCTAssertEqual(run(tpm, .clearControl, .platform, [2]), 0x1C4)
        XCTAssertEqual(run(tpm, .clearControl, .platform, [0]), 0)
        XCTAssertEqual(run(tpm, .clear, .platform), 0)
    }

    func testClearFlushesNothingOfTheNullHierarchy() {
        let tpm = startedTPM()
        let r = tpm.execute(command: command(.hashSequenceStart, [0, 0, 0, 0x0B]))
        XCTAssertEqual(responseCode(r), 0)
        XCTAssertEqual(run(tpm, .clear, .lockout), 0)
        XCTAssertEqual(tpm.volatile.objects.count, 1, "a sequence object belongs to the NULL hierarchy")
    }
}
