import TPMCrypto
import TPMWire

// Asymmetric primitives (Part 3, 14): RSA encryption and decryption with the TPM's padding
// schemes, ECDH key generation and Z computation, and the curve parameters.

extension TPM {
    /// IsLabelProperlyFormatted: a label is empty or ends in its terminating zero (Part 1,
    /// B.4); it is used for OAEP exactly as given, zero included.
    static func labelIsFormatted(_ label: [UInt8]) -> Bool { label.last.map { $0 == 0 } ?? true }

    /// CryptRsaSelectScheme: the key's scheme when the caller sends NULL, the caller's when the
    /// key has none, the caller's when both agree on scheme and hash; nil otherwise.
    static func selectRSADecryptScheme(_ k: KeyObject, requested: TPMUAsymScheme) -> TPMUAsymScheme? {
        guard case .rsa(let p) = k.publicArea.parameters else { return nil }
        let keyScheme = p.scheme.details
        if keyScheme == .null { return requested }
        if requested == .null { return keyScheme }
        return keyScheme.selector == requested.selector && keyScheme.hashAlg == requested.hashAlg ? requested : nil
    }

    static func rsaDecryptSchemeParameter(_ r: inout TPMReader) throws -> TPMTRSADecrypt {
        try TPMTRSADecrypt(from: &r, allowNull: true, support: TPM.algorithmSupport)
    }

    // MARK: TPM2_RSA_Encrypt

    /// TPM2_RSA_Encrypt (Part 3, 14.2): public-key encryption with RSAES-PKCS1-v1_5, OAEP or no
    /// padding (the message as an integer below n). Checks: an RSA key (TPM_RC_KEY + H1) with
    /// `decrypt` (TPM_RC_ATTRIBUTES + H1), a label ending in zero (TPM_RC_VALUE + P3), a
    /// compatible scheme (TPM_RC_SCHEME + P2); a message too long for the scheme is
    /// TPM_RC_VALUE.
    func rsaEncryptCommand(_ c: inout CommandContext) throws {
        let message = try c.param(TPM2BPublicKeyRSA.self)
        let inScheme = try c.param(TPM.rsaDecryptSchemeParameter)
        let label = try c.param(TPM2BData.self)
        try c.finish()
        guard let k = keyObject(c.handles[0]), k.type == .rsa, let key = k.material.rsaPublic else { throw TPMError(.key).handle(1) }
        guard k.attributes.has(.decrypt) else { throw TPMError(.attributes).handle(1) }
        guard TPM.labelIsFormatted(label.buffer) else { throw TPMError.value.parameter(3) }
        guard let scheme = TPM.selectRSADecryptScheme(k, requested: inScheme.details) else { throw TPMError(.scheme).parameter(2) }
        let out: [UInt8]
        do {
            switch scheme {
            case .null:
                // Leading zero octets do not count; the rest must fit in k octets and be below n.
                let m = Array(message.buffer.drop { $0 == 0 })
                guard m.count <= key.modulusBytes else { throw TPMError.value }
                out = try key.encryptRaw(m)
            case .rsaes:
                out = try withRandomSource { try key.encryptPKCS1v15(message.buffer, using: &$0) }
            case .oaep(let h):
                guard let hash = h.hashAlgorithm else { throw TPMError(.scheme) }
                out = try withRandomSource { try key.encryptOAEP(hash: hash, label: label.buffer, message.buffer, using: &$0) }
            default:
                throw TPMError(.scheme)
            }
        } catch is TPMCryptoError {
            throw TPMError.value
        }
        TPM2BPublicKeyRSA(out).encode(to: &c.response)
    }

    // MARK: TPM2_RSA_Decrypt

    /// TPM2_RSA_Decrypt (Part 3, 14.3). Checks: an RSA key (TPM_RC_KEY + H1), unrestricted with
    /// `decrypt` (TPM_RC_ATTRIBUTES + H1), a label ending in zero (TPM_RC_VALUE + P3), a
    /// compatible scheme (TPM_RC_SCHEME + P2); a ciphertext that is not k octets is TPM_RC_SIZE
    /// and a padding that does not check is TPM_RC_VALUE (Part 4's CryptRsaDecrypt; libtpms
    /// answers TPM_RC_FAILURE there).
    func rsaDecryptCommand(_ c: inout CommandContext) throws {
        let cipherText = try c.param(TPM2BPublicKeyRSA.self)
        let inScheme = try c.param(TPM.rsaDecryptSchemeParameter)
        let label = try c.param(TPM2BData.self)
        try c.finish()
        guard let k = keyObject(c.handles[0]), k.type == .rsa else { throw TPMError(.key).handle(1) }
        if k.attributes.has(.restricted) || !k.attributes.has(.decrypt) { throw TPMError(.attributes).handle(1) }
        guard TPM.labelIsFormatted(label.buffer) else { throw TPMError.value.parameter(3) }
        guard let scheme = TPM.selectRSADecryptScheme(k, requested: inScheme.details) else { throw TPMError(.scheme).parameter(2) }
        guard let key = k.material.rsaPrivate else { throw TPMError(.key).handle(1) }
        guard cipherText.count == key.publicKey.modulusBytes else { throw TPMError.size }
        var out: [UInt8]
        do {
            switch scheme {
            case .null: out = try key.decryptRaw(cipherText.buffer)
            case .rsaes: out = try key.decryptPKCS1v15(cipherText.buffer)
            case .oaep(let h):
                guard let hash = h.hashAlgorithm else { throw TPMError(.scheme) }
                out = try key.decryptOAEP(hash: hash, label: label.buffer, cipherText.buffer)
            default: throw TPMError(.scheme)
            }
        } catch is TPMCryptoError {
            throw TPMError.value
        }
        defer { secureWipeArray(&out) }
        TPM2BPublicKeyRSA(out).encode(to: &c.response)
    }

    // MARK: ECDH

    static func pointStructure(_ p: ECCPoint) -> TPM2BECCPoint {
        TPM2BECCPoint(TPMSECCPoint(x: TPM2BECCParameter(p.x), y: TPM2BECCParameter(p.y)))
    }

    /// TPM2_ECDH_KeyGen (Part 3, 14.4): an ephemeral key pair on the key's curve and the point
    /// Z = [de]Qs the other party can compute too. Checks: an ECC key (TPM_RC_KEY + H1; also
    /// for a public point that is not on the curve).
    func ecdhKeyGenCommand(_ c: inout CommandContext) throws {
        try c.finish()
        guard let k = keyObject(c.handles[0]), k.type == .ecc, let qs = k.material.eccPublic else { throw TPMError(.key).handle(1) }
        let ephemeral: ECCPrivateKey
        do { ephemeral = try withRandomSource { try ECCPrivateKey.generate(curve: qs.curve, using: &$0) } } catch {
            throw TPMError(.noResult)
        }
        let z: ECCPoint
        do { z = try ephemeral.sharedPoint(with: qs) } catch { throw TPMError(.noResult) }
        TPM.pointStructure(z).encode(to: &c.response)
        TPM.pointStructure(ephemeral.publicKey.point).encode(to: &c.response)
    }

    /// TPM2_ECDH_ZGen (Part 3, 14.5): [d]Qe with the key's private scalar. Checks: an ECC key
    /// (TPM_RC_KEY + H1), unrestricted with `decrypt` (TPM_RC_ATTRIBUTES + H1), scheme ECDH or
    /// NULL (TPM_RC_SCHEME + H1), the point on the curve (TPM_RC_ECC_POINT + P1).
    func ecdhZGenCommand(_ c: inout CommandContext) throws {
        let inPoint = try c.param(TPM2BECCPoint.self).point
        try c.finish()
        guard let k = keyObject(c.handles[0]), k.type == .ecc, case .ecc(let parms) = k.publicArea.parameters else {
            throw TPMError(.key).handle(1)
        }
        if k.attributes.has(.restricted) || !k.attributes.has(.decrypt) { throw TPMError(.attributes).handle(1) }
        switch parms.scheme.details {
        case .ecdh, .null: break
        default: throw TPMError(.scheme).handle(1)
        }
        guard let key = k.material.eccPrivate else { throw TPMError(.key).handle(1) }
        let peer: ECCPublicKey
        do { peer = try ECCPublicKey(curve: key.curve, point: ECCPoint(x: inPoint.x.buffer, y: inPoint.y.buffer)) } catch {
            throw TPMError(.eccPoint).parameter(1)
        }
        let z: ECCPoint
        do { z = try key.sharedPoint(with: peer) } catch { throw TPMError(.noResult) }
        TPM.pointStructure(z).encode(to: &c.response)
    }

    // MARK: TPM2_ECC_Parameters

    /// The KDF TPMS_ALGORITHM_DETAIL_ECC reports for each curve (as libtpms: SP 800-56A with the
    /// hash of the curve's size) and the curve's signing scheme (none for the NIST curves).
    static func curveKDF(_ curve: ECCCurve) -> TPMTKDFScheme {
        switch curve {
        case .nistP256: return TPMTKDFScheme(.kdf1SP800_56A(hashAlg: .sha256))
        case .nistP384: return TPMTKDFScheme(.kdf1SP800_56A(hashAlg: .sha384))
        case .nistP521: return TPMTKDFScheme(.kdf1SP800_56A(hashAlg: .sha512))
        // libtpms lists no KDF for BN-P256 (swtpm's ECC_Parameters answer: TPM_ALG_NULL).
        case .bnP256: return .null
        }
    }

    /// TPM2_ECC_Parameters (Part 3, 14.9): TPMS_ALGORITHM_DETAIL_ECC for an implemented curve;
    /// any other TPMI_ECC_CURVE value is TPM_RC_CURVE + P1 when it is decoded.
    func eccParametersCommand(_ c: inout CommandContext) throws {
        let id = try c.param { r -> TPMECCCurve in
            let v = TPMECCCurve(try r.u16())
            guard TPM.algorithmSupport.eccCurves.contains(v) else { throw TPMError(.curve) }
            return v
        }
        try c.finish()
        guard let curve = id.curve else { throw TPMError.value.parameter(1) }
        let p = curve.parameters
        c.response.u16(id.rawValue)
        c.response.u16(UInt16(curve.keyBits))
        TPM.curveKDF(curve).encode(to: &c.response)
        TPMTECCScheme.null.encode(to: &c.response)
        for v in [p.p, p.a, p.b, p.gX, p.gY, p.n, p.h] { c.response.sized(v) }
    }
}

extension TPM {
    /// CryptSecretDecrypt (Part 1, 24 and 19.6.13; Part 4) for asymmetric keys: recovers a seed
    /// sent to `k` with `label` (a salt: "SECRET"; a credential: "IDENTITY"; a duplication
    /// seed: "DUPLICATE"; each with its terminating zero).
    /// - RSA: OAEP with the key's OAEP hash, or its nameAlg when its scheme is NULL; any other
    ///   scheme is TPM_RC_SCHEME. The seed may be no longer than that hash's digest.
    /// - ECC: `secret` holds a TPMS_ECC_POINT Qe; Z = [d]Qe and the seed is
    ///   KDFe(nameAlg, Z.x, label, Qe.x, Qs.x, digest bits of nameAlg).
    /// Other failures are TPM_RC_VALUE (callers number or map them).
    func secretDecrypt(_ k: KeyObject, label: String, secret: [UInt8]) throws -> [UInt8] {
        guard let nameHash = k.nameAlg.hashAlgorithm else { throw TPMError(.hash) }
        switch k.material {
        case .rsa(_, let key?):
            guard case .rsa(let p) = k.publicArea.parameters else { throw TPMError(.key) }
            let hash: HashAlgorithm
            switch p.scheme.details {
            case .null: hash = nameHash
            case .oaep(let h):
                guard let oh = h.hashAlgorithm else { throw TPMError(.scheme) }
                hash = oh
            default: throw TPMError(.scheme)
            }
            guard secret.count == key.publicKey.modulusBytes else { throw TPMError.size }
            let seed: [UInt8]
            do { seed = try key.decryptOAEP(hash: hash, label: RSAPublicKey.oaepLabel(label), secret) } catch { throw TPMError.value }
            guard seed.count <= hash.digestSize else { throw TPMError.value }
            return seed
        case .ecc(_?, let key?):
            var r = TPMReader(secret)
            let qe = try TPMSECCPoint(from: &r)
            let peer: ECCPublicKey
            do { peer = try ECCPublicKey(curve: key.curve, point: ECCPoint(x: qe.x.buffer, y: qe.y.buffer)) } catch {
                throw TPMError(.eccPoint)
            }
            let z: ECCPoint
            do { z = try key.sharedPoint(with: peer) } catch { throw TPMError(.noResult) }
            // The x coordinates as they appear in the secret and in the key's public area.
            guard case .ecc(let unique) = k.publicArea.unique else { throw TPMError(.key) }
            return kdfe(nameHash, z: z.x, use: label, partyUInfo: qe.x.buffer, partyVInfo: unique.x.buffer, bits: 8 * nameHash.digestSize)
        default:
            throw TPMError(.key)
        }
    }
}
