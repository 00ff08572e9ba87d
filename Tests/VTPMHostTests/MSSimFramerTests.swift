import TPMWire
import XCTest

@testable import VTPMHost

final class MSSimFramerTests: XCTestCase {
    private func events(_ chunks: [[UInt8]]) -> [MSSimTPMEvent] {
        var f = MSSimTPMFramer()
        var out: [MSSimTPMEvent] = []
        for c in chunks {
            f.append(c)
            while let e = f.next() { out.append(e) }
        }
        return out
    }

    /// What tpm2-tss's mssim TCTI sends: {u32 8, u8 locality, u32 size} then the command.
    static func send(_ command: [UInt8], locality: UInt8 = 0) -> [UInt8] {
        be32(MSSim.Code.sendCommand) + [locality] + be32(UInt32(command.count)) + command
    }

    func testEverySplit() {
        let stream = MSSimFramerTests.send(Commands.getRandom8, locality: 2) + be32(15) + be32(1) + MSSimFramerTests.send(Commands.read16)
        let expected: [MSSimTPMEvent] = [
            .command(locality: 2, command: Commands.getRandom8), .handshake(clientVersion: 1),
            .command(locality: 0, command: Commands.read16),
        ]
        for cut in 0...stream.count {
            XCTAssertEqual(events([Array(stream[..<cut]), Array(stream[cut...])]), expected, "cut at \(cut)")
        }
        XCTAssertEqual(events(stream.map { [$0] }), expected)
    }

    /// SESSION_END, STOP and unknown words end the connection: nothing after them is read.
    func testEndOfSession() {
        XCTAssertEqual(events([be32(20) + MSSimFramerTests.send(Commands.getRandom8)]), [.sessionEnd])
        XCTAssertEqual(events([be32(21)]), [.stop])
        XCTAssertEqual(events([be32(0xDEAD_BEEF) + be32(20)]), [.unknown(0xDEAD_BEEF)])
        XCTAssertEqual(events([be32(6) + be32(0)]), [.unknown(6)], "hash signals are not implemented")
    }

    /// A command longer than MAX_COMMAND_SIZE is read past (bounded memory) and reported once,
    /// then the stream continues; a length past the reference simulator's 1 MiB buffer ends
    /// the connection.
    func testOversizedCommands() {
        let n = TPMLimits.maxCommandSize + 100
        let stream = be32(8) + [0] + be32(UInt32(n)) + [UInt8](repeating: 0xAA, count: n) + MSSimFramerTests.send(Commands.getRandom8)
        var chunks: [[UInt8]] = []
        var i = 0
        while i < stream.count {
            chunks.append(Array(stream[i..<min(i + 333, stream.count)]))
            i += 333
        }
        XCTAssertEqual(events(chunks), [.oversizedCommand, .command(locality: 0, command: Commands.getRandom8)])
        XCTAssertEqual(events([be32(8) + [0] + be32(UInt32(MSSim.maxSkippedCommand) + 1)]), [.unknown(8)])
    }

    func testReplies() {
        XCTAssertEqual(MSSim.commandReply([1, 2, 3]), be32(3) + [1, 2, 3] + be32(0))
        // Without power, the reference simulator sends an empty response.
        XCTAssertEqual(MSSim.commandReply([]), be32(0) + be32(0))
        XCTAssertEqual(MSSim.handshakeReply, be32(1) + be32(0x0D) + be32(0))
    }

    func testPlatformFramer() {
        var f = MSSimPlatformFramer()
        let stream = be32(1) + be32(11) + be32(2)
        var got: [UInt32] = []
        for b in stream {
            f.append([b])
            while let c = f.next() { got.append(c) }
        }
        XCTAssertEqual(got, [1, 11, 2])
        XCTAssertFalse(f.hasPartialMessage)
    }

    func testRandomInput() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var f = MSSimTPMFramer()
            f.append((0..<Int.random(in: 0..<40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            var count = 0
            while f.next() != nil { count += 1 }
            XCTAssertLessThan(count, 40)
        }
    }

    /// Platform signals against a real instance: POWER_ON is harmless when on, POWER_OFF
    /// makes commands answer with an empty response, unknown signals get u32 1.
    func testPlatformSignals() throws {
        let instance = try makeInstance(self)
        instance.sync { core in
            XCTAssertEqual(MSSimPlatformHandler.signal(MSSim.Code.powerOn, core: core).0, MSSim.ack)
            XCTAssertTrue(core.isRunning)
            XCTAssertEqual(responseCode(core.execute(Commands.startupClear)), 0)
            XCTAssertEqual(MSSimPlatformHandler.signal(MSSim.Code.powerOn, core: core).0, MSSim.ack)
            XCTAssertEqual(MSSimPlatformHandler.signal(MSSim.Code.nvOn, core: core).0, MSSim.ack)
            // Still started: POWER_ON while on did not reset the TPM.
            XCTAssertEqual(responseCode(core.execute(Commands.getRandom8)), 0)
            XCTAssertEqual(MSSimPlatformHandler.signal(MSSim.Code.reset, core: core).0, MSSim.ack)
            XCTAssertEqual(responseCode(core.execute(Commands.getRandom8)), 0x100, "reset needs a new Startup")
            // Physical presence is the platform's: it outlasts a power cycle.
            XCTAssertEqual(MSSimPlatformHandler.signal(MSSim.Code.physicalPresenceOn, core: core).0, MSSim.ack)
            XCTAssertTrue(core.physicalPresence)
            XCTAssertEqual(MSSimPlatformHandler.signal(MSSim.Code.powerOff, core: core).0, MSSim.ack)
            XCTAssertFalse(core.isRunning)
            XCTAssertEqual(MSSimPlatformHandler.signal(MSSim.Code.powerOn, core: core).0, MSSim.ack)
            XCTAssertTrue(core.physicalPresence)
            XCTAssertEqual(MSSimPlatformHandler.signal(MSSim.Code.physicalPresenceOff, core: core).0, MSSim.ack)
            XCTAssertFalse(core.physicalPresence)
            XCTAssertEqual(MSSimPlatformHandler.signal(MSSim.Code.powerOff, core: core).0, MSSim.ack)
            let (nak, after) = MSSimPlatformHandler.signal(99, core: core)
            XCTAssertEqual(nak, be32(1))
            XCTAssertEqual(after, .close)
        }
    }
}
