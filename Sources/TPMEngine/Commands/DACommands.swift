import TPMWire

extension TPM {
    /// TPM2_DictionaryAttackLockReset (Part 3, 25.2): lockoutAuth clears failedTries (the
    /// lockout hierarchy itself stays subject to lockoutRecovery).
    func dictionaryAttackLockResetCommand(_ c: inout CommandContext) throws {
        try c.finish()
        persistent.da.failedTries = 0
        nvChanged = true
    }

    /// TPM2_DictionaryAttackParameters (Part 3, 25.3): newMaxTries, newRecoveryTime and
    /// lockoutRecovery, all UINT32 with no further bounds (0 recovery time turns counting off;
    /// 0 lockoutRecovery leaves lockoutAuth disabled after a failure until the next Startup).
    func dictionaryAttackParametersCommand(_ c: inout CommandContext) throws {
        let maxTries = try c.param { try $0.u32() }
        let recoveryTime = try c.param { try $0.u32() }
        let lockoutRecovery = try c.param { try $0.u32() }
        try c.finish()
        persistent.da.maxTries = maxTries
        persistent.da.recoveryTime = recoveryTime
        persistent.da.lockoutRecovery = lockoutRecovery
        nvChanged = true
    }
}
