import TPMCrypto
import TPMWire

// Authorization sessions (Part 1, 19; Part 3, 11.1): what a session is, where it lives, and
// how session handles and saved session contexts are tracked.
//
// A TPM tracks MAX_ACTIVE_SESSIONS (64) sessions at once; at most MAX_LOADED_SESSIONS (3) of
// them are in TPM memory, the others are saved contexts held by the caller. `volatile.
// sessionSlots` is that table (the reference's contextArray): slot i belongs to handle
// 0x02000000 + i (an HMAC session) or 0x03000000 + i (a policy or trial session), and is free,
// loaded (with the session), or saved (with the low 16 bits of the context ID it was saved
// under). The low bits let ContextLoad recognise the newest save of a session, and they bound
// how far the context counter may run ahead of the oldest saved session: the "gap"
// (Part 1, 30.5; TPM_PT_CONTEXT_GAP_MAX).

/// TPM_SE (Part 2, 6.11): the type of a session.
enum SessionType: UInt8, Sendable {
    case hmac = 0x00
    case policy = 0x01
    /// A policy session that computes a policyDigest without checking anything; it can
    /// authorize nothing (Part 1, 19.7.3).
    case trial = 0x03
}

/// The symmetric algorithm a session encrypts parameters with: TPMT_SYM_DEF as
/// StartAuthSession accepts it (an AES key size in CFB mode, XOR with a hash, or none).
enum SessionSymmetric: Sendable, Equatable {
    case null
    case aes(keyBits: UInt16)
    case xor(HashAlgorithm)
}

/// What a session is bound to (Part 1, 19.6.9): the Name and authValue of the bind entity
/// when StartAuthSession ran. Using the session for that same entity (same Name and still the
/// same authValue) leaves the authValue out of the HMAC key.
struct BoundEntity: Sendable, Equatable {
    var name: [UInt8]
    var authValue: [UInt8]
}

/// One authorization session (the reference's SESSION).
struct Session: Sendable, Equatable {
    var type: SessionType
    var authHash: HashAlgorithm
    var symmetric: SessionSymmetric
    /// KDFa(authHash, bind.authValue || salt, "ATH", nonceTPM, nonceCaller): empty for an
    /// unbound, unsalted session (Part 1, 19.6.8).
    var sessionKey: [UInt8]
    /// The TPM's newest nonce; replaced after every command the session is used in.
    var nonceTPM: [UInt8]
    /// An HMAC session's bind entity (nil for policy sessions, unbound sessions, and once the
    /// session has been used for audit).
    var bound: BoundEntity?
    /// Bound to an entity subject to dictionary-attack protection: an authorization failure
    /// with this session counts even for an exempt entity (Part 1, 19.8.3).
    var isDABound = false
    var isLockoutBound = false
    /// Used for audit (Part 1, 19.7.2 / 32.4): the session audit digest.
    var isAudit = false
    var auditDigest: [UInt8] = []
    /// Policy and trial sessions: the policy state (Policy.swift).
    var policy: PolicyState?

    var isPolicy: Bool { type != .hmac }
    var isTrial: Bool { type == .trial }
}

/// A context slot (see the top of this file).
enum SessionSlot: Sendable, Equatable {
    case free
    case loaded(Session)
    /// Saved under a context ID whose low 16 bits are these.
    case saved(UInt16)

    var isFree: Bool { if case .free = self { return true } else { return false } }
    var isLoaded: Bool { if case .loaded = self { return true } else { return false } }
}

extension TPM {
    /// CONTEXT_SLOT is 16 bits here, as in libtpms 0.9 (TPM_PT_CONTEXT_GAP_MAX = 0xFFFF).
    static let contextSlotModulus: UInt64 = 1 << 16
    /// The first session context ID after a TPM Reset: the reference reserves the slot values
    /// 1...MAX_LOADED_SESSIONS to mean "loaded", and skips them when the low bits wrap, so
    /// saved sessions get the same sequence numbers as in libtpms.
    static let firstSessionContextID = UInt64(TPMLimits.maxLoadedSessions + 1)
    static func sessionIndex(_ h: TPMHandle) -> Int { Int(h.rawValue & 0x00FF_FFFF) }

    static func sessionHandle(index: Int, policy: Bool) -> TPMHandle {
        TPMHandle((policy ? TPMHandle.policySessionFirst : TPMHandle.hmacSessionFirst).rawValue + UInt32(index))
    }

    // MARK: access

    /// The loaded session a session handle names, nil when it names none (saved, free, or
    /// outside the slot range). The handle's type is not checked here.
    func loadedSession(_ h: TPMHandle) -> Session? {
        let i = TPM.sessionIndex(h)
        guard i < volatile.sessionSlots.count, case .loaded(let s) = volatile.sessionSlots[i] else { return nil }
        return s
    }

    /// Replaces a loaded session (the handle is known to name one).
    func storeSession(_ s: Session, at h: TPMHandle) {
        let i = TPM.sessionIndex(h)
        guard i < volatile.sessionSlots.count, volatile.sessionSlots[i].isLoaded else { return }
        volatile.sessionSlots[i] = .loaded(s)
    }

    var loadedSessionCount: Int { volatile.sessionSlots.filter(\.isLoaded).count }
    var activeSessionCount: Int { volatile.sessionSlots.filter { !$0.isFree }.count }

    /// The slot of the oldest saved session: the saved slot whose context ID is furthest
    /// behind the counter (its low bits, counted forwards from the counter's low bits, are
    /// the smallest). nil when no session is saved.
    var oldestSavedSession: Int? {
        let low = UInt16(truncatingIfNeeded: volatile.sessionContextCounter)
        var best: (index: Int, distance: UInt16)?
        for (i, slot) in volatile.sessionSlots.enumerated() {
            guard case .saved(let bits) = slot else { continue }
            let d = bits &- low
            if best.map({ d <= $0.distance }) ?? true { best = (i, d) }
        }
        return best?.index
    }

    /// The gap is at its maximum: the next context ID would have the same low bits as the
    /// oldest saved session, so it could not be told apart from it.
    var contextGapIsMaximal: Bool {
        guard let oldest = oldestSavedSession, case .saved(let bits) = volatile.sessionSlots[oldest] else { return false }
        return bits == UInt16(truncatingIfNeeded: volatile.sessionContextCounter)
    }

    // MARK: lifecycle

    /// Creates a session in a free slot (the reference's SessionCreate): TPM_RC_SESSION_MEMORY
    /// when three are loaded; TPM_RC_CONTEXT_GAP when taking the last free slot would leave no
    /// way to save a session while the gap is at its maximum (the oldest must be loaded or
    /// flushed first); TPM_RC_SESSION_HANDLES when 64 are active.
    func createSession(_ s: Session) throws -> TPMHandle {
        let free = TPMLimits.maxLoadedSessions - loadedSessionCount
        guard free > 0 else { throw TPMError(.sessionMemory) }
        if free == 1 && contextGapIsMaximal { throw TPMError(.contextGap) }
        guard let i = volatile.sessionSlots.firstIndex(where: \.isFree) else { throw TPMError(.sessionHandles) }
        volatile.sessionSlots[i] = .loaded(s)
        return TPM.sessionHandle(index: i, policy: s.isPolicy)
    }

    /// Forgets a loaded or saved session; false when the handle names neither.
    @discardableResult
    func flushSession(_ h: TPMHandle) -> Bool {
        let i = TPM.sessionIndex(h)
        guard i < volatile.sessionSlots.count, !volatile.sessionSlots[i].isFree else { return false }
        volatile.sessionSlots[i] = .free
        if let x = volatile.exclusiveAuditSession, TPM.sessionIndex(x) == i { volatile.exclusiveAuditSession = nil }
        return true
    }

    /// Session state at TPM2_Startup (the reference's SessionStartup): no session stays
    /// loaded; after a TPM Restart or Resume the saved ones remain loadable (their slots come
    /// back from the saved state), after a TPM Reset everything is forgotten.
    func sessionStartup(restoring saved: SavedState?) {
        volatile.sessionSlots = TPM.emptySessionSlots
        volatile.exclusiveAuditSession = nil
        if let saved {
            volatile.sessionContextCounter = saved.sessionContextCounter
            for (i, bits) in saved.savedSessions where i >= 0 && i < volatile.sessionSlots.count { volatile.sessionSlots[i] = .saved(bits) }
        } else {
            volatile.sessionContextCounter = TPM.firstSessionContextID
        }
    }

    static let emptySessionSlots = [SessionSlot](repeating: .free, count: TPMLimits.maxActiveSessions)

    /// The saved sessions that Shutdown(STATE) records: slot index and context-ID low bits.
    var savedSessionSlots: [Int: UInt16] {
        var out: [Int: UInt16] = [:]
        for (i, slot) in volatile.sessionSlots.enumerated() { if case .saved(let bits) = slot { out[i] = bits } }
        return out
    }

    // MARK: saved contexts (Part 1, 30)

    /// Saves a loaded session (ContextSave): the session leaves TPM memory, its slot records
    /// the context ID. TPM_RC_CONTEXT_GAP when the gap is at its maximum (the oldest saved
    /// session must be loaded or flushed first); TPM_RC_TOO_MANY_CONTEXTS if the 64-bit
    /// counter would wrap.
    func saveSessionContext(_ h: TPMHandle) throws -> TPMSContext {
        guard let s = loadedSession(h) else { throw TPMError(.referenceHandle(0)) }
        if contextGapIsMaximal { throw TPMError(.contextGap) }
        let id = volatile.sessionContextCounter
        guard id < UInt64.max else { throw TPMError(.tooManyContexts) }
        // Sessions are protected by the NULL hierarchy's proof: no saved session survives a
        // TPM Reset (Part 1, 30.4).
        let context = try protectContext(sequence: id, savedHandle: h, hierarchy: .null, contents: s.encoded)
        volatile.sessionSlots[TPM.sessionIndex(h)] = .saved(UInt16(truncatingIfNeeded: id))
        var next = id + 1
        // Low bits 0...MAX_LOADED_SESSIONS are skipped, as in the reference.
        if next % TPM.contextSlotModulus == 0 { next += TPM.firstSessionContextID }
        volatile.sessionContextCounter = next
        return context
    }

    /// The checks ContextLoad makes on a session context before loading it (the reference's
    /// SequenceNumberForSavedContextIsValid): the slot holds a saved session whose low bits
    /// match, and the sequence number is one the counter has issued within the last gap.
    func sessionContextIsCurrent(_ context: TPMSContext) -> Bool {
        let i = TPM.sessionIndex(context.savedHandle)
        guard i < volatile.sessionSlots.count, case .saved(let bits) = volatile.sessionSlots[i] else { return false }
        let counter = volatile.sessionContextCounter
        return bits == UInt16(truncatingIfNeeded: context.sequence) && context.sequence <= counter
            && counter - context.sequence <= TPM.contextSlotModulus
    }

    /// Loads a saved session back into its slot (ContextLoad): TPM_RC_SESSION_MEMORY with
    /// three loaded; with one free slot and the gap at its maximum only the oldest saved
    /// session may come back (TPM_RC_CONTEXT_GAP otherwise).
    func loadSessionContext(_ s: Session, at h: TPMHandle) throws {
        let free = TPMLimits.maxLoadedSessions - loadedSessionCount
        guard free > 0 else { throw TPMError(.sessionMemory) }
        let i = TPM.sessionIndex(h)
        if free == 1 && contextGapIsMaximal && oldestSavedSession != i { throw TPMError(.contextGap) }
        volatile.sessionSlots[i] = .loaded(s)
    }
}

// MARK: - serialization

/// The byte form of a session, used inside saved contexts and by the instance-state
/// serializer (docs/state-format.md, SESSION). Strict: every size is checked against the
/// session's hash, every flag against the session type, so anything that decodes is a session
/// the engine could have made.
///
///   u8 version (1) || u8 type || u16 authHash || symmetric || B sessionKey || B nonceTPM ||
///   u8 flags || [B boundName || B boundAuth] || B auditDigest || [policy state]
/// symmetric: u16 alg, then u16 key bits (AES) or u16 hash (XOR). flags: bit 0 DA-bound,
/// bit 1 lockout-bound, bit 2 audit, bit 3 bound. The policy state follows for policy and
/// trial sessions (PolicyState.encode).
extension Session {
    static let formatVersion: UInt8 = 1

    func encode(to w: inout TPMWriter) {
        w.u8(Session.formatVersion)
        w.u8(type.rawValue)
        w.u16(authHash.rawValue)
        switch symmetric {
        case .null: w.u16(TPMAlgID.null.rawValue)
        case .aes(let bits):
            w.u16(TPMAlgID.aes.rawValue)
            w.u16(bits)
        case .xor(let h):
            w.u16(TPMAlgID.xor.rawValue)
            w.u16(h.rawValue)
        }
        w.sized(sessionKey)
        w.sized(nonceTPM)
        var flags: UInt8 = 0
        if isDABound { flags |= 1 }
        if isLockoutBound { flags |= 2 }
        if isAudit { flags |= 4 }
        if bound != nil { flags |= 8 }
        w.u8(flags)
        if let bound {
            w.sized(bound.name)
            w.sized(bound.authValue)
        }
        w.sized(auditDigest)
        policy?.encode(to: &w)
    }

    var encoded: [UInt8] {
        var w = TPMWriter(capacity: 512)
        encode(to: &w)
        return w.bytes
    }

    init(from r: inout TPMReader) throws {
        func fail() -> TPMError { TPMError(.integrity) }
        guard try r.u8() == Session.formatVersion else { throw fail() }
        guard let type = SessionType(rawValue: try r.u8()) else { throw fail() }
        guard let hash = HashAlgorithm(rawValue: try r.u16()), TPMLimits.hashAlgorithms.contains(TPMAlgID(hash.rawValue)) else {
            throw fail()
        }
        let n = hash.digestSize
        let symmetric: SessionSymmetric
        switch TPMAlgID(try r.u16()) {
        case .null: symmetric = .null
        case .aes:
            let bits = try r.u16()
            guard TPM.algorithmSupport.aesKeyBits.contains(bits) else { throw fail() }
            symmetric = .aes(keyBits: bits)
        case .xor:
            guard let h = HashAlgorithm(rawValue: try r.u16()) else { throw fail() }
            symmetric = .xor(h)
        default: throw fail()
        }
        let key = try r.sized(max: TPMLimits.maxDigestSize)
        guard key.isEmpty || key.count == n else { throw fail() }
        let nonce = try r.sized(max: TPMLimits.maxDigestSize)
        guard nonce.count >= 16, nonce.count <= n else { throw fail() }
        let flags = try r.u8()
        guard flags & ~0x0F == 0 else { throw fail() }
        var bound: BoundEntity?
        if flags & 8 != 0 {
            guard type == .hmac else { throw fail() }
            bound = BoundEntity(name: try r.sized(max: TPMLimits.maxNameSize), authValue: try r.sized(max: TPMLimits.maxDigestSize))
        }
        let isAudit = flags & 4 != 0
        let audit = try r.sized(max: TPMLimits.maxDigestSize)
        guard audit.count == (isAudit ? n : 0), !(isAudit && type != .hmac) else { throw fail() }
        // Lockout-bound implies DA-bound.
        guard flags & 3 != 2 else { throw fail() }
        self.init(
            type: type, authHash: hash, symmetric: symmetric, sessionKey: key, nonceTPM: nonce, bound: bound,
            isDABound: flags & 1 != 0, isLockoutBound: flags & 2 != 0, isAudit: isAudit, auditDigest: audit,
            policy: type == .hmac ? nil : try PolicyState(from: &r, digestSize: n))
    }

    /// Decodes exactly `bytes`; nil for anything malformed or with bytes left over.
    init?(encoded bytes: [UInt8]) {
        var r = TPMReader(bytes)
        guard let s = try? Session(from: &r), r.isAtEnd else { return nil }
        self = s
    }
}
