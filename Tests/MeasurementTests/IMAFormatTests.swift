import Crypto
import Foundation
import XCTest

@testable import Measurement

final class IMAFormatTests: XCTestCase {
    func sampleList() throws -> [IMAEntry] {
        var list = [try IMAEntry.bootAggregate(pcr: 10, bank: .sha256, aggregate: Array(SHA256.hash(data: [0])))]
        for i in 0..<20 {
            let digest = Array(SHA256.hash(data: Array("file \(i)".utf8)))
            list.append(try IMAEntry(pcr: 10, algorithm: "sha256", fileDigest: digest, path: "/usr/bin/prog\(i)"))
        }
        list.append(try IMAEntry(pcr: 9, algorithm: "sha1", fileDigest: Array(Insecure.SHA1.hash(data: [1])), path: "/low pcr"))
        list.append(try IMAEntry.violation(pcr: 10, path: "/tmp/violated"))
        list.append(try IMAEntry(pcr: 10, algorithm: "sha512", fileDigest: Array(SHA512.hash(data: [2])), path: "/sha512"))
        return list
    }

    /// The binary record laid out by hand (little-endian) matches the encoder.
    func testBinaryLayout() throws {
        let digest = Array(SHA256.hash(data: [9]))
        let e = try IMAEntry(pcr: 10, algorithm: "sha256", fileDigest: digest, path: "/bin/true")
        let data = referenceTemplateData(algo: "sha256", digest: digest, path: "/bin/true")
        let expected: [UInt8] =
            [10, 0, 0, 0] + Array(Insecure.SHA1.hash(data: data)) + [6, 0, 0, 0] + Array("ima-ng".utf8)
            + [UInt8(data.count), 0, 0, 0] + data
        XCTAssertEqual(IMABinaryFormat.encode(e), expected)
    }

    func testBinaryRoundTrip() throws {
        let list = try sampleList()
        let bytes = IMABinaryFormat.encode(list)
        XCTAssertEqual(try IMABinaryFormat.parse(bytes), list)
        XCTAssertEqual(try IMABinaryFormat.parse([]), [])
    }

    func testBinaryPrefixLeavesPartialRecord() throws {
        let list = try sampleList()
        let bytes = IMABinaryFormat.encode(list)
        let firstTwo = IMABinaryFormat.encode(list.prefix(2)).count
        let (entries, consumed) = try IMABinaryFormat.parsePrefix(Array(bytes.prefix(firstTwo + 10)))
        XCTAssertEqual(entries, Array(list.prefix(2)))
        XCTAssertEqual(consumed, firstTwo)
        XCTAssertThrowsError(try IMABinaryFormat.parse(Array(bytes.prefix(firstTwo + 10)))) {
            XCTAssertEqual($0 as? MeasurementError, .truncated(entry: 2))
        }
        XCTAssertThrowsError(try IMABinaryFormat.parse(bytes, maxEntries: 3)) {
            XCTAssertEqual($0 as? MeasurementError, .tooManyEntries(limit: 3))
        }
    }

    /// Every truncation of a one-entry list either yields nothing (prefix) or throws (whole).
    func testBinaryTruncationsNeverTrap() throws {
        let bytes = IMABinaryFormat.encode(try sampleList().prefix(1))
        for n in 0..<bytes.count {
            let cut = Array(bytes.prefix(n))
            XCTAssertEqual(try IMABinaryFormat.parsePrefix(cut).entries.count, 0)
            if n > 0 { XCTAssertThrowsError(try IMABinaryFormat.parse(cut)) }
        }
    }

    func testBinaryMalformed() throws {
        let one = IMABinaryFormat.encode(try sampleList().prefix(1))
        func mutated(_ at: Int, _ v: [UInt8]) -> [UInt8] {
            var b = one
            b.replaceSubrange(at..<at + v.count, with: v)
            return b
        }
        // PCR 24, name length 0 and 256, template "ima-ne", data length 8193 and 2^32-1.
        let cases: [[UInt8]] = [
            mutated(0, [24, 0, 0, 0]), mutated(24, [0, 0, 0, 0]), mutated(24, [0, 1, 0, 0]),
            mutated(28, Array("ima-ne".utf8)), mutated(34, [0x01, 0x20, 0, 0]), mutated(34, [0xFF, 0xFF, 0xFF, 0xFF]),
        ]
        for c in cases { XCTAssertThrowsError(try IMABinaryFormat.parse(c)) }
        // Random bytes: errors, never traps.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var b = one
            for _ in 0..<3 { b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            _ = try? IMABinaryFormat.parse(b)
            _ = try? IMABinaryFormat.parsePrefix(Array(b.prefix(Int.random(in: 0...b.count, using: &rng))))
        }
    }

    func testASCIIFormat() throws {
        let digest = Array(SHA256.hash(data: [9]))
        let e = try IMAEntry(pcr: 10, algorithm: "sha256", fileDigest: digest, path: "/bin/true")
        let data = referenceTemplateData(algo: "sha256", digest: digest, path: "/bin/true")
        let hash = Insecure.SHA1.hash(data: data).map { String(format: "%02x", $0) }.joined()
        let hex = digest.map { String(format: "%02x", $0) }.joined()
        XCTAssertEqual(String(decoding: IMAASCIIFormat.line(e), as: UTF8.self), "10 \(hash) ima-ng sha256:\(hex) /bin/true\n")
        let low = try IMAEntry(pcr: 9, algorithm: "sha256", fileDigest: digest, path: "/x")
        XCTAssertTrue(String(decoding: IMAASCIIFormat.line(low), as: UTF8.self).hasPrefix(" 9 "))
    }

    func testASCIIRoundTripMatchesBinary() throws {
        let list = try sampleList()
        let text = IMAASCIIFormat.encode(list)
        let parsed = try IMAASCIIFormat.parse(text)
        XCTAssertEqual(parsed, list)
        XCTAssertEqual(IMABinaryFormat.encode(parsed), IMABinaryFormat.encode(list))
    }

    func testASCIIMalformed() throws {
        let good = String(decoding: IMAASCIIFormat.line(try sampleList()[1]), as: UTF8.self)
        let parts = good.dropLast().split(separator: " ", maxSplits: 4).map(String.init)
        let bad = [
            good.dropLast() + "",  // no newline
            "\(parts[0]) \(parts[1]) \(parts[2]) \(parts[3])\n",  // no name
            "24 \(parts[1]) \(parts[2]) \(parts[3]) \(parts[4])\n",
            "1a \(parts[1]) \(parts[2]) \(parts[3]) \(parts[4])\n",
            "10 \(parts[1].dropLast()) \(parts[2]) \(parts[3]) \(parts[4])\n",
            "10 \(parts[1]) ima \(parts[3]) \(parts[4])\n",
            "10 \(parts[1]) \(parts[2]) sha256\(parts[3].dropFirst(7)) \(parts[4])\n",
            "10 \(parts[1]) \(parts[2]) \(parts[3])x \(parts[4])\n",
            "10 \(parts[1]) \(parts[2]) \(parts[3].dropLast(2)) \(parts[4])\n",
        ]
        for b in bad { XCTAssertThrowsError(try IMAASCIIFormat.parse(Array(b.utf8)), b) }
        XCTAssertNoThrow(try IMAASCIIFormat.parse(Array(good.utf8)))
    }
}
