// TPMS_CAPABILITY_DATA and the lists TPM2_GetCapability returns (Part 2, 10.8-10.10), plus
// TPML_ALG (10.9.3), the list TPM2_IncrementalSelfTest takes and returns. Each list decodes
// its count against the list's bound (TPM_RC_SIZE) before reading any entry, so a hostile
// count never allocates.

/// An entry of a TPML_* list: how it reads and writes itself.
public protocol TPMListElement: Hashable, Sendable {
    init(listElementFrom r: inout TPMReader) throws
    func encodeListElement(to w: inout TPMWriter)
}

/// The bound of a TPML_* list's count.
public protocol TPMListBound { static var maxCount: Int { get } }

/// A TPML_*: a UINT32 count, then that many entries.
public struct TPMList<Element: TPMListElement, Bound: TPMListBound>: TPMCodable, Hashable, Sendable {
    public var items: [Element]
    public init(_ items: [Element] = []) { self.items = items }
    public var count: Int { items.count }

    public init(from r: inout TPMReader) throws {
        let n = try r.u32()
        guard n <= Bound.maxCount else { throw TPMError.size }
        items = []
        items.reserveCapacity(Int(n))
        for _ in 0..<n { items.append(try Element(listElementFrom: &r)) }
    }

    public func encode(to w: inout TPMWriter) {
        w.u32(UInt32(items.count))
        for item in items { item.encodeListElement(to: &w) }
    }
}

public enum MaxCapAlgs: TPMListBound { public static var maxCount: Int { TPMLimits.maxCapAlgs } }
public enum MaxCapHandles: TPMListBound { public static var maxCount: Int { TPMLimits.maxCapHandles } }
public enum MaxCapCC: TPMListBound { public static var maxCount: Int { TPMLimits.maxCapCC } }
public enum MaxTPMProperties: TPMListBound { public static var maxCount: Int { TPMLimits.maxTPMProperties } }
public enum MaxPCRProperties: TPMListBound { public static var maxCount: Int { TPMLimits.maxPCRProperties } }
public enum MaxECCCurves: TPMListBound { public static var maxCount: Int { TPMLimits.maxECCCurves } }
public enum MaxTaggedPolicies: TPMListBound { public static var maxCount: Int { TPMLimits.maxTaggedPolicies } }
public enum MaxACTData: TPMListBound { public static var maxCount: Int { TPMLimits.maxACTData } }
public enum MaxAlgList: TPMListBound { public static var maxCount: Int { TPMLimits.maxAlgListSize } }

/// TPML_ALG (10.9.3): algorithm IDs, not checked against what is implemented (the command
/// that takes one decides).
public typealias TPMLAlg = TPMList<TPMAlgID, MaxAlgList>
/// TPML_ALG_PROPERTY (10.9.9).
public typealias TPMLAlgProperty = TPMList<TPMSAlgProperty, MaxCapAlgs>
/// TPML_HANDLE (10.9.4).
public typealias TPMLHandle = TPMList<TPMHandle, MaxCapHandles>
/// TPML_CCA (10.9.2).
public typealias TPMLCCA = TPMList<TPMACC, MaxCapCC>
/// TPML_CC (10.9.1).
public typealias TPMLCC = TPMList<TPMCC, MaxCapCC>
/// TPML_TAGGED_TPM_PROPERTY (10.9.10).
public typealias TPMLTaggedTPMProperty = TPMList<TPMSTaggedProperty, MaxTPMProperties>
/// TPML_TAGGED_PCR_PROPERTY (10.9.11).
public typealias TPMLTaggedPCRProperty = TPMList<TPMSTaggedPCRSelect, MaxPCRProperties>
/// TPML_ECC_CURVE (10.9.12).
public typealias TPMLECCCurve = TPMList<TPMECCCurve, MaxECCCurves>
/// TPML_TAGGED_POLICY (10.9.13).
public typealias TPMLTaggedPolicy = TPMList<TPMSTaggedPolicy, MaxTaggedPolicies>
/// TPML_ACT_DATA (10.9.14).
public typealias TPMLACTData = TPMList<TPMSACTData, MaxACTData>

// MARK: entries

extension TPMAlgID: TPMListElement {
    public init(listElementFrom r: inout TPMReader) throws { self.init(try r.u16()) }
    public func encodeListElement(to w: inout TPMWriter) { w.u16(rawValue) }
}

extension TPMHandle: TPMListElement {
    public init(listElementFrom r: inout TPMReader) throws { self.init(try r.u32()) }
    public func encodeListElement(to w: inout TPMWriter) { w.u32(rawValue) }
}

extension TPMCC: TPMListElement {
    public init(listElementFrom r: inout TPMReader) throws { self.init(try r.u32()) }
    public func encodeListElement(to w: inout TPMWriter) { w.u32(rawValue) }
}

extension TPMECCCurve: TPMListElement {
    public init(listElementFrom r: inout TPMReader) throws { self.init(try r.u16()) }
    public func encodeListElement(to w: inout TPMWriter) { w.u16(rawValue) }
}

extension TPMACC: TPMListElement {
    /// Bits 16-21 and 30-31 are reserved (Part 2, 8.9): TPM_RC_RESERVED_BITS.
    public static let reservedBits: UInt32 = 0xC03F_0000
    public init(listElementFrom r: inout TPMReader) throws {
        let v = try r.u32()
        guard v & TPMACC.reservedBits == 0 else { throw TPMError(.reservedBits) }
        self.init(rawValue: v)
    }
    public func encodeListElement(to w: inout TPMWriter) { w.u32(rawValue) }
}

/// TPMS_ALG_PROPERTY (10.8.1).
public struct TPMSAlgProperty: TPMListElement {
    public var alg: TPMAlgID
    public var algProperties: TPMAAlgorithm
    /// TPMA_ALGORITHM bits 4-7 and 11-31 are reserved (Part 2, 8.2).
    public static let reservedBits: UInt32 = 0xFFFF_F8F0

    public init(alg: TPMAlgID, algProperties: TPMAAlgorithm) {
        self.alg = alg
        self.algProperties = algProperties
    }
    public init(listElementFrom r: inout TPMReader) throws {
        alg = TPMAlgID(try r.u16())
        let v = try r.u32()
        guard v & TPMSAlgProperty.reservedBits == 0 else { throw TPMError(.reservedBits) }
        algProperties = TPMAAlgorithm(rawValue: v)
    }
    public func encodeListElement(to w: inout TPMWriter) {
        w.u16(alg.rawValue)
        w.u32(algProperties.rawValue)
    }
}

/// TPMS_TAGGED_PROPERTY (10.8.2).
public struct TPMSTaggedProperty: TPMListElement {
    public var property: TPMPT
    public var value: UInt32
    public init(property: TPMPT, value: UInt32) {
        self.property = property
        self.value = value
    }
    public init(listElementFrom r: inout TPMReader) throws {
        property = TPMPT(try r.u32())
        value = try r.u32()
    }
    public func encodeListElement(to w: inout TPMWriter) {
        w.u32(property.rawValue)
        w.u32(value)
    }
}

/// TPMS_TAGGED_PCR_SELECT (10.8.3): a PCR property and the bitmap of the PCRs that have it.
/// sizeofSelect outside PCR_SELECT_MIN...PCR_SELECT_MAX is TPM_RC_VALUE, as for
/// TPMS_PCR_SELECTION.
public struct TPMSTaggedPCRSelect: TPMListElement {
    public var tag: TPMPTPCR
    public var pcrSelect: [UInt8]
    public init(tag: TPMPTPCR, pcrSelect: [UInt8]) {
        self.tag = tag
        self.pcrSelect = pcrSelect
    }
    public init(listElementFrom r: inout TPMReader) throws {
        tag = TPMPTPCR(try r.u32())
        let n = Int(try r.u8())
        guard n >= TPMLimits.pcrSelectMin, n <= TPMLimits.pcrSelectMax else { throw TPMError.value }
        pcrSelect = try r.bytes(n)
    }
    public func encodeListElement(to w: inout TPMWriter) {
        w.u32(tag.rawValue)
        w.u8(UInt8(truncatingIfNeeded: pcrSelect.count))
        w.bytes(pcrSelect)
    }
}

/// TPMS_TAGGED_POLICY (10.8.4): a permanent handle and its authorization policy; a policy
/// hash of TPM_ALG_NULL (no digest) means no policy is set.
public struct TPMSTaggedPolicy: TPMListElement {
    public var handle: TPMHandle
    public var policyHash: TPMTHA
    public init(handle: TPMHandle, policyHash: TPMTHA) {
        self.handle = handle
        self.policyHash = policyHash
    }
    public init(listElementFrom r: inout TPMReader) throws {
        handle = TPMHandle(try r.u32())
        policyHash = try TPMTHA(from: &r, allowNull: true)
    }
    public func encodeListElement(to w: inout TPMWriter) {
        w.u32(handle.rawValue)
        policyHash.encode(to: &w)
    }
}

/// TPMS_ACT_DATA (10.8.5): an authenticated countdown timer, its remaining time and its
/// TPMA_ACT attributes.
public struct TPMSACTData: TPMListElement {
    public var handle: TPMHandle
    public var timeout: UInt32
    public var attributes: UInt32
    public init(handle: TPMHandle, timeout: UInt32, attributes: UInt32) {
        self.handle = handle
        self.timeout = timeout
        self.attributes = attributes
    }
    public init(listElementFrom r: inout TPMReader) throws {
        handle = TPMHandle(try r.u32())
        timeout = try r.u32()
        attributes = try r.u32()
    }
    public func encodeListElement(to w: inout TPMWriter) {
        w.u32(handle.rawValue)
        w.u32(timeout)
        w.u32(attributes)
    }
}

// MARK: TPMS_CAPABILITY_DATA

/// TPMU_CAPABILITIES (10.10.1), one member per TPM_CAP.
public enum TPMUCapabilities: Hashable, Sendable {
    case algorithms(TPMLAlgProperty)
    case handles(TPMLHandle)
    case command(TPMLCCA)
    case ppCommands(TPMLCC)
    case auditCommands(TPMLCC)
    case assignedPCR(TPMLPCRSelection)
    case tpmProperties(TPMLTaggedTPMProperty)
    case pcrProperties(TPMLTaggedPCRProperty)
    case eccCurves(TPMLECCCurve)
    case authPolicies(TPMLTaggedPolicy)
    case actData(TPMLACTData)

    public var selector: TPMCap {
        switch self {
        case .algorithms: return .algs
        case .handles: return .handles
        case .command: return .commands
        case .ppCommands: return .ppCommands
        case .auditCommands: return .auditCommands
        case .assignedPCR: return .pcrs
        case .tpmProperties: return .tpmProperties
        case .pcrProperties: return .pcrProperties
        case .eccCurves: return .eccCurves
        case .authPolicies: return .authPolicies
        case .actData: return .act
        }
    }

    /// A capability without a member (TPM_CAP_VENDOR_PROPERTY included) is TPM_RC_SELECTOR.
    public init(from r: inout TPMReader, selector: TPMCap) throws {
        switch selector {
        case .algs: self = .algorithms(try TPMLAlgProperty(from: &r))
        case .handles: self = .handles(try TPMLHandle(from: &r))
        case .commands: self = .command(try TPMLCCA(from: &r))
        case .ppCommands: self = .ppCommands(try TPMLCC(from: &r))
        case .auditCommands: self = .auditCommands(try TPMLCC(from: &r))
        case .pcrs: self = .assignedPCR(try TPMLPCRSelection(from: &r))
        case .tpmProperties: self = .tpmProperties(try TPMLTaggedTPMProperty(from: &r))
        case .pcrProperties: self = .pcrProperties(try TPMLTaggedPCRProperty(from: &r))
        case .eccCurves: self = .eccCurves(try TPMLECCCurve(from: &r))
        case .authPolicies: self = .authPolicies(try TPMLTaggedPolicy(from: &r))
        case .act: self = .actData(try TPMLACTData(from: &r))
        default: throw TPMError(.selector)
        }
    }

    public func encode(to w: inout TPMWriter) {
        switch self {
        case .algorithms(let l): l.encode(to: &w)
        case .handles(let l): l.encode(to: &w)
        case .command(let l): l.encode(to: &w)
        case .ppCommands(let l), .auditCommands(let l): l.encode(to: &w)
        case .assignedPCR(let l): l.encode(to: &w)
        case .tpmProperties(let l): l.encode(to: &w)
        case .pcrProperties(let l): l.encode(to: &w)
        case .eccCurves(let l): l.encode(to: &w)
        case .authPolicies(let l): l.encode(to: &w)
        case .actData(let l): l.encode(to: &w)
        }
    }
}

/// TPMS_CAPABILITY_DATA (10.10.2).
public struct TPMSCapabilityData: TPMCodable, Hashable, Sendable {
    public var data: TPMUCapabilities
    public var capability: TPMCap { data.selector }

    public init(_ data: TPMUCapabilities) { self.data = data }

    public init(from r: inout TPMReader) throws {
        let cap = TPMCap(try r.u32())
        data = try TPMUCapabilities(from: &r, selector: cap)
    }

    public func encode(to w: inout TPMWriter) {
        w.u32(capability.rawValue)
        data.encode(to: &w)
    }
}
