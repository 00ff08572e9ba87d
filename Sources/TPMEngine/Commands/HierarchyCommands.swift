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
        case .owner: persistent.owner.authValue = auth; nvChanged = true
        case .endorsement: persistent.endorsement.authValue = auth; nvChanged = true
        case .lockout: persistent.lockout.authValue = auth; nvChanged = true
        case .platform: volatile.platform.authValue = auth
        default: throw TPMError.value.handle(1)
        }
    }
}
