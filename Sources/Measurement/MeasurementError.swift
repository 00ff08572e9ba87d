/// Why a measurement list (or one entry of it) was refused. Parsing never traps: every
/// malformed input ends here, with the index of the entry where it happened when known.
public enum MeasurementError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The input ended inside an entry (binary form) or a line is incomplete (ASCII form).
    case truncated(entry: Int)
    /// A length field exceeds its bound or disagrees with what follows.
    case badLength(entry: Int, field: String, value: Int)
    /// The PCR index is not one of the 24 PC Client PCRs.
    case badPCR(entry: Int, pcr: UInt32)
    /// A template other than the one this module implements (ima-ng).
    case unsupportedTemplate(entry: Int, name: String)
    /// A template field is malformed (d-ng digest prefix, n-ng terminator, ...).
    case badField(entry: Int, field: String, reason: String)
    /// An ASCII line that does not have the ima-ng shape.
    case badLine(line: Int, reason: String)
    /// The stored SHA-1 template hash is neither SHA-1(template data) nor a violation (zero).
    case templateHashMismatch(entry: Int)
    /// A hash algorithm name or TPM bank this module does not know.
    case unknownAlgorithm(String)
    /// A list longer than the caller's bound.
    case tooManyEntries(limit: Int)
    /// Replay state that does not fit the entries given to it (wrong bank size, ...).
    case badState(String)

    public var description: String {
        switch self {
        case .truncated(let e): return "entry \(e): input ends inside the entry"
        case .badLength(let e, let f, let v): return "entry \(e): \(f) length \(v) out of bounds"
        case .badPCR(let e, let p): return "entry \(e): PCR index \(p) out of range"
        case .unsupportedTemplate(let e, let n): return "entry \(e): unsupported template '\(n)'"
        case .badField(let e, let f, let r): return "entry \(e): field \(f): \(r)"
        case .badLine(let l, let r): return "line \(l): \(r)"
        case .templateHashMismatch(let e): return "entry \(e): template hash does not match the template data"
        case .unknownAlgorithm(let a): return "unknown hash algorithm '\(a)'"
        case .tooManyEntries(let n): return "more than \(n) entries"
        case .badState(let r): return "replay state: \(r)"
        }
    }
}
