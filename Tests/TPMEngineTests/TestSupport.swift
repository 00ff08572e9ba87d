import TPMCrypto
import TPMEngine
import TPMWire
import XCTest

/// A deterministic environment: entropy from a counter-seeded DRBG, time that tests move.
final class TestClock: @unchecked Sendable {
    private var value: UInt64 = 1_000
    private let lock = NSLock()
    var now: UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
    func advance(_ ms: UInt64) {
        lock.lock()
        value += ms
        lock.unlock()
    }
}

func testEnvironment(seed: UInt8 = 1, clock: TestClock = TestClock()) -> TPMEnvironment {
    let box = DRBGBox(seed: seed)
    return TPMEnvironment(entropy: { box.next($0) }, milliseconds: { clock.now })
}

final class DRBGBox: @unchecked Sendable {
    private var drbg: HMACDRBG
    private let lock = NSLock()
    init(seed: UInt8) { drbg = HMACDRBG(entropy: [UInt8](repeating: seed, count: 48)) }
    func next(_ n: Int) -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        return drbg.generate(n)
    }
}

/// Builds a command: tag, size, code, then the body.
func command(_ cc: TPMCC, tag: TPMST = .noSessions, _ body: [UInt8] = []) -> [UInt8] {
    var w = TPMWriter()
    w.u16(tag.rawValue)
    w.u32(UInt32(10 + body.count))
    w.u32(cc.rawValue)
    w.bytes(body)
    return w.bytes
}

/// A handle area plus a password session with `password`, then the parameters.
func withPassword(handles: [TPMHandle], password: [UInt8] = [], params: [UInt8]) -> [UInt8] {
    var w = TPMWriter()
    for h in handles { w.u32(h.rawValue) }
    var a = TPMWriter()
    a.u32(TPMHandle.passwordSession.rawValue)
    a.sized([UInt8]())
    a.u8(1)
    a.sized(password)
    w.u32(UInt32(a.count))
    w.bytes(a.bytes)
    w.bytes(params)
    return w.bytes
}

func responseCode(_ r: [UInt8]) -> UInt32 {
    guard r.count >= 10 else { return 0xFFFF_FFFF }
    return r[6..<10].reduce(0) { $0 << 8 | UInt32($1) }
}

/// A powered-on, started TPM.
func startedTPM(seed: UInt8 = 1, clock: TestClock = TestClock()) -> TPM {
    let tpm = TPM(environment: testEnvironment(seed: seed, clock: clock))
    tpm.powerOn()
    let r = tpm.execute(command: command(.startup, [0, 0]))
    precondition(responseCode(r) == 0)
    return tpm
}
