import TPMCrypto
import TPMWire

// ECC encryption (Part 3 rev 1.59, 14.8 TPM2_ECC_Encrypt and 14.9 TPM2_ECC_Decrypt): the
// C1/C2/C3 construction of `ECCEncryption` with a TPM_ALG_KDF2 mask. libtpms 0.9 does not
// implement either command (TPM_RC_COMMAND_CODE); the checks follow Part 3's action code.

extension TPM {
    /// CryptEccSelectScheme (Part 4): the caller's scheme, or the key's when the caller sends
    /// NULL; when the key names one, the caller's must be the same scheme with the same hash.
    /// nil when no scheme results or they disagree.
    static func selectECCEncryptionScheme(keyKDF: TPMUKDFScheme, requested: TPMUKDFScheme) -> TPMUKDFScheme? {
        let chosen = requested == .null ? keyKDF : requested
        let reference = keyKDF == .null ? chosen : keyKDF
        guard chosen != .null, reference.selector == chosen.selector, reference.hashAlg == chosen.hashAlg else { return nil }
        return chosen
    }

    /// The hash of a selected scheme: only KDF2 is defined for ECC encryption (any other KDF
    /// is TPM_RC_SCHEME, without a parameter number, as CryptEccEncrypt/Decrypt return it).
    static func eccEncryptionHash(_ scheme: TPMUKDFScheme) throws -> HashAlgorithm {
        guard case .kdf2(let h) = scheme else { throw TPMError(.scheme) }
        guard let hash = h.hashAlgorithm else { throw TPMError(.hash) }
        return hash
    }

    /// TPM2_ECC_Encrypt (Part 3, 14.8): encrypts plainText to the public key of keyHandle.
    /// Checks: an ECC key (TPM_RC_KEY + H1), a usable scheme from inScheme and the key's KDF
    /// (TPM_RC_SCHEME + P2), that scheme being KDF2 (TPM_RC_SCHEME).
    func eccEncryptCommand(_ c: inout CommandContext) throws {
        let plainText = try c.param(TPM2BMaxBuffer.self)
        let inScheme = try c.param { try TPMTKDFScheme(from: &$0, allowNull: true, support: TPM.algorithmSupport) }
        try c.finish()
        guard let k = keyObject(c.handles[0]), k.type == .ecc, case .ecc(let parms) = k.publicArea.parameters,
            let recipient = k.material.eccPublic
        else { throw TPMError(.key).handle(1) }
        guard let scheme = TPM.selectECCEncryptionScheme(keyKDF: parms.kdf.details, requested: inScheme.details) else {
            throw TPMError(.scheme).parameter(2)
        }
        let hash = try TPM.eccEncryptionHash(scheme)
        let out: ECCEncryption.Ciphertext
        do {
            out = try withRandomSource { try ECCEncryption.encrypt(plainText.buffer, to: recipient, hash: hash, using: &$0) }
        } catch { throw TPMError(.noResult) }
        TPM.pointStructure(out.c1).encode(to: &c.response)
        c.response.sized(out.c2)
        c.response.sized(out.c3)
    }

    /// TPM2_ECC_Decrypt (Part 3, 14.9): recovers the plaintext of (C1, C2, C3) with the private
    /// key of keyHandle. Checks: an ECC key (TPM_RC_KEY + H1), unrestricted with `decrypt`
    /// (TPM_RC_ATTRIBUTES + H1), a usable scheme (TPM_RC_SCHEME + P4), KDF2 (TPM_RC_SCHEME),
    /// C1 a point of the key's curve (TPM_RC_ECC_POINT + P1), C3 matching the recovered data
    /// (TPM_RC_VALUE).
    func eccDecryptCommand(_ c: inout CommandContext) throws {
        let c1 = try c.param(TPM2BECCPoint.self).point
        let c2 = try c.param(TPM2BMaxBuffer.self)
        let c3 = try c.param(TPM2BDigest.self)
        let inScheme = try c.param { try TPMTKDFScheme(from: &$0, allowNull: true, support: TPM.algorithmSupport) }
        try c.finish()
        guard let k = keyObject(c.handles[0]), k.type == .ecc, case .ecc(let parms) = k.publicArea.parameters else {
            throw TPMError(.key).handle(1)
        }
        if k.attributes.has(.restricted) || !k.attributes.has(.decrypt) { throw TPMError(.attributes).handle(1) }
        guard let scheme = TPM.selectECCEncryptionScheme(keyKDF: parms.kdf.details, requested: inScheme.details) else {
            throw TPMError(.scheme).parameter(4)
        }
        let hash = try TPM.eccEncryptionHash(scheme)
        // A public-only key (LoadExternal without a private part) cannot decrypt.
        guard let key = k.material.eccPrivate else { throw TPMError(.key).handle(1) }
        // Part 4's CryptEccDecrypt multiplies C1 unchecked; a point off the curve is refused
        // here as in TPM2_ECDH_ZGen (an invalid-curve point would leak bits of the scalar).
        let ephemeral: ECCPublicKey
        do { ephemeral = try ECCPublicKey(curve: key.curve, point: ECCPoint(x: c1.x.buffer, y: c1.y.buffer)) } catch {
            throw TPMError(.eccPoint).parameter(1)
        }
        var message: [UInt8]
        do {
            message = try ECCEncryption.decrypt(c1: ephemeral, c2: c2.buffer, c3: c3.buffer, with: key, hash: hash)
        } catch TPMCryptoError.decryptionFailed {
            throw TPMError.value
        } catch { throw TPMError(.noResult) }
        c.response.sized(message)
        for i in message.indices { message[i] = 0 }
    }
}
