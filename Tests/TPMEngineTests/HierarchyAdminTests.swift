import Crypto
import TPMCrypto
import TPMEngine
import TPMWire
import XCTest

// TPM2_HierarchyControl, TPM2_SetPrimaryPolicy, TPM2_ChangePPS and TPM2_ChangeEPS (Part 3,
// 24.2-24.6): their effects observed through other commands, and error codes compared with
// libtpms 0.9.2 (recorded with tests/differential/replay.py).

func hierarchyControlCommand(auth: TPMHandle, enable: TPMHandle, state: UInt8, password: [UInt8] = []) -> [UInt8] {
    command(.hierarchyControl, tag: .sessions, withPassword(handles: [auth], password: password, params: be32(enable.rawValue) + [state]))
}

func setPrimaryPolicyCommand(_ auth: TPMHandle, policy: [UInt8], alg: TPMAlgID) -> [UInt8] {
    var w = TPMWriter()
    w.sized(policy)
    w.u16(alg.rawValue)
    return command(.setPrimaryPolicy, tag: .sessions, withPassword(handles: [auth], params: w.bytes))
}

func changeSeedCommand(_ cc: TPMCC) -> [UInt8] { command(cc, tag: .sessions, withPassword(handles: [.platform], params: [])) }

final class HierarchyAdminTests: XCTestCase {
    typealias C = DifferentialCase
    static let signer = Templates.ecc(attributes: Templates.signingAttributes, scheme: .ecdsa(hashAlg: .sha256))

    func readPublic(_ tpm: TPM, _ h: TPMHandle) -> UInt32 { responseCode(tpm.execute(command: command(.readPublic, be32(h.rawValue)))) }

    func testHierarchyControlDisablesFlushesAndReenables() throws {
        let tpm = startedTPM()
        let owned = try makePrimary(tpm, .owner, Self.signer)
        let endorsed = try makePrimary(tpm, .endorsement, Self.signer)
        let saved = try tpm.savedContext(owned.handle)
        XCTAssertEqual(responseCode(tpm.execute(command: hierarchyControlCommand(auth: .owner, enable: .owner, state: 0))), 0)
        XCTAssertEqual(readPublic(tpm, owned.handle), 0x910, "the owner's objects are flushed")
        XCTAssertEqual(readPublic(tpm, endorsed.handle), 0, "the endorsement hierarchy's stay")
        XCTAssertEqual(responseCode(tpm.execute(command: createPrimaryCommand(.owner, Self.signer))), 0x185)
        XCTAssertEqual(responseCode(tpm.contextLoad(saved)), 0x1C5, "TPM_RC_HIERARCHY + P1 for a context of the disabled hierarchy")
        // Only platformAuth enables it again.
        XCTAssertEqual(responseCode(tpm.execute(command: hierarchyControlCommand(auth: .platform, enable: .owner, state: 1))), 0)
        XCTAssertEqual(responseCode(tpm.contextLoad(saved)), 0)
        // Disabling the platform hierarchy: only a Startup enables it again, even a Resume.
        XCTAssertEqual(responseCode(tpm.execute(command: hierarchyControlCommand(auth: .platform, enable: .platform, state: 0))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: createPrimaryCommand(.platform, Self.signer))), 0x185)
        tpm.shutdown(.state)
        tpm.powerOff()
        tpm.powerOn()
        XCTAssertEqual(tpm.startup(.state), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: createPrimaryCommand(.platform, Self.signer))), 0)
    }

    func testOwnerDisabledSurvivesResumeNotRestart() throws {
        let tpm = startedTPM()
        XCTAssertEqual(responseCode(tpm.execute(command: hierarchyControlCommand(auth: .platform, enable: .endorsement, state: 0))), 0)
        tpm.shutdown(.state)
        tpm.powerOff()
        tpm.powerOn()
        XCTAssertEqual(tpm.startup(.state), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: createPrimaryCommand(.endorsement, Self.signer))), 0x185)
        tpm.shutdown(.state)
        tpm.powerOff()
        tpm.powerOn()
        XCTAssertEqual(tpm.startup(.clear), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: createPrimaryCommand(.endorsement, Self.signer))), 0)
    }

    /// An owner policy set with SetPrimaryPolicy authorizes the owner in a policy session.
    func testSetPrimaryPolicyAuthorizes() throws {
        let tpm = startedTPM()
        let policy = policyCommandCodeDigest(.createPrimary)
        XCTAssertEqual(responseCode(tpm.execute(command: setPrimaryPolicyCommand(.owner, policy: policy, alg: .sha256))), 0)
        let s = tpm.execute(command: startPolicySessionCommand())
        let session = responseHandle(s)
        XCTAssertEqual(responseCode(tpm.execute(command: policyCommandCodeCommand(session, .createPrimary))), 0)
        var w = TPMWriter()
        w.u32(TPMHandle.owner.rawValue)
        var a = TPMWriter()
        a.u32(session.rawValue)
        a.sized([UInt8]())
        a.u8(0)
        a.sized([UInt8]())
        w.u32(UInt32(a.count))
        w.bytes(a.bytes)
        w.bytes(createParams(Self.signer))
        XCTAssertEqual(responseCode(tpm.execute(command: command(.createPrimary, tag: .sessions, w.bytes))), 0)
        // Cleared again: a policy session has no policy to match (TPM_RC_AUTH_UNAVAILABLE).
        XCTAssertEqual(responseCode(tpm.execute(command: setPrimaryPolicyCommand(.owner, policy: [], alg: .null))), 0)
        let s2 = responseHandle(tpm.execute(command: startPolicySessionCommand()))
        var w2 = TPMWriter()
        w2.u32(TPMHandle.owner.rawValue)
        var a2 = TPMWriter()
        a2.u32(s2.rawValue)
        a2.sized([UInt8]())
        a2.u8(0)
        a2.sized([UInt8]())
        w2.u32(UInt32(a2.count))
        w2.bytes(a2.bytes)
        w2.bytes(createParams(Self.signer))
        XCTAssertEqual(responseCode(tpm.execute(command: command(.createPrimary, tag: .sessions, w2.bytes))), 0x12F)
    }

    /// ChangeEPS: new endorsement primary keys, its objects flushed, its saved contexts dead,
    /// its authValue and policy emptied; the owner hierarchy untouched. ChangePPS likewise for
    /// the platform.
    func testChangeSeeds() throws {
        let tpm = startedTPM()
        let ek = try makePrimary(tpm, .endorsement, Self.signer)
        let owned = try makePrimary(tpm, .owner, Self.signer)
        let savedEK = try tpm.savedContext(ek.handle)
        var w = TPMWriter()
        w.sized(Array("endorsement".utf8))
        let changeAuth = command(.hierarchyChangeAuth, tag: .sessions, withPassword(handles: [.endorsement], params: w.bytes))
        XCTAssertEqual(responseCode(tpm.execute(command: changeAuth)), 0)
        XCTAssertEqual(
            responseCode(
                tpm.execute(command: setPrimaryPolicyCommand(.endorsement, policy: [UInt8](repeating: 1, count: 32), alg: .sha256))),
            0x9A2, "TPM_RC_BAD_AUTH + S1: the endorsement authValue is now set")
        XCTAssertEqual(responseCode(tpm.execute(command: changeSeedCommand(.changeEPS))), 0)
        XCTAssertTrue(tpm.nvChanged)
        XCTAssertEqual(readPublic(tpm, ek.handle), 0x910)
        XCTAssertEqual(readPublic(tpm, owned.handle), 0)
        XCTAssertEqual(responseCode(tpm.contextLoad(savedEK)), 0x1DF, "TPM_RC_INTEGRITY + P1: a new ehProof")
        XCTAssertEqual(responseCode(tpm.execute(command: flushCommand(owned.handle))), 0)
        let ek2 = try makePrimary(tpm, .endorsement, Self.signer)  // the empty password works again
        XCTAssertNotEqual(ek2.publicArea.unique, ek.publicArea.unique)
        XCTAssertEqual(try makePrimary(tpm, .owner, Self.signer).publicArea.unique, owned.publicArea.unique)

        let pk = try makePrimary(tpm, .platform, Self.signer)
        XCTAssertEqual(responseCode(tpm.execute(command: changeSeedCommand(.changePPS))), 0)
        XCTAssertEqual(readPublic(tpm, pk.handle), 0x910)
        XCTAssertNotEqual(try makePrimary(tpm, .platform, Self.signer).publicArea.unique, pk.publicArea.unique)
    }

    /// Error codes compared with libtpms 0.9.2. These cases disable hierarchies and change
    /// seeds, which flushing between cases does not undo: replay each on a fresh swtpm.
    func testDifferential() {
        let hc = { (a: TPMHandle, e: TPMHandle, s: UInt8) in hierarchyControlCommand(auth: a, enable: e, state: s) }
        let cp = { (h: TPMHandle) in createPrimaryCommand(h, Self.signer) }
        let d32 = [UInt8](repeating: 3, count: 32)
        let cases: [C] = [
            C(name: "hc: owner disables owner", steps: [hc(.owner, .owner, 0), cp(.owner)], expected: [0, 0x185]),
            C(name: "hc: owner re-enables owner", steps: [hc(.owner, .owner, 0), hc(.owner, .owner, 1)], expected: [0, 0x185]),
            C(
                name: "hc: platform re-enables owner", steps: [hc(.owner, .owner, 0), hc(.platform, .owner, 1), cp(.owner)],
                expected: [0, 0, 0]),
            C(name: "hc: owner enables enabled owner", steps: [hc(.owner, .owner, 1)], expected: [0]),
            C(
                name: "hc: endorsement disables endorsement", steps: [hc(.endorsement, .endorsement, 0), cp(.endorsement)],
                expected: [0, 0x185]),
            C(name: "hc: owner disables endorsement", steps: [hc(.owner, .endorsement, 0)], expected: [0x124]),
            C(name: "hc: endorsement disables owner", steps: [hc(.endorsement, .owner, 0)], expected: [0x124]),
            C(name: "hc: owner disables platform", steps: [hc(.owner, .platform, 0)], expected: [0x124]),
            C(name: "hc: owner disables platform NV", steps: [hc(.owner, .platformNV, 0)], expected: [0x124]),
            C(name: "hc: platform disables platform NV", steps: [hc(.platform, .platformNV, 0), cp(.platform)], expected: [0, 0]),
            C(
                name: "hc: platform disables platform", steps: [hc(.platform, .platform, 0), cp(.platform), hc(.platform, .platform, 1)],
                expected: [0, 0x185, 0x185]),
            C(name: "hc: enable is lockout", steps: [hc(.platform, .lockout, 0)], expected: [0x1C4]),
            C(name: "hc: enable is NULL", steps: [hc(.platform, .null, 0)], expected: [0x1C4]),
            C(name: "hc: state 2", steps: [hc(.platform, .owner, 2)], expected: [0x2C4]),
            C(name: "hc: auth is lockout", steps: [hc(.lockout, .owner, 0)], expected: [0x184]),
            C(name: "spp: owner sha256", steps: [setPrimaryPolicyCommand(.owner, policy: d32, alg: .sha256)], expected: [0]),
            C(
                name: "spp: lockout sha1", steps: [setPrimaryPolicyCommand(.lockout, policy: Array(d32.prefix(20)), alg: .sha1)],
                expected: [0]),
            C(name: "spp: platform NULL", steps: [setPrimaryPolicyCommand(.platform, policy: [], alg: .null)], expected: [0]),
            C(name: "spp: NULL with a digest", steps: [setPrimaryPolicyCommand(.owner, policy: d32, alg: .null)], expected: [0x1D5]),
            C(
                name: "spp: sha256 with 20 octets",
                steps: [setPrimaryPolicyCommand(.endorsement, policy: Array(d32.prefix(20)), alg: .sha256)],
                expected: [0x1D5]),
            C(name: "spp: bad hash", steps: [setPrimaryPolicyCommand(.owner, policy: d32, alg: .aes)], expected: [0x2C3]),
            C(name: "spp: NULL handle", steps: [setPrimaryPolicyCommand(.null, policy: [], alg: .null)], expected: [0x184]),
            C(
                name: "changeEPS", steps: [cp(.endorsement), changeSeedCommand(.changeEPS), command(.readPublic, be32(0x8000_0000))],
                expected: [0, 0, 0x910]),
            C(
                name: "changePPS",
                steps: [cp(.platform), cp(.owner), changeSeedCommand(.changePPS), command(.readPublic, be32(0x8000_0001))],
                expected: [0, 0, 0, 0]),
            C(
                name: "changeEPS by owner", steps: [command(.changeEPS, tag: .sessions, withPassword(handles: [.owner], params: []))],
                expected: [0x184]),
            C(
                name: "changePPS with a parameter",
                steps: [command(.changePPS, tag: .sessions, withPassword(handles: [.platform], params: [0]))],
                expected: [0x095]),
        ]
        runDifferential(cases)
    }
}
