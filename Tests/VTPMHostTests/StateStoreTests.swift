import Foundation
import XCTest

@testable import VTPMHost

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

final class StateStoreTests: XCTestCase {
    func testWriteReadReplaceDelete() throws {
        let dir = temporaryDirectory(self)
        let store = try StateStore(directory: dir)
        XCTAssertNil(try store.read(.permanent))
        try store.write(.permanent, [1, 2, 3])
        XCTAssertEqual(try store.read(.permanent), [1, 2, 3])
        try store.write(.permanent, [9])
        XCTAssertEqual(try store.read(.permanent), [9])
        try store.write(.volatile, [])
        XCTAssertEqual(try store.read(.volatile), [])
        try store.delete(.volatile)
        XCTAssertNil(try store.read(.volatile))
        try store.delete(.volatile)
        // Only the blobs and the lock: no temporary left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), [".lock", "vtpm-permanent"])
        var st = stat()
        XCTAssertEqual(stat(dir + "/vtpm-permanent", &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o640)
    }

    /// A second process (here: a second store) cannot open a directory in use: one TPM must
    /// never run twice.
    func testLock() throws {
        let dir = temporaryDirectory(self)
        let store = try StateStore(directory: dir)
        XCTAssertThrowsError(try StateStore(directory: dir)) { XCTAssertEqual($0 as? StateStoreError, .locked(dir)) }
        store.release()
        XCTAssertNoThrow(try StateStore(directory: dir))
    }

    /// Under `vtpm serve` an instance holds no lock descriptor: the daemon's DIR/.lock covers
    /// it. A standalone server on an instance directory is refused while the daemon runs, and
    /// the daemon does not take an instance a standalone server already runs.
    func testDaemonLockCoversInstances() throws {
        let root = temporaryDirectory(self)
        XCTAssertEqual(mkdir(root + "/instances", 0o700), 0)
        let dir = root + "/instances/a"
        let daemonLock = open(root + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        XCTAssertEqual(flock(daemonLock, LOCK_EX | LOCK_NB), 0)
        _ = try StateStore(directory: dir, create: true, locking: .heldByCaller)
        XCTAssertThrowsError(try StateStore(directory: dir)) { XCTAssertEqual($0 as? StateStoreError, .locked(dir)) }
        XCTAssertNoThrow(try StateStore(directory: dir, locking: .heldByCaller), "holds nothing")
        close(daemonLock)
        let standalone = try StateStore(directory: dir)
        XCTAssertThrowsError(try StateStore(directory: dir, locking: .heldByCaller)) {
            XCTAssertEqual($0 as? StateStoreError, .locked(dir))
        }
        standalone.release()
    }

    func testMissingDirectory() {
        XCTAssertThrowsError(try StateStore(directory: "/nonexistent/vtpm-state"))
        let dir = temporaryDirectory(self) + "/new"
        XCTAssertNoThrow(try StateStore(directory: dir, create: true))
    }

    /// A crash at any point of a write leaves the old blob or the new one, never a mix, and
    /// the next open discards the unfinished temporary.
    func testCrashDuringWriteNeverTearsState() throws {
        let old = [UInt8](repeating: 0x11, count: 5000)
        let new = [UInt8](repeating: 0x22, count: 7000)
        for step in [StateStore.WriteStep.tempWritten, .tempSynced, .renamed] {
            let dir = temporaryDirectory(self)
            do {
                let store = try StateStore(directory: dir)
                try store.write(.permanent, old)
                store.crashAt = { $0 == step }
                try store.write(.permanent, new)
                store.release()
            }
            let reopened = try StateStore(directory: dir)
            let seen = try reopened.read(.permanent)
            XCTAssertTrue(seen == old || seen == new, "step \(step)")
            XCTAssertEqual(seen, step == .renamed ? new : old)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/.vtpm-permanent.tmp"), "step \(step)")
        }
    }

    /// A blob larger than any state is refused rather than read into memory.
    func testOversizedBlob() throws {
        let dir = temporaryDirectory(self)
        let store = try StateStore(directory: dir)
        let fd = open(dir + "/vtpm-permanent", O_WRONLY | O_CREAT, 0o600)
        XCTAssertEqual(ftruncate(fd, off_t(StateStore.maxBlobSize + 1)), 0)
        close(fd)
        XCTAssertThrowsError(try store.read(.permanent))
    }
}

final class InstanceTests: XCTestCase {
    /// The permanent state is on disk before the response to a command that changed it.
    func testNVChangeIsDurableBeforeTheResponse() throws {
        let dir = temporaryDirectory(self)
        let instance = try makeInstance(self, dir: dir)
        try instance.sync { core in
            try core.powerOn(resumeVolatile: true)
            try core.store.delete(.permanent)
            XCTAssertEqual(responseCode(core.execute(Commands.startupClear)), 0)
            // Startup changes NV (resetCount, orderly state): written by the time it answers.
            XCTAssertNotNil(try core.store.read(.permanent))
        }
    }

    /// When the state cannot be written the command fails and the TPM stops, so nothing
    /// answers from a state that a crash would lose; the next _TPM_Init reloads from disk.
    func testFailedStateWriteStopsTheTPM() throws {
        let dir = temporaryDirectory(self)
        let instance = try makeInstance(self, dir: dir)
        try instance.sync { core in
            try core.powerOn(resumeVolatile: true)
            XCTAssertEqual(rename(dir, dir + ".moved"), 0)
            defer { rename(dir + ".moved", dir) }
            XCTAssertEqual(core.execute(Commands.startupClear), bytes(hex: "80010000000a00000101"))
            XCTAssertFalse(core.isRunning)
            XCTAssertEqual(core.execute(Commands.getRandom8), bytes(hex: "80010000000a00000101"))
        }
        try instance.sync { core in
            try core.powerOn(resumeVolatile: true)
            XCTAssertEqual(responseCode(core.execute(Commands.startupClear)), 0)
        }
    }

    /// _TPM_Init needs a new Startup; STORE_VOLATILE then INIT without "delete volatile"
    /// consumes the stored volatile state (resumes once).
    func testPowerCycleAndVolatileState() throws {
        let instance = try makeInstance(self)
        try instance.sync { core in
            XCTAssertEqual(core.execute(Commands.getRandom8), bytes(hex: "80010000000a00000101"), "not yet powered on")
            try core.powerOn(resumeVolatile: true)
            XCTAssertEqual(responseCode(core.execute(Commands.getRandom8)), 0x100, "TPM_RC_INITIALIZE before Startup")
            XCTAssertEqual(responseCode(core.execute(Commands.startupClear)), 0)
            XCTAssertEqual(responseCode(core.execute(Commands.extend16)), 0)
            let read = core.execute(Commands.read16)
            XCTAssertEqual(responseCode(read), 0)
            XCTAssertEqual(Array(read.suffix(32)), Commands.extended16)
            try core.storeVolatile()
            XCTAssertNotNil(try core.store.read(.volatile))
            try core.powerOn(resumeVolatile: false)
            XCTAssertNil(try core.store.read(.volatile), "INIT with delete-volatile discards it")
            XCTAssertEqual(responseCode(core.execute(Commands.getRandom8)), 0x100)
        }
    }

    /// An NV change survives a crash right after its response: no flush, no orderly exit.
    /// (swtpm answers a wrong owner password with TPM_RC_BAD_AUTH for session 1, 0x9a2.)
    func testNVChangeSurvivesCrash() throws {
        let dir = temporaryDirectory(self)
        do {
            let instance = try makeInstance(self, dir: dir, seed: 1)
            try instance.sync { core in
                try core.powerOn(resumeVolatile: true)
                XCTAssertEqual(responseCode(core.execute(Commands.startupClear)), 0)
                XCTAssertEqual(responseCode(core.execute(Commands.changeOwnerAuth(password: [], newAuth: Array("abc".utf8)))), 0)
                core.store.release()  // the process dies here
            }
        }
        let instance = try makeInstance(self, dir: dir, seed: 2)
        try instance.sync { core in
            try core.powerOn(resumeVolatile: true)
            XCTAssertEqual(responseCode(core.execute(Commands.startupClear)), 0)
            XCTAssertEqual(responseCode(core.execute(Commands.changeOwnerAuth(password: [], newAuth: []))), 0x9A2)
            XCTAssertEqual(responseCode(core.execute(Commands.changeOwnerAuth(password: Array("abc".utf8), newAuth: []))), 0)
        }
    }

    /// QEMU's migration sequence: on the source GET_STATEBLOB permanent, volatile and
    /// savestate; on the destination STOP, SET_STATEBLOB x3, INIT without "delete volatile".
    /// The destination continues where the source was: started, same PCRs.
    func testMigrationThroughStateBlobs() throws {
        let source = try makeInstance(self, seed: 1)
        var blobs: [[UInt8]] = []
        try source.sync { core in
            try core.powerOn(resumeVolatile: true)
            XCTAssertEqual(responseCode(core.execute(Commands.startupClear)), 0)
            XCTAssertEqual(responseCode(core.execute(Commands.extend16)), 0)
            for type: UInt32 in [1, 2, 3] {
                let reply = ControlChannel.stateBlobReply(type: type, offset: 0, core: core)
                let result = reply[0..<4].reduce(0) { $0 << 8 | UInt32($1) }
                XCTAssertEqual(result, type == 3 ? PTM.Result.retry : 0)
                blobs.append(Array(reply[16...]))
            }
        }
        XCTAssertFalse(blobs[0].isEmpty)
        XCTAssertFalse(blobs[1].isEmpty)
        let destination = try makeInstance(self, seed: 2)
        try destination.sync { core in
            try core.powerOn(resumeVolatile: true)
            core.powerOff()
            for (type, blob) in zip([UInt32(1), 2, 3], blobs) {
                let m = ControlMessage(code: 13, body: be32(0) + be32(type) + be32(UInt32(blob.count)) + blob)
                XCTAssertEqual(ControlChannel.handle(m, core: core).0, be32(0), "type \(type)")
            }
            try core.powerOn(resumeVolatile: true)
            let read = core.execute(Commands.read16)
            XCTAssertEqual(responseCode(read), 0, "already started: no Startup needed")
            XCTAssertEqual(Array(read.suffix(32)), Commands.extended16)
            XCTAssertNil(try core.store.read(.volatile), "a resumed volatile state is used once")
        }
    }

    /// A stored volatile state names the permanent state it belongs to; the first NV write
    /// after it makes it stale, and it is removed rather than left to fail a later start.
    func testStaleVolatileStateIsRemoved() throws {
        let instance = try makeInstance(self)
        try instance.sync { core in
            try core.powerOn(resumeVolatile: true)
            XCTAssertEqual(responseCode(core.execute(Commands.startupClear)), 0)
            try core.storeVolatile()
            XCTAssertNotNil(try core.store.read(.volatile))
            XCTAssertEqual(responseCode(core.execute(Commands.changeOwnerAuth(password: [], newAuth: [1]))), 0)
            XCTAssertNil(try core.store.read(.volatile))
        }
    }

    /// STORE_VOLATILE, then a new process: it resumes without Startup, PCRs kept.
    func testSuspendAndResumeAcrossProcesses() throws {
        let dir = temporaryDirectory(self)
        do {
            let instance = try makeInstance(self, dir: dir, seed: 1)
            try instance.sync { core in
                try core.powerOn(resumeVolatile: true)
                XCTAssertEqual(responseCode(core.execute(Commands.startupClear)), 0)
                XCTAssertEqual(responseCode(core.execute(Commands.extend16)), 0)
                try core.storeVolatile()
                core.store.release()
            }
        }
        let instance = try makeInstance(self, dir: dir, seed: 2)
        try instance.sync { core in
            try core.powerOn(resumeVolatile: true)
            XCTAssertEqual(Array(core.execute(Commands.read16).suffix(32)), Commands.extended16)
        }
    }

    func testPerform() async throws {
        let instance = try makeInstance(self)
        try instance.sync { try $0.powerOn(resumeVolatile: true) }
        let r1 = await instance.perform { $0.execute(Commands.startupClear) }
        let r2 = await instance.perform { $0.execute(Commands.getRandom8) }
        XCTAssertEqual(responseCode(r1), 0)
        XCTAssertEqual(responseCode(r2), 0)
        XCTAssertEqual(r2.count, 10 + 2 + 8)
    }
}
