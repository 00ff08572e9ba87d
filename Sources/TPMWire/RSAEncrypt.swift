// The padding scheme of TPM2_RSA_Encrypt and TPM2_RSA_Decrypt (Part 2, 11.2.4). The message and
// ciphertext are TPM2B_PUBLIC_KEY_RSA (Public.swift), the label a TPM2B_DATA.

extension TPMAlgorithmSupport {
    /// TPMI_ALG_RSA_DECRYPT: the RSA encryption schemes; TPM_RC_VALUE.
    public static let rsaDecryptSchemes: [TPMAlgID] = [.rsaes, .oaep]
}

/// TPMT_RSA_DECRYPT (11.2.4): TPMI_ALG_RSA_DECRYPT (TPM_RC_VALUE) and its TPMU_ASYM_SCHEME
/// details (OAEP names a hash, RSAES has none). `allowNull` is the "+": NULL means "the key's
/// scheme".
public struct TPMTRSADecrypt: Hashable, Sendable, TPMEncodable {
    public var details: TPMUAsymScheme
    public var scheme: TPMAlgID { details.selector }
    public static let null = TPMTRSADecrypt(.null)

    public init(_ details: TPMUAsymScheme) { self.details = details }

    public init(from r: inout TPMReader, allowNull: Bool, support: TPMAlgorithmSupport) throws {
        let scheme = try support.algorithm(
            from: &r, members: TPMAlgorithmSupport.rsaDecryptSchemes, allowNull: allowNull, error: .value)
        details = try TPMUAsymScheme(from: &r, selector: scheme, support: support)
    }

    public func encode(to w: inout TPMWriter) {
        w.u16(scheme.rawValue)
        details.encode(to: &w)
    }
}
