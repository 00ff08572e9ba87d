import TPMCrypto
import TPMWire
import XCTest

@testable import TPMEngine

/// TPM_ECC_BN_P256 (TCG Algorithm Registry; TPM 2.0 Part 4): the curve's domain parameters as
/// TPM2_ECC_Parameters reports them, compared with swtpm's answer.
final class BNP256Tests: XCTestCase {
    /// swtpm 0.7 / libtpms, TPM2_ECC_Parameters(0x0010): TPMS_ALGORITHM_DETAIL_ECC with keySize
    /// 256, kdf and sign TPM_ALG_NULL, p, a = 0, b = 3, G = (1, 2), n, h = 1.
    static let swtpmParameters = bytes(
        "8001000000c20000000000100100001000100020fffffffffffcf0cd46e5f25eee71a49f0cdc65fb12980a82d3292ddbaed3301300"
            + "01000020000000000000000000000000000000000000000000000000000000000000000300200000000000000000000000000000"
            + "000000000000000000000000000000000001002000000000000000000000000000000000000000000000000000000000000000"
            + "020020fffffffffffcf0cd46e5f25eee71a49e0cdc65fb1299921af62d536cd10b500d000101")

    static func bytes(_ s: String) -> [UInt8] {
        let c = Array(s.utf8)
        func nibble(_ x: UInt8) -> UInt8 { x <= 0x39 ? x - 0x30 : x - 0x57 }
        return stride(from: 0, to: c.count, by: 2).map { nibble(c[$0]) << 4 | nibble(c[$0 + 1]) }
    }

    func testECCParametersEqualSwtpm() {
        let tpm = startedTPM()
        XCTAssertEqual(tpm.execute(command: command(.eccParameters, [0x00, 0x10])), Self.swtpmParameters)
    }

    /// The group arithmetic agrees with the curve equation y^2 = x^3 + 3: G = (1, 2) is on it,
    /// [n - 1]G = -G = (1, p - 2) and G + (-G) is the point at infinity.
    func testGroupArithmetic() throws {
        let c = ECCCurve.bnP256
        let p = c.parameters
        let g = ECCPoint(x: p.gX, y: p.gY)
        XCTAssertTrue(c.isValid(g))
        XCTAssertFalse(c.isValid(ECCPoint(x: p.gX, y: [3])))
        var nMinus1 = p.n
        nMinus1[nMinus1.count - 1] -= 1
        var pMinus2 = p.p
        pMinus2[pMinus2.count - 1] -= 2
        let minusG = try c.multiplyGenerator(by: nMinus1)
        XCTAssertEqual(minusG, ECCPoint(x: p.gX, y: pMinus2))
        XCTAssertThrowsError(try c.add(g, minusG))
        XCTAssertEqual(try c.multiply(g, by: [2]), try c.add(g, g))
    }
}
