import TPMCrypto
import TPMWire

// The authorization area of commands and responses (Part 1, 18-21; the reference's
// SessionProcess.c): parsing the sessions, checking passwords, HMACs and policies, parameter
// encryption, the session audit digest, and the sessions of the response. Dispatch.swift
// calls these in the order ExecuteCommand does.

/// One session of a command's authorization area (Part 1, 18.7).
struct AuthSession: Sendable {
    var handle: TPMHandle
    var nonceCaller: [UInt8]
    /// As received; TPMA_SESSION.auditExclusive is the TPM's answer in the response.
    var attributes: TPMASession
    /// The HMAC, or the password of a password session (or of a PolicyPassword session).
    var hmac: [UInt8]
    /// The handle this session authorizes; nil for a session that only encrypts, decrypts
    /// or audits.
    var authorizes: TPMHandle?
    var role: AuthRole = .none
    /// The entity's authValue goes into the HMAC key (Part 1, 19.6.5): not for the bind
    /// entity of a bound session, for a policy session only after PolicyAuthValue.
    var includeAuth = false
    /// The entity's authValue when the authorization was checked: the response HMAC uses
    /// the entity's value after the command (HierarchyChangeAuth's new one), or this one if
    /// the command removed the entity (SequenceComplete).
    var checkedAuthValue: [UInt8] = []

    var isPassword: Bool { handle == .passwordSession }
}

/// A command's authorization area as the command sees it, and what the response needs.
struct AuthorizationArea: Sendable {
    var sessions: [AuthSession] = []
    /// The sessions that decrypt the first command parameter, encrypt the first response
    /// parameter, and audit the command.
    var decrypt: Int?
    var encrypt: Int?
    var audit: Int?
    var code = TPMCC(0)
    /// The Names of the handles in the handle area, and the parameter area as received
    /// (before any decryption): the cpHash input.
    var names: [[UInt8]] = []
    var parameters: [UInt8] = []
    /// cpHashes computed so far: the first algorithm's inline (the usual single one), others in
    /// the dictionary (an empty dictionary allocates nothing).
    private var firstCpHash: (alg: HashAlgorithm, digest: [UInt8])?
    private var cpHashes: [UInt16: [UInt8]] = [:]

    /// cpHash = H(commandCode || Name1 || Name2 || ... || parameters) (Part 1, 18.7).
    mutating func cpHash(_ alg: HashAlgorithm) -> [UInt8] {
        if let f = firstCpHash, f.alg == alg { return f.digest }
        if let h = cpHashes[alg.rawValue] { return h }
        var h = Hasher(alg)
        h.update(bigEndian: code.rawValue)
        for n in names { h.update(n) }
        h.update(parameters)
        let d = h.finalize()
        if firstCpHash == nil { firstCpHash = (alg, d) } else { cpHashes[alg.rawValue] = d }
        return d
    }

    /// H(Name1 || Name2 || ...): what PolicyNameHash commits to (Part 3, 23.12).
    func nameHash(_ alg: HashAlgorithm) -> [UInt8] { alg.digest(names) }

    /// PolicyTemplate's check on TPM2_Create, CreatePrimary and CreateLoaded: the hash of the
    /// second parameter (the template), nil for other commands or if it cannot be found.
    func templateHash(_ alg: HashAlgorithm) -> [UInt8]? {
        guard [TPMCC.create, .createPrimary, .createLoaded].contains(code) else { return nil }
        var r = TPMReader(parameters)
        guard let n = try? r.u16(), (try? r.bytes(Int(n))) != nil, let t = try? r.sized(max: TPMLimits.maxCommandSize) else {
            return nil
        }
        return alg.digest(t)
    }
}

/// rpHash = H(responseCode || commandCode || parameters) (Part 1, 18.8); the response code
/// of a response with sessions is always TPM_RC_SUCCESS.
func rpHash(_ alg: HashAlgorithm, code: TPMCC, parameters: [UInt8]) -> [UInt8] {
    var h = Hasher(alg)
    h.update(bigEndian: 0)
    h.update(bigEndian: code.rawValue)
    h.update(parameters)
    return h.finalize()
}

extension TPM {
    // MARK: parsing (the reference's RetrieveSessionData)

    /// Reads every session of the authorization area and checks each as it is read: handle,
    /// nonce, attributes, HMAC; a password session's attributes and nonce; that other sessions
    /// are loaded, of their handle's type, used once, and that at most one decrypts, one
    /// encrypts and one audits, each only where allowed.
    func parseAuthorizationArea(_ a: inout TPMReader, descriptor cmd: CommandDescriptor) throws -> AuthorizationArea {
        var area = AuthorizationArea()
        while !a.isAtEnd {
            let n = area.sessions.count + 1
            // A fourth session: TPM_RC_SIZE numbered for that session (as libtpms).
            guard n <= TPMLimits.maxSessionNumber else { throw TPMError.size.session(n) }
            let s: AuthSession
            do {
                let h = TPMHandle(try a.u32())
                // TPMI_SH_AUTH_SESSION: TPM_RS_PW or a handle in an HMAC or policy session range.
                guard h == .passwordSession || h.isInSessionRange else { throw TPMError.value }
                let nonce = try a.sized(max: TPMLimits.maxDigestSize)
                let attrs = try a.u8()
                // Bits 3 and 4 are reserved (Part 2, 8.4).
                guard attrs & 0x18 == 0 else { throw TPMError(.reservedBits) }
                let hmac = try a.sized(max: TPMLimits.maxDigestSize)
                s = AuthSession(handle: h, nonceCaller: nonce, attributes: TPMASession(rawValue: attrs), hmac: hmac)
            } catch let e as TPMError {
                throw e.session(n)
            }
            if s.isPassword {
                // Part 1, 19.6.4: a password session may only have continueSession, and no nonce.
                guard s.attributes.subtracting(.continueSession).isEmpty else { throw TPMError(.attributes).session(n) }
                guard s.nonceCaller.isEmpty else { throw TPMError(.nonce).session(n) }
                area.sessions.append(s)
                continue
            }
            guard let session = loadedSession(s.handle) else { throw TPMError(.referenceSession(n - 1)) }
            guard session.isPolicy == (s.handle.handleType == .policySession) else { throw TPMError(.handle).session(n) }
            guard !area.sessions.contains(where: { $0.handle == s.handle }) else { throw TPMError(.handle).session(n) }
            if s.attributes.contains(.decrypt) {
                // Part 1, 21.1: only the first parameter, only if it is a TPM2B, one session.
                guard cmd.decrypt, area.decrypt == nil else { throw TPMError(.attributes).session(n) }
                guard session.symmetric != .null else { throw TPMError(.symmetric).session(n) }
                area.decrypt = n - 1
            }
            if s.attributes.contains(.encrypt) {
                guard cmd.encrypt, area.encrypt == nil else { throw TPMError(.attributes).session(n) }
                guard session.symmetric != .null else { throw TPMError(.symmetric).session(n) }
                area.encrypt = n - 1
            }
            if s.attributes.contains(.audit) {
                // Part 1, 19.7.2 / 32.4: one audit session, never a policy session.
                guard area.audit == nil, s.handle.handleType != .policySession else { throw TPMError(.attributes).session(n) }
                // auditExclusive asks that no other command ran since this session's last one.
                if !s.attributes.contains(.auditReset) && session.isAudit && s.attributes.contains(.auditExclusive)
                    && volatile.exclusiveAuditSession != s.handle
                {
                    throw TPMError(.exclusive)
                }
                area.audit = n - 1
            }
            area.sessions.append(s)
        }
        return area
    }

    // MARK: checking (the reference's ParseSessionBuffer and CheckAuthSession)

    /// Associates each authorization handle with its session (session i authorizes handle i;
    /// handles needing authorization come first) and checks every session, in order. The
    /// caller has already checked that there are enough sessions (TPM_RC_AUTH_MISSING).
    func checkAuthorizations(
        _ area: inout AuthorizationArea, handles: [TPMHandle], descriptor cmd: CommandDescriptor, locality: UInt8
    ) throws {
        for (i, spec) in cmd.handles.enumerated() where spec.role != .none && i < area.sessions.count {
            area.sessions[i].authorizes = handles[i]
            area.sessions[i].role = spec.role
        }
        area.names = handles.map { entityName($0) }
        for i in area.sessions.indices {
            let n = i + 1
            var s = area.sessions[i]
            if s.isPassword {
                // A password authorizes a handle or it is meaningless (the attribute checks
                // were made while parsing).
                guard s.authorizes != nil else { throw TPMError(.handle).session(n) }
            } else if let session = loadedSession(s.handle) {
                // A trial session cannot authorize, encrypt or audit anything.
                if session.isTrial { throw TPMError(.attributes).session(n) }
                // A session bound to a DA-protected entity is subject to lockout however it is
                // used (an unbound policy session stays usable in lockout).
                if session.isDABound { try checkLockedOut(lockoutAuth: session.isLockoutBound) }
                if s.attributes.contains(.audit) { _ = area.cpHash(session.authHash) }
            }
            do {
                if s.authorizes != nil {
                    try checkAuthSession(&s, area: &area, index: i, locality: locality)
                } else {
                    guard !s.attributes.isDisjoint(with: [.audit, .encrypt, .decrypt]) else { throw TPMError(.attributes) }
                    s.includeAuth = false
                    try checkSessionHMAC(s, area: &area, index: i)
                }
            } catch let e as TPMError {
                throw e.session(n)
            }
            area.sessions[i] = s
        }
    }

    /// Checks one session that authorizes a handle (the reference's CheckAuthSession): lockout,
    /// the kind of authorization the entity allows, the policy, then the password or HMAC.
    private func checkAuthSession(_ s: inout AuthSession, area: inout AuthorizationArea, index: Int, locality: UInt8) throws {
        guard let entity = s.authorizes else { return }
        // Physical presence for platform-authorized commands that need it: no implemented
        // command does (TPM_CAP_PP_COMMANDS is empty).
        let session = s.isPassword ? nil : loadedSession(s.handle)
        let authUsed: Bool
        if let session {
            if let p = session.policy {
                s.includeAuth = p.isAuthValueNeeded || p.isPasswordNeeded
            } else {
                s.includeAuth = !isBoundTo(session, entity)
            }
            authUsed = s.includeAuth
        } else {
            authUsed = true
        }
        if authUsed && !isDAExempt(entity) { try checkLockedOut(lockoutAuth: entity == .lockout) }
        if let session, session.isPolicy {
            guard isAuthPolicyAvailable(entity, role: s.role, code: area.code) else { throw TPMError(.authUnavailable) }
            let alg = session.authHash
            try checkPolicySession(
                session, entity: entity, role: s.role, code: area.code, locality: locality,
                cpHash: { area.cpHash(alg) }, nameHash: { area.nameHash(alg) }, templateHash: { area.templateHash(alg) })
        } else {
            guard !isPolicySessionRequired(entity, role: s.role) else { throw TPMError(.authType) }
            guard isAuthValueAvailable(entity, role: s.role, code: area.code) else { throw TPMError(.authUnavailable) }
        }
        s.checkedAuthValue = authValue(of: entity)
        do {
            if session == nil || session?.policy?.isPasswordNeeded == true {
                // Part 1, 19.6.4: trailing zeros of the password are not significant either.
                guard constantTimeEqual(stripTrailingZeros(s.hmac), s.checkedAuthValue) else {
                    throw TPMError(authorizationFailed(entity: entity, session: session, includeAuth: s.includeAuth))
                }
            } else {
                try checkSessionHMAC(s, area: &area, index: index)
            }
        } catch {
            // A PIN Index counts what its authValue was used for (NV.swift).
            if authUsed { nvPinAuthorization(entity, succeeded: false) }
            throw error
        }
        if authUsed { nvPinAuthorization(entity, succeeded: true) }
    }

    /// Whether `session` is bound to `entity` as it is now: same Name and same authValue
    /// (Part 1, 19.6.9: after a change of the authValue the binding no longer applies).
    private func isBoundTo(_ session: Session, _ entity: TPMHandle) -> Bool {
        guard let b = session.bound else { return false }
        let e = boundEntity(entity)
        return b.name == e.name && constantTimeEqual(b.authValue, e.authValue)
    }

    /// The command HMAC (Part 1, 19.6.5):
    ///   HMAC(sessionKey || authValue, cpHash || nonceCaller || nonceTPM || nonceTPMdecrypt ||
    ///        nonceTPMencrypt || sessionAttributes)
    /// with the authValue only when `includeAuth`, and the nonces of the decrypt and encrypt
    /// sessions only in the first session, when it authorizes a handle and is not itself that
    /// session. An empty key with an empty HMAC is a valid authorization.
    private func checkSessionHMAC(_ s: AuthSession, area: inout AuthorizationArea, index: Int) throws {
        guard let session = loadedSession(s.handle) else { throw TPMError(.referenceSession(index)) }
        let key = session.sessionKey + (s.includeAuth ? s.checkedAuthValue : [])
        if key.isEmpty && s.hmac.isEmpty { return }
        var m = HMACStream(session.authHash, key: key)
        m.update(area.cpHash(session.authHash))
        m.update(s.nonceCaller)
        m.update(session.nonceTPM)
        if index == 0 && s.authorizes != nil {
            if let d = area.decrypt, d != index, let ds = loadedSession(area.sessions[d].handle) { m.update(ds.nonceTPM) }
            if let e = area.encrypt, e != index, e != area.decrypt, let es = loadedSession(area.sessions[e].handle) {
                m.update(es.nonceTPM)
            }
        }
        m.update(byte: s.attributes.rawValue)
        let expected = m.finalize()
        guard constantTimeEqual(expected, s.hmac) else {
            throw TPMError(authorizationFailed(entity: s.authorizes ?? .unassigned, session: session, includeAuth: s.includeAuth))
        }
    }

    // MARK: parameter encryption (Part 1, 21)

    /// Decrypts the first command parameter (a TPM2B) with the decrypt session, if any: its
    /// key is sessionKey || the authValue of the entity the session authorizes (even when
    /// bound). TPM_RC_SIZE for the session when the size field claims more octets than there
    /// are parameters.
    func decryptParameters(_ area: AuthorizationArea) throws -> [UInt8] {
        guard let d = area.decrypt else { return area.parameters }
        let s = area.sessions[d]
        guard let session = loadedSession(s.handle) else { throw TPMError(.referenceSession(d)) }
        var p = area.parameters
        // The size field must be there (TPM_RC_INSUFFICIENT) and may not claim more octets
        // than follow it (TPM_RC_SIZE), both for the decrypt session (as libtpms). A size
        // that runs past the first parameter decrypts the octets after it too.
        guard p.count >= 2 else { throw TPMError.insufficient.session(d + 1) }
        let n = Int(p[0]) << 8 | Int(p[1])
        guard n <= p.count - 2 else { throw TPMError.size.session(d + 1) }
        let key = session.sessionKey + (s.authorizes.map { authValue(of: $0) } ?? [])
        let plain = try TPM.parameterCipher(
            session, key: key, nonceNewer: s.nonceCaller, nonceOlder: session.nonceTPM, Array(p[2..<(2 + n)]), decrypt: true)
        p.replaceSubrange(2..<(2 + n), with: plain)
        return p
    }

    /// AES-CFB with key || IV = KDFa(authHash, key, "CFB", nonceNewer, nonceOlder, bits + 128)
    /// (Part 1, 21.3), or XOR with the mask KDFa(authHash, key, "XOR", nonceNewer, nonceOlder,
    /// 8 * size) (Part 1, 21.2; the session's authHash, as in the reference and ESAPI).
    static func parameterCipher(
        _ session: Session, key: [UInt8], nonceNewer: [UInt8], nonceOlder: [UInt8], _ data: [UInt8], decrypt: Bool
    ) throws -> [UInt8] {
        switch session.symmetric {
        case .null:
            return data
        case .xor:
            if data.isEmpty { return data }
            let mask = kdfa(session.authHash, key: key, label: "XOR", contextU: nonceNewer, contextV: nonceOlder, bits: 8 * data.count)
            return zip(data, mask).map { $0 ^ $1 }
        case .aes(let bits):
            let keyBytes = Int(bits) / 8
            let m = kdfa(
                session.authHash, key: key, label: "CFB", contextU: nonceNewer, contextV: nonceOlder,
                bits: Int(bits) + 8 * AESCFB.blockSize)
            let k = Array(m[0..<keyBytes])
            let iv = Array(m[keyBytes...])
            do {
                return decrypt ? try AESCFB.decrypt(key: k, iv: iv, data) : try AESCFB.encrypt(key: k, iv: iv, data)
            } catch {
                throw TPMError(.failure)
            }
        }
    }

    // MARK: the response (the reference's BuildResponseSession)

    /// Finishes a successful command's sessions and returns the response's parameter area and
    /// authorization area: every session's nonceTPM rolls, the first response parameter is
    /// encrypted, the audit digest is extended, each session answers with its new nonce and
    /// HMAC (Part 1, 19.6.6), policy sessions start over, and sessions without
    /// continueSession are flushed.
    func finishSessions(_ area: inout AuthorizationArea, tag: TPMST, descriptor cmd: CommandDescriptor, parameters: [UInt8]) -> (
        parameters: [UInt8], auth: [UInt8]
    ) {
        var params = parameters
        if tag == .sessions {
            for s in area.sessions where !s.isPassword {
                guard var session = loadedSession(s.handle) else { continue }
                session.nonceTPM = random(session.nonceTPM.count)
                storeSession(session, at: s.handle)
            }
            if let e = area.encrypt, let session = loadedSession(area.sessions[e].handle), params.count >= 2 {
                let s = area.sessions[e]
                let size = min(Int(params[0]) << 8 | Int(params[1]), params.count - 2)
                let key = session.sessionKey + (s.authorizes.map { responseAuthValue(s, $0) } ?? [])
                if let c = try? TPM.parameterCipher(
                    session, key: key, nonceNewer: session.nonceTPM, nonceOlder: s.nonceCaller, Array(params[2..<(2 + size)]),
                    decrypt: false)
                {
                    params.replaceSubrange(2..<(2 + size), with: c)
                }
            }
        }
        updateAudit(&area, descriptor: cmd, parameters: params)
        guard tag == .sessions else { return (params, []) }
        var w = TPMWriter(capacity: 80 * area.sessions.count)
        for s in area.sessions {
            if s.isPassword {
                // Part 1, 19.6.4: empty nonce, continueSession set, empty HMAC.
                w.sized([UInt8]())
                w.u8(TPMASession.continueSession.rawValue)
                w.sized([UInt8]())
                continue
            }
            guard var session = loadedSession(s.handle) else {
                w.sized([UInt8]())
                w.u8(s.attributes.rawValue)
                w.sized([UInt8]())
                continue
            }
            var hmac: [UInt8] = []
            if session.policy?.isPasswordNeeded != true {
                let key = session.sessionKey + (s.includeAuth ? s.authorizes.map { responseAuthValue(s, $0) } ?? [] : [])
                if !(key.isEmpty && s.hmac.isEmpty) {
                    var m = HMACStream(session.authHash, key: key)
                    m.update(rpHash(session.authHash, code: area.code, parameters: params))
                    m.update(session.nonceTPM)
                    m.update(s.nonceCaller)
                    m.update(byte: s.attributes.rawValue)
                    hmac = m.finalize()
                }
            }
            // A policy session used with continueSession starts a new policy with its new
            // nonce (Part 1, 19.7.1).
            if session.isPolicy && s.attributes.contains(.continueSession) {
                session.policy = newPolicyState(session.authHash)
                storeSession(session, at: s.handle)
            }
            w.sized(session.nonceTPM)
            w.u8(s.attributes.rawValue)
            w.sized(hmac)
            if !s.attributes.contains(.continueSession) { flushSession(s.handle) }
        }
        return (params, w.bytes)
    }

    /// The entity's authValue for the response: its value now, or the value it had when the
    /// authorization was checked if the command removed it.
    private func responseAuthValue(_ s: AuthSession, _ entity: TPMHandle) -> [UInt8] {
        entityAuthValue(entity) ?? s.checkedAuthValue
    }

    /// The session audit digest (Part 1, 32.4): an audit session's digest starts as zeros
    /// (first use or auditReset, which also makes it the exclusive audit session) and becomes
    /// H(digest || cpHash || rpHash). A command without an audit session ends exclusivity.
    /// TPMA_SESSION.auditExclusive in the response says whether the session is exclusive.
    private func updateAudit(_ area: inout AuthorizationArea, descriptor cmd: CommandDescriptor, parameters: [UInt8]) {
        guard let a = area.audit, var session = loadedSession(area.sessions[a].handle) else {
            if !cmd.noSessions { volatile.exclusiveAuditSession = nil }
            return
        }
        let h = area.sessions[a].handle
        if !session.isAudit || area.sessions[a].attributes.contains(.auditReset) {
            session.isAudit = true
            session.bound = nil
            session.auditDigest = [UInt8](repeating: 0, count: session.authHash.digestSize)
            volatile.exclusiveAuditSession = h
        } else if volatile.exclusiveAuditSession != h {
            volatile.exclusiveAuditSession = nil
        }
        if volatile.exclusiveAuditSession == h {
            area.sessions[a].attributes.insert(.auditExclusive)
        } else {
            area.sessions[a].attributes.remove(.auditExclusive)
        }
        let alg = session.authHash
        session.auditDigest = alg.digest([session.auditDigest, area.cpHash(alg), rpHash(alg, code: area.code, parameters: parameters)])
        storeSession(session, at: h)
    }
}
