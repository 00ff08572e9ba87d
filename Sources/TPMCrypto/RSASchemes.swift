// The RSA signature and encryption schemes the TPM implements (Part 1, Annex B; RFC 8017).
// Encoding (signing, encryption) is done here so that salts, seeds and padding octets come from
// the caller's BitSource and the results are reproducible; the private-key operation and the
// secret-dependent decoding (decryption) are OpenSSL's.

extension RSAPublicKey {
    /// A TPM label as OAEP uses it: the string's octets with a terminating zero added when
    /// missing ("DUPLICATE" -> "DUPLICATE\0"; Part 1, Annex B.10.4 and the labels of
    /// MakeCredential, Duplicate and salted sessions, which all include the zero).
    public static func oaepLabel(_ label: String) -> [UInt8] {
        var b = Array(label.utf8)
        if b.last != 0 { b.append(0) }
        return b
    }

    /// EMSA-PKCS1-v1_5 DigestInfo prefixes (RFC 8017, 9.2, note 1).
    static func digestInfoPrefix(_ h: HashAlgorithm) -> [UInt8] {
        switch h {
        case .sha1: return [0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A, 0x05, 0x00, 0x04, 0x14]
        case .sha256:
            return [0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20]
        case .sha384:
            return [0x30, 0x41, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30]
        case .sha512:
            return [0x30, 0x51, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40]
        }
    }

    /// EMSA-PKCS1-v1_5-ENCODE (RFC 8017, 9.2) of an already computed digest, k octets.
    func pkcs1v15Encode(hash: HashAlgorithm, digest: [UInt8]) throws -> [UInt8] {
        guard digest.count == hash.digestSize else { throw TPMCryptoError.digestSizeMismatch }
        let t = Self.digestInfoPrefix(hash) + digest
        let k = modulusBytes
        guard k >= t.count + 11 else { throw TPMCryptoError.schemeNotApplicable }
        return [0x00, 0x01] + [UInt8](repeating: 0xFF, count: k - t.count - 3) + [0x00] + t
    }

    /// The PSS salt length the TPM uses when signing: the digest size, or less when the key is
    /// too small for it (emLen - hLen - 2). Part 1, Annex B.7 asks for the largest salt the key
    /// allows; FIPS 186-5 caps it at the hash size, and the TCG reference code and libtpms
    /// sign with min(hLen, emLen - hLen - 2).
    public func pssSaltLength(hash: HashAlgorithm) -> Int {
        let emLen = (modulusBits - 1 + 7) / 8
        return max(0, min(hash.digestSize, emLen - hash.digestSize - 2))
    }

    /// RSASSA-PKCS1-v1_5 verification (RFC 8017, 8.2.2; TPM_ALG_RSASSA) of a digest: the
    /// signature is k octets; the encoding is recomputed and compared.
    public func verifyPKCS1v15(hash: HashAlgorithm, digest: [UInt8], signature: [UInt8]) -> Bool {
        guard signature.count == modulusBytes, let expected = try? pkcs1v15Encode(hash: hash, digest: digest),
            let em = try? publicOperation(BigNum(signature))
        else { return false }
        return constantTimeEqual(em, expected)
    }

    /// RSASSA-PSS verification (RFC 8017, 8.1.2 and EMSA-PSS-VERIFY 9.1.2; TPM_ALG_RSAPSS) of a
    /// digest, MGF1 with the same hash, any salt length (the salt is recovered from the
    /// encoding, as the TPM does).
    public func verifyPSS(hash: HashAlgorithm, digest: [UInt8], signature: [UInt8]) -> Bool {
        let hLen = hash.digestSize
        guard digest.count == hLen, signature.count == modulusBytes, let m = try? publicOperation(BigNum(signature)) else {
            return false
        }
        let emBits = modulusBits - 1
        let emLen = (emBits + 7) / 8
        guard emLen >= hLen + 2 else { return false }
        // m has k octets; when emBits is a multiple of 8, EM is the low emLen of them and the
        // extra leading octet must be zero.
        guard m.prefix(m.count - emLen).allSatisfy({ $0 == 0 }) else { return false }
        let em = Array(m.suffix(emLen))
        guard em[emLen - 1] == 0xBC else { return false }
        let maskedDB = Array(em[0..<(emLen - hLen - 1)])
        let h = Array(em[(emLen - hLen - 1)..<(emLen - 1)])
        let unusedBits = 8 * emLen - emBits
        let topMask = UInt8(truncatingIfNeeded: 0xFF << (8 - unusedBits))
        guard unusedBits == 0 || maskedDB[0] & topMask == 0 else { return false }
        var db = mgf1(hash, seed: h, length: maskedDB.count)
        for i in 0..<db.count { db[i] ^= maskedDB[i] }
        if unusedBits > 0 { db[0] &= ~topMask }
        guard let one = db.firstIndex(where: { $0 != 0 }), db[one] == 0x01 else { return false }
        let salt = Array(db[(one + 1)...])
        let hPrime = hash.digest([[UInt8](repeating: 0, count: 8), digest, salt])
        return constantTimeEqual(h, hPrime)
    }

    /// EMSA-PSS-ENCODE (RFC 8017, 9.1.1) with the given salt, emLen octets.
    func pssEncode(hash: HashAlgorithm, digest: [UInt8], salt: [UInt8]) throws -> [UInt8] {
        let hLen = hash.digestSize
        guard digest.count == hLen else { throw TPMCryptoError.digestSizeMismatch }
        let emBits = modulusBits - 1
        let emLen = (emBits + 7) / 8
        guard emLen >= hLen + salt.count + 2 else { throw TPMCryptoError.schemeNotApplicable }
        let h = hash.digest([[UInt8](repeating: 0, count: 8), digest, salt])
        var db = [UInt8](repeating: 0, count: emLen - salt.count - hLen - 2) + [0x01] + salt
        let mask = mgf1(hash, seed: h, length: db.count)
        for i in 0..<db.count { db[i] ^= mask[i] }
        let unusedBits = 8 * emLen - emBits
        if unusedBits > 0 { db[0] &= UInt8(0xFF >> unusedBits) }
        return db + h + [0xBC]
    }

    /// RSAES-PKCS1-v1_5 encryption (RFC 8017, 7.2.1; TPM_ALG_RSAES): the message is at most
    /// k - 11 octets; the nonzero padding octets come from `source` (zeros drawn are skipped).
    public func encryptPKCS1v15<S: BitSource>(_ message: [UInt8], using source: inout S) throws -> [UInt8] {
        let k = modulusBytes
        guard message.count <= k - 11 else { throw TPMCryptoError.messageTooLong }
        let psLen = k - message.count - 3
        var ps: [UInt8] = []
        ps.reserveCapacity(psLen)
        var draws = 0
        while ps.count < psLen {
            // Each draw yields at least one nonzero octet with overwhelming probability; the
            // bound only stops a broken source from looping forever.
            draws += 1
            guard draws <= 64 else { throw TPMCryptoError.noResult }
            for b in source.nextBytes(psLen - ps.count) where b != 0 { ps.append(b) }
        }
        return try publicOperation(BigNum([0x00, 0x02] + ps + [0x00] + message))
    }

    /// RSAES-OAEP encryption (RFC 8017, 7.1.1; TPM_ALG_OAEP) with `hash` for the label hash and
    /// MGF1 and the seed (hLen octets) from `source`.
    public func encryptOAEP<S: BitSource>(hash: HashAlgorithm, label: [UInt8], _ message: [UInt8], using source: inout S) throws
        -> [UInt8]
    {
        try encryptOAEP(hash: hash, label: label, message, seed: source.nextBytes(hash.digestSize))
    }

    /// RSAES-OAEP encryption with an explicit seed of hLen octets (known-answer tests).
    public func encryptOAEP(hash: HashAlgorithm, label: [UInt8], _ message: [UInt8], seed: [UInt8]) throws -> [UInt8] {
        let k = modulusBytes
        let hLen = hash.digestSize
        guard seed.count == hLen else { throw TPMCryptoError.schemeNotApplicable }
        guard k >= 2 * hLen + 2, message.count <= k - 2 * hLen - 2 else { throw TPMCryptoError.messageTooLong }
        var db = hash.digest(label) + [UInt8](repeating: 0, count: k - message.count - 2 * hLen - 2) + [0x01] + message
        let dbMask = mgf1(hash, seed: seed, length: k - hLen - 1)
        for i in 0..<db.count { db[i] ^= dbMask[i] }
        var maskedSeed = seed
        let seedMask = mgf1(hash, seed: db, length: hLen)
        for i in 0..<hLen { maskedSeed[i] ^= seedMask[i] }
        return try publicOperation(BigNum([0x00] + maskedSeed + db))
    }
}

extension RSAPrivateKey {
    /// RSASSA-PKCS1-v1_5 signature (RFC 8017, 8.2.1; TPM_ALG_RSASSA) of a digest; k octets.
    public func signPKCS1v15(hash: HashAlgorithm, digest: [UInt8]) throws -> [UInt8] {
        try privateOperation(publicKey.pkcs1v15Encode(hash: hash, digest: digest))
    }

    /// RSASSA-PSS signature (RFC 8017, 8.1.1; TPM_ALG_RSAPSS) of a digest, MGF1 with the same
    /// hash, salt of `publicKey.pssSaltLength(hash:)` octets from `source`; k octets.
    public func signPSS<S: BitSource>(hash: HashAlgorithm, digest: [UInt8], using source: inout S) throws -> [UInt8] {
        let sLen = publicKey.pssSaltLength(hash: hash)
        guard digest.count == hash.digestSize else { throw TPMCryptoError.digestSizeMismatch }
        return try signPSS(hash: hash, digest: digest, salt: source.nextBytes(sLen))
    }

    /// RSASSA-PSS with an explicit salt (known-answer tests).
    public func signPSS(hash: HashAlgorithm, digest: [UInt8], salt: [UInt8]) throws -> [UInt8] {
        try privateOperation(publicKey.pssEncode(hash: hash, digest: digest, salt: salt))
    }
}
