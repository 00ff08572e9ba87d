/// TPM_ALG_ID (Part 2, 6.3).
public struct TPMAlgID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ v: UInt16) { rawValue = v }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public static let error = TPMAlgID(0x0000)
    public static let rsa = TPMAlgID(0x0001)
    public static let tdes = TPMAlgID(0x0003)
    public static let sha1 = TPMAlgID(0x0004)
    public static let hmac = TPMAlgID(0x0005)
    public static let aes = TPMAlgID(0x0006)
    public static let mgf1 = TPMAlgID(0x0007)
    public static let keyedHash = TPMAlgID(0x0008)
    public static let xor = TPMAlgID(0x000A)
    public static let sha256 = TPMAlgID(0x000B)
    public static let sha384 = TPMAlgID(0x000C)
    public static let sha512 = TPMAlgID(0x000D)
    public static let null = TPMAlgID(0x0010)
    public static let sm3_256 = TPMAlgID(0x0012)
    public static let sm4 = TPMAlgID(0x0013)
    public static let rsassa = TPMAlgID(0x0014)
    public static let rsaes = TPMAlgID(0x0015)
    public static let rsapss = TPMAlgID(0x0016)
    public static let oaep = TPMAlgID(0x0017)
    public static let ecdsa = TPMAlgID(0x0018)
    public static let ecdh = TPMAlgID(0x0019)
    public static let ecdaa = TPMAlgID(0x001A)
    public static let sm2 = TPMAlgID(0x001B)
    public static let ecschnorr = TPMAlgID(0x001C)
    public static let ecmqv = TPMAlgID(0x001D)
    public static let kdf1SP800_56A = TPMAlgID(0x0020)
    public static let kdf2 = TPMAlgID(0x0021)
    public static let kdf1SP800_108 = TPMAlgID(0x0022)
    public static let ecc = TPMAlgID(0x0023)
    public static let symCipher = TPMAlgID(0x0025)
    public static let camellia = TPMAlgID(0x0026)
    public static let sha3_256 = TPMAlgID(0x0027)
    public static let sha3_384 = TPMAlgID(0x0028)
    public static let sha3_512 = TPMAlgID(0x0029)
    public static let cmac = TPMAlgID(0x003F)
    public static let ctr = TPMAlgID(0x0040)
    public static let ofb = TPMAlgID(0x0041)
    public static let cbc = TPMAlgID(0x0042)
    public static let cfb = TPMAlgID(0x0043)
    public static let ecb = TPMAlgID(0x0044)

    public var description: String { "TPM_ALG(0x" + String(rawValue, radix: 16) + ")" }
}

/// TPM_ST (Part 2, 6.9).
public struct TPMST: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ v: UInt16) { rawValue = v }

    public static let rspCommand = TPMST(0x00C4)
    public static let null = TPMST(0x8000)
    public static let noSessions = TPMST(0x8001)
    public static let sessions = TPMST(0x8002)
    public static let attestNV = TPMST(0x8014)
    public static let attestCommandAudit = TPMST(0x8015)
    public static let attestSessionAudit = TPMST(0x8016)
    public static let attestCertify = TPMST(0x8017)
    public static let attestQuote = TPMST(0x8018)
    public static let attestTime = TPMST(0x8019)
    public static let attestCreation = TPMST(0x801A)
    public static let attestNVDigest = TPMST(0x801C)
    public static let creation = TPMST(0x8021)
    public static let verified = TPMST(0x8022)
    public static let authSecret = TPMST(0x8023)
    public static let hashCheck = TPMST(0x8024)
    public static let authSigned = TPMST(0x8025)
    public static let fuManifest = TPMST(0x8029)
}

/// TPM_SU (Part 2, 6.10).
public enum TPMSU: UInt16, Sendable {
    case clear = 0x0000
    case state = 0x0001
}

/// TPM_CAP (Part 2, 6.12).
public struct TPMCap: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ v: UInt32) { rawValue = v }
    public static let algs = TPMCap(0)
    public static let handles = TPMCap(1)
    public static let commands = TPMCap(2)
    public static let ppCommands = TPMCap(3)
    public static let auditCommands = TPMCap(4)
    public static let pcrs = TPMCap(5)
    public static let tpmProperties = TPMCap(6)
    public static let pcrProperties = TPMCap(7)
    public static let eccCurves = TPMCap(8)
    public static let authPolicies = TPMCap(9)
    public static let act = TPMCap(10)
    public static let vendorProperty = TPMCap(0x100)
}

/// TPM_PT (Part 2, 6.13).
public struct TPMPT: RawRepresentable, Hashable, Comparable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ v: UInt32) { rawValue = v }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public static let none = TPMPT(0)
    public static let fixed = TPMPT(0x100)
    public static let familyIndicator = TPMPT(0x100)
    public static let level = TPMPT(0x101)
    public static let revision = TPMPT(0x102)
    public static let dayOfYear = TPMPT(0x103)
    public static let year = TPMPT(0x104)
    public static let manufacturer = TPMPT(0x105)
    public static let vendorString1 = TPMPT(0x106)
    public static let vendorString2 = TPMPT(0x107)
    public static let vendorString3 = TPMPT(0x108)
    public static let vendorString4 = TPMPT(0x109)
    public static let vendorTPMType = TPMPT(0x10A)
    public static let firmwareVersion1 = TPMPT(0x10B)
    public static let firmwareVersion2 = TPMPT(0x10C)
    public static let inputBuffer = TPMPT(0x10D)
    public static let hrTransientMin = TPMPT(0x10E)
    public static let hrPersistentMin = TPMPT(0x10F)
    public static let hrLoadedMin = TPMPT(0x110)
    public static let activeSessionsMax = TPMPT(0x111)
    public static let pcrCount = TPMPT(0x112)
    public static let pcrSelectMin = TPMPT(0x113)
    public static let contextGapMax = TPMPT(0x114)
    public static let nvCountersMax = TPMPT(0x116)
    public static let nvIndexMax = TPMPT(0x117)
    public static let memory = TPMPT(0x118)
    public static let clockUpdate = TPMPT(0x119)
    public static let contextHash = TPMPT(0x11A)
    public static let contextSym = TPMPT(0x11B)
    public static let contextSymSize = TPMPT(0x11C)
    public static let orderlyCount = TPMPT(0x11D)
    public static let maxCommandSize = TPMPT(0x11E)
    public static let maxResponseSize = TPMPT(0x11F)
    public static let maxDigest = TPMPT(0x120)
    public static let maxObjectContext = TPMPT(0x121)
    public static let maxSessionContext = TPMPT(0x122)
    public static let psFamilyIndicator = TPMPT(0x123)
    public static let psLevel = TPMPT(0x124)
    public static let psRevision = TPMPT(0x125)
    public static let psDayOfYear = TPMPT(0x126)
    public static let psYear = TPMPT(0x127)
    public static let splitMax = TPMPT(0x128)
    public static let totalCommands = TPMPT(0x129)
    public static let libraryCommands = TPMPT(0x12A)
    public static let vendorCommands = TPMPT(0x12B)
    public static let nvBufferMax = TPMPT(0x12C)
    public static let modes = TPMPT(0x12D)
    public static let maxCapBuffer = TPMPT(0x12E)

    public static let variable = TPMPT(0x200)
    public static let permanent = TPMPT(0x200)
    public static let startupClear = TPMPT(0x201)
    public static let hrNVIndex = TPMPT(0x202)
    public static let hrLoaded = TPMPT(0x203)
    public static let hrLoadedAvail = TPMPT(0x204)
    public static let hrActive = TPMPT(0x205)
    public static let hrActiveAvail = TPMPT(0x206)
    public static let hrTransientAvail = TPMPT(0x207)
    public static let hrPersistent = TPMPT(0x208)
    public static let hrPersistentAvail = TPMPT(0x209)
    public static let nvCounters = TPMPT(0x20A)
    public static let nvCountersAvail = TPMPT(0x20B)
    public static let algorithmSet = TPMPT(0x20C)
    public static let loadedCurves = TPMPT(0x20D)
    public static let lockoutCounter = TPMPT(0x20E)
    public static let maxAuthFail = TPMPT(0x20F)
    public static let lockoutInterval = TPMPT(0x210)
    public static let lockoutRecovery = TPMPT(0x211)
    public static let nvWriteRecovery = TPMPT(0x212)
    public static let auditCounter0 = TPMPT(0x213)
    public static let auditCounter1 = TPMPT(0x214)
}

/// TPM_PT_PCR (Part 2, 6.14).
public struct TPMPTPCR: RawRepresentable, Hashable, Comparable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ v: UInt32) { rawValue = v }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public static let save = TPMPTPCR(0x00)
    public static let extendL0 = TPMPTPCR(0x01)
    public static let resetL0 = TPMPTPCR(0x02)
    public static let extendL1 = TPMPTPCR(0x03)
    public static let resetL1 = TPMPTPCR(0x04)
    public static let extendL2 = TPMPTPCR(0x05)
    public static let resetL2 = TPMPTPCR(0x06)
    public static let extendL3 = TPMPTPCR(0x07)
    public static let resetL3 = TPMPTPCR(0x08)
    public static let extendL4 = TPMPTPCR(0x09)
    public static let resetL4 = TPMPTPCR(0x0A)
    public static let noIncrement = TPMPTPCR(0x11)
    public static let drtmReset = TPMPTPCR(0x12)
    public static let policy = TPMPTPCR(0x13)
    public static let auth = TPMPTPCR(0x14)
    public static let last = TPMPTPCR(0x14)
}

/// TPM_HT (Part 2, 7.2): the most significant octet of a handle.
public enum TPMHT: UInt8, Sendable {
    case pcr = 0x00
    case nvIndex = 0x01
    case hmacSession = 0x02
    case policySession = 0x03
    case permanent = 0x40
    case transient = 0x80
    case persistent = 0x81
    case attachedComponent = 0x90
}

/// TPM_HANDLE with the permanent handles (TPM_RH, Part 2, 7.4) and range constants (7.5).
public struct TPMHandle: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ v: UInt32) { rawValue = v }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public var type: UInt8 { UInt8(rawValue >> 24) }
    public var handleType: TPMHT? { TPMHT(rawValue: type) }

    public static let srk = TPMHandle(0x4000_0000)
    public static let owner = TPMHandle(0x4000_0001)
    public static let revoke = TPMHandle(0x4000_0002)
    public static let transport = TPMHandle(0x4000_0003)
    public static let `operator` = TPMHandle(0x4000_0004)
    public static let admin = TPMHandle(0x4000_0005)
    public static let ek = TPMHandle(0x4000_0006)
    public static let null = TPMHandle(0x4000_0007)
    public static let unassigned = TPMHandle(0x4000_0008)
    /// TPM_RS_PW: the password authorization session.
    public static let passwordSession = TPMHandle(0x4000_0009)
    public static let lockout = TPMHandle(0x4000_000A)
    public static let endorsement = TPMHandle(0x4000_000B)
    public static let platform = TPMHandle(0x4000_000C)
    public static let platformNV = TPMHandle(0x4000_000D)
    public static let auth00 = TPMHandle(0x4000_0010)
    public static let authFF = TPMHandle(0x4000_010F)
    public static let act0 = TPMHandle(0x4000_0110)
    public static let actF = TPMHandle(0x4000_011F)

    public static let pcrFirst = TPMHandle(0x0000_0000)
    public static let nvIndexFirst = TPMHandle(0x0100_0000)
    public static let nvIndexLast = TPMHandle(0x01FF_FFFF)
    public static let hmacSessionFirst = TPMHandle(0x0200_0000)
    public static let policySessionFirst = TPMHandle(0x0300_0000)
    public static let transientFirst = TPMHandle(0x8000_0000)
    public static let persistentFirst = TPMHandle(0x8100_0000)
    public static let persistentLast = TPMHandle(0x81FF_FFFF)
    public static let permanentFirst = TPMHandle(0x4000_0000)
    public static let permanentLast = TPMHandle(0x4000_011F)

    public var description: String { "0x" + String(rawValue, radix: 16) }
}

/// TPMA_ALGORITHM (Part 2, 8.2).
public struct TPMAAlgorithm: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let asymmetric = Self(rawValue: 1 << 0)
    public static let symmetric = Self(rawValue: 1 << 1)
    public static let hash = Self(rawValue: 1 << 2)
    public static let object = Self(rawValue: 1 << 3)
    public static let signing = Self(rawValue: 1 << 8)
    public static let encrypting = Self(rawValue: 1 << 9)
    public static let method = Self(rawValue: 1 << 10)
}

/// TPMA_SESSION (Part 2, 8.4).
public struct TPMASession: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let continueSession = Self(rawValue: 1 << 0)
    public static let auditExclusive = Self(rawValue: 1 << 1)
    public static let auditReset = Self(rawValue: 1 << 2)
    public static let decrypt = Self(rawValue: 1 << 5)
    public static let encrypt = Self(rawValue: 1 << 6)
    public static let audit = Self(rawValue: 1 << 7)
}

/// TPMA_LOCALITY (Part 2, 8.5).
public struct TPMALocality: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let zero = Self(rawValue: 1 << 0)
    public static let one = Self(rawValue: 1 << 1)
    public static let two = Self(rawValue: 1 << 2)
    public static let three = Self(rawValue: 1 << 3)
    public static let four = Self(rawValue: 1 << 4)
}

/// TPMA_PERMANENT (Part 2, 8.6).
public struct TPMAPermanent: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let ownerAuthSet = Self(rawValue: 1 << 0)
    public static let endorsementAuthSet = Self(rawValue: 1 << 1)
    public static let lockoutAuthSet = Self(rawValue: 1 << 2)
    public static let disableClear = Self(rawValue: 1 << 8)
    public static let inLockout = Self(rawValue: 1 << 9)
    public static let tpmGeneratedEPS = Self(rawValue: 1 << 10)
}

/// TPMA_STARTUP_CLEAR (Part 2, 8.7).
public struct TPMAStartupClear: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let phEnable = Self(rawValue: 1 << 0)
    public static let shEnable = Self(rawValue: 1 << 1)
    public static let ehEnable = Self(rawValue: 1 << 2)
    public static let phEnableNV = Self(rawValue: 1 << 3)
    public static let orderly = Self(rawValue: 1 << 31)
}

/// TPMA_CC (Part 2, 8.9): commandIndex, nv, extensive, flushed, cHandles, rHandle, V.
public struct TPMACC: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(commandIndex: UInt16, nv: Bool, extensive: Bool, flushed: Bool, cHandles: Int, rHandle: Bool, vendor: Bool = false) {
        var v = UInt32(commandIndex)
        if nv { v |= 1 << 22 }
        if extensive { v |= 1 << 23 }
        if flushed { v |= 1 << 24 }
        v |= UInt32(cHandles & 7) << 25
        if rHandle { v |= 1 << 28 }
        if vendor { v |= 1 << 29 }
        rawValue = v
    }
    public var commandIndex: UInt16 { UInt16(truncatingIfNeeded: rawValue) }
    public var cHandles: Int { Int(rawValue >> 25) & 7 }
}

/// TPMA_MODES (Part 2, 8.12).
public struct TPMAModes: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let fips140_2 = Self(rawValue: 1 << 0)
}

/// TPM_ECC_CURVE (Part 2, 6.4).
public struct TPMECCCurve: RawRepresentable, Hashable, Comparable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ v: UInt16) { rawValue = v }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public static let none = TPMECCCurve(0x0000)
    public static let nistP192 = TPMECCCurve(0x0001)
    public static let nistP224 = TPMECCCurve(0x0002)
    public static let nistP256 = TPMECCCurve(0x0003)
    public static let nistP384 = TPMECCCurve(0x0004)
    public static let nistP521 = TPMECCCurve(0x0005)
    public static let bnP256 = TPMECCCurve(0x0010)
    public static let bnP638 = TPMECCCurve(0x0011)
    public static let sm2P256 = TPMECCCurve(0x0020)
}

/// TPM_GENERATED_VALUE (Part 2, 6.2).
public let tpmGeneratedValue: UInt32 = 0xFF54_4347
