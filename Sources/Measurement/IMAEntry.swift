/// One record of an IMA measurement list with the ima-ng template (`d-ng|n-ng`), as the
/// Linux kernel builds it (security/integrity/ima/ima_template_lib.c):
/// - the template data is the concatenation, per field, of a u32 length and the field data;
/// - d-ng is the file-digest algorithm's name, ':', a NUL, then the digest;
/// - n-ng is the path with a terminating NUL, spaces replaced by '_' (so the ASCII list,
///   whose separator is a space, stays parseable);
/// - the template hash of a bank is that bank's hash over the template data (the kernel's
///   ima_calc_field_array_hash does one per allocated bank); the binary list stores only
///   the SHA-1 one;
/// - a violation (a measurement IMA could not take) stores a zero template hash and a zero
///   file digest, and is extended into every bank as all-ones (ima_add_template_entry).
public struct IMAEntry: Hashable, Sendable {
    public static let templateName = "ima-ng"
    /// The name "boot_aggregate" IMA gives its first entry.
    public static let bootAggregateName = "boot_aggregate"

    public private(set) var pcr: UInt32
    /// The stored SHA-1 template hash, kept inline (no array per entry).
    var storedHash: SHA1Value
    /// The raw template data: u32le len + d-ng, u32le len + n-ng. The only per-entry allocation:
    /// the d-ng algorithm, file digest and name are ranges of it.
    public private(set) var templateData: [UInt8]
    /// d-ng's ':' and end, as offsets into templateData (checked when the entry was built).
    let colon: Int32
    let dngEnd: Int32

    /// The SHA-1 template hash as stored in the list (zero for a violation).
    public var templateHash: [UInt8] { storedHash.bytes }
    public var templateName: String { IMAEntry.templateName }
    /// Parsed d-ng: algorithm name ("sha256") and the file digest.
    public var digestAlgorithm: String { String(decoding: templateData[algorithmRange], as: UTF8.self) }
    public var fileDigest: [UInt8] { Array(templateData[fileDigestRange]) }
    /// Parsed n-ng without its NUL (raw bytes: Linux paths need not be UTF-8).
    public var pathBytes: [UInt8] { Array(templateData[pathRange]) }

    /// Where d-ng's algorithm name, the file digest and n-ng's name (without its NUL) lie in
    /// `templateData`: lookups read them in place.
    public var algorithmRange: Range<Int> { 4..<Int(colon) }
    public var fileDigestRange: Range<Int> { (Int(colon) + 2)..<Int(dngEnd) }
    public var pathRange: Range<Int> { (Int(dngEnd) + 4)..<(templateData.count - 1) }

    public var path: String { String(decoding: templateData[pathRange], as: UTF8.self) }
    /// A violation carries a zero template hash (the kernel's convention).
    public var isViolation: Bool { storedHash.isZero }

    /// A measurement of `path` whose content has digest `fileDigest` with `algorithm`.
    public init(pcr: UInt32, algorithm: String, fileDigest: [UInt8], path: String) throws {
        try self.init(pcr: pcr, algorithm: algorithm, fileDigest: fileDigest, pathBytes: Array(path.utf8))
    }

    public init(pcr: UInt32, algorithm: String, fileDigest: [UInt8], pathBytes: [UInt8]) throws {
        guard pcr < IMALimits.pcrCount else { throw MeasurementError.badPCR(entry: 0, pcr: pcr) }
        guard let size = IMAFileDigestAlgorithms.sizes[algorithm] else { throw MeasurementError.unknownAlgorithm(algorithm) }
        guard fileDigest.count == size else {
            throw MeasurementError.badField(entry: 0, field: "d-ng", reason: "digest size \(fileDigest.count) for \(algorithm)")
        }
        guard !pathBytes.contains(0) else { throw MeasurementError.badField(entry: 0, field: "n-ng", reason: "NUL inside the name") }
        // ima_write_template_field_data: a space would split the ASCII line.
        let name = pathBytes.map { $0 == 0x20 ? 0x5F : $0 }
        guard name.count + 1 <= IMALimits.maxNameSize else {
            throw MeasurementError.badLength(entry: 0, field: "n-ng", value: name.count + 1)
        }
        var data = [UInt8]()
        let dng = Array(algorithm.utf8) + [0x3A, 0x00] + fileDigest
        data.appendU32LE(UInt32(dng.count))
        data += dng
        data.appendU32LE(UInt32(name.count + 1))
        data += name + [0]
        let hash = SHA1Value(digestOf: data)
        try self.init(pcr: pcr, hash: hash, templateData: data, index: 0)
    }

    /// A violation entry for `path`: zero file digest of `algorithm`'s size, zero template hash
    /// (ima_add_violation with the d-ng field left empty of a digest).
    public static func violation(pcr: UInt32, algorithm: String = "sha256", path: String) throws -> IMAEntry {
        guard let size = IMAFileDigestAlgorithms.sizes[algorithm] else { throw MeasurementError.unknownAlgorithm(algorithm) }
        var e = try IMAEntry(pcr: pcr, algorithm: algorithm, fileDigest: [UInt8](repeating: 0, count: size), path: path)
        e.storedHash = SHA1Value()
        return e
    }

    /// The boot_aggregate entry: d-ng of the aggregate with the bank's algorithm.
    public static func bootAggregate(pcr: UInt32, bank: IMAHashAlgorithm, aggregate: [UInt8]) throws -> IMAEntry {
        try IMAEntry(pcr: pcr, algorithm: bank.rawValue, fileDigest: aggregate, path: bootAggregateName)
    }

    /// Rebuilds an entry from its stored parts, checking the template data strictly.
    /// `index` only labels errors.
    public init(pcr: UInt32, templateHash: [UInt8], templateName: String, templateData: [UInt8], index: Int = 0) throws {
        guard pcr < IMALimits.pcrCount else { throw MeasurementError.badPCR(entry: index, pcr: pcr) }
        guard templateHash.count == 20 else {
            throw MeasurementError.badLength(entry: index, field: "template hash", value: templateHash.count)
        }
        guard templateName == IMAEntry.templateName else {
            throw MeasurementError.unsupportedTemplate(entry: index, name: templateName)
        }
        try self.init(pcr: pcr, hash: templateHash.withUnsafeBytes { SHA1Value($0) }, templateData: templateData, index: index)
    }

    /// The parsers' entry point: the template name already checked, the hash already inline.
    init(pcr: UInt32, hash: SHA1Value, templateData d: [UInt8], index: Int) throws {
        guard pcr < IMALimits.pcrCount else { throw MeasurementError.badPCR(entry: index, pcr: pcr) }
        // Two fields, each u32le length + bytes, filling the data exactly; checked by index
        // arithmetic (no copies) before anything is taken out.
        func le32(_ at: Int) -> Int? {
            guard at >= 0, at + 4 <= d.count else { return nil }
            return Int(d[at]) | Int(d[at + 1]) << 8 | Int(d[at + 2]) << 16 | Int(d[at + 3]) << 24
        }
        guard d.count <= IMALimits.maxTemplateDataSize else {
            throw MeasurementError.badLength(entry: index, field: "template data", value: d.count)
        }
        guard let dLen = le32(0), dLen <= d.count - 4 else {
            throw MeasurementError.badField(entry: index, field: "d-ng", reason: "length past the template data")
        }
        let dStart = 4
        let dEnd = dStart + dLen
        guard let nLen = le32(dEnd), nLen <= d.count - dEnd - 4 else {
            throw MeasurementError.badField(entry: index, field: "n-ng", reason: "length past the template data")
        }
        let nStart = dEnd + 4
        let nEnd = nStart + nLen
        guard nEnd == d.count else {
            throw MeasurementError.badField(entry: index, field: "template data", reason: "\(d.count - nEnd) bytes after n-ng")
        }
        // d-ng: "<algo>:\0<digest>"
        guard let colon = d[dStart..<dEnd].firstIndex(of: 0x3A), colon + 1 < dEnd, d[colon + 1] == 0 else {
            throw MeasurementError.badField(entry: index, field: "d-ng", reason: "no '<algorithm>:\\0' prefix")
        }
        guard let size = IMAFileDigestAlgorithms.size(d[dStart..<colon]) else {
            throw MeasurementError.badField(entry: index, field: "d-ng", reason: "unknown algorithm")
        }
        guard dEnd - (colon + 2) == size else {
            throw MeasurementError.badField(
                entry: index, field: "d-ng", reason: "digest size \(dEnd - colon - 2) for \(size)-byte algorithm")
        }
        // n-ng: a NUL-terminated string with no other NUL.
        guard nLen >= 1, d[nEnd - 1] == 0, memchrIndex(0, in: d[nStart..<(nEnd - 1)]) == nil else {
            throw MeasurementError.badField(entry: index, field: "n-ng", reason: "not one NUL-terminated name")
        }
        self.pcr = pcr
        storedHash = hash
        templateData = d
        self.colon = Int32(colon)
        dngEnd = Int32(dEnd)
    }

    /// The template hash of `bank`: that bank's hash over the template data. For SHA-1 this is
    /// the stored hash when it is consistent; a violation's is all zero.
    public func templateDigest(_ bank: IMAHashAlgorithm) -> [UInt8] {
        if isViolation { return [UInt8](repeating: 0, count: bank.digestSize) }
        return bank.digest(templateData)
    }

    /// What IMA extends into the PCR of `bank` for this entry: the template digest, or
    /// all-ones for a violation.
    public func extendValue(_ bank: IMAHashAlgorithm) -> [UInt8] {
        if isViolation { return [UInt8](repeating: 0xFF, count: bank.digestSize) }
        return bank.digest(templateData)
    }

    /// The stored SHA-1 template hash agrees with the template data (or marks a violation).
    public var templateHashIsConsistent: Bool {
        isViolation || storedHash == SHA1Value(digestOf: templateData)
    }
}

/// A SHA-1 value (the stored template hash) held in three words instead of an array.
struct SHA1Value: Hashable, Sendable {
    var a: UInt64 = 0
    var b: UInt64 = 0
    var c: UInt32 = 0

    init() {}

    /// From exactly 20 bytes.
    init(_ p: UnsafeRawBufferPointer) {
        precondition(p.count == 20)
        a = p.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        b = p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        c = p.loadUnaligned(fromByteOffset: 16, as: UInt32.self)
    }

    init(digestOf data: [UInt8]) {
        var v = SHA1Value()
        data.withUnsafeBytes { d in IMAHashAlgorithm.sha1.hash(d) { v = SHA1Value($0) } }
        self = v
    }

    var isZero: Bool { a == 0 && b == 0 && c == 0 }

    /// The 20 bytes, on the stack.
    @inline(__always)
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var t: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return try withUnsafeMutableBytes(of: &t) { p in
            p.storeBytes(of: a, toByteOffset: 0, as: UInt64.self)
            p.storeBytes(of: b, toByteOffset: 8, as: UInt64.self)
            p.storeBytes(of: c, toByteOffset: 16, as: UInt32.self)
            return try body(UnsafeRawBufferPointer(rebasing: p[0..<20]))
        }
    }

    var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 20)
        out.withUnsafeMutableBytes { p in
            p.storeBytes(of: a, toByteOffset: 0, as: UInt64.self)
            p.storeBytes(of: b, toByteOffset: 8, as: UInt64.self)
            p.storeBytes(of: c, toByteOffset: 16, as: UInt32.self)
        }
        return out
    }
}

/// The bounds every parser here enforces.
public enum IMALimits {
    /// PC Client PCRs (0-23).
    public static let pcrCount: UInt32 = 24
    /// TCG_EVENT_NAME_LEN_MAX (the kernel's bound on a template name).
    public static let maxTemplateNameSize = 255
    /// One entry's template data: a d-ng (at most ~80 bytes) and an n-ng bounded below.
    public static let maxTemplateDataSize = 8192
    /// n-ng including its NUL: PATH_MAX (4096).
    public static let maxNameSize = 4096
}
