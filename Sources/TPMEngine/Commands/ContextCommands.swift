import TPMWire

extension TPM {
    /// TPM2_ContextSave (Part 3, 28.2; Part 1, 30): a transient object's context, protected
    /// by its hierarchy's proof (ContextProtection.swift). The object stays loaded. Objects
    /// take their sequence number from the context counter; TPM_RC_TOO_MANY_CONTEXTS if it
    /// would wrap. Session contexts arrive with sessions (the dispatcher reports a session
    /// handle as not loaded until then).
    func contextSaveCommand(_ c: inout CommandContext) throws {
        try c.finish()
        let handle = c.handles[0]
        guard let object = transientObject(handle) else { throw TPMError(.referenceHandle(0)) }
        guard volatile.contextCounter < UInt64.max else { throw TPMError(.tooManyContexts) }
        let sequence = volatile.contextCounter + 1
        let context = try protectContext(
            sequence: sequence, savedHandle: object.savedHandle, hierarchy: object.hierarchy, contents: object.encoded)
        volatile.contextCounter = sequence
        // The context counter is STATE_RESET data that Shutdown(STATE) saved: after a save
        // the TPM is no longer in that orderly state (the reference's g_clearOrderly).
        if persistent.orderlyState != PersistentState.orderlyNone {
            persistent.orderlyState = PersistentState.orderlyNone
            persistent.savedState = nil
            nvChanged = true
        }
        context.encode(to: &c.response)
    }

    /// TPM2_ContextLoad (Part 3, 28.3). Checks in the reference's order: the blob's framing
    /// (TPM_RC_SIZE), its integrity (TPM_RC_INTEGRITY: tampered, or saved before a TPM Reset),
    /// the hierarchy (TPM_RC_HIERARCHY when disabled), then a free slot
    /// (TPM_RC_OBJECT_MEMORY). An object gets a new transient handle.
    func contextLoadCommand(_ c: inout CommandContext) throws {
        let context = try c.param(TPMSContext.self)
        try c.finish()
        let contents = try unprotectContext(context)
        guard context.savedHandle.handleType == .transient else {
            // A session context: no session can have been saved before sessions exist.
            throw TPMError(.handle).parameter(1)
        }
        guard hierarchyIsEnabled(context.hierarchy) else { throw TPMError(.hierarchy).parameter(1) }
        guard freeTransientHandle != nil else { throw TPMError(.objectMemory) }
        // The HMAC matched, so only a broken TPM could produce an object that does not decode
        // or does not match the context's description of it.
        guard let object = TransientObject(encoded: contents), object.savedHandle == context.savedHandle,
            object.hierarchy == context.hierarchy
        else { throw TPMError(.integrity).parameter(1) }
        c.responseHandle = try loadTransientObject(object)
    }

    /// TPM2_FlushContext (Part 3, 28.4): flushHandle is a parameter (TPMI_DH_CONTEXT, so
    /// TPM_RC_VALUE outside the transient and session ranges); a handle that names nothing
    /// loaded is TPM_RC_HANDLE.
    func flushContextCommand(_ c: inout CommandContext) throws {
        let handle = try c.param { r -> TPMHandle in
            let h = TPMHandle(try r.u32())
            guard HandleKind.context.accepts(h) else { throw TPMError.value }
            return h
        }
        try c.finish()
        if handle.handleType == .transient {
            guard flushTransientObject(handle) else { throw TPMError(.handle).parameter(1) }
        } else {
            // Sessions arrive with the sessions issue; until then none is loaded or saved.
            throw TPMError(.handle).parameter(1)
        }
    }
}
