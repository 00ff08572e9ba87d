import TPMCrypto
import TPMWire

/// Protection of saved contexts (Part 1, 30.3 and 30.4): the context is encrypted with a key
/// and IV derived from the hierarchy's proof, and an HMAC keyed by the same proof binds the
/// ciphertext to the TPM Reset epoch, the sequence number and the saved handle.
///
///   symKey || iv  = KDFa(CONTEXT_INTEGRITY_HASH, proof, "CONTEXT", sequence, savedHandle, 384)
///   encrypted     = AES-256-CFB(symKey, iv, sequence || object)
///   integrity     = HMAC(proof, resetValue || sequence || savedHandle || encrypted)
///   contextBlob   = TPMS_CONTEXT_DATA { integrity, encrypted }  (both TPM2Bs, Part 2, 14.3)
///
/// `sequence` inside the encrypted part is the fingerprint Part 1 calls for: after
/// decryption it must equal TPMS_CONTEXT.sequence. Integers are big-endian.
///
/// resetValue: Part 1 uses the TPM's total reset count so that no context loads after a TPM
/// Reset. Here the reset epoch is identified by nullProof, which is drawn fresh at every TPM
/// Reset and carried across TPM Restart and Resume exactly as a context must be, and which,
/// unlike resetCount, TPM2_Clear does not rewind. Objects with stClear (saved as 0x80000002)
/// may not be loaded after a TPM Restart (Part 1, 30.4): their HMAC also binds restartCount.
/// That count grows at TPM Resume too, so such a context is also refused after a Resume,
/// which Part 1 would allow (the reference counts Restarts alone in a STATE_RESET value this
/// state format does not have yet).
enum ContextProtection {
    /// TPM_PT_CONTEXT_SYM and TPM_PT_CONTEXT_SYM_SIZE (as in libtpms: AES-256).
    static let symmetricAlgorithm: TPMAlgID = .aes
    static let symmetricKeyBits = 256
    /// TPM_PT_CONTEXT_HASH.
    static var integrityHash: HashAlgorithm { TPM.contextIntegrityHash }
    static let kdfLabel = "CONTEXT"
    static let fingerprintSize = 8
}

extension TPM {
    /// The proof of a hierarchy (Part 1, 14.4): the HMAC key for its tickets and contexts.
    /// TPM_RH_NULL's proof is volatile and changes at every TPM Reset.
    func hierarchyProof(_ hierarchy: TPMHandle) -> [UInt8] {
        switch hierarchy {
        case .owner: return persistent.shProof
        case .endorsement: return persistent.ehProof
        case .platform: return persistent.phProof
        default: return volatile.nullProof
        }
    }

    /// Whether a hierarchy may be used now (TPMA_STARTUP_CLEAR ph/sh/ehEnable); NULL always.
    func hierarchyIsEnabled(_ hierarchy: TPMHandle) -> Bool {
        switch hierarchy {
        case .owner: return volatile.startupClear.contains(.shEnable)
        case .endorsement: return volatile.startupClear.contains(.ehEnable)
        case .platform: return volatile.startupClear.contains(.phEnable)
        default: return true
        }
    }

    /// Builds the protected TPMS_CONTEXT for `contents` (the serialized object or session).
    func protectContext(sequence: UInt64, savedHandle: TPMHandle, hierarchy: TPMHandle, contents: [UInt8]) throws -> TPMSContext {
        let proof = hierarchyProof(hierarchy)
        var plain = TPMWriter(capacity: ContextProtection.fingerprintSize + contents.count)
        plain.u64(sequence)
        plain.bytes(contents)
        let (key, iv) = contextKey(proof: proof, sequence: sequence, savedHandle: savedHandle)
        let encrypted = try AESCFB.encrypt(key: key, iv: iv, plain.bytes)
        // A context that could not be loaded again must not be handed out.
        guard encrypted.count <= TPMLimits.maxContextSize else { throw TPMError(.failure) }
        let integrity = contextIntegrity(proof: proof, sequence: sequence, savedHandle: savedHandle, encrypted: encrypted)
        let data = TPMSContextData(integrity: TPM2BDigest(integrity), encrypted: TPM2BContextSensitive(encrypted))
        return TPMSContext(
            sequence: sequence, savedHandle: savedHandle, hierarchy: hierarchy, contextBlob: TPM2BContextData(data.wireBytes))
    }

    /// Checks and decrypts a context; returns what `protectContext` was given as `contents`.
    /// Errors carry parameter number 1 (the context is ContextLoad's only parameter):
    /// TPM_RC_SIZE when the blob's framing or integrity size is wrong, TPM_RC_INTEGRITY when
    /// the HMAC does not match (tampering, another TPM, or a TPM Reset since the save).
    func unprotectContext(_ context: TPMSContext) throws -> [UInt8] {
        let data: TPMSContextData
        do {
            data = try TPMSContextData(wire: context.contextBlob.buffer)
        } catch {
            throw TPMError.size.parameter(1)
        }
        guard data.integrity.count == ContextProtection.integrityHash.digestSize,
            data.encrypted.count >= ContextProtection.fingerprintSize
        else { throw TPMError.size.parameter(1) }
        let proof = hierarchyProof(context.hierarchy)
        let expected = contextIntegrity(
            proof: proof, sequence: context.sequence, savedHandle: context.savedHandle, encrypted: data.encrypted.buffer)
        guard constantTimeEqual(expected, data.integrity.buffer) else { throw TPMError(.integrity).parameter(1) }
        let (key, iv) = contextKey(proof: proof, sequence: context.sequence, savedHandle: context.savedHandle)
        guard let plain = try? AESCFB.decrypt(key: key, iv: iv, data.encrypted.buffer) else { throw TPMError(.failure) }
        // The fingerprint can only differ if the TPM itself is broken: the HMAC matched.
        var r = TPMReader(plain)
        guard (try? r.u64()) == context.sequence else { throw TPMError(.integrity).parameter(1) }
        return r.rest()
    }

    private func contextKey(proof: [UInt8], sequence: UInt64, savedHandle: TPMHandle) -> (key: [UInt8], iv: [UInt8]) {
        let keyBytes = ContextProtection.symmetricKeyBits / 8
        let material = kdfa(
            ContextProtection.integrityHash, key: proof, label: ContextProtection.kdfLabel,
            contextU: be64(sequence), contextV: be32(savedHandle.rawValue), bits: (keyBytes + AESCFB.blockSize) * 8)
        return (Array(material[0..<keyBytes]), Array(material[keyBytes...]))
    }

    private func contextIntegrity(proof: [UInt8], sequence: UInt64, savedHandle: TPMHandle, encrypted: [UInt8]) -> [UInt8] {
        var m = TPMWriter(capacity: volatile.nullProof.count + 12 + encrypted.count)
        m.bytes(volatile.nullProof)  // resetValue: see the type's comment
        if savedHandle == .savedTransientClear { m.u32(persistent.restartCount) }
        m.u64(sequence)
        m.u32(savedHandle.rawValue)
        m.bytes(encrypted)
        return ContextProtection.integrityHash.hmac(key: proof, data: m.bytes)
    }
}

private func be64(_ v: UInt64) -> [UInt8] {
    var w = TPMWriter(capacity: 8)
    w.u64(v)
    return w.bytes
}

private func be32(_ v: UInt32) -> [UInt8] {
    var w = TPMWriter(capacity: 4)
    w.u32(v)
    return w.bytes
}
