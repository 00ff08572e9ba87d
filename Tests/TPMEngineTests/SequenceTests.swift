import Crypto
import TPMCrypto
import TPMWire
import XCTest

@testable import TPMEngine

// MARK: helpers shared by the hash, sequence and context tests

/// A handle area with one password session per handle, then the parameters.
func withPasswords(handles: [TPMHandle], passwords: [[UInt8]], params: [UInt8]) -> [UInt8] {
    var w = TPMWriter()
    for h in handles { w.u32(h.rawValue) }
    var a = TPMWriter()
    for p in passwords {
        a.u32(TPMHandle.passwordSession.rawValue)
        a.sized([UInt8]())
        a.u8(1)
        a.sized(p)
    }
    w.u32(UInt32(a.count))
    w.bytes(a.bytes)
    w.bytes(params)
    return w.bytes
}

func hex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = s.makeIterator()
    while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
    return out
}

func independentDigest(_ alg: TPMAlgID, _ data: [UInt8]) -> [UInt8] {
    switch alg {
    case .sha1: return Array(Insecure.SHA1.hash(data: data))
    case .sha256: return Array(SHA256.hash(data: data))
    case .sha384: return Array(SHA384.hash(data: data))
    default: return Array(SHA512.hash(data: data))
    }
}

/// The ticket an outsider computes from the hierarchy's proof: HMAC-SHA512(proof,
/// TPM_ST_HASHCHECK || digest) (Part 2, 10.7.6).
func independentTicket(proof: [UInt8], digest: [UInt8]) -> [UInt8] {
    Array(HMAC<SHA512>.authenticationCode(for: [0x80, 0x24] + digest, using: SymmetricKey(data: proof)))
}

/// The parameter area of a successful response (skipping a response handle if `handle`).
func responseParameters(_ r: [UInt8], handle: Bool = false) -> TPMReader {
    var rd = TPMReader(r)
    let tag = (try? rd.u16()) ?? 0
    _ = try? rd.bytes(8)
    if handle { _ = try? rd.u32() }
    if tag == TPMST.sessions.rawValue { _ = try? rd.u32() }
    return rd
}

func responseHandle(_ r: [UInt8]) -> TPMHandle {
    var rd = TPMReader(r)
    _ = try? rd.bytes(10)
    return TPMHandle((try? rd.u32()) ?? 0)
}

extension TPM {
    func startSequence(auth: [UInt8] = [], alg: TPMAlgID) -> [UInt8] {
        var p = TPMWriter()
        p.sized(auth)
        p.u16(alg.rawValue)
        return execute(command: command(.hashSequenceStart, p.bytes))
    }

    func update(_ h: TPMHandle, _ data: [UInt8], auth: [UInt8] = []) -> [UInt8] {
        var p = TPMWriter()
        p.sized(data)
        return execute(command: command(.sequenceUpdate, tag: .sessions, withPassword(handles: [h], password: auth, params: p.bytes)))
    }

    func complete(_ h: TPMHandle, _ data: [UInt8], hierarchy: TPMHandle = .owner, auth: [UInt8] = []) -> [UInt8] {
        var p = TPMWriter()
        p.sized(data)
        p.u32(hierarchy.rawValue)
        return execute(command: command(.sequenceComplete, tag: .sessions, withPassword(handles: [h], password: auth, params: p.bytes)))
    }

    func eventComplete(pcr: TPMHandle, _ h: TPMHandle, _ data: [UInt8], locality: UInt8 = 0) -> [UInt8] {
        var p = TPMWriter()
        p.sized(data)
        let body = withPasswords(handles: [pcr, h], passwords: [[], []], params: p.bytes)
        return execute(locality: locality, command: command(.eventSequenceComplete, tag: .sessions, body))
    }

    func pcrValue(_ pcr: Int, _ alg: TPMAlgID) -> [UInt8] {
        var q = TPMWriter()
        TPMLPCRSelection([TPMSPCRSelection(hash: alg, pcrs: [pcr])]).encode(to: &q)
        let r = execute(command: command(.pcrRead, q.bytes))
        var rd = responseParameters(r)
        _ = try? rd.u32()
        _ = try? TPMLPCRSelection(from: &rd)
        return (try? TPMLDigest(from: &rd))?.digests.first?.buffer ?? []
    }
}

/// Digest and ticket of a SequenceComplete or Hash response.
func digestAndTicket(_ r: [UInt8]) throws -> ([UInt8], TPMTTKHashcheck) {
    var rd = responseParameters(r)
    let d = try TPM2BDigest(from: &rd)
    let t = try TPMTTKHashcheck(from: &rd)
    return (d.buffer, t)
}

final class SequenceTests: XCTestCase {
    let algs: [TPMAlgID] = [.sha1, .sha256, .sha384, .sha512]

    /// Deterministic test data: bytes of a counter, so blocks are not uniform.
    func data(_ n: Int, seed: UInt8 = 7) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) } }

    func testMultiBlockSequencesMatchSwiftCrypto() throws {
        // Chunk sizes around every block boundary of both block sizes (64 and 128).
        let chunks = [1, 63, 64, 65, 127, 128, 129, 1024, 0, 3, 200]
        for alg in algs {
            let tpm = startedTPM()
            let r = tpm.startSequence(alg: alg)
            XCTAssertEqual(responseCode(r), 0)
            let h = responseHandle(r)
            XCTAssertEqual(h, TPMHandle(0x8000_0000))
            var all: [UInt8] = []
            for (i, n) in chunks.enumerated() {
                let block = data(n, seed: UInt8(i))
                all += block
                XCTAssertEqual(responseCode(tpm.update(h, block)), 0)
            }
            let last = data(77, seed: 99)
            all += last
            let rc = tpm.complete(h, last)
            XCTAssertEqual(responseCode(rc), 0, "\(alg)")
            let (digest, ticket) = try digestAndTicket(rc)
            XCTAssertEqual(digest, independentDigest(alg, all), "\(alg)")
            // The first block (one octet) is shorter than TPM_GENERATED_VALUE: no ticket.
            XCTAssertEqual(ticket, .null)
            XCTAssertTrue(tpm.volatile.objects.isEmpty, "SequenceComplete flushes the sequence")
        }
    }

    func testEmptySequence() throws {
        for alg in algs {
            let tpm = startedTPM()
            let h = responseHandle(tpm.startSequence(alg: alg))
            let (digest, ticket) = try digestAndTicket(tpm.complete(h, []))
            XCTAssertEqual(digest, independentDigest(alg, []))
            XCTAssertEqual(ticket, .null)
        }
    }

    func testTicketWhenFirstBlockIsSafe() throws {
        let tpm = startedTPM()
        for (hierarchy, proof) in [
            (TPMHandle.owner, tpm.persistent.shProof), (.endorsement, tpm.persistent.ehProof), (.platform, tpm.persistent.phProof),
        ] {
            let h = responseHandle(tpm.startSequence(alg: .sha256))
            XCTAssertEqual(responseCode(tpm.update(h, Array("abcd".utf8))), 0)
            let r = tpm.complete(h, Array("efgh".utf8), hierarchy: hierarchy)
            let (digest, ticket) = try digestAndTicket(r)
            XCTAssertEqual(digest, independentDigest(.sha256, Array("abcdefgh".utf8)))
            XCTAssertEqual(ticket.tag, .hashCheck)
            XCTAssertEqual(ticket.hierarchy, hierarchy)
            XCTAssertEqual(ticket.digest.buffer, independentTicket(proof: proof, digest: digest))
        }
        // No SequenceUpdate: the SequenceComplete buffer is the first block.
        let h = responseHandle(tpm.startSequence(alg: .sha384))
        let (digest, ticket) = try digestAndTicket(tpm.complete(h, Array("abcd".utf8), hierarchy: .owner))
        XCTAssertEqual(ticket.digest.buffer, independentTicket(proof: tpm.persistent.shProof, digest: digest))
    }

    func testNoTicketForGeneratedValueOrNullHierarchy() throws {
        let tpm = startedTPM()
        let generated: [UInt8] = [0xFF, 0x54, 0x43, 0x47, 1, 2, 3]
        var h = responseHandle(tpm.startSequence(alg: .sha256))
        XCTAssertEqual(responseCode(tpm.update(h, generated)), 0)
        XCTAssertEqual(try digestAndTicket(tpm.complete(h, [9, 9, 9, 9])).1, .null)
        // Only the first block counts: TPM_GENERATED_VALUE later is harmless.
        h = responseHandle(tpm.startSequence(alg: .sha256))
        XCTAssertEqual(responseCode(tpm.update(h, [1, 2, 3, 4])), 0)
        XCTAssertEqual(responseCode(tpm.update(h, generated)), 0)
        XCTAssertEqual(try digestAndTicket(tpm.complete(h, [])).1.hierarchy, .owner)
        h = responseHandle(tpm.startSequence(alg: .sha256))
        XCTAssertEqual(try digestAndTicket(tpm.complete(h, generated)).1, .null)
        h = responseHandle(tpm.startSequence(alg: .sha256))
        XCTAssertEqual(try digestAndTicket(tpm.complete(h, [1, 2, 3, 4], hierarchy: .null)).1, .null)
    }

    /// Responses recorded from swtpm 0.7.1 / libtpms 0.9.2 for the same commands.
    func testMatchesSwtpmByteForByte() {
        let tpm = startedTPM()
        var r = tpm.startSequence(auth: Array("pw".utf8), alg: .sha256)
        XCTAssertEqual(r, hex("80010000000e0000000080000000"))
        r = tpm.update(TPMHandle(0x8000_0000), Array("abc".utf8), auth: Array("pw".utf8))
        XCTAssertEqual(r, hex("80020000001300000000000000000000010000"))
        // First block "abc" is shorter than TPM_GENERATED_VALUE: libtpms also gives a NULL ticket.
        r = tpm.complete(TPMHandle(0x8000_0000), Array("def".utf8), auth: Array("pw".utf8))
        XCTAssertEqual(
            r,
            hex(
                "80020000003d000000000000002a0020bef57ec7f53a6d40beb640a780a639c83bc29ac8a9816f1fc6c5c6dcd93c4721"
                    + "80244000000700000000010000"))
        r = tpm.startSequence(alg: .null)
        let h = responseHandle(r)
        r = tpm.eventComplete(pcr: TPMHandle(16), h, Array("abc".utf8))
        XCTAssertEqual(
            r,
            hex(
                "8002000000c800000000000000b0000000040004a9993e364706816aba3e25717850c26c9cd0d89d000bba7816bf8f01cfea41"
                    + "4140de5dae2223b00361a396177a9cb410ff61f20015ad000ccb00753f45a35e8bb5a03d699ac65007272c32ab0eded163"
                    + "1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7000dddaf35a193617abacc417349ae20413112e6fa4e89a97e"
                    + "a20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f00000100000000010000"
            ))
    }

    func testEventSequenceExtendsAllocatedBanks() throws {
        let tpm = startedTPM()
        let h = responseHandle(tpm.startSequence(alg: .null))
        let part1 = data(1500)
        for chunk in [Array(part1[0..<1000]), Array(part1[1000...])] { XCTAssertEqual(responseCode(tpm.update(h, chunk)), 0) }
        let before = tpm.volatile.pcrUpdateCounter
        let r = tpm.eventComplete(pcr: TPMHandle(5), h, Array("tail".utf8))
        XCTAssertEqual(responseCode(r), 0)
        var rd = responseParameters(r)
        let values = try TPMLDigestValues(from: &rd)
        let all = part1 + Array("tail".utf8)
        XCTAssertEqual(values.digests.map(\.hashAlg), algs)
        for d in values.digests { XCTAssertEqual(d.digest, independentDigest(d.hashAlg, all)) }
        // Allocated banks (SHA-1, SHA-256) extended: PCR = H(0...0 || digest).
        for alg in [TPMAlgID.sha1, .sha256] {
            let size = TPMLimits.digestSize(alg)!
            let expected = independentDigest(alg, [UInt8](repeating: 0, count: size) + independentDigest(alg, all))
            XCTAssertEqual(tpm.pcrValue(5, alg), expected)
        }
        XCTAssertEqual(tpm.volatile.pcrUpdateCounter, before + 2, "one increment per bank changed, as libtpms")
        XCTAssertTrue(tpm.volatile.objects.isEmpty)
    }

    func testEventSequenceWithNullPCRExtendsNothing() throws {
        let tpm = startedTPM()
        let h = responseHandle(tpm.startSequence(alg: .null))
        let r = tpm.eventComplete(pcr: .null, h, [1, 2, 3])
        XCTAssertEqual(responseCode(r), 0)
        var rd = responseParameters(r)
        XCTAssertEqual(try TPMLDigestValues(from: &rd).digests.count, 4)
        XCTAssertEqual(tpm.pcrValue(0, .sha256), [UInt8](repeating: 0, count: 32))
        XCTAssertEqual(tpm.volatile.pcrUpdateCounter, 20, "unchanged since Startup")
    }

    func testModeAndLocalityErrors() {
        let tpm = startedTPM()
        let event = responseHandle(tpm.startSequence(alg: .null))
        let hash = responseHandle(tpm.startSequence(alg: .sha256))
        // Codes as libtpms returns them (TPM_RC_MODE + H1 / + H2, TPM_RC_LOCALITY).
        XCTAssertEqual(responseCode(tpm.complete(event, [])), 0x189)
        XCTAssertEqual(responseCode(tpm.eventComplete(pcr: TPMHandle(16), hash, [])), 0x289)
        // MODE comes before the locality check.
        XCTAssertEqual(responseCode(tpm.eventComplete(pcr: TPMHandle(17), hash, [])), 0x289)
        XCTAssertEqual(responseCode(tpm.eventComplete(pcr: TPMHandle(17), event, [])), 0x907)
        // Failed completions do not flush.
        XCTAssertEqual(tpm.volatile.objects.count, 2)
        XCTAssertEqual(responseCode(tpm.update(event, [1])), 0)
    }

    func testAuthorization() {
        let tpm = startedTPM()
        let h = responseHandle(tpm.startSequence(auth: [1, 2, 0, 0], alg: .sha1))
        XCTAssertEqual(responseCode(tpm.update(h, [1], auth: [1, 3])), 0x9A2)
        XCTAssertEqual(responseCode(tpm.update(h, [1], auth: [1, 2])), 0)
        XCTAssertEqual(responseCode(tpm.update(h, [1], auth: [1, 2, 0])), 0)
        // No authorization area at all.
        var p = TPMWriter()
        p.u32(h.rawValue)
        p.sized([UInt8]([1]))
        XCTAssertEqual(responseCode(tpm.execute(command: command(.sequenceUpdate, p.bytes))), 0x125)
    }

    func testObjectMemoryAndHandles() {
        let tpm = startedTPM()
        let handles = (0..<3).map { _ in responseHandle(tpm.startSequence(alg: .sha256)) }
        XCTAssertEqual(handles, [0x8000_0000, 0x8000_0001, 0x8000_0002].map { TPMHandle(UInt32($0)) })
        XCTAssertEqual(tpm.startSequence(alg: .sha256), hex("80010000000a00000902"))
        // Completing the middle one frees its slot, which the next object takes.
        XCTAssertEqual(responseCode(tpm.complete(handles[1], [])), 0)
        XCTAssertEqual(responseCode(tpm.update(handles[1], [])), 0x910)
        XCTAssertEqual(responseHandle(tpm.startSequence(alg: .null)), handles[1])
        // Beyond TRANSIENT_LAST the handle is outside TPMI_DH_OBJECT.
        XCTAssertEqual(responseCode(tpm.update(TPMHandle(0x8000_0005), [])), 0x184)
    }

    func testParameterErrors() {
        let tpm = startedTPM()
        var p = TPMWriter()
        p.sized([UInt8]())
        p.u16(TPMAlgID.aes.rawValue)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.hashSequenceStart, p.bytes))), 0x2C3)
        XCTAssertEqual(responseCode(tpm.startSequence(auth: [UInt8](repeating: 1, count: 64), alg: .sha256)), 0)
        XCTAssertEqual(responseCode(tpm.startSequence(auth: [UInt8](repeating: 1, count: 65), alg: .sha256)), 0x1D5)
        // Parameters are decoded after authorization, so these use the right password.
        let h = TPMHandle(0x8000_0000)
        let auth = [UInt8](repeating: 1, count: 64)
        XCTAssertEqual(responseCode(tpm.update(h, [UInt8](repeating: 0, count: 1025), auth: auth)), 0x1D5)
        XCTAssertEqual(responseCode(tpm.complete(h, [], hierarchy: .lockout, auth: auth)), 0x2C4)
        var q = TPMWriter()
        q.sized([UInt8]())
        q.u32(TPMHandle.owner.rawValue)
        q.u8(0)
        let body = withPassword(handles: [h], password: auth, params: q.bytes)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.sequenceComplete, tag: .sessions, body))), 0x95)
        XCTAssertEqual(tpm.volatile.objects.count, 1)
    }
}
