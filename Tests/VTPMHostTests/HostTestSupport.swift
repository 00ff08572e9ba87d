import Foundation
import TPMEngine
import TPMWire
import XCTest

@testable import VTPMHost

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Deterministic entropy (xorshift) and a clock the test moves: instances behave the same
/// on every run.
final class TestEnvironmentState: @unchecked Sendable {
    private var x: UInt64
    private(set) var now: UInt64 = 1_000
    private let lock = NSLock()
    init(seed: UInt64) { x = seed | 1 }
    func bytes(_ n: Int) -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        return (0..<n).map { _ in
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            return UInt8(truncatingIfNeeded: x)
        }
    }
    func advance(_ ms: UInt64) {
        lock.lock()
        now += ms
        lock.unlock()
    }
    var environment: TPMEnvironment {
        TPMEnvironment(
            entropy: { self.bytes($0) },
            milliseconds: {
                self.lock.lock()
                defer { self.lock.unlock() }
                return self.now
            })
    }
}

/// A fresh empty directory, removed when the test ends.
func temporaryDirectory(_ test: XCTestCase) -> String {
    var template = Array((NSTemporaryDirectory() + "/vtpmhost.XXXXXX").utf8CString)
    let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
    return dir
}

/// An instance on a fresh directory with a deterministic environment.
func makeInstance(_ test: XCTestCase, dir: String? = nil, seed: UInt64 = 7) throws -> Instance {
    let store = try StateStore(directory: dir ?? temporaryDirectory(test))
    return Instance(store: store, environment: TestEnvironmentState(seed: seed).environment, log: .discard)
}

/// A command: tag, size, code, body.
func tpmCommand(_ cc: TPMCC, tag: TPMST = .noSessions, _ body: [UInt8] = []) -> [UInt8] {
    var w = TPMWriter()
    w.u16(tag.rawValue)
    w.u32(UInt32(10 + body.count))
    w.u32(cc.rawValue)
    w.bytes(body)
    return w.bytes
}

func responseCode(_ r: [UInt8]) -> UInt32 {
    guard r.count >= 10 else { return 0xFFFF_FFFF }
    return r[6..<10].reduce(0) { $0 << 8 | UInt32($1) }
}

func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }

func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = hex.startIndex
    while i < hex.endIndex {
        let j = hex.index(i, offsetBy: 2)
        out.append(UInt8(hex[i..<j], radix: 16)!)
        i = j
    }
    return out
}

enum Commands {
    static let startupClear = tpmCommand(.startup, [0, 0])
    static let getRandom8 = tpmCommand(.getRandom, [0, 8])
    /// PCR_Extend(PCR 16, password session, SHA-256 digest of 32 x 0x01).
    static let extend16 = tpmCommand(
        .pcrExtend, tag: .sessions,
        be32(16) + be32(9) + be32(0x4000_0009) + [0, 0, 1, 0, 0] + be32(1) + [0x00, 0x0B] + [UInt8](repeating: 1, count: 32))
    /// PCR_Read(sha256: PCR 16).
    static let read16 = tpmCommand(.pcrRead, be32(1) + [0x00, 0x0B, 3, 0, 0, 1])
    /// HierarchyChangeAuth(TPM_RH_OWNER) with a password session, setting `newAuth`.
    static func changeOwnerAuth(password: [UInt8], newAuth: [UInt8]) -> [UInt8] {
        let session = be32(0x4000_0009) + [0, 0, 1] + [0, UInt8(password.count)] + password
        return tpmCommand(
            .hierarchyChangeAuth, tag: .sessions,
            be32(0x4000_0001) + be32(UInt32(session.count)) + session + [0, UInt8(newAuth.count)] + newAuth)
    }
    /// SHA-256(32 x 0x00 || 32 x 0x01), computed with Python hashlib.
    static let extended16 = bytes(hex: "5c85955f709283ecce2b74f1b1552918819f390911816e7bb466805a38ab87f3")
}
