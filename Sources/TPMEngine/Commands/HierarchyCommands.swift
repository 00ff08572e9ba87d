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
    /// objects, transient and persistent, and the NV Indices the owner defined. New storage seed and owner/endorsement proofs (so every saved context and
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
        // Owner-created NV Indices and persistent objects of both hierarchies (NV.swift).
        nvFlushHierarchy(.owner)
        nvFlushHierarchy(.endorsement)
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
    /// Flushes every loaded object of a hierarchy (the reference's ObjectFlushHierarchy), as
    /// disabling a hierarchy or replacing its seed requires.
    func flushObjects(of hierarchy: TPMHandle) {
        for (handle, object) in volatile.objects where object.hierarchy == hierarchy {
            flushTransientObject(TPMHandle(handle))
        }
    }

    /// TPM2_HierarchyControl (Part 3, 24.2): enables or disables a hierarchy (enable is a
    /// TPMI_RH_ENABLES: owner, endorsement, platform or TPM_RH_PLATFORM_NV; TPM_RC_VALUE + P1).
    /// The platform and its NV only with platformAuth; the owner or endorsement hierarchy with
    /// its own authorization or platformAuth, but only platformAuth may enable them again
    /// (TPM_RC_AUTH_TYPE, unnumbered, as Part 3 and libtpms give it). Disabling a hierarchy
    /// flushes its objects. phEnable, shEnable and ehEnable are STATE_CLEAR data: a change ends
    /// an orderly state (the command is NV-attributed, so dispatch does that).
    func hierarchyControlCommand(_ c: inout CommandContext) throws {
        let enable = try c.param { r -> TPMHandle in
            let h = TPMHandle(try r.u32())
            guard [TPMHandle.owner, .endorsement, .platform, .platformNV].contains(h) else { throw TPMError.value }
            return h
        }
        let state = try c.param(TPMIYesNo.self).value
        try c.finish()
        let auth = c.handles[0]
        let flag: TPMAStartupClear
        switch enable {
        case .platform, .platformNV:
            guard auth == .platform else { throw TPMError(.authType) }
            flag = enable == .platform ? .phEnable : .phEnableNV
        case .owner:
            guard auth == .platform || auth == .owner else { throw TPMError(.authType) }
            if !volatile.startupClear.contains(.shEnable) && state && auth != .platform { throw TPMError(.authType) }
            flag = .shEnable
        default:
            guard auth == .platform || auth == .endorsement else { throw TPMError(.authType) }
            if !volatile.startupClear.contains(.ehEnable) && state && auth != .platform { throw TPMError(.authType) }
            flag = .ehEnable
        }
        guard volatile.startupClear.contains(flag) != state else { return }
        if state {
            volatile.startupClear.insert(flag)
        } else {
            volatile.startupClear.remove(flag)
            if enable != .platformNV { flushObjects(of: enable) }
        }
    }

    /// TPM2_SetPrimaryPolicy (Part 3, 24.4): the authPolicy of a hierarchy or lockout, a digest
    /// of hashAlg (TPM_ALG_NULL with an empty policy; TPM_RC_SIZE + P1 otherwise). The owner,
    /// endorsement and lockout policies are persistent; the platform's is STATE_CLEAR data.
    func setPrimaryPolicyCommand(_ c: inout CommandContext) throws {
        let authPolicy = try c.param(TPM2BDigest.self)
        let hashAlg = try c.param { try TPMIAlgHash(from: &$0, allowNull: true) }
        try c.finish()
        let size = hashAlg.isNull ? 0 : TPMLimits.digestSize(hashAlg.alg) ?? -1
        guard authPolicy.count == size else { throw TPMError.size.parameter(1) }
        let alg = hashAlg.isNull ? TPMAlgID.null : hashAlg.alg
        switch c.handles[0] {
        case .owner:
            (persistent.owner.policyAlg, persistent.owner.policy) = (alg, authPolicy.buffer)
            nvChanged = true
        case .endorsement:
            (persistent.endorsement.policyAlg, persistent.endorsement.policy) = (alg, authPolicy.buffer)
            nvChanged = true
        case .lockout:
            (persistent.lockout.policyAlg, persistent.lockout.policy) = (alg, authPolicy.buffer)
            nvChanged = true
        case .platform:
            (volatile.platform.policyAlg, volatile.platform.policy) = (alg, authPolicy.buffer)
        default:
            throw TPMError.value.handle(1)
        }
    }

    /// TPM2_ChangePPS (Part 3, 24.5): a new platform primary seed and phProof (every platform
    /// primary key, saved context and ticket of the platform hierarchy dies), the platform
    /// policy emptied, its loaded objects flushed. (Persistent objects and NV Indices of the
    /// platform arrive with the NV commands, which must flush them here too.)
    func changePPSCommand(_ c: inout CommandContext) throws {
        try c.finish()
        persistent.pps = random(PersistentState.seedSize)
        persistent.phProof = random(PersistentState.proofSize)
        volatile.platform.policyAlg = .null
        volatile.platform.policy = []
        flushObjects(of: .platform)
        nvChanged = true
    }

    /// TPM2_ChangeEPS (Part 3, 24.6): a new endorsement primary seed and ehProof, the
    /// endorsement hierarchy enabled with an empty authValue and policy, its loaded objects
    /// flushed. (Its persistent objects, with the NV commands, must be flushed here too.)
    func changeEPSCommand(_ c: inout CommandContext) throws {
        try c.finish()
        persistent.eps = random(PersistentState.seedSize)
        persistent.ehProof = random(PersistentState.proofSize)
        volatile.startupClear.insert(.ehEnable)
        persistent.endorsement = EntityAuth()
        flushObjects(of: .endorsement)
        nvChanged = true
    }
}
