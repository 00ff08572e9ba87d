// The public area of an object (Part 2, 12.2): TPMA_OBJECT, TPMU_PUBLIC_ID and its members,
// TPMT_PUBLIC, TPM2B_PUBLIC, and the template form TPM2_CreateLoaded takes (TPM2B_TEMPLATE,
// whose unique field may instead hold a TPMS_DERIVE). The parameters are TPMU_PUBLIC_PARMS
// from PublicParms.swift.

/// TPMA_OBJECT (Part 2, 8.3). A set reserved bit is TPM_RC_RESERVED_BITS.
public struct TPMAObject: OptionSet, Hashable, Sendable, TPMCodable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let fixedTPM = Self(rawValue: 1 << 1)
    public static let stClear = Self(rawValue: 1 << 2)
    public static let fixedParent = Self(rawValue: 1 << 4)
    public static let sensitiveDataOrigin = Self(rawValue: 1 << 5)
    public static let userWithAuth = Self(rawValue: 1 << 6)
    public static let adminWithPolicy = Self(rawValue: 1 << 7)
    public static let noDA = Self(rawValue: 1 << 10)
    public static let encryptedDuplication = Self(rawValue: 1 << 11)
    public static let restricted = Self(rawValue: 1 << 16)
    public static let decrypt = Self(rawValue: 1 << 17)
    /// sign / encrypt (bit 18).
    public static let sign = Self(rawValue: 1 << 18)
    public static let x509sign = Self(rawValue: 1 << 19)

    /// Bits 0, 3, 8, 9, 12-15 and 20-31 are reserved in rev 1.59. (Later revisions give bit 3
    /// to fixedFirmware and bits 8 and 9 to firmwareLimited and svnLimited, and libtpms accepts
    /// 8 and 9; this TPM implements rev 1.59 and refuses them.)
    public static let reserved: UInt32 = 0xFFF0_F309

    public init(from r: inout TPMReader) throws {
        rawValue = try r.u32()
        guard rawValue & Self.reserved == 0 else { throw TPMError(.reservedBits) }
    }

    public func encode(to w: inout TPMWriter) { w.u32(rawValue) }
}

public enum PublicKeyRSABound: TPM2BBound { public static var maxSize: Int { TPMLimits.maxRSAKeyBytes } }
public enum ECCParameterBound: TPM2BBound { public static var maxSize: Int { TPMLimits.maxECCKeyBytes } }
public enum LabelBound: TPM2BBound { public static var maxSize: Int { TPMLimits.labelMaxBuffer } }
public enum DeriveBound: TPM2BBound { public static var maxSize: Int { TPMLimits.maxDeriveSize } }
public enum TemplateBound: TPM2BBound { public static var maxSize: Int { TPMLimits.maxPublicAreaSize } }

/// TPM2B_PUBLIC_KEY_RSA (11.2.4): an RSA modulus, ciphertext or signature.
public typealias TPM2BPublicKeyRSA = TPM2B<PublicKeyRSABound>
/// TPM2B_ECC_PARAMETER (11.2.5): an ECC coordinate or scalar.
public typealias TPM2BECCParameter = TPM2B<ECCParameterBound>
/// TPM2B_LABEL (11.1).
public typealias TPM2BLabel = TPM2B<LabelBound>
/// TPM2B_DERIVE (11.1): a marshalled TPMS_DERIVE.
public typealias TPM2BDerive = TPM2B<DeriveBound>

/// TPMS_ECC_POINT (11.2.5).
public struct TPMSECCPoint: Hashable, Sendable, TPMCodable {
    public var x: TPM2BECCParameter
    public var y: TPM2BECCParameter
    public init(x: TPM2BECCParameter, y: TPM2BECCParameter) {
        self.x = x
        self.y = y
    }
    public init(from r: inout TPMReader) throws {
        x = try TPM2BECCParameter(from: &r)
        y = try TPM2BECCParameter(from: &r)
    }
    public func encode(to w: inout TPMWriter) {
        x.encode(to: &w)
        y.encode(to: &w)
    }
}

/// TPM2B_ECC_POINT (11.2.5): a TPMS_ECC_POINT behind an "=" size (zero is TPM_RC_SIZE).
public struct TPM2BECCPoint: Hashable, Sendable, TPMCodable {
    public var point: TPMSECCPoint
    public init(_ point: TPMSECCPoint) { self.point = point }
    public init(from r: inout TPMReader) throws { point = try r.nonEmptySizedStructure { try TPMSECCPoint(from: &$0) } }
    public func encode(to w: inout TPMWriter) { w.sizedStructure { point.encode(to: &$0) } }
}

/// TPMS_DERIVE (11.1): the label and context of a derived object.
public struct TPMSDerive: Hashable, Sendable, TPMCodable {
    public var label: TPM2BLabel
    public var context: TPM2BLabel
    public init(label: TPM2BLabel, context: TPM2BLabel) {
        self.label = label
        self.context = context
    }
    public init(from r: inout TPMReader) throws {
        label = try TPM2BLabel(from: &r)
        context = try TPM2BLabel(from: &r)
    }
    public func encode(to w: inout TPMWriter) {
        label.encode(to: &w)
        context.encode(to: &w)
    }
}

/// TPMU_PUBLIC_ID (12.2.3): the unique field, selected by the object type. `derive` has no
/// selector: it is only what a TPM2B_TEMPLATE carries in place of unique when the parent is
/// a derivation parent (`TPMTPublic(template:derivation:support:)`).
public enum TPMUPublicID: Hashable, Sendable, TPMEncodable {
    case keyedHash(TPM2BDigest)
    case symCipher(TPM2BDigest)
    case rsa(TPM2BPublicKeyRSA)
    case ecc(TPMSECCPoint)
    case derive(TPMSDerive)

    /// Decodes the member of `selector`; TPMU_PUBLIC_ID has no NULL member, and a selector
    /// without an implemented member is TPM_RC_SELECTOR.
    public init(from r: inout TPMReader, selector: TPMAlgID, support: TPMAlgorithmSupport) throws {
        guard selector != .null else { throw TPMError(.selector) }
        try support.checkSelector(selector, members: TPMAlgorithmSupport.publicTypes)
        switch selector {
        case .keyedHash: self = .keyedHash(try TPM2BDigest(from: &r))
        case .symCipher: self = .symCipher(try TPM2BDigest(from: &r))
        case .rsa: self = .rsa(try TPM2BPublicKeyRSA(from: &r))
        case .ecc: self = .ecc(try TPMSECCPoint(from: &r))
        default: throw TPMError(.selector)
        }
    }

    /// The empty unique field of an object of `type` (a template with no entropy of its own).
    public static func empty(for type: TPMAlgID) -> TPMUPublicID? {
        switch type {
        case .keyedHash: return .keyedHash(TPM2BDigest())
        case .symCipher: return .symCipher(TPM2BDigest())
        case .rsa: return .rsa(TPM2BPublicKeyRSA())
        case .ecc: return .ecc(TPMSECCPoint(x: TPM2BECCParameter(), y: TPM2BECCParameter()))
        default: return nil
        }
    }

    public func encode(to w: inout TPMWriter) {
        switch self {
        case .keyedHash(let d), .symCipher(let d): d.encode(to: &w)
        case .rsa(let n): n.encode(to: &w)
        case .ecc(let p): p.encode(to: &w)
        case .derive(let d): d.encode(to: &w)
        }
    }
}

/// TPMT_PUBLIC (12.2.4). The type is the selector of `parameters`; `unique` must be the member
/// of the same type (or `derive`, in a template for a derivation parent).
public struct TPMTPublic: Hashable, Sendable, TPMEncodable {
    public var nameAlg: TPMAlgID
    public var objectAttributes: TPMAObject
    public var authPolicy: TPM2BDigest
    public var parameters: TPMUPublicParms
    public var unique: TPMUPublicID

    /// TPMI_ALG_PUBLIC.
    public var type: TPMAlgID { parameters.selector }
    /// The parameters as TPMT_PUBLIC_PARMS (what TPM2_TestParms checks).
    public var publicParms: TPMTPublicParms { TPMTPublicParms(parameters) }

    public init(
        nameAlg: TPMAlgID, objectAttributes: TPMAObject, authPolicy: TPM2BDigest = TPM2BDigest(),
        parameters: TPMUPublicParms, unique: TPMUPublicID
    ) {
        self.nameAlg = nameAlg
        self.objectAttributes = objectAttributes
        self.authPolicy = authPolicy
        self.parameters = parameters
        self.unique = unique
    }

    /// `allowNull`: the "+" of +TPMT_PUBLIC, letting nameAlg be TPM_ALG_NULL (TPM2_LoadExternal
    /// of a public key only). Codes: TPM_RC_TYPE (type), TPM_RC_HASH (nameAlg),
    /// TPM_RC_RESERVED_BITS (objectAttributes), TPM_RC_SIZE (authPolicy), the parameters' own
    /// codes, then the unique field's.
    public init(from r: inout TPMReader, allowNull: Bool, support: TPMAlgorithmSupport) throws {
        let (type, nameAlg, attributes, policy, parameters) = try Self.decodeHead(&r, allowNull: allowNull, support: support)
        self.nameAlg = nameAlg
        objectAttributes = attributes
        authPolicy = policy
        self.parameters = parameters
        unique = try TPMUPublicID(from: &r, selector: type, support: support)
    }

    /// The TPMT_PUBLIC of a TPM2B_TEMPLATE (12.2.6, TPM2_CreateLoaded): the whole buffer, with
    /// nameAlg not NULL; for a derivation parent the unique field is a TPMS_DERIVE (TPMT_TEMPLATE,
    /// returned as `.derive`). Octets left over are TPM_RC_SIZE (Part 3, 12.9.1; the reference
    /// code's UnmarshalToPublic()).
    public init(template: TPM2BTemplate, derivation: Bool, support: TPMAlgorithmSupport) throws {
        var r = TPMReader(template.buffer)
        let (type, nameAlg, attributes, policy, parameters) = try Self.decodeHead(&r, allowNull: false, support: support)
        self.nameAlg = nameAlg
        objectAttributes = attributes
        authPolicy = policy
        self.parameters = parameters
        unique = derivation ? .derive(try TPMSDerive(from: &r)) : try TPMUPublicID(from: &r, selector: type, support: support)
        guard r.isAtEnd else { throw TPMError.size }
    }

    private static func decodeHead(
        _ r: inout TPMReader, allowNull: Bool, support: TPMAlgorithmSupport
    ) throws -> (TPMAlgID, TPMAlgID, TPMAObject, TPM2BDigest, TPMUPublicParms) {
        let type = try support.algorithm(from: &r, members: TPMAlgorithmSupport.publicTypes, allowNull: false, error: .type)
        let nameAlg = try TPMIAlgHash(from: &r, allowNull: allowNull).alg
        let attributes = try TPMAObject(from: &r)
        let policy = try TPM2BDigest(from: &r)
        let parameters = try TPMUPublicParms(from: &r, selector: type, support: support)
        return (type, nameAlg, attributes, policy, parameters)
    }

    public func encode(to w: inout TPMWriter) {
        w.u16(type.rawValue)
        w.u16(nameAlg.rawValue)
        objectAttributes.encode(to: &w)
        authPolicy.encode(to: &w)
        parameters.encode(to: &w)
        unique.encode(to: &w)
    }
}

/// TPM2B_PUBLIC (12.2.5): a TPMT_PUBLIC behind an "=" size. Zero is TPM_RC_SIZE, and so is a
/// public area that does not use exactly `size` octets.
public struct TPM2BPublic: Hashable, Sendable, TPMEncodable {
    public var publicArea: TPMTPublic
    public init(_ publicArea: TPMTPublic) { self.publicArea = publicArea }

    /// `allowNull` is the "+" of +TPM2B_PUBLIC, passed to the TPMT_PUBLIC.
    public init(from r: inout TPMReader, allowNull: Bool, support: TPMAlgorithmSupport) throws {
        publicArea = try r.nonEmptySizedStructure { try TPMTPublic(from: &$0, allowNull: allowNull, support: support) }
    }

    public func encode(to w: inout TPMWriter) { w.sizedStructure { publicArea.encode(to: &$0) } }
}

/// TPM2B_TEMPLATE (12.2.6): a marshalled TPMT_PUBLIC or TPMT_TEMPLATE, kept as octets because
/// how to read it depends on the parent; see `TPMTPublic(template:derivation:support:)`.
public typealias TPM2BTemplate = TPM2B<TemplateBound>
