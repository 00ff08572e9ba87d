/// The binary measurement list (securityfs binary_runtime_measurements), one record per
/// entry in the host's byte order, which on x86 is little-endian
/// (security/integrity/ima/ima_fs.c, ima_measurements_show):
///
///     u32 pcr | 20 bytes SHA-1 template hash | u32 name length | name
///     | u32 template data length | template data
///
/// (The legacy "ima" template has no template data length; it is not supported here.)
public enum IMABinaryFormat {
    /// The record of one entry.
    public static func encode(_ e: IMAEntry) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(32 + e.templateName.utf8.count + e.templateData.count)
        out.appendU32LE(e.pcr)
        out += e.templateHash
        out.appendU32LE(UInt32(e.templateName.utf8.count))
        out += Array(e.templateName.utf8)
        out.appendU32LE(UInt32(e.templateData.count))
        out += e.templateData
        return out
    }

    public static func encode<S: Sequence>(_ entries: S) -> [UInt8] where S.Element == IMAEntry {
        var out = [UInt8]()
        for e in entries { out += encode(e) }
        return out
    }

    /// Parses a whole list; any trailing partial record is an error. `firstIndex` numbers the
    /// entries in errors (the index of the first record in a larger list).
    public static func parse(_ bytes: [UInt8], firstIndex: Int = 0, maxEntries: Int = Int.max) throws -> [IMAEntry] {
        let (entries, consumed) = try parsePrefix(bytes, firstIndex: firstIndex, maxEntries: maxEntries)
        guard consumed == bytes.count else {
            if entries.count >= maxEntries { throw MeasurementError.tooManyEntries(limit: maxEntries) }
            let (sum, overflow) = firstIndex.addingReportingOverflow(entries.count)
            throw MeasurementError.truncated(entry: overflow ? Int.max : sum)
        }
        return entries
    }

    /// Parses the complete records at the start of `bytes` and says how many bytes they
    /// used; a partial last record (a file being appended to) is left for later. A complete
    /// but malformed record is an error.
    public static func parsePrefix(
        _ bytes: [UInt8], firstIndex: Int = 0, maxEntries: Int = Int.max
    ) throws -> (entries: [IMAEntry], consumed: Int) {
        var c = ByteCursor(bytes)
        var entries = [IMAEntry]()
        var consumed = 0
        while !c.isAtEnd, entries.count < maxEntries {
            // Saturating: `firstIndex` may come from a peer; it only labels errors here.
            let (sum, overflow) = firstIndex.addingReportingOverflow(entries.count)
            let index = overflow ? Int.max : sum
            guard let e = try record(&c, index: index) else { break }
            entries.append(e)
            consumed = c.offset
        }
        return (entries, consumed)
    }

    /// One record, or nil when the bytes end inside it.
    private static let imaNG: [UInt8] = Array(IMAEntry.templateName.utf8)

    static func record(_ c: inout ByteCursor, index: Int) throws -> IMAEntry? {
        guard let pcr = c.u32le(), let hashAt = c.skip(20), let nameLen = c.u32le() else { return nil }
        guard pcr < IMALimits.pcrCount else { throw MeasurementError.badPCR(entry: index, pcr: pcr) }
        guard nameLen > 0, Int(nameLen) <= IMALimits.maxTemplateNameSize else {
            throw MeasurementError.badLength(entry: index, field: "template name", value: Int(nameLen))
        }
        guard let nameAt = c.skip(Int(nameLen)) else { return nil }
        let nameBytes = c.bytes[nameAt..<(nameAt + Int(nameLen))]
        guard nameBytes.elementsEqual(imaNG) else {
            throw MeasurementError.unsupportedTemplate(entry: index, name: String(decoding: nameBytes, as: UTF8.self))
        }
        guard let dataLen = c.u32le() else { return nil }
        guard Int(dataLen) <= IMALimits.maxTemplateDataSize else {
            throw MeasurementError.badLength(entry: index, field: "template data", value: Int(dataLen))
        }
        guard let data = c.take(Int(dataLen)) else { return nil }
        let hash = c.bytes.withUnsafeBytes { SHA1Value(UnsafeRawBufferPointer(rebasing: $0[hashAt..<(hashAt + 20)])) }
        return try IMAEntry(pcr: pcr, hash: hash, templateData: data, index: index)
    }
}
