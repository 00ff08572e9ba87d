// TPMT_PUBLIC_PARMS and the structures inside it (Part 2, 11.1.x and 12.2.3): the algorithm
// parameters of an object. TPM2_TestParms decodes exactly this; TPMT_PUBLIC reuses every piece.
//
// What the interface types (TPMI_ALG_PUBLIC, TPMI_ALG_SYM_OBJECT, TPMI_RSA_KEY_BITS,
// TPMI_ECC_CURVE...) accept depends on what the TPM implements, so each decoder takes a
// `TPMAlgorithmSupport` built by the engine from its one algorithm table. Hashes are checked by
// TPMI_ALG_HASH against `TPMLimits.hashAlgorithms`. Error codes are those of the Part 2 tables
// (and of the reference unmarshalling code): an unimplemented value of an interface type gets
// the type's own code, a union selector the union cannot hold gets TPM_RC_SELECTOR.

/// The algorithms, key sizes and curves a TPM implements, as the codec needs to know them.
public struct TPMAlgorithmSupport: Hashable, Sendable {
    public var algorithms: Set<TPMAlgID>
    public var rsaKeyBits: Set<UInt16>
    public var aesKeyBits: Set<UInt16>
    public var eccCurves: Set<TPMECCCurve>

    public init(algorithms: Set<TPMAlgID>, rsaKeyBits: Set<UInt16>, aesKeyBits: Set<UInt16>, eccCurves: Set<TPMECCCurve>) {
        self.algorithms = algorithms
        self.rsaKeyBits = rsaKeyBits
        self.aesKeyBits = aesKeyBits
        self.eccCurves = eccCurves
    }

    public func implements(_ alg: TPMAlgID) -> Bool { algorithms.contains(alg) }

    /// Decodes a TPMI_ALG_* interface type: a TPM_ALG_ID that is one of `members` and
    /// implemented, or TPM_ALG_NULL where the type allows it (a "+" type in Part 2). Anything
    /// else is `error`, the code the type's table names.
    public func algorithm(from r: inout TPMReader, members: [TPMAlgID], allowNull: Bool, error: TPMRC) throws -> TPMAlgID {
        let alg = TPMAlgID(try r.u16())
        if alg == .null {
            guard allowNull else { throw TPMError(error) }
            return alg
        }
        guard members.contains(alg), implements(alg) else { throw TPMError(error) }
        return alg
    }

    /// A union's selector must be one the union has a member for on this TPM.
    func checkSelector(_ selector: TPMAlgID, members: [TPMAlgID]) throws {
        guard selector == .null || (members.contains(selector) && implements(selector)) else { throw TPMError(.selector) }
    }

    // The members of the interface types (Part 2, 9.x, 11.x, 12.2.2).

    /// TPMI_ALG_PUBLIC: TPM_RC_TYPE.
    public static let publicTypes: [TPMAlgID] = [.rsa, .keyedHash, .ecc, .symCipher]
    /// TPMI_ALG_SYM_OBJECT: the block ciphers; TPM_RC_SYMMETRIC.
    public static let symObjects: [TPMAlgID] = [.tdes, .aes, .sm4, .camellia]
    /// TPMI_ALG_SYM_MODE: TPM_RC_MODE.
    public static let symModes: [TPMAlgID] = [.cmac, .ctr, .ofb, .cbc, .cfb, .ecb]
    /// TPMI_ALG_KDF: TPM_RC_KDF.
    public static let kdfs: [TPMAlgID] = [.mgf1, .kdf1SP800_56A, .kdf2, .kdf1SP800_108]
    /// TPMI_ALG_KEYEDHASH_SCHEME: TPM_RC_VALUE.
    public static let keyedHashSchemes: [TPMAlgID] = [.hmac, .xor]
    /// TPMI_ALG_RSA_SCHEME: TPM_RC_VALUE.
    public static let rsaSchemes: [TPMAlgID] = [.rsassa, .rsaes, .rsapss, .oaep]
    /// TPMI_ALG_ECC_SCHEME: TPM_RC_SCHEME.
    public static let eccSchemes: [TPMAlgID] = [.ecdsa, .ecdh, .ecdaa, .sm2, .ecschnorr, .ecmqv]
}

/// TPMS_SCHEME_HASH: a TPMI_ALG_HASH without NULL (TPM_RC_HASH).
private func schemeHash(_ r: inout TPMReader) throws -> TPMAlgID {
    try TPMIAlgHash(from: &r, allowNull: false).alg
}

// MARK: symmetric

/// TPMT_SYM_DEF_OBJECT (Part 2, 11.1.7): the symmetric algorithm of a storage key or a
/// symmetric cipher object. The implemented block cipher is AES; its key size is a
/// TPMI_AES_KEY_BITS (TPM_RC_VALUE) and its mode a TPMI_ALG_SYM_MODE+ (NULL lets a symmetric
/// cipher object take its mode from TPM2_EncryptDecrypt).
public struct TPMTSymDefObject: Hashable, Sendable, TPMEncodable {
    public var algorithm: TPMAlgID
    public var keyBits: UInt16
    public var mode: TPMAlgID

    public static let null = TPMTSymDefObject(algorithm: .null, keyBits: 0, mode: .null)

    public init(algorithm: TPMAlgID, keyBits: UInt16, mode: TPMAlgID) {
        self.algorithm = algorithm
        self.keyBits = keyBits
        self.mode = mode
    }

    public init(from r: inout TPMReader, allowNull: Bool, support: TPMAlgorithmSupport) throws {
        algorithm = try support.algorithm(
            from: &r, members: TPMAlgorithmSupport.symObjects, allowNull: allowNull, error: .symmetric)
        // TPMU_SYM_KEY_BITS and TPMU_SYM_MODE: only AES has members here.
        switch algorithm {
        case .null:
            keyBits = 0
            mode = .null
        case .aes:
            keyBits = try r.u16()
            guard support.aesKeyBits.contains(keyBits) else { throw TPMError.value }
            mode = try support.algorithm(from: &r, members: TPMAlgorithmSupport.symModes, allowNull: true, error: .mode)
        default:
            throw TPMError(.selector)
        }
    }

    public func encode(to w: inout TPMWriter) {
        w.u16(algorithm.rawValue)
        guard algorithm != .null else { return }
        w.u16(keyBits)
        w.u16(mode.rawValue)
    }
}

// MARK: schemes

/// TPMU_ASYM_SCHEME (Part 2, 11.2.3.5): the details of an RSA or ECC key's scheme. Every
/// member but RSAES and NULL names a hash (TPMS_SCHEME_HASH, TPMI_ALG_HASH without NULL);
/// ECDAA adds a commit count.
public enum TPMUAsymScheme: Hashable, Sendable {
    case null
    case rsassa(hashAlg: TPMAlgID)
    case rsaes
    case rsapss(hashAlg: TPMAlgID)
    case oaep(hashAlg: TPMAlgID)
    case ecdsa(hashAlg: TPMAlgID)
    case ecdh(hashAlg: TPMAlgID)
    case ecdaa(hashAlg: TPMAlgID, count: UInt16)
    case sm2(hashAlg: TPMAlgID)
    case ecschnorr(hashAlg: TPMAlgID)
    case ecmqv(hashAlg: TPMAlgID)

    public var selector: TPMAlgID {
        switch self {
        case .null: return .null
        case .rsassa: return .rsassa
        case .rsaes: return .rsaes
        case .rsapss: return .rsapss
        case .oaep: return .oaep
        case .ecdsa: return .ecdsa
        case .ecdh: return .ecdh
        case .ecdaa: return .ecdaa
        case .sm2: return .sm2
        case .ecschnorr: return .ecschnorr
        case .ecmqv: return .ecmqv
        }
    }

    /// The scheme's hash, TPM_ALG_NULL for RSAES and NULL.
    public var hashAlg: TPMAlgID {
        switch self {
        case .null, .rsaes: return .null
        case .rsassa(let h), .rsapss(let h), .oaep(let h), .ecdsa(let h), .ecdh(let h), .sm2(let h),
            .ecschnorr(let h), .ecmqv(let h), .ecdaa(let h, _):
            return h
        }
    }

    /// Decodes the member `selector` chooses; a selector without an implemented member is
    /// TPM_RC_SELECTOR.
    public init(from r: inout TPMReader, selector: TPMAlgID, support: TPMAlgorithmSupport) throws {
        try support.checkSelector(selector, members: TPMAlgorithmSupport.rsaSchemes + TPMAlgorithmSupport.eccSchemes)
        switch selector {
        case .null: self = .null
        case .rsaes: self = .rsaes
        case .rsassa: self = .rsassa(hashAlg: try schemeHash(&r))
        case .rsapss: self = .rsapss(hashAlg: try schemeHash(&r))
        case .oaep: self = .oaep(hashAlg: try schemeHash(&r))
        case .ecdsa: self = .ecdsa(hashAlg: try schemeHash(&r))
        case .ecdh: self = .ecdh(hashAlg: try schemeHash(&r))
        case .sm2: self = .sm2(hashAlg: try schemeHash(&r))
        case .ecschnorr: self = .ecschnorr(hashAlg: try schemeHash(&r))
        case .ecmqv: self = .ecmqv(hashAlg: try schemeHash(&r))
        case .ecdaa:
            let h = try schemeHash(&r)
            self = .ecdaa(hashAlg: h, count: try r.u16())
        default: throw TPMError(.selector)
        }
    }

    /// The member only; the selector is written by the enclosing TPMT.
    public func encode(to w: inout TPMWriter) {
        switch self {
        case .null, .rsaes: break
        case .ecdaa(let h, let count):
            w.u16(h.rawValue)
            w.u16(count)
        default: w.u16(hashAlg.rawValue)
        }
    }
}

/// Which TPMI_ALG_*_SCHEME selects a TPMT whose details are a TPMU_ASYM_SCHEME: its members
/// and the code for a selector outside them.
public protocol TPMAsymSchemeKind: Sendable {
    static var members: [TPMAlgID] { get }
    static var selectorError: TPMRC { get }
}

/// TPMI_ALG_RSA_SCHEME: TPM_RC_VALUE outside the RSA schemes.
public enum RSASchemeKind: TPMAsymSchemeKind {
    public static var members: [TPMAlgID] { TPMAlgorithmSupport.rsaSchemes }
    public static var selectorError: TPMRC { .value }
}

/// TPMI_ALG_ECC_SCHEME: TPM_RC_SCHEME outside the ECC schemes.
public enum ECCSchemeKind: TPMAsymSchemeKind {
    public static var members: [TPMAlgID] { TPMAlgorithmSupport.eccSchemes }
    public static var selectorError: TPMRC { .scheme }
}

/// A TPMT of a scheme selector and its TPMU_ASYM_SCHEME details: TPMT_RSA_SCHEME,
/// TPMT_ECC_SCHEME, TPMT_RSA_DECRYPT. `allowNull` is the "+".
public struct TPMTAsymSchemeOf<Kind: TPMAsymSchemeKind>: Hashable, Sendable, TPMEncodable {
    public var details: TPMUAsymScheme
    public var scheme: TPMAlgID { details.selector }
    public static var null: TPMTAsymSchemeOf<Kind> { TPMTAsymSchemeOf(.null) }

    public init(_ details: TPMUAsymScheme) { self.details = details }

    public init(from r: inout TPMReader, allowNull: Bool, support: TPMAlgorithmSupport) throws {
        let scheme = try support.algorithm(
            from: &r, members: Kind.members, allowNull: allowNull, error: Kind.selectorError)
        details = try TPMUAsymScheme(from: &r, selector: scheme, support: support)
    }

    public func encode(to w: inout TPMWriter) {
        w.u16(scheme.rawValue)
        details.encode(to: &w)
    }
}

/// TPMT_RSA_SCHEME (Part 2, 11.2.4.2): TPMI_ALG_RSA_SCHEME (TPM_RC_VALUE) and its details.
public typealias TPMTRSAScheme = TPMTAsymSchemeOf<RSASchemeKind>
/// TPMT_ECC_SCHEME (Part 2, 11.2.5.6): TPMI_ALG_ECC_SCHEME (TPM_RC_SCHEME) and its details.
public typealias TPMTECCScheme = TPMTAsymSchemeOf<ECCSchemeKind>

/// TPMU_KDF_SCHEME (Part 2, 11.2.3.2): every member is a TPMS_SCHEME_HASH.
public enum TPMUKDFScheme: Hashable, Sendable {
    case null
    case mgf1(hashAlg: TPMAlgID)
    case kdf1SP800_56A(hashAlg: TPMAlgID)
    case kdf2(hashAlg: TPMAlgID)
    case kdf1SP800_108(hashAlg: TPMAlgID)

    public var selector: TPMAlgID {
        switch self {
        case .null: return .null
        case .mgf1: return .mgf1
        case .kdf1SP800_56A: return .kdf1SP800_56A
        case .kdf2: return .kdf2
        case .kdf1SP800_108: return .kdf1SP800_108
        }
    }

    public var hashAlg: TPMAlgID {
        switch self {
        case .null: return .null
        case .mgf1(let h), .kdf1SP800_56A(let h), .kdf2(let h), .kdf1SP800_108(let h): return h
        }
    }

    public init(from r: inout TPMReader, selector: TPMAlgID, support: TPMAlgorithmSupport) throws {
        try support.checkSelector(selector, members: TPMAlgorithmSupport.kdfs)
        switch selector {
        case .null: self = .null
        case .mgf1: self = .mgf1(hashAlg: try schemeHash(&r))
        case .kdf1SP800_56A: self = .kdf1SP800_56A(hashAlg: try schemeHash(&r))
        case .kdf2: self = .kdf2(hashAlg: try schemeHash(&r))
        case .kdf1SP800_108: self = .kdf1SP800_108(hashAlg: try schemeHash(&r))
        default: throw TPMError(.selector)
        }
    }

    public func encode(to w: inout TPMWriter) {
        if self != .null { w.u16(hashAlg.rawValue) }
    }
}

/// TPMT_KDF_SCHEME (Part 2, 11.2.3.3): TPMI_ALG_KDF (TPM_RC_KDF) and its details.
public struct TPMTKDFScheme: Hashable, Sendable, TPMEncodable {
    public var details: TPMUKDFScheme
    public var scheme: TPMAlgID { details.selector }
    public static let null = TPMTKDFScheme(.null)

    public init(_ details: TPMUKDFScheme) { self.details = details }

    public init(from r: inout TPMReader, allowNull: Bool, support: TPMAlgorithmSupport) throws {
        let scheme = try support.algorithm(from: &r, members: TPMAlgorithmSupport.kdfs, allowNull: allowNull, error: .kdf)
        details = try TPMUKDFScheme(from: &r, selector: scheme, support: support)
    }

    public func encode(to w: inout TPMWriter) {
        w.u16(scheme.rawValue)
        details.encode(to: &w)
    }
}

/// TPMU_SCHEME_KEYEDHASH (Part 2, 11.1.22): HMAC names a hash; XOR (TPMS_SCHEME_XOR, 11.1.21)
/// a hash and a TPMI_ALG_KDF+.
public enum TPMUSchemeKeyedHash: Hashable, Sendable {
    case null
    case hmac(hashAlg: TPMAlgID)
    case xor(hashAlg: TPMAlgID, kdf: TPMAlgID)

    public var selector: TPMAlgID {
        switch self {
        case .null: return .null
        case .hmac: return .hmac
        case .xor: return .xor
        }
    }

    public init(from r: inout TPMReader, selector: TPMAlgID, support: TPMAlgorithmSupport) throws {
        try support.checkSelector(selector, members: TPMAlgorithmSupport.keyedHashSchemes)
        switch selector {
        case .null: self = .null
        case .hmac: self = .hmac(hashAlg: try schemeHash(&r))
        case .xor:
            let h = try schemeHash(&r)
            let kdf = try support.algorithm(from: &r, members: TPMAlgorithmSupport.kdfs, allowNull: true, error: .kdf)
            self = .xor(hashAlg: h, kdf: kdf)
        default: throw TPMError(.selector)
        }
    }

    public func encode(to w: inout TPMWriter) {
        switch self {
        case .null: break
        case .hmac(let h): w.u16(h.rawValue)
        case .xor(let h, let kdf):
            w.u16(h.rawValue)
            w.u16(kdf.rawValue)
        }
    }
}

/// TPMT_KEYEDHASH_SCHEME (Part 2, 11.1.23): TPMI_ALG_KEYEDHASH_SCHEME (TPM_RC_VALUE) and its
/// details.
public struct TPMTKeyedHashScheme: Hashable, Sendable, TPMEncodable {
    public var details: TPMUSchemeKeyedHash
    public var scheme: TPMAlgID { details.selector }
    public static let null = TPMTKeyedHashScheme(.null)

    public init(_ details: TPMUSchemeKeyedHash) { self.details = details }

    public init(from r: inout TPMReader, allowNull: Bool, support: TPMAlgorithmSupport) throws {
        let scheme = try support.algorithm(
            from: &r, members: TPMAlgorithmSupport.keyedHashSchemes, allowNull: allowNull, error: .value)
        details = try TPMUSchemeKeyedHash(from: &r, selector: scheme, support: support)
    }

    public func encode(to w: inout TPMWriter) {
        w.u16(scheme.rawValue)
        details.encode(to: &w)
    }
}

// MARK: parameters of each object type

/// TPMS_KEYEDHASH_PARMS (Part 2, 12.2.3.3).
public struct TPMSKeyedHashParms: Hashable, Sendable, TPMEncodable {
    public var scheme: TPMTKeyedHashScheme
    public init(scheme: TPMTKeyedHashScheme) { self.scheme = scheme }
    public init(from r: inout TPMReader, support: TPMAlgorithmSupport) throws {
        scheme = try TPMTKeyedHashScheme(from: &r, allowNull: true, support: support)
    }
    public func encode(to w: inout TPMWriter) { scheme.encode(to: &w) }
}

/// TPMS_SYMCIPHER_PARMS (Part 2, 11.1.10): a symmetric cipher object needs a real cipher.
public struct TPMSSymCipherParms: Hashable, Sendable, TPMEncodable {
    public var sym: TPMTSymDefObject
    public init(sym: TPMTSymDefObject) { self.sym = sym }
    public init(from r: inout TPMReader, support: TPMAlgorithmSupport) throws {
        sym = try TPMTSymDefObject(from: &r, allowNull: false, support: support)
    }
    public func encode(to w: inout TPMWriter) { sym.encode(to: &w) }
}

/// TPMS_RSA_PARMS (Part 2, 12.2.3.5). keyBits is a TPMI_RSA_KEY_BITS (TPM_RC_VALUE); the
/// exponent is any UINT32 here (0 means 2^16 + 1; other values are judged at key creation).
public struct TPMSRSAParms: Hashable, Sendable, TPMEncodable {
    public var symmetric: TPMTSymDefObject
    public var scheme: TPMTRSAScheme
    public var keyBits: UInt16
    public var exponent: UInt32

    public init(symmetric: TPMTSymDefObject, scheme: TPMTRSAScheme, keyBits: UInt16, exponent: UInt32) {
        self.symmetric = symmetric
        self.scheme = scheme
        self.keyBits = keyBits
        self.exponent = exponent
    }

    public init(from r: inout TPMReader, support: TPMAlgorithmSupport) throws {
        symmetric = try TPMTSymDefObject(from: &r, allowNull: true, support: support)
        scheme = try TPMTRSAScheme(from: &r, allowNull: true, support: support)
        keyBits = try r.u16()
        guard support.rsaKeyBits.contains(keyBits) else { throw TPMError.value }
        exponent = try r.u32()
    }

    public func encode(to w: inout TPMWriter) {
        symmetric.encode(to: &w)
        scheme.encode(to: &w)
        w.u16(keyBits)
        w.u32(exponent)
    }
}

/// TPMS_ECC_PARMS (Part 2, 12.2.3.6). curveID is a TPMI_ECC_CURVE (TPM_RC_CURVE).
public struct TPMSECCParms: Hashable, Sendable, TPMEncodable {
    public var symmetric: TPMTSymDefObject
    public var scheme: TPMTECCScheme
    public var curveID: TPMECCCurve
    public var kdf: TPMTKDFScheme

    public init(symmetric: TPMTSymDefObject, scheme: TPMTECCScheme, curveID: TPMECCCurve, kdf: TPMTKDFScheme) {
        self.symmetric = symmetric
        self.scheme = scheme
        self.curveID = curveID
        self.kdf = kdf
    }

    public init(from r: inout TPMReader, support: TPMAlgorithmSupport) throws {
        symmetric = try TPMTSymDefObject(from: &r, allowNull: true, support: support)
        scheme = try TPMTECCScheme(from: &r, allowNull: true, support: support)
        curveID = TPMECCCurve(try r.u16())
        guard support.eccCurves.contains(curveID) else { throw TPMError(.curve) }
        kdf = try TPMTKDFScheme(from: &r, allowNull: true, support: support)
    }

    public func encode(to w: inout TPMWriter) {
        symmetric.encode(to: &w)
        scheme.encode(to: &w)
        w.u16(curveID.rawValue)
        kdf.encode(to: &w)
    }
}

/// TPMU_PUBLIC_PARMS (Part 2, 12.2.3.7).
public enum TPMUPublicParms: Hashable, Sendable {
    case keyedHash(TPMSKeyedHashParms)
    case symCipher(TPMSSymCipherParms)
    case rsa(TPMSRSAParms)
    case ecc(TPMSECCParms)

    public var selector: TPMAlgID {
        switch self {
        case .keyedHash: return .keyedHash
        case .symCipher: return .symCipher
        case .rsa: return .rsa
        case .ecc: return .ecc
        }
    }

    public init(from r: inout TPMReader, selector: TPMAlgID, support: TPMAlgorithmSupport) throws {
        // No NULL member: every object has parameters.
        guard selector != .null else { throw TPMError(.selector) }
        try support.checkSelector(selector, members: TPMAlgorithmSupport.publicTypes)
        switch selector {
        case .keyedHash: self = .keyedHash(try TPMSKeyedHashParms(from: &r, support: support))
        case .symCipher: self = .symCipher(try TPMSSymCipherParms(from: &r, support: support))
        case .rsa: self = .rsa(try TPMSRSAParms(from: &r, support: support))
        case .ecc: self = .ecc(try TPMSECCParms(from: &r, support: support))
        default: throw TPMError(.selector)
        }
    }

    public func encode(to w: inout TPMWriter) {
        switch self {
        case .keyedHash(let p): p.encode(to: &w)
        case .symCipher(let p): p.encode(to: &w)
        case .rsa(let p): p.encode(to: &w)
        case .ecc(let p): p.encode(to: &w)
        }
    }
}

/// TPMT_PUBLIC_PARMS (Part 2, 12.2.3.8): TPMI_ALG_PUBLIC (TPM_RC_TYPE) and its parameters.
public struct TPMTPublicParms: Hashable, Sendable, TPMEncodable {
    public var parameters: TPMUPublicParms
    public var type: TPMAlgID { parameters.selector }

    public init(_ parameters: TPMUPublicParms) { self.parameters = parameters }

    public init(from r: inout TPMReader, support: TPMAlgorithmSupport) throws {
        let type = try support.algorithm(from: &r, members: TPMAlgorithmSupport.publicTypes, allowNull: false, error: .type)
        parameters = try TPMUPublicParms(from: &r, selector: type, support: support)
    }

    public func encode(to w: inout TPMWriter) {
        w.u16(type.rawValue)
        parameters.encode(to: &w)
    }
}
