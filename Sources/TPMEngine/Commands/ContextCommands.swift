import TPMWire

extension TPM {
    /// TPM2_ContextSave (Part 3, 28.2; Part 1, 30): the context of a transient object or of
    /// a loaded session, protected by its hierarchy's proof (ContextProtection.swift). An
    /// object stays loaded and takes its sequence number from the object context counter
    /// (TPM_RC_TOO_MANY_CONTEXTS if it would wrap). A session leaves TPM memory; its sequence
    /// number is the session context ID, subject to the gap rules (Session.swift).
    func contextSaveCommand(_ c: inout CommandContext) throws {
        try c.finish()
        let handle = c.handles[0]
        let context: TPMSContext
        if handle.handleType == .transient {
            guard let object = transientObject(handle) else { throw TPMError(.referenceHandle(0)) }
            guard volatile.contextCounter < UInt64.max else { throw TPMError(.tooManyContexts) }
            let sequence = volatile.contextCounter + 1
            context = try protectContext(
                sequence: sequence, savedHandle: object.savedHandle, hierarchy: object.hierarchy, contents: object.encoded)
            volatile.contextCounter = sequence
        } else {
            context = try saveSessionContext(handle)
        }
        // The context counters are STATE_RESET data that Shutdown(STATE) saved: after a save
        // the TPM is no longer in that orderly state (the reference's g_clearOrderly).
        clearOrderlyState()
        context.encode(to: &c.response)
    }

    /// A change to what Shutdown(STATE) saved: the TPM is no longer orderly.
    func clearOrderlyState() {
        if persistent.orderlyState != PersistentState.orderlyNone {
            persistent.orderlyState = PersistentState.orderlyNone
            persistent.savedState = nil
            nvChanged = true
        }
    }

    /// TPM2_ContextLoad (Part 3, 28.3). Checks in the reference's order: the blob's framing
    /// (TPM_RC_SIZE), its integrity (TPM_RC_INTEGRITY: tampered, or saved before a TPM Reset).
    /// An object: the hierarchy (TPM_RC_HIERARCHY when disabled), then a free slot
    /// (TPM_RC_OBJECT_MEMORY); it gets a new transient handle. A session: the context must be
    /// the newest save of a session still tracked (TPM_RC_HANDLE), then a free session slot
    /// and the gap (TPM_RC_SESSION_MEMORY, TPM_RC_CONTEXT_GAP); it keeps its handle.
    func contextLoadCommand(_ c: inout CommandContext) throws {
        let context = try c.param(TPMSContext.self)
        try c.finish()
        let contents = try unprotectContext(context)
        guard context.savedHandle.handleType == .transient else {
            guard sessionContextIsCurrent(context) else { throw TPMError(.handle).parameter(1) }
            // The HMAC matched, so only a broken TPM could produce a session that does not
            // decode or is not of its handle's type.
            guard let session = Session(encoded: contents), session.isPolicy == (context.savedHandle.handleType == .policySession) else {
                throw TPMError(.integrity).parameter(1)
            }
            try loadSessionContext(session, at: context.savedHandle)
            clearOrderlyState()
            c.responseHandle = context.savedHandle
            return
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
            // A loaded or a saved session (flushing a saved one forgets its context).
            guard flushSession(handle) else { throw TPMError(.handle).parameter(1) }
        }
    }
}
