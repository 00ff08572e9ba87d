import Crypto
import TPMEngine

/// A deterministic TPMEnvironment: entropy is SHA-256 in counter mode over a counter the
/// harness resets before each input, and time moves only when the harness moves it. The same
/// input therefore always takes the same path (libFuzzer needs that to reproduce a crash).
public final class FuzzWorld: @unchecked Sendable {
    // @unchecked: a fuzz process runs inputs on one thread.
    private var counter: UInt64 = 0
    public var now: UInt64 = 1_000_000

    public init() {}

    /// Back to the same entropy stream and clock for the next input.
    public func reset() {
        counter = 0
        now = 1_000_000
    }

    public func entropy(_ n: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(n + 32)
        while out.count < n {
            counter += 1
            var c = counter.bigEndian
            let block = withUnsafeBytes(of: &c) { SHA256.hash(data: Array("vtpm fuzz entropy".utf8) + Array($0)) }
            out += Array(block)
        }
        return Array(out.prefix(n))
    }

    public var environment: TPMEnvironment {
        TPMEnvironment(entropy: { [self] n in entropy(n) }, milliseconds: { [self] in now })
    }
}
