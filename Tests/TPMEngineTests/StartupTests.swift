import Crypto
import TPMEngine
import TPMWire
import XCTest

/// Startup and Shutdown semantics (Part 1, 12.2): TPM Reset, Restart and Resume.
final class StartupTests: XCTestCase {
    func extend(_ tpm: TPM, pcr: UInt32, _ byte: UInt8) {
        let p = TPMLDigestValues([TPMTHA(hashAlg: .sha256, digest: [UInt8](repeating: byte, count: 32))]).wireBytes
        XCTAssertEqual(
            responseCode(tpm.execute(command: command(.pcrExtend, tag: .sessions, withPassword(handles: [TPMHandle(pcr)], params: p)))), 0)
    }

    func read(_ tpm: TPM, pcr: Int) -> [UInt8] {
        let r = tpm.execute(command: command(.pcrRead, TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: [pcr])]).wireBytes))
        XCTAssertEqual(responseCode(r), 0)
        return Array(r.suffix(32))
    }

    func clockInfo(_ tpm: TPM) -> TPMSTimeInfo {
        let r = tpm.execute(command: command(.readClock))
        var reader = TPMReader(Array(r.dropFirst(10)))
        return try! TPMSTimeInfo(from: &reader)
    }

    func cycle(_ tpm: TPM, shutdown: TPMSU?, startup: TPMSU) -> UInt32 {
        if let shutdown {
            XCTAssertEqual(responseCode(tpm.execute(command: command(.shutdown, [0, UInt8(shutdown.rawValue)]))), 0)
        }
        tpm.powerOff()
        tpm.powerOn()
        return responseCode(tpm.execute(command: command(.startup, [0, UInt8(startup.rawValue)])))
    }

    let zeros = [UInt8](repeating: 0, count: 32)
    func extended(_ byte: UInt8) -> [UInt8] { Array(SHA256.hash(data: zeros + [UInt8](repeating: byte, count: 32))) }

    func testResumeKeepsSavedPCRsOnly() {
        let tpm = startedTPM()
        extend(tpm, pcr: 5, 0x11)
        extend(tpm, pcr: 16, 0x22)
        XCTAssertEqual(cycle(tpm, shutdown: .state, startup: .state), 0)
        XCTAssertEqual(read(tpm, pcr: 5), extended(0x11))
        XCTAssertEqual(read(tpm, pcr: 16), zeros, "PCR 16 is not saved by Shutdown(STATE)")
        let info = clockInfo(tpm)
        XCTAssertEqual(info.clockInfo.resetCount, 1)
        XCTAssertEqual(info.clockInfo.restartCount, 1)
        XCTAssertTrue(info.clockInfo.safe)
    }

    func testRestartResetsPCRsButCountsARestart() {
        let tpm = startedTPM()
        extend(tpm, pcr: 5, 0x11)
        XCTAssertEqual(cycle(tpm, shutdown: .state, startup: .clear), 0)
        XCTAssertEqual(read(tpm, pcr: 5), zeros)
        XCTAssertEqual(clockInfo(tpm).clockInfo.restartCount, 1)
        XCTAssertEqual(clockInfo(tpm).clockInfo.resetCount, 1)
    }

    func testResetAfterShutdownClear() {
        let tpm = startedTPM()
        extend(tpm, pcr: 5, 0x11)
        XCTAssertEqual(cycle(tpm, shutdown: .clear, startup: .clear), 0)
        XCTAssertEqual(read(tpm, pcr: 5), zeros)
        XCTAssertEqual(clockInfo(tpm).clockInfo.resetCount, 2)
        XCTAssertEqual(clockInfo(tpm).clockInfo.restartCount, 0)
        // Startup(STATE) after Shutdown(CLEAR) is refused.
        XCTAssertEqual(cycle(tpm, shutdown: .clear, startup: .state), 0x1C4)
    }

    func testPowerLossWithoutShutdownIsUnsafe() {
        let tpm = startedTPM()
        XCTAssertEqual(cycle(tpm, shutdown: nil, startup: .state), 0x1C4)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.startup, [0, 0]))), 0)
        let info = clockInfo(tpm)
        XCTAssertFalse(info.clockInfo.safe, "Clock may have gone back: Safe is NO")
        XCTAssertEqual(info.clockInfo.resetCount, 2)
    }

    func testStateChangeAfterShutdownStateCancelsOrderliness() {
        let tpm = startedTPM()
        XCTAssertEqual(responseCode(tpm.execute(command: command(.shutdown, [0, 1]))), 0)
        extend(tpm, pcr: 3, 0x33)
        XCTAssertEqual(cycle(tpm, shutdown: nil, startup: .state), 0x1C4)
    }

    func testShutdownBadType() {
        let tpm = startedTPM()
        XCTAssertEqual(responseCode(tpm.execute(command: command(.shutdown, [0, 2]))), 0x1C4)
    }

    func testStartupAtLocality3SetsPCR0() {
        let tpm = TPM(environment: testEnvironment())
        tpm.powerOn()
        XCTAssertEqual(responseCode(tpm.execute(locality: 3, command: command(.startup, [0, 0]))), 0)
        XCTAssertEqual(read(tpm, pcr: 0), zeros.dropLast() + [3])
        // DRTM PCRs start as all ones.
        XCTAssertEqual(read(tpm, pcr: 17), [UInt8](repeating: 0xFF, count: 32))
    }

    func testNVChangedIsReportedForPersistentChanges() {
        let tpm = startedTPM()
        tpm.acknowledgeNVWrite()
        _ = tpm.execute(command: command(.getRandom, [0, 8]))
        XCTAssertFalse(tpm.nvChanged)
        _ = tpm.execute(command: command(.shutdown, [0, 0]))
        XCTAssertTrue(tpm.nvChanged)
    }
}

/// ReadClock, ClockSet, ClockRateAdjust (Part 3, 29) with an injected clock.
final class ClockTests: XCTestCase {
    func readClock(_ tpm: TPM) -> TPMSTimeInfo {
        let r = tpm.execute(command: command(.readClock))
        var reader = TPMReader(Array(r.dropFirst(10)))
        return try! TPMSTimeInfo(from: &reader)
    }

    func clockSet(_ tpm: TPM, _ v: UInt64, handle: TPMHandle = .owner) -> UInt32 {
        var p = TPMWriter()
        p.u64(v)
        return responseCode(tpm.execute(command: command(.clockSet, tag: .sessions, withPassword(handles: [handle], params: p.bytes))))
    }

    func testClockAndTimeAdvanceWithTheHostClock() {
        let clock = TestClock()
        let tpm = startedTPM(clock: clock)
        let a = readClock(tpm)
        clock.advance(1500)
        let b = readClock(tpm)
        XCTAssertEqual(b.time - a.time, 1500)
        XCTAssertEqual(b.clockInfo.clock - a.clockInfo.clock, 1500)
    }

    func testClockSetRules() {
        let clock = TestClock()
        let tpm = startedTPM(clock: clock)
        clock.advance(10)
        XCTAssertEqual(clockSet(tpm, 0), 0x1C4, "Clock never goes back")
        XCTAssertEqual(clockSet(tpm, 1 << 40), 0)
        XCTAssertEqual(readClock(tpm).clockInfo.clock, 1 << 40)
        XCTAssertEqual(clockSet(tpm, 1 << 40, handle: .endorsement), 0x184, "only owner or platform")
        XCTAssertEqual(clockSet(tpm, 0xFFFF_0000_0000_0001), 0x1C4)
        XCTAssertEqual(clockSet(tpm, 0xFFFF_0000_0000_0000), 0)
        XCTAssertTrue(tpm.nvChanged)
    }

    func testClockRateAdjust() {
        let clock = TestClock()
        let tpm = startedTPM(clock: clock)
        func adjust(_ v: Int8) -> UInt32 {
            responseCode(
                tpm.execute(
                    command: command(.clockRateAdjust, tag: .sessions, withPassword(handles: [.owner], params: [UInt8(bitPattern: v)]))))
        }
        XCTAssertEqual(adjust(4), 0x1C4)
        XCTAssertEqual(adjust(-4), 0x1C4)
        XCTAssertEqual(adjust(3), 0)  // +1%
        let a = readClock(tpm)
        clock.advance(100_000)
        let b = readClock(tpm)
        XCTAssertEqual(b.time - a.time, 100_000, "Time is not adjusted")
        XCTAssertEqual(b.clockInfo.clock - a.clockInfo.clock, 101_000, "Clock runs 1% fast")
    }

    func testClockSetIsSafeAndSurvivesRestart() {
        let tpm = startedTPM()
        XCTAssertEqual(clockSet(tpm, 5_000_000), 0)
        _ = tpm.execute(command: command(.shutdown, [0, 0]))
        tpm.powerOff()
        tpm.powerOn()
        _ = tpm.execute(command: command(.startup, [0, 0]))
        let info = readClock(tpm)
        XCTAssertGreaterThanOrEqual(info.clockInfo.clock, 5_000_000)
        XCTAssertTrue(info.clockInfo.safe)
    }
}
