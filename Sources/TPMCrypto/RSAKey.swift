/// An RSA public key: modulus n and public exponent e (Part 1, Annex B; RFC 8017, 3.1).
/// `modulus` is big-endian without leading zero octets. The crypto layer accepts moduli of 512
/// to 4096 bits; the engine restricts keys to the sizes the TPM implements.
public struct RSAPublicKey: Sendable, Equatable {
    public let modulus: [UInt8]
    public let exponent: UInt32

    public static let defaultExponent: UInt32 = 65537
    public static let modulusBitsRange = 512...4096

    /// Checks n (odd, size in range) and e (odd, >= 3). TPM exponent 0 means 65537: the engine
    /// maps it before calling.
    public init(modulus: [UInt8], exponent: UInt32) throws {
        let n = BigNum(modulus)
        guard Self.modulusBitsRange.contains(n.bitCount), n.isOdd, exponent >= 3, exponent & 1 == 1 else {
            throw TPMCryptoError.invalidKey
        }
        self.modulus = n.minimalBytes
        self.exponent = exponent
    }

    /// The modulus size in bits.
    public var modulusBits: Int { BigNum(modulus).bitCount }

    /// k, the modulus size in octets: the length of every ciphertext and signature.
    public var modulusBytes: Int { modulus.count }

    var n: BigNum { BigNum(modulus) }
    var e: BigNum { BigNum(UInt(exponent)) }

    /// RSAEP / RSAVP1 (RFC 8017, 5.1.1, 5.2.2): x^e mod n for 0 <= x < n, as k octets.
    func publicOperation(_ x: BigNum) throws -> [UInt8] {
        let n = self.n
        guard BigNum.compare(x, n) < 0, let y = BigNum.modExp(x, e, n), let out = y.bytes(count: modulusBytes) else {
            throw TPMCryptoError.valueOutOfRange
        }
        return out
    }

    /// Raw RSA encryption (TPM_ALG_NULL scheme, Part 1, Annex B.4): the message, at most k
    /// octets, is read as a big-endian integer that must be below n; the result is k octets.
    public func encryptRaw(_ message: [UInt8]) throws -> [UInt8] {
        guard message.count <= modulusBytes else { throw TPMCryptoError.valueOutOfRange }
        return try publicOperation(BigNum(message))
    }
}

/// An RSA private key. Built from the two primes (key generation, tests) or, as a TPM object is
/// loaded, from the public key and the one prime its sensitive area keeps. The private-key
/// operation runs inside OpenSSL (CRT, blinding, constant-time exponentiation); the prime
/// factors stay in OpenSSL bignums that are cleared when the key is released.
public final class RSAPrivateKey: @unchecked Sendable {
    public let publicKey: RSAPublicKey
    private let p: BigNum
    private let handle: RSAKeyHandle

    /// From the primes p and q and the public exponent e (odd, >= 3). Checks that p and q are
    /// distinct, greater than 1, give a modulus of a supported size, and that e is invertible
    /// modulo lcm(p-1, q-1) and q modulo p. Primality is the caller's claim (as in the TPM).
    public convenience init(p: [UInt8], q: [UInt8], exponent: UInt32) throws {
        try self.init(p: BigNum(p), q: BigNum(q), exponent: exponent)
    }

    /// From the public key and one of its primes (the TPM's sensitive area for an RSA key):
    /// q = n / p, which must divide exactly (`keyMismatch` otherwise).
    public convenience init(publicKey: RSAPublicKey, prime: [UInt8]) throws {
        let p = BigNum(prime)
        let n = publicKey.n
        guard BigNum.compare(p, BigNum(1)) > 0, BigNum.compare(p, n) < 0,
            let (q, rem) = BigNum.divide(n, by: p), rem.isZero
        else { throw TPMCryptoError.keyMismatch }
        try self.init(p: p, q: q, exponent: publicKey.exponent)
    }

    init(p: BigNum, q: BigNum, exponent: UInt32) throws {
        let one = BigNum(1)
        guard BigNum.compare(p, one) > 0, BigNum.compare(q, one) > 0, BigNum.compare(p, q) != 0 else {
            throw TPMCryptoError.invalidKey
        }
        let n = p * q
        let pk = try RSAPublicKey(modulus: n.minimalBytes, exponent: exponent)
        p.setConstantTime()
        q.setConstantTime()
        guard let d = Self.privateExponent(p: p, q: q, e: pk.e),
            let dp = BigNum.mod(d, p - one), let dq = BigNum.mod(d, q - one),
            let qinv = BigNum.modInverse(q, p),
            let h = RSAKeyHandle(n: n, e: pk.e, d: d, p: p, q: q, dp: dp, dq: dq, qinv: qinv)
        else { throw TPMCryptoError.invalidKey }
        publicKey = pk
        self.p = p
        handle = h
    }

    /// d = e^-1 mod lcm(p-1, q-1) (FIPS 186-5, A.1.1); nil when e is not invertible.
    static func privateExponent(p: BigNum, q: BigNum, e: BigNum) -> BigNum? {
        let one = BigNum(1)
        let pm1 = p - one
        let qm1 = q - one
        let g = BigNum.gcd(pm1, qm1)
        guard let (lcmQuot, _) = BigNum.divide(pm1 * qm1, by: g) else { return nil }
        let d = BigNum.modInverse(e, lcmQuot)
        d?.setConstantTime()
        return d
    }

    /// The prime this key keeps in the TPM's sensitive area (p), as big-endian octets padded to
    /// half the modulus size. A fresh array the caller owns (and should wipe when done).
    public func prime() -> [UInt8] {
        p.bytes(count: (publicKey.modulusBytes + 1) / 2) ?? p.minimalBytes
    }

    /// RSADP / RSASP1 (RFC 8017, 5.1.2, 5.2.1): the private-key operation on an integer below n
    /// given as at most k octets; k octets out.
    func privateOperation(_ input: [UInt8]) throws -> [UInt8] {
        let k = publicKey.modulusBytes
        guard input.count <= k else { throw TPMCryptoError.valueOutOfRange }
        let padded = [UInt8](repeating: 0, count: k - input.count) + input
        guard let out = handle.decrypt(padded, padding: .none) else { throw TPMCryptoError.valueOutOfRange }
        return out
    }

    /// Raw RSA decryption (TPM_ALG_NULL scheme): the ciphertext, at most k octets, read as an
    /// integer that must be below n; k octets out.
    public func decryptRaw(_ ciphertext: [UInt8]) throws -> [UInt8] {
        try privateOperation(ciphertext)
    }

    /// RSAES-PKCS1-v1_5 decryption (RFC 8017, 7.2.2; TPM_ALG_RSAES), with OpenSSL's
    /// constant-time padding check. The ciphertext is k octets.
    public func decryptPKCS1v15(_ ciphertext: [UInt8]) throws -> [UInt8] {
        guard ciphertext.count == publicKey.modulusBytes, let m = handle.decrypt(ciphertext, padding: .pkcs1) else {
            throw TPMCryptoError.decryptionFailed
        }
        return m
    }

    /// RSAES-OAEP decryption (RFC 8017, 7.1.2; TPM_ALG_OAEP) with `hash` for both the label hash
    /// and MGF1, and the label exactly as given (TPM labels carry their terminating zero, see
    /// `RSAPublicKey.oaepLabel`). Constant-time decoding in OpenSSL.
    public func decryptOAEP(hash: HashAlgorithm, label: [UInt8], _ ciphertext: [UInt8]) throws -> [UInt8] {
        guard ciphertext.count == publicKey.modulusBytes,
            let m = handle.decrypt(ciphertext, padding: .oaep(hash, label: label))
        else { throw TPMCryptoError.decryptionFailed }
        return m
    }
}
