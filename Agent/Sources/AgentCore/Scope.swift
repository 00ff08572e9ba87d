import Foundation

/// Which processes the agent measures: all, those of one cgroup (a path prefix in any hierarchy
/// of /proc/PID/cgroup), or those of one PID namespace (/proc/PID/ns/pid). Audit records carry
/// the pid in the initial namespace, which is what /proc here is.
public enum Scope: Hashable, Sendable, CustomStringConvertible {
    case all
    case cgroup(String)
    /// The namespace's identity as readlink(/proc/PID/ns/pid) gives it: "pid:[4026531836]".
    case pidNamespace(String)

    /// `all`, `cgroup:/path`, `pidns:PID` (the namespace of that process) or `pidns:pid:[N]`.
    public init(parsing s: String, proc: String = "/proc") throws(ScopeError) {
        if s == "all" {
            self = .all
        } else if s.hasPrefix("cgroup:") {
            let path = String(s.dropFirst("cgroup:".count))
            guard path.hasPrefix("/") else { throw .bad(s, "cgroup path must start with '/'") }
            self = .cgroup(path)
        } else if s.hasPrefix("pidns:") {
            let v = String(s.dropFirst("pidns:".count))
            if v.hasPrefix("pid:[") {
                self = .pidNamespace(v)
            } else if let pid = Int32(v), pid > 0 {
                guard let ns = Scope.pidNamespace(of: pid, proc: proc) else { throw .bad(s, "no process \(pid)") }
                self = .pidNamespace(ns)
            } else {
                throw .bad(s, "expected pidns:PID or pidns:pid:[INODE]")
            }
        } else {
            throw .bad(s, "expected all, cgroup:/PATH or pidns:PID")
        }
    }

    public var description: String {
        switch self {
        case .all: return "all"
        case .cgroup(let p): return "cgroup:\(p)"
        case .pidNamespace(let ns): return "pidns:\(ns)"
        }
    }

    public static func pidNamespace(of pid: Int32, proc: String = "/proc") -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "\(proc)/\(pid)/ns/pid")
    }

    /// Whether `pid` is in scope; nil when the process is gone (the caller then asks about
    /// the parent).
    public func contains(pid: Int32, proc: String = "/proc") -> Bool? {
        switch self {
        case .all:
            return true
        case .pidNamespace(let ns):
            guard let mine = Scope.pidNamespace(of: pid, proc: proc) else { return nil }
            return mine == ns
        case .cgroup(let prefix):
            guard let text = try? String(contentsOfFile: "\(proc)/\(pid)/cgroup", encoding: .utf8) else { return nil }
            return Scope.cgroupFile(text, contains: prefix)
        }
    }

    /// /proc/PID/cgroup lines are `ID:CONTROLLERS:PATH`; the process is in scope when a path is
    /// `prefix` or below it.
    public static func cgroupFile(_ text: String, contains prefix: String) -> Bool {
        let trimmed = prefix.count > 1 && prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            let path = String(parts[2])
            if trimmed == "/" || path == trimmed || path.hasPrefix(trimmed + "/") { return true }
        }
        return false
    }
}

public enum ScopeError: Error, Hashable, Sendable, CustomStringConvertible {
    case bad(String, String)
    public var description: String {
        switch self {
        case .bad(let s, let why): return "bad scope '\(s)': \(why)"
        }
    }
}
