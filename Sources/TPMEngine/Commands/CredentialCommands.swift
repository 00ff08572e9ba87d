import TPMCrypto
import TPMWire

// TPM2_MakeCredential and TPM2_ActivateCredential (Part 3, 12.6 and 12.5; Part 1, 24): a
// credential made for the object named objectName, readable only by the TPM that holds both the
// decryption key it was made with (typically an EK) and that object (typically an AK). The
// protection is in CredentialProtection.swift.

extension TPM {
    /// A key that can protect a credential (both commands check it first): an RSA or ECC
    /// restricted decryption key.
    static func isCredentialProtector(_ k: KeyObject?) -> Bool {
        guard let k else { return false }
        return (k.type == .rsa || k.type == .ecc) && k.attributes.has(.decrypt) && k.attributes.has(.restricted)
    }

    /// TPM2_MakeCredential (Part 3, 12.6): needs only the public area of `handle`. Checks: an
    /// asymmetric restricted decryption key (TPM_RC_TYPE + H1), a credential no longer than the
    /// key's nameAlg digest (TPM_RC_SIZE + P1); then the seed is shared with the key under
    /// "IDENTITY" and the credential wrapped with it.
    func makeCredentialCommand(_ c: inout CommandContext) throws {
        let credential = try c.param(TPM2BDigest.self)
        let objectName = try c.param(TPM2BName.self)
        try c.finish()
        let k = keyObject(c.handles[0])
        guard TPM.isCredentialProtector(k), let k else { throw TPMError(.type).handle(1) }
        guard credential.count <= TPMLimits.digestSize(k.nameAlg) ?? 0 else { throw TPMError.size.parameter(1) }
        var (seed, secret) = try secretEncrypt(k, label: OuterWrap.identityLabel)
        defer { secureWipeArray(&seed) }
        let blob = try CredentialProtection.make(credential: credential.buffer, name: objectName.buffer, seed: seed, protector: k)
        blob.encode(to: &c.response)
        secret.encode(to: &c.response)
    }

    /// TPM2_ActivateCredential (Part 3, 12.5): activateHandle (ADMIN role) is the object the
    /// credential names, keyHandle (USER role) the key it was made for. Checks: keyHandle an
    /// asymmetric restricted decryption key (TPM_RC_TYPE + H2); the seed recovered from secret
    /// (its codes + P2; a key that cannot decrypt at all is TPM_RC_FAILURE, as in the
    /// reference); the credential blob opened with the Name of activateHandle (TPM_RC_INTEGRITY
    /// and decoding codes + P1).
    func activateCredentialCommand(_ c: inout CommandContext) throws {
        let credentialBlob = try c.param(TPM2BIDObject.self)
        let secret = try c.param(TPM2BEncryptedSecret.self)
        try c.finish()
        let k = keyObject(c.handles[1])
        guard TPM.isCredentialProtector(k), let k else { throw TPMError(.type).handle(2) }
        var seed: [UInt8]
        do {
            seed = try secretDecrypt(k, label: OuterWrap.identityLabel, secret: secret.buffer)
        } catch let e as TPMError {
            if e.rc == .key { throw TPMError(.failure) }
            throw e.parameter(2)
        }
        defer { secureWipeArray(&seed) }
        let certInfo: TPM2BDigest
        do {
            certInfo = try CredentialProtection.open(credentialBlob, name: entityName(c.handles[0]), seed: seed, protector: k)
        } catch let e as TPMError {
            throw e.parameter(1)
        }
        certInfo.encode(to: &c.response)
    }
}
