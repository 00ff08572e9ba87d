// The private side of objects (Part 2, 11.1 and 12.3-12.4): the TPMS_SENSITIVE_CREATE a caller
// sends to create an object, the TPMT_SENSITIVE inside a private area, the opaque private and
// credential blobs, and the encrypted seed of Import, ActivateCredential and salted sessions.

public enum PrivateKeyRSABound: TPM2BBound { public static var maxSize: Int { TPMLimits.rsaPrivateSize } }
public enum PrivateBound: TPM2BBound { public static var maxSize: Int { TPMLimits.maxPrivateSize } }
public enum IDObjectBound: TPM2BBound { public static var maxSize: Int { TPMLimits.maxIDObjectSize } }
public enum EncryptedSecretBound: TPM2BBound { public static var maxSize: Int { TPMLimits.maxEncryptedSecretSize } }

/// TPM2B_PRIVATE_KEY_RSA (11.2.4): one prime factor of an RSA key.
public typealias TPM2BPrivateKeyRSA = TPM2B<PrivateKeyRSABound>
/// TPM2B_PRIVATE (12.3.7): an integrity value and an encrypted TPM2B_SENSITIVE, opaque outside
/// the TPM that made it.
public typealias TPM2BPrivate = TPM2B<PrivateBound>
/// TPM2B_ID_OBJECT (12.4.3): a credential blob from TPM2_MakeCredential (see TPMSIDObject).
public typealias TPM2BIDObject = TPM2B<IDObjectBound>
/// TPM2B_ENCRYPTED_SECRET (11.4): a seed encrypted to an RSA or ECC key, or a symmetrically
/// protected one.
public typealias TPM2BEncryptedSecret = TPM2B<EncryptedSecretBound>

/// TPMS_SENSITIVE_CREATE (11.1): the authorization value and data (a key or sealed data, or
/// the label and context of a derived object) a caller supplies for a new object.
public struct TPMSSensitiveCreate: Hashable, Sendable, TPMCodable {
    public var userAuth: TPM2BAuth
    public var data: TPM2BSensitiveData
    public init(userAuth: TPM2BAuth = TPM2BAuth(), data: TPM2BSensitiveData = TPM2BSensitiveData()) {
        self.userAuth = userAuth
        self.data = data
    }
    public init(from r: inout TPMReader) throws {
        userAuth = try TPM2BAuth(from: &r)
        data = try TPM2BSensitiveData(from: &r)
    }
    public func encode(to w: inout TPMWriter) {
        userAuth.encode(to: &w)
        data.encode(to: &w)
    }
}

/// TPM2B_SENSITIVE_CREATE (11.1): a TPMS_SENSITIVE_CREATE behind an "=" size. Even with both
/// buffers empty the size is 4 (their size fields); zero, or a size the structure does not use
/// exactly, is TPM_RC_SIZE.
public struct TPM2BSensitiveCreate: Hashable, Sendable, TPMCodable {
    public var sensitive: TPMSSensitiveCreate
    public init(_ sensitive: TPMSSensitiveCreate = TPMSSensitiveCreate()) { self.sensitive = sensitive }
    public init(from r: inout TPMReader) throws {
        sensitive = try r.nonEmptySizedStructure { try TPMSSensitiveCreate(from: &$0) }
    }
    public func encode(to w: inout TPMWriter) { w.sizedStructure { sensitive.encode(to: &$0) } }
}

/// TPMU_SENSITIVE_COMPOSITE (12.3.2): the secret of each object type: an RSA prime, an ECC
/// private scalar, the keyed-hash key or sealed data ("bits"), a symmetric key.
public enum TPMUSensitiveComposite: Hashable, Sendable, TPMEncodable {
    case rsa(TPM2BPrivateKeyRSA)
    case ecc(TPM2BECCParameter)
    case keyedHash(TPM2BSensitiveData)
    case symCipher(TPM2BSymKey)

    public var selector: TPMAlgID {
        switch self {
        case .rsa: return .rsa
        case .ecc: return .ecc
        case .keyedHash: return .keyedHash
        case .symCipher: return .symCipher
        }
    }

    /// No NULL member; a selector without an implemented member is TPM_RC_SELECTOR.
    public init(from r: inout TPMReader, selector: TPMAlgID, support: TPMAlgorithmSupport) throws {
        guard selector != .null else { throw TPMError(.selector) }
        try support.checkSelector(selector, members: TPMAlgorithmSupport.publicTypes)
        switch selector {
        case .rsa: self = .rsa(try TPM2BPrivateKeyRSA(from: &r))
        case .ecc: self = .ecc(try TPM2BECCParameter(from: &r))
        case .keyedHash: self = .keyedHash(try TPM2BSensitiveData(from: &r))
        case .symCipher: self = .symCipher(try TPM2BSymKey(from: &r))
        default: throw TPMError(.selector)
        }
    }

    public func encode(to w: inout TPMWriter) {
        switch self {
        case .rsa(let p): p.encode(to: &w)
        case .ecc(let d): d.encode(to: &w)
        case .keyedHash(let b): b.encode(to: &w)
        case .symCipher(let k): k.encode(to: &w)
        }
    }
}

/// TPMT_SENSITIVE (12.3.2): sensitiveType is a TPMI_ALG_PUBLIC (TPM_RC_TYPE) and selects the
/// secret; seedValue is the obfuscation value of an asymmetric key or the seed of a storage
/// key's symmetric key.
public struct TPMTSensitive: Hashable, Sendable, TPMEncodable {
    public var authValue: TPM2BAuth
    public var seedValue: TPM2BDigest
    public var sensitive: TPMUSensitiveComposite
    public var sensitiveType: TPMAlgID { sensitive.selector }

    public init(authValue: TPM2BAuth, seedValue: TPM2BDigest, sensitive: TPMUSensitiveComposite) {
        self.authValue = authValue
        self.seedValue = seedValue
        self.sensitive = sensitive
    }

    public init(from r: inout TPMReader, support: TPMAlgorithmSupport) throws {
        let type = try support.algorithm(from: &r, members: TPMAlgorithmSupport.publicTypes, allowNull: false, error: .type)
        authValue = try TPM2BAuth(from: &r)
        seedValue = try TPM2BDigest(from: &r)
        sensitive = try TPMUSensitiveComposite(from: &r, selector: type, support: support)
    }

    public func encode(to w: inout TPMWriter) {
        w.u16(sensitiveType.rawValue)
        authValue.encode(to: &w)
        seedValue.encode(to: &w)
        sensitive.encode(to: &w)
    }
}

/// TPM2B_SENSITIVE (12.3.3): a TPMT_SENSITIVE behind a size that may be zero (nil: TPM2_LoadExternal
/// of a public key only, TPM2_Import's encrypted form). A non-zero size must be used exactly
/// (TPM_RC_SIZE).
public struct TPM2BSensitive: Hashable, Sendable, TPMEncodable {
    public var sensitiveArea: TPMTSensitive?
    public init(_ sensitiveArea: TPMTSensitive? = nil) { self.sensitiveArea = sensitiveArea }

    public init(from r: inout TPMReader, support: TPMAlgorithmSupport) throws {
        sensitiveArea = try r.sizedStructure { try TPMTSensitive(from: &$0, support: support) }
    }

    public func encode(to w: inout TPMWriter) {
        guard let area = sensitiveArea else { return w.u16(0) }
        w.sizedStructure { area.encode(to: &$0) }
    }
}

/// _PRIVATE (12.3.4): what a TPM2B_PRIVATE holds once decrypted. The outer integrity value
/// covers the rest; the inner one is present only for duplication with inner wrapping (empty
/// otherwise).
public struct TPMPrivate: Hashable, Sendable, TPMEncodable {
    public var integrityOuter: TPM2BDigest
    public var integrityInner: TPM2BDigest
    public var sensitive: TPM2BSensitive

    public init(integrityOuter: TPM2BDigest, integrityInner: TPM2BDigest, sensitive: TPM2BSensitive) {
        self.integrityOuter = integrityOuter
        self.integrityInner = integrityInner
        self.sensitive = sensitive
    }

    public init(from r: inout TPMReader, support: TPMAlgorithmSupport) throws {
        integrityOuter = try TPM2BDigest(from: &r)
        integrityInner = try TPM2BDigest(from: &r)
        sensitive = try TPM2BSensitive(from: &r, support: support)
    }

    public func encode(to w: inout TPMWriter) {
        integrityOuter.encode(to: &w)
        integrityInner.encode(to: &w)
        sensitive.encode(to: &w)
    }
}

/// TPMS_ID_OBJECT (12.4.2): the contents of a TPM2B_ID_OBJECT. encIdentity is a TPM2B_DIGEST
/// encrypted whole, size field included, so on the wire it is not size-prefixed: it is every
/// octet after integrityHMAC (Part 1, 24; its first two octets are ciphertext, not a length).
public struct TPMSIDObject: Hashable, Sendable, TPMEncodable {
    public var integrityHMAC: TPM2BDigest
    public var encIdentity: [UInt8]

    public init(integrityHMAC: TPM2BDigest, encIdentity: [UInt8]) {
        self.integrityHMAC = integrityHMAC
        self.encIdentity = encIdentity
    }

    /// Splits a credential blob; its integrity HMAC must fit (TPM_RC_SIZE / TPM_RC_INSUFFICIENT).
    public init(_ blob: TPM2BIDObject) throws {
        var r = TPMReader(blob.buffer)
        integrityHMAC = try TPM2BDigest(from: &r)
        encIdentity = r.rest()
    }

    public func encode(to w: inout TPMWriter) {
        integrityHMAC.encode(to: &w)
        w.bytes(encIdentity)
    }

    public var blob: TPM2BIDObject { TPM2BIDObject(wireBytes) }
}
