import Foundation
import TPMCrypto

func hexString(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

/// A BitSource that replays fixed octets (then zeros), for salts, seeds and padding that a test
/// must know in advance.
struct FixedBitSource: BitSource {
    private var bytes: [UInt8]
    private var offset = 0
    private(set) var requests: [Int] = []

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func nextBits(_ count: Int) -> [UInt8] {
        requests.append(count)
        let n = (count + 7) / 8
        var out: [UInt8] = []
        for _ in 0..<n {
            out.append(offset < bytes.count ? bytes[offset] : 0)
            offset += 1
        }
        if count % 8 != 0 { out[0] &= UInt8((1 << (count % 8)) - 1) }
        return out
    }
}
