import CAudit
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The kernel audit subsystem as an exec-event source (DESIGN.md §4).
///
/// Records come from the read-only multicast group AUDIT_NLGRP_READLOG, so an auditd can keep
/// running beside the agent; when that group cannot be joined the agent registers itself as the
/// audit daemon (and says so). The agent adds `-a always,exit -F arch=b64|b32 -S execve,execveat
/// -F key=vtpm-agent-PID` at start (a per-process key keeps several agents' rules apart) and
/// removes exactly those rules at exit; audit's enabled flag is restored as found.
public final class AuditNetlink {
    public enum Mode: String, Sendable {
        case multicast = "multicast (AUDIT_NLGRP_READLOG)"
        case auditDaemon = "registered audit daemon (audit_set_pid)"
    }

    public private(set) var mode: Mode = .multicast
    private var controlFD: Int32 = -1
    private var readFD: Int32 = -1
    private var addedRules: [String] = []
    private var restoreEnabled: UInt32?
    private var registeredPID = false
    public let ruleKey: String
    private let logger: Logger

    /// The netlink socket's receive buffer: what absorbs a burst while the reader waits for the
    /// measuring queue. Its overflow is detected (ENOBUFS) and recorded as a violation.
    public let receiveBuffer: Int32

    public init(logger: Logger, ruleKey: String = "vtpm-agent-\(getpid())", receiveBuffer: Int = 64 << 20) {
        self.logger = logger
        self.ruleKey = ruleKey
        self.receiveBuffer = Int32(clamping: receiveBuffer)
    }

    deinit { stop() }

    /// Opens the sockets, enables audit if needed and adds the exec rules.
    public func start() throws(AuditError) {
        controlFD = audit_open()
        guard controlFD >= 0 else { throw .open("audit_open: \(errnoText(errno))") }
        var status = vtpm_audit_status_t()
        let rc = vtpm_audit_get_status(controlFD, &status)
        guard rc == 0 else { throw .open("AUDIT_GET: \(errnoText(-rc))") }
        logger.info(
            "audit status",
            metadata: [
                "enabled": "\(status.enabled)", "auditd_pid": "\(status.pid)", "lost": "\(status.lost)",
                "backlog_limit": "\(status.backlog_limit)",
            ])
        if status.enabled == 0 {
            guard audit_set_enabled(controlFD, 1) >= 0 else { throw .open("cannot enable audit: \(errnoText(errno))") }
            restoreEnabled = 0
        }
        // Records first, then rules: no exec between the rule and the reader is missed.
        let fd = vtpm_audit_open_readlog(receiveBuffer)
        if fd >= 0 {
            readFD = fd
            mode = .multicast
        } else {
            logger.warning("cannot join AUDIT_NLGRP_READLOG (\(errnoText(-fd))); registering as the audit daemon")
            guard status.pid == 0 else {
                throw .open("an audit daemon (pid \(status.pid)) runs and the multicast group is unavailable")
            }
            let dfd = audit_open()
            guard dfd >= 0 else { throw .open("audit_open: \(errnoText(errno))") }
            guard audit_set_pid(dfd, UInt32(getpid()), WAIT_YES) >= 0 else {
                _ = close(dfd)
                throw .open("audit_set_pid: \(errnoText(errno))")
            }
            _ = vtpm_set_rcvbuf(dfd, receiveBuffer)
            registeredPID = true
            readFD = dfd
            mode = .auditDaemon
        }
        _ = vtpm_set_rcvtimeo(readFD, 200)
        logger.info("audit events from \(mode.rawValue)")
        var stale: Int32 = 0
        for _ in 0..<64 {
            let n = vtpm_audit_remove_stale_rules(controlFD, "vtpm-agent-")
            guard n > 0 else { break }
            stale += n
        }
        if stale > 0 { logger.notice("removed \(stale) audit rules left by agents that were killed") }
        for arch in ["b64", "b32"] {
            let r = vtpm_audit_exec_rule(controlFD, arch, ruleKey, 1)
            if r >= 0 {
                addedRules.append(arch)
            } else if r == -EEXIST {
                logger.info("audit rule for \(arch) exists already; leaving it to its owner")
            } else {
                throw .rule("cannot add the \(arch) execve rule: \(errnoText(-r))")
            }
        }
    }

    /// Removes the rules this agent added, restores audit's enabled flag, unregisters.
    public func stop() {
        guard controlFD >= 0 else { return }
        for arch in addedRules {
            let r = vtpm_audit_exec_rule(controlFD, arch, ruleKey, 0)
            if r < 0 { logger.error("cannot remove the \(arch) audit rule: \(errnoText(-r))") }
        }
        addedRules = []
        if registeredPID {
            _ = audit_set_pid(controlFD, 0, WAIT_NO)
            registeredPID = false
        }
        if let e = restoreEnabled {
            _ = audit_set_enabled(controlFD, e)
            restoreEnabled = nil
        }
        if readFD >= 0 { _ = close(readFD) }
        audit_close(controlFD)
        readFD = -1
        controlFD = -1
    }

    /// The kernel's lost-record counter (backlog overflow, rate limit), nil if unreadable.
    public func lostCounter() -> UInt32? {
        guard controlFD >= 0 else { return nil }
        var status = vtpm_audit_status_t()
        return vtpm_audit_get_status(controlFD, &status) == 0 ? status.lost : nil
    }

    /// What one receive produced.
    public enum Received {
        /// Netlink messages: (type, payload).
        case messages([(UInt16, [UInt8])])
        /// Nothing within the receive time-out.
        case idle
        /// The socket overflowed (ENOBUFS): records were dropped.
        case overflow
    }

    private var buffer = [UInt8](repeating: 0, count: 1 << 16)

    /// Receives one datagram and splits its netlink messages (struct nlmsghdr: u32 length,
    /// u16 type, u16 flags, u32 seq, u32 pid, host byte order; NLMSG_ALIGN of 4).
    public func receive() throws(AuditError) -> Received {
        let n = buffer.withUnsafeMutableBytes { raw in
            vtpm_netlink_recv(readFD, raw.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt(raw.count))
        }
        if n == -Int(EAGAIN) || n == -Int(EWOULDBLOCK) || n == -Int(EINTR) { return .idle }
        if n == -Int(ENOBUFS) { return .overflow }
        guard n >= 0 else { throw .receive(errnoText(Int32(-n))) }
        return .messages(Self.split(Array(buffer[0..<n])))
    }

    /// Splits a datagram into netlink messages; a truncated or inconsistent header ends the walk.
    public static func split(_ d: [UInt8]) -> [(UInt16, [UInt8])] {
        var out: [(UInt16, [UInt8])] = []
        var i = 0
        while i + 16 <= d.count {
            let len = Int(UInt32(d[i]) | UInt32(d[i + 1]) << 8 | UInt32(d[i + 2]) << 16 | UInt32(d[i + 3]) << 24)
            let type = UInt16(d[i + 4]) | UInt16(d[i + 5]) << 8
            guard len >= 16, len <= d.count - i else { break }
            out.append((type, Array(d[(i + 16)..<(i + len)])))
            i += (len + 3) & ~3
        }
        return out
    }
}

public enum AuditError: Error, Sendable, CustomStringConvertible {
    case open(String)
    case rule(String)
    case receive(String)
    public var description: String {
        switch self {
        case .open(let s): return "audit: \(s)"
        case .rule(let s): return "audit rule: \(s)"
        case .receive(let s): return "audit receive: \(s)"
        }
    }
}

func errnoText(_ e: Int32) -> String { String(cString: strerror(e)) }
