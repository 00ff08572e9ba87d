import Crypto
import Foundation
import XCTest

@testable import Measurement

final class IMAReplayTests: XCTestCase {
    /// Replay computed here with swift-crypto directly over the template data.
    func independentReplay(_ list: [IMAEntry], pcr: UInt32) -> (sha1: [UInt8], sha256: [UInt8]) {
        var p1 = [UInt8](repeating: 0, count: 20)
        var p256 = [UInt8](repeating: 0, count: 32)
        for e in list where e.pcr == pcr {
            let v1 = e.isViolation ? [UInt8](repeating: 0xFF, count: 20) : Array(Insecure.SHA1.hash(data: e.templateData))
            let v256 = e.isViolation ? [UInt8](repeating: 0xFF, count: 32) : Array(SHA256.hash(data: e.templateData))
            p1 = Array(Insecure.SHA1.hash(data: p1 + v1))
            p256 = Array(SHA256.hash(data: p256 + v256))
        }
        return (p1, p256)
    }

    func list() throws -> [IMAEntry] {
        var l = [IMAEntry]()
        for i in 0..<10 {
            l.append(
                try IMAEntry(pcr: i == 4 ? 11 : 10, algorithm: "sha256", fileDigest: Array(SHA256.hash(data: [UInt8(i)])), path: "/p\(i)"))
        }
        l.append(try IMAEntry.violation(pcr: 10, path: "/v"))
        return l
    }

    func testReplayMatchesIndependentComputation() throws {
        let l = try list()
        let s = try IMAReplayState.replay(l, banks: [.sha1, .sha256, .sha384])
        for pcr: UInt32 in [10, 11] {
            let (p1, p256) = independentReplay(l, pcr: pcr)
            XCTAssertEqual(s.value(bank: .sha1, pcr: pcr), p1)
            XCTAssertEqual(s.value(bank: .sha256, pcr: pcr), p256)
        }
        XCTAssertEqual(s.value(bank: .sha256, pcr: 12), [UInt8](repeating: 0, count: 32))
        XCTAssertEqual(s.entryCount, l.count)
        XCTAssertEqual(s.extendedPCRs, [10, 11])
    }

    func testIncrementalEqualsWhole() throws {
        let l = try list()
        var s = IMAReplayState(banks: [.sha1, .sha256])
        try s.apply(l.prefix(3))
        // Saved and loaded between rounds.
        let saved = try JSONEncoder().encode(s)
        var loaded = try JSONDecoder().decode(IMAReplayState.self, from: saved)
        XCTAssertEqual(loaded, s)
        try loaded.apply(l.dropFirst(3))
        XCTAssertEqual(loaded, try IMAReplayState.replay(l, banks: [.sha1, .sha256]))
    }

    func testEditedEntryIsRefusedAndStateUnchanged() throws {
        var l = try list()
        let original = l[5]
        // Same SHA-1 template hash, other data: the edit a forger would try.
        l[5] = try IMAEntry(
            pcr: 10, templateHash: original.templateHash, templateName: "ima-ng",
            templateData: referenceTemplateData(algo: "sha256", digest: Array(SHA256.hash(data: [99])), path: "/p5"))
        var s = IMAReplayState(banks: [.sha256])
        XCTAssertThrowsError(try s.apply(l)) { XCTAssertEqual($0 as? MeasurementError, .templateHashMismatch(entry: 5)) }
        XCTAssertEqual(s.entryCount, 0)
    }

    func testBadSavedStates() throws {
        let bad = [
            #"{"banks":["sha256"],"entryCount":1,"pcrs":{"sha1":{"10":"00"}}}"#,
            #"{"banks":["sha256"],"entryCount":1,"pcrs":{"sha256":{"24":"\#(String(repeating: "00", count: 32))"}}}"#,
            #"{"banks":["sha256"],"entryCount":1,"pcrs":{"sha256":{"10":"0011"}}}"#,
            #"{"banks":["md4"],"entryCount":1,"pcrs":{}}"#,
            #"{"banks":["sha256"],"entryCount":-1,"pcrs":{}}"#,
        ]
        for b in bad { XCTAssertThrowsError(try JSONDecoder().decode(IMAReplayState.self, from: Data(b.utf8)), b) }
    }
}
