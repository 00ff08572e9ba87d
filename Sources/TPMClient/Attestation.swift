import TPMWire

/// What TPM2_Quote returns: the TPMS_ATTEST octets the signature covers and the TPMT_SIGNATURE.
public struct Quote: Hashable, Sendable {
    public var attest: [UInt8]
    public var signature: [UInt8]
}

extension TPMClient {
    /// TPM2_Quote (Part 3, 18.4) with the key's own scheme (inScheme NULL).
    public func quote(
        key: TPMHandle, keyAuth: Authorization = .emptyPassword, qualifyingData: [UInt8], pcrs: TPMLPCRSelection
    ) throws(TPMClientError) -> Quote {
        var w = TPMWriter()
        w.sized(qualifyingData)
        w.u16(TPMAlgID.null.rawValue)
        pcrs.encode(to: &w)
        let r = try execute(TPMCommand(.quote, handles: [key], authorizations: [keyAuth], parameters: w.bytes))
        return try decode(r, .quote) { reader in
            let attest = try reader.sized(max: TPMLimits.maxAttestSize)
            let start = reader.offset
            _ = try TPMTSignature(from: &reader, allowNull: true, support: .client)
            return Quote(attest: attest, signature: reader.consumed(from: start))
        }
    }

    /// TPM2_ActivateCredential (Part 3, 12.5): `activate` is the credential's object (the AK, ADMIN
    /// role), `key` the EK that decrypts the seed (USER role). Returns certInfo, the credential.
    public func activateCredential(
        activate: TPMHandle, activateAuth: Authorization, key: TPMHandle, keyAuth: Authorization,
        credentialBlob: [UInt8], secret: [UInt8]
    ) throws(TPMClientError) -> [UInt8] {
        var w = TPMWriter()
        w.sized(credentialBlob)
        w.sized(secret)
        let r = try execute(
            TPMCommand(
                .activateCredential, handles: [activate, key], authorizations: [activateAuth, keyAuth], parameters: w.bytes))
        return try decode(r, .activateCredential) { try $0.sized(max: TPMLimits.maxDigestSize) }
    }
}

extension TPMClient {
    /// TPM2_MakeCredential (Part 3, 12.6): what a verifier computes, done by a TPM holding the
    /// public key `handle` (no authorization). Returns (credentialBlob, secret).
    public func makeCredential(handle: TPMHandle, credential: [UInt8], objectName: [UInt8]) throws(TPMClientError) -> ([UInt8], [UInt8]) {
        var w = TPMWriter()
        w.sized(credential)
        w.sized(objectName)
        let r = try execute(TPMCommand(.makeCredential, handles: [handle], parameters: w.bytes))
        return try decode(r, .makeCredential) { reader in
            (try reader.sized(max: TPMLimits.maxIDObjectSize), try reader.sized(max: TPMLimits.maxEncryptedSecretSize))
        }
    }
}
