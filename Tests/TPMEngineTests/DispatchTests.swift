import TPMEngine
import TPMWire
import XCTest

/// Command framing, handle and authorization areas (Part 1, 18; Part 3, 5). Each expected
/// code is what libtpms 0.9 (swtpm) answers for the same bytes, unless noted.
final class DispatchTests: XCTestCase {
    func extendParams() -> [UInt8] {
        TPMLDigestValues([TPMTHA(hashAlg: .sha256, digest: [UInt8](repeating: 0, count: 32))]).wireBytes
    }

    func testBeforeStartup() {
        let tpm = TPM(environment: testEnvironment())
        tpm.powerOn()
        // The command code is looked up before the started state is checked.
        XCTAssertEqual(responseCode(tpm.execute(command: command(TPMCC(0x1FF)))), 0x143)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.getRandom, [0, 16]))), 0x100)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.startup, [0, 1]))), 0x1C4)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.startup, [0, 5]))), 0x1C4)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.startup, [0, 0]))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.startup, [0, 0]))), 0x100)
    }

    func testHeaderChecks() {
        let tpm = startedTPM()
        // Part 2, 9.29: TPMI_ST_COMMAND_TAG -> TPM_RC_BAD_TAG. (libtpms answers 0x084; see
        // docs/deviations.md.)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.getRandom, tag: TPMST(0x1234), [0, 16]))), 0x01E)
        var lying = command(.getRandom, [0, 16])
        lying[5] = 14
        XCTAssertEqual(responseCode(tpm.execute(command: lying)), 0x142)
        XCTAssertEqual(responseCode(tpm.execute(command: [0x80, 0x01, 0, 0, 0])), 0x09A)
        XCTAssertEqual(responseCode(tpm.execute(command: [])), 0x09A)
        XCTAssertEqual(responseCode(tpm.execute(command: [UInt8](repeating: 0, count: 5000))), 0x142)
        // Trailing parameter bytes: TPM_RC_SIZE without a number; a short parameter:
        // TPM_RC_INSUFFICIENT for parameter 1.
        XCTAssertEqual(responseCode(tpm.execute(command: command(.getRandom, [0, 16, 0]))), 0x095)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.getRandom, [0]))), 0x1DA)
        // TPM_ST_SESSIONS with no authorization size: it cannot be read.
        XCTAssertEqual(responseCode(tpm.execute(command: command(.getRandom, tag: .sessions, [0, 16]))), 0x09A)
    }

    func testErrorResponseIsTenBytes() {
        let tpm = startedTPM()
        let r = tpm.execute(command: command(TPMCC(0x1FF)))
        XCTAssertEqual(r, [0x80, 0x01, 0, 0, 0, 10, 0, 0, 1, 0x43])
    }

    func testHandleArea() {
        let tpm = startedTPM()
        // PCR 30 is not a TPMI_DH_PCR value: TPM_RC_VALUE for handle 1.
        let r = tpm.execute(command: command(.pcrExtend, tag: .sessions, withPassword(handles: [TPMHandle(30)], params: extendParams())))
        XCTAssertEqual(responseCode(r), 0x184)
        // TPM_RH_NULL is not a TPMI_RH_HIERARCHY_AUTH.
        let h = tpm.execute(command: command(.hierarchyChangeAuth, tag: .sessions, withPassword(handles: [.null], params: [0, 0])))
        XCTAssertEqual(responseCode(h), 0x184)
    }

    func testAuthorizationArea() {
        let tpm = startedTPM()
        var body = TPMWriter()
        body.u32(1)
        body.bytes(extendParams())
        XCTAssertEqual(responseCode(tpm.execute(command: command(.pcrExtend, body.bytes))), 0x125, "no sessions: AUTH_MISSING")

        func extend(auth: [UInt8], authSize: UInt32? = nil) -> UInt32 {
            var w = TPMWriter()
            w.u32(1)
            w.u32(authSize ?? UInt32(auth.count))
            w.bytes(auth)
            w.bytes(extendParams())
            return responseCode(tpm.execute(command: command(.pcrExtend, tag: .sessions, w.bytes)))
        }
        let pw: [UInt8] = [0x40, 0, 0, 9, 0, 0, 1, 0, 0]
        XCTAssertEqual(extend(auth: pw), 0)
        XCTAssertEqual(extend(auth: [0x40, 0, 0, 9, 0, 2, 0x61, 0x62, 1, 0, 0]), 0x98F, "password session with a nonce")
        XCTAssertEqual(extend(auth: [0x40, 0, 0, 9, 0, 0, 0x61, 0, 0]), 0x982, "password session with encrypt/decrypt")
        XCTAssertEqual(extend(auth: pw, authSize: 8), 0x095, "authorization size below the minimum")
        XCTAssertEqual(extend(auth: pw, authSize: 900), 0x095, "authorization size past the end")
        XCTAssertEqual(extend(auth: [0x40, 0, 0, 9, 0, 0, 0x19, 0, 0]), 0x9A1, "reserved session attribute bits")
        XCTAssertEqual(extend(auth: pw + pw + pw + pw), 0xC95, "more than three sessions")
        XCTAssertEqual(extend(auth: [0x40, 0, 0, 9, 0, 0, 0x80, 0, 0]), 0x982, "password session with audit")
        XCTAssertEqual(extend(auth: [0x40, 0, 0, 9, 0, 0, 1, 0, 65] + [UInt8](repeating: 0x61, count: 65)), 0x995, "hmac over size")
        XCTAssertEqual(extend(auth: [0x40, 0, 0, 9, 0, 0, 1, 0, 5, 1]), 0x99A, "hmac runs past the area")
        XCTAssertEqual(extend(auth: pw + pw), 0xA8B, "a second password session authorizes nothing")
        XCTAssertEqual(extend(auth: [0x02, 0, 0, 0, 0, 0, 1, 0, 0]), 0x918, "an HMAC session that is not loaded")
        XCTAssertEqual(extend(auth: [0x41, 0, 0, 0, 0, 0, 1, 0, 0]), 0x984, "not a session handle")
    }

    func testPasswordOnCommandWithoutAuthHandles() {
        let tpm = startedTPM()
        let r = tpm.execute(command: command(.getRandom, tag: .sessions, withPassword(handles: [], params: [0, 4])))
        XCTAssertEqual(responseCode(r), 0x98B)
    }

    func testHierarchyAuthChangeAndBadAuth() {
        let tpm = startedTPM()
        let secret = Array("owner-secret".utf8)
        XCTAssertEqual(
            responseCode(
                tpm.execute(
                    command: command(
                        .hierarchyChangeAuth, tag: .sessions, withPassword(handles: [.owner], params: TPM2BAuth(secret).wireBytes)))), 0)
        // Wrong password for a hierarchy (exempt from dictionary-attack lockout): BAD_AUTH.
        XCTAssertEqual(
            responseCode(
                tpm.execute(
                    command: command(.hierarchyChangeAuth, tag: .sessions, withPassword(handles: [.owner], password: [1], params: [0, 0])))),
            0x9A2)
        // Trailing zeros are not significant.
        XCTAssertEqual(
            responseCode(
                tpm.execute(
                    command: command(
                        .hierarchyChangeAuth, tag: .sessions, withPassword(handles: [.owner], password: secret + [0, 0], params: [0, 0])))),
            0)
        // Back to empty: the empty password works again.
        XCTAssertEqual(
            responseCode(
                tpm.execute(command: command(.hierarchyChangeAuth, tag: .sessions, withPassword(handles: [.owner], params: [0, 0])))), 0)
        // An authValue longer than the context-integrity digest: TPM_RC_SIZE, parameter 1.
        XCTAssertEqual(
            responseCode(
                tpm.execute(
                    command: command(
                        .hierarchyChangeAuth, tag: .sessions,
                        withPassword(handles: [.owner], params: TPM2BAuth([UInt8](repeating: 1, count: 64)).wireBytes)))), 0)
        XCTAssertEqual(
            responseCode(
                tpm.execute(
                    command: command(
                        .hierarchyChangeAuth, tag: .sessions,
                        withPassword(
                            handles: [.owner], password: [UInt8](repeating: 1, count: 64),
                            params: [0, 65] + [UInt8](repeating: 1, count: 65))))),
            0x1D5)
    }

    func testPasswordSessionResponse() {
        let tpm = startedTPM()
        var w = TPMWriter()
        w.u32(1)
        w.u32(9)
        w.bytes([0x40, 0, 0, 9, 0, 0, 0, 0, 0])  // continueSession clear in the command
        w.bytes(extendParams())
        let r = tpm.execute(command: command(.pcrExtend, tag: .sessions, w.bytes))
        // libtpms: TPM_ST_SESSIONS, parameterSize 0, empty nonce, continueSession set, empty hmac.
        XCTAssertEqual(r, [0x80, 0x02, 0, 0, 0, 0x13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0])
    }

    func testNotPoweredOnIsFailure() {
        let tpm = TPM(environment: testEnvironment())
        XCTAssertEqual(responseCode(tpm.execute(command: command(.getRandom, [0, 16]))), 0x101)
    }

    /// Random and mutated commands never trap and always give a well-formed response.
    func testRandomInputGivesWellFormedResponses() {
        let tpm = startedTPM()
        var rng = SplitMix(seed: 42)
        let valid = command(.pcrExtend, tag: .sessions, withPassword(handles: [TPMHandle(16)], params: extendParams()))
        for i in 0..<20_000 {
            var cmd: [UInt8]
            if i % 2 == 0 {
                cmd = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                cmd = valid
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    cmd[Int(rng.next() % UInt64(cmd.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            let r = tpm.execute(command: cmd)
            XCTAssertGreaterThanOrEqual(r.count, 10)
            XCTAssertEqual(r[2..<6].reduce(0) { $0 << 8 | Int($1) }, r.count)
        }
        XCTAssertEqual(responseCode(tpm.execute(command: command(.getRandom, [0, 8]))), 0)
    }
}

struct SplitMix {
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
