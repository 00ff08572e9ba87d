import TPMCrypto
import TPMWire

// Symmetric primitives (Part 3, 15): encryption with a symmetric-cipher object and HMAC with
// a keyed-hash object.

extension TPM {
    /// EncryptDecryptShared (Part 4): the checks and work of TPM2_EncryptDecrypt and
    /// TPM2_EncryptDecrypt2, whose parameters come in different orders; `modeParameter`,
    /// `ivParameter` and `dataParameter` are their numbers. Checks: a SYMCIPHER key
    /// (TPM_RC_KEY + H1), unrestricted with `decrypt` to decrypt or `sign` to encrypt
    /// (TPM_RC_ATTRIBUTES + H1), a mode that agrees with the key's (TPM_RC_MODE on the mode), an
    /// IV of one block (none for ECB; TPM_RC_SIZE on the IV), whole blocks for CBC and ECB
    /// (TPM_RC_SIZE on the data).
    func encryptDecrypt(
        _ c: inout CommandContext, decrypt: Bool, mode requested: TPMAlgID, iv: TPM2BIV, data: TPM2BMaxBuffer,
        modeParameter: Int, ivParameter: Int, dataParameter: Int
    ) throws {
        guard let k = keyObject(c.handles[0]), k.type == .symCipher, case .symCipher(let parms) = k.publicArea.parameters else {
            throw TPMError(.key).handle(1)
        }
        let a = k.attributes
        if a.has(.restricted) || !(decrypt ? a.has(.decrypt) : a.has(.sign)) { throw TPMError(.attributes).handle(1) }
        var mode = parms.sym.mode
        if mode != .null {
            if requested != .null && requested != mode { throw TPMError(.mode).parameter(modeParameter) }
        } else {
            guard requested != .null else { throw TPMError(.mode).parameter(modeParameter) }
            mode = requested
        }
        guard let m = SymmetricMode(rawValue: mode.rawValue) else { throw TPMError(.mode).parameter(modeParameter) }
        let block = AESCipher.blockSize
        if (m == .ecb && iv.count != 0) || (m != .ecb && iv.count != block) { throw TPMError.size.parameter(ivParameter) }
        if (m == .cbc || m == .ecb) && data.count % block != 0 { throw TPMError.size.parameter(dataParameter) }
        guard case .symCipher(let key)? = k.sensitive?.sensitive else { throw TPMError(.key).handle(1) }
        let result: (output: [UInt8], ivOut: [UInt8])
        do {
            result =
                decrypt
                ? try AESCipher.decrypt(m, key: key.buffer, iv: iv.buffer, data.buffer)
                : try AESCipher.encrypt(m, key: key.buffer, iv: iv.buffer, data.buffer)
        } catch {
            throw TPMError(.failure)
        }
        TPM2BMaxBuffer(result.output).encode(to: &c.response)
        TPM2BIV(result.ivOut).encode(to: &c.response)
    }

    static func cipherModeParameter(_ r: inout TPMReader) throws -> TPMAlgID {
        try TPMIAlgSymMode(from: &r, allowNull: true, support: TPM.algorithmSupport).alg
    }

    /// TPM2_EncryptDecrypt (Part 3, 15.2): decrypt (P1), mode (P2), ivIn (P3), inData (P4).
    func encryptDecryptCommand(_ c: inout CommandContext) throws {
        let decrypt = try c.param(TPMIYesNo.self).value
        let mode = try c.param(TPM.cipherModeParameter)
        let iv = try c.param(TPM2BIV.self)
        let data = try c.param(TPM2BMaxBuffer.self)
        try c.finish()
        try encryptDecrypt(&c, decrypt: decrypt, mode: mode, iv: iv, data: data, modeParameter: 2, ivParameter: 3, dataParameter: 4)
    }

    /// TPM2_EncryptDecrypt2 (Part 3, 15.3): the data first, so that sessions may encrypt it:
    /// inData (P1), decrypt (P2), mode (P3), ivIn (P4).
    func encryptDecrypt2Command(_ c: inout CommandContext) throws {
        let data = try c.param(TPM2BMaxBuffer.self)
        let decrypt = try c.param(TPMIYesNo.self).value
        let mode = try c.param(TPM.cipherModeParameter)
        let iv = try c.param(TPM2BIV.self)
        try c.finish()
        try encryptDecrypt(&c, decrypt: decrypt, mode: mode, iv: iv, data: data, modeParameter: 3, ivParameter: 4, dataParameter: 1)
    }

    /// TPM2_HMAC (Part 3, 15.5). Checks: a KEYEDHASH key (TPM_RC_TYPE + H1), unrestricted
    /// (TPM_RC_ATTRIBUTES + H1), with `sign` (TPM_RC_KEY + H1); the hash is the key's scheme
    /// hash, which the caller's must equal unless NULL, or the caller's when the key has no
    /// scheme; none, or a mismatch, is TPM_RC_VALUE + P2.
    func hmacCommand(_ c: inout CommandContext) throws {
        let buffer = try c.param(TPM2BMaxBuffer.self)
        let requested = try c.param { try TPMIAlgHash(from: &$0, allowNull: true).alg }
        try c.finish()
        guard let k = keyObject(c.handles[0]), k.type == .keyedHash, case .keyedHash(let parms) = k.publicArea.parameters else {
            throw TPMError(.type).handle(1)
        }
        if k.attributes.has(.restricted) { throw TPMError(.attributes).handle(1) }
        guard k.attributes.has(.sign) else { throw TPMError(.key).handle(1) }
        var hashAlg = requested
        switch parms.scheme.details {
        case .null: break
        case .hmac(let h), .xor(let h, _): hashAlg = (requested == .null || requested == h) ? h : .null
        }
        guard let h = hashAlg.hashAlgorithm else { throw TPMError.value.parameter(2) }
        guard case .keyedHash(let key)? = k.sensitive?.sensitive else { throw TPMError(.key).handle(1) }
        TPM2BDigest(h.hmac(key: key.buffer, data: buffer.buffer)).encode(to: &c.response)
    }
}
