import Crypto
import TPMCrypto
import TPMWire
import XCTest

@testable import TPMEngine

// TPM2_HMAC_Start and HMAC sequences (Part 3, 17.2, 17.4-17.5): results checked with
// swift-crypto's HMAC, across ContextSave/ContextLoad, and error codes compared with libtpms
// 0.9.2 (recorded with tests/differential/replay.py).

func hmacStartCommand(_ key: TPMHandle, auth: [UInt8] = [], alg: TPMAlgID) -> [UInt8] {
    var w = TPMWriter()
    w.sized(auth)
    w.u16(alg.rawValue)
    return command(.hmacStart, tag: .sessions, withPassword(handles: [key], params: w.bytes))
}

func independentHMAC(_ alg: TPMAlgID, key: [UInt8], _ data: [UInt8]) -> [UInt8] {
    let k = SymmetricKey(data: key)
    switch alg {
    case .sha1: return Array(HMAC<Insecure.SHA1>.authenticationCode(for: data, using: k))
    case .sha384: return Array(HMAC<SHA384>.authenticationCode(for: data, using: k))
    case .sha512: return Array(HMAC<SHA512>.authenticationCode(for: data, using: k))
    default: return Array(HMAC<SHA256>.authenticationCode(for: data, using: k))
    }
}

final class HMACSequenceTests: XCTestCase {
    typealias C = DifferentialCase
    static let hmacAttributes: TPMAObject = [.fixedTPM, .fixedParent, .userWithAuth, .sign]
    /// A keyed hash without a scheme must both sign and decrypt.
    static let anyUseAttributes: TPMAObject = [.fixedTPM, .fixedParent, .userWithAuth, .sign, .decrypt]

    func data(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) } }

    func testSequencesMatchSwiftCrypto() throws {
        let tpm = startedTPM()
        // A key without a scheme takes the command's hash.
        for keyLength in [1, 32, 64] {
            let key = data(keyLength).map { $0 ^ 0xA5 }
            let k = try makePrimary(tpm, .owner, Templates.keyedHash(attributes: Self.anyUseAttributes), data: key)
            for alg in [TPMAlgID.sha1, .sha256, .sha384, .sha512] {
                let chunks = [0, 1, 63, 64, 65, 127, 128, 300]
                let s = tpm.execute(command: hmacStartCommand(k.handle, auth: [1, 2], alg: alg))
                XCTAssertEqual(responseCode(s), 0)
                let seq = responseHandle(s)
                var all: [UInt8] = []
                for (i, n) in chunks.enumerated() {
                    let d = data(n).map { $0 &+ UInt8(i) }
                    all += d
                    XCTAssertEqual(responseCode(tpm.update(seq, d, auth: [1, 2])), 0)
                }
                let last = data(17)
                all += last
                let r = tpm.complete(seq, last, hierarchy: .owner, auth: [1, 2])
                XCTAssertEqual(responseCode(r), 0)
                let (mac, ticket) = try digestAndTicket(r)
                XCTAssertEqual(mac, independentHMAC(alg, key: key, all), "key \(keyLength) \(alg)")
                XCTAssertEqual(ticket, .null, "an HMAC sequence never earns a ticket")
                XCTAssertEqual(responseCode(tpm.update(seq, [1], auth: [1, 2])), 0x910, "flushed")
            }
            XCTAssertEqual(responseCode(tpm.execute(command: flushCommand(k.handle))), 0)
        }
    }

    /// Keys longer than the hash's block are hashed first (RFC 2104), as swift-crypto does.
    func testLongKeys() {
        for (alg, hash) in [(TPMAlgID.sha1, HashAlgorithm.sha1), (.sha256, .sha256), (.sha512, .sha512)] {
            for n in [0, 63, 64, 65, 128, 129, 200] {
                let key = data(n)
                var (inner, k0) = HMACSequence.start(hash, key: key)
                inner.update(data(77))
                XCTAssertEqual(HMACSequence.finish(inner: inner, key: k0), independentHMAC(alg, key: key, data(77)), "\(alg) \(n)")
            }
        }
    }

    /// The key's scheme fixes the hash; the sequence survives ContextSave and ContextLoad, and
    /// even the HMAC key being flushed.
    func testSchemeHashAndContexts() throws {
        let tpm = startedTPM()
        let key = Array("key of the keyed-hash object".utf8)
        let k = try makePrimary(
            tpm, .owner, Templates.keyedHash(attributes: Self.hmacAttributes, scheme: .hmac(hashAlg: .sha384)), data: key)
        XCTAssertEqual(responseCode(tpm.execute(command: hmacStartCommand(k.handle, alg: .sha256))), 0x2C4)
        let s = tpm.execute(command: hmacStartCommand(k.handle, alg: .null))
        XCTAssertEqual(responseCode(s), 0)
        let seq = responseHandle(s)
        XCTAssertEqual(responseCode(tpm.update(seq, data(70))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: flushCommand(k.handle))), 0)
        let saved = try tpm.savedContext(seq)
        XCTAssertEqual(responseCode(tpm.execute(command: flushCommand(seq))), 0)
        let loaded = tpm.contextLoad(saved)
        XCTAssertEqual(responseCode(loaded), 0)
        let seq2 = responseHandle(loaded)
        XCTAssertEqual(responseCode(tpm.update(seq2, data(200))), 0)
        let (mac, _) = try digestAndTicket(tpm.complete(seq2, data(3), hierarchy: .null))
        XCTAssertEqual(mac, independentHMAC(.sha384, key: key, data(70) + data(200) + data(3)))
        // The object encoding of an HMAC sequence round-trips and rejects a K0 of another size.
        let t = try makePrimary(tpm, .owner, Templates.keyedHash(attributes: Self.anyUseAttributes), data: key)
        let seq3 = responseHandle(tpm.execute(command: hmacStartCommand(t.handle, alg: .sha1)))
        guard let object = tpm.transientObject(seq3) else { return XCTFail("loaded") }
        let bytes = object.encoded
        XCTAssertNotNil(TransientObject(encoded: bytes))
        XCTAssertEqual(bytes[1], 4, "kind 4")
        var bad = bytes
        // authValue is empty (2 octets); K0's size field follows: 64 for SHA-1, make it 63.
        XCTAssertEqual(Array(bad[4..<6]), [0, 64])
        bad[5] = 63
        bad.remove(at: 6)
        XCTAssertNil(TransientObject(encoded: bad))
    }

    /// An HMAC sequence in the exported volatile state continues in the restored instance.
    func testVolatileStateCarriesHMACSequence() throws {
        let clock = TestClock()
        let tpm = startedTPM(clock: clock)
        let key = Array("volatile".utf8)
        let k = try makePrimary(tpm, .owner, Templates.keyedHash(attributes: Self.anyUseAttributes), data: key)
        let seq = responseHandle(tpm.execute(command: hmacStartCommand(k.handle, auth: [5], alg: .sha512)))
        XCTAssertEqual(responseCode(tpm.update(seq, data(150), auth: [5])), 0)
        let restored = try TPM(
            environment: testEnvironment(seed: 9, clock: clock), permanentState: tpm.exportPermanentState(),
            volatileState: tpm.exportVolatileState())
        let (mac, _) = try digestAndTicket(restored.complete(seq, data(10), hierarchy: .null, auth: [5]))
        XCTAssertEqual(mac, independentHMAC(.sha512, key: key, data(150) + data(10)))
    }

    /// Error codes compared with libtpms 0.9.2.
    func testDifferential() {
        let k = TPMHandle(0x8000_0000)
        let seq = TPMHandle(0x8000_0001)
        let cp = { (t: TPMTPublic) in createPrimaryCommand(.owner, t, data: [1, 2, 3]) }
        let plain = Templates.keyedHash(attributes: Self.anyUseAttributes)
        let sha256 = Templates.keyedHash(attributes: Self.hmacAttributes, scheme: .hmac(hashAlg: .sha256))
        var p = TPMWriter()
        p.sized([UInt8]())
        p.u32(TPMHandle.owner.rawValue)
        let complete = command(.sequenceComplete, tag: .sessions, withPassword(handles: [seq], params: p.bytes))
        let eventComplete = command(
            .eventSequenceComplete, tag: .sessions, withPasswords(handles: [.null, seq], passwords: [[], []], params: [0, 0]))
        let cases: [C] = [
            C(name: "hmac start, no scheme", steps: [cp(plain), hmacStartCommand(k, alg: .sha256), complete], expected: [0, 0, 0]),
            C(name: "hmac start, no scheme, no hash", steps: [cp(plain), hmacStartCommand(k, alg: .null)], expected: [0, 0x2C4]),
            C(name: "hmac start, scheme hash", steps: [cp(sha256), hmacStartCommand(k, alg: .sha256)], expected: [0, 0]),
            C(name: "hmac start, scheme and NULL", steps: [cp(sha256), hmacStartCommand(k, alg: .null)], expected: [0, 0]),
            C(name: "hmac start, other hash", steps: [cp(sha256), hmacStartCommand(k, alg: .sha1)], expected: [0, 0x2C4]),
            // libtpms reads this parameter as TPM2_MAC_Start's TPMI_ALG_MAC_SCHEME (the two
            // commands share 0x15B), whose error is TPM_RC_SYMMETRIC; TPM2_HMAC_Start's
            // TPMI_ALG_HASH+ (Part 3, 17.2) gives TPM_RC_HASH (docs/deviations.md).
            C(
                name: "hmac start, bad hash", steps: [cp(sha256), hmacStartCommand(k, alg: .aes)], expected: [0, 0x2C3],
                libtpms: [0, 0x2D6]),
            C(
                name: "hmac start, ECC key",
                steps: [createPrimaryCommand(.owner, Templates.ecc()), hmacStartCommand(k, alg: .sha256)], expected: [0, 0x18A]),
            C(
                name: "hmac start, sealed data",
                steps: [cp(Templates.keyedHash(attributes: Templates.sealAttributes)), hmacStartCommand(k, alg: .sha256)],
                expected: [0, 0x19C]),
            C(
                name: "hmac start, decrypt key",
                steps: [
                    cp(
                        Templates.keyedHash(
                            attributes: [.fixedTPM, .fixedParent, .userWithAuth, .decrypt],
                            scheme: .xor(hashAlg: .sha256, kdf: .kdf1SP800_108))),
                    hmacStartCommand(k, alg: .sha256),
                ], expected: [0, 0x19C]),
            C(
                name: "hmac start, restricted",
                steps: [
                    createPrimaryCommand(
                        .owner,
                        Templates.keyedHash(
                            attributes: Self.hmacAttributes.union([.restricted, .sensitiveDataOrigin]), scheme: .hmac(hashAlg: .sha256))),
                    hmacStartCommand(k, alg: .sha256),
                ], expected: [0, 0x182]),
            C(
                name: "hmac start, long auth",
                steps: [cp(plain), hmacStartCommand(k, auth: [UInt8](repeating: 1, count: 65), alg: .sha256)],
                expected: [0, 0x1D5]),
            C(
                name: "event complete of an hmac sequence", steps: [cp(plain), hmacStartCommand(k, alg: .sha256), eventComplete],
                expected: [0, 0, 0x289]),
        ]
        runDifferential(cases)
    }
}
