// The padding scheme of TPM2_RSA_Encrypt and TPM2_RSA_Decrypt (Part 2, 11.2.4). The message and
// ciphertext are TPM2B_PUBLIC_KEY_RSA (Public.swift), the label a TPM2B_DATA.

extension TPMAlgorithmSupport {
    /// TPMI_ALG_RSA_DECRYPT: the RSA encryption schemes; TPM_RC_VALUE.
    public static let rsaDecryptSchemes: [TPMAlgID] = [.rsaes, .oaep]
}

/// TPMI_ALG_RSA_DECRYPT: TPM_RC_VALUE outside the RSA encryption schemes.
public enum RSADecryptSchemeKind: TPMAsymSchemeKind {
    public static var members: [TPMAlgID] { TPMAlgorithmSupport.rsaDecryptSchemes }
    public static var selectorError: TPMRC { .value }
}

/// TPMT_RSA_DECRYPT (11.2.4): TPMI_ALG_RSA_DECRYPT (TPM_RC_VALUE) and its TPMU_ASYM_SCHEME
/// details (OAEP names a hash, RSAES has none). `allowNull` is the "+": NULL means "the key's
/// scheme".
public typealias TPMTRSADecrypt = TPMTAsymSchemeOf<RSADecryptSchemeKind>
