import Crypto
import TPMWire
import XCTest

@testable import TPMEngine

/// Command builders for the NV commands (Part 3, 31).
enum NV {
    static let ownerRead: UInt32 = 1 << 17
    static let ownerWrite: UInt32 = 1 << 1
    static let authRead: UInt32 = 1 << 18
    static let authWrite: UInt32 = 1 << 2
    static let ppRead: UInt32 = 1 << 16
    static let ppWrite: UInt32 = 1 << 0
    static let policyRead: UInt32 = 1 << 19
    static let policyWrite: UInt32 = 1 << 3
    static let policyDelete: UInt32 = 1 << 10
    static let writeAll: UInt32 = 1 << 12
    static let writeDefine: UInt32 = 1 << 13
    static let writeSTClear: UInt32 = 1 << 14
    static let globalLock: UInt32 = 1 << 15
    static let noDA: UInt32 = 1 << 25
    static let orderly: UInt32 = 1 << 26
    static let clearSTClear: UInt32 = 1 << 27
    static let written: UInt32 = 1 << 29
    static let platformCreate: UInt32 = 1 << 30
    static let readSTClear: UInt32 = 1 << 31
    static func type(_ t: UInt32) -> UInt32 { t << 4 }
    static let counter = type(1)
    static let bits = type(2)
    static let extend = type(4)
    static let pinFail = type(8)
    static let pinPass = type(9)
    static let rw = ownerRead | ownerWrite | authRead | authWrite

    static func publicArea(_ index: UInt32, _ attrs: UInt32, size: UInt16, alg: TPMAlgID = .sha256, policy: [UInt8] = []) -> [UInt8] {
        var w = TPMWriter()
        w.u32(index)
        w.u16(alg.rawValue)
        w.u32(attrs)
        w.sized(policy)
        w.u16(size)
        return w.bytes
    }

    static func define(
        _ index: UInt32, _ attrs: UInt32, size: UInt16, auth: [UInt8] = [], alg: TPMAlgID = .sha256, policy: [UInt8] = [],
        by h: TPMHandle = .owner
    ) -> [UInt8] {
        var p = TPMWriter()
        p.sized(auth)
        p.sized(publicArea(index, attrs, size: size, alg: alg, policy: policy))
        return command(.nvDefineSpace, tag: .sessions, withPassword(handles: [h], params: p.bytes))
    }

    static func write(_ index: UInt32, _ data: [UInt8], offset: UInt16 = 0, auth: TPMHandle = .owner, password: [UInt8] = []) -> [UInt8] {
        var p = TPMWriter()
        p.sized(data)
        p.u16(offset)
        return command(.nvWrite, tag: .sessions, withPassword(handles: [auth, TPMHandle(index)], password: password, params: p.bytes))
    }

    static func read(_ index: UInt32, size: UInt16, offset: UInt16 = 0, auth: TPMHandle = .owner, password: [UInt8] = []) -> [UInt8] {
        command(
            .nvRead, tag: .sessions, withPassword(handles: [auth, TPMHandle(index)], password: password, params: be16(size) + be16(offset)))
    }

    static func simple(_ cc: TPMCC, _ index: UInt32, auth: TPMHandle = .owner, params: [UInt8] = [], password: [UInt8] = []) -> [UInt8] {
        command(cc, tag: .sessions, withPassword(handles: [auth, TPMHandle(index)], password: password, params: params))
    }

    static func undefine(_ index: UInt32, by h: TPMHandle = .owner) -> [UInt8] {
        command(.nvUndefineSpace, tag: .sessions, withPassword(handles: [h, TPMHandle(index)], params: []))
    }

    static func readPublic(_ index: UInt32) -> [UInt8] { command(.nvReadPublic, be32(index)) }

    static func extendParams(_ data: [UInt8]) -> [UInt8] { be16(UInt16(data.count)) + data }
}

func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }

func be64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64($0))) } }

/// The data of a successful NV_Read.
func nvReadData(_ r: [UInt8]) throws -> [UInt8] {
    var p = try checkedParameters(r, hasHandle: false)
    return try p.sized(max: 2048)
}

private func rcP(_ base: UInt32, _ n: UInt32) -> UInt32 { base | 0x40 | (n << 8) }
private func rcH(_ base: UInt32, _ n: UInt32) -> UInt32 { base | (n << 8) }
private func rcS(_ base: UInt32, _ n: UInt32) -> UInt32 { base | 0x800 | (n << 8) }

final class NVTests: XCTestCase {
    // Response codes (Part 2, 6.6).
    let attributes: UInt32 = 0x082
    let value: UInt32 = 0x084
    let hierarchy: UInt32 = 0x085
    let handle: UInt32 = 0x08B
    let size: UInt32 = 0x095
    let hash: UInt32 = 0x083
    let reservedBits: UInt32 = 0x0A1
    let nvRange: UInt32 = 0x146
    let nvSize: UInt32 = 0x147
    let nvLocked: UInt32 = 0x148
    let nvAuthorization: UInt32 = 0x149
    let nvUninitialized: UInt32 = 0x14A
    let nvSpace: UInt32 = 0x14B
    let nvDefined: UInt32 = 0x14C
    let authUnavailable: UInt32 = 0x12F
    let authFail: UInt32 = 0x08E
    let badAuth: UInt32 = 0x0A2

    // MARK: differential cases (codes from libtpms 0.9.2 via tests/differential/replay.py)

    func testDefineSpaceChecks() {
        var cases: [DifferentialCase] = []
        var n: UInt32 = 0x0150_0100
        func add(
            _ name: String, _ attrs: UInt32, size: UInt16, auth: [UInt8] = [], alg: TPMAlgID = .sha256, policy: [UInt8] = [],
            by h: TPMHandle = .owner, _ code: UInt32
        ) {
            n += 1
            var steps = [NV.define(n, attrs, size: size, auth: auth, alg: alg, policy: policy, by: h)]
            var expected = [code]
            if code == 0 {
                steps.append(NV.undefine(n, by: h))
                expected.append(0)
            }
            cases.append(DifferentialCase(name: name, steps: steps, expected: expected))
        }
        add("ordinary", NV.rw, size: 32, 0)
        add("authPolicy wrong size", NV.rw, size: 32, policy: [1, 2, 3], rcP(size, 2))
        add("authPolicy digest size", NV.rw, size: 32, policy: [UInt8](repeating: 1, count: 32), 0)
        add("auth longer than nameAlg", NV.rw, size: 8, auth: [UInt8](repeating: 1, count: 21), alg: .sha1, rcP(size, 1))
        add("auth with trailing zeros", NV.rw, size: 8, auth: [1] + [UInt8](repeating: 0, count: 30), alg: .sha1, 0)
        add("undefined type", NV.rw | NV.type(3), size: 8, rcP(attributes, 2))
        add("ordinary too large", NV.rw, size: 2049, rcP(size, 2))
        add("ordinary max", NV.rw, size: 2048, 0)
        add("extend wrong size", NV.rw | NV.extend, size: 20, rcP(size, 2))
        add("extend sha1", NV.rw | NV.extend, size: 20, alg: .sha1, 0)
        add("counter wrong size", NV.rw | NV.counter, size: 4, rcP(size, 2))
        add("counter clear_stclear", NV.rw | NV.counter | NV.clearSTClear, size: 8, rcP(attributes, 2))
        add("pin fail without noDA", NV.ownerRead | NV.ownerWrite | NV.pinFail, size: 8, rcP(attributes, 2))
        add("pin fail", NV.ownerRead | NV.ownerWrite | NV.pinFail | NV.noDA, size: 8, 0)
        add("pin pass authWrite", NV.rw | NV.pinPass, size: 8, rcP(attributes, 2))
        add("pin pass", NV.ownerRead | NV.ownerWrite | NV.authRead | NV.pinPass, size: 8, 0)
        add("written set", NV.rw | NV.written, size: 8, rcP(attributes, 2))
        add("readlocked set", NV.rw | (1 << 28), size: 8, rcP(attributes, 2))
        add("no read", NV.ownerWrite, size: 8, rcP(attributes, 2))
        add("no write", NV.ownerRead, size: 8, rcP(attributes, 2))
        add("clear_stclear writedefine", NV.rw | NV.clearSTClear | NV.writeDefine, size: 8, rcP(attributes, 2))
        add("platformcreate by owner", NV.rw | NV.platformCreate, size: 8, rcH(attributes, 1))
        add("platform without platformcreate", NV.ppRead | NV.ppWrite, size: 8, by: .platform, rcH(attributes, 1))
        add("platform index", NV.ppRead | NV.ppWrite | NV.platformCreate, size: 8, by: .platform, 0)
        add("policy delete by owner", NV.rw | NV.policyDelete, size: 8, rcP(attributes, 2))
        add("writeall too large", NV.rw | NV.writeAll, size: 1025, rcP(size, 2))
        add("reserved bit", NV.rw | (1 << 8), size: 8, rcP(reservedBits, 2))
        // Orderly Indices share 512 octets of RAM, 12 of them per Index for its header.
        add("orderly too large for RAM", NV.rw | NV.orderly, size: 501, nvSpace)
        add("orderly fits in RAM", NV.rw | NV.orderly, size: 500, 0)
        add("bad nameAlg", NV.rw, size: 8, alg: .null, rcP(hash, 2))
        // The Index handle must be in the NV range (TPMI_RH_NV_INDEX).
        cases.append(
            DifferentialCase(
                name: "index outside NV range",
                steps: [
                    command(
                        .nvDefineSpace, tag: .sessions,
                        withPassword(handles: [.owner], params: be16(0) + be16(14) + NV.publicArea(0x8100_0000, NV.rw, size: 8)))
                ], expected: [rcP(value, 2)]))
        cases.append(
            DifferentialCase(
                name: "defined twice",
                steps: [NV.define(0x0150_0200, NV.rw, size: 8), NV.define(0x0150_0200, NV.rw, size: 8), NV.undefine(0x0150_0200)],
                expected: [0, nvDefined, 0]))
        runDifferential(cases)
    }

    func testReadWriteChecks() {
        let i: UInt32 = 0x0150_0300
        let cases = [
            DifferentialCase(
                name: "write/read paths",
                steps: [
                    NV.define(i, NV.ownerRead | NV.ownerWrite | NV.authRead, size: 16, auth: [7]),
                    NV.read(i, size: 16),  // unwritten
                    NV.write(i, [1], offset: 17),  // offset past the end
                    NV.write(i, [UInt8](repeating: 1, count: 17)),  // too much
                    NV.write(i, [1, 2], offset: 15),  // past the end
                    NV.write(i, [1, 2], auth: TPMHandle(i), password: [7]),  // no AUTHWRITE
                    NV.write(i, [1, 2], auth: .platform),  // no PPWRITE
                    NV.write(i, [0xAA, 0xBB], offset: 2),
                    NV.read(i, size: 16, auth: TPMHandle(i), password: [7]),
                    NV.read(i, size: 16, auth: TPMHandle(i), password: [8]),  // DA-protected: AUTH_FAIL
                    NV.read(i, size: 1025),
                    NV.read(i, size: 1, offset: 17),
                    NV.read(i, size: 2, offset: 15),
                    NV.read(i, size: 0, offset: 16),
                    NV.read(i, size: 1, auth: .platform),
                    NV.undefine(i),
                    NV.read(i, size: 1),
                ],
                expected: [
                    0, nvUninitialized, rcP(value, 2), nvRange, nvRange, authUnavailable, nvAuthorization, 0, 0, rcS(authFail, 1),
                    rcP(value, 1), rcP(value, 2), nvRange, 0, nvAuthorization, 0, rcH(handle, 2),
                ]),
            DifferentialCase(
                name: "writeall",
                steps: [
                    NV.define(i + 1, NV.rw | NV.writeAll, size: 4), NV.write(i + 1, [1, 2, 3]), NV.write(i + 1, [1, 2, 3, 4]),
                    NV.undefine(i + 1),
                ],
                expected: [0, nvRange, 0, 0]),
            DifferentialCase(
                name: "typed indices refuse NV_Write and each other's commands",
                steps: [
                    NV.define(i + 2, NV.rw | NV.counter, size: 8),
                    NV.write(i + 2, be64(1)),
                    NV.simple(.nvSetBits, i + 2, params: be64(1)),
                    NV.simple(.nvExtend, i + 2, params: NV.extendParams([1])),
                    NV.read(i + 2, size: 8),
                    NV.simple(.nvIncrement, i + 2),
                    NV.define(i + 3, NV.rw, size: 8),
                    NV.simple(.nvIncrement, i + 3),
                    NV.undefine(i + 2), NV.undefine(i + 3),
                ],
                expected: [0, attributes, rcH(attributes, 2), rcH(attributes, 2), nvUninitialized, 0, 0, rcH(attributes, 2), 0, 0]),
            DifferentialCase(
                name: "locks",
                steps: [
                    NV.define(i + 4, NV.rw | NV.readSTClear, size: 8),
                    NV.simple(.nvWriteLock, i + 4),  // neither WRITEDEFINE nor WRITE_STCLEAR
                    NV.simple(.nvReadLock, i + 4),  // unwritten may be locked
                    NV.simple(.nvReadLock, i + 4),  // again: success
                    NV.write(i + 4, be64(5)),
                    NV.read(i + 4, size: 8),
                    NV.define(i + 5, NV.rw | NV.writeSTClear, size: 8),
                    NV.simple(.nvReadLock, i + 5),  // no READ_STCLEAR
                    NV.simple(.nvWriteLock, i + 5, auth: .platform),  // no PPWRITE
                    NV.simple(.nvWriteLock, i + 5),
                    NV.write(i + 5, be64(5)),
                    NV.simple(.nvWriteLock, i + 5),
                    NV.undefine(i + 4), NV.undefine(i + 5),
                ],
                expected: [0, rcH(attributes, 2), 0, 0, 0, nvLocked, 0, rcH(attributes, 2), nvAuthorization, 0, nvLocked, 0, 0, 0]),
            DifferentialCase(
                name: "global lock",
                steps: [
                    NV.define(i + 6, NV.rw | NV.globalLock, size: 8),
                    NV.define(i + 7, NV.rw, size: 8),
                    command(.nvGlobalWriteLock, tag: .sessions, withPassword(handles: [.owner], params: [])),
                    NV.write(i + 6, be64(5)),
                    NV.write(i + 7, be64(5)),
                    NV.undefine(i + 6), NV.undefine(i + 7),
                ],
                expected: [0, 0, 0, nvLocked, 0, 0, 0]),
        ]
        runDifferential(cases)
    }

    func testUndefineAndHierarchyChecks() {
        let i: UInt32 = 0x0150_0400
        let cases = [
            DifferentialCase(
                name: "owner cannot undefine a platform index",
                steps: [
                    NV.define(i, NV.ppRead | NV.ppWrite | NV.ownerRead | NV.platformCreate, size: 8, by: .platform),
                    NV.undefine(i),
                    NV.undefine(i, by: .platform),
                ],
                expected: [0, nvAuthorization, 0]),
            DifferentialCase(
                name: "policy delete needs UndefineSpaceSpecial",
                steps: [
                    NV.define(
                        i + 1, NV.ppRead | NV.ppWrite | NV.platformCreate | NV.policyDelete, size: 8,
                        policy: [UInt8](repeating: 0, count: 32), by: .platform),
                    NV.undefine(i + 1, by: .platform),
                ],
                expected: [0, rcH(attributes, 2)]),
            DifferentialCase(
                name: "read public of nothing",
                steps: [NV.readPublic(i + 9), command(.nvReadPublic, be32(0x8100_0000))],
                expected: [rcH(handle, 1), rcH(value, 1)]),
        ]
        runDifferential(cases)
    }

    // MARK: values computed independently

    func testNameReadPublicAndWrittenBit() throws {
        let tpm = startedTPM()
        let i: UInt32 = 0x0150_0016
        XCTAssertEqual(responseCode(tpm.execute(command: NV.define(i, NV.rw, size: 4))), 0)
        XCTAssertTrue(tpm.nvChanged)
        func readPublic() throws -> (pub: [UInt8], name: [UInt8]) {
            let r = tpm.execute(command: NV.readPublic(i))
            XCTAssertEqual(responseCode(r), 0)
            var rd = TPMReader(Array(r[10...]))
            return (try rd.sized(max: 200), try rd.sized(max: 100))
        }
        let before = try readPublic()
        XCTAssertEqual(before.pub, NV.publicArea(i, NV.rw, size: 4))
        XCTAssertEqual(before.name, be16(0x000B) + Array(SHA256.hash(data: before.pub)))
        XCTAssertEqual(responseCode(tpm.execute(command: NV.write(i, [1, 2, 3, 4]))), 0)
        let after = try readPublic()
        XCTAssertEqual(after.pub, NV.publicArea(i, NV.rw | NV.written, size: 4))
        XCTAssertEqual(after.name, be16(0x000B) + Array(SHA256.hash(data: after.pub)))
        XCTAssertEqual(try nvReadData(tpm.execute(command: NV.read(i, size: 4))), [1, 2, 3, 4])
    }

    func testCounterExtendBitsValues() throws {
        let tpm = startedTPM()
        let c: UInt32 = 0x0150_0020
        XCTAssertEqual(responseCode(tpm.execute(command: NV.define(c, NV.rw | NV.counter, size: 8))), 0)
        for _ in 0..<3 { XCTAssertEqual(responseCode(tpm.execute(command: NV.simple(.nvIncrement, c))), 0) }
        XCTAssertEqual(try nvReadData(tpm.execute(command: NV.read(c, size: 8))), be64(3))
        // A deleted counter's value is where the next counter starts (Part 1, 37.2.3).
        XCTAssertEqual(responseCode(tpm.execute(command: NV.undefine(c))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: NV.define(c, NV.rw | NV.counter, size: 8))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: NV.simple(.nvIncrement, c))), 0)
        XCTAssertEqual(try nvReadData(tpm.execute(command: NV.read(c, size: 8))), be64(4))

        let e: UInt32 = 0x0150_0021
        XCTAssertEqual(responseCode(tpm.execute(command: NV.define(e, NV.rw | NV.extend, size: 48, alg: .sha384))), 0)
        var expect = [UInt8](repeating: 0, count: 48)
        for chunk in [Array("one".utf8), Array("two".utf8)] {
            XCTAssertEqual(responseCode(tpm.execute(command: NV.simple(.nvExtend, e, params: NV.extendParams(chunk)))), 0)
            expect = Array(SHA384.hash(data: expect + chunk))
        }
        XCTAssertEqual(try nvReadData(tpm.execute(command: NV.read(e, size: 48))), expect)

        let b: UInt32 = 0x0150_0022
        XCTAssertEqual(responseCode(tpm.execute(command: NV.define(b, NV.rw | NV.bits, size: 8))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: NV.simple(.nvSetBits, b, params: be64(0x10)))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: NV.simple(.nvSetBits, b, params: be64(0x8000_0000_0000_0001)))), 0)
        XCTAssertEqual(try nvReadData(tpm.execute(command: NV.read(b, size: 8))), be64(0x8000_0000_0000_0011))
    }

    func testStartupClearsLocksAndStClearData() throws {
        let tpm = startedTPM()
        let i: UInt32 = 0x0150_0030
        let j: UInt32 = 0x0150_0031
        XCTAssertEqual(responseCode(tpm.execute(command: NV.define(i, NV.rw | NV.readSTClear | NV.writeSTClear, size: 8))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: NV.define(j, NV.rw | NV.clearSTClear | NV.writeDefine, size: 8))), 0x2C2)
        XCTAssertEqual(responseCode(tpm.execute(command: NV.define(j, NV.rw | NV.clearSTClear, size: 8))), 0)
        for h in [i, j] { XCTAssertEqual(responseCode(tpm.execute(command: NV.write(h, be64(9)))), 0) }
        XCTAssertEqual(responseCode(tpm.execute(command: NV.simple(.nvReadLock, i))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: NV.simple(.nvWriteLock, i))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: NV.read(i, size: 8))), nvLocked)
        // TPM Restart (Shutdown(STATE), Startup(CLEAR)): locks go, CLEAR_STCLEAR data is unwritten.
        XCTAssertEqual(responseCode(tpm.execute(command: command(.shutdown, [0, 1]))), 0)
        tpm.powerOn()
        XCTAssertEqual(responseCode(tpm.execute(command: command(.startup, [0, 0]))), 0)
        XCTAssertEqual(try nvReadData(tpm.execute(command: NV.read(i, size: 8))), be64(9))
        XCTAssertEqual(responseCode(tpm.execute(command: NV.write(i, be64(1)))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: NV.read(j, size: 8))), nvUninitialized)
    }

    func testPinPassCountsSuccesses() throws {
        let tpm = startedTPM()
        let i: UInt32 = 0x0150_0040
        XCTAssertEqual(
            responseCode(tpm.execute(command: NV.define(i, NV.ownerWrite | NV.ownerRead | NV.authRead | NV.pinPass, size: 8, auth: [5]))), 0
        )
        // Unwritten: the authValue is not available yet.
        XCTAssertEqual(responseCode(tpm.execute(command: NV.read(i, size: 8, auth: TPMHandle(i), password: [5]))), authUnavailable)
        XCTAssertEqual(responseCode(tpm.execute(command: NV.write(i, be64(0 << 32 | 2)))), 0)
        XCTAssertEqual(try nvReadData(tpm.execute(command: NV.read(i, size: 8, auth: TPMHandle(i), password: [5]))), be64(1 << 32 | 2))
        XCTAssertEqual(try nvReadData(tpm.execute(command: NV.read(i, size: 8, auth: TPMHandle(i), password: [5]))), be64(2 << 32 | 2))
        // pinCount reached pinLimit.
        XCTAssertEqual(responseCode(tpm.execute(command: NV.read(i, size: 8, auth: TPMHandle(i), password: [5]))), authUnavailable)
    }

    func testPinFailCountsFailures() throws {
        let tpm = startedTPM()
        let i: UInt32 = 0x0150_0041
        let attrs = NV.ownerWrite | NV.ownerRead | NV.authRead | NV.pinFail | NV.noDA
        XCTAssertEqual(responseCode(tpm.execute(command: NV.define(i, attrs, size: 8, auth: [5]))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: NV.write(i, be64(0 << 32 | 3)))), 0)
        // A wrong PIN: TPM_RC_BAD_AUTH (NO_DA), pinCount + 1; a right one resets it.
        XCTAssertEqual(responseCode(tpm.execute(command: NV.read(i, size: 8, auth: TPMHandle(i), password: [6]))), rcS(badAuth, 1))
        XCTAssertEqual(responseCode(tpm.execute(command: NV.read(i, size: 8, auth: TPMHandle(i), password: [6]))), rcS(badAuth, 1))
        XCTAssertEqual(try nvReadData(tpm.execute(command: NV.read(i, size: 8))), be64(2 << 32 | 3))
        XCTAssertEqual(try nvReadData(tpm.execute(command: NV.read(i, size: 8, auth: TPMHandle(i), password: [5]))), be64(0 << 32 | 3))
        XCTAssertEqual(tpm.persistent.da.failedTries, 0, "NO_DA")
    }

    func testNVSpaceIsBounded() throws {
        let tpm = startedTPM()
        var defined = 0
        var code: UInt32 = 0
        while defined < 1000 {
            code = responseCode(tpm.execute(command: NV.define(0x0160_0000 + UInt32(defined), NV.rw, size: 2048)))
            if code != 0 { break }
            defined += 1
        }
        XCTAssertEqual(code, nvSpace)
        // The reserve for MIN_EVICT_OBJECTS persistent objects and MIN_COUNTER_INDICES counters.
        let reserve =
            TPMLimits.minEvictObjects * TPMLimits.nvEvictObjectSize + TPMLimits.minCounterIndices * (TPMLimits.nvIndexEntrySize + 8)
        XCTAssertEqual(defined, (TPMLimits.nvMemorySize - reserve) / (TPMLimits.nvIndexEntrySize + 2048))
        // Counters may still be defined into their reserve.
        XCTAssertEqual(responseCode(tpm.execute(command: NV.define(0x0170_0000, NV.rw | NV.counter, size: 8))), 0)
        XCTAssertEqual(tpm.propertyValue(.hrNVIndex), UInt32(defined + 1))
        XCTAssertEqual(tpm.propertyValue(.nvCounters), 1)
        XCTAssertEqual(tpm.propertyValue(.hrPersistentAvail), UInt32(TPMLimits.minEvictObjects))
    }

    func testGetCapabilityListsIndices() throws {
        let tpm = startedTPM()
        for i: UInt32 in [0x0150_0003, 0x0150_0001, 0x0150_0002] {
            XCTAssertEqual(responseCode(tpm.execute(command: NV.define(i, NV.rw, size: 1))), 0)
        }
        let r = tpm.execute(command: command(.getCapability, be32(1) + be32(0x0150_0002) + be32(10)))
        XCTAssertEqual(responseCode(r), 0)
        // moreData NO, TPM_CAP_HANDLES, count 2, the two handles from 0x01500002 on.
        XCTAssertEqual(Array(r[10...]), [0] + be32(1) + be32(2) + be32(0x0150_0002) + be32(0x0150_0003))
    }

    func testEveryNVChangeIsReported() throws {
        let tpm = startedTPM()
        let i: UInt32 = 0x0150_0050
        for cmd in [NV.define(i, NV.rw | NV.writeSTClear, size: 8), NV.write(i, be64(1)), NV.simple(.nvWriteLock, i), NV.undefine(i)] {
            tpm.acknowledgeNVWrite()
            XCTAssertEqual(responseCode(tpm.execute(command: cmd)), 0)
            XCTAssertTrue(tpm.nvChanged)
        }
        tpm.acknowledgeNVWrite()
        XCTAssertEqual(responseCode(tpm.execute(command: NV.readPublic(i))), rcH(handle, 1))
        XCTAssertFalse(tpm.nvChanged)
    }
}

/// The policy commands that read NV, NV_ChangeAuth and NV_Certify: digests computed here from
/// Part 3's formulas, codes as libtpms answers them.
final class NVPolicyTests: XCTestCase {
    static let zero = [UInt8](repeating: 0, count: 32)
    func cc(_ c: TPMCC) -> [UInt8] { Spec.u32(c.rawValue) }
    func H(_ parts: [UInt8]...) -> [UInt8] { Spec.hash(.sha256, parts) }

    func name(_ tpm: TPM, _ i: UInt32) throws -> [UInt8] {
        let r = tpm.execute(command: NV.readPublic(i))
        var rd = TPMReader(Array(r[10...]))
        _ = try rd.sized(max: 200)
        return try rd.sized(max: 100)
    }

    /// PolicyNV / PolicyAuthorizeNV with owner authorization by password.
    func nvPolicy(_ tpm: TPM, _ code: TPMCC, _ i: UInt32, _ s: ClientSession, _ params: [UInt8] = []) -> UInt32 {
        tpm.run(code, handles: [.owner, TPMHandle(i), s.handle], params, [SessionUse(session: nil)]).code
    }

    func testPolicyNV() throws {
        let tpm = startedTPM()
        let i: UInt32 = 0x0150_0060
        tpm.execute(command: NV.define(i, NV.rw, size: 8)).check()
        let s = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        // Unwritten: TPM_RC_NV_UNINITIALIZED.
        XCTAssertEqual(nvPolicy(tpm, .policyNV, i, s, Spec.b2([1]) + Spec.u16(0) + Spec.u16(0)), 0x14A)
        tpm.execute(command: NV.write(i, [0x81, 2, 3, 4, 5, 6, 7, 8])).check()
        let n = try name(tpm, i)
        let args = Spec.b2([2, 3]) + Spec.u16(1) + Spec.u16(0)  // operandB 0203 at offset 1, TPM_EO_EQ
        XCTAssertEqual(nvPolicy(tpm, .policyNV, i, s, args), 0)
        XCTAssertEqual(tpm.policyDigest(s), H(Self.zero, cc(.policyNV), H([2, 3], Spec.u16(1), Spec.u16(0)), n))
        // Comparisons: unsigned greater than holds, equality with other octets fails.
        _ = tpm.policy(.policyRestart, s)
        XCTAssertEqual(nvPolicy(tpm, .policyNV, i, s, Spec.b2([0x80]) + Spec.u16(0) + Spec.u16(3)), 0)
        XCTAssertEqual(nvPolicy(tpm, .policyNV, i, s, Spec.b2([9]) + Spec.u16(0) + Spec.u16(0)), 0x126)
        XCTAssertEqual(nvPolicy(tpm, .policyNV, i, s, Spec.b2([9]) + Spec.u16(9) + Spec.u16(0)), 0x2C4)
        XCTAssertEqual(nvPolicy(tpm, .policyNV, i, s, Spec.b2([9, 9]) + Spec.u16(7) + Spec.u16(0)), 0x1D5)
        XCTAssertEqual(nvPolicy(tpm, .policyNV, i, s, Spec.b2([9]) + Spec.u16(0) + Spec.u16(12)), 0x3C4)
        // A trial session checks nothing against the Index.
        let t = try XCTUnwrap(tpm.startSession(type: 3, symmetric: .null))
        XCTAssertEqual(nvPolicy(tpm, .policyNV, i, t, Spec.b2([9]) + Spec.u16(0) + Spec.u16(0)), 0)
        XCTAssertEqual(tpm.policyDigest(t), H(Self.zero, cc(.policyNV), H([9], Spec.u16(0), Spec.u16(0)), n))
    }

    func testPolicyNvWrittenAuthorizesTheIndex() throws {
        let tpm = startedTPM()
        let i: UInt32 = 0x0150_0061
        let policy = H(Self.zero, cc(.policyNvWritten), [1])
        tpm.execute(command: NV.define(i, NV.ownerWrite | NV.ownerRead | NV.policyRead, size: 4, policy: policy)).check()
        let s = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        XCTAssertEqual(responseCode(tpm.policy(.policyNvWritten, s, [1])), 0)
        XCTAssertEqual(tpm.policyDigest(s), policy)
        XCTAssertEqual(responseCode(tpm.policy(.policyNvWritten, s, [0])), 0x1C4)
        let read = {
            tpm.run(
                .nvRead, handles: [TPMHandle(i), TPMHandle(i)], Spec.u16(4) + Spec.u16(0),
                [SessionUse(session: s, entity: Entity(TPMHandle(i)))])
        }
        // The Index is not written: the policy fails (TPM_RC_POLICY_FAIL, session 1).
        XCTAssertEqual(read().code, 0x99D)
        tpm.execute(command: NV.write(i, [1, 2, 3, 4])).check()
        // The failed command left the policy as it was: now it holds.
        let r = read()
        XCTAssertEqual(r.code, 0)
        XCTAssertEqual(r.parameters, Spec.b2([1, 2, 3, 4]))
    }

    func testPolicyAuthorizeNV() throws {
        let tpm = startedTPM()
        let i: UInt32 = 0x0150_0062
        tpm.execute(command: NV.define(i, NV.rw, size: 34)).check()
        let approved = H(Self.zero, cc(.policyAuthValue))
        tpm.execute(command: NV.write(i, Spec.u16(0x000B) + approved)).check()
        let n = try name(tpm, i)
        let s = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        // Not the approved policy: TPM_RC_VALUE.
        XCTAssertEqual(nvPolicy(tpm, .policyAuthorizeNV, i, s), 0x084)
        XCTAssertEqual(responseCode(tpm.policy(.policyAuthValue, s)), 0)
        XCTAssertEqual(nvPolicy(tpm, .policyAuthorizeNV, i, s), 0)
        XCTAssertEqual(tpm.policyDigest(s), H(Self.zero, cc(.policyAuthorizeNV), n))
        // A session of another hash: TPM_RC_HASH.
        let s1 = try XCTUnwrap(tpm.startSession(type: 1, alg: .sha1, symmetric: .null))
        XCTAssertEqual(nvPolicy(tpm, .policyAuthorizeNV, i, s1), 0x083)
    }

    func testChangeAuthWithPolicy() throws {
        let tpm = startedTPM()
        let i: UInt32 = 0x0150_0063
        let policy = H(Self.zero, cc(.policyCommandCode), cc(.nvChangeAuth))
        tpm.execute(command: NV.define(i, NV.rw, size: 4, auth: [1], policy: policy)).check()
        tpm.execute(command: NV.write(i, [9, 9, 9, 9])).check()
        // A password cannot serve the ADMIN role: TPM_RC_AUTH_TYPE (format zero, unnumbered).
        let byPassword = command(.nvChangeAuth, tag: .sessions, withPassword(handles: [TPMHandle(i)], password: [1], params: Spec.b2([2])))
        XCTAssertEqual(responseCode(tpm.execute(command: byPassword)), 0x124)
        let s = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        XCTAssertEqual(responseCode(tpm.policy(.policyCommandCode, s, cc(.nvChangeAuth))), 0)
        let r = tpm.run(.nvChangeAuth, handles: [TPMHandle(i)], Spec.b2([2, 0, 0]), [SessionUse(session: s, entity: Entity(TPMHandle(i)))])
        XCTAssertEqual(r.code, 0)
        XCTAssertEqual(responseCode(tpm.execute(command: NV.read(i, size: 4, auth: TPMHandle(i), password: [1]))), 0x98E)
        XCTAssertEqual(try nvReadData(tpm.execute(command: NV.read(i, size: 4, auth: TPMHandle(i), password: [2]))), [9, 9, 9, 9])
    }

    func testCertifyDigestOfTheWholeIndex() throws {
        let tpm = startedTPM()
        let signer = try makePrimary(tpm, .owner, Templates.ecc(attributes: Templates.signingAttributes, scheme: .ecdsa(hashAlg: .sha256)))
        let i: UInt32 = 0x0150_0064
        tpm.execute(command: NV.define(i, NV.rw, size: 5)).check()
        tpm.execute(command: NV.write(i, [1, 2, 3, 4, 5])).check()
        let n = try name(tpm, i)
        func certify(size: UInt16, offset: UInt16) -> [UInt8] {
            var a = TPMWriter()
            for _ in 0..<2 {
                a.u32(TPMHandle.passwordSession.rawValue)
                a.sized([UInt8]())
                a.u8(1)
                a.sized([UInt8]())
            }
            let body =
                be32(signer.handle.rawValue) + be32(TPMHandle.owner.rawValue) + be32(i) + be32(UInt32(a.count)) + a.bytes
                + Spec.b2([7]) + Spec.u16(0x0010) + Spec.u16(size) + Spec.u16(offset)
            return tpm.execute(command: command(.nvCertify, tag: .sessions, body))
        }
        var p = try checkedParameters(certify(size: 0, offset: 0), hasHandle: false)
        var attestReader = TPMReader(try p.sized(max: 4096))
        let attest = try TPMSAttest(from: &attestReader)
        XCTAssertEqual(attest.extraData.buffer, [7])
        guard case .nvDigest(let info) = attest.attested else { return XCTFail("TPM_ST_ATTEST_NV_DIGEST expected") }
        XCTAssertEqual(info.indexName.buffer, n)
        XCTAssertEqual(info.nvDigest.buffer, Array(SHA256.hash(data: [1, 2, 3, 4, 5])))
        XCTAssertEqual(responseCode(certify(size: 2, offset: 4)), 0x146)
        XCTAssertEqual(responseCode(certify(size: 1, offset: 4)), 0)
    }
}

extension NVPolicyTests {
    /// The first policy session of a freshly started TPM (libtpms assigns the same handle).
    static let session = TPMHandle(0x0300_0000)

    static func startPolicySession() -> [UInt8] {
        command(
            .startAuthSession,
            be32(TPMHandle.null.rawValue) + be32(TPMHandle.null.rawValue) + Spec.b2([UInt8](repeating: 5, count: 16)) + Spec.b2([]) + [1]
                + Spec.u16(0x0010) + Spec.u16(0x000B))
    }

    static func policyNV(_ i: UInt32, _ operand: [UInt8], offset: UInt16, op: UInt16) -> [UInt8] {
        command(
            .policyNV, tag: .sessions,
            withPassword(handles: [.owner, TPMHandle(i), session], params: Spec.b2(operand) + Spec.u16(offset) + Spec.u16(op)))
    }

    func testPolicyAndCertifyErrorCodes() {
        let i: UInt32 = 0x0150_0070
        var certifyAuth = TPMWriter()
        certifyAuth.u32(TPMHandle.passwordSession.rawValue)
        certifyAuth.sized([UInt8]())
        certifyAuth.u8(1)
        certifyAuth.sized([UInt8]())
        func certify(size: UInt16, offset: UInt16) -> [UInt8] {
            // signHandle TPM_RH_NULL (no authorization needed beyond the password session).
            let auth = certifyAuth.bytes + certifyAuth.bytes
            return command(
                .nvCertify, tag: .sessions,
                be32(TPMHandle.null.rawValue) + be32(TPMHandle.owner.rawValue) + be32(i) + be32(UInt32(auth.count)) + auth + Spec.b2([])
                    + Spec.u16(0x0010) + Spec.u16(size) + Spec.u16(offset))
        }
        let cases = [
            DifferentialCase(
                name: "PolicyNV, PolicyAuthorizeNV, PolicyNvWritten, NV_ChangeAuth, NV_Certify",
                steps: [
                    NV.define(i, NV.rw, size: 8, auth: [1]),
                    NV.write(i, [0x81, 2, 3, 4, 5, 6, 7, 8]),
                    Self.startPolicySession(),
                    Self.policyNV(i, [9], offset: 0, op: 0),
                    Self.policyNV(i, [9], offset: 9, op: 0),
                    Self.policyNV(i, [9, 9], offset: 7, op: 0),
                    Self.policyNV(i, [9], offset: 0, op: 12),
                    Self.policyNV(i, [0x81, 2], offset: 0, op: 0),
                    Self.policyNV(i + 1, [9], offset: 0, op: 0),
                    command(.policyAuthorizeNV, tag: .sessions, withPassword(handles: [.owner, TPMHandle(i), Self.session], params: [])),
                    command(.policyNvWritten, be32(Self.session.rawValue) + [1]),
                    command(.policyNvWritten, be32(Self.session.rawValue) + [0]),
                    command(.policyNvWritten, be32(Self.session.rawValue) + [2]),
                    command(.nvChangeAuth, tag: .sessions, withPassword(handles: [TPMHandle(i)], password: [1], params: Spec.b2([2]))),
                    certify(size: 9, offset: 0),
                    certify(size: 1, offset: 8),  // offset + size past the end
                    certify(size: 0, offset: 0),
                    command(.flushContext, be32(Self.session.rawValue)),
                    NV.undefine(i),
                ],
                expected: [0, 0, 0, 0x126, 0x2C4, 0x1D5, 0x3C4, 0, 0x28B, 0x083, 0, 0x1C4, 0x1C4, 0x124, 0x146, 0x146, 0, 0, 0])
        ]
        runDifferential(cases)
    }
}

extension NVPolicyTests {
    func testUndefineSpaceSpecialAnswersWithoutTheDeletedAuthValue() throws {
        let tpm = startedTPM()
        let i: UInt32 = 0x0150_0080
        let policy = H(H(Self.zero, cc(.policyAuthValue)), cc(.policyCommandCode), cc(.nvUndefineSpaceSpecial))
        let attrs = NV.ppRead | NV.ppWrite | NV.authRead | NV.platformCreate | NV.policyDelete
        tpm.execute(command: NV.define(i, attrs, size: 8, auth: [5], policy: policy, by: .platform)).check()
        let n = try name(tpm, i)
        let s = try XCTUnwrap(tpm.startSession(type: 1, symmetric: .null))
        s.authValueNeeded = true
        XCTAssertEqual(responseCode(tpm.policy(.policyAuthValue, s)), 0)
        XCTAssertEqual(responseCode(tpm.policy(.policyCommandCode, s, cc(.nvUndefineSpaceSpecial))), 0)
        // The policy session's HMAC uses the Index's authValue; its response HMAC does not (the
        // Index is gone: the reference's SessionRemoveAssociationToHandle). run() checks it.
        let r = tpm.run(
            .nvUndefineSpaceSpecial, handles: [TPMHandle(i), .platform], names: [n, Spec.u32(TPMHandle.platform.rawValue)], [],
            [SessionUse(session: s, entity: Entity(TPMHandle(i), auth: [5])), SessionUse(session: nil, entity: Entity(.platform))],
            responseAuth: [])
        XCTAssertEqual(r.code, 0)
        XCTAssertNil(tpm.nvIndex(TPMHandle(i)))
    }
}
