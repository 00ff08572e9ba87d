import Crypto
import Foundation
import TPMCrypto
import TPMWire
import XCTest

@testable import TPMEngine

/// TPM2_EC_Ephemeral, TPM2_Commit, TPM2_ZGen_2Phase and ECDAA signing: response codes from
/// Part 3 (each matches libtpms; tests/integration/test_ecc_commit.py sends the same commands
/// to swtpm), key-exchange values checked with swift-crypto's P-256 ECDH, the commit state
/// across Restart, Reset and a state export.
final class ECCCommitTests: XCTestCase {
    static let daaScheme = TPMUAsymScheme.ecdaa(hashAlg: .sha256, count: 0)

    func daaKey(_ tpm: TPM) throws -> CreatePrimaryResult {
        try makePrimary(tpm, .owner, Templates.ecc(attributes: Templates.signingAttributes, scheme: Self.daaScheme))
    }

    func dhKey(_ tpm: TPM, scheme: TPMUAsymScheme = .ecdh(hashAlg: .sha256)) throws -> CreatePrimaryResult {
        try makePrimary(
            tpm, .owner,
            Templates.ecc(attributes: [.fixedTPM, .fixedParent, .sensitiveDataOrigin, .userWithAuth, .decrypt], scheme: scheme))
    }

    static func point(_ x: [UInt8], _ y: [UInt8]) -> [UInt8] {
        var w = TPMWriter()
        TPM2BECCPoint(TPMSECCPoint(x: TPM2BECCParameter(x), y: TPM2BECCParameter(y))).encode(to: &w)
        return w.bytes
    }

    static func point(_ k: P256.KeyAgreement.PublicKey) -> [UInt8] {
        let b = Array(k.x963Representation)
        return point(Array(b[1..<33]), Array(b[33...]))
    }

    func ephemeral(_ tpm: TPM, curve: UInt16 = 3) -> [UInt8] { tpm.execute(command: command(.ecEphemeral, Spec.u16(curve))) }

    func commit(_ tpm: TPM, _ key: TPMHandle, p1: [UInt8] = Spec.u16(4) + Spec.u32(0), s2: [UInt8] = [], y2: [UInt8] = []) -> [UInt8] {
        tpm.execute(command: command(.commit, tag: .sessions, withPassword(handles: [key], params: p1 + Spec.b2(s2) + Spec.b2(y2))))
    }

    func zGen(_ tpm: TPM, _ key: TPMHandle, qsB: [UInt8], qeB: [UInt8], scheme: TPMAlgID = .ecdh, counter: UInt16) -> [UInt8] {
        let params = qsB + qeB + Spec.u16(scheme.rawValue) + Spec.u16(counter)
        return tpm.execute(command: command(.zGen2Phase, tag: .sessions, withPassword(handles: [key], params: params)))
    }

    func signECDAA(_ tpm: TPM, _ key: TPMHandle, digest: [UInt8], count: UInt16?) -> [UInt8] {
        var w = TPMWriter()
        w.sized(digest)
        if let count {
            TPMTSigScheme(.ecdaa(hashAlg: .sha256, count: count)).encode(to: &w)
        } else {
            TPMTSigScheme.null.encode(to: &w)
        }
        TPMTTKHashcheck(tag: .hashCheck, hierarchy: .null, digest: TPM2BDigest()).encode(to: &w)
        return tpm.execute(command: command(.sign, tag: .sessions, withPassword(handles: [key], params: w.bytes)))
    }

    /// (Q, counter) of a successful EC_Ephemeral.
    func parseEphemeral(_ r: [UInt8]) throws -> (ECCPoint, UInt16) {
        XCTAssertEqual(responseCode(r), 0)
        var p = responseParameters(r)
        let q = try TPM2BECCPoint(from: &p).point
        return (ECCPoint(x: q.x.buffer, y: q.y.buffer), try p.u16())
    }

    /// (K, L, E, counter) of a successful Commit; an empty point is nil.
    func parseCommit(_ r: [UInt8]) throws -> (ECCPoint?, ECCPoint?, ECCPoint?, UInt16) {
        var p = try checkedParameters(r, hasHandle: false)
        let pts = try (0..<3).map { _ -> ECCPoint? in
            let q = try TPM2BECCPoint(from: &p).point
            return q.x.count == 0 && q.y.count == 0 ? nil : ECCPoint(x: q.x.buffer, y: q.y.buffer)
        }
        return (pts[0], pts[1], pts[2], try p.u16())
    }

    func parseSignature(_ r: [UInt8]) throws -> TPMSSignatureECC {
        var p = try checkedParameters(r, hasHandle: false)
        guard case .ecdaa(let s) = try TPMTSignature(from: &p, allowNull: false, support: TPM.algorithmSupport).signature else {
            throw TPMError(.scheme)
        }
        return s
    }

    func publicKey(_ k: CreatePrimaryResult) throws -> ECCPublicKey {
        guard case .ecc(let q) = k.publicArea.unique else { throw TPMError(.key) }
        return try ECCPublicKey(curve: .nistP256, point: ECCPoint(x: q.x.buffer, y: q.y.buffer))
    }

    // MARK: EC_Ephemeral

    func testEphemeralCountsAndChecksTheCurve() throws {
        let tpm = startedTPM()
        for i: UInt16 in 0..<3 {
            let (q, c) = try parseEphemeral(ephemeral(tpm))
            XCTAssertEqual(c, i)
            // swift-crypto accepts only points on P-256.
            XCTAssertNoThrow(try P256.KeyAgreement.PublicKey(x963Representation: [4] + q.x + q.y))
        }
        // TPM_RC_CURVE + P1; no commit taken.
        XCTAssertEqual(responseCode(ephemeral(tpm, curve: 0x0011)), 0x1E6)  // BN-P638: not implemented
        XCTAssertEqual(responseCode(ephemeral(tpm, curve: 0x0099)), 0x1E6)
        XCTAssertEqual(tpm.volatile.commit.counter, 3)
        XCTAssertEqual(tpm.volatile.commit.array[0], 0b111)
    }

    // MARK: Commit

    func testCommitChecksInSpecOrder() throws {
        let tpm = startedTPM()
        let daa = try daaKey(tpm).handle
        let ecdsa = try makePrimary(
            tpm, .owner, Templates.ecc(attributes: Templates.signingAttributes, scheme: .ecdsa(hashAlg: .sha256))
        ).handle
        // A non-anonymous scheme: TPM_RC_SCHEME + H1; a key that is not ECC: TPM_RC_KEY + H1.
        XCTAssertEqual(responseCode(commit(tpm, ecdsa)), 0x192)
        let hmac = try makePrimary(
            tpm, .owner, Templates.keyedHash(attributes: Templates.signingAttributes, scheme: .hmac(hashAlg: .sha256))
        ).handle
        XCTAssertEqual(responseCode(commit(tpm, hmac)), 0x19C)
        XCTAssertEqual(responseCode(tpm.execute(command: flushCommand(hmac))), 0)
        // s2 and y2: both or neither (TPM_RC_SIZE + P3).
        XCTAssertEqual(responseCode(commit(tpm, daa, s2: [1])), 0x3D5)
        XCTAssertEqual(responseCode(commit(tpm, daa, y2: [1])), 0x3D5)
        // P2 = (H(s2) mod p, y2) off the curve: TPM_RC_ECC_POINT + P2.
        XCTAssertEqual(responseCode(commit(tpm, daa, s2: [1], y2: [2])), 0x2E7)
        // P1 off the curve: TPM_RC_ECC_POINT + P1.
        let g = ECCCurve.nistP256.parameters
        XCTAssertEqual(responseCode(commit(tpm, daa, p1: Self.point(g.gX, g.gX))), 0x1E7)
        // An empty TPM2B_ECC_POINT (size 0) fails to unmarshal: TPM_RC_SIZE + P1.
        XCTAssertEqual(responseCode(commit(tpm, daa, p1: Spec.u16(0))), 0x1D5)
        // None of these took a commit.
        XCTAssertEqual(tpm.volatile.commit.counter, 0)
        // With P1 = G: E = [r]G, the same as without P1; K and L empty.
        let (k, l, e, c) = try parseCommit(commit(tpm, daa, p1: Self.point(g.gX, g.gY)))
        XCTAssertNil(k)
        XCTAssertNil(l)
        XCTAssertNotNil(e)
        XCTAssertEqual(c, 0)
    }

    // MARK: ECDAA signing

    func testECDAASignatureUsesTheCommitOnce() throws {
        let tpm = startedTPM()
        let key = try daaKey(tpm)
        let q = try publicKey(key)
        let digest = Array(SHA256.hash(data: Array("message".utf8)))
        _ = try parseEphemeral(ephemeral(tpm))  // count 0, not bound to the key
        let (_, _, e, c) = try parseCommit(commit(tpm, key.handle))
        XCTAssertEqual(c, 1)
        let sig = try parseSignature(signECDAA(tpm, key.handle, digest: digest, count: c))
        XCTAssertEqual(sig.hash, .sha256)
        let s = ECCSignature(r: sig.signatureR.buffer, s: sig.signatureS.buffer)
        XCTAssertTrue(q.verifyECDAA(hash: .sha256, digest: digest, signature: s, commitPoint: try XCTUnwrap(e)))
        // Another digest does not verify (the check can fail).
        XCTAssertFalse(q.verifyECDAA(hash: .sha256, digest: Array(digest.reversed()), signature: s, commitPoint: e!))
        // The commit is used up; counts never committed are TPM_RC_VALUE (unnumbered, as
        // libtpms's CryptSign); the key's own scheme needs a count: TPM_RC_SCHEME + P2.
        XCTAssertEqual(responseCode(signECDAA(tpm, key.handle, digest: digest, count: c)), 0x084)
        XCTAssertEqual(responseCode(signECDAA(tpm, key.handle, digest: digest, count: 2)), 0x084)
        XCTAssertEqual(responseCode(signECDAA(tpm, key.handle, digest: digest, count: nil)), 0x2D2)
        // A count from EC_Ephemeral is outstanding too: it signs (with an r bound to no key).
        XCTAssertEqual(responseCode(signECDAA(tpm, key.handle, digest: digest, count: 0)), 0)
        XCTAssertEqual(tpm.volatile.commit.array[0], 0)
    }

    /// The attestation commands sign through the same code: a Quote with the ECDAA scheme uses up
    /// its commit, and its signature verifies over the attestation's digest.
    func testQuoteWithECDAA() throws {
        let tpm = startedTPM()
        let key = try daaKey(tpm)
        let (_, _, e, c) = try parseCommit(commit(tpm, key.handle))
        let sel = TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: [0])])
        let quote = quoteCommand(key.handle, nonce: [1, 2], scheme: .ecdaa(hashAlg: .sha256, count: c), pcrs: sel)
        let (bytes, _, sig) = try parseAttestation(tpm.execute(command: quote))
        guard case .ecdaa(let s) = sig.signature else { return XCTFail("\(sig)") }
        XCTAssertTrue(
            try publicKey(key).verifyECDAA(
                hash: .sha256, digest: Array(SHA256.hash(data: bytes)),
                signature: ECCSignature(r: s.signatureR.buffer, s: s.signatureS.buffer),
                commitPoint: XCTUnwrap(e)))
        XCTAssertEqual(responseCode(tpm.execute(command: quote)), 0x084)
    }

    func testCommitWithP2GivesConsistentPoints() throws {
        let tpm = startedTPM()
        let key = try daaKey(tpm)
        let digest = Array(SHA256.hash(data: [1, 2, 3]))
        // Find s2 whose H(s2) mod p is an x coordinate; y2 from the curve equation.
        var s2: [UInt8] = []
        var p2: ECCPoint?
        var i: UInt8 = 0
        while p2 == nil {
            s2 = [i]
            i += 1
            // x = H(s2) mod p; a SHA-256 value is below p with probability 1 - 2^-32, and
            // swift-crypto's compressed form decodes a point from x (if there is one).
            let x = Array(SHA256.hash(data: s2))
            if let k = try? P256.KeyAgreement.PublicKey(compressedRepresentation: [2] + x) {
                let b = Array(k.x963Representation)
                p2 = ECCPoint(x: Array(b[1..<33]), y: Array(b[33...]))
            }
        }
        let (k, l, e, c) = try parseCommit(commit(tpm, key.handle, s2: s2, y2: p2!.y))
        XCTAssertNil(e)
        // [s]P2 = L + [T]K: with a verifier key at P2's place, K plays Q and L plays E.
        let sig = try parseSignature(signECDAA(tpm, key.handle, digest: digest, count: c))
        let s = ECCSignature(r: sig.signatureR.buffer, s: sig.signatureS.buffer)
        let lhs = try ECCCurve.nistP256.multiply(p2!, by: s.s)
        let t = try XCTUnwrap(ECCCurve.nistP256.modOrder(Array(SHA256.hash(data: s.r + digest))))
        let rhs = try ECCCurve.nistP256.add(XCTUnwrap(l), ECCCurve.nistP256.multiply(XCTUnwrap(k), by: t))
        XCTAssertEqual(lhs, rhs)
    }

    // MARK: ZGen_2Phase

    func testZGen2PhaseECDH() throws {
        let tpm = startedTPM()
        let key = try dhKey(tpm)
        let qsA = try P256.KeyAgreement.PublicKey(x963Representation: [4] + publicKey(key).point.x + publicKey(key).point.y)
        let (qeA, c) = try parseEphemeral(ephemeral(tpm))
        let qeAKey = try P256.KeyAgreement.PublicKey(x963Representation: [4] + qeA.x + qeA.y)
        let b = P256.KeyAgreement.PrivateKey()
        let e = P256.KeyAgreement.PrivateKey()
        let r = zGen(tpm, key.handle, qsB: Self.point(b.publicKey), qeB: Self.point(e.publicKey), counter: c)
        let z = try outputBuffers(r, count: 2)
        // Z1 = [dsA]QsB = [b]QsA and Z2 = [r]QeB = [e]QeA: their x coordinates are swift-crypto's
        // ECDH shared secrets.
        XCTAssertEqual(Array(z[0][2..<34]), try b.sharedSecretFromKeyAgreement(with: qsA).withUnsafeBytes { Array($0) })
        XCTAssertEqual(Array(z[1][2..<34]), try e.sharedSecretFromKeyAgreement(with: qeAKey).withUnsafeBytes { Array($0) })
        let good = Self.point(b.publicKey)
        let g = ECCCurve.nistP256.parameters
        let bad = Self.point(g.gX, g.gX)
        // The commit is used up: TPM_RC_VALUE + P4, as for one never made.
        XCTAssertEqual(responseCode(zGen(tpm, key.handle, qsB: good, qeB: good, counter: c)), 0x4C4)
        XCTAssertEqual(responseCode(zGen(tpm, key.handle, qsB: good, qeB: good, counter: 9)), 0x4C4)
        // Points off the curve: TPM_RC_ECC_POINT + P1 / P2 (before the counter).
        XCTAssertEqual(responseCode(zGen(tpm, key.handle, qsB: bad, qeB: good, counter: 9)), 0x1E7)
        XCTAssertEqual(responseCode(zGen(tpm, key.handle, qsB: good, qeB: bad, counter: 9)), 0x2E7)
        // A key scheme other than inScheme, SM2 (not implemented), NULL (no key exchange):
        // TPM_RC_SCHEME + P3.
        for s: TPMAlgID in [.ecmqv, .sm2, .null, .ecdsa] {
            XCTAssertEqual(responseCode(zGen(tpm, key.handle, qsB: good, qeB: good, scheme: s, counter: 9)), 0x3D2, "\(s)")
        }
        // A signing key: TPM_RC_ATTRIBUTES + H1; a key that is not ECC: TPM_RC_KEY + H1.
        let daa = try daaKey(tpm).handle
        XCTAssertEqual(responseCode(zGen(tpm, daa, qsB: good, qeB: good, counter: 9)), 0x182)
        XCTAssertEqual(responseCode(tpm.execute(command: flushCommand(daa))), 0)
        let hmac = try makePrimary(
            tpm, .owner, Templates.keyedHash(attributes: Templates.signingAttributes, scheme: .hmac(hashAlg: .sha256))
        ).handle
        XCTAssertEqual(responseCode(zGen(tpm, hmac, qsB: good, qeB: good, counter: 9)), 0x19C)
    }

    /// ECMQV (SP 800-56A, 5.7.2.3) with a key whose scheme is NULL: B computes the same point
    /// from its own private keys and A's public ones (here with TPMCrypto's point arithmetic;
    /// test_ecc_commit.py checks it with arithmetic written in Python).
    func testZGen2PhaseECMQV() throws {
        let tpm = startedTPM()
        let key = try dhKey(tpm, scheme: .null)
        let qsA = try publicKey(key)
        let (qeA, c) = try parseEphemeral(ephemeral(tpm))
        let curve = ECCCurve.nistP256
        let dsB: [UInt8] = Array(SHA256.hash(data: [1]))
        let deB: [UInt8] = Array(SHA256.hash(data: [2]))
        let qsB = try curve.multiplyGenerator(by: dsB)
        let qeB = try curve.multiplyGenerator(by: deB)
        let r = zGen(tpm, key.handle, qsB: Self.point(qsB.x, qsB.y), qeB: Self.point(qeB.x, qeB.y), scheme: .ecmqv, counter: c)
        let z = try outputBuffers(r, count: 2)
        XCTAssertEqual(z[1], [0, 0, 0, 0], "Z2 is an empty point")
        let b = try ECCPrivateKey(curve: curve, scalar: dsB)
        let expected = try b.mqvPoint(
            ephemeral: ECCPrivateKey(curve: curve, scalar: deB), peerStatic: qsA,
            peerEphemeral: ECCPublicKey(curve: curve, point: qeA))
        XCTAssertEqual(z[0], Spec.b2(expected.x) + Spec.b2(expected.y))
        // Used up like an ECDH commit.
        XCTAssertEqual(
            responseCode(zGen(tpm, key.handle, qsB: Self.point(qsB.x, qsB.y), qeB: Self.point(qeB.x, qeB.y), scheme: .ecmqv, counter: c)),
            0x4C4)
    }

    // MARK: the commit state

    func testCommitStateAcrossRestartResetAndExport() throws {
        let tpm = startedTPM()
        let key = try daaKey(tpm)
        let q = try publicKey(key)
        let digest = Array(SHA256.hash(data: [9]))
        let (_, _, e0, c0) = try parseCommit(commit(tpm, key.handle))
        let (_, _, e1, c1) = try parseCommit(commit(tpm, key.handle))
        XCTAssertEqual([c0, c1], [0, 1])
        // Export and import: the same r for the same count (the nonce is kept).
        let copy = try TPM(
            environment: testEnvironment(seed: 9), permanentState: tpm.exportPermanentState(), volatileState: tpm.exportVolatileState())
        XCTAssertEqual(copy.volatile.commit, tpm.volatile.commit)
        let sig = try parseSignature(signECDAA(copy, key.handle, digest: digest, count: c0))
        XCTAssertTrue(
            q.verifyECDAA(
                hash: .sha256, digest: digest, signature: ECCSignature(r: sig.signatureR.buffer, s: sig.signatureS.buffer), commitPoint: e0!
            ))
        // TPM Restart (Shutdown(STATE), Startup(CLEAR)): STATE_RESET data, so the commit stays.
        XCTAssertEqual(responseCode(tpm.execute(command: command(.shutdown, Spec.u16(1)))), 0)
        let restarted = try TPM(environment: testEnvironment(seed: 10), permanentState: tpm.exportPermanentState())
        restarted.powerOn()
        XCTAssertEqual(responseCode(restarted.execute(command: command(.startup, Spec.u16(0)))), 0)
        XCTAssertEqual(restarted.volatile.commit.counter, 2)
        let again = try makePrimary(restarted, .owner, Templates.ecc(attributes: Templates.signingAttributes, scheme: Self.daaScheme))
        let sig1 = try parseSignature(signECDAA(restarted, again.handle, digest: digest, count: c1))
        XCTAssertTrue(
            q.verifyECDAA(
                hash: .sha256, digest: digest, signature: ECCSignature(r: sig1.signatureR.buffer, s: sig1.signatureS.buffer),
                commitPoint: e1!))
        // TPM Reset: counter 0, nothing outstanding, a new nonce at the next commit.
        XCTAssertEqual(responseCode(restarted.execute(command: command(.shutdown, Spec.u16(0)))), 0)
        restarted.powerOff()
        restarted.powerOn()
        XCTAssertEqual(responseCode(restarted.execute(command: command(.startup, Spec.u16(0)))), 0)
        XCTAssertEqual(restarted.volatile.commit, CommitState())
        XCTAssertEqual(try parseEphemeral(ephemeral(restarted)).1, 0)
        XCTAssertEqual(tpm.propertyValue(.splitMax), 128)
    }

    func testStateRejectsCommitsWithoutNonce() throws {
        var s = CommitState()
        s.counter = 1
        var w = TPMWriter()
        s.encodeState(to: &w)
        var r = StateReader(w.bytes)
        XCTAssertThrowsError(try CommitState(state: &r, "commit"))
        var ok = TPMWriter()
        CommitState().encodeState(to: &ok)
        var r2 = StateReader(ok.bytes)
        XCTAssertEqual(try CommitState(state: &r2, "commit"), CommitState())
    }

    // MARK: version-5 fixture

    static let fixtureDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Two commits (counts 0 and 1) and one EC_Ephemeral (count 2).
    static func makeFixture(_ tpm: TPM) throws {
        let key = try makePrimary(tpm, .owner, Templates.ecc(attributes: Templates.signingAttributes, scheme: daaScheme)).handle
        let params = Spec.u16(4) + Spec.u32(0) + Spec.u32(0)
        for _ in 0..<2 {
            precondition(
                responseCode(tpm.execute(command: command(.commit, tag: .sessions, withPassword(handles: [key], params: params)))) == 0)
        }
        precondition(responseCode(tpm.execute(command: command(.ecEphemeral, Spec.u16(3)))) == 0)
    }

    /// VTPM_WRITE_STATE_FIXTURES=1 swift test --filter ECCCommitTests writes the version-5
    /// fixtures if they do not exist yet (committed fixtures are frozen): the running TPM after
    /// `makeFixture` (both parts), then its permanent part after Shutdown(STATE).
    func testWriteFixtureWhenAsked() throws {
        guard ProcessInfo.processInfo.environment["VTPM_WRITE_STATE_FIXTURES"] == "1" else { return }
        let p = Self.fixtureDirectory.appendingPathComponent("v5-commit.permanent.bin")
        guard !FileManager.default.fileExists(atPath: p.path) else { return }
        let tpm = startedTPM(seed: 55)
        try Self.makeFixture(tpm)
        try Data(tpm.exportPermanentState()).write(to: Self.fixtureDirectory.appendingPathComponent("v5-commit-running.permanent.bin"))
        try Data(tpm.exportVolatileState()).write(to: Self.fixtureDirectory.appendingPathComponent("v5-commit-running.volatile.bin"))
        precondition(responseCode(tpm.execute(command: command(.shutdown, Spec.u16(1)))) == 0)
        try Data(tpm.exportPermanentState()).write(to: p)
    }

    func fixture(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: Self.fixtureDirectory.appendingPathComponent(name)))
    }

    func testVersion5FixturesLoadAndWork() throws {
        let rp = try fixture("v5-commit-running.permanent.bin")
        let rv = try fixture("v5-commit-running.volatile.bin")
        let p = try fixture("v5-commit.permanent.bin")
        for blob in [rp, rv, p] { XCTAssertEqual(Array(blob[4..<8]), [0, 0, 0, 5]) }
        let digest = Array(SHA256.hash(data: [5]))
        let expected = [UInt8(0b111)] + [UInt8](repeating: 0, count: 15)
        // The running TPM: the commit state in the volatile part; counts 0 and 1 were made for
        // the key, count 2 by EC_Ephemeral (it signs too, with an r bound to no key); 3 was never
        // committed.
        let running = try TPM(environment: testEnvironment(seed: 56), permanentState: rp, volatileState: rv)
        if StateBlob.currentVersion == 5 {
            XCTAssertEqual(running.exportPermanentState(), rp, "canonical re-export")
            XCTAssertEqual(running.exportVolatileState(), rv, "canonical re-export")
        }
        XCTAssertEqual(running.volatile.commit.counter, 3)
        XCTAssertEqual(running.volatile.commit.array, expected)
        XCTAssertEqual(running.volatile.commit.nonce.count, 32)
        let key = TPMHandle(try XCTUnwrap(running.volatile.objects.keys.sorted().first))
        for c: UInt16 in [0, 1, 2] { XCTAssertEqual(responseCode(signECDAA(running, key, digest: digest, count: c)), 0, "count \(c)") }
        XCTAssertEqual(responseCode(signECDAA(running, key, digest: digest, count: 3)), 0x084)
        // After Shutdown(STATE): the saved state holds the commit state, and TPM Resume restores it.
        let resumed = try TPM(environment: testEnvironment(seed: 57), permanentState: p)
        if StateBlob.currentVersion == 5 { XCTAssertEqual(resumed.exportPermanentState(), p, "canonical re-export") }
        let saved = try XCTUnwrap(resumed.persistent.savedState?.commit)
        XCTAssertEqual(saved, running.persistent.savedState?.commit ?? saved)
        XCTAssertEqual(saved.counter, 3)
        XCTAssertEqual(saved.array, expected)
        resumed.powerOn()
        XCTAssertEqual(responseCode(resumed.execute(command: command(.startup, Spec.u16(1)))), 0)
        XCTAssertEqual(resumed.volatile.commit, saved)
        // The key is a primary: the same seed gives it again, with the same Name (so the same r).
        let again = try makePrimary(resumed, .owner, Templates.ecc(attributes: Templates.signingAttributes, scheme: Self.daaScheme))
        XCTAssertEqual(responseCode(signECDAA(resumed, again.handle, digest: digest, count: 1)), 0)
        XCTAssertEqual(try parseEphemeral(ephemeral(resumed)).1, 3)
    }

    func testVersion4StateLoadsWithCounterZero() throws {
        let p = Array(try Data(contentsOf: Self.fixtureDirectory.appendingPathComponent("v4-audit.permanent.bin")))
        let v = Array(try Data(contentsOf: Self.fixtureDirectory.appendingPathComponent("v4-audit.volatile.bin")))
        let tpm = try TPM(environment: testEnvironment(seed: 6), permanentState: p, volatileState: v)
        XCTAssertEqual(tpm.volatile.commit, CommitState())
        XCTAssertEqual(tpm.persistent.savedState?.commit, CommitState())
        XCTAssertEqual(try parseEphemeral(ephemeral(tpm)).1, 0)
    }
}
