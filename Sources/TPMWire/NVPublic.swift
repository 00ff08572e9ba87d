// NV Index structures (Part 2, 13): TPM_NT, TPMA_NV, TPMS_NV_PUBLIC and TPM2B_NV_PUBLIC.

/// TPM_NT (Part 2, 13.2): the type of an NV Index, bits 7:4 of TPMA_NV.
public enum TPMNT: UInt8, Sendable {
    case ordinary = 0x0
    case counter = 0x1
    case bits = 0x2
    case extend = 0x4
    case pinFail = 0x8
    case pinPass = 0x9
}

/// TPMA_NV (Part 2, 13.4). Bits 8-9 and 20-24 are reserved (TPM_RC_RESERVED_BITS).
public struct TPMANV: OptionSet, Hashable, Sendable, TPMCodable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let ppWrite = Self(rawValue: 1 << 0)
    public static let ownerWrite = Self(rawValue: 1 << 1)
    public static let authWrite = Self(rawValue: 1 << 2)
    public static let policyWrite = Self(rawValue: 1 << 3)
    public static let policyDelete = Self(rawValue: 1 << 10)
    public static let writeLocked = Self(rawValue: 1 << 11)
    public static let writeAll = Self(rawValue: 1 << 12)
    public static let writeDefine = Self(rawValue: 1 << 13)
    public static let writeSTClear = Self(rawValue: 1 << 14)
    public static let globalLock = Self(rawValue: 1 << 15)
    public static let ppRead = Self(rawValue: 1 << 16)
    public static let ownerRead = Self(rawValue: 1 << 17)
    public static let authRead = Self(rawValue: 1 << 18)
    public static let policyRead = Self(rawValue: 1 << 19)
    public static let noDA = Self(rawValue: 1 << 25)
    public static let orderly = Self(rawValue: 1 << 26)
    public static let clearSTClear = Self(rawValue: 1 << 27)
    public static let readLocked = Self(rawValue: 1 << 28)
    public static let written = Self(rawValue: 1 << 29)
    public static let platformCreate = Self(rawValue: 1 << 30)
    public static let readSTClear = Self(rawValue: 1 << 31)

    public static let reserved: UInt32 = 0x01F0_0300
    static let typeShift: UInt32 = 4
    static let typeMask: UInt32 = 0xF0

    /// The TPM_NT field; nil for a value Part 2 does not define.
    public var type: TPMNT? { TPMNT(rawValue: UInt8((rawValue & TPMANV.typeMask) >> TPMANV.typeShift)) }

    public init(type: TPMNT, _ others: TPMANV = []) {
        rawValue = others.rawValue & ~TPMANV.typeMask | UInt32(type.rawValue) << TPMANV.typeShift
    }

    public init(from r: inout TPMReader) throws {
        rawValue = try r.u32()
        guard rawValue & TPMANV.reserved == 0 else { throw TPMError(.reservedBits) }
    }

    public func encode(to w: inout TPMWriter) { w.u32(rawValue) }
}

/// TPMS_NV_PUBLIC (Part 2, 13.5). Decoding checks each field as Part 2's tables do: nvIndex
/// in the NV Index range (TPM_RC_VALUE), nameAlg an implemented hash (TPM_RC_HASH), no
/// reserved attribute (TPM_RC_RESERVED_BITS), dataSize at most MAX_NV_INDEX_SIZE (TPM_RC_SIZE).
public struct TPMSNVPublic: TPMCodable, Hashable, Sendable {
    public var nvIndex: TPMHandle
    public var nameAlg: TPMAlgID
    public var attributes: TPMANV
    public var authPolicy: TPM2BDigest
    public var dataSize: UInt16

    public init(nvIndex: TPMHandle, nameAlg: TPMAlgID, attributes: TPMANV, authPolicy: TPM2BDigest = TPM2BDigest(), dataSize: UInt16) {
        self.nvIndex = nvIndex
        self.nameAlg = nameAlg
        self.attributes = attributes
        self.authPolicy = authPolicy
        self.dataSize = dataSize
    }

    public init(from r: inout TPMReader) throws {
        nvIndex = TPMHandle(try r.u32())
        guard nvIndex.handleType == .nvIndex else { throw TPMError.value }
        nameAlg = try TPMIAlgHash(from: &r, allowNull: false).alg
        attributes = try TPMANV(from: &r)
        authPolicy = try TPM2BDigest(from: &r)
        dataSize = try r.u16()
        guard Int(dataSize) <= TPMLimits.maxNVIndexSize else { throw TPMError.size }
    }

    public func encode(to w: inout TPMWriter) {
        w.u32(nvIndex.rawValue)
        w.u16(nameAlg.rawValue)
        attributes.encode(to: &w)
        authPolicy.encode(to: &w)
        w.u16(dataSize)
    }
}

/// TPM2B_NV_PUBLIC (Part 2, 13.6): the size may not be zero ("=") and must match.
public struct TPM2BNVPublic: TPMCodable, Hashable, Sendable {
    public var nvPublic: TPMSNVPublic
    public init(_ nvPublic: TPMSNVPublic) { self.nvPublic = nvPublic }
    public init(from r: inout TPMReader) throws { nvPublic = try r.nonEmptySizedStructure { try TPMSNVPublic(from: &$0) } }
    public func encode(to w: inout TPMWriter) { w.sizedStructure { nvPublic.encode(to: &$0) } }
}
