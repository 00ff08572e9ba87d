import Foundation
import Logging
import Measurement
import TPMClient
import TPMWire

#if canImport(Glibc)
    import Glibc
#endif

/// The measurement list in the state directory and its PCR (DESIGN.md §3, issue 6 item 5):
/// IMA's binary and ASCII forms (`binary_runtime_measurements`, `ascii_runtime_measurements`)
/// of ima-ng entries, the first a boot_aggregate, each extended into every allocated bank of the
/// configured PCR.
///
/// Crash consistency: an entry is appended to both files and fsync'ed before its extend. At
/// start the list is reconciled with the TPM: a TPM reset since the list began (a new boot,
/// seen through TPMS_CLOCK_INFO.resetCount) starts a new list and keeps the old one under a
/// suffix; otherwise the list is replayed, a torn last record is cut, an entry written but not
/// extended is extended now, and the ASCII form is rebuilt from the binary one.
///
/// `@unchecked Sendable`: the list and the files are touched under `lock`; the rest is set in
/// `init` only.
public final class MeasurementStore: MeasurementSink, @unchecked Sendable {
    public static let binaryName = "binary_runtime_measurements"
    public static let asciiName = "ascii_runtime_measurements"
    public static let metaName = "list.json"

    public let directory: URL
    public let pcr: Int
    let tpm: TPMAccess
    let logger: Logger
    public private(set) var banks: [TPMAlgID] = []
    var imaBanks: [IMAHashAlgorithm] { banks.compactMap { IMAHashAlgorithm(tpmAlgorithmID: $0.rawValue) } }
    public private(set) var entries: [IMAEntry] = []
    public private(set) var replay: IMAReplayState
    public private(set) var resetCount: UInt32 = 0
    /// False when the PCR does not match the list (someone else extended it, or the list was lost).
    public private(set) var consistent = true
    private var binaryFD: Int32 = -1
    private var asciiFD: Int32 = -1
    private let lock = NSLock()

    public init(directory: URL, pcr: Int, tpm: TPMAccess, logger: Logger) throws {
        self.directory = directory
        self.pcr = pcr
        self.tpm = tpm
        self.logger = logger
        replay = IMAReplayState(banks: [])
        banks = try tpm.banks()
        guard !banks.isEmpty else { throw StoreError.noBanks }
        replay = IMAReplayState(banks: imaBanks)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try reconcile()
    }

    deinit {
        if binaryFD >= 0 { _ = close(binaryFD) }
        if asciiFD >= 0 { _ = close(asciiFD) }
    }

    public var entryCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }

    /// Runs `body` with the list as it is while no entry is appended or extended (a quote and
    /// the list cut it answers with must agree).
    public func quiesced<T>(_ body: ([IMAEntry]) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(entries)
    }

    /// Entries from `index` on (for evidence).
    public func entries(from index: Int) -> [IMAEntry] {
        lock.lock()
        defer { lock.unlock() }
        guard index < entries.count else { return [] }
        return Array(entries[max(0, index)...])
    }

    func file(_ name: String) -> URL { directory.appendingPathComponent(name) }

    struct Meta: Codable {
        var resetCount: UInt32
        var pcr: Int
        var banks: [String]
        var created: String
    }

    private func reconcile() throws {
        resetCount = try tpm.resetCount()
        let metaURL = file(Self.metaName)
        let binURL = file(Self.binaryName)
        var meta: Meta?
        if let data = try? Data(contentsOf: metaURL) { meta = try? JSONDecoder().decode(Meta.self, from: data) }
        let exists = FileManager.default.fileExists(atPath: binURL.path)
        if let m = meta, exists, m.resetCount == resetCount, m.pcr == pcr, m.banks == imaBanks.map(\.rawValue) {
            try resume()
        } else {
            if exists || meta != nil {
                let why =
                    meta.map { $0.resetCount != resetCount ? "the TPM was reset (new boot)" : "PCR or banks changed" }
                    ?? "no list metadata"
                archive(reason: why, oldReset: meta?.resetCount)
            }
            try startNew()
        }
    }

    /// Moves the current list files aside as `NAME.RESETCOUNT-EPOCH`.
    private func archive(reason: String, oldReset: UInt32?) {
        let suffix = "\(oldReset.map(String.init) ?? "unknown")-\(Int(Date().timeIntervalSince1970))"
        for name in [Self.binaryName, Self.asciiName, Self.metaName] {
            let from = file(name)
            guard FileManager.default.fileExists(atPath: from.path) else { continue }
            try? FileManager.default.moveItem(at: from, to: file("\(name).\(suffix)"))
        }
        logger.notice("starting a new measurement list: \(reason); the old one is kept with suffix .\(suffix)")
    }

    private func startNew() throws {
        let values = try tpm.read(pcrs: [pcr], banks: banks)
        if values.values.contains(where: { ($0[pcr] ?? []).contains { $0 != 0 } }) {
            consistent = false
            logger.error("PCR \(pcr) is not zero at the start of a new list: another program extends it; choose another --pcr")
        }
        for name in [Self.binaryName, Self.asciiName] { _ = FileManager.default.createFile(atPath: file(name).path, contents: nil) }
        let meta = Meta(
            resetCount: resetCount, pcr: pcr, banks: imaBanks.map(\.rawValue), created: ISO8601DateFormatter().string(from: Date()))
        try writeAtomically(try JSONEncoder().encode(meta), to: file(Self.metaName))
        try openFiles()
        // boot_aggregate of the SHA-256 bank when allocated (IMA's choice for ima-ng), else the first.
        let bank = imaBanks.contains(.sha256) ? IMAHashAlgorithm.sha256 : imaBanks[0]
        let pcrValues = try tpm.read(pcrs: BootAggregate.pcrIndices(bank: bank), banks: [TPMAlgID(bank.tpmAlgorithmID)])
        let aggregate = try BootAggregate.compute(bank: bank, pcrs: pcrValues[TPMAlgID(bank.tpmAlgorithmID)] ?? [:])
        _ = try append(try IMAEntry.bootAggregate(pcr: UInt32(pcr), bank: bank, aggregate: aggregate))
        logger.info("new measurement list: PCR \(pcr), banks \(imaBanks.map(\.rawValue)), resetCount \(resetCount)")
    }

    private func resume() throws {
        let binURL = file(Self.binaryName)
        let bytes = [UInt8](try Data(contentsOf: binURL))
        let (parsed, consumed) = try IMABinaryFormat.parsePrefix(bytes)
        if consumed < bytes.count {
            logger.warning("cutting a torn record at the end of the list (\(bytes.count - consumed) bytes)")
            guard truncate(binURL.path, off_t(consumed)) == 0 else { throw StoreError.io("truncate", errnoText(errno)) }
        }
        entries = parsed
        // The ASCII form is derived: rebuild it from the binary one.
        try writeAtomically(Data(IMAASCIIFormat.encode(parsed)), to: file(Self.asciiName))
        try openFiles()
        let current = try tpm.read(pcrs: [pcr], banks: banks)
        func matches(_ state: IMAReplayState) -> Bool {
            imaBanks.allSatisfy { b in current[TPMAlgID(b.tpmAlgorithmID)]?[pcr] == state.value(bank: b, pcr: UInt32(pcr)) }
        }
        let full = try IMAReplayState.replay(parsed, banks: imaBanks)
        if matches(full) {
            replay = full
            logger.info("measurement list resumed: \(parsed.count) entries replay to PCR \(pcr)")
            return
        }
        if let last = parsed.last {
            let before = try IMAReplayState.replay(parsed.dropLast(), banks: imaBanks)
            if matches(before) {
                logger.notice("entry \(parsed.count - 1) was written but not extended; extending it now")
                try extend(last)
                replay = full
                return
            }
        }
        replay = full
        consistent = false
        logger.error(
            "the list (\(parsed.count) entries) does not replay to PCR \(pcr): it was extended by someone else or the list was lost")
    }

    private func openFiles() throws {
        binaryFD = open(file(Self.binaryName).path, O_WRONLY | O_APPEND | O_CLOEXEC)
        asciiFD = open(file(Self.asciiName).path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard binaryFD >= 0, asciiFD >= 0 else { throw StoreError.io("open list", errnoText(errno)) }
        fsyncDirectory()
    }

    private func fsyncDirectory() {
        let d = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if d >= 0 {
            _ = fsync(d)
            _ = close(d)
        }
    }

    private func writeAtomically(_ data: Data, to url: URL) throws {
        let tmp = url.appendingPathExtension("tmp")
        _ = FileManager.default.createFile(atPath: tmp.path, contents: nil)
        let fd = open(tmp.path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.io("open \(tmp.path)", errnoText(errno)) }
        try writeAll(fd, [UInt8](data))
        _ = fsync(fd)
        _ = close(fd)
        guard rename(tmp.path, url.path) == 0 else { throw StoreError.io("rename", errnoText(errno)) }
        fsyncDirectory()
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw StoreError.io("write", errnoText(errno)) }
            off += n
        }
    }

    private func extend(_ e: IMAEntry) throws {
        var values: [TPMAlgID: [UInt8]] = [:]
        for b in imaBanks { values[TPMAlgID(b.tpmAlgorithmID)] = e.extendValue(b) }
        try tpm.extend(pcr: pcr, values: values, order: banks)
    }

    /// Appends `e`: both files written and fsync'ed, then the extend.
    @discardableResult
    public func append(_ e: IMAEntry) throws -> Int {
        lock.lock()
        defer { lock.unlock() }
        try writeAll(binaryFD, IMABinaryFormat.encode(e))
        guard fsync(binaryFD) == 0 else { throw StoreError.io("fsync", errnoText(errno)) }
        try writeAll(asciiFD, IMAASCIIFormat.line(e))
        _ = fsync(asciiFD)
        try extend(e)
        try replay.apply([e])
        entries.append(e)
        return entries.count - 1
    }

    public func record(path: [UInt8], digest: [UInt8]) throws -> Int {
        try append(try IMAEntry(pcr: UInt32(pcr), algorithm: "sha256", fileDigest: digest, pathBytes: path))
    }

    public func recordViolation(_ what: String) throws -> Int {
        try append(try IMAEntry.violation(pcr: UInt32(pcr), path: what))
    }
}

public enum StoreError: Error, CustomStringConvertible {
    case noBanks
    case io(String, String)
    public var description: String {
        switch self {
        case .noBanks: return "the TPM has no allocated PCR bank this agent can use"
        case .io(let op, let e): return "\(op): \(e)"
        }
    }
}
