import TPMCrypto
import TPMWire

/// Protection of an object's private area by its parent (Part 1, 22-23: "Protected Storage";
/// the reference's SensitiveToPrivate and PrivateToSensitive). With H the parent's nameAlg,
/// seed the parent's seedValue and name the object's Name:
///
///   symKey    = KDFa(H, seed, "STORAGE", name, "", parent's symmetric key bits)
///   hmacKey   = KDFa(H, seed, "INTEGRITY", "", "", digest bits of H)
///   plain     = TPM2B_SENSITIVE (a UINT16 size, then the TPMT_SENSITIVE)
///   encrypted = parent's symmetric cipher in CFB mode (symKey, iv)(plain)
///   integrity = HMAC_H(hmacKey, TPM2B_IV(iv) || encrypted || name)
///   private   = TPM2B_DIGEST(integrity) || TPM2B_IV(iv) || encrypted
///
/// The IV is fresh from the DRBG for each wrap and sits in front of the ciphertext, as in the
/// reference implementation; binding the Name into the HMAC and the key means a private area
/// loads only with the public area it was made for.
enum PrivateProtection {
    static let storageLabel = "STORAGE"
    static let integrityLabel = "INTEGRITY"

    /// Wraps `sensitive` for `parent` (a storage parent: restricted decryption key whose
    /// sensitive area is loaded). `iv` is one block of the parent's cipher.
    static func wrap(_ sensitive: TPMTSensitive, name: TPM2BName, parent: KeyObject, iv: [UInt8]) throws -> TPM2BPrivate {
        let (hash, seed, keyBits) = try parameters(parent)
        var area = sensitive.wireBytes
        defer { secureWipeArray(&area) }
        var plain = TPMWriter(capacity: 2 + area.count)
        plain.u16(UInt16(area.count))
        plain.bytes(area)
        let key = kdfa(hash, key: seed, label: storageLabel, contextU: name.buffer, contextV: [], bits: keyBits)
        var ivArea = TPMWriter(capacity: 2 + iv.count)
        ivArea.sized(iv)
        let encrypted: [UInt8]
        do { encrypted = try AESCipher.encrypt(.cfb, key: key, iv: iv, plain.bytes).output } catch { throw TPMError(.failure) }
        let integrity = outerIntegrity(hash: hash, seed: seed, data: ivArea.bytes + encrypted, name: name)
        var out = TPMWriter(capacity: 2 + integrity.count + ivArea.count + encrypted.count)
        out.sized(integrity)
        out.bytes(ivArea.bytes)
        out.bytes(encrypted)
        guard out.count <= TPMLimits.maxPrivateSize else { throw TPMError(.failure) }
        return TPM2BPrivate(out.bytes)
    }

    /// Checks and opens a private area made by `wrap` for the object named `name`. Codes, to
    /// be numbered by the caller for the private parameter: TPM_RC_SIZE or TPM_RC_INSUFFICIENT
    /// when the integrity or IV fields do not parse, TPM_RC_INTEGRITY when the HMAC does not
    /// match (another parent, another object, tampering), TPM_RC_VALUE for an IV of the wrong
    /// size, TPM_RC_SENSITIVE when the decrypted area is not exactly one TPM2B_SENSITIVE
    /// (format zero, unnumbered).
    static func unwrap(_ blob: TPM2BPrivate, name: TPM2BName, parent: KeyObject, support: TPMAlgorithmSupport) throws -> TPMTSensitive {
        let (hash, seed, keyBits) = try parameters(parent)
        var r = TPMReader(blob.buffer)
        let integrity = try TPM2BDigest(from: &r)
        let protected = r.rest()
        let expected = outerIntegrity(hash: hash, seed: seed, data: protected, name: name)
        guard constantTimeEqual(expected, integrity.buffer) else { throw TPMError(.integrity) }
        var pr = TPMReader(protected)
        let iv = try TPM2BIV(from: &pr)
        guard iv.count == AESCipher.blockSize else { throw TPMError.value }
        let key = kdfa(hash, key: seed, label: storageLabel, contextU: name.buffer, contextV: [], bits: keyBits)
        var plain: [UInt8]
        do { plain = try AESCipher.decrypt(.cfb, key: key, iv: iv.buffer, pr.rest()).output } catch { throw TPMError(.failure) }
        defer { secureWipeArray(&plain) }
        var sr = TPMReader(plain)
        guard let size = try? sr.u16(), Int(size) == sr.remaining,
            let sensitive = try? TPMTSensitive(from: &sr, support: support), sr.isAtEnd
        else { throw TPMError(.sensitive) }
        return sensitive
    }

    /// H, the parent's seedValue and the symmetric key size in bits.
    private static func parameters(_ parent: KeyObject) throws -> (HashAlgorithm, [UInt8], Int) {
        guard let hash = parent.nameAlg.hashAlgorithm, let s = parent.sensitive else { throw TPMError(.type) }
        let sym = parent.symmetricDefinition
        guard sym.algorithm == .aes else { throw TPMError(.symmetric) }
        return (hash, s.seedValue.buffer, Int(sym.keyBits))
    }

    private static func outerIntegrity(hash: HashAlgorithm, seed: [UInt8], data: [UInt8], name: TPM2BName) -> [UInt8] {
        let hmacKey = kdfa(hash, key: seed, label: integrityLabel, contextU: [], contextV: [], bits: hash.digestSize * 8)
        return hash.hmac(key: hmacKey, data: data + name.buffer)
    }
}

/// Overwrites a secret held in a Swift array before it is released.
func secureWipeArray(_ a: inout [UInt8]) {
    for i in a.indices { a[i] = 0 }
}
