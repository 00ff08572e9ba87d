import Crypto
import TPMEngine
import TPMWire
import XCTest

final class PCRTests: XCTestCase {
    func testExtendThenReadMatchesIndependentHash() throws {
        let tpm = startedTPM()
        let digest = [UInt8](repeating: 0xAB, count: 32)
        var p = TPMWriter()
        TPMLDigestValues([TPMTHA(hashAlg: .sha256, digest: digest)]).encode(to: &p)
        let r = tpm.execute(command: command(.pcrExtend, tag: .sessions, withPassword(handles: [TPMHandle(1)], params: p.bytes)))
        XCTAssertEqual(r, [0x80, 0x02, 0, 0, 0, 19, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0])

        var q = TPMWriter()
        TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: [1])]).encode(to: &q)
        let rr = tpm.execute(command: command(.pcrRead, q.bytes))
        XCTAssertEqual(responseCode(rr), 0)
        let expected = Array(SHA256.hash(data: [UInt8](repeating: 0, count: 32) + digest))
        XCTAssertEqual(Array(rr.suffix(32)), expected)
    }

    func testExtendAtWrongLocalityIsLocality() {
        let tpm = startedTPM()
        var p = TPMWriter()
        TPMLDigestValues([TPMTHA(hashAlg: .sha256, digest: [UInt8](repeating: 0, count: 32))]).encode(to: &p)
        let r = tpm.execute(
            locality: 0, command: command(.pcrExtend, tag: .sessions, withPassword(handles: [TPMHandle(17)], params: p.bytes)))
        XCTAssertEqual(responseCode(r), 0x907)
    }
}

final class PCRCommandTests: XCTestCase {
    func run(_ tpm: TPM, _ cc: TPMCC, _ h: TPMHandle, _ params: [UInt8], locality: UInt8 = 0) -> [UInt8] {
        tpm.execute(locality: locality, command: command(cc, tag: .sessions, withPassword(handles: [h], params: params)))
    }

    func testEventReturnsEveryImplementedHashAndExtends() {
        let tpm = startedTPM()
        let data = Array("abc".utf8)
        let r = run(tpm, .pcrEvent, TPMHandle(7), TPM2BEvent(data).wireBytes)
        XCTAssertEqual(responseCode(r), 0)
        var reader = TPMReader(Array(r[14..<(r.count - 5)]))
        let out = try! TPMLDigestValues(from: &reader)
        XCTAssertEqual(out.digests.map(\.hashAlg), [.sha1, .sha256, .sha384, .sha512])
        XCTAssertEqual(out.digests[1].digest, Array(SHA256.hash(data: data)))
        XCTAssertEqual(out.digests[3].digest, Array(SHA512.hash(data: data)))
        let read = tpm.execute(command: command(.pcrRead, TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: [7])]).wireBytes))
        XCTAssertEqual(Array(read.suffix(32)), Array(SHA256.hash(data: [UInt8](repeating: 0, count: 32) + Array(SHA256.hash(data: data)))))
        // An event larger than TPM2B_EVENT allows: TPM_RC_SIZE, parameter 1.
        XCTAssertEqual(responseCode(run(tpm, .pcrEvent, TPMHandle(7), [0x04, 0x01] + [UInt8](repeating: 0, count: 1025))), 0x1D5)
    }

    func testResetFollowsLocalityTable() {
        let tpm = startedTPM()
        XCTAssertEqual(responseCode(run(tpm, .pcrReset, TPMHandle(0), [])), 0x907)
        XCTAssertEqual(responseCode(run(tpm, .pcrReset, TPMHandle(17), [])), 0x907)
        XCTAssertEqual(responseCode(run(tpm, .pcrReset, TPMHandle(16), [])), 0)
        XCTAssertEqual(responseCode(run(tpm, .pcrReset, TPMHandle(23), [], locality: 3)), 0)
        XCTAssertEqual(responseCode(run(tpm, .pcrReset, TPMHandle(23), [], locality: 4)), 0x907)
        // Locality 4 resets a DRTM PCR from all ones to zero.
        XCTAssertEqual(responseCode(run(tpm, .pcrReset, TPMHandle(17), [], locality: 4)), 0)
        let read = tpm.execute(command: command(.pcrRead, TPMLPCRSelection([TPMSPCRSelection(hash: .sha1, pcrs: [17])]).wireBytes))
        XCTAssertEqual(Array(read.suffix(20)), [UInt8](repeating: 0, count: 20))
    }

    func testUpdateCounterSkipsNoIncrementPCRs() {
        let tpm = startedTPM()
        func counter() -> UInt32 {
            let r = tpm.execute(command: command(.pcrRead, TPMLPCRSelection([TPMSPCRSelection(hash: .sha1, pcrs: [0])]).wireBytes))
            return r[10..<14].reduce(0) { $0 << 8 | UInt32($1) }
        }
        let d = TPMLDigestValues([TPMTHA(hashAlg: .sha1, digest: [UInt8](repeating: 1, count: 20))]).wireBytes
        // After TPM Reset: 20, one per PCR initialized that is not no-increment (libtpms answers
        // the same after Startup).
        XCTAssertEqual(counter(), 20)
        _ = run(tpm, .pcrExtend, TPMHandle(16), d)
        XCTAssertEqual(counter(), 20)
        _ = run(tpm, .pcrExtend, TPMHandle(4), d)
        XCTAssertEqual(counter(), 21)
        // libtpms counts once per bank changed: two digests, two increments; PCR_Event
        // changes both allocated banks.
        let two = TPMLDigestValues([
            TPMTHA(hashAlg: .sha1, digest: [UInt8](repeating: 1, count: 20)),
            TPMTHA(hashAlg: .sha256, digest: [UInt8](repeating: 1, count: 32)),
        ]).wireBytes
        _ = run(tpm, .pcrExtend, TPMHandle(4), two)
        XCTAssertEqual(counter(), 23)
        _ = run(tpm, .pcrEvent, TPMHandle(4), TPM2BEvent([1]).wireBytes)
        XCTAssertEqual(counter(), 25)
        // The values libtpms gives for the same sequence: Restart restores the counter and adds
        // 20, Resume restores it and adds 4 (PCRs 17-20 are reinitialized), Reset starts at 20.
        func cycle(_ shutdown: UInt8, _ startup: UInt8) {
            XCTAssertEqual(responseCode(tpm.execute(command: command(.shutdown, [0, shutdown]))), 0)
            tpm.powerOff()
            tpm.powerOn()
            XCTAssertEqual(responseCode(tpm.execute(command: command(.startup, [0, startup]))), 0)
        }
        cycle(1, 0)
        XCTAssertEqual(counter(), 45)
        cycle(1, 1)
        XCTAssertEqual(counter(), 49)
        cycle(0, 0)
        XCTAssertEqual(counter(), 20)
    }

    func testReadReturnsAtMostEightDigestsAndTrimsSelection() {
        let tpm = startedTPM()
        let sel = TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: Array(0..<24)), TPMSPCRSelection(hash: .sha384, pcrs: [1])])
        let r = tpm.execute(command: command(.pcrRead, sel.wireBytes))
        var reader = TPMReader(Array(r.dropFirst(14)))
        let out = try! TPMLPCRSelection(from: &reader)
        let digests = try! TPMLDigest(from: &reader)
        XCTAssertEqual(digests.digests.count, 8)
        XCTAssertEqual(out.selections[0].selectedPCRs, Array(0..<8))
        XCTAssertEqual(out.selections[1].selectedPCRs, [], "SHA-384 is not allocated by default")
        XCTAssertEqual(out.selections[1].select.count, 3)
    }

    func testAllocateTakesEffectAtNextReset() {
        let tpm = startedTPM()
        let req = TPMLPCRSelection([TPMSPCRSelection(hash: .sha384, pcrs: Array(0..<24)), TPMSPCRSelection(hash: .sha1, pcrs: [])])
        let r = run(tpm, .pcrAllocate, .platform, req.wireBytes)
        XCTAssertEqual(responseCode(r), 0)
        // allocationSuccess YES, maxPCR 24, sizeNeeded (32+48)*24, sizeAvailable (20+32+48+64)*24.
        XCTAssertEqual(Array(r[14..<27]), [1, 0, 0, 0, 24, 0, 0, 0x07, 0x80, 0, 0, 0x0F, 0x60])
        XCTAssertEqual(responseCode(run(tpm, .pcrAllocate, .owner, req.wireBytes)), 0x184)
        let sel = TPMLPCRSelection([TPMSPCRSelection(hash: .sha384, pcrs: [0])]).wireBytes
        XCTAssertEqual(tpm.execute(command: command(.pcrRead, sel)).count, 14 + 4 + 6 + 4, "not yet allocated")
        // Resume is refused after a re-allocation; a TPM Reset applies it.
        _ = tpm.execute(command: command(.shutdown, [0, 1]))
        tpm.powerOff()
        tpm.powerOn()
        XCTAssertEqual(responseCode(tpm.execute(command: command(.startup, [0, 1]))), 0x1C4)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.startup, [0, 0]))), 0)
        XCTAssertEqual(Array(tpm.execute(command: command(.pcrRead, sel)).suffix(48)), [UInt8](repeating: 0, count: 48))
        let sha1 = TPMLPCRSelection([TPMSPCRSelection(hash: .sha1, pcrs: [0])]).wireBytes
        XCTAssertEqual(tpm.execute(command: command(.pcrRead, sha1)).count, 14 + 4 + 6 + 4, "SHA-1 deallocated")
    }
}
