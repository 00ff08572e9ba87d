import Crypto
import Foundation
import XCTest

@testable import Measurement

/// Template data as the kernel lays it out, built here byte by byte (independently of
/// IMAEntry): u32le len + "sha256:\0" + digest, u32le len + path + NUL.
func referenceTemplateData(algo: String, digest: [UInt8], path: String) -> [UInt8] {
    func le(_ n: Int) -> [UInt8] { [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24 & 0xFF)] }
    let d = Array(algo.utf8) + [0x3A, 0] + digest
    let n = Array(path.utf8) + [0]
    return le(d.count) + d + le(n.count) + n
}

final class IMAEntryTests: XCTestCase {
    let fileDigest = Array(SHA256.hash(data: Array("hello\n".utf8)))

    func testTemplateDataAndHashes() throws {
        let e = try IMAEntry(pcr: 10, algorithm: "sha256", fileDigest: fileDigest, path: "/usr/bin/hello")
        let ref = referenceTemplateData(algo: "sha256", digest: fileDigest, path: "/usr/bin/hello")
        XCTAssertEqual(e.templateData, ref)
        XCTAssertEqual(e.templateHash, Array(Insecure.SHA1.hash(data: ref)))
        XCTAssertEqual(e.templateDigest(.sha1), Array(Insecure.SHA1.hash(data: ref)))
        XCTAssertEqual(e.templateDigest(.sha256), Array(SHA256.hash(data: ref)))
        XCTAssertEqual(e.templateDigest(.sha384), Array(SHA384.hash(data: ref)))
        XCTAssertEqual(e.extendValue(.sha512), Array(SHA512.hash(data: ref)))
        XCTAssertEqual(e.path, "/usr/bin/hello")
        XCTAssertFalse(e.isViolation)
        XCTAssertTrue(e.templateHashIsConsistent)
    }

    /// A known template: the kernel's boot_aggregate entry on a machine with zero PCRs 0-9
    /// (sha256 of 320 zero bytes), whose SHA-1 template hash is pinned by computing it from
    /// the kernel's layout here.
    func testBootAggregateEntry() throws {
        let zeros = Dictionary(uniqueKeysWithValues: (0...9).map { ($0, [UInt8](repeating: 0, count: 32)) })
        let agg = try BootAggregate.compute(bank: .sha256, pcrs: zeros)
        XCTAssertEqual(agg, Array(SHA256.hash(data: [UInt8](repeating: 0, count: 320))))
        let sha1Zeros = Dictionary(uniqueKeysWithValues: (0...7).map { ($0, [UInt8](repeating: 0, count: 20)) })
        XCTAssertEqual(
            try BootAggregate.compute(bank: .sha1, pcrs: sha1Zeros), Array(Insecure.SHA1.hash(data: [UInt8](repeating: 0, count: 160))))
        XCTAssertThrowsError(try BootAggregate.compute(bank: .sha256, pcrs: sha1Zeros))
        let e = try IMAEntry.bootAggregate(pcr: 10, bank: .sha256, aggregate: agg)
        XCTAssertEqual(e.templateData, referenceTemplateData(algo: "sha256", digest: agg, path: "boot_aggregate"))
    }

    func testSpacesBecomeUnderscores() throws {
        let e = try IMAEntry(pcr: 10, algorithm: "sha256", fileDigest: fileDigest, path: "/tmp/a b c")
        XCTAssertEqual(e.path, "/tmp/a_b_c")
        XCTAssertEqual(e.templateData, referenceTemplateData(algo: "sha256", digest: fileDigest, path: "/tmp/a_b_c"))
    }

    func testViolation() throws {
        let v = try IMAEntry.violation(pcr: 10, path: "/tmp/lost")
        XCTAssertTrue(v.isViolation)
        XCTAssertEqual(v.templateHash, [UInt8](repeating: 0, count: 20))
        XCTAssertEqual(v.fileDigest, [UInt8](repeating: 0, count: 32))
        XCTAssertEqual(v.extendValue(.sha256), [UInt8](repeating: 0xFF, count: 32))
        XCTAssertEqual(v.extendValue(.sha1), [UInt8](repeating: 0xFF, count: 20))
        XCTAssertEqual(v.templateDigest(.sha384), [UInt8](repeating: 0, count: 48))
    }

    func testConstructorRefusals() {
        XCTAssertThrowsError(try IMAEntry(pcr: 24, algorithm: "sha256", fileDigest: fileDigest, path: "/x"))
        XCTAssertThrowsError(try IMAEntry(pcr: 10, algorithm: "sha257", fileDigest: fileDigest, path: "/x"))
        XCTAssertThrowsError(try IMAEntry(pcr: 10, algorithm: "sha1", fileDigest: fileDigest, path: "/x"))
        XCTAssertThrowsError(try IMAEntry(pcr: 10, algorithm: "sha256", fileDigest: fileDigest, pathBytes: [0x2F, 0, 0x41]))
        XCTAssertThrowsError(try IMAEntry(pcr: 10, algorithm: "sha256", fileDigest: fileDigest, path: String(repeating: "a", count: 4096)))
    }

    func testTemplateDataRefusals() {
        let good = referenceTemplateData(algo: "sha256", digest: fileDigest, path: "/x")
        let hash = Array(Insecure.SHA1.hash(data: good))
        XCTAssertNoThrow(try IMAEntry(pcr: 10, templateHash: hash, templateName: "ima-ng", templateData: good))
        // Wrong template name, short hash, PCR out of range.
        XCTAssertThrowsError(try IMAEntry(pcr: 10, templateHash: hash, templateName: "ima", templateData: good))
        XCTAssertThrowsError(try IMAEntry(pcr: 10, templateHash: Array(hash.prefix(19)), templateName: "ima-ng", templateData: good))
        XCTAssertThrowsError(try IMAEntry(pcr: 99, templateHash: hash, templateName: "ima-ng", templateData: good))
        // Every truncation and a trailing byte.
        for n in 0..<good.count {
            XCTAssertThrowsError(try IMAEntry(pcr: 10, templateHash: hash, templateName: "ima-ng", templateData: Array(good.prefix(n))))
        }
        XCTAssertThrowsError(try IMAEntry(pcr: 10, templateHash: hash, templateName: "ima-ng", templateData: good + [0]))
        // d-ng without the NUL after ':', unknown algorithm, wrong digest size.
        XCTAssertThrowsError(
            try IMAEntry(
                pcr: 10, templateHash: hash, templateName: "ima-ng",
                templateData: referenceTemplateData(algo: "sha1", digest: fileDigest, path: "/x")))
        XCTAssertThrowsError(
            try IMAEntry(
                pcr: 10, templateHash: hash, templateName: "ima-ng",
                templateData: referenceTemplateData(algo: "foo", digest: fileDigest, path: "/x")))
        var noNul = good
        noNul[4 + 6] = 0x41  // the byte after "sha256:" must be NUL
        XCTAssertThrowsError(try IMAEntry(pcr: 10, templateHash: hash, templateName: "ima-ng", templateData: noNul))
        var unterminated = good
        unterminated[unterminated.count - 1] = 0x41
        XCTAssertThrowsError(try IMAEntry(pcr: 10, templateHash: hash, templateName: "ima-ng", templateData: unterminated))
        // A huge length never allocates: it is checked against what is there.
        var huge = good
        huge[0] = 0xFF
        huge[1] = 0xFF
        huge[2] = 0xFF
        huge[3] = 0x7F
        XCTAssertThrowsError(try IMAEntry(pcr: 10, templateHash: hash, templateName: "ima-ng", templateData: huge))
    }

    func testInconsistentTemplateHash() throws {
        let good = referenceTemplateData(algo: "sha256", digest: fileDigest, path: "/x")
        var hash = Array(Insecure.SHA1.hash(data: good))
        hash[0] ^= 1
        let e = try IMAEntry(pcr: 10, templateHash: hash, templateName: "ima-ng", templateData: good)
        XCTAssertFalse(e.templateHashIsConsistent)
    }
}
