import TPMCrypto
import TPMWire

// Command audit (Part 1, 33; Part 3, 21.2 and 18.5). The TPM keeps a list of audited command
// codes and a hash algorithm (both in NV, set by TPM2_SetCommandCodeAuditStatus), an audit
// counter (NV) and the command audit digest. After each successful audited command:
//
//   digest_new = H_auditAlg(digest_old || cpHash || rpHash)
//
// with cpHash = H_auditAlg(commandCode || Names || parameters) and rpHash =
// H_auditAlg(TPM_RC_SUCCESS || commandCode || parameters), the parameters as they crossed the
// interface (encrypted where a session encrypted them). When the digest is empty (after TPM
// Reset, and after GetCommandAuditDigest signed it), the next audited command first
// increments the counter and starts from zeros, so (counter, digest) names one run of
// audited commands. The digest itself is volatile: the reference keeps it across TPM Restart
// and Resume, Part 1 (33.2) only requires that an audit lost to a restart be visible, which
// the counter increment makes it.

/// The persistent part of command audit (the reference's gp.auditCommands, auditHashAlg and
/// auditCounter).
struct CommandAuditState: Sendable, Equatable {
    /// TPM_CC_SetCommandCodeAuditStatus is always audited (Part 3, 21.2).
    static let alwaysAudited: TPMCC = .setCommandCodeAuditStatus

    /// CONTEXT_INTEGRITY_HASH_ALG at manufacture, as in the reference and libtpms.
    var hashAlg: TPMAlgID = TPMAlgID(TPM.contextIntegrityHash.rawValue)
    var counter: UInt64 = 0
    var commands: Set<TPMCC> = [CommandAuditState.alwaysAudited]

    /// The audited commands in ascending order.
    var sorted: [TPMCC] { commands.sorted() }

    /// u16 hashAlg || u64 counter || u16 count || count × u32 command code (strictly
    /// increasing, each an implemented command, SetCommandCodeAuditStatus among them).
    func encodeState(to w: inout TPMWriter) {
        w.u16(hashAlg.rawValue)
        w.u64(counter)
        let list = sorted
        w.u16(UInt16(clamping: list.count))
        for c in list.prefix(Int(UInt16.max)) { w.u32(c.rawValue) }
    }

    init() {}

    init(state r: inout StateReader) throws {
        hashAlg = try r.hashAlg("audit.hashAlg")
        counter = try r.u64("audit.counter")
        let n = Int(try r.u16("audit.count"))
        guard n <= TPM.commandTable.count else { throw StateError.malformed("audit.count: \(n)") }
        var last: UInt32?
        commands = []
        for i in 0..<n {
            let raw = try r.u32("audit.commands[\(i)]")
            guard last.map({ $0 < raw }) ?? true, TPM.commandIndex[TPMCC(raw)] != nil else {
                throw StateError.malformed("audit.commands[\(i)]: \(raw)")
            }
            last = raw
            commands.insert(TPMCC(raw))
        }
        guard commands.contains(CommandAuditState.alwaysAudited) else { throw StateError.malformed("audit.commands") }
    }
}

extension TPM {
    var auditHash: HashAlgorithm { HashAlgorithm(rawValue: persistent.audit.hashAlg.rawValue) ?? TPM.contextIntegrityHash }

    /// The dispatcher's hook after a successful command (the reference's CommandAudit): extends
    /// the command audit digest when the command is audited. `parameters` are the response
    /// parameters as sent.
    func commandAudit(_ area: inout AuthorizationArea, parameters: [UInt8]) {
        guard persistent.audit.commands.contains(area.code) else { return }
        // SetCommandCodeAuditStatus just changed the hash: it is not audited itself, and the
        // next audited command starts a new digest (the reference's size-1 marker).
        if volatile.auditHashChanged {
            volatile.auditHashChanged = false
            volatile.commandAuditDigest = []
            return
        }
        let alg = auditHash
        if volatile.commandAuditDigest.isEmpty {
            volatile.commandAuditDigest = [UInt8](repeating: 0, count: alg.digestSize)
            persistent.audit.counter &+= 1
            nvChanged = true
        }
        volatile.commandAuditDigest = alg.digest([
            volatile.commandAuditDigest, area.cpHash(alg), rpHash(alg, code: area.code, parameters: parameters),
        ])
    }

    /// H_auditAlg(commandCode_1 || commandCode_2 || ...) over the audited commands in
    /// ascending order (the reference's CommandAuditGetDigest).
    var auditedCommandsDigest: [UInt8] {
        auditHash.digest(persistent.audit.sorted.map { u32Bytes($0.rawValue) })
    }
}
