import TPMCrypto
import TPMWire

// The policy commands that need no object or NV Index (Part 3, 23). Each takes a policy or
// trial session as its first handle (the dispatcher has checked that it is loaded and of the
// right type), checks its parameters (a trial session skips the checks against TPM state),
// extends the session's policyDigest and records the condition it adds. Nothing changes when
// a command fails.

extension TPM {
    /// The policy session a policy command names.
    func policySession(_ c: CommandContext, index: Int = 0) throws -> Session {
        guard let s = loadedSession(c.handles[index]), s.policy != nil else { throw TPMError(.referenceHandle(index)) }
        return s
    }

    /// TPM2_PolicyPCR (Part 3, 23.7):
    ///   policyDigest_new = H(policyDigest_old || TPM_CC_PolicyPCR || pcrs || pcrDigest)
    /// where pcrDigest is the digest of the selected PCRs now; a given pcrDigest must match it
    /// (TPM_RC_VALUE), except in a trial session, which uses the given one. The session
    /// remembers pcrUpdateCounter: a later PCR change fails the policy.
    func policyPCRCommand(_ c: inout CommandContext) throws {
        let pcrDigest = try c.param(TPM2BDigest.self).buffer
        let pcrs = try c.param(TPMLPCRSelection.self)
        try c.finish()
        var s = try policySession(c)
        var (digest, filtered) = currentPCRDigest(s.authHash, pcrs)
        if !s.isTrial {
            if let counter = s.policy?.pcrUpdateCounter, counter != volatile.pcrUpdateCounter { throw TPMError(.pcrChanged) }
            if !pcrDigest.isEmpty && !constantTimeEqual(pcrDigest, digest) { throw TPMError.value.parameter(1) }
        } else if !pcrDigest.isEmpty {
            digest = pcrDigest
        }
        s.extendPolicy(.policyPCR, filtered.wireBytes, digest)
        if !s.isTrial { s.policy?.pcrUpdateCounter = volatile.pcrUpdateCounter }
        storeSession(s, at: c.handles[0])
    }

    /// TPM2_PolicyLocality (Part 3, 23.8): policyDigest_new = H(old || TPM_CC_PolicyLocality ||
    /// locality). Localities 0-4 are a bit field and narrow any earlier setting; extended
    /// localities (32-255) must equal it. An empty or contradictory result: TPM_RC_RANGE.
    func policyLocalityCommand(_ c: inout CommandContext) throws {
        let locality = try c.param { try $0.u8() }
        try c.finish()
        var s = try policySession(c)
        guard locality != 0 else { throw TPMError(.range).parameter(1) }
        var setting = s.policy?.locality ?? 0
        if setting != 0 && (setting < 32) != (locality < 32) { throw TPMError(.range).parameter(1) }
        if locality < 32 {
            if setting == 0 { setting = 0x1F }
            setting &= locality
            guard setting != 0 else { throw TPMError(.range).parameter(1) }
        } else {
            guard setting == 0 || setting == locality else { throw TPMError(.range).parameter(1) }
            setting = locality
        }
        s.extendPolicy(.policyLocality, [locality])
        s.policy?.locality = setting
        storeSession(s, at: c.handles[0])
    }

    /// TPM2_PolicyCommandCode (Part 3, 23.11): H(old || TPM_CC_PolicyCommandCode || code). A
    /// different code set before: TPM_RC_VALUE; a command this TPM does not implement:
    /// TPM_RC_POLICY_CC.
    func policyCommandCodeCommand(_ c: inout CommandContext) throws {
        let code = TPMCC(try c.param { try $0.u32() })
        try c.finish()
        var s = try policySession(c)
        if let cc = s.policy?.commandCode, cc != code { throw TPMError.value.parameter(1) }
        guard TPM.commandIndex[code] != nil else { throw TPMError(.policyCC).parameter(1) }
        s.extendPolicy(.policyCommandCode, u32Bytes(code.rawValue))
        s.policy?.commandCode = code
        storeSession(s, at: c.handles[0])
    }

    /// TPM2_PolicyAuthValue (Part 3, 23.17): H(old || TPM_CC_PolicyAuthValue); the session's
    /// HMAC key then includes the entity's authValue.
    func policyAuthValueCommand(_ c: inout CommandContext) throws {
        try c.finish()
        var s = try policySession(c)
        s.extendPolicy(.policyAuthValue)
        s.policy?.isAuthValueNeeded = true
        s.policy?.isPasswordNeeded = false
        storeSession(s, at: c.handles[0])
    }

    /// TPM2_PolicyPassword (Part 3, 23.18): the same digest as PolicyAuthValue (its command
    /// code, TPM_CC_PolicyAuthValue), but the authValue itself goes in the HMAC field.
    func policyPasswordCommand(_ c: inout CommandContext) throws {
        try c.finish()
        var s = try policySession(c)
        s.extendPolicy(.policyAuthValue)
        s.policy?.isPasswordNeeded = true
        s.policy?.isAuthValueNeeded = false
        storeSession(s, at: c.handles[0])
    }

    /// TPM2_PolicyGetDigest (Part 3, 23.19).
    func policyGetDigestCommand(_ c: inout CommandContext) throws {
        try c.finish()
        let s = try policySession(c)
        TPM2BDigest(s.policy?.digest ?? []).encode(to: &c.response)
    }

    /// TPM2_PolicyOR (Part 3, 23.6): when the current policyDigest is one of the 2 to 8
    /// digests (any, in a trial session), policyDigest_new = H(0...0 || TPM_CC_PolicyOR ||
    /// digests); otherwise TPM_RC_VALUE.
    func policyORCommand(_ c: inout CommandContext) throws {
        let list = try c.param { r -> [[UInt8]] in
            // TPML_DIGEST as PolicyOR reads it: at least two entries (Part 3, 23.6; libtpms).
            let n = try r.u32()
            guard n >= 2, n <= TPMLimits.maxDigestListCount else { throw TPMError.size }
            return try (0..<n).map { _ in try r.sized(max: TPMLimits.maxDigestSize) }
        }
        try c.finish()
        var s = try policySession(c)
        guard var p = s.policy else { throw TPMError(.referenceHandle(0)) }
        guard s.isTrial || list.contains(where: { constantTimeEqual($0, p.digest) }) else { throw TPMError.value.parameter(1) }
        p.digest = [UInt8](repeating: 0, count: s.authHash.digestSize)
        s.policy = p
        s.extendPolicy(.policyOR, list.flatMap { $0 })
        storeSession(s, at: c.handles[0])
    }

    /// TPM2_PolicyCpHash (Part 3, 23.13): H(old || TPM_CC_PolicyCpHash || cpHashA); the
    /// session then authorizes only a command with that cpHash. The size must be the
    /// session's digest size (TPM_RC_SIZE); another cpHash, nameHash or template set before:
    /// TPM_RC_CPHASH.
    func policyCpHashCommand(_ c: inout CommandContext) throws {
        let cpHash = try c.param(TPM2BDigest.self).buffer
        try c.finish()
        var s = try policySession(c)
        guard cpHash.count == s.authHash.digestSize else { throw TPMError.size.parameter(1) }
        if let r = s.policy?.restriction, r.kind != .cpHash || r.digest != cpHash { throw TPMError(.cpHash) }
        s.extendPolicy(.policyCpHash, cpHash)
        s.policy?.restriction = PolicyRestriction(kind: .cpHash, digest: cpHash)
        storeSession(s, at: c.handles[0])
    }

    /// TPM2_PolicyNameHash (Part 3, 23.14): H(old || TPM_CC_PolicyNameHash || nameHash); the
    /// session then authorizes only a command whose handles have those Names. Same size and
    /// TPM_RC_CPHASH rules as PolicyCpHash (any earlier restriction).
    func policyNameHashCommand(_ c: inout CommandContext) throws {
        let nameHash = try c.param(TPM2BDigest.self).buffer
        try c.finish()
        var s = try policySession(c)
        guard nameHash.count == s.authHash.digestSize else { throw TPMError.size.parameter(1) }
        guard s.policy?.restriction == nil else { throw TPMError(.cpHash) }
        s.extendPolicy(.policyNameHash, nameHash)
        s.policy?.restriction = PolicyRestriction(kind: .nameHash, digest: nameHash)
        storeSession(s, at: c.handles[0])
    }

    /// TPM2_PolicyCounterTimer (Part 3, 23.10): compares operandB with the octets of the
    /// marshalled TPMS_TIME_INFO (Time, Clock, resetCount, restartCount, safe; 25 octets) at
    /// offset. An offset past the structure: TPM_RC_VALUE; operandB running past it:
    /// TPM_RC_RANGE (without a parameter number, as in the reference); a false comparison:
    /// TPM_RC_POLICY. policyDigest_new = H(old || TPM_CC_PolicyCounterTimer || args) with
    /// args = H(operandB || offset || operation).
    func policyCounterTimerCommand(_ c: inout CommandContext) throws {
        let operandB = try c.param(TPM2BDigest.self).buffer
        let offset = try c.param { try $0.u16() }
        let operation = try c.param { r -> UInt16 in
            let op = try r.u16()
            // TPM_EO (Part 2, 6.8): TPM_EO_EQ ... TPM_EO_BITCLEAR.
            guard op <= 0x000B else { throw TPMError.value }
            return op
        }
        try c.finish()
        let info = timeInfo.wireBytes
        guard Int(offset) <= info.count else { throw TPMError.value.parameter(2) }
        guard Int(offset) + operandB.count <= info.count else { throw TPMError(.range) }
        var s = try policySession(c)
        if !s.isTrial {
            let a = info[Int(offset)..<(Int(offset) + operandB.count)]
            guard TPM.policyCondition(operation, a, operandB) else { throw TPMError(.policy) }
        }
        let args = s.authHash.digest([operandB, u16Bytes(offset), u16Bytes(operation)])
        s.extendPolicy(.policyCounterTimer, args)
        storeSession(s, at: c.handles[0])
    }

    /// TPM2_PolicyPhysicalPresence (Part 3, 23.15): H(old || TPM_CC_PolicyPhysicalPresence);
    /// physical presence must be asserted when the session is used.
    func policyPhysicalPresenceCommand(_ c: inout CommandContext) throws {
        try c.finish()
        var s = try policySession(c)
        s.extendPolicy(.policyPhysicalPresence)
        s.policy?.isPPRequired = true
        storeSession(s, at: c.handles[0])
    }

    /// TPM2_PolicyDuplicationSelect (Part 3, 23.16): restricts the session to TPM2_Duplicate of
    /// objectName to newParentName:
    ///   nameHash = H(objectName || newParentName)
    ///   policyDigest_new = H(old || TPM_CC_PolicyDuplicationSelect || [objectName] ||
    ///                        newParentName || includeObject)
    /// with objectName only when includeObject is YES. A restriction or command code set
    /// before: TPM_RC_CPHASH, TPM_RC_COMMAND_CODE.
    func policyDuplicationSelectCommand(_ c: inout CommandContext) throws {
        let objectName = try c.param(TPM2BName.self).buffer
        let newParentName = try c.param(TPM2BName.self).buffer
        let includeObject = try c.param(TPMIYesNo.self).value
        try c.finish()
        var s = try policySession(c)
        guard s.policy?.restriction == nil else { throw TPMError(.cpHash) }
        guard s.policy?.commandCode == nil else { throw TPMError(.commandCode) }
        s.extendPolicy(.policyDuplicationSelect, includeObject ? objectName : [], newParentName, [includeObject ? 1 : 0])
        s.policy?.restriction = PolicyRestriction(kind: .nameHash, digest: s.authHash.digest([objectName, newParentName]))
        s.policy?.commandCode = .duplicate
        storeSession(s, at: c.handles[0])
    }

    /// TPM2_PolicyTemplate (Part 3, 23.21): H(old || TPM_CC_PolicyTemplate || templateHash);
    /// the session then authorizes only Create, CreatePrimary or CreateLoaded with a template
    /// of that hash. A different template before: TPM_RC_VALUE; a cpHash or nameHash:
    /// TPM_RC_CPHASH; the wrong size: TPM_RC_SIZE.
    func policyTemplateCommand(_ c: inout CommandContext) throws {
        let templateHash = try c.param(TPM2BDigest.self).buffer
        try c.finish()
        var s = try policySession(c)
        if let r = s.policy?.restriction {
            guard r.kind == .templateHash else { throw TPMError(.cpHash) }
            guard r.digest == templateHash else { throw TPMError.value.parameter(1) }
        }
        guard templateHash.count == s.authHash.digestSize else { throw TPMError.size.parameter(1) }
        s.extendPolicy(.policyTemplate, templateHash)
        s.policy?.restriction = PolicyRestriction(kind: .templateHash, digest: templateHash)
        storeSession(s, at: c.handles[0])
    }
}
