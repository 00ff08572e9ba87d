import TPMCrypto
import TPMWire

// Making the secret of a new object (the reference's CryptCreateObject) from a source of bits:
// the DRBG for TPM2_Create, or, for TPM2_CreatePrimary, the frozen KDFa stream of
// docs/primary-keys.md:
//
//   H        = the template's nameAlg
//   seed     = the hierarchy's primary seed (EPS, SPS, PPS, or the NULL seed)
//   label    = "Primary Object Creation"
//   contextU = H(the marshalled TPMT_PUBLIC of inPublic, unique field included)
//   contextV = inSensitive.data
//
// Requests come in this order and no other (section 4 of that document):
//   RSA        the prime candidates (RSAPrivateKey.generate), then
//   ECC        the scalar candidates (ECCPrivateKey.generate), then
//   SYMCIPHER  one request of keyBits bits: the key (none when the caller supplies it), then
//   KEYEDHASH  one request of the scheme hash's digest size: the key (none when supplied), then
//   all types  one request of the nameAlg's digest size: seedValue, drawn only for the types
//              that keep it: storage parents (restricted decryption keys) and every
//              KEYEDHASH and SYMCIPHER object, whose unique field it salts.

/// What CryptCreateObject produces.
struct CreatedObject {
    var publicArea: TPMTPublic
    var sensitive: TPMTSensitive
    var material: KeyMaterial
}

enum ObjectCreation {
    static let primaryLabel = "Primary Object Creation"

    /// The bit stream of a primary object (docs/primary-keys.md).
    static func primarySource(seed: [UInt8], template: TPMTPublic, sensitiveData: [UInt8]) throws -> KDFaBitSource {
        guard let h = template.nameAlg.hashAlgorithm else { throw TPMError(.hash) }
        return KDFaBitSource(
            hash: h, seed: seed, label: primaryLabel, contextU: h.digest(template.wireBytes), contextV: sensitiveData)
    }

    /// Creates the object `template` describes. `auth` is the adjusted authValue; `data` the
    /// caller's sensitive data (ignored when sensitiveDataOrigin is set). Errors are the
    /// reference's unnumbered codes: TPM_RC_RANGE (RSA exponent), TPM_RC_KEY_SIZE (a caller
    /// key of the wrong size), TPM_RC_SIZE (a caller HMAC key longer than the hash block),
    /// TPM_RC_NO_RESULT (the source gave no key).
    static func create<S: BitSource>(template: TPMTPublic, auth: [UInt8], data: [UInt8], source: inout S) throws -> CreatedObject {
        var p = template
        let a = p.objectAttributes
        let data = a.has(.sensitiveDataOrigin) ? [] : data
        guard let nameHash = p.nameAlg.hashAlgorithm else { throw TPMError(.hash) }
        let secret: TPMUSensitiveComposite
        let material: KeyMaterial
        let isParent = a.has(.restricted) && a.has(.decrypt)
        var keepsSeed = isParent
        switch p.parameters {
        case .rsa(let parms):
            let e = try rsaExponent(parms.exponent)
            let key: RSAPrivateKey
            do {
                key = try RSAPrivateKey.generate(modulusBits: Int(parms.keyBits), exponent: e, using: &source)
            } catch TPMCryptoError.noResult {
                throw TPMError(.noResult)
            } catch {
                throw TPMError.value
            }
            let k = Int(parms.keyBits) / 8
            p.unique = .rsa(TPM2BPublicKeyRSA(ObjectValidation.leftPad(key.publicKey.modulus, to: k)))
            var prime = key.prime()
            secret = .rsa(TPM2BPrivateKeyRSA(prime))
            secureWipeArray(&prime)
            material = .rsa(public: key.publicKey, private: key)
        case .ecc(let parms):
            guard let curve = parms.curveID.curve else { throw TPMError(.curve) }
            let key: ECCPrivateKey
            do { key = try ECCPrivateKey.generate(curve: curve, using: &source) } catch { throw TPMError(.noResult) }
            p.unique = .ecc(TPMSECCPoint(x: TPM2BECCParameter(key.publicKey.point.x), y: TPM2BECCParameter(key.publicKey.point.y)))
            var d = key.scalar()
            secret = .ecc(TPM2BECCParameter(d))
            secureWipeArray(&d)
            material = .ecc(public: key.publicKey, private: key)
        case .symCipher(let parms):
            let bytes = Int(parms.sym.keyBits) / 8
            if !data.isEmpty {
                guard data.count == bytes else { throw TPMError(.keySize) }
                secret = .symCipher(TPM2BSymKey(data))
            } else {
                secret = .symCipher(TPM2BSymKey(source.nextBytes(bytes)))
            }
            material = .symmetric
            keepsSeed = true
        case .keyedHash(let parms):
            let hash: TPMAlgID
            switch parms.scheme.details {
            case .null: hash = p.nameAlg
            case .xor(let h, _), .hmac(let h): hash = h
            }
            guard let h = hash.hashAlgorithm else { throw TPMError(.hash) }
            if !data.isEmpty {
                // A signing or decryption key is at most one hash block (longer keys are hashed
                // by HMAC and lose entropy); sealed data is bounded by its TPM2B.
                if (a.has(.sign) || a.has(.decrypt)) && data.count > h.blockSize { throw TPMError.size }
                secret = .keyedHash(TPM2BSensitiveData(data))
            } else {
                secret = .keyedHash(TPM2BSensitiveData(source.nextBytes(h.digestSize)))
            }
            material = .symmetric
            keepsSeed = true
        }
        let seed = keepsSeed ? source.nextBytes(nameHash.digestSize) : []
        let sensitive = TPMTSensitive(authValue: TPM2BAuth(auth), seedValue: TPM2BDigest(seed), sensitive: secret)
        switch p.parameters {
        case .symCipher: p.unique = .symCipher(TPM2BDigest(ObjectValidation.symmetricUnique(publicArea: p, sensitive: sensitive)))
        case .keyedHash: p.unique = .keyedHash(TPM2BDigest(ObjectValidation.symmetricUnique(publicArea: p, sensitive: sensitive)))
        default: break
        }
        return CreatedObject(publicArea: p, sensitive: sensitive, material: material)
    }

    /// The public exponent of a new RSA key (the reference's CryptRsaGenerateKey): 0 means
    /// 65537; anything else must be a prime of at least 65537 (TPM_RC_RANGE).
    static func rsaExponent(_ e: UInt32) throws -> UInt32 {
        if e == 0 { return RSAPublicKey.defaultExponent }
        guard e >= 65537, isPrime(e) else { throw TPMError(.range) }
        return e
    }

    static func isPrime(_ n: UInt32) -> Bool {
        guard n >= 2 else { return false }
        if n % 2 == 0 { return n == 2 }
        var d: UInt32 = 3
        while UInt64(d) * UInt64(d) <= UInt64(n) {
            if n % d == 0 { return false }
            d += 2
        }
        return true
    }
}

extension TPM {
    /// The primary seed of a hierarchy (Part 1, 14.3); TPM_RH_NULL's changes at every TPM Reset.
    func primarySeed(_ hierarchy: TPMHandle) -> [UInt8] {
        switch hierarchy {
        case .owner: return persistent.sps
        case .endorsement: return persistent.eps
        case .platform: return persistent.pps
        default: return volatile.nullSeed
        }
    }

    /// Runs `body` with the instance's DRBG as the bit source (after the reseed a restored
    /// state asks for).
    func withRandomSource<T>(_ body: (inout HMACDRBG) throws -> T) rethrows -> T {
        if drbgReseedPending { _ = random(0) }
        return try body(&drbg)
    }
}
