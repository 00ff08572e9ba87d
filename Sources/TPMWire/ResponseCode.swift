/// TPM_RC (Part 2, 6.6): a response code, with helpers that build format-one codes carrying
/// the handle, parameter or session number exactly as Part 2, Table 17 lays them out.
public struct TPMRC: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ v: UInt32) { rawValue = v }

    public static let success = TPMRC(0x000)
    public static let badTag = TPMRC(0x01E)

    // Format-zero, version 1 (RC_VER1 = 0x100).
    public static let initialize = TPMRC(0x100)
    public static let failure = TPMRC(0x101)
    public static let sequence = TPMRC(0x103)
    public static let `private` = TPMRC(0x10B)
    public static let hmac = TPMRC(0x119)
    public static let disabled = TPMRC(0x120)
    public static let exclusive = TPMRC(0x121)
    public static let authType = TPMRC(0x124)
    public static let authMissing = TPMRC(0x125)
    public static let policy = TPMRC(0x126)
    public static let pcr = TPMRC(0x127)
    public static let pcrChanged = TPMRC(0x128)
    public static let upgrade = TPMRC(0x12D)
    public static let tooManyContexts = TPMRC(0x12E)
    public static let authUnavailable = TPMRC(0x12F)
    public static let reboot = TPMRC(0x130)
    public static let unbalanced = TPMRC(0x131)
    public static let commandSize = TPMRC(0x142)
    public static let commandCode = TPMRC(0x143)
    public static let authSize = TPMRC(0x144)
    public static let authContext = TPMRC(0x145)
    public static let nvRange = TPMRC(0x146)
    public static let nvSize = TPMRC(0x147)
    public static let nvLocked = TPMRC(0x148)
    public static let nvAuthorization = TPMRC(0x149)
    public static let nvUninitialized = TPMRC(0x14A)
    public static let nvSpace = TPMRC(0x14B)
    public static let nvDefined = TPMRC(0x14C)
    public static let badContext = TPMRC(0x150)
    public static let cpHash = TPMRC(0x151)
    public static let parent = TPMRC(0x152)
    public static let needsTest = TPMRC(0x153)
    public static let noResult = TPMRC(0x154)
    public static let sensitive = TPMRC(0x155)

    // Format-one (RC_FMT1 = 0x080): these take a handle, parameter or session number.
    public static let asymmetric = TPMRC(0x081)
    public static let attributes = TPMRC(0x082)
    public static let hash = TPMRC(0x083)
    public static let value = TPMRC(0x084)
    public static let hierarchy = TPMRC(0x085)
    public static let keySize = TPMRC(0x087)
    public static let mgf = TPMRC(0x088)
    public static let mode = TPMRC(0x089)
    public static let type = TPMRC(0x08A)
    public static let handle = TPMRC(0x08B)
    public static let kdf = TPMRC(0x08C)
    public static let range = TPMRC(0x08D)
    public static let authFail = TPMRC(0x08E)
    public static let nonce = TPMRC(0x08F)
    public static let pp = TPMRC(0x090)
    public static let scheme = TPMRC(0x092)
    public static let size = TPMRC(0x095)
    public static let symmetric = TPMRC(0x096)
    public static let tag = TPMRC(0x097)
    public static let selector = TPMRC(0x098)
    public static let insufficient = TPMRC(0x09A)
    public static let signature = TPMRC(0x09B)
    public static let key = TPMRC(0x09C)
    public static let policyFail = TPMRC(0x09D)
    public static let integrity = TPMRC(0x09F)
    public static let ticket = TPMRC(0x0A0)
    public static let reservedBits = TPMRC(0x0A1)
    public static let badAuth = TPMRC(0x0A2)
    public static let expired = TPMRC(0x0A3)
    public static let policyCC = TPMRC(0x0A4)
    public static let binding = TPMRC(0x0A5)
    public static let curve = TPMRC(0x0A6)
    public static let eccPoint = TPMRC(0x0A7)

    // Warnings (RC_WARN = 0x900).
    public static let contextGap = TPMRC(0x901)
    public static let objectMemory = TPMRC(0x902)
    public static let sessionMemory = TPMRC(0x903)
    public static let memory = TPMRC(0x904)
    public static let sessionHandles = TPMRC(0x905)
    public static let objectHandles = TPMRC(0x906)
    public static let locality = TPMRC(0x907)
    public static let yielded = TPMRC(0x908)
    public static let canceled = TPMRC(0x909)
    public static let testing = TPMRC(0x90A)
    public static let nvRate = TPMRC(0x920)
    public static let lockout = TPMRC(0x921)
    public static let retry = TPMRC(0x922)
    public static let nvUnavailable = TPMRC(0x923)

    /// TPM_RC_REFERENCE_H0 + n: the handle at index n (0-based) is not loaded.
    public static func referenceHandle(_ index: Int) -> TPMRC { TPMRC(0x910 + UInt32(index & 7)) }
    /// TPM_RC_REFERENCE_S0 + n.
    public static func referenceSession(_ index: Int) -> TPMRC { TPMRC(0x918 + UInt32(index & 7)) }

    /// Bit 7 set: a format-one code (Part 2, 6.6.2).
    public var isFormatOne: Bool { rawValue & 0x080 != 0 }
    /// The code with any handle, parameter or session number removed.
    public var base: TPMRC { isFormatOne ? TPMRC(rawValue & 0x0BF) : self }

    /// Adds parameter number `n` (1...15): RC_P + n * RC_1. Format-zero codes pass unchanged.
    public func parameter(_ n: Int) -> TPMRC {
        guard isFormatOne, rawValue & 0xF40 == 0, (1...15).contains(n) else { return self }
        return TPMRC(rawValue | 0x040 | (UInt32(n) << 8))
    }
    /// Adds handle number `n` (1...7): RC_H + n * RC_1.
    public func handle(_ n: Int) -> TPMRC {
        guard isFormatOne, rawValue & 0xF40 == 0, (1...7).contains(n) else { return self }
        return TPMRC(rawValue | (UInt32(n) << 8))
    }
    /// Adds session number `n` (1...7): RC_S + n * RC_1.
    public func session(_ n: Int) -> TPMRC {
        guard isFormatOne, rawValue & 0xF40 == 0, (1...7).contains(n) else { return self }
        return TPMRC(rawValue | 0x800 | (UInt32(n) << 8))
    }

    public var description: String {
        "0x" + String(rawValue, radix: 16, uppercase: true)
    }
}

/// The one error type of the codec and the engine: it carries the exact response code.
public struct TPMError: Error, Hashable, Sendable, CustomStringConvertible {
    public var rc: TPMRC
    public init(_ rc: TPMRC) { self.rc = rc }
    public var description: String { "TPM error \(rc)" }

    public func parameter(_ n: Int) -> TPMError { TPMError(rc.parameter(n)) }
    public func handle(_ n: Int) -> TPMError { TPMError(rc.handle(n)) }
    public func session(_ n: Int) -> TPMError { TPMError(rc.session(n)) }

    public static let size = TPMError(.size)
    public static let value = TPMError(.value)
    public static let insufficient = TPMError(.insufficient)
}

extension TPMRC {
    public var error: TPMError { TPMError(self) }
}
