import TPMWire
import XCTest

@testable import TPMEngine

/// PCR_SetAuthValue and PCR_SetAuthPolicy (Part 3, 22.6-22.7) and the authorization of PCR
/// handles with them: PC Client's auth and policy groups are PCRs 20-22. Response codes as
/// libtpms 0.9 answers the same commands.
final class PCRAuthTests: XCTestCase {
    static let zero = [UInt8](repeating: 0, count: 32)

    func extend(_ tpm: TPM, _ pcr: UInt32, password: [UInt8] = [], locality: UInt8 = 0) -> UInt32 {
        let params = TPMLDigestValues([TPMTHA(hashAlg: .sha256, digest: Self.zero)]).wireBytes
        return responseCode(
            tpm.execute(
                locality: locality,
                command: command(.pcrExtend, tag: .sessions, withPassword(handles: [TPMHandle(pcr)], password: password, params: params))))
    }

    func setAuthValue(_ tpm: TPM, _ pcr: UInt32, _ auth: [UInt8], password: [UInt8] = []) -> UInt32 {
        responseCode(
            tpm.execute(
                command: command(
                    .pcrSetAuthValue, tag: .sessions, withPassword(handles: [TPMHandle(pcr)], password: password, params: Spec.b2(auth)))))
    }

    func setAuthPolicy(_ tpm: TPM, _ policy: [UInt8], alg: TPMAlgID = .sha256, pcr: UInt32) -> UInt32 {
        responseCode(
            tpm.execute(
                command: command(
                    .pcrSetAuthPolicy, tag: .sessions,
                    withPassword(handles: [.platform], params: Spec.b2(policy) + Spec.u16(alg.rawValue) + Spec.u32(pcr)))))
    }

    func testAuthValueOfTheAuthGroup() {
        let tpm = startedTPM()
        // PCR 0 is in no auth group: TPM_RC_VALUE, unnumbered (libtpms).
        XCTAssertEqual(setAuthValue(tpm, 0, [1]), 0x084)
        XCTAssertEqual(setAuthValue(tpm, 20, Array("abc".utf8) + [0, 0]), 0)
        XCTAssertEqual(tpm.volatile.pcrAuthValue, Array("abc".utf8), "trailing zeros removed")
        // The group shares the value: PCR 21 and 22 now need it too; 20 can be extended at
        // locality 1 (PC Client) with it, not without.
        XCTAssertEqual(setAuthValue(tpm, 21, [], password: [9]), 0x9A2)
        XCTAssertEqual(extend(tpm, 20, password: [], locality: 1), 0x9A2)
        XCTAssertEqual(extend(tpm, 20, password: Array("abc".utf8), locality: 1), 0)
        // Other PCRs keep an empty authValue.
        XCTAssertEqual(extend(tpm, 16), 0)
        XCTAssertEqual(setAuthValue(tpm, 22, [], password: Array("abc".utf8)), 0)
        XCTAssertEqual(extend(tpm, 20, locality: 1), 0)
    }

    func testAuthValueIsStateClearData() throws {
        let tpm = startedTPM()
        XCTAssertEqual(setAuthValue(tpm, 20, [5]), 0)
        // Shutdown(STATE) + Startup(STATE) (TPM Resume) keeps it; Startup(CLEAR) (TPM Restart)
        // and TPM Reset empty it.
        XCTAssertEqual(responseCode(tpm.execute(command: command(.shutdown, Spec.u16(1)))), 0)
        tpm.powerOn()
        XCTAssertEqual(responseCode(tpm.execute(command: command(.startup, Spec.u16(1)))), 0)
        XCTAssertEqual(tpm.volatile.pcrAuthValue, [5])
        XCTAssertEqual(responseCode(tpm.execute(command: command(.shutdown, Spec.u16(1)))), 0)
        tpm.powerOn()
        XCTAssertEqual(responseCode(tpm.execute(command: command(.startup, Spec.u16(0)))), 0)
        XCTAssertEqual(tpm.volatile.pcrAuthValue, [])
        // After Shutdown(STATE) the change voids the saved state (the next Startup(STATE) fails).
        XCTAssertEqual(setAuthValue(tpm, 20, [6]), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.shutdown, Spec.u16(1)))), 0)
        XCTAssertEqual(setAuthValue(tpm, 20, [7], password: [6]), 0)
        tpm.powerOn()
        XCTAssertEqual(responseCode(tpm.execute(command: command(.startup, Spec.u16(1)))), 0x1C4)
        // And it is carried by an exported volatile state.
        let fresh = startedTPM()
        XCTAssertEqual(setAuthValue(fresh, 21, [8, 8]), 0)
        let copy = try TPM(
            environment: testEnvironment(), permanentState: fresh.exportPermanentState(), volatileState: fresh.exportVolatileState())
        XCTAssertEqual(copy.volatile.pcrAuthValue, [8, 8])
    }

    func testPolicyOfThePolicyGroup() throws {
        let tpm = startedTPM()
        // Checks (libtpms): size against hashAlg (TPM_RC_SIZE + P1), a PCR of no policy group
        // or no PCR at all (TPM_RC_VALUE + P3).
        XCTAssertEqual(setAuthPolicy(tpm, [UInt8](repeating: 0, count: 20), pcr: 20), 0x1D5)
        XCTAssertEqual(setAuthPolicy(tpm, Self.zero, pcr: 0), 0x3C4)
        XCTAssertEqual(setAuthPolicy(tpm, Self.zero, pcr: 30), 0x3C4)
        XCTAssertEqual(setAuthPolicy(tpm, Self.zero, alg: .null, pcr: 20), 0x1D5)
        XCTAssertEqual(setAuthPolicy(tpm, [], alg: .null, pcr: 20), 0)
        // A policy: PolicyAuthValue (computed here) for the whole group.
        let policy = Spec.hash(.sha256, Self.zero, Spec.u32(TPMCC.policyAuthValue.rawValue))
        XCTAssertEqual(setAuthPolicy(tpm, policy, pcr: 22), 0)
        XCTAssertEqual(tpm.persistent.pcrPolicy, EntityAuth(authValue: [], policyAlg: .sha256, policy: policy))
        XCTAssertTrue(tpm.nvChanged)
        // A password no longer serves: TPM_RC_AUTH_TYPE (unnumbered, libtpms).
        XCTAssertEqual(extend(tpm, 20, locality: 1), 0x124)
        XCTAssertEqual(extend(tpm, 16), 0, "PCR 16 has no policy")
        // A policy session with the wrong digest: TPM_RC_POLICY_FAIL + S1; with the policy, the
        // PCR's (empty) authValue in the HMAC key.
        let s = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        let params = TPMLDigestValues([TPMTHA(hashAlg: .sha256, digest: Self.zero)]).wireBytes
        let pcr20 = Entity(TPMHandle(20))
        XCTAssertEqual(
            tpm.run(.pcrExtend, handles: [TPMHandle(20)], params, [SessionUse(session: s, entity: pcr20)], locality: 1).code, 0x99D)
        _ = tpm.policy(.policyAuthValue, s)
        s.authValueNeeded = true
        XCTAssertEqual(tpm.run(.pcrExtend, handles: [TPMHandle(20)], params, [SessionUse(session: s, entity: pcr20)], locality: 1).code, 0)
        // With an authValue set, the policy's HMAC needs it.
        XCTAssertEqual(setAuthValue(tpm, 21, [3]) & 0xFFF, 0x124, "PCR_SetAuthValue of a policy PCR needs the policy too")
        // Removing the policy brings passwords back.
        XCTAssertEqual(setAuthPolicy(tpm, [], alg: .null, pcr: 21), 0)
        XCTAssertEqual(extend(tpm, 20, locality: 1), 0)
        // The policy is NV data: it survives a TPM Reset and an export.
        XCTAssertEqual(setAuthPolicy(tpm, policy, pcr: 20), 0)
        let copy = try TPM(environment: testEnvironment(), permanentState: tpm.exportPermanentState())
        XCTAssertEqual(copy.persistent.pcrPolicy.policy, policy)
    }

    func testCommandAttributes() {
        XCTAssertEqual(TPM.commandIndex[.pcrSetAuthValue]?.attributes.rawValue, 0x0200_0183)
        XCTAssertEqual(TPM.commandIndex[.pcrSetAuthPolicy]?.attributes.rawValue, 0x0240_012C)
    }
}
