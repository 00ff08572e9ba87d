import TPMCrypto
import TPMWire

/// A duplication blob (Part 1, 23.3; the reference's SensitiveToDuplicate and
/// DuplicateToSensitive): the object's TPM2B_SENSITIVE, optionally under an inner wrapper keyed
/// by a symmetric key the caller and the TPM share, optionally under the outer wrapper of a new
/// parent (OuterWrap in CredentialProtection.swift, keyed from a seed shared with that parent
/// under "DUPLICATE"). With nameAlg the object's and name its Name:
///
///   plain = TPM2B_SENSITIVE (the authValue padded with zeros to a nameAlg digest)
///   inner = AES-CFB(encryptionKey, IV of zeros)(TPM2B_DIGEST(H_nameAlg(plain || name)) || plain)
///   outer = OuterWrap(inner or plain) with the new parent's nameAlg and symmetric key size
///
/// Without either wrapper the blob is the plain TPM2B_SENSITIVE.
enum DuplicationProtection {
    struct Inner {
        var symmetric: TPMTSymDefObject
        var key: [UInt8]
    }
    struct Outer {
        var hash: HashAlgorithm
        var keyBits: Int
        var seed: [UInt8]
    }

    /// SensitiveToDuplicate. `inner` nil or `outer` nil: that wrapper is not applied.
    static func wrap(_ sensitive: TPMTSensitive, nameAlg: HashAlgorithm, name: [UInt8], inner: Inner?, outer: Outer?) throws -> TPM2BPrivate
    {
        var s = sensitive
        if s.authValue.count < nameAlg.digestSize {
            s.authValue = TPM2BAuth(s.authValue.buffer + [UInt8](repeating: 0, count: nameAlg.digestSize - s.authValue.count))
        }
        var area = s.wireBytes
        defer { secureWipeArray(&area) }
        var plain = TPMWriter(capacity: 2 + area.count)
        plain.sized(area)
        var blob = plain.bytes
        if let inner {
            var w = TPMWriter(capacity: 2 + nameAlg.digestSize + blob.count)
            w.sized(nameAlg.digest(blob + name))
            w.bytes(blob)
            do { blob = try AESCipher.encrypt(.cfb, key: inner.key, iv: zeroIV, w.bytes).output } catch { throw TPMError(.failure) }
        }
        if let outer {
            blob = try OuterWrap.wrap(blob, hash: outer.hash, seed: outer.seed, keyBits: outer.keyBits, name: name)
        }
        guard blob.count <= TPMLimits.maxPrivateSize else { throw TPMError(.failure) }
        return TPM2BPrivate(blob)
    }

    /// DuplicateToSensitive: the outer wrapper checked and removed (TPM_RC_INTEGRITY, or a
    /// decoding code), the inner one decrypted and its digest checked (TPM_RC_INTEGRITY), then
    /// exactly one TPM2B_SENSITIVE (TPM_RC_SIZE for a size that does not match or octets left
    /// over; the TPMT_SENSITIVE's own decoding codes). Unnumbered codes.
    static func unwrap(
        _ blob: TPM2BPrivate, nameAlg: HashAlgorithm, name: [UInt8], inner: Inner?, outer: Outer?, support: TPMAlgorithmSupport
    ) throws -> TPMTSensitive {
        var data = blob.buffer
        if let outer {
            data = try OuterWrap.unwrap(data, hash: outer.hash, seed: outer.seed, keyBits: outer.keyBits, name: name)
        }
        defer { secureWipeArray(&data) }
        if let inner {
            do { data = try AESCipher.decrypt(.cfb, key: inner.key, iv: zeroIV, data).output } catch { throw TPMError(.failure) }
            var r = TPMReader(data)
            let integrity = try TPM2BDigest(from: &r)
            let rest = r.rest()
            guard constantTimeEqual(integrity.buffer, nameAlg.digest(rest + name)) else { throw TPMError(.integrity) }
            data = rest
        }
        var r = TPMReader(data)
        let size = try r.u16()
        guard Int(size) == r.remaining else { throw TPMError.size }
        let sensitive = try TPMTSensitive(from: &r, support: support)
        guard r.isAtEnd else { throw TPMError.size }
        return sensitive
    }

    private static let zeroIV = [UInt8](repeating: 0, count: AESCipher.blockSize)
}
