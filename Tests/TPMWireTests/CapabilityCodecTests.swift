import TPMWire
import XCTest

private func wire(_ s: String) -> [UInt8] {
    let d = Array(s.filter { !$0.isWhitespace }.utf8)
    return stride(from: 0, to: d.count - 1, by: 2).map { UInt8(String(decoding: d[$0...$0 + 1], as: UTF8.self), radix: 16)! }
}

private func rc<T: TPMDecodable>(_ type: T.Type, _ bytes: [UInt8]) -> TPMRC? {
    do {
        _ = try T(wire: bytes)
        return nil
    } catch let e as TPMError {
        return e.rc
    } catch {
        return TPMRC(0xFFFF_FFFF)
    }
}

/// TPMS_CAPABILITY_DATA and its lists (Part 2, 10.8-10.10).
final class CapabilityCodecTests: XCTestCase {
    /// The list bounds are the values libtpms 0.9 and the tpm2-tss headers compute from
    /// MAX_CAP_BUFFER = 1024 (TPM2_MAX_CAP_ALGS = 127, ..._HANDLES = 254, ...).
    func testListBoundsMatchTheReference() {
        XCTAssertEqual(TPMLimits.maxCapData, 1016)
        XCTAssertEqual(TPMLimits.maxCapAlgs, 127)
        XCTAssertEqual(TPMLimits.maxCapHandles, 254)
        XCTAssertEqual(TPMLimits.maxCapCC, 254)
        XCTAssertEqual(TPMLimits.maxTPMProperties, 127)
        XCTAssertEqual(TPMLimits.maxPCRProperties, 127)
        XCTAssertEqual(TPMLimits.maxECCCurves, 508)
        XCTAssertEqual(TPMLimits.maxTaggedPolicies, 14)
        XCTAssertEqual(TPMLimits.maxACTData, 84)
        XCTAssertEqual(TPMLimits.maxAlgListSize, 64)
    }

    /// Responses libtpms (swtpm 0.7) sent, decoded and re-encoded byte for byte.
    func testRoundTripOfRealResponses() throws {
        let samples = [
            // TPM_CAP_PCR_PROPERTIES, all 15 properties.
            "00000007 0000000f 00000000 03ffff00 00000001 03ffff81 00000002 03000081 00000003 03ffff91 00000004 03000081"
                + " 00000005 03ffffff 00000006 030000f1 00000007 03ffff9f 00000008 03000081 00000009 03ffff87"
                + " 0000000a 0300007e 00000011 030000e1 00000012 0300007e 00000013 03000070 00000014 03000070",
            // TPM_CAP_AUTH_POLICIES: four permanent handles without a policy (TPMT_HA of NULL).
            "00000009 00000004 40000001 0010 4000000a 0010 4000000b 0010 4000000c 0010",
            // TPM_CAP_PCRS with four banks.
            "00000005 00000004 0004 03 ffffff 000b 03 ffffff 000c 03 ffffff 000d 03 ffffff",
            // TPM_CAP_ALGS (first two), TPM_CAP_COMMANDS (two), TPM_CAP_PP_COMMANDS, TPM_CAP_HANDLES.
            "00000000 00000002 0001 00000009 0003 00000002",
            "00000002 00000002 0200 0193 0400 0197",
            "00000003 00000001 0000012d",
            "00000001 00000002 40000001 40000007",
            // TPM_CAP_TPM_PROPERTIES, TPM_CAP_ECC_CURVES, TPM_CAP_ACT (empty).
            "00000006 00000002 00000100 322e3000 00000101 00000000",
            "00000008 00000003 0003 0004 0005",
            "0000000a 00000000",
        ]
        for s in samples {
            let bytes = wire(s)
            let data = try TPMSCapabilityData(wire: bytes)
            XCTAssertEqual(data.wireBytes, bytes, s)
        }
        let policies = try TPMSCapabilityData(wire: wire(samples[1]))
        guard case .authPolicies(let list) = policies.data else { return XCTFail("wrong member") }
        XCTAssertEqual(list.items.map(\.handle), [.owner, .lockout, .endorsement, .platform])
        XCTAssertEqual(list.items.first?.policyHash, TPMTHA(hashAlg: .null, digest: []))
    }

    func testCountsAboveTheBoundAreSizeBeforeAnyEntryIsRead() {
        XCTAssertEqual(rc(TPMLAlg.self, wire("00000041")), .size)
        XCTAssertEqual(rc(TPMLAlg.self, wire("ffffffff")), .size)
        XCTAssertEqual(rc(TPMLHandle.self, wire("000000ff")), .size)
        XCTAssertEqual(rc(TPMLCCA.self, wire("000000ff")), .size)
        XCTAssertEqual(rc(TPMLAlgProperty.self, wire("00000080")), .size)
        XCTAssertEqual(rc(TPMLTaggedPolicy.self, wire("0000000f")), .size)
        XCTAssertEqual(rc(TPMLECCCurve.self, wire("000001fd")), .size)
        // At the bound, a missing entry is TPM_RC_INSUFFICIENT.
        XCTAssertEqual(rc(TPMLAlg.self, wire("00000040")), .insufficient)
        XCTAssertEqual(try TPMLAlg(wire: wire("00000002 0004 000b")).items, [.sha1, .sha256])
    }

    func testReservedBitsAndSelectSizes() {
        // TPMA_CC bits 16-21 and 30-31; TPMA_ALGORITHM bits 4-7 and 11-31.
        XCTAssertEqual(rc(TPMLCCA.self, wire("00000001 00010144")), .reservedBits)
        XCTAssertEqual(rc(TPMLCCA.self, wire("00000001 80000144")), .reservedBits)
        XCTAssertNil(rc(TPMLCCA.self, wire("00000001 12000144")))
        XCTAssertEqual(rc(TPMLAlgProperty.self, wire("00000001 0001 00000010")), .reservedBits)
        XCTAssertEqual(rc(TPMLAlgProperty.self, wire("00000001 0001 00000800")), .reservedBits)
        // TPMS_TAGGED_PCR_SELECT: sizeofSelect PCR_SELECT_MIN...PCR_SELECT_MAX, else TPM_RC_VALUE.
        XCTAssertEqual(rc(TPMLTaggedPCRProperty.self, wire("00000001 00000000 04 ffffffff")), .value)
        XCTAssertEqual(rc(TPMLTaggedPCRProperty.self, wire("00000001 00000000 02 ffff")), .value)
        // TPMS_TAGGED_POLICY: the TPMT_HA digest has its algorithm's size.
        XCTAssertEqual(rc(TPMLTaggedPolicy.self, wire("00000001 40000001 000b 00")), .insufficient)
        XCTAssertEqual(rc(TPMLTaggedPolicy.self, wire("00000001 40000001 0099")), .hash)
    }

    func testTruncatedCapabilityDataIsInsufficient() {
        let bytes = wire("00000006 00000002 00000100 322e3000 00000101 00000000")
        for n in 0..<bytes.count { XCTAssertEqual(rc(TPMSCapabilityData.self, Array(bytes.prefix(n))), .insufficient, "cut at \(n)") }
        XCTAssertEqual(rc(TPMSCapabilityData.self, bytes + [0]), .size)
    }
}
