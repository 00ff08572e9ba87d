import TPMCrypto
import TPMWire

// Signing and signature verification (Part 3, 20), and the signing helpers the attestation
// commands share: choosing the scheme (CryptSelectSignScheme) and signing a digest (CryptSign).

extension TPM {
    /// IsSigningObject: a key with `sign` that is not a symmetric cipher.
    static func isSigningObject(_ k: KeyObject) -> Bool {
        k.attributes.has(.sign) && k.type != .symCipher
    }

    /// CryptSelectSignScheme (Part 4): the scheme a signature will use. A key without a scheme
    /// takes the caller's (which may not be NULL); a key with one takes the caller's NULL as
    /// "the key's" and otherwise requires the caller's to be the same scheme and hash. nil:
    /// incompatible (the caller answers TPM_RC_SCHEME).
    static func selectSignScheme(_ k: KeyObject, requested: TPMUSigScheme) -> TPMUSigScheme? {
        let keyScheme: TPMUSigScheme?
        switch k.publicArea.parameters {
        case .symCipher: return nil
        case .rsa(let p): keyScheme = TPMUSigScheme(p.scheme.details)
        case .ecc(let p): keyScheme = TPMUSigScheme(p.scheme.details)
        case .keyedHash(let p): keyScheme = TPMUSigScheme(p.scheme.details)
        }
        // A decryption scheme (which SchemeChecks never lets a signing key have) signs nothing.
        guard let keyScheme else { return nil }
        if keyScheme == .null {
            // The caller's scheme must be one the key's type can sign with (libtpms 0.9 refuses
            // the others here, with TPM_RC_SCHEME on the scheme parameter).
            switch (k.type, requested) {
            case (.rsa, .rsassa), (.rsa, .rsapss), (.ecc, .ecdsa), (.ecc, .ecschnorr), (.ecc, .ecdaa), (.ecc, .sm2),
                (.keyedHash, .hmac):
                return requested
            default:
                return nil
            }
        }
        if requested == .null {
            // ECDAA needs the caller's commit count: no default.
            if case .ecdaa = keyScheme { return nil }
            return keyScheme
        }
        return keyScheme.selector == requested.selector && keyScheme.hashAlg == requested.hashAlg ? requested : nil
    }

    /// CryptSign (Part 4): signs `digest` with `k` under `scheme`. Errors are unnumbered:
    /// TPM_RC_SCHEME for a scheme the key's type cannot use, TPM_RC_VALUE for a digest the
    /// scheme cannot take (for instance one longer than an RSA key allows).
    func sign(_ k: KeyObject, scheme: TPMUSigScheme, digest: [UInt8]) throws -> TPMTSignature {
        guard let hash = scheme.hashAlg.hashAlgorithm else { throw TPMError(.scheme) }
        switch (k.material, scheme) {
        case (.rsa(_, let key?), .rsassa):
            guard digest.count == hash.digestSize else { throw TPMError.value }
            let sig: [UInt8]
            do { sig = try key.signPKCS1v15(hash: hash, digest: digest) } catch { throw TPMError.value }
            return TPMTSignature(.rsassa(TPMSSignatureRSA(hash: scheme.hashAlg, sig: TPM2BPublicKeyRSA(sig))))
        case (.rsa(_, let key?), .rsapss):
            guard digest.count == hash.digestSize else { throw TPMError.value }
            let sig: [UInt8]
            do { sig = try withRandomSource { try key.signPSS(hash: hash, digest: digest, using: &$0) } } catch { throw TPMError.value }
            return TPMTSignature(.rsapss(TPMSSignatureRSA(hash: scheme.hashAlg, sig: TPM2BPublicKeyRSA(sig))))
        case (.ecc(_, let key?), .ecdsa):
            let sig: ECCSignature
            do { sig = try withRandomSource { try key.signECDSA(digest: digest, using: &$0) } } catch { throw TPMError(.noResult) }
            return TPMTSignature(.ecdsa(eccSignature(scheme.hashAlg, sig)))
        case (.ecc(_, let key?), .ecschnorr):
            let sig: ECCSignature
            do { sig = try withRandomSource { try key.signSchnorr(hash: hash, digest: digest, using: &$0) } } catch {
                throw TPMError(.noResult)
            }
            return TPMTSignature(.ecschnorr(eccSignature(scheme.hashAlg, sig)))
        case (.ecc(_, let key?), .ecdaa(_, let count)):
            // The commit named by count gives r (Part 1, annex C); it is used up only when the
            // signature is made (CryptEndCommit). An unknown count is TPM_RC_VALUE.
            guard var r = committedRandom(curve: key.curve, name: k.name.buffer, count: count) else { throw TPMError.value }
            defer { wipeSecret(&r) }
            let sig: ECCSignature
            do { sig = try withRandomSource { try key.signECDAA(hash: hash, digest: digest, commitR: r, using: &$0) } } catch {
                throw TPMError(.noResult)
            }
            endCommit(count)
            return TPMTSignature(.ecdaa(eccSignature(scheme.hashAlg, sig)))
        case (.symmetric, .hmac):
            guard k.type == .keyedHash, case .keyedHash(let key)? = k.sensitive?.sensitive else { throw TPMError(.scheme) }
            return TPMTSignature(.hmac(TPMTHA(hashAlg: scheme.hashAlg, digest: hash.hmac(key: key.buffer, data: digest))))
        default:
            throw TPMError(.scheme)
        }
    }

    private func eccSignature(_ hash: TPMAlgID, _ s: ECCSignature) -> TPMSSignatureECC {
        TPMSSignatureECC(hash: hash, signatureR: TPM2BECCParameter(s.r), signatureS: TPM2BECCParameter(s.s))
    }

    /// CryptValidateSignature (Part 4): TPM_RC_SCHEME for a signature the key's type cannot
    /// have made, TPM_RC_HANDLE for an HMAC key whose secret is not loaded, TPM_RC_SIGNATURE when
    /// it does not verify. Unnumbered.
    func verify(_ k: KeyObject, signature: TPMTSignature, digest: [UInt8]) throws {
        var ok = false
        switch (k.type, signature.signature) {
        case (.rsa, .rsassa(let s)), (.rsa, .rsapss(let s)):
            guard let key = k.material.rsaPublic else { throw TPMError(.signature) }
            guard s.sig.count == key.modulusBytes, let h = s.hash.hashAlgorithm else { throw TPMError(.signature) }
            if case .rsassa = signature.signature {
                ok = key.verifyPKCS1v15(hash: h, digest: digest, signature: s.sig.buffer)
            } else {
                ok = key.verifyPSS(hash: h, digest: digest, signature: s.sig.buffer)
            }
        case (.ecc, .ecdsa(let s)), (.ecc, .ecschnorr(let s)):
            guard let key = k.material.eccPublic, let h = s.hash.hashAlgorithm else { throw TPMError(.signature) }
            let sig = ECCSignature(r: s.signatureR.buffer, s: s.signatureS.buffer)
            if case .ecdsa = signature.signature {
                ok = key.verifyECDSA(digest: digest, signature: sig)
            } else {
                ok = key.verifySchnorr(hash: h, digest: digest, signature: sig)
            }
        case (.keyedHash, .hmac(let ha)):
            guard case .keyedHash(let key)? = k.sensitive?.sensitive else { throw TPMError(.handle) }
            guard let h = ha.hashAlg.hashAlgorithm else { throw TPMError(.signature) }
            // The HMAC scheme of the key, when it names one, must be the signature's.
            if case .keyedHash(let p) = k.publicArea.parameters, case .hmac(let kh) = p.scheme.details, kh != ha.hashAlg {
                throw TPMError(.signature)
            }
            ok = constantTimeEqual(h.hmac(key: key.buffer, data: digest), ha.digest)
        case (.rsa, _), (.ecc, _), (.keyedHash, _):
            throw TPMError(.scheme)
        default:
            throw TPMError(.scheme)
        }
        guard ok else { throw TPMError(.signature) }
    }

    /// TPMT_TK_VERIFIED (Part 2, 10.7.4; TicketComputeVerified):
    /// HMAC_contextHash(proof(hierarchy), TPM_ST_VERIFIED || digest || keyName).
    func verifiedTicket(hierarchy: TPMHandle, digest: [UInt8], keyName: TPM2BName) -> TPMTTKVerified {
        var m = TPMWriter(capacity: 2 + digest.count + keyName.count)
        m.u16(TPMST.verified.rawValue)
        m.bytes(digest)
        m.bytes(keyName.buffer)
        let hmac = TPM.contextIntegrityHash.hmac(key: hierarchyProof(hierarchy), data: m.bytes)
        return TPMTTKVerified(hierarchy: hierarchy, digest: TPM2BDigest(hmac))
    }

    // MARK: TPM2_Sign

    /// TPM2_Sign (Part 3, 20.2). Checks: a signing key (TPM_RC_KEY + H1) not reserved for
    /// X.509 (TPM_RC_ATTRIBUTES + H1); a scheme compatible with the key's (TPM_RC_SCHEME + P2);
    /// for a restricted key, or when a ticket is given, a hashcheck ticket from TPM2_Hash or a
    /// hash sequence proving that the TPM computed the digest (TPM_RC_TICKET + P3); otherwise a
    /// digest of the scheme hash's size (TPM_RC_SIZE + P1).
    func signCommand(_ c: inout CommandContext) throws {
        let digest = try c.param(TPM2BDigest.self)
        let inScheme = try c.param { try TPMTSigScheme(from: &$0, allowNull: true, support: TPM.algorithmSupport) }
        let validation = try c.param(TPMTTKHashcheck.self)
        try c.finish()
        guard let k = keyObject(c.handles[0]), TPM.isSigningObject(k) else { throw TPMError(.key).handle(1) }
        if k.attributes.has(.x509sign) { throw TPMError(.attributes).handle(1) }
        guard let scheme = TPM.selectSignScheme(k, requested: inScheme.details) else { throw TPMError(.scheme).parameter(2) }
        if validation.digest.count != 0 || k.attributes.has(.restricted) {
            // The ticket says the TPM hashed data that does not start with TPM_GENERATED_VALUE.
            let expected = hashCheckTicket(hierarchy: validation.hierarchy, digest: digest.buffer)
            guard constantTimeEqual(expected.digest.buffer, validation.digest.buffer) else { throw TPMError(.ticket).parameter(3) }
        } else if digest.count != TPMLimits.digestSize(scheme.hashAlg) {
            throw TPMError.size.parameter(1)
        }
        try sign(k, scheme: scheme, digest: digest.buffer).encode(to: &c.response)
    }

    // MARK: TPM2_VerifySignature

    /// TPM2_VerifySignature (Part 3, 20.1): a key with `sign` (TPM_RC_ATTRIBUTES + H1); the
    /// signature checked with its public part (codes + P2). The ticket is a NULL ticket for a
    /// key in the NULL hierarchy or without a Name.
    func verifySignatureCommand(_ c: inout CommandContext) throws {
        let digest = try c.param(TPM2BDigest.self)
        let signature = try c.param { try TPMTSignature(from: &$0, allowNull: false, support: TPM.algorithmSupport) }
        try c.finish()
        guard let k = keyObject(c.handles[0]), k.attributes.has(.sign) else { throw TPMError(.attributes).handle(1) }
        do {
            try verify(k, signature: signature, digest: digest.buffer)
        } catch let e as TPMError {
            throw e.parameter(2)
        }
        let ticket: TPMTTKVerified
        if k.hierarchy == .null || k.nameAlg == .null {
            ticket = .null
        } else {
            ticket = verifiedTicket(hierarchy: k.hierarchy, digest: digest.buffer, keyName: k.name)
        }
        ticket.encode(to: &c.response)
    }
}
