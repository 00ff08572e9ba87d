import TPMWire
import XCTest

@testable import TPMEngine

/// Policy sessions (Part 1, 19.7; Part 3, 23): each command's policyDigest update computed
/// here from Part 3's formula, each error code as libtpms answers it, and the checks made
/// when a policy session authorizes an entity.
final class PolicyTests: XCTestCase {
    static let zero = [UInt8](repeating: 0, count: 32)
    let owner = Entity(.owner)

    func cc(_ c: TPMCC) -> [UInt8] { Spec.u32(c.rawValue) }
    func H(_ parts: [UInt8]...) -> [UInt8] { Spec.hash(.sha256, parts) }
    func code(_ r: [UInt8]) -> UInt32 { responseCode(r) }

    /// A TPM whose owner policy is `policy` (SetPrimaryPolicy comes with another issue).
    func tpmWithOwnerPolicy(_ policy: [UInt8], alg: TPMAlgID = .sha256) -> TPM {
        let tpm = startedTPM()
        tpm.persistent.owner.policyAlg = alg
        tpm.persistent.owner.policy = policy
        return tpm
    }

    // MARK: digests (Part 3, 23)

    func testPolicyDigestsOfEveryCommand() throws {
        let tpm = startedTPM()
        for type: UInt8 in [1, 3] {
            let s = try XCTUnwrap(tpm.startSession(type: type, symmetric: .null))
            func check(_ cmd: TPMCC, _ params: [UInt8], _ expected: [UInt8], _ name: String) {
                _ = tpm.policy(.policyRestart, s)
                XCTAssertEqual(code(tpm.policy(cmd, s, params)), 0, name)
                XCTAssertEqual(tpm.policyDigest(s), expected, name)
            }
            let a = [UInt8](repeating: 0xA1, count: 32)
            check(
                .policyCommandCode, cc(.hierarchyChangeAuth), H(Self.zero, cc(.policyCommandCode), cc(.hierarchyChangeAuth)), "CommandCode")
            check(.policyLocality, [0x03], H(Self.zero, cc(.policyLocality), [0x03]), "Locality")
            check(.policyAuthValue, [], H(Self.zero, cc(.policyAuthValue)), "AuthValue")
            // PolicyPassword extends with TPM_CC_PolicyAuthValue (Part 3, 23.18).
            check(.policyPassword, [], H(Self.zero, cc(.policyAuthValue)), "Password")
            check(.policyPhysicalPresence, [], H(Self.zero, cc(.policyPhysicalPresence)), "PhysicalPresence")
            check(.policyCpHash, Spec.b2(a), H(Self.zero, cc(.policyCpHash), a), "CpHash")
            check(.policyNameHash, Spec.b2(a), H(Self.zero, cc(.policyNameHash), a), "NameHash")
            check(.policyTemplate, Spec.b2(a), H(Self.zero, cc(.policyTemplate), a), "Template")
            check(
                .policyDuplicationSelect, Spec.b2([1, 2]) + Spec.b2([3]) + [1],
                H(Self.zero, cc(.policyDuplicationSelect), [1, 2], [3], [1]),
                "DuplicationSelect with object")
            check(
                .policyDuplicationSelect, Spec.b2([1, 2]) + Spec.b2([3]) + [0], H(Self.zero, cc(.policyDuplicationSelect), [3], [0]),
                "without")
            check(
                .policyCounterTimer, Spec.b2([0]) + Spec.u16(24) + Spec.u16(1),
                H(Self.zero, cc(.policyCounterTimer), H([0], Spec.u16(24), Spec.u16(1))), "CounterTimer")
            // PolicyOR: the current digest must be in the list (a trial session takes any).
            check(.policyOR, Spec.u32(2) + Spec.b2(a) + Spec.b2(Self.zero), H(Self.zero, cc(.policyOR), a, Self.zero), "OR")
            // Chained: each command extends the previous digest.
            _ = tpm.policy(.policyRestart, s)
            _ = tpm.policy(.policyCommandCode, s, cc(.getRandom))
            _ = tpm.policy(.policyAuthValue, s)
            XCTAssertEqual(tpm.policyDigest(s), H(H(Self.zero, cc(.policyCommandCode), cc(.getRandom)), cc(.policyAuthValue)))
            // PolicyRestart: back to zeros.
            XCTAssertEqual(code(tpm.policy(.policyRestart, s)), 0)
            XCTAssertEqual(tpm.policyDigest(s), Self.zero)
            XCTAssertEqual(tpm.flush(s.handle), 0)
        }
        // Other hashes: the digest has the session hash's size.
        let s = try XCTUnwrap(tpm.startSession(type: 3, alg: .sha384, symmetric: .null))
        _ = tpm.policy(.policyAuthValue, s)
        XCTAssertEqual(tpm.policyDigest(s), Spec.hash(.sha384, [UInt8](repeating: 0, count: 48), cc(.policyAuthValue)))
    }

    func testPolicyPCR() throws {
        let tpm = startedTPM()
        let s = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        let t = try XCTUnwrap(tpm.startSession(type: 3, symmetric: .null))
        // PCRs 0, 1 and 7 of SHA-256, and PCR 0 of SHA-384, which is not allocated here.
        let sel = TPMLPCRSelection([
            TPMSPCRSelection(hash: .sha256, select: [0x83, 0, 0]), TPMSPCRSelection(hash: .sha384, select: [1, 0, 0]),
        ])
        let filtered = TPMLPCRSelection([
            TPMSPCRSelection(hash: .sha256, select: [0x83, 0, 0]), TPMSPCRSelection(hash: .sha384, select: [0, 0, 0]),
        ])
        XCTAssertEqual(
            code(
                tpm.execute(
                    command: command(
                        .pcrExtend, tag: .sessions,
                        withPassword(
                            handles: [TPMHandle(1)], params: TPMLDigestValues([TPMTHA(hashAlg: .sha256, digest: Self.zero)]).wireBytes)))),
            0)
        let pcr1 = H(Self.zero, Self.zero)
        let pcrDigest = H(Self.zero, pcr1, Self.zero)
        XCTAssertEqual(code(tpm.policy(.policyPCR, s, Spec.b2([UInt8](repeating: 1, count: 32)) + sel.wireBytes)), 0x1C4)
        XCTAssertEqual(code(tpm.policy(.policyPCR, s, Spec.b2([UInt8](repeating: 1, count: 20)) + sel.wireBytes)), 0x1C4)
        XCTAssertEqual(code(tpm.policy(.policyPCR, s, Spec.b2(pcrDigest) + sel.wireBytes)), 0)
        // The selection that enters the digest has the unallocated PCRs removed (libtpms).
        XCTAssertEqual(tpm.policyDigest(s), H(Self.zero, cc(.policyPCR), filtered.wireBytes, pcrDigest))
        XCTAssertEqual(code(tpm.policy(.policyPCR, s, Spec.b2([]) + sel.wireBytes)), 0)
        // A PCR changes: the next PolicyPCR fails (PCR 16 does not count, PCR 1 does).
        XCTAssertEqual(
            code(
                tpm.execute(
                    command: command(
                        .pcrExtend, tag: .sessions, withPassword(handles: [TPMHandle(16)], params: TPMLDigestValues([]).wireBytes)))), 0)
        XCTAssertEqual(code(tpm.policy(.policyPCR, s, Spec.b2([]) + sel.wireBytes)), 0)
        XCTAssertEqual(
            code(
                tpm.execute(
                    command: command(
                        .pcrExtend, tag: .sessions,
                        withPassword(
                            handles: [TPMHandle(1)], params: TPMLDigestValues([TPMTHA(hashAlg: .sha256, digest: Self.zero)]).wireBytes)))),
            0)
        XCTAssertEqual(code(tpm.policy(.policyPCR, s, Spec.b2([]) + sel.wireBytes)), 0x128)
        // A trial session takes a given digest as it is.
        let given = [UInt8](repeating: 9, count: 32)
        XCTAssertEqual(code(tpm.policy(.policyPCR, t, Spec.b2(given) + sel.wireBytes)), 0)
        XCTAssertEqual(tpm.policyDigest(t), H(Self.zero, cc(.policyPCR), filtered.wireBytes, given))
        // Unmarshalling: five selections TPM_RC_SIZE + P2, SM3 TPM_RC_HASH + P2 (libtpms).
        XCTAssertEqual(code(tpm.policy(.policyPCR, t, Spec.b2([]) + Spec.u32(5))), 0x2D5)
        XCTAssertEqual(code(tpm.policy(.policyPCR, t, Spec.b2([]) + Spec.u32(1) + Spec.u16(0x12) + [3, 0, 0, 1])), 0x2C3)
    }

    func testPolicyCommandErrorsAsLibtpms() throws {
        let clock = TestClock()
        let tpm = startedTPM(clock: clock)
        clock.advance(5_000)
        let s = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        let t = try XCTUnwrap(tpm.startSession(type: 3, symmetric: .null))
        let a = [UInt8](repeating: 1, count: 32)
        let b = [UInt8](repeating: 2, count: 32)
        func p(_ c: TPMCC, _ x: ClientSession, _ params: [UInt8] = []) -> UInt32 { code(tpm.policy(c, x, params)) }
        XCTAssertEqual(p(.policyCommandCode, t, Spec.u32(0x1FF)), 0x1E4)
        XCTAssertEqual(p(.policyCommandCode, t, cc(.hierarchyChangeAuth)), 0)
        XCTAssertEqual(p(.policyCommandCode, t, cc(.getRandom)), 0x1C4)
        XCTAssertEqual(p(.policyCommandCode, t, cc(.hierarchyChangeAuth)), 0)
        _ = p(.policyRestart, t)
        XCTAssertEqual(p(.policyLocality, t, [0]), 0x1CD)
        XCTAssertEqual(p(.policyLocality, t, [1]), 0)
        XCTAssertEqual(p(.policyLocality, t, [2]), 0x1CD, "narrowed to nothing")
        XCTAssertEqual(p(.policyLocality, t, [3]), 0)
        XCTAssertEqual(p(.policyLocality, t, [0x20]), 0x1CD, "extended after normal")
        _ = p(.policyRestart, t)
        XCTAssertEqual(p(.policyLocality, t, [0x20]), 0)
        XCTAssertEqual(p(.policyLocality, t, [0x21]), 0x1CD)
        XCTAssertEqual(p(.policyLocality, t, [1]), 0x1CD)
        XCTAssertEqual(p(.policyOR, s, Spec.u32(1) + Spec.b2(a)), 0x1D5)
        XCTAssertEqual(p(.policyOR, s, Spec.u32(9) + Array([[UInt8]](repeating: Spec.b2(a), count: 9).joined())), 0x1D5)
        XCTAssertEqual(p(.policyOR, s, Spec.u32(2) + Spec.b2(a) + Spec.b2(b)), 0x1C4)
        XCTAssertEqual(p(.policyOR, t, Spec.u32(2) + Spec.b2([1]) + Spec.b2([])), 0)
        XCTAssertEqual(p(.policyCpHash, s, Spec.b2([UInt8](repeating: 1, count: 20))), 0x1D5)
        XCTAssertEqual(p(.policyCpHash, s, Spec.b2(a)), 0)
        XCTAssertEqual(p(.policyCpHash, s, Spec.b2(a)), 0)
        XCTAssertEqual(p(.policyCpHash, s, Spec.b2(b)), 0x151)
        XCTAssertEqual(p(.policyNameHash, s, Spec.b2(b)), 0x151)
        XCTAssertEqual(p(.policyTemplate, s, Spec.b2(b)), 0x151)
        XCTAssertEqual(p(.policyDuplicationSelect, s, Spec.b2([]) + Spec.b2([]) + [0]), 0x151)
        _ = p(.policyRestart, s)
        XCTAssertEqual(p(.policyNameHash, s, Spec.b2([UInt8](repeating: 1, count: 20))), 0x1D5)
        XCTAssertEqual(p(.policyNameHash, s, Spec.b2(a)), 0)
        XCTAssertEqual(p(.policyNameHash, s, Spec.b2(a)), 0x151)
        XCTAssertEqual(p(.policyCpHash, s, Spec.b2(a)), 0x151)
        XCTAssertEqual(p(.policyTemplate, s, Spec.b2(a)), 0x151)
        _ = p(.policyRestart, s)
        XCTAssertEqual(p(.policyTemplate, s, Spec.b2([UInt8](repeating: 1, count: 20))), 0x1D5)
        XCTAssertEqual(p(.policyTemplate, s, Spec.b2(a)), 0)
        XCTAssertEqual(p(.policyTemplate, s, Spec.b2(a)), 0)
        XCTAssertEqual(p(.policyTemplate, s, Spec.b2(b)), 0x1C4)
        XCTAssertEqual(p(.policyTemplate, s, Spec.b2([UInt8](repeating: 1, count: 20))), 0x1C4)
        XCTAssertEqual(p(.policyCpHash, s, Spec.b2(a)), 0x151)
        _ = p(.policyRestart, s)
        XCTAssertEqual(p(.policyDuplicationSelect, s, Spec.b2([1]) + Spec.b2([2]) + [1]), 0)
        XCTAssertEqual(p(.policyDuplicationSelect, s, Spec.b2([1]) + Spec.b2([2]) + [0]), 0x151)
        _ = p(.policyRestart, s)
        XCTAssertEqual(p(.policyCommandCode, s, cc(.getRandom)), 0)
        XCTAssertEqual(p(.policyDuplicationSelect, s, Spec.b2([1]) + Spec.b2([2]) + [0]), 0x143)
        XCTAssertEqual(p(.policyDuplicationSelect, t, Spec.b2([1]) + Spec.b2([2]) + [2]), 0x3C4)
        // TPM2B_NAME: at most a TPMT_HA (66 octets; libtpms's C layout admits 68).
        XCTAssertEqual(p(.policyDuplicationSelect, t, Spec.b2([UInt8](repeating: 1, count: 69)) + Spec.b2([2]) + [0]), 0x1D5)
        // PolicyCounterTimer over the 25 octets of TPMS_TIME_INFO.
        _ = p(.policyRestart, s)
        XCTAssertEqual(p(.policyCounterTimer, s, Spec.b2([0]) + Spec.u16(26) + Spec.u16(0)), 0x2C4)
        XCTAssertEqual(p(.policyCounterTimer, s, Spec.b2([0]) + Spec.u16(25) + Spec.u16(0)), 0x08D)
        XCTAssertEqual(p(.policyCounterTimer, s, Spec.b2([]) + Spec.u16(25) + Spec.u16(0)), 0)
        XCTAssertEqual(p(.policyCounterTimer, s, Spec.b2([UInt8](repeating: 0, count: 8)) + Spec.u16(20) + Spec.u16(0)), 0x08D)
        XCTAssertEqual(p(.policyCounterTimer, s, Spec.b2([0]) + Spec.u16(0) + Spec.u16(12)), 0x3C4)
        XCTAssertEqual(p(.policyCounterTimer, s, Spec.b2([1]) + Spec.u16(24) + Spec.u16(0)), 0, "safe == YES")
        XCTAssertEqual(p(.policyCounterTimer, s, Spec.b2([0]) + Spec.u16(24) + Spec.u16(0)), 0x126)
        XCTAssertEqual(p(.policyCounterTimer, s, Spec.b2([UInt8](repeating: 0, count: 8)) + Spec.u16(0) + Spec.u16(3)), 0, "Time > 0")
        XCTAssertEqual(
            p(.policyCounterTimer, s, Spec.b2([UInt8](repeating: 0, count: 8)) + Spec.u16(0) + Spec.u16(4)), 0x126, "Time < 0 signed")
        XCTAssertEqual(p(.policyCounterTimer, s, Spec.b2([UInt8](repeating: 0xFF, count: 8)) + Spec.u16(0) + Spec.u16(11)), 0x126)
        XCTAssertEqual(p(.policyCounterTimer, t, Spec.b2([0]) + Spec.u16(24) + Spec.u16(0)), 0, "a trial session checks nothing")
        XCTAssertEqual(p(.policyCounterTimer, t, Spec.b2([0]) + Spec.u16(26) + Spec.u16(0)), 0x2C4, "but the bounds")
        // Handles: an HMAC session handle is not a TPMI_SH_POLICY (TPM_RC_VALUE), nor is one
        // beyond the range; a policy handle naming nothing is TPM_RC_REFERENCE_H0; one naming an
        // HMAC session's slot is TPM_RC_HANDLE.
        let h = try XCTUnwrap(tpm.startSession(symmetric: .null))
        XCTAssertEqual(code(tpm.execute(command: command(.policyGetDigest, Spec.u32(h.handle.rawValue)))), 0x184)
        XCTAssertEqual(code(tpm.execute(command: command(.policyGetDigest, Spec.u32(0x0300_0040)))), 0x184)
        XCTAssertEqual(code(tpm.execute(command: command(.policyGetDigest, Spec.u32(0x0300_0020)))), 0x910)
        XCTAssertEqual(code(tpm.execute(command: command(.policyGetDigest, Spec.u32(h.handle.rawValue + 0x0100_0000)))), 0x18B)
        // A password session on a policy command authorizes nothing.
        XCTAssertEqual(
            code(
                tpm.execute(
                    command: command(
                        .policyGetDigest, tag: .sessions, Spec.u32(s.handle.rawValue) + Spec.u32(9) + [0x40, 0, 0, 9, 0, 0, 1, 0, 0]))),
            0x98B)
    }

    func testFailingPolicyCommandChangesNothing() throws {
        let tpm = startedTPM()
        let s = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        _ = tpm.policy(.policyAuthValue, s)
        let before = tpm.loadedSession(s.handle)
        XCTAssertEqual(code(tpm.policy(.policyOR, s, Spec.u32(2) + Spec.b2(Self.zero) + Spec.b2(Self.zero))), 0x1C4)
        XCTAssertEqual(code(tpm.policy(.policyLocality, s, [0])), 0x1CD)
        XCTAssertEqual(code(tpm.policy(.policyCounterTimer, s, Spec.b2([0]) + Spec.u16(24) + Spec.u16(0))), 0x126)
        XCTAssertEqual(tpm.loadedSession(s.handle), before)
    }

    // MARK: use (Part 1, 19.7.4)

    func testPolicySessionAuthorizesOwnerWhenEveryConditionHolds() throws {
        let policy = H(H(Self.zero, cc(.policyCommandCode), cc(.hierarchyChangeAuth)), cc(.policyAuthValue))
        let tpm = tpmWithOwnerPolicy(policy)
        XCTAssertEqual(
            code(
                tpm.execute(
                    command: command(
                        .hierarchyChangeAuth, tag: .sessions, withPassword(handles: [.owner], params: Spec.b2(Array("pw".utf8)))))), 0)
        let o = Entity(.owner, auth: Array("pw".utf8))
        let s = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .aes(128)))
        s.authValueNeeded = true
        func use(_ attrs: UInt8 = 1, locality: UInt8 = 0, hmac: [UInt8]? = nil) -> UInt32 {
            tpm.run(
                .hierarchyChangeAuth, handles: [.owner], Spec.b2(o.auth),
                [SessionUse(session: s, attributes: attrs, entity: o, hmac: hmac)], locality: locality
            ).code
        }
        // No policy commands yet: the digest is zeros, not owner's policy.
        XCTAssertEqual(use(), 0x99D)
        XCTAssertEqual(code(tpm.policy(.policyCommandCode, s, cc(.hierarchyChangeAuth))), 0)
        XCTAssertEqual(code(tpm.policy(.policyAuthValue, s)), 0)
        // The HMAC includes owner's authValue: a wrong one is TPM_RC_BAD_AUTH (owner is exempt).
        XCTAssertEqual(use(hmac: [UInt8](repeating: 0, count: 32)), 0x9A2)
        XCTAssertEqual(use(0x21), 0)
        // The use reset the policy: the same session fails until the commands are repeated.
        XCTAssertEqual(tpm.policyDigest(s), Self.zero)
        XCTAssertEqual(use(), 0x99D)
        // A policy for another command: TPM_RC_POLICY_CC (the digest is checked first, so the
        // owner policy here must name GetRandom... it does not: TPM_RC_POLICY_FAIL).
        _ = tpm.policy(.policyCommandCode, s, cc(.getRandom))
        _ = tpm.policy(.policyAuthValue, s)
        XCTAssertEqual(use(), 0x99D)
        // PolicyPassword: the password in place of the HMAC, an empty response HMAC.
        _ = tpm.policy(.policyRestart, s)
        _ = tpm.policy(.policyCommandCode, s, cc(.hierarchyChangeAuth))
        _ = tpm.policy(.policyPassword, s)
        s.authValueNeeded = false
        s.passwordNeeded = true
        XCTAssertEqual(use(hmac: Array("wrong".utf8)), 0x9A2)
        XCTAssertEqual(use(hmac: Array("pw".utf8) + [0, 0]), 0, "trailing zeros do not matter")
        // A trial session computes the same digest but cannot authorize anything.
        let t = try XCTUnwrap(tpm.startSession(type: 3, symmetric: .null))
        _ = tpm.policy(.policyCommandCode, t, cc(.hierarchyChangeAuth))
        _ = tpm.policy(.policyAuthValue, t)
        XCTAssertEqual(tpm.policyDigest(t), policy)
        XCTAssertEqual(tpm.run(.hierarchyChangeAuth, handles: [.owner], Spec.b2([]), [SessionUse(session: t, entity: o)]).code, 0x982)
        // A session of another hash with the same commands: TPM_RC_POLICY_FAIL.
        let s1 = try XCTUnwrap(tpm.startSession(type: 1, alg: .sha1, symmetric: .null))
        _ = tpm.policy(.policyCommandCode, s1, cc(.hierarchyChangeAuth))
        _ = tpm.policy(.policyAuthValue, s1)
        s1.authValueNeeded = true
        XCTAssertEqual(tpm.run(.hierarchyChangeAuth, handles: [.owner], Spec.b2(o.auth), [SessionUse(session: s1, entity: o)]).code, 0x99D)
    }

    func testPolicyConditionsAtUse() throws {
        // Each condition alone, in a policy that is just that condition.
        func tpmAndSession(_ setup: (TPM, ClientSession) -> Void) throws -> (TPM, ClientSession) {
            let probe = startedTPM()
            let t = try XCTUnwrap(probe.startSession(type: 3, symmetric: .null))
            setup(probe, t)
            let tpm = tpmWithOwnerPolicy(probe.policyDigest(t))
            let s = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
            setup(tpm, s)
            return (tpm, s)
        }
        func use(_ tpm: TPM, _ s: ClientSession, locality: UInt8 = 0, params: [UInt8] = Spec.b2([])) -> UInt32 {
            tpm.run(.hierarchyChangeAuth, handles: [.owner], params, [SessionUse(session: s, entity: owner)], locality: locality).code
        }
        // Command code: another command is TPM_RC_POLICY_CC.
        var (tpm, s) = try tpmAndSession { _ = $0.policy(.policyCommandCode, $1, self.cc(.hierarchyChangeAuth)) }
        XCTAssertEqual(use(tpm, s), 0)
        _ = tpm.policy(.policyCommandCode, s, cc(.hierarchyChangeAuth))
        XCTAssertEqual(tpm.run(.clockRateAdjust, handles: [.owner], [0], [SessionUse(session: s, entity: owner)]).code, 0x9A4)
        // Locality: PolicyLocality(1 | 4) admits localities 0 and 2 only.
        (tpm, s) = try tpmAndSession { _ = $0.policy(.policyLocality, $1, [0x05]) }
        XCTAssertEqual(use(tpm, s, locality: 1), 0x907)
        XCTAssertEqual(use(tpm, s, locality: 2), 0)
        // Extended locality: only that locality.
        (tpm, s) = try tpmAndSession { _ = $0.policy(.policyLocality, $1, [0x40]) }
        XCTAssertEqual(use(tpm, s, locality: 0), 0x907)
        XCTAssertEqual(use(tpm, s, locality: 0x40), 0)
        // Physical presence: TPM_RC_PP + S1 unless the platform asserts it.
        (tpm, s) = try tpmAndSession { _ = $0.policy(.policyPhysicalPresence, $1) }
        XCTAssertEqual(use(tpm, s), 0x990)
        tpm.setPhysicalPresence(true)
        XCTAssertEqual(use(tpm, s), 0)
        // cpHash: only the command with that cpHash.
        let cp = Spec.hash(.sha256, cc(.hierarchyChangeAuth), Spec.u32(TPMHandle.owner.rawValue), Spec.b2([7]))
        (tpm, s) = try tpmAndSession { _ = $0.policy(.policyCpHash, $1, Spec.b2(cp)) }
        XCTAssertEqual(use(tpm, s, params: Spec.b2([8])), 0x99D)
        // (A failed use leaves the policy as it was.)
        XCTAssertEqual(use(tpm, s, params: Spec.b2([7])), 0)
        // nameHash: only a command on handles with those Names.
        let nh = Spec.hash(.sha256, Spec.u32(TPMHandle.endorsement.rawValue))
        (tpm, s) = try tpmAndSession { _ = $0.policy(.policyNameHash, $1, Spec.b2(nh)) }
        XCTAssertEqual(use(tpm, s), 0x99D)
        // PolicyTemplate restricts to object creation (not implemented yet): never satisfied.
        (tpm, s) = try tpmAndSession { _ = $0.policy(.policyTemplate, $1, Spec.b2(nh)) }
        XCTAssertEqual(use(tpm, s), 0x99D)
        // PCRs: a change after PolicyPCR is TPM_RC_PCR_CHANGED.
        let sel = TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, select: [2, 0, 0])]).wireBytes
        (tpm, s) = try tpmAndSession { _ = $0.policy(.policyPCR, $1, Spec.b2([]) + sel) }
        let extend = command(
            .pcrExtend, tag: .sessions,
            withPassword(handles: [TPMHandle(1)], params: TPMLDigestValues([TPMTHA(hashAlg: .sha256, digest: Self.zero)]).wireBytes))
        XCTAssertEqual(code(tpm.execute(command: extend)), 0)
        XCTAssertEqual(use(tpm, s), 0x128)
        // A policy with no authValue or password: the HMAC key is the (empty) session key,
        // and an empty HMAC is accepted.
        XCTAssertEqual(
            tpm.run(.hierarchyChangeAuth, handles: [.owner], Spec.b2([]), [SessionUse(session: s, entity: owner, hmac: [])]).code, 0x128)
        // DUP and ADMIN roles need a policy with a command code (no such command yet).
        XCTAssertTrue(tpm.isPolicySessionRequired(.owner, role: .admin))
    }

    // MARK: the machinery PolicySigned, PolicySecret and PolicyTicket will use

    func testPolicyParameterChecksAndAuthTimeout() throws {
        let clock = TestClock()
        let tpm = startedTPM(clock: clock)
        let c = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        clock.advance(2_500)
        var s = try XCTUnwrap(tpm.loadedSession(c.handle))
        XCTAssertEqual(tpm.authTimeout(s, expiration: 0, nonceTPM: s.nonceTPM), 0)
        // With the session's nonce: seconds after the session started (Time 0 here).
        XCTAssertEqual(tpm.authTimeout(s, expiration: -10, nonceTPM: s.nonceTPM), 10_000)
        XCTAssertEqual(tpm.authTimeout(s, expiration: Int32.min, nonceTPM: s.nonceTPM), 2_147_483_648_000)
        // Without: absolute seconds of Time, keeping the current millisecond.
        XCTAssertEqual(tpm.authTimeout(s, expiration: 3, nonceTPM: []), 3_500)
        func check(_ timeout: UInt64 = 0, cpHash: [UInt8] = [], nonce: [UInt8]? = nil) -> UInt32? {
            do {
                try tpm.policyParameterChecks(
                    s, authTimeout: timeout, cpHashA: cpHash, nonceTPM: nonce, nonceParameter: 1, cpHashParameter: 2, expirationParameter: 4
                )
                return nil
            } catch let e as TPMError { return e.rc.rawValue } catch { return 0 }
        }
        XCTAssertNil(check(nonce: s.nonceTPM))
        XCTAssertNil(check(nonce: []))
        XCTAssertEqual(check(nonce: [UInt8](repeating: 1, count: 32)), 0x1CF)
        XCTAssertNil(check(3_000))
        XCTAssertEqual(check(2_499), 0x4E3)
        XCTAssertEqual(check(cpHash: [1]), 0x2D5)
        XCTAssertNil(check(cpHash: [UInt8](repeating: 1, count: 32)))
        s.policy?.restriction = PolicyRestriction(kind: .cpHash, digest: [UInt8](repeating: 2, count: 32))
        XCTAssertEqual(check(cpHash: [UInt8](repeating: 1, count: 32)), 0x151)
        // Another power cycle: every deadline has passed.
        s.policy?.epoch = tpm.timeEpoch + 1
        XCTAssertEqual(check(UInt64.max), 0x4E3)
        // The context update: H(H(old || code || name) || policyRef), cpHash and the earliest
        // deadline kept.
        var u = try XCTUnwrap(tpm.loadedSession(c.handle))
        u.policyContextUpdate(.policySecret, name: [7], policyRef: [8], cpHash: [UInt8](repeating: 3, count: 32), timeout: 9_000)
        u.policyContextUpdate(.policySecret, name: [7], policyRef: nil, cpHash: nil, timeout: 12_000)
        let first = H(H(Self.zero, cc(.policySecret), [7]), [8])
        XCTAssertEqual(u.policy?.digest, H(first, cc(.policySecret), [7]))
        XCTAssertEqual(u.policy?.restriction, PolicyRestriction(kind: .cpHash, digest: [UInt8](repeating: 3, count: 32)))
        XCTAssertEqual(u.policy?.timeout, 9_000)
    }
}
