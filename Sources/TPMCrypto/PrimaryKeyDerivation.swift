/// Primary-key derivation: the key a primary seed and a template always give (Part 1, "Primary
/// Seeds" and TPM2_CreatePrimary: the same seed and inputs must give the same key). Both
/// functions read a `KDFaBitSource(hash, seed, label, contextU, contextV)` from counter 1 and
/// apply the generation rules of `RSAPrivateKey.generate` and `ECCCurve.randomScalar`.
/// The whole algorithm is frozen (docs/primary-keys.md): EK certificates name its output.
public enum PrimaryKeyDerivation {
    /// The RSA key pair for these inputs (modulus 1024...4096 bits, even; exponent odd >= 3).
    public static func rsaKey(
        hash: HashAlgorithm, seed: [UInt8], label: String, contextU: [UInt8], contextV: [UInt8],
        modulusBits: Int, exponent: UInt32 = RSAPublicKey.defaultExponent
    ) throws -> RSAPrivateKey {
        var source = KDFaBitSource(hash: hash, seed: seed, label: label, contextU: contextU, contextV: contextV)
        return try RSAPrivateKey.generate(modulusBits: modulusBits, exponent: exponent, using: &source)
    }

    /// The ECC key pair for these inputs.
    public static func eccKey(
        hash: HashAlgorithm, seed: [UInt8], label: String, contextU: [UInt8], contextV: [UInt8],
        curve: ECCCurve
    ) throws -> ECCPrivateKey {
        var source = KDFaBitSource(hash: hash, seed: seed, label: label, contextU: contextU, contextV: contextV)
        return try ECCPrivateKey.generate(curve: curve, using: &source)
    }
}
