import TPMCrypto
import TPMWire
import XCTest

@testable import TPMEngine

private func wire(_ s: String) -> [UInt8] {
    let d = Array(s.filter { !$0.isWhitespace }.utf8)
    return stride(from: 0, to: d.count - 1, by: 2).map { UInt8(String(decoding: d[$0...$0 + 1], as: UTF8.self), radix: 16)! }
}

private func u32(_ b: [UInt8], _ at: Int) -> UInt32 { b[at..<at + 4].reduce(0) { $0 << 8 | UInt32($1) } }

private func getCap(_ tpm: TPM, _ cap: UInt32, _ property: UInt32, _ count: UInt32, extra: [UInt8] = []) -> [UInt8] {
    var w = TPMWriter()
    w.u32(cap)
    w.u32(property)
    w.u32(count)
    return tpm.execute(command: command(.getCapability, w.bytes + extra))
}

/// A successful GetCapability response: moreData and the decoded capability data.
private func decoded(_ r: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> (more: Bool, data: TPMUCapabilities)? {
    guard responseCode(r) == 0 else {
        XCTFail("response code \(String(responseCode(r), radix: 16))", file: file, line: line)
        return nil
    }
    var reader = TPMReader(Array(r.dropFirst(10)))
    guard let more = try? reader.u8(), let data = try? TPMSCapabilityData(from: &reader), reader.isAtEnd else {
        XCTFail("malformed response", file: file, line: line)
        return nil
    }
    return (more == 1, data.data)
}

/// TPM2_GetCapability (Part 3, 30.2). Byte strings marked "swtpm" are responses swtpm 0.7.1 /
/// libtpms 0.9.2 gave to the same command.
final class CapabilityTests: XCTestCase {
    // MARK: TPM_CAP_COMMANDS

    /// swtpm's TPM_CAP_COMMANDS list (property 0, count 1000): 110 TPMA_CC words.
    static let swtpmCommands = wire(
        "0440011f0440012002c001210440012202c0012402c0012502c001260240012702400128024001290240012a0240012b0240012c0240012d"
            + "0240012e020001301200013102400132044001330440013404400135044001360440013704400138024001390240013a0240013b0240013c"
            + "0240013d0300013e0240013f0240014000400142004001430040014400400145004001460400014704000148060001490400014a0400014b"
            + "0400014c0600014d0400014e0440014f040001500400015104000152020001530200015402000155020001561200015702000158020001591200015b"
            + "0200015c0200015d0200015e0400016010000161020001620200016302000164000001651000016702000168020001690200016a0200016b"
            + "0200016c0200016d0200016e0200016f02000170020001710200017202000173020001741400017602000177000001780000017a0000017b"
            + "0000017c0000017d0000017e0200017f020001800000018102400182020001830600018405400185100001860200018702000188020001890000018a"
            + "0200018b0200018c0200018d0000018e0200018f0200019012000191060001920200019304000197")

    func testCommandsAreTheTableWithLibtpmsAttributeWords() throws {
        let tpm = startedTPM()
        guard let (more, data) = decoded(getCap(tpm, 2, 0, 1000)), case .command(let list) = data else { return XCTFail() }
        XCTAssertFalse(more)
        XCTAssertEqual(list.items.map(\.commandIndex), TPM.commandTable.map { UInt16($0.code.rawValue) })
        var theirs: [UInt16: UInt32] = [:]
        for i in stride(from: 0, to: Self.swtpmCommands.count, by: 4) {
            let w = u32(Self.swtpmCommands, i)
            theirs[UInt16(truncatingIfNeeded: w)] = w
        }
        // Not in libtpms 0.9: Part 2's TPMA_CC for them (one handle, nothing else set).
        theirs[0x199] = 0x0200_0199  // TPM2_ECC_Encrypt
        theirs[0x19A] = 0x0200_019A  // TPM2_ECC_Decrypt
        for a in list.items {
            XCTAssertEqual(a.rawValue, theirs[a.commandIndex], "TPMA_CC of 0x\(String(a.commandIndex, radix: 16))")
        }
    }

    func testCommandsFromAPropertyAndBeyondTheLast() {
        let tpm = startedTPM()
        // From TPM2_PolicyTemplate (0x190) with room for two: it and TPM2_CreateLoaded, YES
        // (TPM2_EncryptDecrypt2 follows); from 0x197 (TPM2_CertifyX509) with room for two: it and
        // TPM2_ECC_Encrypt, YES; from 0x199, TPM2_ECC_Encrypt and TPM2_ECC_Decrypt, the last: NO.
        XCTAssertEqual(getCap(tpm, 2, 0x190, 2), wire("8001 0000001B 00000000 01 00000002 00000002 02000190 12000191"))
        XCTAssertEqual(getCap(tpm, 2, 0x197, 2), wire("8001 0000001B 00000000 01 00000002 00000002 04000197 02000199"))
        XCTAssertEqual(getCap(tpm, 2, 0x199, 2), wire("8001 0000001B 00000000 00 00000002 00000002 02000199 0200019A"))
        // Beyond the last library command, and vendor command codes (none implemented): empty,
        // NO (swtpm answers the same bytes for 0x10000 and 0x20000000).
        XCTAssertEqual(getCap(tpm, 2, 0x10000, 5), wire("8001 00000013 00000000 00 00000002 00000000"))
        XCTAssertEqual(getCap(tpm, 2, 0x2000_0000, 5), wire("8001 00000013 00000000 00 00000002 00000000"))
        // Count zero: nothing, and YES since commands remain (swtpm: same bytes).
        XCTAssertEqual(getCap(tpm, 2, 0, 0), wire("8001 00000013 00000000 01 00000002 00000000"))
    }

    // MARK: TPM_CAP_ALGS

    /// swtpm's TPM_CAP_ALGS list: (TPM_ALG_ID, TPMA_ALGORITHM) pairs.
    static let swtpmAlgs = wire(
        "00010000000900030000000200040000000400050000010400060000000200070000040400080000030c000a00000006000b00000004000c00000004"
            + "000d00000004001400000101001500000201001600000101001700000201001800000101001900000401001a00000101001b00000501001c00000101"
            + "001d00000401002000000404002100000404002200000404002300000009002500000008002600000002003f00000102004000000202004100000202"
            + "004200000202004300000202004400000202")

    /// Our list is the algorithm table; every algorithm we list carries the attributes libtpms
    /// reports for it, and the list is libtpms's minus what we do not implement.
    func testAlgorithmsAreTheTableWithLibtpmsAttributes() {
        let tpm = startedTPM()
        guard let (more, data) = decoded(getCap(tpm, 0, 0, 1000)), case .algorithms(let list) = data else { return XCTFail() }
        XCTAssertFalse(more)
        var theirs: [(UInt16, UInt32)] = []
        for i in stride(from: 0, to: Self.swtpmAlgs.count, by: 6) {
            theirs.append((UInt16(Self.swtpmAlgs[i]) << 8 | UInt16(Self.swtpmAlgs[i + 1]), u32(Self.swtpmAlgs, i + 2)))
        }
        let notOurs: Set<UInt16> = [0x0003, 0x001B, 0x0026, 0x003F]  // TDES SM2 Camellia CMAC
        let expected = theirs.filter { !notOurs.contains($0.0) }
        XCTAssertEqual(list.items.map(\.alg.rawValue), expected.map(\.0))
        XCTAssertEqual(list.items.map(\.algProperties.rawValue), expected.map(\.1))
        XCTAssertEqual(list.items.map(\.alg), TPM.algorithms.map(\.alg))
    }

    /// One table: ascending and unique, its hashes exactly the codec's TPMI_ALG_HASH set, its
    /// key sizes and curves exactly what TestParms accepts.
    func testAlgorithmTableIsConsistent() {
        let ids = TPM.algorithms.map(\.alg)
        XCTAssertEqual(ids, ids.sorted())
        XCTAssertEqual(Set(ids).count, ids.count)
        XCTAssertEqual(TPM.algorithms.filter { $0.attributes == [.hash] }.map(\.alg), TPMLimits.hashAlgorithms)
        XCTAssertEqual(TPM.algorithmSupport.algorithms, Set(ids))
        XCTAssertEqual(TPM.algorithmSupport.rsaKeyBits, [1024, 2048, 3072, 4096])
        XCTAssertEqual(TPM.algorithmSupport.aesKeyBits, [128, 192, 256])
        XCTAssertEqual(TPM.eccCurves, [.nistP256, .nistP384, .nistP521, .bnP256])
        XCTAssertEqual(TPM.testableAlgorithms, [.sha1, .hmac, .sha256, .sha384, .sha512, .kdf1SP800_108])
    }

    func testAlgorithmBoundaries() {
        let tpm = startedTPM()
        // The last algorithm, ECB: one entry, NO (swtpm: same bytes).
        XCTAssertEqual(getCap(tpm, 0, 0x44, 1), wire("8001 00000019 00000000 00 00000000 00000001 0044 00000202"))
        // Past it: empty, NO; count zero: empty, YES (swtpm: same bytes).
        XCTAssertEqual(getCap(tpm, 0, 0x45, 1), wire("8001 00000013 00000000 00 00000000 00000000"))
        XCTAssertEqual(getCap(tpm, 0, 0, 0), wire("8001 00000013 00000000 01 00000000 00000000"))
        // A property above any TPM_ALG_ID: nothing is higher, so empty and NO. (libtpms
        // truncates the property to 16 bits and restarts from RSA; see docs/deviations.md.)
        XCTAssertEqual(getCap(tpm, 0, 0x10001, 1), wire("8001 00000013 00000000 00 00000000 00000000"))
    }

    /// Walking every list one entry at a time (property = last + 1) gives back the full list,
    /// with moreData YES until the last entry.
    func testCountOneWalkReproducesEachList() {
        let tpm = startedTPM()
        func walk(_ cap: UInt32, start: UInt32, key: (TPMUCapabilities) -> UInt32?) -> (keys: [UInt32], mores: [Bool]) {
            var keys: [UInt32] = []
            var mores: [Bool] = []
            var p = start
            while let (more, data) = decoded(getCap(tpm, cap, p, 1)), let k = key(data) {
                keys.append(k)
                mores.append(more)
                p = k + 1
                if keys.count > 300 { break }
            }
            return (keys, mores)
        }
        let algs = walk(0, start: 0) {
            if case .algorithms(let l) = $0 { return l.items.first.map { UInt32($0.alg.rawValue) } }
            return nil
        }
        XCTAssertEqual(algs.keys, TPM.algorithms.map { UInt32($0.alg.rawValue) })
        XCTAssertEqual(algs.mores, Array(repeating: true, count: algs.keys.count - 1) + [false])

        let ccs = walk(2, start: 0) {
            if case .command(let l) = $0 { return l.items.first.map { UInt32($0.commandIndex) } }
            return nil
        }
        XCTAssertEqual(ccs.keys, TPM.commandTable.map(\.code.rawValue))
        XCTAssertEqual(ccs.mores.filter { !$0 }.count, 1)

        let pcrProps = walk(7, start: 0) {
            if case .pcrProperties(let l) = $0 { return l.items.first?.tag.rawValue }
            return nil
        }
        XCTAssertEqual(pcrProps.keys, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0x11, 0x12, 0x13, 0x14])
        XCTAssertEqual(pcrProps.mores.last, false)

        let fixed = walk(6, start: 0x100) {
            if case .tpmProperties(let l) = $0 { return l.items.first?.property.rawValue }
            return nil
        }
        XCTAssertEqual(fixed.keys.first, 0x100)
        XCTAssertEqual(fixed.keys.last, 0x12E)
        XCTAssertEqual(fixed.mores.last, false)

        let pcrHandles = walk(1, start: 0) {
            if case .handles(let l) = $0 { return l.items.first?.rawValue }
            return nil
        }
        XCTAssertEqual(pcrHandles.keys, Array(0..<24))
    }

    // MARK: handles

    func testHandles() {
        let tpm = startedTPM()
        // swtpm: the same bytes for PCR and permanent handles.
        XCTAssertEqual(
            getCap(tpm, 1, 0, 100),
            wire("8001 00000073 00000000 00 00000001 00000018") + (0..<24).flatMap { [0, 0, 0, UInt8($0)] })
        XCTAssertEqual(getCap(tpm, 1, 22, 1), wire("8001 00000017 00000000 01 00000001 00000001 00000016"))
        XCTAssertEqual(getCap(tpm, 1, 0x00FF_FFFF, 1), wire("8001 00000013 00000000 00 00000001 00000000"))
        XCTAssertEqual(
            getCap(tpm, 1, 0x4000_0000, 100),
            wire("8001 0000002f 00000000 00 00000001 00000007 40000001 40000007 40000009 4000000a 4000000b 4000000c 4000000d"))
        // NV Indices, loaded and saved sessions, persistent and transient objects: none here.
        for p: UInt32 in [0x0100_0000, 0x0200_0000, 0x0300_0000, 0x8100_0000, 0x8000_0000] {
            XCTAssertEqual(getCap(tpm, 1, p, 10), wire("8001 00000013 00000000 00 00000001 00000000"))
        }
        // A handle type without handles (attached component, an undefined type): TPM_RC_HANDLE + P2.
        XCTAssertEqual(responseCode(getCap(tpm, 1, 0x9000_0000, 10)), 0x2CB)
        XCTAssertEqual(responseCode(getCap(tpm, 1, 0x4100_0000, 10)), 0x2CB)
    }

    func testTransientHandlesAndAvailabilityFollowLoadedObjects() {
        let tpm = startedTPM()
        let seq = TransientObject.sequence(SequenceObject(kind: .hash(ExportableHasher(.sha256)), authValue: []))
        tpm.volatile.objects[0x8000_0002] = seq
        tpm.volatile.objects[0x8000_0000] = seq
        XCTAssertEqual(getCap(tpm, 1, 0x8000_0000, 1), wire("8001 00000017 00000000 01 00000001 00000001 80000000"))
        XCTAssertEqual(getCap(tpm, 1, 0x8000_0001, 5), wire("8001 00000017 00000000 00 00000001 00000001 80000002"))
        // TPM_PT_HR_TRANSIENT_AVAIL: three slots, two used.
        XCTAssertEqual(getCap(tpm, 6, 0x207, 1), wire("8001 0000001b 00000000 01 00000006 00000001 00000207 00000001"))
    }

    // MARK: PCRs

    /// swtpm allocates all four banks; the same allocation here gives the same bytes.
    func testPCRAllocation() {
        let full = TPM(environment: testEnvironment(), pcrBanks: [.sha1, .sha256, .sha384, .sha512])
        full.powerOn()
        XCTAssertEqual(responseCode(full.execute(command: command(.startup, [0, 0]))), 0)
        XCTAssertEqual(
            getCap(full, 5, 0, 100),
            wire("8001 0000002b 00000000 00 00000005 00000004 0004 03 ffffff 000b 03 ffffff 000c 03 ffffff 000d 03 ffffff"))
        // The default TPM: SHA-1 and SHA-256 allocated, the other implemented banks empty.
        let tpm = startedTPM()
        XCTAssertEqual(
            getCap(tpm, 5, 0, 1),
            wire("8001 0000002b 00000000 00 00000005 00000004 0004 03 ffffff 000b 03 ffffff 000c 03 000000 000d 03 000000"))
        // Count zero: nothing and YES; a non-zero property: TPM_RC_VALUE + P2 (swtpm: same).
        XCTAssertEqual(getCap(tpm, 5, 0, 0), wire("8001 00000013 00000000 01 00000005 00000000"))
        XCTAssertEqual(responseCode(getCap(tpm, 5, 1, 1)), 0x2C4)
    }

    /// The current allocation, not the one PCR_Allocate set for the next TPM Reset.
    func testPCRAllocationIsTheCurrentOne() {
        let tpm = startedTPM()
        var p = TPMWriter()
        TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: Array(0..<24))]).encode(to: &p)
        let r = tpm.execute(command: command(.pcrAllocate, tag: .sessions, withPassword(handles: [.platform], params: p.bytes)))
        XCTAssertEqual(responseCode(r), 0)
        XCTAssertEqual(
            getCap(tpm, 5, 0, 1),
            wire("8001 0000002b 00000000 00 00000005 00000004 0004 03 ffffff 000b 03 ffffff 000c 03 000000 000d 03 000000"))
    }

    /// swtpm's TPM_CAP_PCR_PROPERTIES response, byte for byte (our table was taken from it).
    func testPCRPropertiesEqualLibtpms() {
        let tpm = startedTPM()
        XCTAssertEqual(
            getCap(tpm, 7, 0, 100),
            wire(
                "80010000008b0000000000000000070000000f0000000003ffff000000000103ffff8100000002030000810000000303ffff91"
                    + "00000004030000810000000503ffffff00000006030000f10000000703ffff9f00000008030000810000000903ffff87"
                    + "0000000a0300007e00000011030000e1000000120300007e00000013030000700000001403000070"))
        // Paging through the gap between RESET_L4 and NO_INCREMENT, and past the last (swtpm: same).
        XCTAssertEqual(getCap(tpm, 7, 0x0B, 1), wire("80010000001b0000000001000000070000000100000011030000e1"))
        XCTAssertEqual(getCap(tpm, 7, 0x14, 1), wire("80010000001b000000000000000007000000010000001403000070"))
        XCTAssertEqual(getCap(tpm, 7, 0x15, 1), wire("80010000001300000000000000000700000000"))
    }

    // MARK: TPM properties

    private func properties(_ tpm: TPM, _ group: UInt32) -> [UInt32: UInt32] {
        guard let (_, data) = decoded(getCap(tpm, 6, group, 1000)), case .tpmProperties(let l) = data else { return [:] }
        return Dictionary(uniqueKeysWithValues: l.items.map { ($0.property.rawValue, $0.value) })
    }

    func testFixedProperties() {
        let tpm = startedTPM()
        let p = properties(tpm, 0x100)
        XCTAssertEqual(p[0x100], 0x322E_3000)  // "2.0"
        XCTAssertEqual(p[0x101], 0)
        XCTAssertEqual(p[0x102], 159)
        XCTAssertEqual(p[0x103], 312)  // November 8
        XCTAssertEqual(p[0x104], 2019)
        XCTAssertEqual(p[0x105], UInt32(bigEndianASCII: "VTPM"))
        XCTAssertNotEqual(p[0x105], UInt32(bigEndianASCII: "IBM\0"))
        XCTAssertEqual(p[0x106], UInt32(bigEndianASCII: "vtpm"))
        XCTAssertEqual(p[0x10D], 1024)  // TPM2B_MAX_BUFFER
        XCTAssertEqual(p[0x112], 24)
        XCTAssertEqual(p[0x113], 3)
        XCTAssertEqual(p[0x11A], 0x000D)  // SHA-512 context integrity, as libtpms
        XCTAssertEqual(p[0x11E], 4096)
        XCTAssertEqual(p[0x11F], 4096)
        XCTAssertEqual(p[0x120], 64)
        XCTAssertEqual(p[0x123], 1)  // TPM_PS_PC
        XCTAssertEqual(p[0x129], UInt32(TPM.commandTable.count))
        XCTAssertEqual(p[0x12A], UInt32(TPM.commandTable.count))
        XCTAssertEqual(p[0x12B], 0)
        XCTAssertEqual(p[0x12E], 1024)
        XCTAssertNil(p[0x115])  // not a property
        XCTAssertTrue(p.keys.allSatisfy { (0x100..<0x200).contains($0) })
    }

    func testVariablePropertiesFollowState() {
        let tpm = startedTPM()
        var p = properties(tpm, 0x200)
        XCTAssertEqual(p[0x200], 0x400)  // tpmGeneratedEPS only, as swtpm after manufacture
        XCTAssertEqual(p[0x201], 0x8000_000F)  // all enables and orderly, as swtpm after manufacture
        XCTAssertEqual(p[0x207], 3)
        XCTAssertEqual(p[0x20D], 4)  // four curves
        XCTAssertTrue(p.keys.allSatisfy { (0x200..<0x300).contains($0) })

        // Owner and lockout authorization set: ownerAuthSet and lockoutAuthSet.
        for h in [TPMHandle.owner, .lockout] {
            var w = TPMWriter()
            TPM2BAuth([1, 2, 3]).encode(to: &w)
            let r = tpm.execute(command: command(.hierarchyChangeAuth, tag: .sessions, withPassword(handles: [h], params: w.bytes)))
            XCTAssertEqual(responseCode(r), 0)
        }
        p = properties(tpm, 0x200)
        XCTAssertEqual(p[0x200], 0x400 | 0x1 | 0x4)

        // Shutdown(CLEAR) + Startup(CLEAR) leaves orderly set; after a power loss it is clear.
        tpm.powerOn()
        XCTAssertEqual(responseCode(tpm.execute(command: command(.startup, [0, 0]))), 0)
        XCTAssertEqual(properties(tpm, 0x200)[0x201], 0x0000_000F)
    }

    func testPropertyGroupsAndBoundaries() {
        let tpm = startedTPM()
        // Below PT_FIXED starts at PT_FIXED; the fixed group ends before PT_VAR (moreData NO
        // at its end even though variable properties exist); nothing at or above 0x300.
        XCTAssertEqual(getCap(tpm, 6, 0, 1), wire("8001 0000001b 00000000 01 00000006 00000001 00000100 322e3000"))
        XCTAssertEqual(getCap(tpm, 6, 0x12E, 2), wire("8001 0000001b 00000000 00 00000006 00000001 0000012e 00000400"))
        XCTAssertEqual(getCap(tpm, 6, 0x115, 1).prefix(23), wire("8001 0000001b 00000000 01 00000006 00000001 00000116")[...])
        XCTAssertEqual(getCap(tpm, 6, 0x2FF, 10), wire("8001 00000013 00000000 00 00000006 00000000"))
        XCTAssertEqual(getCap(tpm, 6, 0x300, 10), wire("8001 00000013 00000000 00 00000006 00000000"))
        XCTAssertEqual(getCap(tpm, 6, 0xFFFF_FFFF, 10), wire("8001 00000013 00000000 00 00000006 00000000"))
        XCTAssertEqual(getCap(tpm, 6, 0x100, 0), wire("8001 00000013 00000000 01 00000006 00000000"))
    }

    // MARK: the other capabilities

    func testPPAuditECCPoliciesAndACT() {
        let tpm = startedTPM()
        // No command needs physical presence (libtpms lists PP_Commands, which we do not
        // implement); SetCommandCodeAuditStatus is always audited (libtpms agrees).
        XCTAssertEqual(getCap(tpm, 3, 0, 100), wire("8001 00000013 00000000 00 00000003 00000000"))
        XCTAssertEqual(getCap(tpm, 4, 0, 100), wire("8001 00000017 00000000 00 00000004 00000001 00000140"))
        // ECC curves: the three NIST curves and BN-P256, in ascending order as swtpm lists its
        // curves (swtpm 0.7 / libtpms: 0001 0002 0003 0004 0005 0010 0011 0020).
        XCTAssertEqual(getCap(tpm, 8, 0, 100), wire("8001 0000001b 00000000 00 00000008 00000004 0003 0004 0005 0010"))
        XCTAssertEqual(getCap(tpm, 8, 4, 1), wire("8001 00000015 00000000 01 00000008 00000001 0004"))
        XCTAssertEqual(getCap(tpm, 8, 6, 1), wire("8001 00000015 00000000 00 00000008 00000001 0010"))
        XCTAssertEqual(getCap(tpm, 8, 0x11, 1), wire("8001 00000013 00000000 00 00000008 00000000"))
        // Authorization policies: the four hierarchies, no policy (swtpm: same bytes).
        XCTAssertEqual(
            getCap(tpm, 9, 0x4000_0000, 100),
            wire("8001 0000002b 00000000 00 00000009 00000004 40000001 0010 4000000a 0010 4000000b 0010 4000000c 0010"))
        XCTAssertEqual(getCap(tpm, 9, 0x4000_000B, 1), wire("800100000019000000000100000009000000014000000b0010"))
        XCTAssertEqual(getCap(tpm, 9, 0x4000_000C, 1), wire("800100000019000000000000000009000000014000000c0010"))
        XCTAssertEqual(responseCode(getCap(tpm, 9, 0x0100_0000, 1)), 0x2C4)
        // ACT: none implemented; a property outside ACT_0...ACT_F is TPM_RC_VALUE + P2.
        XCTAssertEqual(getCap(tpm, 10, 0x4000_011F, 1), wire("8001 00000013 00000000 00 0000000a 00000000"))
        XCTAssertEqual(responseCode(getCap(tpm, 10, 0x4000_010F, 1)), 0x2C4)
        XCTAssertEqual(responseCode(getCap(tpm, 10, 0x4000_0120, 1)), 0x2C4)
    }

    func testAuthPolicyReportsAPolicyThatIsSet() {
        let tpm = startedTPM()
        tpm.persistent.endorsement.policyAlg = .sha256
        tpm.persistent.endorsement.policy = [UInt8](repeating: 0xAB, count: 32)
        XCTAssertEqual(
            getCap(tpm, 9, 0x4000_000B, 1),
            wire("8001 00000039 00000000 01 00000009 00000001 4000000b 000b") + [UInt8](repeating: 0xAB, count: 32))
    }

    // MARK: errors

    func testBadCapabilityAndMalformedCommands() {
        let tpm = startedTPM()
        // An undefined TPM_CAP and TPM_CAP_VENDOR_PROPERTY: TPM_RC_VALUE + P1 (swtpm: same).
        for cap: UInt32 in [11, 0x100, 0xFFFF_FFFF] { XCTAssertEqual(responseCode(getCap(tpm, cap, 0, 1)), 0x1C4) }
        // The capability is checked as it is unmarshalled, before the missing parameters.
        XCTAssertEqual(responseCode(tpm.execute(command: command(.getCapability, [0, 0, 0, 11]))), 0x1C4)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.getCapability, [0, 0, 0, 6, 0, 0, 0, 0]))), 0x3DA)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.getCapability, [0, 0, 1, 0, 0, 0, 0, 0]))), 0x3DA)
        XCTAssertEqual(responseCode(getCap(tpm, 6, 0x100, 1, extra: [0])), 0x095)
    }

    /// The largest lists stay within MAX_CAP_BUFFER and the list bounds.
    func testHugeCountsAreCapped() {
        let tpm = startedTPM()
        for cap: UInt32 in 0...10 {
            let property: UInt32 = cap == 1 || cap == 9 ? 0x4000_0000 : cap == 10 ? 0x4000_0110 : 0
            let r = getCap(tpm, cap, property, 0xFFFF_FFFF)
            XCTAssertEqual(responseCode(r), 0, "cap \(cap)")
            XCTAssertLessThanOrEqual(r.count - 11, TPMLimits.maxCapBuffer)
        }
    }
}

extension UInt32 {
    init(bigEndianASCII s: String) {
        self = Array(s.utf8).prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
    }
}
