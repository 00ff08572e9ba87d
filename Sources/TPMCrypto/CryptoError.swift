/// Why a TPMCrypto operation refused its input. Each case maps to one TPM response code in the
/// engine (noted here as a hint, not a dependency: this module knows no TPM structures).
public enum TPMCryptoError: Error, Sendable, Equatable {
    /// Key material out of range or inconsistent: modulus even or of unsupported size, exponent
    /// even or < 3, scalar 0 or >= n, primes that do not give the modulus (TPM_RC_KEY).
    case invalidKey
    /// The private prime does not divide the public modulus (TPM_RC_BINDING).
    case keyMismatch
    /// Not a point of the curve, the point at infinity, or a coordinate >= p (TPM_RC_ECC_POINT).
    case invalidPoint
    /// A number that must be below the modulus or the order is not (TPM_RC_VALUE).
    case valueOutOfRange
    /// The message does not fit the padding scheme for this key size (TPM_RC_VALUE).
    case messageTooLong
    /// A digest whose length is not the scheme hash's (TPM_RC_SIZE / TPM_RC_VALUE).
    case digestSizeMismatch
    /// Padding, label or length check failed on decryption (TPM_RC_VALUE).
    case decryptionFailed
    /// Key or IV of the wrong length for the cipher (TPM_RC_KEY_SIZE / TPM_RC_SIZE).
    case badKeyOrIV
    /// ECB/CBC input that is not a whole number of blocks (TPM_RC_SIZE).
    case notBlockMultiple
    /// The key size and hash do not leave room for the scheme (TPM_RC_SCHEME / TPM_RC_VALUE).
    case schemeNotApplicable
    /// A random or derived candidate stream gave no usable value within the documented number
    /// of attempts (TPM_RC_NO_RESULT).
    case noResult
}
