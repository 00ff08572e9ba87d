import TPMCrypto
import TPMWire

// Derived objects (Part 1, 27.3; Part 3, 12.9): TPM2_CreateLoaded under a derivation parent (a
// restricted decryption KEYEDHASH object with an XOR scheme naming SP 800-108 and a hash)
// makes an object from the parent's secret, a label and a context, so the same parent, template,
// label and context always give the same key. The bits come from `DerivationStream` keyed with
// the parent's sensitive data; they are drawn in the reference's order, so a derivation parent
// duplicated to another TPM derives the same keys there (libtpms gives the same public areas):
//
//   ECC        the scalar by extra random bits (order octets + 8), the point from it
//   KEYEDHASH  the key, a digest of the scheme's hash (the nameAlg's without a scheme)
//   SYMCIPHER  the key, keyBits / 8 octets
//   then       seedValue, a nameAlg digest, kept by storage parents and symmetric objects
//              (whose unique field it salts), dropped by other asymmetric keys
//
// RSA keys are not derived (TPM_RC_TYPE), and a derived object is never sensitiveDataOrigin.

extension ObjectCreation {
    /// SetLabelAndContext: the template's label and context, each replaced by the one in
    /// inSensitive.data (a TPMS_DERIVE, when present) only where the template's is empty.
    /// Decoding errors are unnumbered, as the reference returns them.
    static func labelAndContext(template: TPMSDerive, sensitiveData: [UInt8]) throws -> TPMSDerive {
        guard !sensitiveData.isEmpty else { return template }
        var r = TPMReader(sensitiveData)
        let given = try TPMSDerive(from: &r)
        return TPMSDerive(
            label: template.label.count == 0 ? given.label : template.label,
            context: template.context.count == 0 ? given.context : template.context)
    }

    /// Derives the object `template` (whose unique field is ignored) under `parent`.
    static func derive(template: TPMTPublic, auth: [UInt8], parent: KeyObject, derive: TPMSDerive) throws -> CreatedObject {
        guard case .keyedHash(let parentParms) = parent.publicArea.parameters, case .xor(let kdfHash, _) = parentParms.scheme.details,
            let hash = kdfHash.hashAlgorithm, case .keyedHash(let parentBits)? = parent.sensitive?.sensitive
        else { throw TPMError(.type) }
        guard let nameHash = template.nameAlg.hashAlgorithm else { throw TPMError(.hash) }
        var stream = DerivationStream(hash: hash, key: parentBits.buffer, label: derive.label.buffer, context: derive.context.buffer)
        func next(_ n: Int) throws -> [UInt8] {
            guard let b = stream.next(n) else { throw TPMError(.noResult) }
            return b
        }
        var p = template
        let a = p.objectAttributes
        let secret: TPMUSensitiveComposite
        let material: KeyMaterial
        var keepsSeed = a.has(.restricted) && a.has(.decrypt)
        switch p.parameters {
        case .rsa:
            throw TPMError(.type)
        case .ecc(let parms):
            guard let curve = parms.curveID.curve else { throw TPMError(.curve) }
            var bits = try next(ECCPrivateKey.extraBitsOctets(curve))
            defer { secureWipeArray(&bits) }
            let key: ECCPrivateKey
            do { key = try ECCPrivateKey.fromExtraBits(curve: curve, bits) } catch { throw TPMError(.noResult) }
            p.unique = .ecc(TPMSECCPoint(x: TPM2BECCParameter(key.publicKey.point.x), y: TPM2BECCParameter(key.publicKey.point.y)))
            var d = key.scalar()
            secret = .ecc(TPM2BECCParameter(d))
            secureWipeArray(&d)
            material = .ecc(public: key.publicKey, private: key)
        case .symCipher(let parms):
            secret = .symCipher(TPM2BSymKey(try next(Int(parms.sym.keyBits) / 8)))
            material = .symmetric
            keepsSeed = true
        case .keyedHash(let parms):
            let h: TPMAlgID
            switch parms.scheme.details {
            case .null: h = p.nameAlg
            case .xor(let x, _), .hmac(let x): h = x
            }
            guard let keyHash = h.hashAlgorithm else { throw TPMError(.hash) }
            secret = .keyedHash(TPM2BSensitiveData(try next(keyHash.digestSize)))
            material = .symmetric
            keepsSeed = true
        }
        // The reference draws the seed for every type, then drops it where it is not kept.
        let seed = try next(nameHash.digestSize)
        let sensitive = TPMTSensitive(authValue: TPM2BAuth(auth), seedValue: TPM2BDigest(keepsSeed ? seed : []), sensitive: secret)
        switch p.parameters {
        case .symCipher: p.unique = .symCipher(TPM2BDigest(ObjectValidation.symmetricUnique(publicArea: p, sensitive: sensitive)))
        case .keyedHash: p.unique = .keyedHash(TPM2BDigest(ObjectValidation.symmetricUnique(publicArea: p, sensitive: sensitive)))
        default: break
        }
        return CreatedObject(publicArea: p, sensitive: sensitive, material: material)
    }
}
