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
        var start = 0
        var lineNo = 0
        while start < bytes.count {
            lineNo += 1
            guard entries.count < maxEntries else { throw MeasurementError.tooManyEntries(limit: maxEntries) }
            guard let nl = bytes[start...].firstIndex(of: 0x0A) else {
                throw MeasurementError.badLine(line: lineNo, reason: "no line end")
            }
            guard nl - start <= 64 + IMALimits.maxTemplateDataSize else {
                throw MeasurementError.badLine(line: lineNo, reason: "line too long")
            }
            entries.append(try parseLine(bytes[start..<nl], line: lineNo, index: entries.count))
            start = nl + 1
        }
        return entries
    }

    static func parseLine(_ l: ArraySlice<UInt8>, line: Int, index: Int) throws -> IMAEntry {
        // The %2d PCR field has a leading space below 10.
        var body = l[...]
        if body.first == 0x20 { body = body.dropFirst() }
        // Four space-separated fields, then the name (the rest of the line, non-empty).
        var fields = [ArraySlice<UInt8>]()
        for _ in 0..<4 {
            guard let sp = body.firstIndex(of: 0x20) else { throw MeasurementError.badLine(line: line, reason: "too few fields") }
            fields.append(body[body.startIndex..<sp])
            body = body[(sp + 1)...]
        }
        let name = body
        guard !name.isEmpty else { throw MeasurementError.badLine(line: line, reason: "empty file name") }
        guard (1...2).contains(fields[0].count), fields[0].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw MeasurementError.badLine(line: line, reason: "bad PCR '\(String(decoding: fields[0], as: UTF8.self))'")
        }
        let pcr = fields[0].reduce(UInt32(0)) { $0 * 10 + UInt32($1 - 0x30) }
        guard pcr < IMALimits.pcrCount else { throw MeasurementError.badPCR(entry: index, pcr: pcr) }
        guard fields[1].count == 40, let hash = hexBytes(fields[1]) else {
            throw MeasurementError.badLine(line: line, reason: "bad template hash")
        }
        guard fields[2].elementsEqual(IMAEntry.templateName.utf8) else {
            throw MeasurementError.unsupportedTemplate(entry: index, name: String(decoding: fields[2], as: UTF8.self))
        }
        let template = IMAEntry.templateName
        guard let colon = fields[3].firstIndex(of: 0x3A) else {
            throw MeasurementError.badLine(line: line, reason: "d-ng without '<algorithm>:'")
        }
        let algo = fields[3][fields[3].startIndex..<colon]
        guard let digest = hexBytes(fields[3][(colon + 1)...]) else {
            throw MeasurementError.badLine(line: line, reason: "d-ng digest is not hex")
        }
        guard name.count + 1 <= IMALimits.maxNameSize, !name.contains(0) else {
            throw MeasurementError.badLine(line: line, reason: "bad file name")
        }
        // Rebuild the template data exactly as the binary list holds it.
        var data = [UInt8]()
        data.reserveCapacity(algo.count + digest.count + name.count + 11)
        data.appendU32LE(UInt32(algo.count + 2 + digest.count))
        data += algo
        data += [0x3A, 0x00]
        data += digest
        data.appendU32LE(UInt32(name.count + 1))
        data += name
        data.append(0)
        return try IMAEntry(pcr: pcr, templateHash: hash, templateName: template, templateData: data, index: index)
    }
}
