import Foundation
import TPMEngine
import TPMWire
import XCTest

@testable import VTPMHost

/// Idle eviction (InstanceCore.evictIfIdle) and the deferred storage lock (swtpm `--migration
/// incoming`, CMD_LOCK_STORAGE).
final class EvictionTests: XCTestCase {
    /// TPMS_TIME_INFO.time from a ReadClock response (no sessions: it follows the header).
    private func time(_ r: [UInt8]) -> UInt64 { r[10..<18].reduce(0) { $0 << 8 | UInt64($1) } }

    func testEvictionIsTransparentAndTimeRunsOn() throws {
        let dir = temporaryDirectory(self)
        let env = TestEnvironmentState(seed: 3)
        let instance = Instance(store: try StateStore(directory: dir), environment: env.environment, log: .discard)
        try instance.sync { core in
            try core.powerOn(resumeVolatile: true)
            XCTAssertEqual(responseCode(core.execute(Commands.startupClear)), 0)
            XCTAssertEqual(responseCode(core.execute(Commands.extend16)), 0)
            let t0 = time(core.execute(tpmCommand(.readClock)))
            env.advance(1000)
            XCTAssertTrue(core.evictIfIdle(idleNanoseconds: 0))
            XCTAssertTrue(core.isEvicted && core.isRunning)
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/vtpm-evicted"))
            XCTAssertFalse(core.evictIfIdle(idleNanoseconds: 0), "evicted already")
            env.advance(5000)
            // PCR 16 as extended (SHA-256 computed with hashlib), no new Startup needed.
            let r = core.execute(Commands.read16)
            XCTAssertEqual(responseCode(r), 0)
            XCTAssertEqual(Array(r.suffix(32)), Commands.extended16)
            XCTAssertFalse(core.isEvicted)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/vtpm-evicted"))
            // TPM Time ran on while the engine was out of memory (the test clock moved 6000 ms).
            XCTAssertEqual(time(core.execute(tpmCommand(.readClock))) - t0, 6000)
            XCTAssertEqual(core.evictionCount, 1)
            // A power cycle while evicted loses the volatile state, as it loses RAM.
            XCTAssertTrue(core.evictIfIdle(idleNanoseconds: 0))
            core.powerOff()
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/vtpm-evicted"))
            try core.powerOn(resumeVolatile: true)
            XCTAssertEqual(responseCode(core.execute(Commands.read16)), TPMRC.initialize.rawValue, "needs Startup again")
            XCTAssertFalse(core.evictIfIdle(idleNanoseconds: 60_000_000_000), "not idle that long")
        }
    }

    /// An evicted state that cannot be loaded back stops the TPM (TPM_RC_FAILURE, as a TPM in
    /// failure mode); the next power-on starts from the permanent state.
    func testLostEvictedStateFailsThenPowerOnRecovers() throws {
        let dir = temporaryDirectory(self)
        let instance = Instance(
            store: try StateStore(directory: dir), environment: TestEnvironmentState(seed: 5).environment, log: .discard)
        try instance.sync { core in
            try core.powerOn(resumeVolatile: true)
            XCTAssertEqual(responseCode(core.execute(Commands.startupClear)), 0)
            XCTAssertTrue(core.evictIfIdle(idleNanoseconds: 0))
            XCTAssertEqual(unlink(dir + "/vtpm-evicted"), 0)
            XCTAssertEqual(responseCode(core.execute(Commands.getRandom8)), TPMRC.failure.rawValue)
            XCTAssertFalse(core.isRunning)
            try core.powerOn(resumeVolatile: true)
            XCTAssertFalse(core.isEvicted)
            XCTAssertEqual(responseCode(core.execute(Commands.startupClear)), 0)
            XCTAssertEqual(responseCode(core.execute(Commands.getRandom8)), 0)
        }
    }

    func testDeferredLockWaitsForTheHolder() throws {
        let dir = temporaryDirectory(self)
        let holder = try StateStore(directory: dir)
        let incoming = try StateStore(directory: dir, lock: false)
        XCTAssertFalse(incoming.isLocked)
        let start = Date()
        XCTAssertThrowsError(try incoming.lock(retries: 5)) { XCTAssertEqual($0 as? StateStoreError, .locked(dir)) }
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.045, "5 retries 10 ms apart")
        holder.release()
        XCTAssertNoThrow(try incoming.lock(retries: 0))
        XCTAssertTrue(incoming.isLocked)
        // The instance that lost the lock: LOCK_STORAGE fails, a TPM command gets TPM_RC_FAILURE.
        let instance = Instance(store: holder, environment: TestEnvironmentState(seed: 1).environment, log: .discard)
        instance.sync { core in
            XCTAssertFalse(core.lockStorage(retries: 1))
            incoming.release()
            XCTAssertTrue(core.lockStorage(retries: 0))
        }
    }
}
