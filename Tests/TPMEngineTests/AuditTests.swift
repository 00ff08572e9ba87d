import Crypto
import Foundation
import TPMWire
import XCTest

@testable import TPMEngine

/// Command audit (Part 1, 33; Part 3, 21.2 and 18.5) and GetSessionAuditDigest (18.6): the
/// command audit digest recomputed here from its definition with swift-crypto, signatures
/// checked with swift-crypto, response codes as libtpms 0.9 answers.
final class AuditTests: XCTestCase {
    func H(_ alg: TPMAlgID, _ parts: [UInt8]...) -> [UInt8] { Spec.hash(alg, parts) }

    /// The command audit digest a caller recomputes from what it sent and received.
    struct AuditLog {
        var alg: TPMAlgID = .sha512
        var digest: [UInt8] = []
        mutating func add(_ code: TPMCC, names: [[UInt8]] = [], params: [UInt8], response: [UInt8]) {
            if digest.isEmpty { digest = [UInt8](repeating: 0, count: Spec.digestSize(alg)) }
            let cp = Spec.hash(alg, [Spec.u32(code.rawValue)] + names + [params])
            let rp = Spec.hash(alg, Spec.u32(0), Spec.u32(code.rawValue), response)
            digest = Spec.hash(alg, digest, cp, rp)
        }
    }

    func setAuditStatus(_ tpm: TPM, alg: TPMAlgID = .null, set: [TPMCC] = [], clear: [TPMCC] = []) -> ([UInt8], UInt32) {
        let params =
            Spec.u16(alg.rawValue) + Spec.u32(UInt32(set.count)) + set.flatMap { Spec.u32($0.rawValue) } + Spec.u32(UInt32(clear.count))
            + clear.flatMap { Spec.u32($0.rawValue) }
        let r = tpm.execute(command: command(.setCommandCodeAuditStatus, tag: .sessions, withPassword(handles: [.owner], params: params)))
        return (params, responseCode(r))
    }

    /// GetCommandAuditDigest; returns the TPMS_ATTEST octets, the parsed info and the signature.
    func getCommandAuditDigest(_ tpm: TPM, signer: TPMHandle = .null, data: [UInt8] = []) throws -> ([UInt8], TPMSAttest, TPMTSignature) {
        var w = TPMWriter()
        w.u32(TPMHandle.endorsement.rawValue)
        w.u32(signer.rawValue)
        var a = TPMWriter()
        for _ in 0..<2 {
            a.u32(TPMHandle.passwordSession.rawValue)
            a.sized([UInt8]())
            a.u8(1)
            a.sized([UInt8]())
        }
        w.u32(UInt32(a.count))
        w.bytes(a.bytes)
        w.sized(data)
        w.u16(TPMAlgID.null.rawValue)
        let r = tpm.execute(command: command(.getCommandAuditDigest, tag: .sessions, w.bytes))
        XCTAssertEqual(responseCode(r), 0)
        var p = try checkedParameters(r, hasHandle: false)
        let attest = try TPM2BAttest(from: &p)
        let sig = try TPMTSignature(from: &p, allowNull: true, support: support)
        return (attest.buffer, try attest.attest(), sig)
    }

    func commandAuditInfo(_ a: TPMSAttest) throws -> TPMSCommandAuditInfo {
        guard case .commandAudit(let i) = a.attested else { throw XCTSkip("not command audit info") }
        return i
    }

    func testDefaultsAsLibtpms() throws {
        let tpm = startedTPM()
        // SetCommandCodeAuditStatus is audited from manufacture; SHA-512 (the context hash);
        // counter 0; no digest yet.
        XCTAssertEqual(tpm.property(TPMPT.auditCounter0.rawValue), 0)
        XCTAssertEqual(tpm.property(TPMPT.auditCounter1.rawValue), 0)
        let (_, attest, sig) = try getCommandAuditDigest(tpm)
        XCTAssertEqual(sig, .null)
        let info = try commandAuditInfo(attest)
        XCTAssertEqual(info.auditCounter, 0)
        XCTAssertEqual(info.digestAlg, .sha512)
        XCTAssertEqual(info.auditDigest.buffer, [])
        XCTAssertEqual(info.commandDigest.buffer, H(.sha512, Spec.u32(0x140)))
        XCTAssertEqual(TPM.commandIndex[.setCommandCodeAuditStatus]?.attributes.rawValue, 0x0240_0140)
        XCTAssertEqual(TPM.commandIndex[.getCommandAuditDigest]?.attributes.rawValue, 0x0440_0133)
        XCTAssertEqual(TPM.commandIndex[.getSessionAuditDigest]?.attributes.rawValue, 0x0600_014D)
    }

    func testCommandAuditDigestAndCounter() throws {
        let tpm = startedTPM()
        var log = AuditLog()
        let owner = Spec.u32(TPMHandle.owner.rawValue)
        // Audit GetRandom; an unimplemented code is ignored.
        let (p1, rc1) = setAuditStatus(tpm, set: [.getRandom, TPMCC(0x1FF)])
        XCTAssertEqual(rc1, 0)
        log.add(.setCommandCodeAuditStatus, names: [owner], params: p1, response: [])
        let r = tpm.execute(command: command(.getRandom, Spec.u16(8)))
        XCTAssertEqual(responseCode(r), 0)
        log.add(.getRandom, params: Spec.u16(8), response: Array(r[10...]))
        // A command not audited changes nothing.
        XCTAssertEqual(responseCode(tpm.execute(command: command(.readClock))), 0)
        var (_, attest, _) = try getCommandAuditDigest(tpm)
        var info = try commandAuditInfo(attest)
        XCTAssertEqual(info.auditCounter, 1)
        XCTAssertEqual(info.auditDigest.buffer, log.digest)
        XCTAssertEqual(info.commandDigest.buffer, H(.sha512, Spec.u32(0x140), Spec.u32(0x17B)))
        XCTAssertEqual(tpm.property(TPMPT.auditCounter1.rawValue), 1)
        // TPM_CAP_AUDIT_COMMANDS: both, ascending; from a property on.
        let cap = tpm.execute(command: command(.getCapability, Spec.u32(4) + Spec.u32(0) + Spec.u32(10)))
        XCTAssertEqual(Array(cap[10...]), [0] + Spec.u32(4) + Spec.u32(2) + Spec.u32(0x140) + Spec.u32(0x17B))
        let cap2 = tpm.execute(command: command(.getCapability, Spec.u32(4) + Spec.u32(0x141) + Spec.u32(10)))
        XCTAssertEqual(Array(cap2[10...]), [0] + Spec.u32(4) + Spec.u32(1) + Spec.u32(0x17B))

        // Signed by an endorsement ECDSA key: the signature verifies over the TPMS_ATTEST, and
        // the digest starts over (next audited command: counter 2).
        let key = try makePrimary(
            tpm, .endorsement, Templates.ecc(attributes: Templates.signingAttributes, scheme: .ecdsa(hashAlg: .sha256)))
        let (bytes, signed, signature) = try getCommandAuditDigest(tpm, signer: key.handle, data: [1, 2, 3])
        XCTAssertEqual(signed.extraData.buffer, [1, 2, 3])
        XCTAssertEqual(try commandAuditInfo(signed).auditDigest.buffer, log.digest)
        guard case .ecc(let q) = key.publicArea.unique, case .ecdsa(let s) = signature.signature else { return XCTFail("ECDSA") }
        let pk = try P256.Signing.PublicKey(x963Representation: [4] + q.x.buffer + q.y.buffer)
        XCTAssertTrue(
            pk.isValidSignature(try P256.Signing.ECDSASignature(rawRepresentation: s.signatureR.buffer + s.signatureS.buffer), for: bytes))
        (_, attest, _) = try getCommandAuditDigest(tpm)
        info = try commandAuditInfo(attest)
        XCTAssertEqual(info.auditDigest.buffer, [])
        XCTAssertEqual(info.auditCounter, 1)
        log = AuditLog()
        let r2 = tpm.execute(command: command(.getRandom, Spec.u16(4)))
        log.add(.getRandom, params: Spec.u16(4), response: Array(r2[10...]))
        (_, attest, _) = try getCommandAuditDigest(tpm)
        info = try commandAuditInfo(attest)
        XCTAssertEqual(info.auditCounter, 2)
        XCTAssertEqual(info.auditDigest.buffer, log.digest)
        // Persistent: list, hash and counter survive an export; the digest is volatile.
        let copy = try TPM(environment: testEnvironment(), permanentState: tpm.exportPermanentState())
        XCTAssertEqual(copy.persistent.audit, tpm.persistent.audit)
        let running = try TPM(
            environment: testEnvironment(), permanentState: tpm.exportPermanentState(), volatileState: tpm.exportVolatileState())
        XCTAssertEqual(running.volatile.commandAuditDigest, log.digest)
    }

    func testChangingTheHashAndClearing() throws {
        let tpm = startedTPM()
        _ = setAuditStatus(tpm, set: [.getRandom])
        // The hash and a list together: TPM_RC_VALUE + P1 (libtpms).
        XCTAssertEqual(setAuditStatus(tpm, alg: .sha256, set: [.readClock]).1, 0x1C4)
        XCTAssertEqual(setAuditStatus(tpm, alg: .sha256, clear: [.getRandom]).1, 0x1C4)
        // A new hash: the command itself is not audited, the digest restarts.
        XCTAssertEqual(setAuditStatus(tpm, alg: .sha256).1, 0)
        var (_, attest, _) = try getCommandAuditDigest(tpm)
        var info = try commandAuditInfo(attest)
        XCTAssertEqual(info.digestAlg, .sha256)
        XCTAssertEqual(info.auditDigest.buffer, [])
        XCTAssertEqual(info.auditCounter, 1)
        XCTAssertEqual(info.commandDigest.buffer, H(.sha256, Spec.u32(0x140), Spec.u32(0x17B)))
        var log = AuditLog(alg: .sha256)
        let r = tpm.execute(command: command(.getRandom, Spec.u16(2)))
        log.add(.getRandom, params: Spec.u16(2), response: Array(r[10...]))
        // The same hash again with lists: SetCommandCodeAuditStatus is not removable.
        let (p, rc) = setAuditStatus(tpm, alg: .sha256, clear: [.getRandom, .setCommandCodeAuditStatus])
        XCTAssertEqual(rc, 0)
        log.add(.setCommandCodeAuditStatus, names: [Spec.u32(TPMHandle.owner.rawValue)], params: p, response: [])
        (_, attest, _) = try getCommandAuditDigest(tpm)
        info = try commandAuditInfo(attest)
        XCTAssertEqual(info.auditCounter, 2)
        XCTAssertEqual(info.auditDigest.buffer, log.digest)
        XCTAssertEqual(info.commandDigest.buffer, H(.sha256, Spec.u32(0x140)))
        XCTAssertEqual(tpm.persistent.audit.commands, [.setCommandCodeAuditStatus])
        // A TPML_CC beyond MAX_CAP_CC: TPM_RC_SIZE + P2.
        let big = Spec.u16(0x10) + Spec.u32(UInt32(TPMLimits.maxCapCC + 1)) + Spec.u32(0)
        XCTAssertEqual(
            responseCode(
                tpm.execute(command: command(.setCommandCodeAuditStatus, tag: .sessions, withPassword(handles: [.owner], params: big)))),
            0x2D5)
    }

    func testGetSessionAuditDigest() throws {
        let tpm = startedTPM()
        let s = try XCTUnwrap(tpm.startSession(type: 0, symmetric: .null))
        func get(_ h: TPMHandle) -> [UInt8] {
            var w = TPMWriter()
            for x in [TPMHandle.endorsement, .null, h] { w.u32(x.rawValue) }
            var a = TPMWriter()
            for _ in 0..<2 {
                a.u32(TPMHandle.passwordSession.rawValue)
                a.sized([UInt8]())
                a.u8(1)
                a.sized([UInt8]())
            }
            w.u32(UInt32(a.count))
            w.bytes(a.bytes)
            w.sized([UInt8]())
            w.u16(TPMAlgID.null.rawValue)
            return tpm.execute(command: command(.getSessionAuditDigest, tag: .sessions, w.bytes))
        }
        // libtpms: not an audit session TPM_RC_TYPE + H3; no session TPM_RC_REFERENCE_H2; a
        // policy handle is no TPMI_SH_HMAC (TPM_RC_VALUE + H3).
        XCTAssertEqual(responseCode(get(s.handle)), 0x38A)
        XCTAssertEqual(responseCode(get(TPMHandle(0x0200_0005))), 0x912)
        XCTAssertEqual(responseCode(get(TPMHandle(0x0300_0000))), 0x384)
        // Audit GetRandom with the session (continueSession | audit).
        let r = tpm.run(.getRandom, Spec.u16(8), [SessionUse(session: s, attributes: 0x81)])
        XCTAssertEqual(r.code, 0)
        let expected = H(
            .sha256, [UInt8](repeating: 0, count: 32), H(.sha256, Spec.u32(0x17B), Spec.u16(8)),
            H(.sha256, Spec.u32(0), Spec.u32(0x17B), r.parameters))
        let g = get(s.handle)
        XCTAssertEqual(responseCode(g), 0)
        var p = try checkedParameters(g, hasHandle: false)
        let attest = try TPM2BAttest(from: &p).attest()
        guard case .sessionAudit(let info) = attest.attested else { return XCTFail("session audit info") }
        XCTAssertEqual(info.sessionDigest.buffer, expected)
        // The session was exclusive when GetSessionAuditDigest ran (the last command was audited
        // by it); GetSessionAuditDigest itself has no audit session, which ends exclusivity.
        XCTAssertTrue(info.exclusiveSession)
        let g2 = get(s.handle)
        var p2 = try checkedParameters(g2, hasHandle: false)
        guard case .sessionAudit(let info2) = try TPM2BAttest(from: &p2).attest().attested else { return XCTFail("session audit info") }
        XCTAssertFalse(info2.exclusiveSession)
    }

    // MARK: the version-4 fixture (docs/state-format.md: each version has frozen fixtures)

    static let fixtureDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let fixturePolicy = Spec.hash(.sha256, [UInt8](repeating: 0, count: 32), Spec.u32(TPMCC.policyAuthValue.rawValue))

    /// GetRandom audited, PCR 20-22's authValue "fx" and policy PolicyAuthValue, then
    /// Shutdown(STATE): the permanent part has the audit state, the PCR policy and the saved
    /// authValue; the volatile part the live authValue and the command audit digest.
    static func makeFixture(_ tpm: TPM) {
        let set = Spec.u16(0x10) + Spec.u32(1) + Spec.u32(0x17B) + Spec.u32(0)
        precondition(
            responseCode(
                tpm.execute(command: command(.setCommandCodeAuditStatus, tag: .sessions, withPassword(handles: [.owner], params: set))))
                == 0)
        precondition(responseCode(tpm.execute(command: command(.getRandom, Spec.u16(8)))) == 0)
        let auth = command(.pcrSetAuthValue, tag: .sessions, withPassword(handles: [TPMHandle(20)], params: Spec.b2(Array("fx".utf8))))
        precondition(responseCode(tpm.execute(command: auth)) == 0)
        let policy = Spec.b2(fixturePolicy) + Spec.u16(TPMAlgID.sha256.rawValue) + Spec.u32(22)
        precondition(
            responseCode(
                tpm.execute(command: command(.pcrSetAuthPolicy, tag: .sessions, withPassword(handles: [.platform], params: policy)))) == 0)
        precondition(responseCode(tpm.execute(command: command(.shutdown, Spec.u16(1)))) == 0)
    }

    /// VTPM_WRITE_STATE_FIXTURES=1 swift test --filter AuditTests writes the version-4 fixture
    /// if it does not exist yet (committed fixtures are frozen).
    func testWriteFixtureWhenAsked() throws {
        guard ProcessInfo.processInfo.environment["VTPM_WRITE_STATE_FIXTURES"] == "1" else { return }
        let p = Self.fixtureDirectory.appendingPathComponent("v4-audit.permanent.bin")
        guard !FileManager.default.fileExists(atPath: p.path) else { return }
        let tpm = startedTPM(seed: 44)
        Self.makeFixture(tpm)
        try Data(tpm.exportPermanentState()).write(to: p)
        try Data(tpm.exportVolatileState()).write(to: Self.fixtureDirectory.appendingPathComponent("v4-audit.volatile.bin"))
    }

    func testVersion4FixtureLoadsAndWorks() throws {
        let p = Array(try Data(contentsOf: Self.fixtureDirectory.appendingPathComponent("v4-audit.permanent.bin")))
        let v = Array(try Data(contentsOf: Self.fixtureDirectory.appendingPathComponent("v4-audit.volatile.bin")))
        XCTAssertEqual(Array(p[4..<8]), [0, 0, 0, 4])
        let tpm = try TPM(environment: testEnvironment(seed: 6), permanentState: p, volatileState: v)
        if StateBlob.currentVersion == 4 {
            XCTAssertEqual(tpm.exportPermanentState(), p, "canonical re-export")
            XCTAssertEqual(tpm.exportVolatileState(), v, "canonical re-export")
        }
        XCTAssertEqual(tpm.persistent.audit.commands, [.setCommandCodeAuditStatus, .getRandom])
        XCTAssertEqual(tpm.persistent.audit.counter, 1)
        XCTAssertEqual(tpm.persistent.audit.hashAlg, .sha512)
        XCTAssertEqual(tpm.persistent.pcrPolicy, EntityAuth(authValue: [], policyAlg: .sha256, policy: Self.fixturePolicy))
        XCTAssertEqual(tpm.persistent.savedState?.pcrAuthValue, Array("fx".utf8))
        XCTAssertEqual(tpm.volatile.pcrAuthValue, Array("fx".utf8))
        XCTAssertEqual(tpm.volatile.commandAuditDigest.count, 64)
        // The digest goes on from where it was: one more GetRandom, recomputed here.
        let before = tpm.volatile.commandAuditDigest
        let r = tpm.execute(command: command(.getRandom, Spec.u16(2)))
        XCTAssertEqual(responseCode(r), 0)
        XCTAssertEqual(tpm.volatile.commandAuditDigest.count, 64)
        var log = AuditLog(alg: .sha512, digest: before)
        log.add(.getRandom, params: Spec.u16(2), response: Array(r[10...]))
        XCTAssertNotEqual(log.digest, before)
        XCTAssertEqual(tpm.volatile.commandAuditDigest, log.digest)
        // Power cycle and Startup(STATE): the PCR authValue comes back (TPM Resume).
        let resumed = try TPM(environment: testEnvironment(seed: 7), permanentState: p)
        resumed.powerOn()
        XCTAssertEqual(responseCode(resumed.execute(command: command(.startup, Spec.u16(1)))), 0)
        XCTAssertEqual(resumed.volatile.pcrAuthValue, Array("fx".utf8))
        XCTAssertEqual(resumed.volatile.commandAuditDigest, [], "the digest is volatile (D16)")
    }
}
