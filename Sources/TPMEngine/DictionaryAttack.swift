import TPMWire

// Dictionary-attack protection (Part 1, 19.8). Every failed authorization of an entity that
// is not exempt counts in failedTries; at maxTries the TPM is in lockout and refuses every
// authorization that would use such an entity's authValue (TPM_RC_LOCKOUT) until failedTries
// decays by one every recoveryTime seconds or DictionaryAttackLockReset clears it. A failed
// lockoutAuth disables lockoutAuth for lockoutRecovery seconds (0: until the next Startup).
// recoveryTime 0 turns the counting off. The counters are NV state: every change is reported
// (nvChanged) and made durable before the response that depends on it.

/// The persistent dictionary-attack state (the reference's gp.failedTries, maxTries,
/// recoveryTime, lockoutRecovery, lockOutAuthEnabled and the DA_USED orderly mark).
struct DictionaryAttackState: Sendable, Equatable {
    var failedTries: UInt32 = 0
    /// The manufacturer defaults are libtpms's (TPM_PT_MAX_AUTH_FAIL 3, TPM_PT_LOCKOUT_INTERVAL
    /// and TPM_PT_LOCKOUT_RECOVERY 1000 s).
    var maxTries: UInt32 = 3
    var recoveryTime: UInt32 = 1000
    var lockoutRecovery: UInt32 = 1000
    var lockoutAuthEnabled = true
    /// A DA-protected authorization has been checked since the last Startup. If the TPM then
    /// loses power without an orderly shutdown, the next Startup counts one failure, since a
    /// failure just before the power loss could have gone unrecorded (Part 1, 19.8.6; the
    /// reference's USE_DA_USED).
    var used = false
}

extension TPM {
    var inLockout: Bool { persistent.da.failedTries >= persistent.da.maxTries }

    /// The reference's CheckLockedOut: may an authorization that uses a DA-protected
    /// authValue (lockoutAuth when `lockoutAuth`) go ahead?
    func checkLockedOut(lockoutAuth: Bool) throws {
        if lockoutAuth {
            guard persistent.da.lockoutAuthEnabled else { throw TPMError(.lockout) }
        } else {
            guard !inLockout else { throw TPMError(.lockout) }
            if !persistent.da.used {
                // libtpms answers this first check after a Startup with TPM_RC_RETRY after
                // writing the mark to NV; here the mark is part of this command's NV change,
                // which the host makes durable before releasing the response, so the check
                // goes ahead at once.
                persistent.da.used = true
                nvChanged = true
            }
        }
    }

    /// Records a failed authorization of `entity` (the reference's IncrementLockout) and
    /// returns the code to report: TPM_RC_AUTH_FAIL when it counted, TPM_RC_BAD_AUTH when
    /// dictionary-attack protection does not apply. `session` is nil for a password.
    func authorizationFailed(entity: TPMHandle, session: Session?, includeAuth: Bool) -> TPMRC {
        var handle = entity
        if let session {
            // A session bound to lockoutAuth counts against lockoutAuth whatever it authorized.
            if session.isLockoutBound { handle = .lockout }
            if !session.isDABound && (isDAExempt(handle) || !includeAuth) { return .badAuth }
        } else if isDAExempt(handle) {
            return .badAuth
        }
        let now = currentTime()
        if handle == .lockout {
            persistent.da.lockoutAuthEnabled = false
            // With lockoutRecovery 0 the next Startup re-enables lockoutAuth anyway.
            if persistent.da.lockoutRecovery != 0 { nvChanged = true }
            volatile.daLockoutTimer = now
        } else {
            if persistent.da.recoveryTime != 0 {
                persistent.da.failedTries &+= 1
                nvChanged = true
            }
            volatile.daSelfHealTimer = now
        }
        return .authFail
    }

    /// Self-healing (the reference's DASelfHeal), run before every command: failedTries drops
    /// by one per recoveryTime seconds since the last failure (or the Startup), and lockoutAuth
    /// comes back lockoutRecovery seconds after its last failure. Time is milliseconds since
    /// _TPM_Init (Part 1, 36.3).
    func daSelfHeal() {
        let now = currentTime()
        var da = persistent.da
        if da.failedTries != 0 {
            if da.recoveryTime == 0 {
                da.failedTries = 0
            } else {
                let elapsed = now >= volatile.daSelfHealTimer ? now - volatile.daSelfHealTimer : 0
                let periods = elapsed / 1000 / UInt64(da.recoveryTime)
                if periods != 0 {
                    da.failedTries = periods >= UInt64(da.failedTries) ? 0 : da.failedTries - UInt32(periods)
                    volatile.daSelfHealTimer &+= periods * UInt64(da.recoveryTime) * 1000
                }
            }
        }
        if !da.lockoutAuthEnabled && da.lockoutRecovery != 0 {
            let elapsed = now >= volatile.daLockoutTimer ? now - volatile.daLockoutTimer : 0
            if elapsed / 1000 >= UInt64(da.lockoutRecovery) { da.lockoutAuthEnabled = true }
        }
        if da != persistent.da {
            persistent.da = da
            nvChanged = true
        }
    }

    /// Dictionary-attack state at TPM2_Startup (the reference's DAStartup): the recovery
    /// timers start again (they count powered time only); lockoutAuth comes back if
    /// lockoutRecovery is 0; after a shutdown that was not orderly and in which a DA-protected
    /// authorization was checked, one failure is counted.
    func daStartup(previousOrderlyState: UInt16) {
        volatile.daSelfHealTimer = 0
        volatile.daLockoutTimer = 0
        var da = persistent.da
        if da.lockoutRecovery == 0 { da.lockoutAuthEnabled = true }
        if previousOrderlyState == PersistentState.orderlyNone && da.used && da.recoveryTime != 0 && da.failedTries < da.maxTries {
            da.failedTries += 1
        }
        da.used = false
        if da != persistent.da {
            persistent.da = da
            nvChanged = true
        }
    }
}
