import Crypto
import Foundation
import TPMWire
import XCTest

@testable import TPMEngine

func evictCommand(_ object: TPMHandle, _ persistent: UInt32, by h: TPMHandle = .owner) -> [UInt8] {
    command(.evictControl, tag: .sessions, withPassword(handles: [h, object], params: be32(persistent)))
}

private func rcP(_ base: UInt32, _ n: UInt32) -> UInt32 { base | 0x40 | (n << 8) }
private func rcH(_ base: UInt32, _ n: UInt32) -> UInt32 { base | (n << 8) }

/// Persistent objects (TPM2_EvictControl, Part 3, 28.5) and NV contents in the state format
/// (version 3, docs/state-format.md).
final class PersistentObjectTests: XCTestCase {
    static let fixtureDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    func testEvictControlChecks() {
        let primary = createPrimaryCommand(.owner, Templates.rsa(bits: 1024))
        let nullPrimary = createPrimaryCommand(.null, Templates.rsa(bits: 1024))
        let platformPrimary = createPrimaryCommand(.platform, Templates.rsa(bits: 1024))
        let t = TPMHandle(0x8000_0000)
        let p: UInt32 = 0x8100_0010
        let cases = [
            DifferentialCase(
                name: "persist, use, remove",
                steps: [
                    primary, evictCommand(t, p), evictCommand(t, p), command(.readPublic, be32(p)),
                    evictCommand(TPMHandle(p), p + 1),  // a persistent object only at its own handle
                    evictCommand(TPMHandle(p), p, by: .platform),  // the platform may remove it
                    command(.readPublic, be32(p)),
                ],
                expected: [0, 0, 0x14C, 0, rcH(0x08B, 2), 0, rcH(0x08B, 1)]),
            DifferentialCase(
                name: "ranges and hierarchies",
                steps: [
                    primary,
                    evictCommand(t, 0x8180_0000),  // owner outside its range
                    evictCommand(t, 0x8000_0001),  // not a persistent handle
                    evictCommand(t, p + 2, by: .platform),  // platform, owner object
                    platformPrimary,
                    evictCommand(TPMHandle(0x8000_0001), p + 3, by: .platform),  // platform outside its range
                    evictCommand(TPMHandle(0x8000_0001), 0x8180_0003),  // owner, platform object
                    evictCommand(TPMHandle(0x8000_0001), 0x8180_0003, by: .platform),
                    evictCommand(TPMHandle(0x8180_0003), 0x8180_0003),  // the owner cannot remove it
                    evictCommand(TPMHandle(0x8180_0003), 0x8180_0003, by: .platform),
                ],
                expected: [0, rcP(0x08D, 1), rcP(0x084, 1), rcH(0x085, 2), 0, rcP(0x08D, 1), rcH(0x085, 2), 0, rcH(0x085, 2), 0]),
            DifferentialCase(
                name: "temporary objects cannot persist",
                steps: [nullPrimary, evictCommand(t, p + 4)],
                expected: [0, rcH(0x082, 2)]),
            DifferentialCase(
                name: "context commands refuse persistent handles",
                steps: [
                    primary, evictCommand(t, p + 5), command(.flushContext, be32(p + 5)), command(.contextSave, be32(p + 5)),
                    evictCommand(TPMHandle(p + 5), p + 5),
                ],
                expected: [0, 0, rcP(0x084, 1), rcH(0x084, 1), 0]),
            DifferentialCase(
                name: "a persistent object takes a transient slot while used",
                steps: [
                    primary, evictCommand(t, p + 6), nullPrimary, nullPrimary, command(.readPublic, be32(p + 6)),
                    flushCommand(TPMHandle(0x8000_0002)), command(.readPublic, be32(p + 6)), evictCommand(TPMHandle(p + 6), p + 6),
                ],
                expected: [0, 0, 0, 0, 0x902, 0, 0, 0]),
        ]
        runDifferential(cases)
    }

    func testPersistentObjectWorksLikeALoadedOne() throws {
        let tpm = startedTPM()
        let srk = try makePrimary(tpm, .owner, Templates.rsa(bits: 1024))
        XCTAssertEqual(responseCode(tpm.execute(command: evictCommand(srk.handle, 0x8100_0001))), 0)
        XCTAssertTrue(tpm.nvChanged)
        XCTAssertEqual(responseCode(tpm.execute(command: flushCommand(srk.handle))), 0)
        // ReadPublic answers the same Name, computed independently.
        let r = tpm.execute(command: command(.readPublic, be32(0x8100_0001)))
        XCTAssertEqual(responseCode(r), 0)
        var rd = TPMReader(Array(r[10...]))
        let pub = try rd.sized(max: 1024)
        XCTAssertEqual(try rd.sized(max: 100), independentName(pub))
        XCTAssertEqual(pub, srk.publicBytes)
        // A child created under the persistent parent loads under it.
        let child = try parseCreate(
            tpm.execute(
                command: createCommand(
                    parent: TPMHandle(0x8100_0001), Templates.keyedHash(attributes: Templates.sealAttributes), data: [1, 2])))
        let l = tpm.execute(
            command: loadCommand(parent: TPMHandle(0x8100_0001), outPrivate: child.outPrivate, publicArea: child.publicArea))
        XCTAssertEqual(responseCode(l), 0)
        XCTAssertEqual(tpm.propertyValue(.hrPersistent), 1)
        let cap = tpm.execute(command: command(.getCapability, be32(1) + be32(0x8100_0000) + be32(10)))
        XCTAssertEqual(Array(cap[10...]), [0] + be32(1) + be32(1) + be32(0x8100_0001))
    }

    func testClearRemovesOwnerNVAndPersistentObjects() throws {
        let tpm = startedTPM()
        let srk = try makePrimary(tpm, .owner, Templates.rsa(bits: 1024))
        let ek = try makePrimary(tpm, .endorsement, Templates.rsa(bits: 1024))
        let pk = try makePrimary(tpm, .platform, Templates.rsa(bits: 1024))
        XCTAssertEqual(responseCode(tpm.execute(command: evictCommand(srk.handle, 0x8100_0001))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: evictCommand(ek.handle, 0x8101_0001))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: evictCommand(pk.handle, 0x8180_0001, by: .platform))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: NV.define(0x0150_0001, NV.rw, size: 8))), 0)
        let platformIndex = NV.ppRead | NV.ppWrite | NV.ownerRead | NV.platformCreate
        XCTAssertEqual(responseCode(tpm.execute(command: NV.define(0x0150_0002, platformIndex, size: 8, by: .platform))), 0)
        XCTAssertEqual(
            responseCode(tpm.execute(command: command(.clear, tag: .sessions, withPassword(handles: [.platform], params: [])))), 0)
        XCTAssertEqual(tpm.persistent.evictObjects.keys.sorted(), [0x8180_0001])
        XCTAssertEqual(tpm.persistent.nvIndices.keys.sorted(), [0x0150_0002])
    }

    func testDisabledHierarchyHidesItsNVAndObjects() throws {
        let tpm = startedTPM()
        let srk = try makePrimary(tpm, .owner, Templates.rsa(bits: 1024))
        XCTAssertEqual(responseCode(tpm.execute(command: evictCommand(srk.handle, 0x8100_0001))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: NV.define(0x0150_0001, NV.rw, size: 8))), 0)
        tpm.volatile.startupClear.remove(.shEnable)  // as HierarchyControl would
        XCTAssertEqual(responseCode(tpm.execute(command: command(.readPublic, be32(0x8100_0001)))), rcH(0x08B, 1))
        XCTAssertEqual(responseCode(tpm.execute(command: NV.readPublic(0x0150_0001))), rcH(0x08B, 1))
    }

    func testPlatformNVNeedsPhEnableNVAndEndorsementObjectsEhEnable() throws {
        let tpm = startedTPM()
        let platformIndex = NV.ppRead | NV.ppWrite | NV.platformCreate
        XCTAssertEqual(responseCode(tpm.execute(command: NV.define(0x0150_0001, platformIndex, size: 8, by: .platform))), 0)
        let ek = try makePrimary(tpm, .endorsement, Templates.rsa(bits: 1024))
        XCTAssertEqual(responseCode(tpm.execute(command: evictCommand(ek.handle, 0x8101_0001))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: flushCommand(ek.handle))), 0)
        tpm.volatile.startupClear.remove(.phEnableNV)
        // Platform Indices are hidden and none can be defined (TPM_RC_HIERARCHY + H1).
        XCTAssertEqual(responseCode(tpm.execute(command: NV.readPublic(0x0150_0001))), rcH(0x08B, 1))
        XCTAssertEqual(responseCode(tpm.execute(command: NV.define(0x0150_0002, platformIndex, size: 8, by: .platform))), rcH(0x085, 1))
        tpm.volatile.startupClear.remove(.ehEnable)
        // An endorsement object is hidden, except from EvictControl, which may still remove it.
        XCTAssertEqual(responseCode(tpm.execute(command: command(.readPublic, be32(0x8101_0001)))), rcH(0x08B, 1))
        XCTAssertEqual(responseCode(tpm.execute(command: evictCommand(TPMHandle(0x8101_0001), 0x8101_0001))), 0)
        XCTAssertTrue(tpm.persistent.evictObjects.isEmpty)
    }

    // MARK: state format version 3

    /// The NV contents the v3 fixture was written with.
    static func populate(_ tpm: TPM) throws {
        let srk = try makePrimary(tpm, .owner, Templates.rsa(bits: 1024), auth: [3])
        tpm.execute(command: evictCommand(srk.handle, 0x8100_0003)).check()
        tpm.execute(command: NV.define(0x0150_0001, NV.rw, size: 16, auth: [9, 9])).check()
        tpm.execute(command: NV.write(0x0150_0001, Array("sixteen octets!!".utf8))).check()
        tpm.execute(command: NV.define(0x0150_0002, NV.rw | NV.counter, size: 8)).check()
        for _ in 0..<5 { tpm.execute(command: NV.simple(.nvIncrement, 0x0150_0002)).check() }
        tpm.execute(command: NV.define(0x0150_0003, NV.rw | NV.extend, size: 32, policy: [UInt8](repeating: 0xAB, count: 32))).check()
        tpm.execute(command: NV.define(0x0150_0004, NV.rw | NV.counter, size: 8)).check()
        tpm.execute(command: NV.simple(.nvIncrement, 0x0150_0004)).check()
        tpm.execute(command: NV.undefine(0x0150_0004)).check()
    }

    /// VTPM_WRITE_STATE_FIXTURES=1 swift test --filter PersistentObjectTests writes the
    /// version-3 fixture if it does not exist yet (committed fixtures are frozen).
    func testWriteFixtureWhenAsked() throws {
        guard ProcessInfo.processInfo.environment["VTPM_WRITE_STATE_FIXTURES"] == "1" else { return }
        let url = Self.fixtureDirectory.appendingPathComponent("v3-nv.permanent.bin")
        guard !FileManager.default.fileExists(atPath: url.path) else { return }
        let tpm = startedTPM(seed: 33)
        try Self.populate(tpm)
        try Data(tpm.exportPermanentState()).write(to: url)
    }

    func testVersion3FixtureLoadsAndWorks() throws {
        let blob = Array(try Data(contentsOf: Self.fixtureDirectory.appendingPathComponent("v3-nv.permanent.bin")))
        XCTAssertEqual(Array(blob[4..<8]), [0, 0, 0, 3])
        let tpm = try TPM(environment: testEnvironment(seed: 4), permanentState: blob)
        // Canonical re-export, as version 5 (the policy/audit fields and the commit state at their
        // defaults).
        let saved = tpm.persistent.savedState != nil
        XCTAssertEqual(
            tpm.exportPermanentState(),
            StateUpgrade.permanentV5(fromV4: StateUpgrade.permanentV4(fromV3: blob, savedState: saved), savedState: saved),
            "canonical re-export")
        tpm.powerOn()
        tpm.execute(command: command(.startup, [0, 0])).check()
        XCTAssertEqual(
            try nvReadData(tpm.execute(command: NV.read(0x0150_0001, size: 16, auth: TPMHandle(0x0150_0001), password: [9, 9]))),
            Array("sixteen octets!!".utf8))
        XCTAssertEqual(try nvReadData(tpm.execute(command: NV.read(0x0150_0002, size: 8))), be64(5))
        XCTAssertEqual(tpm.persistent.nvMaxCounter, 1)
        XCTAssertEqual(tpm.nvIndex(TPMHandle(0x0150_0003))?.publicArea.authPolicy.buffer, [UInt8](repeating: 0xAB, count: 32))
        XCTAssertNil(tpm.nvIndex(TPMHandle(0x0150_0004)))
        // The persistent storage key still works as a parent with its authValue.
        let child = tpm.execute(
            command: createCommand(
                parent: TPMHandle(0x8100_0003), Templates.keyedHash(attributes: Templates.sealAttributes), parentAuth: [3], data: [1]))
        XCTAssertEqual(responseCode(child), 0)
    }

    func testPersistentObjectOutsideItsHierarchysRangeIsMalformed() throws {
        let tpm = startedTPM()
        let pk = try makePrimary(tpm, .platform, Templates.rsa(bits: 1024))
        tpm.execute(command: evictCommand(pk.handle, 0x8180_0001, by: .platform)).check()
        let p = tpm.exportPermanentState()
        XCTAssertNoThrow(try TPM(environment: testEnvironment(), permanentState: p))
        var body = StateUpgrade.body(p)
        // No Index (count 0), one object (count 1), its handle: field 42.
        let marker = be16(0) + [1] + be32(0x8180_0001)
        let at = try XCTUnwrap((0..<(body.count - marker.count)).first { Array(body[$0..<($0 + marker.count)]) == marker })
        body.replaceSubrange((at + 3)..<(at + 7), with: be32(0x8100_0001))
        XCTAssertThrowsError(
            try TPM(environment: testEnvironment(), permanentState: StateUpgrade.seal(part: 1, version: StateBlob.currentVersion, body))
        ) {
            guard case StateError.malformed(let why)? = $0 as? StateError else { return XCTFail("\($0)") }
            XCTAssertTrue(why.contains("not a persistent key object"), why)
        }
    }

    func testNVStateRoundTripsAndRejectsMalformedContents() throws {
        let tpm = startedTPM(seed: 8)
        try Self.populate(tpm)
        let p = tpm.exportPermanentState()
        let copy = try TPM(environment: testEnvironment(), permanentState: p)
        XCTAssertEqual(copy.persistent, tpm.persistent)
        XCTAssertEqual(copy.exportPermanentState(), p)
        // Index data shorter than its dataSize, an Index count beyond the bound: malformed (in
        // the version-3 body: the current one less the version-4 fields at its end).
        let body = Array(StateUpgrade.body(p).dropLast(StateUpgrade.v4TailSize(tpm.persistent)))
        let nvStart =
            body.count
            - (8 + 2
                + tpm.persistent.nvIndices.values.reduce(0) {
                    $0 + 14 + $1.publicArea.authPolicy.count
                        + 2 + $1.authValue.count + $1.data.count
                } + 1 + 4 + tpm.persistent.evictObjects.values.reduce(0) { $0 + $1.encoded.count })
        var tooMany = body
        tooMany.replaceSubrange((nvStart + 8)..<(nvStart + 10), with: be16(UInt16(TPMLimits.maxNVIndices + 1)))
        XCTAssertThrowsError(try TPM(environment: testEnvironment(), permanentState: StateUpgrade.seal(part: 1, version: 3, tooMany)))
        var truncated = body
        truncated.removeLast(10)
        XCTAssertThrowsError(try TPM(environment: testEnvironment(), permanentState: StateUpgrade.seal(part: 1, version: 3, truncated)))
        XCTAssertEqual(Array(body[nvStart..<(nvStart + 8)]), be64(1), "nvMaxCounter where the document puts it")
    }
}

extension PersistentObjectTests {
    /// CreateLoaded under a persistent parent: the parent's copy holds the lowest free slot for
    /// the whole command (libtpms's ObjectLoadEvict), so the new object gets the next one.
    func testPersistentCopyHoldsASlotDuringTheCommand() throws {
        let steps = [
            createPrimaryCommand(.owner, Templates.rsa(bits: 1024)),
            evictCommand(TPMHandle(0x8000_0000), 0x8100_0020),
            flushCommand(TPMHandle(0x8000_0000)),
            createLoadedCommand(
                parent: TPMHandle(0x8100_0020), templateBytes: Templates.keyedHash(attributes: Templates.sealAttributes).wireBytes,
                data: [1]),
            createLoadedCommand(
                parent: TPMHandle(0x8100_0020), templateBytes: Templates.keyedHash(attributes: Templates.sealAttributes).wireBytes,
                data: [2]),
            createLoadedCommand(
                parent: TPMHandle(0x8100_0020), templateBytes: Templates.keyedHash(attributes: Templates.sealAttributes).wireBytes,
                data: [3]),
            evictCommand(TPMHandle(0x8100_0020), 0x8100_0020),
        ]
        runDifferential([DifferentialCase(name: "persistent copy takes a slot", steps: steps, expected: [0, 0, 0, 0, 0, 0x902, 0])])
        let tpm = startedTPM()
        var handles: [UInt32] = []
        for s in steps {
            let r = tpm.execute(command: s)
            if responseCode(r) == 0 && s[6..<10].elementsEqual(be32(TPMCC.createLoaded.rawValue)) {
                handles.append(responseHandle(r).rawValue)
            }
        }
        XCTAssertEqual(handles, [0x8000_0001, 0x8000_0002])
    }
}
