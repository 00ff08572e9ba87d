import TPMCrypto
import TPMWire

// The audit commands (Part 3, 21.2, 18.5 and 18.6): which commands are audited, and signed
// reports of the command audit digest and of a session's audit digest. The digests themselves
// are kept by Audit.swift (command audit) and Authorization.swift (session audit).

extension TPM {
    /// TPM2_SetCommandCodeAuditStatus (Part 3, 21.2): either changes the audit hash (when
    /// auditAlg is not NULL and differs from the current one; then both lists must be empty,
    /// TPM_RC_VALUE + P1) or adds setList and removes clearList. Codes this TPM does not
    /// implement are ignored; SetCommandCodeAuditStatus itself stays audited. A new hash
    /// restarts the digest: this command is not audited under either hash, and the next
    /// audited command increments the counter.
    func setCommandCodeAuditStatusCommand(_ c: inout CommandContext) throws {
        let auditAlg = try c.param { try TPMIAlgHash(from: &$0, allowNull: true) }
        let setList = try c.param(TPMLCC.self).items
        let clearList = try c.param(TPMLCC.self).items
        try c.finish()
        if !auditAlg.isNull && auditAlg.alg != persistent.audit.hashAlg {
            guard setList.isEmpty && clearList.isEmpty else { throw TPMError.value.parameter(1) }
            persistent.audit.hashAlg = auditAlg.alg
            volatile.auditHashChanged = true
            nvChanged = true
            return
        }
        var commands = persistent.audit.commands
        for code in setList where TPM.commandIndex[code] != nil { commands.insert(code) }
        for code in clearList where code != CommandAuditState.alwaysAudited { commands.remove(code) }
        if commands != persistent.audit.commands {
            persistent.audit.commands = commands
            nvChanged = true
        }
    }

    /// TPM2_GetCommandAuditDigest (Part 3, 18.5): TPMS_COMMAND_AUDIT_INFO (audit counter, hash,
    /// the command audit digest, and the digest of the audited command codes), signed like any
    /// attestation (privacyHandle is the endorsement hierarchy). Checks: a signing key or
    /// TPM_RH_NULL (TPM_RC_KEY + H2), a compatible scheme (TPM_RC_SCHEME + P2). Signed with a
    /// key, the digest is then cleared: the next audited command starts a new run.
    func getCommandAuditDigestCommand(_ c: inout CommandContext) throws {
        let qualifyingData = try c.param(TPM2BData.self)
        let inScheme = try c.param(TPM.sigSchemeParameter)
        try c.finish()
        let signer = try attestationSigner(c.handles[1], handleNumber: 2)
        let scheme = try attestationScheme(signer, requested: inScheme, parameter: 2)
        let info = TPMSCommandAuditInfo(
            auditCounter: persistent.audit.counter, digestAlg: persistent.audit.hashAlg,
            auditDigest: TPM2BDigest(volatile.commandAuditDigest), commandDigest: TPM2BDigest(auditedCommandsDigest))
        let (auditInfo, signature) = try attest(
            signer: signer, scheme: scheme, qualifyingData: qualifyingData, attested: .commandAudit(info))
        if signer != nil { volatile.commandAuditDigest = [] }
        auditInfo.encode(to: &c.response)
        signature.encode(to: &c.response)
    }

    /// TPM2_GetSessionAuditDigest (Part 3, 18.6): TPMS_SESSION_AUDIT_INFO (whether the session
    /// is the exclusive audit session, and its audit digest), signed. Checks: an audit session
    /// (TPM_RC_TYPE + H3), a signing key or TPM_RH_NULL (TPM_RC_KEY + H2), a compatible scheme
    /// (TPM_RC_SCHEME + P2).
    func getSessionAuditDigestCommand(_ c: inout CommandContext) throws {
        let qualifyingData = try c.param(TPM2BData.self)
        let inScheme = try c.param(TPM.sigSchemeParameter)
        try c.finish()
        let h = c.handles[2]
        guard let session = loadedSession(h) else { throw TPMError(.referenceHandle(2)) }
        guard session.isAudit else { throw TPMError(.type).handle(3) }
        let signer = try attestationSigner(c.handles[1], handleNumber: 2)
        let scheme = try attestationScheme(signer, requested: inScheme, parameter: 2)
        let info = TPMSSessionAuditInfo(
            exclusiveSession: volatile.exclusiveAuditSession == h, sessionDigest: TPM2BDigest(session.auditDigest))
        let (auditInfo, signature) = try attest(
            signer: signer, scheme: scheme, qualifyingData: qualifyingData, attested: .sessionAudit(info))
        auditInfo.encode(to: &c.response)
        signature.encode(to: &c.response)
    }
}
