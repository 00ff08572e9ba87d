import XCTest

@testable import TPMEngine

/// TPM_EO comparisons of PolicyNV and PolicyCounterTimer as Part 4's UnsignedCompareB and
/// SignedCompareB compute them (and libtpms, checked with swtpm through tpm2-tools'
/// abrmd_policynv): a negative operand is below a positive one, and two negatives compare as
/// unsigned reversed.
final class PolicyConditionTests: XCTestCase {
    let gt: UInt16 = 0x0002, ugt: UInt16 = 0x0003, lt: UInt16 = 0x0004, ge: UInt16 = 0x0006, le: UInt16 = 0x0008

    func check(_ op: UInt16, _ a: [UInt8], _ b: [UInt8]) -> Bool { TPM.policyCondition(op, a[...], b) }

    func testSignedComparisons() {
        XCTAssertTrue(check(gt, [0x02], [0x01]))
        XCTAssertFalse(check(gt, [0x81], [0x01]), "negative below positive")
        XCTAssertTrue(check(lt, [0xFF, 0x00], [0x00, 0x01]))
        XCTAssertTrue(check(gt, [0x81], [0x82]), "two negatives: unsigned order reversed, as SignedCompareB")
        XCTAssertFalse(check(lt, [0x81], [0x82]))
        XCTAssertTrue(check(ge, [0x80, 0x00], [0x80, 0x00]))
        XCTAssertTrue(check(le, [0x90], [0x81]))
        XCTAssertTrue(check(ugt, [0x82], [0x81]), "unsigned: plain order")
    }
}
