import TPMWire

extension TPMHandle {
    /// The first platform persistent handle (Part 2, 7.7: 0x81800000-0x81FFFFFF belong to the
    /// platform, 0x81000000-0x817FFFFF to the owner).
    static let platformPersistentFirst = TPMHandle(0x8180_0000)

    var isOwnerPersistent: Bool { self >= .persistentFirst && self < .platformPersistentFirst }
    var isPlatformPersistent: Bool { self >= .platformPersistentFirst && self <= .persistentLast }
}

extension TPM {
    /// TPM2_EvictControl (Part 3, 28.5): makes a loaded object persistent at
    /// `persistentHandle`, or removes a persistent object. Checks in the reference's order:
    /// a temporary (NULL hierarchy), stClear or public-only object cannot persist
    /// (TPM_RC_ATTRIBUTES + H2); a persistent object only at its own handle
    /// (TPM_RC_HANDLE + H2); the platform persists only platform objects (TPM_RC_HIERARCHY + H2)
    /// in its range (TPM_RC_RANGE + P1); the owner touches no platform object
    /// (TPM_RC_HIERARCHY + H2) and persists only in its range (TPM_RC_RANGE + P1); then
    /// TPM_RC_NV_DEFINED for a handle in use and TPM_RC_NV_SPACE.
    func evictControlCommand(_ c: inout CommandContext) throws {
        let persistentHandle = try c.param { r -> TPMHandle in
            // TPMI_DH_PERSISTENT.
            let h = TPMHandle(try r.u32())
            guard h.handleType == .persistent else { throw TPMError.value }
            return h
        }
        try c.finish()
        let auth = c.handles[0]
        let objectHandle = c.handles[1]
        guard let object = keyObject(objectHandle) else { throw TPMError(.handle).handle(2) }
        let isPersistent = objectHandle.handleType == .persistent
        if object.hierarchy == .null || object.flags.contains(.stClear) || object.isPublicOnly {
            throw TPMError(.attributes).handle(2)
        }
        if isPersistent && objectHandle != persistentHandle { throw TPMError(.handle).handle(2) }
        if auth == .platform {
            if !isPersistent {
                guard object.hierarchy == .platform else { throw TPMError(.hierarchy).handle(2) }
                guard persistentHandle.isPlatformPersistent else { throw TPMError(.range).parameter(1) }
            }
        } else {
            guard object.hierarchy != .platform else { throw TPMError(.hierarchy).handle(2) }
            if !isPersistent && !persistentHandle.isOwnerPersistent { throw TPMError(.range).parameter(1) }
        }
        if isPersistent {
            persistent.evictObjects[persistentHandle.rawValue] = nil
        } else {
            guard persistent.evictObjects[persistentHandle.rawValue] == nil else { throw TPMError(.nvDefined) }
            guard nvHasSpace(TPMLimits.nvEvictObjectSize, isIndex: false, isCounter: false) else { throw TPMError(.nvSpace) }
            persistent.evictObjects[persistentHandle.rawValue] = PersistentObject(object)
        }
        nvChanged = true
    }
}
