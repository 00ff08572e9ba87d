// Signature schemes and signatures (Part 2, 11.2.1 and 11.3): what TPM2_Sign, the attestation
// commands and TPM2_HMAC-keyed objects produce, and what TPM2_VerifySignature and
// TPM2_PolicySigned take.

extension TPMAlgorithmSupport {
    /// TPMI_ALG_SIG_SCHEME: the signing schemes, HMAC included; TPM_RC_SCHEME.
    public static let sigSchemes: [TPMAlgID] = [.hmac, .rsassa, .rsapss, .ecdsa, .ecdaa, .sm2, .ecschnorr]
}

/// TPMS_SCHEME_HASH as a signature scheme detail: a TPMI_ALG_HASH without NULL (TPM_RC_HASH).
private func schemeHash(_ r: inout TPMReader) throws -> TPMAlgID {
    try TPMIAlgHash(from: &r, allowNull: false).alg
}

/// TPMU_SIG_SCHEME (11.2.1): every member is a TPMS_SCHEME_HASH except ECDAA
/// (TPMS_SCHEME_ECDAA: a hash and a commit count).
public enum TPMUSigScheme: Hashable, Sendable, TPMEncodable {
    case null
    case hmac(hashAlg: TPMAlgID)
    case rsassa(hashAlg: TPMAlgID)
    case rsapss(hashAlg: TPMAlgID)
    case ecdsa(hashAlg: TPMAlgID)
    case ecdaa(hashAlg: TPMAlgID, count: UInt16)
    case sm2(hashAlg: TPMAlgID)
    case ecschnorr(hashAlg: TPMAlgID)

    public var selector: TPMAlgID {
        switch self {
        case .null: return .null
        case .hmac: return .hmac
        case .rsassa: return .rsassa
        case .rsapss: return .rsapss
        case .ecdsa: return .ecdsa
        case .ecdaa: return .ecdaa
        case .sm2: return .sm2
        case .ecschnorr: return .ecschnorr
        }
    }

    /// The scheme's hash; TPM_ALG_NULL for the NULL scheme.
    public var hashAlg: TPMAlgID {
        switch self {
        case .null: return .null
        case .hmac(let h), .rsassa(let h), .rsapss(let h), .ecdsa(let h), .sm2(let h), .ecschnorr(let h), .ecdaa(let h, _):
            return h
        }
    }

    /// The signing scheme of a key's TPMU_ASYM_SCHEME or keyed-hash scheme, nil when the key's
    /// scheme is not a signing scheme (RSAES, OAEP, ECDH, ECMQV, XOR). NULL stays NULL.
    public init?(_ asym: TPMUAsymScheme) {
        switch asym {
        case .null: self = .null
        case .rsassa(let h): self = .rsassa(hashAlg: h)
        case .rsapss(let h): self = .rsapss(hashAlg: h)
        case .ecdsa(let h): self = .ecdsa(hashAlg: h)
        case .ecdaa(let h, let c): self = .ecdaa(hashAlg: h, count: c)
        case .sm2(let h): self = .sm2(hashAlg: h)
        case .ecschnorr(let h): self = .ecschnorr(hashAlg: h)
        case .rsaes, .oaep, .ecdh, .ecmqv: return nil
        }
    }

    public init?(_ keyedHash: TPMUSchemeKeyedHash) {
        switch keyedHash {
        case .null: self = .null
        case .hmac(let h): self = .hmac(hashAlg: h)
        case .xor: return nil
        }
    }

    /// A selector without an implemented member is TPM_RC_SELECTOR.
    public init(from r: inout TPMReader, selector: TPMAlgID, support: TPMAlgorithmSupport) throws {
        try support.checkSelector(selector, members: TPMAlgorithmSupport.sigSchemes)
        switch selector {
        case .null: self = .null
        case .hmac: self = .hmac(hashAlg: try schemeHash(&r))
        case .rsassa: self = .rsassa(hashAlg: try schemeHash(&r))
        case .rsapss: self = .rsapss(hashAlg: try schemeHash(&r))
        case .ecdsa: self = .ecdsa(hashAlg: try schemeHash(&r))
        case .sm2: self = .sm2(hashAlg: try schemeHash(&r))
        case .ecschnorr: self = .ecschnorr(hashAlg: try schemeHash(&r))
        case .ecdaa:
            let h = try schemeHash(&r)
            self = .ecdaa(hashAlg: h, count: try r.u16())
        default: throw TPMError(.selector)
        }
    }

    /// The member only; the selector is written by TPMT_SIG_SCHEME.
    public func encode(to w: inout TPMWriter) {
        switch self {
        case .null: break
        case .ecdaa(let h, let count):
            w.u16(h.rawValue)
            w.u16(count)
        default: w.u16(hashAlg.rawValue)
        }
    }
}

/// TPMT_SIG_SCHEME (11.2.1): TPMI_ALG_SIG_SCHEME (TPM_RC_SCHEME) and its details. `allowNull`
/// is the "+" (TPM2_Sign and the attestation commands: NULL means "the key's scheme").
public struct TPMTSigScheme: Hashable, Sendable, TPMEncodable {
    public var details: TPMUSigScheme
    public var scheme: TPMAlgID { details.selector }
    public static let null = TPMTSigScheme(.null)

    public init(_ details: TPMUSigScheme) { self.details = details }

    public init(from r: inout TPMReader, allowNull: Bool, support: TPMAlgorithmSupport) throws {
        let scheme = try support.algorithm(from: &r, members: TPMAlgorithmSupport.sigSchemes, allowNull: allowNull, error: .scheme)
        details = try TPMUSigScheme(from: &r, selector: scheme, support: support)
    }

    public func encode(to w: inout TPMWriter) {
        w.u16(scheme.rawValue)
        details.encode(to: &w)
    }
}

/// TPMS_SIGNATURE_RSA (11.3.1): TPMS_SIGNATURE_RSASSA and TPMS_SIGNATURE_RSAPSS. The hash may
/// not be NULL (TPM_RC_HASH).
public struct TPMSSignatureRSA: Hashable, Sendable, TPMCodable {
    public var hash: TPMAlgID
    public var sig: TPM2BPublicKeyRSA
    public init(hash: TPMAlgID, sig: TPM2BPublicKeyRSA) {
        self.hash = hash
        self.sig = sig
    }
    public init(from r: inout TPMReader) throws {
        hash = try TPMIAlgHash(from: &r, allowNull: false).alg
        sig = try TPM2BPublicKeyRSA(from: &r)
    }
    public func encode(to w: inout TPMWriter) {
        w.u16(hash.rawValue)
        sig.encode(to: &w)
    }
}

/// TPMS_SIGNATURE_ECC (11.3.2): TPMS_SIGNATURE_ECDSA, _ECDAA, _SM2 and _ECSCHNORR. The hash may
/// not be NULL (TPM_RC_HASH).
public struct TPMSSignatureECC: Hashable, Sendable, TPMCodable {
    public var hash: TPMAlgID
    public var signatureR: TPM2BECCParameter
    public var signatureS: TPM2BECCParameter
    public init(hash: TPMAlgID, signatureR: TPM2BECCParameter, signatureS: TPM2BECCParameter) {
        self.hash = hash
        self.signatureR = signatureR
        self.signatureS = signatureS
    }
    public init(from r: inout TPMReader) throws {
        hash = try TPMIAlgHash(from: &r, allowNull: false).alg
        signatureR = try TPM2BECCParameter(from: &r)
        signatureS = try TPM2BECCParameter(from: &r)
    }
    public func encode(to w: inout TPMWriter) {
        w.u16(hash.rawValue)
        signatureR.encode(to: &w)
        signatureS.encode(to: &w)
    }
}

/// TPMU_SIGNATURE (11.3.3). An HMAC signature is a TPMT_HA whose hash may not be NULL.
public enum TPMUSignature: Hashable, Sendable, TPMEncodable {
    case null
    case rsassa(TPMSSignatureRSA)
    case rsapss(TPMSSignatureRSA)
    case ecdsa(TPMSSignatureECC)
    case ecdaa(TPMSSignatureECC)
    case sm2(TPMSSignatureECC)
    case ecschnorr(TPMSSignatureECC)
    case hmac(TPMTHA)

    public var selector: TPMAlgID {
        switch self {
        case .null: return .null
        case .rsassa: return .rsassa
        case .rsapss: return .rsapss
        case .ecdsa: return .ecdsa
        case .ecdaa: return .ecdaa
        case .sm2: return .sm2
        case .ecschnorr: return .ecschnorr
        case .hmac: return .hmac
        }
    }

    /// A selector without an implemented member is TPM_RC_SELECTOR.
    public init(from r: inout TPMReader, selector: TPMAlgID, support: TPMAlgorithmSupport) throws {
        try support.checkSelector(selector, members: TPMAlgorithmSupport.sigSchemes)
        switch selector {
        case .null: self = .null
        case .rsassa: self = .rsassa(try TPMSSignatureRSA(from: &r))
        case .rsapss: self = .rsapss(try TPMSSignatureRSA(from: &r))
        case .ecdsa: self = .ecdsa(try TPMSSignatureECC(from: &r))
        case .ecdaa: self = .ecdaa(try TPMSSignatureECC(from: &r))
        case .sm2: self = .sm2(try TPMSSignatureECC(from: &r))
        case .ecschnorr: self = .ecschnorr(try TPMSSignatureECC(from: &r))
        case .hmac: self = .hmac(try TPMTHA(from: &r, allowNull: false))
        default: throw TPMError(.selector)
        }
    }

    public func encode(to w: inout TPMWriter) {
        switch self {
        case .null: break
        case .rsassa(let s), .rsapss(let s): s.encode(to: &w)
        case .ecdsa(let s), .ecdaa(let s), .sm2(let s), .ecschnorr(let s): s.encode(to: &w)
        case .hmac(let ha): ha.encode(to: &w)
        }
    }
}

/// TPMT_SIGNATURE (11.3.4): TPMI_ALG_SIG_SCHEME (TPM_RC_SCHEME) and the signature. `allowNull`
/// is the "+": TPM2_VerifySignature and TPM2_PolicySigned refuse NULL; an attestation command
/// whose signHandle is TPM_RH_NULL returns a NULL signature.
public struct TPMTSignature: Hashable, Sendable, TPMEncodable {
    public var signature: TPMUSignature
    public var sigAlg: TPMAlgID { signature.selector }
    public static let null = TPMTSignature(.null)

    public init(_ signature: TPMUSignature) { self.signature = signature }

    public init(from r: inout TPMReader, allowNull: Bool, support: TPMAlgorithmSupport) throws {
        let alg = try support.algorithm(from: &r, members: TPMAlgorithmSupport.sigSchemes, allowNull: allowNull, error: .scheme)
        signature = try TPMUSignature(from: &r, selector: alg, support: support)
    }

    public func encode(to w: inout TPMWriter) {
        w.u16(sigAlg.rawValue)
        signature.encode(to: &w)
    }
}
