import TPMWire

extension TPM {
    /// TPM2_Startup (Part 3, 9.3; Part 1, 12.2): TPM Reset, TPM Restart or TPM Resume.
    func startupCommand(_ c: inout CommandContext) throws {
        let raw = try c.param { try $0.u16() }
        try c.finish()
        guard let type = TPMSU(rawValue: raw) else { throw TPMError.value.parameter(1) }
        let previous = persistent.orderlyState
        let saved = persistent.savedState
        // Startup(STATE) needs a preceding Shutdown(STATE) and an unchanged PCR allocation.
        if type == .state {
            guard previous == TPMSU.state.rawValue, let saved, saved.allocation == persistent.pcrAllocation else {
                throw TPMError.value.parameter(1)
            }
        }
        let locality = c.locality
        if previous == TPMSU.state.rawValue, let saved, saved.allocation == persistent.pcrAllocation {
            // TPM Restart (CLEAR) or TPM Resume (STATE): STATE_RESET data comes back.
            volatile.nullSeed = saved.nullSeed
            volatile.nullProof = saved.nullProof
            volatile.contextCounter = saved.contextCounter
            volatile.commit = saved.commit
            persistent.restartCount = saved.restartCount &+ 1
            if type == .state {
                // Resume: STATE_CLEAR data too, and the PCRs marked stateSave.
                volatile.startupLocality = saved.startupLocality
                volatile.platform = saved.platform
                volatile.pcrAuthValue = saved.pcrAuthValue
                volatile.startupClear = saved.startupClear
                // Only Startup enables the platform hierarchy again (Part 3, 24.2; the reference's HierarchyStartup).
                volatile.startupClear.insert(.phEnable)
                volatile.pcrUpdateCounter = saved.pcrUpdateCounter
                volatile.pcrBanks = saved.pcrBanks.map { bank in
                    var b = PCRBank(alg: bank.alg, allocated: bank.allocated, startupLocality: saved.startupLocality)
                    for p in 0..<TPMLimits.pcrCount where PCRAttributes.table[p].stateSave { b.values[p] = bank.values[p] }
                    return b
                }
            } else {
                startupClearData(locality: locality)
                volatile.pcrUpdateCounter = saved.pcrUpdateCounter
                nvStartup(reset: false)
            }
            sessionStartup(restoring: saved)
        } else {
            // TPM Reset.
            volatile.nullSeed = random(PersistentState.seedSize)
            volatile.nullProof = random(PersistentState.proofSize)
            volatile.contextCounter = 0
            volatile.commit = CommitState()
            persistent.resetCount &+= 1
            persistent.restartCount = 0
            startupClearData(locality: locality)
            volatile.pcrUpdateCounter = 0
            sessionStartup(restoring: nil)
            nvStartup(reset: true)
        }
        // Every PCR that was (re)initialized rather than restored counts as a change, as in
        // the reference's PCRStartup and libtpms: +20 at Reset and Restart (the 24 PC Client
        // PCRs less the four no-increment ones), +4 at Resume (PCRs 17-20).
        for pcr in 0..<TPMLimits.pcrCount where !(type == .state && PCRAttributes.table[pcr].stateSave) {
            pcrChanged(pcr)
        }
        daStartup(previousOrderlyState: previous)
        volatile.startupClear.remove(.orderly)
        if previous != PersistentState.orderlyNone { volatile.startupClear.insert(.orderly) }
        volatile.started = true
        persistent.orderlyState = PersistentState.orderlyNone
        persistent.savedState = nil
        nvChanged = true
    }

    /// STATE_CLEAR data at TPM Reset or Restart: PCRs to their initial values, platform
    /// authorization empty, every hierarchy enabled.
    private func startupClearData(locality: UInt8) {
        volatile.startupLocality = locality
        volatile.pcrBanks = persistent.pcrAllocation.map { PCRBank(alg: $0.alg, allocated: $0.mask, startupLocality: locality) }
        volatile.platform = EntityAuth()
        volatile.startupClear = [.phEnable, .shEnable, .ehEnable, .phEnableNV]
    }

    /// TPM2_Shutdown (Part 3, 9.4).
    func shutdownCommand(_ c: inout CommandContext) throws {
        let raw = try c.param { try $0.u16() }
        try c.finish()
        guard let type = TPMSU(rawValue: raw) else { throw TPMError.value.parameter(1) }
        if type == .state {
            persistent.savedState = SavedState(
                pcrBanks: volatile.pcrBanks, pcrUpdateCounter: volatile.pcrUpdateCounter,
                platform: volatile.platform, startupClear: volatile.startupClear,
                nullSeed: volatile.nullSeed, nullProof: volatile.nullProof,
                contextCounter: volatile.contextCounter, restartCount: persistent.restartCount,
                startupLocality: volatile.startupLocality, sessionContextCounter: volatile.sessionContextCounter,
                savedSessions: savedSessionSlots, pcrAuthValue: volatile.pcrAuthValue,
                commit: volatile.commit)
        } else {
            persistent.savedState = nil
        }
        persistent.clock = currentClock()
        persistent.orderlyState = type.rawValue
        nvChanged = true
    }
}
