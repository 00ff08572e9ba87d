import TPMCrypto
import TPMWire

/// One authorization session from a command's authorization area (Part 1, 18.7).
struct CommandSession: Sendable {
    var handle: TPMHandle
    var nonceCaller: [UInt8]
    var attributes: TPMASession
    var hmac: [UInt8]
}

/// A command being executed: its handles, the reader over its parameter area, and the
/// response being built. Handlers read parameters through `param`, which numbers them so an
/// unmarshalling error carries the parameter's number (Part 2, 6.6.3).
struct CommandContext {
    let code: TPMCC
    let locality: UInt8
    var handles: [TPMHandle]
    var sessions: [CommandSession]
    var parameters: TPMReader
    private(set) var parameterNumber = 0
    var response = TPMWriter(capacity: 256)
    var responseHandle: TPMHandle?

    init(code: TPMCC, locality: UInt8, handles: [TPMHandle], sessions: [CommandSession], parameters: TPMReader) {
        self.code = code
        self.locality = locality
        self.handles = handles
        self.sessions = sessions
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

        // Handle area (Part 3, 5.3): each handle must be of its interface type.
        var handles: [TPMHandle] = []
        for (i, spec) in cmd.handles.enumerated() {
            let h: TPMHandle
            do { h = TPMHandle(try r.u32()) } catch let e as TPMError { throw e.handle(i + 1) }
            guard spec.kind.accepts(h) else { throw TPMError.value.handle(i + 1) }
            handles.append(h)
        }
        // Each handle must refer to something present and enabled (EntityGetLoadStatus).
        for (i, h) in handles.enumerated() { try checkLoaded(h, index: i) }

        // Authorization area (Part 1, 18.7; Part 3, 5.4).
        var sessions: [CommandSession] = []
        if tag == .sessions {
            let authSize = Int(try r.u32())
            guard authSize >= 9, authSize <= r.remaining else { throw TPMError.size }
            var a = try r.subReader(authSize)
            while !a.isAtEnd {
                let n = sessions.count + 1
                // A fourth session: libtpms answers TPM_RC_SIZE numbered for that session.
                guard n <= TPMLimits.maxSessionNumber else { throw TPMError.size.session(n) }
                do {
                    let h = TPMHandle(try a.u32())
                    guard h == .passwordSession || h.handleType == .hmacSession || h.handleType == .policySession else {
                        throw TPMError.value
                    }
                    let nonce = try a.sized(max: TPMLimits.maxDigestSize)
                    let attrs = try a.u8()
                    // Bits 3 and 4 are reserved (Part 2, 8.4).
                    guard attrs & 0x18 == 0 else { throw TPMError(.reservedBits) }
                    let hmac = try a.sized(max: TPMLimits.maxDigestSize)
                    sessions.append(CommandSession(handle: h, nonceCaller: nonce, attributes: TPMASession(rawValue: attrs), hmac: hmac))
                } catch let e as TPMError {
                    throw e.session(n)
                }
            }
        }
        let authHandles = cmd.handles.indices.filter { cmd.handles[$0].role != .none }
        guard sessions.count >= authHandles.count else { throw TPMError(.authMissing) }
        try authorize(handles: handles, authHandles: authHandles, sessions: sessions, descriptor: cmd)

        var ctx = CommandContext(code: code, locality: locality, handles: handles, sessions: sessions, parameters: r)
        try cmd.action(self, &ctx)

        if cmd.nv && !TPM.orderlyNeutral.contains(code) && persistent.orderlyState != PersistentState.orderlyNone && volatile.started {
            // A state-changing command after Shutdown: the TPM is no longer orderly.
            persistent.orderlyState = PersistentState.orderlyNone
            persistent.savedState = nil
            nvChanged = true
        }
        return buildResponse(tag: tag, ctx: ctx)
    }

    /// NV-attributed commands that leave a completed Shutdown standing (they change nothing
    /// that Shutdown saved).
    static let orderlyNeutral: Set<TPMCC> = [.shutdown, .selfTest, .incrementalSelfTest, .stirRandom]

    private func buildResponse(tag: TPMST, ctx: CommandContext) -> [UInt8] {
        var w = TPMWriter(capacity: 14 + ctx.response.count + 16 * ctx.sessions.count)
        w.u16(tag.rawValue)
        w.u32(0)  // patched below
        w.u32(TPMRC.success.rawValue)
        if let h = ctx.responseHandle { w.u32(h.rawValue) }
        if tag == .sessions { w.u32(UInt32(ctx.response.count)) }
        w.bytes(ctx.response.bytes)
        if tag == .sessions {
            for _ in ctx.sessions {
                // Password session response (Part 1, 19.6.4): empty nonce, continueSession
                // set, empty HMAC.
                w.sized([UInt8]())
                w.u8(TPMASession.continueSession.rawValue)
                w.sized([UInt8]())
            }
        }
        w.patchU32(at: 2, UInt32(w.count))
        return w.bytes
    }

    /// EntityGetLoadStatus: the handle exists, is loaded, and its hierarchy is enabled.
    private func checkLoaded(_ h: TPMHandle, index i: Int) throws {
        switch h.handleType {
        case .permanent:
            switch h {
            case .owner: if !volatile.startupClear.contains(.shEnable) { throw TPMError(.hierarchy).handle(i + 1) }
            case .endorsement: if !volatile.startupClear.contains(.ehEnable) { throw TPMError(.hierarchy).handle(i + 1) }
            case .platform: if !volatile.startupClear.contains(.phEnable) { throw TPMError(.hierarchy).handle(i + 1) }
            default: break
            }
        case .transient:
            if volatile.objects[h.rawValue] == nil { throw TPMError(.referenceHandle(i)) }
        case .persistent:
            // No persistent objects exist until EvictControl is implemented.
            throw TPMError(.handle).handle(i + 1)
        case .hmacSession, .policySession:
            // Sessions arrive with the sessions issue; until then none is ever loaded.
            throw TPMError(.referenceHandle(i))
        default:
            break
        }
    }

    /// Checks each session against the handle it authorizes (Part 1, 19.6.4 for password
    /// sessions); sessions beyond the authorized handles may not be password sessions.
    private func authorize(handles: [TPMHandle], authHandles: [Int], sessions: [CommandSession], descriptor: CommandDescriptor) throws {
        for (i, s) in sessions.enumerated() {
            let n = i + 1
            guard s.handle == .passwordSession else {
                // HMAC and policy sessions are not implemented yet: none can be loaded.
                throw TPMError(.referenceSession(i))
            }
            guard s.nonceCaller.isEmpty else { throw TPMError(.nonce).session(n) }
            guard s.attributes.subtracting(.continueSession).isEmpty else { throw TPMError(.attributes).session(n) }
            guard i < authHandles.count else { throw TPMError(.handle).session(n) }
            let handle = handles[authHandles[i]]
            // Roles and object attributes decide whether an authValue may be used at all.
            try checkAuthValueUse(handle, role: descriptor.handles[authHandles[i]].role)
            let expected = authValue(of: handle)
            if !constantTimeEqual(stripTrailingZeros(s.hmac), stripTrailingZeros(expected)) {
                // Hierarchies other than lockout, PCRs, sequences and noDA objects are exempt
                // from dictionary-attack protection: TPM_RC_BAD_AUTH. Otherwise TPM_RC_AUTH_FAIL.
                throw TPMError(isDAProtected(handle) ? .authFail : .badAuth).session(n)
            }
        }
    }

    /// The authValue an entity is authorized with.
    func authValue(of h: TPMHandle) -> [UInt8] {
        switch h {
        case .owner: return persistent.owner.authValue
        case .endorsement: return persistent.endorsement.authValue
        case .lockout: return persistent.lockout.authValue
        case .platform: return volatile.platform.authValue
        default:
            if h.handleType == .transient, case .sequence(let s)? = volatile.objects[h.rawValue] { return s.authValue }
            if h.handleType == .transient, case .key(let k)? = volatile.objects[h.rawValue] { return stripTrailingZeros(k.authValue) }
            return []
        }
    }
}

/// Part 1, 19.6.4 and the reference code: trailing zero octets of an authValue are not
/// significant.
func stripTrailingZeros(_ a: [UInt8]) -> [UInt8] {
    var n = a.count
    while n > 0 && a[n - 1] == 0 { n -= 1 }
    return Array(a[0..<n])
}
