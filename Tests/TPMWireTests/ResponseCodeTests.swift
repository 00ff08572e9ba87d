import TPMWire
import XCTest

/// Part 2, 6.6: format-one codes carry the parameter (P=1), handle or session number.
/// Expected values are the ones libtpms returns for the same conditions.
final class ResponseCodeTests: XCTestCase {
    func testFormatOneNumbering() {
        XCTAssertEqual(TPMRC.value.parameter(1).rawValue, 0x1C4)
        XCTAssertEqual(TPMRC.hash.parameter(1).rawValue, 0x1C3)
        XCTAssertEqual(TPMRC.size.parameter(1).rawValue, 0x1D5)
        XCTAssertEqual(TPMRC.insufficient.parameter(1).rawValue, 0x1DA)
        XCTAssertEqual(TPMRC.value.parameter(15).rawValue, 0xFC4)
        XCTAssertEqual(TPMRC.value.handle(1).rawValue, 0x184)
        XCTAssertEqual(TPMRC.handle.handle(2).rawValue, 0x28B)
        XCTAssertEqual(TPMRC.nonce.session(1).rawValue, 0x98F)
        XCTAssertEqual(TPMRC.badAuth.session(1).rawValue, 0x9A2)
        XCTAssertEqual(TPMRC.authFail.session(3).rawValue, 0xB8E)
    }

    func testFormatZeroAndOutOfRangeNumbersAreUnchanged() {
        XCTAssertEqual(TPMRC.initialize.parameter(1), .initialize)
        XCTAssertEqual(TPMRC.locality.handle(1), .locality)
        XCTAssertEqual(TPMRC.value.parameter(16), .value)
        XCTAssertEqual(TPMRC.value.handle(8), .value)
        XCTAssertEqual(TPMRC.value.session(0), .value)
        // Numbering twice keeps the first number.
        XCTAssertEqual(TPMRC.value.parameter(1).parameter(2).rawValue, 0x1C4)
        XCTAssertEqual(TPMRC.value.parameter(2).base, .value)
    }

    func testWarningsAndReferences() {
        XCTAssertEqual(TPMRC.referenceHandle(0).rawValue, 0x910)
        XCTAssertEqual(TPMRC.referenceSession(2).rawValue, 0x91A)
        XCTAssertFalse(TPMRC.objectMemory.isFormatOne)
    }
}

final class CodecTests: XCTestCase {
    func testReaderNeverReadsPastTheEnd() {
        var r = TPMReader([1, 2, 3])
        XCTAssertThrowsError(try r.u32()) { XCTAssertEqual($0 as? TPMError, TPMError(.insufficient)) }
        XCTAssertEqual(try r.u16(), 0x0102)
        XCTAssertThrowsError(try r.u16())
        XCTAssertEqual(try r.u8(), 3)
        XCTAssertThrowsError(try r.u8())
        XCTAssertThrowsError(try r.bytes(-1))
    }

    func testSizedChecksLimitThenPresence() {
        var over = TPMReader([0x00, 0x41] + [UInt8](repeating: 0, count: 65))
        XCTAssertThrowsError(try over.sized(max: 64)) { XCTAssertEqual($0 as? TPMError, .size) }
        var short = TPMReader([0x00, 0x10, 1, 2])
        XCTAssertThrowsError(try short.sized(max: 64)) { XCTAssertEqual($0 as? TPMError, .insufficient) }
    }

    func testTPM2BDigestBoundsAndTrailingBytes() throws {
        let d = try TPM2BDigest(wire: [0, 2, 0xAA, 0xBB])
        XCTAssertEqual(d.buffer, [0xAA, 0xBB])
        XCTAssertThrowsError(try TPM2BDigest(wire: [0, 2, 0xAA, 0xBB, 0])) { XCTAssertEqual($0 as? TPMError, .size) }
        XCTAssertThrowsError(try TPM2BDigest(wire: [0, 65] + [UInt8](repeating: 0, count: 65)))
        XCTAssertEqual(try TPM2BMaxBuffer(wire: [0x04, 0x00] + [UInt8](repeating: 1, count: 1024)).count, 1024)
        XCTAssertThrowsError(try TPM2BMaxBuffer(wire: [0x04, 0x01] + [UInt8](repeating: 1, count: 1025)))
    }

    func testPCRSelectionRules() throws {
        let s = TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: [0, 7, 23])])
        XCTAssertEqual(s.wireBytes, [0, 0, 0, 1, 0x00, 0x0B, 3, 0x81, 0x00, 0x80])
        XCTAssertEqual(try TPMLPCRSelection(wire: s.wireBytes), s)
        // sizeofSelect outside PCR_SELECT_MIN...MAX: TPM_RC_VALUE.
        XCTAssertThrowsError(try TPMLPCRSelection(wire: [0, 0, 0, 1, 0, 0x0B, 4, 0, 0, 0, 0])) { XCTAssertEqual($0 as? TPMError, .value) }
        XCTAssertThrowsError(try TPMLPCRSelection(wire: [0, 0, 0, 1, 0, 0x0B, 1, 0])) { XCTAssertEqual($0 as? TPMError, .value) }
        // An unimplemented hash: TPM_RC_HASH. TPM_ALG_NULL is not allowed here either.
        XCTAssertThrowsError(try TPMLPCRSelection(wire: [0, 0, 0, 1, 0, 0x12, 3, 0, 0, 0])) {
            XCTAssertEqual($0 as? TPMError, TPMError(.hash))
        }
        XCTAssertThrowsError(try TPMLPCRSelection(wire: [0, 0, 0, 1, 0, 0x10, 3, 0, 0, 0])) {
            XCTAssertEqual($0 as? TPMError, TPMError(.hash))
        }
        // More selections than implemented hashes: TPM_RC_SIZE.
        XCTAssertThrowsError(try TPMLPCRSelection(wire: [0, 0, 0, 5])) { XCTAssertEqual($0 as? TPMError, .size) }
    }

    func testDigestValues() throws {
        let v = TPMLDigestValues([
            TPMTHA(hashAlg: .sha1, digest: [UInt8](repeating: 1, count: 20)),
            TPMTHA(hashAlg: .sha512, digest: [UInt8](repeating: 2, count: 64)),
        ])
        XCTAssertEqual(try TPMLDigestValues(wire: v.wireBytes), v)
        XCTAssertEqual(v.wireBytes.count, 4 + 2 + 20 + 2 + 64)
        // A digest shorter than its algorithm's size runs out of bytes.
        XCTAssertThrowsError(try TPMLDigestValues(wire: [0, 0, 0, 1, 0, 0x0B] + [UInt8](repeating: 0, count: 31))) {
            XCTAssertEqual($0 as? TPMError, .insufficient)
        }
        XCTAssertThrowsError(try TPMLDigestValues(wire: [0, 0, 0, 1, 0, 0x10])) { XCTAssertEqual($0 as? TPMError, TPMError(.hash)) }
    }

    func testDigestListBound() throws {
        let eight = TPMLDigest((0..<8).map { _ in TPM2BDigest([1]) })
        XCTAssertEqual(try TPMLDigest(wire: eight.wireBytes), eight)
        var nine = eight.wireBytes
        nine[3] = 9
        XCTAssertThrowsError(try TPMLDigest(wire: nine)) { XCTAssertEqual($0 as? TPMError, .size) }
    }

    func testHashcheckTicket() throws {
        let t = TPMTTKHashcheck(tag: .hashCheck, hierarchy: .owner, digest: TPM2BDigest([9, 9]))
        XCTAssertEqual(try TPMTTKHashcheck(wire: t.wireBytes), t)
        XCTAssertEqual(TPMTTKHashcheck.null.wireBytes, [0x80, 0x24, 0x40, 0, 0, 7, 0, 0])
        var badTag = t.wireBytes
        badTag[1] = 0x25
        XCTAssertThrowsError(try TPMTTKHashcheck(wire: badTag)) { XCTAssertEqual($0 as? TPMError, TPMError(.tag)) }
        var badHierarchy = t.wireBytes
        badHierarchy[5] = 0x0A  // lockout is not a hierarchy here
        XCTAssertThrowsError(try TPMTTKHashcheck(wire: badHierarchy)) { XCTAssertEqual($0 as? TPMError, .value) }
    }

    func testYesNoAndClockInfo() throws {
        XCTAssertThrowsError(try TPMIYesNo(wire: [2])) { XCTAssertEqual($0 as? TPMError, .value) }
        let t = TPMSTimeInfo(time: 5, clockInfo: TPMSClockInfo(clock: 6, resetCount: 7, restartCount: 8, safe: true))
        XCTAssertEqual(t.wireBytes.count, 25)
        XCTAssertEqual(try TPMSTimeInfo(wire: t.wireBytes), t)
    }

    /// Every truncation of every structure above is rejected, never a trap.
    func testAllTruncationsThrow() {
        let samples: [([UInt8], ([UInt8]) throws -> Void)] = [
            (TPMLPCRSelection([TPMSPCRSelection(hash: .sha1, pcrs: [1])]).wireBytes, { _ = try TPMLPCRSelection(wire: $0) }),
            (
                TPMLDigestValues([TPMTHA(hashAlg: .sha256, digest: [UInt8](repeating: 0, count: 32))]).wireBytes,
                { _ = try TPMLDigestValues(wire: $0) }
            ),
            (TPMTTKHashcheck.null.wireBytes, { _ = try TPMTTKHashcheck(wire: $0) }),
            (
                TPMSTimeInfo(time: 1, clockInfo: TPMSClockInfo(clock: 1, resetCount: 1, restartCount: 1, safe: false)).wireBytes,
                {
                    _ = try TPMSTimeInfo(wire: $0)
                }
            ),
        ]
        for (bytes, decode) in samples {
            XCTAssertNoThrow(try decode(bytes))
            for n in 0..<bytes.count { XCTAssertThrowsError(try decode(Array(bytes[0..<n]))) }
            XCTAssertThrowsError(try decode(bytes + [0]))
        }
    }
}
