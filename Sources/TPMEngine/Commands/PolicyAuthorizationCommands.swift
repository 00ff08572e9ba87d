import TPMCrypto
import TPMWire

// The policy commands that bring an authorization into a policy (Part 3, 23.3-23.5 and
// 23.16): a secret the caller proves it knows (PolicySecret), a signature by a key
// (PolicySigned), a ticket standing in for either (PolicyTicket), and a signed approval of the
// policy so far (PolicyAuthorize). Each checks everything before it changes the session; a
// trial session skips the checks against TPM state and still computes the digest.

extension TPM {
    /// TPM2_PolicySecret (Part 3, 23.4). authHandle has been authorized by the dispatcher with
    /// its own session (password, HMAC, or a policy session with PolicyAuthValue or
    /// PolicyPassword). Then, unless the session is a trial: nonceTPM is the session's
    /// (TPM_RC_NONCE + P1), the deadline has not passed (TPM_RC_EXPIRED + P4), cpHashA has the
    /// digest size (TPM_RC_SIZE + P2) and agrees with an earlier one (TPM_RC_CPHASH). Then
    ///   policyDigest = H(H(old || TPM_CC_PolicySecret || authHandle.Name) || policyRef)
    /// and the session takes the cpHash and the earliest deadline. A negative expiration
    /// returns the deadline and a TPM_ST_AUTH_SECRET ticket for PolicyTicket.
    func policySecretCommand(_ c: inout CommandContext) throws {
        let nonceTPM = try c.param(TPM2BNonce.self).buffer
        let cpHashA = try c.param(TPM2BDigest.self).buffer
        let policyRef = try c.param(TPM2BNonce.self).buffer
        let expiration = Int32(bitPattern: try c.param { try $0.u32() })
        try c.finish()
        let entity = c.handles[0]
        var s = try policySession(c, index: 1)
        var timeout: UInt64 = 0
        if !s.isTrial {
            timeout = authTimeout(s, expiration: expiration, nonceTPM: nonceTPM)
            try policyParameterChecks(
                s, authTimeout: timeout, cpHashA: cpHashA, nonceTPM: nonceTPM, nonceParameter: 1, cpHashParameter: 2,
                expirationParameter: 4)
        }
        let name = entityName(entity)
        s.policyContextUpdate(.policySecret, name: name, policyRef: policyRef, cpHash: cpHashA, timeout: timeout)
        storeSession(s, at: c.handles[1])
        // A PIN Pass Index earns no ticket: each use must count (the reference, libtpms).
        let pinPass = nvIndex(entity)?.type == .pinPass
        authTicketResponse(
            .authSecret, session: s, entity: entity, expiration: pinPass ? 0 : expiration, timeout: timeout, nonceTPM: nonceTPM,
            cpHash: cpHashA, policyRef: policyRef, name: name, to: &c.response)
    }

    /// TPM2_PolicySigned (Part 3, 23.3): authObject signed
    ///   aHash = H_sig(nonceTPM || expiration || cpHashA || policyRef)
    /// with the signature's hash. The checks of PolicySecret first (same parameter numbers),
    /// then the signature (P5): a scheme the key can make (TPM_RC_SCHEME), an HMAC key's
    /// secret loaded (TPM_RC_HANDLE), a genuine signature (TPM_RC_SIGNATURE). A trial session checks
    /// nothing. policyDigest as for PolicySecret with TPM_CC_PolicySigned and authObject's
    /// Name; a negative expiration returns a TPM_ST_AUTH_SIGNED ticket.
    func policySignedCommand(_ c: inout CommandContext) throws {
        let nonceTPM = try c.param(TPM2BNonce.self).buffer
        let cpHashA = try c.param(TPM2BDigest.self).buffer
        let policyRef = try c.param(TPM2BNonce.self).buffer
        let expiration = Int32(bitPattern: try c.param { try $0.u32() })
        let auth = try c.param { try TPMTSignature(from: &$0, allowNull: false, support: TPM.algorithmSupport) }
        try c.finish()
        let object = c.handles[0]
        var s = try policySession(c, index: 1)
        var timeout: UInt64 = 0
        if !s.isTrial {
            timeout = authTimeout(s, expiration: expiration, nonceTPM: nonceTPM)
            try policyParameterChecks(
                s, authTimeout: timeout, cpHashA: cpHashA, nonceTPM: nonceTPM, nonceParameter: 1, cpHashParameter: 2,
                expirationParameter: 4)
            guard let hash = TPM.signatureHash(auth).flatMap({ HashAlgorithm(rawValue: $0.rawValue) }) else {
                throw TPMError(.scheme).parameter(5)
            }
            var h = Hasher(hash)
            h.update(nonceTPM)
            h.update(u32Bytes(UInt32(bitPattern: expiration)))
            h.update(cpHashA)
            h.update(policyRef)
            let aHash = h.finalize()
            // No check of `sign` (Part 3 lists none, and libtpms makes none: a key that cannot
            // have made the signature fails to verify it); a sequence object has no scheme.
            guard let k = keyObject(object) else { throw TPMError(.scheme).parameter(5) }
            do {
                try verify(k, signature: auth, digest: aHash)
            } catch let e as TPMError {
                throw e.parameter(5)
            }
        }
        let name = entityName(object)
        s.policyContextUpdate(.policySigned, name: name, policyRef: policyRef, cpHash: cpHashA, timeout: timeout)
        storeSession(s, at: c.handles[1])
        authTicketResponse(
            .authSigned, session: s, entity: object, expiration: expiration, timeout: timeout, nonceTPM: nonceTPM, cpHash: cpHashA,
            policyRef: policyRef, name: name, to: &c.response)
    }

    /// The hash of a signature's scheme (the reference's CryptGetSignHashAlg).
    static func signatureHash(_ s: TPMTSignature) -> TPMAlgID? {
        switch s.signature {
        case .null: return nil
        case .rsassa(let x), .rsapss(let x): return x.hash
        case .ecdsa(let x), .ecdaa(let x), .sm2(let x), .ecschnorr(let x): return x.hash
        case .hmac(let ha): return ha.hashAlg
        }
    }

    /// TPM2_PolicyTicket (Part 3, 23.5): a ticket from an earlier PolicySigned or PolicySecret
    /// stands in for the authorization. Not in a trial session (TPM_RC_ATTRIBUTES + H1); the
    /// timeout is the 8 octets PolicySigned/Secret returned (TPM_RC_SIZE + P1), not passed
    /// (TPM_RC_EXPIRED + P1); cpHashA as there (P2); the ticket recomputed from the other
    /// parameters must match (TPM_RC_TICKET + P5). policyDigest as the command the ticket
    /// replaces (TPM_CC_PolicySigned for TPM_ST_AUTH_SIGNED, else TPM_CC_PolicySecret).
    func policyTicketCommand(_ c: inout CommandContext) throws {
        let timeoutBytes = try c.param { try $0.sized(max: 8) }
        let cpHashA = try c.param(TPM2BDigest.self).buffer
        let policyRef = try c.param(TPM2BNonce.self).buffer
        let authName = try c.param(TPM2BName.self).buffer
        let ticket = try c.param(TPMTTKAuth.self)
        try c.finish()
        var s = try policySession(c)
        guard !s.isTrial else { throw TPMError(.attributes).handle(1) }
        guard timeoutBytes.count == 8 else { throw TPMError.size.parameter(1) }
        let raw = TPM.bigEndian(timeoutBytes[0..<8])
        let expiresOnReset = raw & TPM.expiresOnResetBit != 0
        let timeout = raw & ~TPM.expiresOnResetBit
        try policyParameterChecks(
            s, authTimeout: timeout, cpHashA: cpHashA, nonceTPM: nil, nonceParameter: 0, cpHashParameter: 2, expirationParameter: 1)
        let expected = authTicket(
            ticket.tag, hierarchy: ticket.hierarchy, timeout: timeout, expiresOnReset: expiresOnReset, cpHash: cpHashA,
            policyRef: policyRef, name: authName)
        guard constantTimeEqual(expected.digest.buffer, ticket.digest.buffer) else { throw TPMError(.ticket).parameter(5) }
        let code: TPMCC = ticket.tag == .authSigned ? .policySigned : .policySecret
        s.policyContextUpdate(code, name: authName, policyRef: policyRef, cpHash: cpHashA, timeout: timeout)
        storeSession(s, at: c.handles[0])
    }

    /// TPM2_PolicyAuthorize (Part 3, 23.16): the policy so far (approvedPolicy) was approved by
    /// the key named keySign, as a TPMT_TK_VERIFIED from VerifySignature over
    ///   aHash = H_nameAlg(approvedPolicy || policyRef)
    /// proves. keySign must begin with an implemented hash (TPM_RC_HASH + P3) and have that
    /// digest's size (TPM_RC_SIZE + P3); unless the session is a trial, approvedPolicy must be
    /// the current policyDigest (TPM_RC_VALUE + P1) and the ticket must match (TPM_RC_VALUE +
    /// P4). Then the digest starts over:
    ///   policyDigest = H(H(0...0 || TPM_CC_PolicyAuthorize || keySign) || policyRef)
    func policyAuthorizeCommand(_ c: inout CommandContext) throws {
        let approvedPolicy = try c.param(TPM2BDigest.self).buffer
        let policyRef = try c.param(TPM2BNonce.self).buffer
        let keySign = try c.param(TPM2BName.self).buffer
        let checkTicket = try c.param(TPMTTKVerified.self)
        try c.finish()
        var s = try policySession(c)
        guard keySign.count >= 2, let hash = HashAlgorithm(rawValue: UInt16(keySign[0]) << 8 | UInt16(keySign[1])),
            TPMLimits.hashAlgorithms.contains(TPMAlgID(hash.rawValue))
        else { throw TPMError(.hash).parameter(3) }
        guard keySign.count - 2 == hash.digestSize else { throw TPMError.size.parameter(3) }
        guard var p = s.policy else { throw TPMError(.referenceHandle(0)) }
        if !s.isTrial {
            guard constantTimeEqual(p.digest, approvedPolicy) else { throw TPMError.value.parameter(1) }
            let aHash = hash.digest([approvedPolicy, policyRef])
            let expected = verifiedTicket(hierarchy: checkTicket.hierarchy, digest: aHash, keyName: TPM2BName(keySign))
            guard constantTimeEqual(expected.digest.buffer, checkTicket.digest.buffer) else { throw TPMError.value.parameter(4) }
        }
        p.digest = [UInt8](repeating: 0, count: s.authHash.digestSize)
        s.policy = p
        s.policyContextUpdate(.policyAuthorize, name: keySign, policyRef: policyRef, cpHash: nil, timeout: 0)
        storeSession(s, at: c.handles[0])
    }
}
