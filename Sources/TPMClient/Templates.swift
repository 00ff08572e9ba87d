import TPMWire

/// Key templates the agent uses: the TCG EK Credential Profile's default EK templates (profile
/// version 2.4, section 2.1.5.1: "L-1" RSA 2048 and "L-2" ECC NIST P-256, the low range) and a
/// restricted signing key to serve as attestation key under the EK.
public enum KeyTemplates {
    /// PolicyA_SHA256 of the EK profile: the policy digest of TPM2_PolicySecret(TPM_RH_ENDORSEMENT)
    /// from a zero digest, i.e. SHA-256(0^32 || TPM_CC_PolicySecret || Name(TPM_RH_ENDORSEMENT))
    /// followed by SHA-256 of that and an empty policyRef (Part 3, 23.4). Tests recompute it.
    public static let ekPolicyA: [UInt8] = [
        0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC, 0x8D, 0x46, 0xA5, 0xD7, 0x24,
        0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52, 0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA,
    ]

    /// The EK templates' attributes: fixedTPM, fixedParent, sensitiveDataOrigin, adminWithPolicy,
    /// restricted, decrypt; no userWithAuth, so every use of the EK goes through the policy.
    public static let ekAttributes: TPMAObject = [
        .fixedTPM, .fixedParent, .sensitiveDataOrigin, .adminWithPolicy, .restricted, .decrypt,
    ]

    /// Template L-1: RSA 2048, AES-128-CFB, scheme NULL, exponent 0 (= 2^16+1), unique 256 zero octets.
    public static let ekRSA2048 = TPMTPublic(
        nameAlg: .sha256, objectAttributes: ekAttributes, authPolicy: TPM2BDigest(ekPolicyA),
        parameters: .rsa(
            TPMSRSAParms(
                symmetric: TPMTSymDefObject(algorithm: .aes, keyBits: 128, mode: .cfb), scheme: .null, keyBits: 2048,
                exponent: 0)),
        unique: .rsa(TPM2BPublicKeyRSA([UInt8](repeating: 0, count: 256))))

    /// Template L-2: ECC NIST P-256, AES-128-CFB, scheme NULL, KDF NULL, unique x and y 32 zero octets.
    public static let ekECCP256 = TPMTPublic(
        nameAlg: .sha256, objectAttributes: ekAttributes, authPolicy: TPM2BDigest(ekPolicyA),
        parameters: .ecc(
            TPMSECCParms(
                symmetric: TPMTSymDefObject(algorithm: .aes, keyBits: 128, mode: .cfb), scheme: .null, curveID: .nistP256,
                kdf: .null)),
        unique: .ecc(
            TPMSECCPoint(
                x: TPM2BECCParameter([UInt8](repeating: 0, count: 32)), y: TPM2BECCParameter([UInt8](repeating: 0, count: 32)))))

    /// An attestation key: a restricted signing key (it signs only TPM-generated structures)
    /// that cannot leave the TPM, used with an empty password.
    public static let akAttributes: TPMAObject = [
        .fixedTPM, .fixedParent, .sensitiveDataOrigin, .userWithAuth, .restricted, .sign,
    ]

    /// RSA 2048 with RSASSA-SHA256.
    public static let akRSA2048 = TPMTPublic(
        nameAlg: .sha256, objectAttributes: akAttributes,
        parameters: .rsa(
            TPMSRSAParms(symmetric: .null, scheme: TPMTRSAScheme(.rsassa(hashAlg: .sha256)), keyBits: 2048, exponent: 0)),
        unique: .rsa(TPM2BPublicKeyRSA()))

    /// ECC NIST P-256 with ECDSA-SHA256.
    public static let akECCP256 = TPMTPublic(
        nameAlg: .sha256, objectAttributes: akAttributes,
        parameters: .ecc(
            TPMSECCParms(symmetric: .null, scheme: TPMTECCScheme(.ecdsa(hashAlg: .sha256)), curveID: .nistP256, kdf: .null)),
        unique: .ecc(TPMSECCPoint(x: TPM2BECCParameter(), y: TPM2BECCParameter())))
}
