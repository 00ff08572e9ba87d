import TPMCrypto
import TPMWire

/// A command being executed: its handles, the reader over its parameter area, and the
/// response being built. Handlers read parameters through `param`, which numbers them so an
/// unmarshalling error carries the parameter's number (Part 2, 6.6.3).
struct CommandContext {
    let code: TPMCC
    let locality: UInt8
    var handles: [TPMHandle]
    /// The authorization area: the sessions, and which of them decrypt, encrypt and audit.
    var auth: AuthorizationArea
    var parameters: TPMReader
    private(set) var parameterNumber = 0
    var response = TPMWriter(capacity: 256)
    var responseHandle: TPMHandle?

    init(code: TPMCC, locality: UInt8, handles: [TPMHandle], auth: AuthorizationArea, parameters: TPMReader) {
        self.code = code
        self.locality = locality
        self.handles = handles
        self.auth = auth
        self.parameters = parameters
    }

    /// The next parameter, decoded by its own type.
    mutating func param<T: TPMDecodable>(_: T.Type = T.self) throws -> T {
        try param { try T(from: &$0) }
    }

    /// The next parameter, decoded by `body` (for types that need arguments, such as
    /// TPMI_ALG_HASH with or without NULL).
    mutating func param<T>(_ body: (inout TPMReader) throws -> T) throws -> T {
        parameterNumber += 1
        do {
            return try body(&parameters)
        } catch let e as TPMError {
            throw e.parameter(parameterNumber)
        }
    }

    /// All parameters read: bytes left over are TPM_RC_SIZE (unnumbered, as in the
    /// reference dispatcher).
    func finish() throws {
        guard parameters.isAtEnd else { throw TPMError.size }
    }
}

extension TPM {
    /// Executes one command at `locality` and returns the complete response. Never traps on
    /// any input: malformed commands get a well-formed error response.
    public func execute(locality: UInt8 = 0, command: [UInt8]) -> [UInt8] {
        do {
            return try executeThrowing(locality: locality, command: command)
        } catch let e as TPMError {
            return TPM.errorResponse(e.rc)
        } catch {
            return TPM.errorResponse(.failure)
        }
    }

    /// The 10-byte error response: TPM_ST_NO_SESSIONS, size 10, the code.
    public static func errorResponse(_ rc: TPMRC) -> [UInt8] {
        var w = TPMWriter(capacity: 10)
        w.u16(TPMST.noSessions.rawValue)
        w.u32(10)
        w.u32(rc.rawValue)
        return w.bytes
    }

    private func executeThrowing(locality: UInt8, command: [UInt8]) throws -> [UInt8] {
        guard poweredOn else { throw TPMError(.failure) }
        // Part 3, 5.2 / Part 1, 18: the header. An oversized command is TPM_RC_COMMAND_SIZE.
        guard command.count <= TPMLimits.maxCommandSize else { throw TPMError(.commandSize) }
        var r = TPMReader(command)
        let tag = TPMST(try r.u16())
        // Part 2, 9.29: TPMI_ST_COMMAND_TAG accepts only the two command tags.
        guard tag == .noSessions || tag == .sessions else { throw TPMError(.badTag) }
        let size = try r.u32()
        guard size == UInt32(command.count) else { throw TPMError(.commandSize) }
        let code = TPMCC(try r.u32())

        // The command code is checked before the TPM's started state (libtpms agrees).
        guard let cmd = TPM.commandIndex[code] else { throw TPMError(.commandCode) }
        // Part 3, 5.3 mode checks: in failure mode only the commands allowed there, and only
        // with TPM_ST_NO_SESSIONS (no session processing in failure mode).
        if volatile.failureMode && (!cmd.inFailureMode || tag != .noSessions) { throw TPMError(.failure) }
        guard volatile.started || code == .startup else { throw TPMError(.initialize) }
        if volatile.started && code == .startup { throw TPMError(.initialize) }
        // Time moved on since the last command: dictionary-attack self-healing (the
        // reference runs it with every time update at the start of a command).
        if code != .startup { daSelfHeal() }

        // Handle area (Part 3, 5.3): each handle must be of its interface type.
        var handles: [TPMHandle] = []
        for (i, spec) in cmd.handles.enumerated() {
            let h: TPMHandle
            do { h = TPMHandle(try r.u32()) } catch let e as TPMError { throw e.handle(i + 1) }
            guard spec.kind.accepts(h) else { throw TPMError.value.handle(i + 1) }
            handles.append(h)
        }
        // Each handle must refer to something present and enabled (EntityGetLoadStatus).
        for (i, h) in handles.enumerated() { try checkLoaded(h, index: i, handles: handles, code: code) }
        // The copies of persistent objects hold transient slots until the command ends.
        volatile.persistentCopies = handles.filter { $0.handleType == .persistent }.count
        defer { volatile.persistentCopies = 0 }

        // Authorization area (Part 1, 18.7; Part 3, 5.4; Authorization.swift): parse every
        // session, then associate sessions with the handles that need authorization.
        var auth = AuthorizationArea()
        auth.code = code
        if tag == .sessions {
            let authSize = Int(try r.u32())
            guard authSize >= 9, authSize <= r.remaining else { throw TPMError.size }
            var a = try r.subReader(authSize)
            // Commands that take no sessions (Part 3: ContextSave, ContextLoad, FlushContext,
            // Startup) refuse an authorization area.
            guard !cmd.noSessions else { throw TPMError(.authContext) }
            auth = try parseAuthorizationArea(&a, descriptor: cmd)
            auth.code = code
        }
        for (i, spec) in cmd.handles.enumerated() where spec.role != .none {
            guard i < auth.sessions.count else { throw TPMError(.authMissing) }
        }
        auth.parameters = r.rest()
        try checkAuthorizations(&auth, handles: handles, descriptor: cmd, locality: locality)
        let parameters = try decryptParameters(auth)

        var ctx = CommandContext(code: code, locality: locality, handles: handles, auth: auth, parameters: TPMReader(parameters))
        try cmd.action(self, &ctx)

        if cmd.nv && !TPM.orderlyNeutral.contains(code) && persistent.orderlyState != PersistentState.orderlyNone && volatile.started {
            // A state-changing command after Shutdown: the TPM is no longer orderly.
            persistent.orderlyState = PersistentState.orderlyNone
            persistent.savedState = nil
            nvChanged = true
        }
        return buildResponse(tag: tag, ctx: &ctx, descriptor: cmd)
    }

    /// NV-attributed commands that leave a completed Shutdown standing (they change nothing
    /// that Shutdown saved).
    static let orderlyNeutral: Set<TPMCC> = [.shutdown, .selfTest, .incrementalSelfTest, .stirRandom]

    private func buildResponse(tag: TPMST, ctx: inout CommandContext, descriptor cmd: CommandDescriptor) -> [UInt8] {
        let (parameters, sessions) = finishSessions(&ctx.auth, tag: tag, descriptor: cmd, parameters: ctx.response.bytes)
        // Command audit (Audit.swift).
        commandAudit(&ctx.auth, parameters: parameters)
        var w = TPMWriter(capacity: 18 + parameters.count + sessions.count)
        w.u16(tag.rawValue)
        w.u32(0)  // patched below
        w.u32(TPMRC.success.rawValue)
        if let h = ctx.responseHandle { w.u32(h.rawValue) }
        if tag == .sessions { w.u32(UInt32(parameters.count)) }
        w.bytes(parameters)
        w.bytes(sessions)
        w.patchU32(at: 2, UInt32(w.count))
        return w.bytes
    }

    /// EntityGetLoadStatus: the handle exists, is loaded, and its hierarchy is enabled.
    private func checkLoaded(_ h: TPMHandle, index i: Int, handles: [TPMHandle], code: TPMCC) throws {
        switch h.handleType {
        case .permanent:
            switch h {
            case .owner: if !volatile.startupClear.contains(.shEnable) { throw TPMError(.hierarchy).handle(i + 1) }
            case .endorsement: if !volatile.startupClear.contains(.ehEnable) { throw TPMError(.hierarchy).handle(i + 1) }
            case .platform: if !volatile.startupClear.contains(.phEnable) { throw TPMError(.hierarchy).handle(i + 1) }
            // Vendor authorization handles (TPMI_DH_ENTITY admits them): none is implemented.
            case TPMHandle.auth00...TPMHandle.authFF: throw TPMError.value.handle(i + 1)
            default: break
            }
        case .transient:
            if volatile.objects[h.rawValue] == nil { throw TPMError(.referenceHandle(i)) }
        case .persistent:
            // The reference's ObjectLoadEvict: the range's hierarchy enabled, a transient slot
            // for the command's copy of the object (each persistent handle takes one, as in
            // libtpms), the object present, an endorsement object only while ehEnable (except
            // for EvictControl).
            let enabled: TPMAStartupClear = h >= TPMHandle.platformPersistentFirst ? .phEnable : .shEnable
            guard volatile.startupClear.contains(enabled) else { throw TPMError(.handle).handle(i + 1) }
            let copies = handles[...i].filter { $0.handleType == .persistent }.count
            guard volatile.objects.count + copies <= TPMLimits.maxLoadedObjects else { throw TPMError(.objectMemory) }
            guard let object = persistentObject(h) else { throw TPMError(.handle).handle(i + 1) }
            if object.hierarchy == .endorsement && !volatile.startupClear.contains(.ehEnable) && code != .evictControl {
                throw TPMError(.handle).handle(i + 1)
            }
        case .hmacSession, .policySession:
            // A session handle names a loaded session of its own type (0x02 HMAC, 0x03 policy).
            guard let s = loadedSession(h) else { throw TPMError(.referenceHandle(i)) }
            guard s.isPolicy == (h.handleType == .policySession) else { throw TPMError(.handle).handle(i + 1) }
        case .nvIndex:
            // NvIndexIsAccessible (NV.swift).
            guard nvIndexIsAccessible(h) else { throw TPMError(.handle).handle(i + 1) }
        default:
            break
        }
    }
}
