/// Where measurements go: the list on disk and the PCR (`MeasurementStore`), or a test double.
/// Called from one thread at a time (the measuring thread).
public protocol MeasurementSink: AnyObject {
    /// Appends an entry for `path` with SHA-256 `digest` and extends it; returns its index.
    func record(path: [UInt8], digest: [UInt8]) throws -> Int
    /// Appends a violation entry (a measurement that could not be taken) and extends it.
    func recordViolation(_ what: String) throws -> Int
    var entryCount: Int { get }
}
