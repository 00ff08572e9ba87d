import TPMWire
import XCTest

@testable import VTPMHost

/// The control channel against the answers of a real swtpm 0.7.1 (`swtpm socket --tpm2
/// --server type=tcp,port=P --ctrl type=tcp,port=Q --flags not-need-init`), recorded with
/// Tests/VTPMHostTests/Oracle/ctrl.py, which sends each request in one write on its own
/// connection. Where vtpm answers differently on purpose the swtpm value is kept next to
/// ours with the reason.
final class ControlChannelTests: XCTestCase {
    /// One request as one read, answered by `core`.
    private func ask(_ core: InstanceCore, _ code: UInt32, _ body: [UInt8] = [], options: ControlChannel.Options = .init())
        -> [UInt8]?
    {
        var f = ControlFramer()
        f.append(be32(code) + body)
        guard let m = f.next() else { return nil }
        return ControlChannel.handle(m, core: core, options: options).0
    }

    private func runningCore() throws -> Instance {
        let instance = try makeInstance(self)
        try instance.sync { try $0.powerOn(resumeVolatile: true) }
        return instance
    }

    func testCommandsOfARunningTPM() throws {
        try runningCore().sync { c in
            // swtpm 0.7.1: 000000000000ffff (every bit 0...15; 0.8 adds LOCK_STORAGE, 16). Ours
            // lists exactly what is implemented: no hashing (4), no SET_DATAFD over TCP (12).
            XCTAssertEqual(ask(c, 1), bytes(hex: "000000000001efef"))
            XCTAssertEqual(ask(c, 1, [0, 0, 0, 0]), bytes(hex: "000000000001efef"), "GET_CAPABILITY ignores extra bytes")
            XCTAssertEqual(ask(c, 4), bytes(hex: "0000000000000000"))
            XCTAssertEqual(ask(c, 4, [0]), bytes(hex: "00000003"))
            XCTAssertEqual(ask(c, 15), bytes(hex: "0000000000000000"))
            XCTAssertEqual(ask(c, 5, [0, 0, 0, 0]), bytes(hex: "00000000"), "QEMU pads SET_LOCALITY to 4 bytes")
            XCTAssertEqual(ask(c, 5, [3, 0, 0, 0]), bytes(hex: "00000000"))
            XCTAssertEqual(c.locality, 3)
            XCTAssertEqual(ask(c, 5, [4, 0, 0, 0]), bytes(hex: "00000000"))
            XCTAssertEqual(ask(c, 5, [5, 0, 0, 0]), bytes(hex: "0000003d"))
            XCTAssertEqual(c.locality, 4)
            XCTAssertEqual(ask(c, 5, [0]), bytes(hex: "00000000"), "tpm2-tss sends the bare byte")
            XCTAssertNil(ask(c, 5), "incomplete: swtpm waits, then closes after 500 ms without answer")
            XCTAssertEqual(ask(c, 11, [3, 0, 0, 0]), bytes(hex: "00000000"))
            XCTAssertEqual(ask(c, 11, [0, 0, 0, 0]), bytes(hex: "0000003d"))
            XCTAssertEqual(ask(c, 11, [5, 0, 0, 0]), bytes(hex: "0000003d"))
            XCTAssertEqual(ask(c, 9), bytes(hex: "00000000"))
            XCTAssertEqual(ask(c, 10), bytes(hex: "00000000"))
            // swtpm: 00000000 00001000 00000af8 00001000 (libtpms can shrink its buffers to
            // 2808). The engine has one size, so it is also the minimum.
            XCTAssertEqual(ask(c, 17, [0, 0, 0, 0]), bytes(hex: "00000000000010000000100000001000"))
            XCTAssertEqual(ask(c, 17, be32(1000)), bytes(hex: "0000000a"), "no size change while running")
            // LOCK_STORAGE (swtpm 0.8; 0.7.1 answers 0x0A): {u32 retries} -> result. The lock is
            // held already: success. Without its u32: TPM_BAD_PARAMETER, as swtpm 0.8.
            XCTAssertEqual(ask(c, 19, [0, 0, 0, 0]), bytes(hex: "00000000"))
            XCTAssertEqual(ask(c, 19), bytes(hex: "00000003"))
            // swtpm: 00000000 (libtpms offers the H-CRTM hash sequence; the engine does not).
            XCTAssertEqual(ask(c, 6), bytes(hex: "0000000a"))
            XCTAssertEqual(ask(c, 8), bytes(hex: "0000000a"))
            // GET_INFO: {result, totlength, length, NUL-terminated JSON from offset}, as swtpm
            // (whose revision is 164 where the engine's is 159); 16-byte body required.
            let spec = Array(#"{"TPMSpecification":{"family":"2.0","level":0,"revision":159}}"#.utf8) + [0]
            XCTAssertEqual(
                ask(c, 18, [UInt8](repeating: 0, count: 7) + [1] + [UInt8](repeating: 0, count: 8)),
                be32(0) + be32(UInt32(spec.count)) + be32(UInt32(spec.count)) + spec)
            XCTAssertEqual(
                ask(c, 18, [UInt8](repeating: 0, count: 7) + [1] + be32(5) + be32(0)),
                be32(0) + be32(UInt32(spec.count)) + be32(UInt32(spec.count - 5)) + Array(spec[5...]))
            XCTAssertEqual(ask(c, 18, [UInt8](repeating: 0, count: 12)), bytes(hex: "00000003"))
            XCTAssertEqual(ask(c, 0), bytes(hex: "0000000a"))
            XCTAssertEqual(ask(c, 20), bytes(hex: "0000000a"))
            XCTAssertEqual(ask(c, 0x1234_5678, Array("abc".utf8)), bytes(hex: "0000000a"))
            XCTAssertEqual(ask(c, 13, be32(0) + be32(1) + be32(0)), bytes(hex: "0000000a"), "SET_STATEBLOB needs a stopped TPM")
            // swtpm over TCP: 0000001f (it has a data connection already); we never take fds.
            XCTAssertEqual(ask(c, 16), bytes(hex: "0000000a"))
            XCTAssertEqual(ask(c, 12, be32(0) + be32(9) + be32(0)), bytes(hex: "00000800000000000000000000000000"))
            XCTAssertEqual(ask(c, 12, be32(0) + be32(3) + be32(0)), bytes(hex: "00000800000000000000000000000000"))
            XCTAssertEqual(ask(c, 14, [0]), bytes(hex: "00000003"))
            XCTAssertEqual(ask(c, 3, [0]), bytes(hex: "00000003"))
            XCTAssertTrue(c.isRunning)
        }
    }

    func testCommandsOfAStoppedTPM() throws {
        try runningCore().sync { c in
            XCTAssertEqual(ask(c, 14), bytes(hex: "00000000"))
            XCTAssertFalse(c.isRunning)
            XCTAssertEqual(ask(c, 4), bytes(hex: "0000000a"))
            XCTAssertEqual(ask(c, 9), bytes(hex: "0000000a"))
            XCTAssertEqual(ask(c, 10), bytes(hex: "0000000a"))
            XCTAssertEqual(ask(c, 5, [2, 0, 0, 0]), bytes(hex: "00000000"))
            XCTAssertEqual(ask(c, 11, [0, 0, 0, 0]), bytes(hex: "0000000a"))
            XCTAssertEqual(ask(c, 15), bytes(hex: "0000000000000000"))
            // swtpm: 0 1000 af8 1000 and, for 1000, 0 af8 af8 1000 (clamped to its minimum).
            XCTAssertEqual(ask(c, 17, be32(0)), bytes(hex: "00000000000010000000100000001000"))
            XCTAssertEqual(ask(c, 17, be32(1000)), bytes(hex: "00000000000010000000100000001000"))
            XCTAssertEqual(ask(c, 12, be32(0) + be32(1) + be32(0)), bytes(hex: "0000000a"))
            // A stopped TPM answers every TPM command with tag 0x8001, TPM_RC_FAILURE.
            XCTAssertEqual(c.execute(Commands.getRandom8), bytes(hex: "80010000000a00000101"))
            XCTAssertEqual(ask(c, 2, [0, 0, 0, 0]), bytes(hex: "00000000"))
            XCTAssertTrue(c.isRunning)
            XCTAssertEqual(ask(c, 2, [0, 0, 0, 1]), bytes(hex: "00000000"))
            XCTAssertNil(ask(c, 2, [0]), "incomplete INIT: no answer")
            XCTAssertEqual(ask(c, 2, [0, 0, 0, 0, 0]), bytes(hex: "00000003"), "INIT with a longer body")
        }
    }

    /// SET_STATEBLOB's checks, as swtpm 0.7.1 answered them on a stopped TPM.
    func testSetStateBlob() throws {
        try runningCore().sync { c in
            XCTAssertEqual(ask(c, 14), bytes(hex: "00000000"))
            XCTAssertEqual(ask(c, 13, be32(0) + be32(3) + be32(0)), bytes(hex: "00000000"), "empty savestate (QEMU sends one)")
            XCTAssertEqual(ask(c, 13, be32(0) + be32(2) + be32(0)), bytes(hex: "00000000"))
            XCTAssertEqual(ask(c, 13, be32(0) + be32(9) + be32(0)), bytes(hex: "00000003"))
            XCTAssertEqual(ask(c, 13, be32(0) + be32(1) + be32(5) + Array("abcde".utf8)), bytes(hex: "00000003"))
            XCTAssertEqual(ask(c, 13, be32(2) + be32(1) + be32(5) + Array("abcde".utf8)), bytes(hex: "00000003"))
            XCTAssertEqual(ask(c, 13, be32(0) + be32(1) + be32(3) + Array("abcde".utf8)), bytes(hex: "00000003"))
            // An empty permanent state removes the TPM: the next INIT manufactures one.
            XCTAssertEqual(ask(c, 13, be32(0) + be32(1) + be32(0)), bytes(hex: "00000000"))
            XCTAssertNil(try c.store.read(.permanent))
            XCTAssertEqual(ask(c, 2, be32(0)), bytes(hex: "00000000"))
            XCTAssertNotNil(try c.store.read(.permanent))
        }
    }

    /// GET_STATEBLOB: {result, flags, totlength, length, data from offset}.
    func testGetStateBlobLayout() throws {
        try runningCore().sync { c in
            let whole = ask(c, 12, be32(0) + be32(1) + be32(0))!
            XCTAssertEqual(Array(whole[0..<8]), be32(0) + be32(0))
            let total = Int(whole[8..<12].reduce(0) { $0 << 8 | UInt32($1) })
            XCTAssertEqual(Array(whole[12..<16]), Array(whole[8..<12]))
            XCTAssertEqual(whole.count, 16 + total)
            XCTAssertEqual(ask(c, 12, be32(0) + be32(1) + be32(99999)), bytes(hex: "00000000000000000000000000000000"))
        }
    }

    func testRejectLocality4() throws {
        try runningCore().sync { c in
            XCTAssertEqual(ask(c, 5, [4, 0, 0, 0], options: .init(rejectLocality4: true)), bytes(hex: "0000003d"))
        }
    }

    func testShutdownTerminates() throws {
        try runningCore().sync { c in
            var f = ControlFramer()
            f.append(be32(3))
            let (reply, disposition) = ControlChannel.handle(f.next()!, core: c)
            XCTAssertEqual(reply, bytes(hex: "00000000"))
            XCTAssertEqual(disposition, .terminate)
        }
    }
}

/// How requests are delimited: swtpm's rule is "read until the command's minimum has
/// arrived; everything read by then is the request".
final class ControlFramerTests: XCTestCase {
    private func messages(_ chunks: [[UInt8]]) -> [ControlMessage] {
        var f = ControlFramer()
        var out: [ControlMessage] = []
        for c in chunks {
            f.append(c)
            while let m = f.next() { out.append(m) }
        }
        return out
    }

    func testSplitRequestsComplete() {
        // INIT needs 8 bytes however they arrive.
        let initRequest = be32(2) + be32(1)
        for cut in 0...initRequest.count {
            XCTAssertEqual(
                messages([Array(initRequest[..<cut]), Array(initRequest[cut...])]), [ControlMessage(code: 2, body: be32(1))],
                "cut \(cut)")
        }
    }

    /// Bytes that come with a request belong to it (QEMU's padded requests).
    func testPaddingBelongsToTheRequest() {
        XCTAssertEqual(messages([be32(5) + [3, 0, 0, 0]]), [ControlMessage(code: 5, body: [3, 0, 0, 0])])
        XCTAssertEqual(messages([be32(5), [3], [0, 0, 0]]).first, ControlMessage(code: 5, body: [3]))
    }

    /// SET_STATEBLOB is read to its length field, over any number of reads; more bytes in
    /// the same read spoil the request (swtpm: TPM_BAD_PARAMETER).
    func testStateBlobTransfer() {
        let blob = [UInt8](repeating: 0x5A, count: 10_000)
        let request = be32(13) + be32(0) + be32(1) + be32(UInt32(blob.count)) + blob
        var chunks: [[UInt8]] = []
        var i = 0
        while i < request.count {
            chunks.append(Array(request[i..<min(i + 1000, request.count)]))
            i += 1000
        }
        XCTAssertEqual(messages(chunks), [ControlMessage(code: 13, body: Array(request[4...]))])
        XCTAssertEqual(messages([request + [0]]).first?.overrun, true)
        // A length beyond any state: answered and the connection closed.
        var f = ControlFramer()
        f.append(be32(13) + be32(0) + be32(1) + be32(0xFFFF_FFF0))
        XCTAssertEqual(f.next()?.overrun, true)
        XCTAssertTrue(f.isFailed)
    }

    /// A request is at most swtpm's buffer (4104 bytes); the rest starts the next request.
    func testRequestBufferBound() {
        let stream = be32(1) + [UInt8](repeating: 0, count: 5000)
        let got = messages([stream])
        XCTAssertEqual(got.first?.body.count, PTM.requestBufferSize - 4)
        XCTAssertEqual(got.count, 2)
    }

    func testRandomInput() throws {
        let instance = try makeInstance(self)
        try instance.sync { try $0.powerOn(resumeVolatile: true) }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            var f = ControlFramer()
            f.append((0..<Int.random(in: 0..<64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            while let m = f.next() {
                // Never SHUTDOWN/STOP/INIT by accident in this loop: those change the instance.
                guard ![2, 3, 13, 14].contains(m.code) else { continue }
                let (reply, _) = instance.sync { ControlChannel.handle(m, core: $0) }
                XCTAssertGreaterThanOrEqual(reply.count, 4)
            }
        }
    }
}
