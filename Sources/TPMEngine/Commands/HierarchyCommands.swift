import TPMWire

extension TPM {
    /// TPM2_HierarchyChangeAuth (Part 3, 24.8): the new authValue may be no longer than
    /// the context integrity digest (SHA-256 here: 32 octets, TPM_RC_SIZE otherwise);
    /// trailing zeros are dropped.
    func hierarchyChangeAuthCommand(_ c: inout CommandContext) throws {
        let newAuth = try c.param(TPM2BAuth.self)
        try c.finish()
        let auth = stripTrailingZeros(newAuth.buffer)
        guard auth.count <= TPM.contextIntegrityHash.digestSize else { throw TPMError.size.parameter(1) }
        switch c.handles[0] {
        case .owner:
            persistent.owner.authValue = auth
            nvChanged = true
        case .endorsement:
            persistent.endorsement.authValue = auth
            nvChanged = true
        case .lockout:
            persistent.lockout.authValue = auth
            nvChanged = true
        case .platform: volatile.platform.authValue = auth
        default: throw TPMError.value.handle(1)
        }
    }
}

extension TPM {
    /// TPM2_Clear (Part 3, 24.6): removes the owner and endorsement hierarchies' secrets and
    /// objects. New storage seed and owner/endorsement proofs (so every saved context and
    /// ticket of those hierarchies dies), authValues and policies emptied, both hierarchies
    /// enabled, dictionary-attack parameters back to their defaults, Clock and the reset,
    /// restart and clear counters back to zero, and a PCR change counted (the reference's
    /// PCRChanged(0), which libtpms reports through the update counter).
    func clearCommand(_ c: inout CommandContext) throws {
        try c.finish()
        guard !persistent.disableClear else { throw TPMError(.disabled) }
        persistent.sps = random(PersistentState.seedSize)
        persistent.shProof = random(PersistentState.proofSize)
        persistent.ehProof = random(PersistentState.proofSize)
        volatile.startupClear.formUnion([.shEnable, .ehEnable])
        persistent.owner = EntityAuth()
        persistent.endorsement = EntityAuth()
        persistent.lockout = EntityAuth()
        for (handle, object) in volatile.objects where object.hierarchy == .owner || object.hierarchy == .endorsement {
            _ = flushTransientObject(TPMHandle(handle))
        }
        persistent.da = DictionaryAttackState()
        setClock(0)
        persistent.resetCount = 0
        persistent.restartCount = 0
        persistent.clearCount = 0
        if !PCRAttributes.table[0].noIncrement { volatile.pcrUpdateCounter &+= 1 }
        nvChanged = true
    }

    /// TPM2_ClearControl (Part 3, 24.7): lockout may only disable Clear; re-enabling takes
    /// platform authorization (TPM_RC_AUTH_FAIL, unnumbered, as Part 3 and libtpms give it).
    func clearControlCommand(_ c: inout CommandContext) throws {
        let disable = try c.param(TPMIYesNo.self)
        try c.finish()
        if c.handles[0] == .lockout && !disable.value { throw TPMError(.authFail) }
        if persistent.disableClear != disable.value {
            persistent.disableClear = disable.value
            nvChanged = true
        }
    }
}

extension TPM {
    /// TPM2_SetPrimaryPolicy (Part 3, 24.5): the authPolicy of a hierarchy or lockout, with
    /// its hash. authPolicy must have hashAlg's digest size (TPM_RC_SIZE + P1); NULL with an
    /// empty digest removes the policy. The platform's lives with its authValue (STATE_CLEAR
    /// data); the others are NV data.
    func setPrimaryPolicyCommand(_ c: inout CommandContext) throws {
        let authPolicy = try c.param(TPM2BDigest.self).buffer
        let hashAlg = try c.param { try TPMIAlgHash(from: &$0, allowNull: true) }.alg
        try c.finish()
        guard authPolicy.count == (TPMLimits.digestSize(hashAlg) ?? 0) else { throw TPMError.size.parameter(1) }
        func set(_ e: inout EntityAuth) {
            e.policyAlg = hashAlg
            e.policy = authPolicy
        }
        switch c.handles[0] {
        case .owner:
            set(&persistent.owner)
            nvChanged = true
        case .endorsement:
            set(&persistent.endorsement)
            nvChanged = true
        case .lockout:
            set(&persistent.lockout)
            nvChanged = true
        case .platform: set(&volatile.platform)
        default: throw TPMError.value.handle(1)
        }
    }
}
