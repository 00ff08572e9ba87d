import TPMCrypto
import TPMWire

extension TPM {
    func bankIndex(_ alg: TPMAlgID) -> Int? { volatile.pcrBanks.firstIndex { $0.alg == alg } }

    /// Counts a PCR change unless the PCR is exempt (TPM_PT_PCR_NO_INCREMENT). Extends count
    /// once per bank changed, as libtpms does (an extend of two banks adds two).
    func pcrChanged(_ pcr: Int) {
        if !PCRAttributes.table[pcr].noIncrement { volatile.pcrUpdateCounter &+= 1 }
    }

    func extendAllowed(_ pcr: Int, locality: UInt8) -> Bool {
        locality < 5 && PCRAttributes.table[pcr].extendLocalities & (1 << locality) != 0
    }

    /// TPM2_PCR_Read (Part 3, 22.4): at most eight digests; the returned selection keeps
    /// only the PCRs whose values are returned.
    func pcrReadCommand(_ c: inout CommandContext) throws {
        let selIn = try c.param(TPMLPCRSelection.self)
        try c.finish()
        var out: [TPMSPCRSelection] = []
        var digests: [TPM2BDigest] = []
        for sel in selIn.selections {
            var o = TPMSPCRSelection(hash: sel.hash, select: [UInt8](repeating: 0, count: sel.select.count))
            if let b = bankIndex(sel.hash) {
                let bank = volatile.pcrBanks[b]
                for pcr in sel.selectedPCRs where pcr < TPMLimits.pcrCount && bank.isAllocated(pcr) {
                    guard digests.count < TPMLimits.maxDigestListCount else { break }
                    digests.append(TPM2BDigest(bank.values[pcr]))
                    o.select[pcr / 8] |= 1 << (pcr % 8)
                }
            }
            out.append(o)
        }
        c.response.u32(volatile.pcrUpdateCounter)
        TPMLPCRSelection(out).encode(to: &c.response)
        TPMLDigest(digests).encode(to: &c.response)
    }

    /// TPM2_PCR_Extend (Part 3, 22.2). Digests for banks that are not allocated are ignored.
    func pcrExtendCommand(_ c: inout CommandContext) throws {
        let digests = try c.param(TPMLDigestValues.self)
        try c.finish()
        let h = c.handles[0]
        if h == .null { return }
        let pcr = Int(h.rawValue)
        guard extendAllowed(pcr, locality: c.locality) else { throw TPMError(.locality) }
        for d in digests.digests {
            if let b = bankIndex(d.hashAlg), volatile.pcrBanks[b].isAllocated(pcr) {
                volatile.pcrBanks[b].extend(pcr, d.digest)
                pcrChanged(pcr)
            }
        }
    }

    /// TPM2_PCR_Event (Part 3, 22.3): the event data is hashed with every implemented hash;
    /// the digests are returned and, unless the handle is TPM_RH_NULL, extended.
    func pcrEventCommand(_ c: inout CommandContext) throws {
        let event = try c.param(TPM2BEvent.self)
        try c.finish()
        let h = c.handles[0]
        let pcr = h == .null ? nil : Int(h.rawValue)
        if let pcr { guard extendAllowed(pcr, locality: c.locality) else { throw TPMError(.locality) } }
        var out: [TPMTHA] = []
        for alg in TPMLimits.hashAlgorithms {
            let d = HashAlgorithm(rawValue: alg.rawValue)!.digest(event.buffer)
            out.append(TPMTHA(hashAlg: alg, digest: d))
            if let pcr, let b = bankIndex(alg), volatile.pcrBanks[b].isAllocated(pcr) {
                volatile.pcrBanks[b].extend(pcr, d)
                pcrChanged(pcr)
            }
        }
        TPMLDigestValues(out).encode(to: &c.response)
    }

    /// TPM2_PCR_Reset (Part 3, 22.8): only PCRs resettable at the command's locality.
    func pcrResetCommand(_ c: inout CommandContext) throws {
        try c.finish()
        let pcr = Int(c.handles[0].rawValue)
        let mask = PCRAttributes.table[pcr].resetLocalities
        guard c.locality < 5, mask & (1 << c.locality) != 0 else { throw TPMError(.locality) }
        for b in volatile.pcrBanks.indices where volatile.pcrBanks[b].isAllocated(pcr) {
            volatile.pcrBanks[b].values[pcr] = [UInt8](repeating: 0, count: TPMLimits.digestSize(volatile.pcrBanks[b].alg) ?? 0)
        }
        pcrChanged(pcr)
    }

    /// TPM2_PCR_Allocate (Part 3, 22.5): records the allocation for the next TPM Reset.
    /// Banks named in the request take the given PCRs; other banks keep theirs.
    func pcrAllocateCommand(_ c: inout CommandContext) throws {
        let request = try c.param(TPMLPCRSelection.self)
        try c.finish()
        var next = persistent.pcrAllocation
        for sel in request.selections {
            var mask: UInt32 = 0
            for p in sel.selectedPCRs where p < TPMLimits.pcrCount { mask |= 1 << UInt32(p) }
            if let i = next.firstIndex(where: { $0.alg == sel.hash }) { next[i].mask = mask }
        }
        // Every bank costs its digest size per allocated PCR.
        let sizeNeeded = next.reduce(0) { $0 + (TPMLimits.digestSize($1.alg) ?? 0) * $1.mask.nonzeroBitCount }
        let sizeAvailable = TPMLimits.hashAlgorithms.reduce(0) { $0 + (TPMLimits.digestSize($1) ?? 0) * TPMLimits.pcrCount }
        let success = sizeNeeded <= sizeAvailable
        if success && next != persistent.pcrAllocation {
            persistent.pcrAllocation = next
            nvChanged = true
        }
        TPMIYesNo(success).encode(to: &c.response)
        c.response.u32(UInt32(TPMLimits.pcrCount))
        c.response.u32(UInt32(sizeNeeded))
        c.response.u32(UInt32(sizeAvailable))
    }
}

// MARK: - PCR authorization (PCRAuthorization.swift)

extension TPM {
    /// TPM2_PCR_SetAuthValue (Part 3, 22.7): the authValue of the PCR's auth group, trailing
    /// zeros removed. A PCR outside every auth group: TPM_RC_VALUE (unnumbered, as libtpms).
    /// STATE_CLEAR data changed after Shutdown(STATE): the saved state no longer holds.
    func pcrSetAuthValueCommand(_ c: inout CommandContext) throws {
        let auth = try c.param(TPM2BDigest.self).buffer
        try c.finish()
        guard pcrInAuthGroup(c.handles[0]) else { throw TPMError.value }
        clearOrderlyState()
        volatile.pcrAuthValue = stripTrailingZeros(auth)
    }

    /// TPM2_PCR_SetAuthPolicy (Part 3, 22.6): the policy of pcrNum's policy group, authorized
    /// by the platform. authPolicy must have hashAlg's digest size (TPM_RC_SIZE + P1; NULL
    /// with an empty digest removes the policy); a PCR outside every policy group:
    /// TPM_RC_VALUE + P3.
    func pcrSetAuthPolicyCommand(_ c: inout CommandContext) throws {
        let authPolicy = try c.param(TPM2BDigest.self).buffer
        let hashAlg = try c.param { try TPMIAlgHash(from: &$0, allowNull: true) }
        let pcrNum = try c.param { r -> TPMHandle in
            // TPMI_DH_PCR as a parameter: a PCR number (TPM_RC_VALUE).
            let h = TPMHandle(try r.u32())
            guard h.rawValue < UInt32(TPMLimits.pcrCount) else { throw TPMError.value }
            return h
        }
        try c.finish()
        guard authPolicy.count == (TPMLimits.digestSize(hashAlg.alg) ?? 0) else { throw TPMError.size.parameter(1) }
        guard pcrInPolicyGroup(pcrNum) else { throw TPMError.value.parameter(3) }
        let policy = EntityAuth(authValue: [], policyAlg: hashAlg.alg, policy: authPolicy)
        if policy != persistent.pcrPolicy {
            persistent.pcrPolicy = policy
            nvChanged = true
        }
    }
}
