import Foundation
import XCTest

@testable import vtpm_verifier

/// isoTime must write exactly what ISO8601DateFormatter writes: the audit log's bodies are hashed
/// and signed, and tools parse the timestamps.
final class ISOTimeTests: XCTestCase {
    let formatter: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()

    func check(_ t: Double, file: StaticString = #filePath, line: UInt = #line) {
        let d = Date(timeIntervalSince1970: t)
        XCTAssertEqual(isoTime(d), formatter.string(from: d), "t = \(t)", file: file, line: line)
    }

    func testKnownValues() {
        XCTAssertEqual(isoTime(Date(timeIntervalSince1970: 0)), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(isoTime(Date(timeIntervalSince1970: 1_795_800_000.123_4)), "2026-11-27T17:20:00.123Z")
        XCTAssertEqual(isoTime(Date(timeIntervalSince1970: 1_795_800_000.999_9)), "2026-11-27T17:20:01.000Z")
        XCTAssertEqual(isoTime(Date(timeIntervalSince1970: -0.001)), "1969-12-31T23:59:59.999Z")
        XCTAssertEqual(isoTime(Date(timeIntervalSince1970: 951_782_400)), "2000-02-29T00:00:00.000Z")
    }

    func testMillisecondEdgesAndYearsAgainstTheFormatter() {
        var rng = SystemRandomNumberGenerator()
        // Halfway and near-halfway milliseconds, where rounding decides the digits (and the second).
        for i in 0..<20_000 {
            let ms = Double(Int64.random(in: 1_600_000_000_000...1_900_000_000_000, using: &rng))
            let offset = [0.5, 0.499_999, 0.500_001, 0.999_9, 0.0, -0.5][i % 6]
            check((ms + offset) / 1000)
        }
        // Whole range of years: 1600-9999 take the fast path, earlier and later the formatter.
        for _ in 0..<20_000 { check(Double.random(in: -14e9...253_402_300_799.999, using: &rng)) }
        for _ in 0..<2_000 { check(Double.random(in: -70e9...400e9, using: &rng)) }
        // Second, minute, day, month, year and leap-day boundaries, before and after 1970.
        for base in [-1.0, 0, 946_684_800, 951_868_800, 1_798_761_600, 4_107_542_400, -11_676_096_000, 253_402_300_799] {
            for d in [-0.001, -0.000_5, -0.000_4, 0, 0.000_4, 0.000_5, 0.000_6, 0.999, 0.999_5, 0.999_4] { check(base + d) }
        }
    }

    func testParseTimeReadsBothForms() {
        XCTAssertEqual(parseTime("2026-11-27T17:20:00.123Z")?.timeIntervalSince1970 ?? 0, 1_795_800_000.123, accuracy: 0.000_5)
        XCTAssertEqual(parseTime("2026-11-27T17:20:00Z")?.timeIntervalSince1970, 1_795_800_000)
        XCTAssertNil(parseTime("yesterday"))
    }

    func testHexOf() {
        XCTAssertEqual(hexOf([0x00, 0x0F, 0xA5, 0xFF]), "000fa5ff")
        XCTAssertEqual(hexOf([]), "")
    }
}
