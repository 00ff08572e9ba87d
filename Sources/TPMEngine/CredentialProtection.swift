import TPMCrypto
import TPMWire

// Secrets protected by a key without being part of an object (Part 1, 24 "Credential
// Protection" and 23.3.2 "Outer Duplication Wrapper"): a seed shared with an asymmetric key
// (CryptSecretEncrypt, the inverse of `secretDecrypt` in AsymmetricCommands.swift) and the
// "outer wrap" keyed from that seed. A credential (TPM2_MakeCredential) and a duplication
// blob (TPM2_Duplicate, Import, Rewrap) share both. With H the protector's nameAlg and name
// the Name of the protected object:
//
//   symKey    = KDFa(H, seed, "STORAGE", name, "", protector's symmetric key bits)
//   hmacKey   = KDFa(H, seed, "INTEGRITY", "", "", digest bits of H)
//   encrypted = AES-CFB(symKey, IV of zeros)(data)
//   blob      = TPM2B_DIGEST(HMAC_H(hmacKey, encrypted || name)) || encrypted
//
// Unlike an object's private area (Protection.swift) the seed is used once, so no IV is
// stored: Part 1, 24.4 fixes it at zero.

enum OuterWrap {
    static let identityLabel = "IDENTITY"
    static let duplicateLabel = "DUPLICATE"

    /// ProduceOuterWrap without an IV.
    static func wrap(_ data: [UInt8], hash: HashAlgorithm, seed: [UInt8], keyBits: Int, name: [UInt8]) throws -> [UInt8] {
        let key = kdfa(hash, key: seed, label: PrivateProtection.storageLabel, contextU: name, contextV: [], bits: keyBits)
        let encrypted: [UInt8]
        do { encrypted = try AESCipher.encrypt(.cfb, key: key, iv: zeroIV, data).output } catch { throw TPMError(.failure) }
        var w = TPMWriter(capacity: 2 + hash.digestSize + encrypted.count)
        w.sized(integrity(encrypted, hash: hash, seed: seed, name: name))
        w.bytes(encrypted)
        return w.bytes
    }

    /// UnwrapOuter without an IV: the integrity value must parse (TPM_RC_SIZE,
    /// TPM_RC_INSUFFICIENT) and match (TPM_RC_INTEGRITY); returns the decrypted rest.
    static func unwrap(_ blob: [UInt8], hash: HashAlgorithm, seed: [UInt8], keyBits: Int, name: [UInt8]) throws -> [UInt8] {
        var r = TPMReader(blob)
        let expected = try TPM2BDigest(from: &r).buffer
        let encrypted = r.rest()
        guard constantTimeEqual(expected, integrity(encrypted, hash: hash, seed: seed, name: name)) else {
            throw TPMError(.integrity)
        }
        let key = kdfa(hash, key: seed, label: PrivateProtection.storageLabel, contextU: name, contextV: [], bits: keyBits)
        do { return try AESCipher.decrypt(.cfb, key: key, iv: zeroIV, encrypted).output } catch { throw TPMError(.failure) }
    }

    private static let zeroIV = [UInt8](repeating: 0, count: AESCipher.blockSize)

    private static func integrity(_ encrypted: [UInt8], hash: HashAlgorithm, seed: [UInt8], name: [UInt8]) -> [UInt8] {
        let hmacKey = kdfa(
            hash, key: seed, label: PrivateProtection.integrityLabel, contextU: [], contextV: [], bits: hash.digestSize * 8)
        return hash.hmac(key: hmacKey, data: encrypted + name)
    }

    /// The hash and symmetric key size of a protector: an RSA or ECC storage key (restricted
    /// decryption, so it names AES in its symmetric definition) with a real nameAlg.
    static func parameters(_ protector: KeyObject) throws -> (HashAlgorithm, Int) {
        guard let hash = protector.nameAlg.hashAlgorithm else { throw TPMError(.hash) }
        let sym = protector.symmetricDefinition
        guard sym.algorithm == .aes else { throw TPMError(.symmetric) }
        return (hash, Int(sym.keyBits))
    }
}

/// Credentials (Part 1, 24): TPM2B_ID_OBJECT = the outer wrap of TPM2B_DIGEST(credential),
/// keyed from a seed shared with the key that protects it and bound to the Name of the object
/// the credential is for.
enum CredentialProtection {
    /// SecretToCredential.
    static func make(credential: [UInt8], name: [UInt8], seed: [UInt8], protector: KeyObject) throws -> TPM2BIDObject {
        let (hash, keyBits) = try OuterWrap.parameters(protector)
        var plain = TPMWriter(capacity: 2 + credential.count)
        plain.sized(credential)
        let blob = try OuterWrap.wrap(plain.bytes, hash: hash, seed: seed, keyBits: keyBits, name: name)
        guard blob.count <= TPMLimits.maxIDObjectSize else { throw TPMError(.failure) }
        return TPM2BIDObject(blob)
    }

    /// CredentialToSecret: the outer wrap checked and removed, then exactly one TPM2B_DIGEST
    /// (TPM_RC_SIZE when octets are left over). Unnumbered codes.
    static func open(_ blob: TPM2BIDObject, name: [UInt8], seed: [UInt8], protector: KeyObject) throws -> TPM2BDigest {
        let (hash, keyBits) = try OuterWrap.parameters(protector)
        var plain = try OuterWrap.unwrap(blob.buffer, hash: hash, seed: seed, keyBits: keyBits, name: name)
        defer { secureWipeArray(&plain) }
        var r = TPMReader(plain)
        let secret = try TPM2BDigest(from: &r)
        guard r.isAtEnd else { throw TPMError.size }
        return secret
    }
}

extension TPM {
    /// CryptSecretEncrypt (the reference's order and codes): a seed of one nameAlg digest
    /// shared with the asymmetric key `k` under `label`, and the TPM2B_ENCRYPTED_SECRET that
    /// carries it. RSA: the seed from the DRBG, encrypted with OAEP using the key's nameAlg
    /// whatever its scheme. ECC: an ephemeral key pair Qe = [de]G, the seed
    /// KDFe(nameAlg, x([de]Qs), label, x(Qe), x(Qs)) and the secret the marshalled TPMS_ECC_POINT
    /// Qe. A key without decrypt is TPM_RC_ATTRIBUTES; an ECC public point off its curve is
    /// TPM_RC_KEY; a key without a nameAlg TPM_RC_VALUE (unnumbered, as the reference returns
    /// them).
    func secretEncrypt(_ k: KeyObject, label: String) throws -> (seed: [UInt8], secret: TPM2BEncryptedSecret) {
        // A public key loaded with a NULL nameAlg has no hash for OAEP, KDFe or the wrap.
        guard let hash = k.nameAlg.hashAlgorithm else { throw TPMError.value }
        guard k.attributes.has(.decrypt) else { throw TPMError(.attributes) }
        switch k.material {
        case .rsa(let key, _):
            let seed = random(hash.digestSize)
            let encrypted: [UInt8]
            do {
                encrypted = try withRandomSource {
                    try key.encryptOAEP(hash: hash, label: RSAPublicKey.oaepLabel(label), seed, using: &$0)
                }
            } catch {
                throw TPMError.value
            }
            return (seed, TPM2BEncryptedSecret(encrypted))
        case .ecc(let qs?, _):
            guard case .ecc(let unique) = k.publicArea.unique else { throw TPMError(.key) }
            let ephemeral: ECCPrivateKey
            do { ephemeral = try withRandomSource { try ECCPrivateKey.generate(curve: qs.curve, using: &$0) } } catch {
                throw TPMError(.noResult)
            }
            let z: ECCPoint
            do { z = try ephemeral.sharedPoint(with: qs) } catch { throw TPMError(.key) }
            let qe = ephemeral.publicKey.point
            let seed = kdfe(hash, z: z.x, use: label, partyUInfo: qe.x, partyVInfo: unique.x.buffer, bits: 8 * hash.digestSize)
            var w = TPMWriter(capacity: 4 + qe.x.count + qe.y.count)
            TPMSECCPoint(x: TPM2BECCParameter(qe.x), y: TPM2BECCParameter(qe.y)).encode(to: &w)
            return (seed, TPM2BEncryptedSecret(w.bytes))
        case .ecc(nil, _):
            throw TPMError(.key)
        case .symmetric:
            throw TPMError(.key)
        }
    }
}
