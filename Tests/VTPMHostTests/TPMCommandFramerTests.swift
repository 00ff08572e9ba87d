import TPMWire
import XCTest

@testable import VTPMHost

final class TPMCommandFramerTests: XCTestCase {
    private func frames(_ chunks: [[UInt8]]) -> [CommandFrame] {
        var f = TPMCommandFramer()
        var out: [CommandFrame] = []
        for c in chunks {
            f.append(c)
            while let frame = f.next() { out.append(frame) }
        }
        return out
    }

    func testWholeCommand() {
        XCTAssertEqual(frames([Commands.getRandom8]), [.command(FramedCommand(command: Commands.getRandom8))])
    }

    /// Every split of two concatenated commands yields exactly those two commands.
    func testEverySplitOfTwoCommands() {
        let stream = Commands.getRandom8 + Commands.extend16
        for cut in 0...stream.count {
            let got = frames([Array(stream[..<cut]), Array(stream[cut...])])
            XCTAssertEqual(
                got, [.command(FramedCommand(command: Commands.getRandom8)), .command(FramedCommand(command: Commands.extend16))],
                "cut at \(cut)")
        }
    }

    func testByteByByte() {
        let stream = Commands.startupClear + Commands.getRandom8 + Commands.read16
        XCTAssertEqual(
            frames(stream.map { [$0] }),
            [Commands.startupClear, Commands.getRandom8, Commands.read16].map { .command(FramedCommand(command: $0)) })
    }

    func testIncompleteCommandWaits() {
        var f = TPMCommandFramer()
        f.append(Commands.extend16.dropLast())
        XCTAssertNil(f.next())
        XCTAssertTrue(f.hasPartialCommand)
        f.append([Commands.extend16.last!])
        XCTAssertEqual(f.next(), .command(FramedCommand(command: Commands.extend16)))
        XCTAssertFalse(f.hasPartialCommand)
    }

    /// A size below the header or above MAX_COMMAND_SIZE cannot be framed: TPM_RC_COMMAND_SIZE
    /// (what libtpms answers for such sizes, recorded: 80010000000a00000142) and no more
    /// frames from that stream.
    func testLyingSizes() {
        for size: UInt32 in [0, 5, 9, UInt32(TPMLimits.maxCommandSize) + 1, 0xFFFF_FFFF] {
            var w = TPMWriter()
            w.u16(0x8001)
            w.u32(size)
            w.u32(0x17B)
            var f = TPMCommandFramer()
            f.append(w.bytes + Commands.getRandom8)
            XCTAssertEqual(f.next(), .badSize(prefixed: false), "size \(size)")
            XCTAssertNil(f.next())
            f.append(Commands.getRandom8)
            XCTAssertNil(f.next(), "nothing after a bad size")
        }
        XCTAssertEqual(TPMCommandFramer.badSizeReply(prefixed: false), bytes(hex: "80010000000a00000142"))
    }

    /// Exactly MAX_COMMAND_SIZE is a command.
    func testLargestCommand() {
        let big = tpmCommand(.getRandom, [UInt8](repeating: 0, count: TPMLimits.maxCommandSize - 10))
        XCTAssertEqual(frames([big]), [.command(FramedCommand(command: big))])
    }

    /// swtpm's TCG prefix {u32 8, u8 locality, u32 length}; the reply is {u32 length,
    /// response, u32 0}, as swtpm 0.7.1 answered (recorded: prefixed GetRandom to a TPM not yet
    /// started -> 0000000a 80010000000a00000100 00000000).
    func testSendCommandPrefix() {
        let prefixed = be32(8) + [3] + be32(UInt32(Commands.getRandom8.count)) + Commands.getRandom8
        for cut in 0...prefixed.count {
            XCTAssertEqual(
                frames([Array(prefixed[..<cut]), Array(prefixed[cut...])]),
                [.command(FramedCommand(command: Commands.getRandom8, locality: 3))], "cut at \(cut)")
        }
        XCTAssertEqual(
            TPMCommandFramer.reply(bytes(hex: "80010000000a00000100"), prefixed: true),
            bytes(hex: "0000000a80010000000a0000010000000000"))
        let tooLong = be32(8) + [0] + be32(UInt32(TPMLimits.maxCommandSize) + 1)
        XCTAssertEqual(frames([tooLong]), [.badSize(prefixed: true)])
    }

    /// Random bytes never trap and never make the framer hold more than what was given.
    func testRandomInput() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var f = TPMCommandFramer()
            let n = Int.random(in: 0..<64, using: &rng)
            let junk = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            f.append(junk)
            while let frame = f.next() {
                if case .command(let c) = frame { XCTAssertLessThanOrEqual(c.command.count, TPMLimits.maxCommandSize) }
            }
        }
    }
}
