import Foundation

/// The ASCII measurement list (securityfs ascii_runtime_measurements), one line per entry
/// (security/integrity/ima/ima_fs.c, ima_ascii_measurements_show):
///
///     "%2d" pcr, ' ', SHA-1 template hash in hex, ' ', template name, then per field ' '
///     and the field: d-ng as "<algo>:<hex digest>", n-ng as the name (without its NUL)
///
/// The ASCII form carries the same information as the binary one for ima-ng, so a list
/// parsed from either rebuilds byte-identical template data.
public enum IMAASCIIFormat {
    public static func line(_ e: IMAEntry) -> [UInt8] {
        var s = e.pcr < 10 ? " \(e.pcr) " : "\(e.pcr) "
        s += hexString(e.templateHash) + " " + e.templateName + " "
        s += e.digestAlgorithm + ":" + hexString(e.fileDigest) + " "
        return Array(s.utf8) + e.pathBytes + [0x0A]
    }

    public static func encode<S: Sequence>(_ entries: S) -> [UInt8] where S.Element == IMAEntry {
        var out = [UInt8]()
        for e in entries { out += line(e) }
        return out
    }

    /// Parses a whole ASCII list (every line ends with '\n'). Paths are raw bytes up to the
    /// end of the line, so a name containing a newline cannot be represented (as in IMA's
    /// own ASCII list).
    public static func parse(_ bytes: [UInt8], maxEntries: Int = Int.max) throws -> [IMAEntry] {
        var entries = [IMAEntry]()
        try forEach(bytes, maxEntries: maxEntries) { entries.append($0) }
        return entries
    }

    /// Parses the list line by line, handing each entry to `body` as soon as it is parsed (a
    /// verifier can replay and judge without holding the whole list as entries).
    public static func forEach(_ bytes: [UInt8], maxEntries: Int = Int.max, _ body: (IMAEntry) throws -> Void) throws {
        var start = 0
        var count = 0
        let end = bytes.count
        while start < end {
            guard count < maxEntries else { throw MeasurementError.tooManyEntries(limit: maxEntries) }
            // memchr: the line end found at memory speed.
            let nl: Int? = bytes.withUnsafeBytes { p in
                guard let hit = memchr(p.baseAddress! + start, 0x0A, end - start) else { return nil }
                return UnsafeRawPointer(hit) - p.baseAddress!
            }
            guard let nl else { throw MeasurementError.badLine(line: count + 1, reason: "no line end") }
            guard nl - start <= 64 + IMALimits.maxTemplateDataSize else {
                throw MeasurementError.badLine(line: count + 1, reason: "line too long")
            }
            try body(try parseLine(bytes[start..<nl], line: count + 1, index: count))
            count += 1
            start = nl + 1
        }
    }

    private static let imaNG: [UInt8] = Array(IMAEntry.templateName.utf8)

    static func parseLine(_ l: ArraySlice<UInt8>, line: Int, index: Int) throws -> IMAEntry {
        // The %2d PCR field has a leading space below 10.
        var body = l[...]
        if body.first == 0x20 { body = body.dropFirst() }
        // Four space-separated fields, then the name (the rest of the line, non-empty); fields
        // are index ranges into the line (nothing copied until the template data is built).
        var ranges: (Range<Int>, Range<Int>, Range<Int>, Range<Int>) = (0..<0, 0..<0, 0..<0, 0..<0)
        for i in 0..<4 {
            guard let sp = memchrIndex(0x20, in: body) else { throw MeasurementError.badLine(line: line, reason: "too few fields") }
            let r = body.startIndex..<sp
            switch i {
            case 0: ranges.0 = r
            case 1: ranges.1 = r
            case 2: ranges.2 = r
            default: ranges.3 = r
            }
            body = body[(sp + 1)...]
        }
        let pcrField = l[ranges.0]
        let hashField = l[ranges.1]
        let templateField = l[ranges.2]
        let dngField = l[ranges.3]
        let name = body
        guard !name.isEmpty else { throw MeasurementError.badLine(line: line, reason: "empty file name") }
        guard (1...2).contains(pcrField.count), pcrField.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw MeasurementError.badLine(line: line, reason: "bad PCR '\(String(decoding: pcrField, as: UTF8.self))'")
        }
        let pcr = pcrField.reduce(UInt32(0)) { $0 * 10 + UInt32($1 - 0x30) }
        guard pcr < IMALimits.pcrCount else { throw MeasurementError.badPCR(entry: index, pcr: pcr) }
        guard hashField.count == 40 else { throw MeasurementError.badLine(line: line, reason: "bad template hash") }
        var hashBytes: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let hashOK = withUnsafeMutableBytes(of: &hashBytes) {
            decodeHex(hashField, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<20]))
        }
        guard hashOK else { throw MeasurementError.badLine(line: line, reason: "bad template hash") }
        let hash = withUnsafeBytes(of: &hashBytes) { SHA1Value(UnsafeRawBufferPointer(rebasing: $0[0..<20])) }
        guard templateField.count == 6, templateField.elementsEqual(imaNG) else {
            throw MeasurementError.unsupportedTemplate(entry: index, name: String(decoding: templateField, as: UTF8.self))
        }
        guard let colon = dngField.firstIndex(of: 0x3A) else {
            throw MeasurementError.badLine(line: line, reason: "d-ng without '<algorithm>:'")
        }
        let algo = dngField[dngField.startIndex..<colon]
        let hexDigest = dngField[(colon + 1)...]
        guard hexDigest.count % 2 == 0 else { throw MeasurementError.badLine(line: line, reason: "d-ng digest is not hex") }
        guard name.count + 1 <= IMALimits.maxNameSize, memchrIndex(0, in: name) == nil else {
            throw MeasurementError.badLine(line: line, reason: "bad file name")
        }
        // Rebuild the template data exactly as the binary list holds it, in one allocation, the
        // digest decoded from hex straight into it.
        let digestSize = hexDigest.count / 2
        let dngSize = algo.count + 2 + digestSize
        let total = 4 + dngSize + 4 + name.count + 1
        var ok = true
        let data = [UInt8](unsafeUninitializedCapacity: total) { buf, count in
            let raw = UnsafeMutableRawBufferPointer(buf)
            raw.storeBytes(of: UInt32(dngSize).littleEndian, toByteOffset: 0, as: UInt32.self)
            var at = 4
            algo.withUnsafeBytes { raw.baseAddress!.advanced(by: at).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            at += algo.count
            raw[at] = 0x3A
            raw[at + 1] = 0
            at += 2
            ok = decodeHex(hexDigest, into: UnsafeMutableRawBufferPointer(rebasing: raw[at..<(at + digestSize)]))
            at += digestSize
            raw.storeBytes(of: UInt32(name.count + 1).littleEndian, toByteOffset: at, as: UInt32.self)
            at += 4
            name.withUnsafeBytes { raw.baseAddress!.advanced(by: at).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            at += name.count
            raw[at] = 0
            count = total
        }
        guard ok else { throw MeasurementError.badLine(line: line, reason: "d-ng digest is not hex") }
        return try IMAEntry(pcr: pcr, hash: hash, templateData: data, index: index)
    }
}
