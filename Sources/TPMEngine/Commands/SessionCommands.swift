import TPMCrypto
import TPMWire

extension TPM {
    /// TPM2_StartAuthSession (Part 3, 11.1). Checks in the reference's order: the nonce size
    /// (16 octets up to the digest size of authHash, TPM_RC_SIZE), the salt (none without a
    /// tpmKey: TPM_RC_VALUE), the bind entity, a block cipher's mode (CFB only: TPM_RC_MODE),
    /// then room for the session (Session.swift).
    ///
    ///   sessionKey = KDFa(authHash, bind.authValue || salt, "ATH", nonceTPM, nonceCaller,
    ///                     digest size of authHash in bits)   (Part 1, 19.6.8)
    /// when the session is bound or salted; an empty key otherwise.
    func startAuthSessionCommand(_ c: inout CommandContext) throws {
        let nonceCaller = try c.param(TPM2BNonce.self).buffer
        let encryptedSalt = try c.param(TPM2BEncryptedSecret.self).buffer
        let type = try c.param { r -> SessionType in
            guard let t = SessionType(rawValue: try r.u8()) else { throw TPMError.value }
            return t
        }
        let symmetric = try c.param { try TPMTSymDef(from: &$0, allowNull: true, support: TPM.algorithmSupport) }
        let authHashAlg = try c.param { try TPMIAlgHash(from: &$0, allowNull: false).alg }
        try c.finish()
        guard let authHash = HashAlgorithm(rawValue: authHashAlg.rawValue) else { throw TPMError(.hash).parameter(5) }
        guard nonceCaller.count >= 16, nonceCaller.count <= authHash.digestSize else { throw TPMError.size.parameter(1) }

        let tpmKey = c.handles[0]
        let bind = c.handles[1]
        var salt: [UInt8] = []
        if tpmKey != .null {
            salt = try decryptSalt(tpmKey: tpmKey, encryptedSalt: encryptedSalt, nonceCaller: nonceCaller)
        } else {
            guard encryptedSalt.isEmpty else { throw TPMError.value.parameter(2) }
        }
        // A transient bind entity must have its sensitive part loaded (a sequence object always
        // has), and a PIN NV Index cannot be bound (NV issue).
        if let k = keyObject(bind), k.isPublicOnly { throw TPMError(.handle).handle(2) }
        guard let sessionSymmetric = SessionSymmetric(symmetric) else { throw TPMError(.mode).parameter(4) }

        let nonceTPM = random(nonceCaller.count)
        var session = Session(
            type: type, authHash: authHash, symmetric: sessionSymmetric, sessionKey: [], nonceTPM: nonceTPM,
            policy: type == .hmac ? nil : newPolicyState(authHash))
        if bind != .null || !salt.isEmpty {
            session.sessionKey = kdfa(
                authHash, key: authValue(of: bind) + salt, label: "ATH", contextU: nonceTPM, contextV: nonceCaller,
                bits: 8 * authHash.digestSize)
        }
        if bind != .null && type == .hmac { session.bound = boundEntity(bind) }
        session.isDABound = bind != .null && !isDAExempt(bind)
        session.isLockoutBound = session.isDABound && bind == .lockout
        c.responseHandle = try createSession(session)
        TPM2BNonce(nonceTPM).encode(to: &c.response)
    }

    /// The salt of a salted session: tpmKey decrypts encryptedSalt (RSA-OAEP or ECDH, Part 1,
    /// 19.6.13; `secretDecrypt`). Checks of Part 3, 11.1 in the reference's order: an
    /// asymmetric key (TPM_RC_KEY + H1), a non-empty salt (TPM_RC_VALUE + P2), the sensitive
    /// part loaded (TPM_RC_HANDLE + H1), a decrypt key (TPM_RC_ATTRIBUTES + H1), and the
    /// decryption itself (any failure TPM_RC_VALUE + P2).
    func decryptSalt(tpmKey: TPMHandle, encryptedSalt: [UInt8], nonceCaller: [UInt8]) throws -> [UInt8] {
        guard let k = keyObject(tpmKey), k.type == .rsa || k.type == .ecc else { throw TPMError(.key).handle(1) }
        guard !encryptedSalt.isEmpty else { throw TPMError.value.parameter(2) }
        guard !k.isPublicOnly else { throw TPMError(.handle).handle(1) }
        guard k.attributes.contains(.decrypt) else { throw TPMError(.attributes).handle(1) }
        do {
            return try secretDecrypt(k, label: "SECRET", secret: encryptedSalt)
        } catch {
            throw TPMError.value.parameter(2)
        }
    }

    /// TPM2_PolicyRestart (Part 3, 23.20): back to a zero policyDigest and no conditions,
    /// without a new nonce or start time.
    func policyRestartCommand(_ c: inout CommandContext) throws {
        try c.finish()
        let h = c.handles[0]
        guard var s = loadedSession(h) else { throw TPMError(.referenceHandle(0)) }
        s.policy?.reset()
        storeSession(s, at: h)
    }
}

extension SessionSymmetric {
    /// The session's symmetric algorithm from StartAuthSession's TPMT_SYM_DEF; nil for a block
    /// cipher in a mode other than CFB (Part 3, 11.1: parameter encryption is CFB only).
    init?(_ def: TPMTSymDef) {
        switch def {
        case .null: self = .null
        case .aes(let bits, let mode):
            guard mode == .cfb else { return nil }
            self = .aes(keyBits: bits)
        case .xor(let h):
            guard let hash = HashAlgorithm(rawValue: h.rawValue) else { return nil }
            self = .xor(hash)
        }
    }
}
