import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Timestamps of the audit log and the guest files: exactly what ISO8601DateFormatter with
/// [.withInternetDateTime, .withFractionalSeconds] writes ("2026-11-27T20:53:00.123Z"), without
/// building a formatter per call (one per record was a fifth of a round's CPU).
///
/// The formatter rounds the date to the nearest millisecond of its time since 1970, halves up
/// (floor(t * 1000 + 0.5)), then prints the proleptic UTC fields; gmtime_r gives the same fields
/// for Gregorian years. Years before 1600 (where the formatter switches to the Julian calendar)
/// and after 9999 (more than four digits) take the formatter itself; ISOTimeTests compares both.
func isoTime(_ d: Date) -> String {
    let ms = (d.timeIntervalSince1970 * 1000 + 0.5).rounded(.down)
    // ±1e14 ms is about ±3000 years around 1970: the fast path's whole range, exact in Int64.
    guard ms.isFinite, abs(ms) < 1e14 else { return ISOTimeFallback.shared.string(d) }
    let total = Int64(ms)
    var seconds = total / 1000
    var milli = Int(total % 1000)
    if milli < 0 {
        milli += 1000
        seconds -= 1
    }
    var t = time_t(seconds)
    var fields = tm()
    guard gmtime_r(&t, &fields) != nil else { return ISOTimeFallback.shared.string(d) }
    let year = Int(fields.tm_year) + 1900
    guard year >= 1600, year <= 9999 else { return ISOTimeFallback.shared.string(d) }
    var out = [UInt8](repeating: 0, count: 24)
    func put(_ v: Int, at i: Int, digits n: Int) {
        var v = v
        for k in stride(from: i + n - 1, through: i, by: -1) {
            out[k] = UInt8(0x30 + v % 10)
            v /= 10
        }
    }
    put(year, at: 0, digits: 4)
    out[4] = 0x2D  // -
    put(Int(fields.tm_mon) + 1, at: 5, digits: 2)
    out[7] = 0x2D
    put(Int(fields.tm_mday), at: 8, digits: 2)
    out[10] = 0x54  // T
    put(Int(fields.tm_hour), at: 11, digits: 2)
    out[13] = 0x3A  // :
    put(Int(fields.tm_min), at: 14, digits: 2)
    out[16] = 0x3A
    put(Int(fields.tm_sec), at: 17, digits: 2)
    out[19] = 0x2E  // .
    put(milli, at: 20, digits: 3)
    out[23] = 0x5A  // Z
    return String(decoding: out, as: UTF8.self)
}

/// Parses what isoTime writes (and the same without fractional seconds).
func parseTime(_ s: String) -> Date? { ISOTimeFallback.shared.parse(s) }

/// One formatter pair, built once, used under a lock (ISO8601DateFormatter is a class with
/// mutable options; sharing it between the daemon's threads unguarded is not promised safe).
private final class ISOTimeFallback: @unchecked Sendable {
    static let shared = ISOTimeFallback()
    private let lock = NSLock()
    private let fractional: ISO8601DateFormatter
    private let whole: ISO8601DateFormatter

    private init() {
        fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        whole = ISO8601DateFormatter()
        whole.formatOptions = [.withInternetDateTime]
    }

    func string(_ d: Date) -> String { lock.withLock { fractional.string(from: d) } }

    func parse(_ s: String) -> Date? { lock.withLock { fractional.date(from: s) ?? whole.date(from: s) } }
}
