import TPMCrypto
import TPMWire

/// The known-answer test that covers an algorithm (Part 1, 12.3; see SelfTest.swift).
enum SelfTestKind: Sendable, Equatable {
    case hash(HashAlgorithm)
    /// HMAC with every implemented hash, and the HMAC_DRBG built on it.
    case hmac
    /// KDFa, the SP 800-108 counter-mode KDF.
    case kdfa
}

/// One implemented algorithm: its TPMA_ALGORITHM (Part 2, 8.2; the letters of the TPM_ALG_ID
/// table's Type column, with the values the reference implementation reports), the key sizes
/// or curves it accepts, and the known-answer test that covers it.
struct AlgorithmEntry: Sendable {
    var alg: TPMAlgID
    var attributes: TPMAAlgorithm
    /// RSA modulus sizes or AES key sizes (TPMI_RSA_KEY_BITS, TPMI_AES_KEY_BITS).
    var keySizes: [UInt16] = []
    /// ECC curves (TPMI_ECC_CURVE, TPM_CAP_ECC_CURVES).
    var curves: [TPMECCCurve] = []
    /// nil: the algorithm has no test of its own yet, so it never appears on a toDoList.
    var selfTest: SelfTestKind? = nil
}

extension TPM {
    /// THE table of the algorithms this TPM implements, in TPM_ALG_ID order. GetCapability(ALGS)
    /// lists exactly these; TestParms and every TPMT_PUBLIC decode accept exactly these (through
    /// `algorithmSupport`); IncrementalSelfTest accepts these and tests those with a self test.
    ///
    /// The table is the engine's algorithm profile as a whole: RSA (1024-4096), ECC (NIST P-256,
    /// P-384, P-521; ECDSA, ECDH, ECDAA, EC Schnorr, ECMQV), AES (128/192/256 in CTR, OFB, CBC,
    /// CFB, ECB), keyed hashes and the KDFs.
    /// GetCapability, TestParms, the TPMT_PUBLIC codec and the object commands all read this one
    /// list, so they always agree; nothing is listed that the profile does not implement (no TDES, SM2/SM3/SM4, Camellia,
    /// CMAC, SHA-3, and no other curves). Algorithms that gain a crypto
    /// implementation add their known-answer test here.
    static let algorithms: [AlgorithmEntry] = [
        AlgorithmEntry(alg: .rsa, attributes: [.asymmetric, .object], keySizes: [1024, 2048, 3072, 4096]),
        AlgorithmEntry(alg: .sha1, attributes: [.hash], selfTest: .hash(.sha1)),
        AlgorithmEntry(alg: .hmac, attributes: [.hash, .signing], selfTest: .hmac),
        AlgorithmEntry(alg: .aes, attributes: [.symmetric], keySizes: [128, 192, 256]),
        AlgorithmEntry(alg: .mgf1, attributes: [.hash, .method]),
        AlgorithmEntry(alg: .keyedHash, attributes: [.hash, .object, .signing, .encrypting]),
        AlgorithmEntry(alg: .xor, attributes: [.symmetric, .hash]),
        AlgorithmEntry(alg: .sha256, attributes: [.hash], selfTest: .hash(.sha256)),
        AlgorithmEntry(alg: .sha384, attributes: [.hash], selfTest: .hash(.sha384)),
        AlgorithmEntry(alg: .sha512, attributes: [.hash], selfTest: .hash(.sha512)),
        AlgorithmEntry(alg: .rsassa, attributes: [.asymmetric, .signing]),
        AlgorithmEntry(alg: .rsaes, attributes: [.asymmetric, .encrypting]),
        AlgorithmEntry(alg: .rsapss, attributes: [.asymmetric, .signing]),
        AlgorithmEntry(alg: .oaep, attributes: [.asymmetric, .encrypting]),
        AlgorithmEntry(alg: .ecdsa, attributes: [.asymmetric, .signing]),
        AlgorithmEntry(alg: .ecdh, attributes: [.asymmetric, .method]),
        AlgorithmEntry(alg: .ecdaa, attributes: [.asymmetric, .signing]),
        AlgorithmEntry(alg: .ecschnorr, attributes: [.asymmetric, .signing]),
        AlgorithmEntry(alg: .ecmqv, attributes: [.asymmetric, .method]),
        AlgorithmEntry(alg: .kdf1SP800_56A, attributes: [.hash, .method]),
        AlgorithmEntry(alg: .kdf2, attributes: [.hash, .method]),
        AlgorithmEntry(alg: .kdf1SP800_108, attributes: [.hash, .method], selfTest: .kdfa),
        AlgorithmEntry(alg: .ecc, attributes: [.asymmetric, .object], curves: [.nistP256, .nistP384, .nistP521, .bnP256]),
        AlgorithmEntry(alg: .symCipher, attributes: [.object]),
        AlgorithmEntry(alg: .ctr, attributes: [.symmetric, .encrypting]),
        AlgorithmEntry(alg: .ofb, attributes: [.symmetric, .encrypting]),
        AlgorithmEntry(alg: .cbc, attributes: [.symmetric, .encrypting]),
        AlgorithmEntry(alg: .cfb, attributes: [.symmetric, .encrypting]),
        AlgorithmEntry(alg: .ecb, attributes: [.symmetric, .encrypting]),
    ]

    static let algorithmIndex: [TPMAlgID: AlgorithmEntry] = Dictionary(
        uniqueKeysWithValues: algorithms.map { ($0.alg, $0) })

    /// What the Part 2 interface types accept, derived from the table.
    static let algorithmSupport = TPMAlgorithmSupport(
        algorithms: Set(algorithms.map(\.alg)),
        rsaKeyBits: Set(algorithmIndex[.rsa]?.keySizes ?? []),
        aesKeyBits: Set(algorithmIndex[.aes]?.keySizes ?? []),
        eccCurves: Set(eccCurves))

    /// The implemented curves, in TPM_ECC_CURVE order (TPM_CAP_ECC_CURVES).
    static let eccCurves: [TPMECCCurve] = (algorithmIndex[.ecc]?.curves ?? []).sorted()

    /// The algorithms that have a self test, in TPM_ALG_ID order.
    static let testableAlgorithms: [TPMAlgID] = algorithms.filter { $0.selfTest != nil }.map(\.alg)
}
