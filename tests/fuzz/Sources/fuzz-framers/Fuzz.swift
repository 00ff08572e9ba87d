import FuzzSupport
import TPMWire
import VTPMHost

// The stream framers of the data channels: TPMCommandFramer (swtpm data channel, raw and
// with the TCG send-command prefix), MSSimTPMFramer (mssim command port) and
// MSSimPlatformFramer (mssim platform port). The first input byte picks the framer; the rest
// is the stream. Properties: no trap; the events do not depend on how the stream is split
// into reads (whole, byte by byte, and at input-derived points); every command obeys the
// size bounds.

protocol Framer {
    associatedtype Event: Equatable
    init()
    mutating func feed(_ bytes: ArraySlice<UInt8>)
    mutating func nextEvent() -> Event?
}

extension TPMCommandFramer: Framer {
    mutating func feed(_ bytes: ArraySlice<UInt8>) { append(bytes) }
    mutating func nextEvent() -> CommandFrame? { next() }
}
extension MSSimTPMFramer: Framer {
    mutating func feed(_ bytes: ArraySlice<UInt8>) { append(bytes) }
    mutating func nextEvent() -> MSSimTPMEvent? { next() }
}
extension MSSimPlatformFramer: Framer {
    mutating func feed(_ bytes: ArraySlice<UInt8>) { append(bytes) }
    mutating func nextEvent() -> UInt32? { next() }
}

/// Feeds the stream in reads ending at `cuts` and collects the events.
func events<F: Framer>(_: F.Type, _ stream: [UInt8], cuts: [Int]) -> [F.Event] {
    var f = F()
    var out = [F.Event]()
    var start = 0
    for end in cuts + [stream.count] where end > start && end <= stream.count {
        f.feed(stream[start..<end])
        start = end
        while out.count < 10_000, let e = f.nextEvent() { out.append(e) }
    }
    return out
}

func check<F: Framer>(_ type: F.Type, _ stream: [UInt8], seed: UInt8) -> [F.Event] {
    let whole = events(type, stream, cuts: [])
    let bytewise = stream.count <= 4096 ? events(type, stream, cuts: Array(0..<stream.count)) : whole
    var cuts = [Int]()
    var i = 0
    var step = Int(seed % 61) + 1
    while i < stream.count {
        i += step
        cuts.append(i)
        step = (step * 7 + 3) % 97 + 1
    }
    let split = events(type, stream, cuts: cuts)
    fuzzCheck(whole == bytewise, "\(F.self): events differ between one read and byte-by-byte reads")
    fuzzCheck(whole == split, "\(F.self): events differ between one read and split reads")
    return whole
}

public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    guard let selector = input.first else { return 0 }
    let stream = Array(input.dropFirst())
    switch selector % 3 {
    case 0:
        for case .command(let c) in check(TPMCommandFramer.self, stream, seed: selector) {
            fuzzCheck(c.command.count <= TPMLimits.maxCommandSize, "framed command above MAX_COMMAND_SIZE")
            if !c.prefixed { fuzzCheck(c.command.count >= 10, "bare framed command shorter than a header") }
        }
    case 1:
        for case .command(_, let command) in check(MSSimTPMFramer.self, stream, seed: selector) {
            fuzzCheck(command.count <= TPMLimits.maxCommandSize, "mssim command above MAX_COMMAND_SIZE")
        }
    default:
        let codes = check(MSSimPlatformFramer.self, stream, seed: selector)
        fuzzCheck(codes.count == stream.count / 4, "platform framer: \(codes.count) signals from \(stream.count) bytes")
    }
    return 0
}
