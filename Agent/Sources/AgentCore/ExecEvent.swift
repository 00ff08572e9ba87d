/// One exec, joined from the records that share its serial (SYSCALL, EXECVE, CWD, PATH...,
/// PROCTITLE, EOE).
public struct ExecEvent: Hashable, Sendable {
    public var serial: UInt64
    public var pid: Int32
    public var ppid: Int32
    /// The `exe=` of the SYSCALL record: the executable the process runs after the exec.
    public var exe: [UInt8]?
    public var cwd: [UInt8]?
    /// argv from the EXECVE record(s).
    public var argv: [[UInt8]]
    /// PATH records by item number: item 0 is the file named in the execve (the script for an
    /// interpreted file), later items the interpreter and the loader.
    public var paths: [PathItem]

    public struct PathItem: Hashable, Sendable {
        public var item: Int
        public var name: [UInt8]?
        public var inode: UInt64?
        public var dev: String?
    }

    /// Item 0 resolved against the working directory when relative.
    public var executedPath: [UInt8]? {
        guard let name = paths.first(where: { $0.item == 0 })?.name, !name.isEmpty else { return nil }
        if name.first == UInt8(ascii: "/") { return name }
        guard let cwd else { return nil }
        return cwd + [UInt8(ascii: "/")] + name
    }
}

/// Syscall numbers of execve and execveat per audit architecture (AUDIT_ARCH_* of linux/audit.h).
public enum ExecSyscalls {
    public static let table: [String: Set<Int>] = [
        "c000003e": [59, 322],  // x86_64
        "40000003": [11, 358],  // i386 (and x32 compat)
        "c00000b7": [221, 281],  // aarch64
        "40000028": [11, 387],  // arm
    ]

    public static func isExec(arch: String?, syscall: String?) -> Bool {
        guard let arch, let syscall, let n = Int(syscall), let calls = table[arch.lowercased()] else { return false }
        return calls.contains(n)
    }
}

/// Joins records into exec events by serial. Feed it records in arrival order; an event is
/// complete at its EOE record, or when `flush(olderThan:)` gives up waiting for one. Records of
/// other events (not exec syscalls) are dropped; a malformed exec event (no pid) is reported.
public struct ExecEventAssembler: Sendable {
    private var pending: [UInt64: [AuditRecord]] = [:]
    private var order: [UInt64] = []
    public private(set) var malformed = 0
    public private(set) var overflowed = 0

    public init() {}

    public var pendingCount: Int { pending.count }

    /// Adds a record; returns the events it completes (normally zero or one).
    public mutating func add(_ record: AuditRecord) -> [Result<ExecEvent, ExecAssemblyError>] {
        switch record.type {
        case AuditRecord.Kind.eoe:
            return complete(record.serial).map { [$0] } ?? []
        case AuditRecord.Kind.syscall, AuditRecord.Kind.execve, AuditRecord.Kind.cwd, AuditRecord.Kind.path,
            AuditRecord.Kind.proctitle:
            if pending[record.serial] == nil {
                pending[record.serial] = []
                order.append(record.serial)
            }
            if pending[record.serial]!.count < AuditLimits.maxRecordsPerEvent { pending[record.serial]!.append(record) }
            var out: [Result<ExecEvent, ExecAssemblyError>] = []
            // Bounded: beyond the limit the oldest event is completed without its EOE.
            while pending.count > AuditLimits.maxPendingEvents, let oldest = order.first {
                overflowed += 1
                if let r = complete(oldest) { out.append(r) }
            }
            return out
        default:
            return []
        }
    }

    /// Completes every pending event except the newest `keep` (used on a time-out: an event whose
    /// EOE never came, e.g. single-record kernels or a dropped record).
    public mutating func flush(keep: Int = 0) -> [Result<ExecEvent, ExecAssemblyError>] {
        var out: [Result<ExecEvent, ExecAssemblyError>] = []
        while order.count > keep, let oldest = order.first {
            if let r = complete(oldest) { out.append(r) }
        }
        return out
    }

    private mutating func complete(_ serial: UInt64) -> Result<ExecEvent, ExecAssemblyError>? {
        guard let records = pending.removeValue(forKey: serial) else { return nil }
        if let i = order.firstIndex(of: serial) { order.remove(at: i) }
        guard let sys = records.first(where: { $0.type == AuditRecord.Kind.syscall }) else {
            // PATH/CWD records without a SYSCALL are not an exec event of ours.
            return nil
        }
        guard ExecSyscalls.isExec(arch: sys["arch"], syscall: sys["syscall"]) else { return nil }
        // A failed exec ran nothing.
        guard sys["success"] == "yes" else { return nil }
        guard let pidText = sys["pid"], let pid = Int32(pidText), pid > 0 else {
            malformed += 1
            return .failure(.missingPID(serial))
        }
        var event = ExecEvent(
            serial: serial, pid: pid, ppid: sys["ppid"].flatMap { Int32($0) } ?? 0, exe: sys.bytes("exe"), cwd: nil,
            argv: [], paths: [])
        for r in records {
            switch r.type {
            case AuditRecord.Kind.cwd:
                event.cwd = r.bytes("cwd")
            case AuditRecord.Kind.path:
                guard let item = r["item"].flatMap({ Int($0) }) else {
                    malformed += 1
                    continue
                }
                event.paths.append(
                    ExecEvent.PathItem(item: item, name: r.bytes("name"), inode: r["inode"].flatMap { UInt64($0) }, dev: r["dev"]))
            case AuditRecord.Kind.execve:
                for (k, v) in r.fields where k.hasPrefix("a") && k != "argc" {
                    if Int(k.dropFirst()) != nil, let b = AuditRecord.decodeBytes(v) { event.argv.append(b) }
                }
            default:
                break
            }
        }
        event.paths.sort { $0.item < $1.item }
        return .success(event)
    }
}

public enum ExecAssemblyError: Error, Hashable, Sendable, CustomStringConvertible {
    case missingPID(UInt64)
    public var description: String {
        switch self {
        case .missingPID(let s): return "exec event \(s) has no valid pid"
        }
    }
}
