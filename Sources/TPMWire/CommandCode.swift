/// TPM_CC (Part 2, 6.5.2): every command code of the TPM 2.0 Library specification rev 1.59.
public struct TPMCC: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ v: UInt32) { rawValue = v }
    public static func < (a: TPMCC, b: TPMCC) -> Bool { a.rawValue < b.rawValue }

    public static let nvUndefineSpaceSpecial = TPMCC(0x11F)
    public static let evictControl = TPMCC(0x120)
    public static let hierarchyControl = TPMCC(0x121)
    public static let nvUndefineSpace = TPMCC(0x122)
    public static let changeEPS = TPMCC(0x124)
    public static let changePPS = TPMCC(0x125)
    public static let clear = TPMCC(0x126)
    public static let clearControl = TPMCC(0x127)
    public static let clockSet = TPMCC(0x128)
    public static let hierarchyChangeAuth = TPMCC(0x129)
    public static let nvDefineSpace = TPMCC(0x12A)
    public static let pcrAllocate = TPMCC(0x12B)
    public static let pcrSetAuthPolicy = TPMCC(0x12C)
    public static let ppCommands = TPMCC(0x12D)
    public static let setPrimaryPolicy = TPMCC(0x12E)
    public static let fieldUpgradeStart = TPMCC(0x12F)
    public static let clockRateAdjust = TPMCC(0x130)
    public static let createPrimary = TPMCC(0x131)
    public static let nvGlobalWriteLock = TPMCC(0x132)
    public static let getCommandAuditDigest = TPMCC(0x133)
    public static let nvIncrement = TPMCC(0x134)
    public static let nvSetBits = TPMCC(0x135)
    public static let nvExtend = TPMCC(0x136)
    public static let nvWrite = TPMCC(0x137)
    public static let nvWriteLock = TPMCC(0x138)
    public static let dictionaryAttackLockReset = TPMCC(0x139)
    public static let dictionaryAttackParameters = TPMCC(0x13A)
    public static let nvChangeAuth = TPMCC(0x13B)
    public static let pcrEvent = TPMCC(0x13C)
    public static let pcrReset = TPMCC(0x13D)
    public static let sequenceComplete = TPMCC(0x13E)
    public static let setAlgorithmSet = TPMCC(0x13F)
    public static let setCommandCodeAuditStatus = TPMCC(0x140)
    public static let fieldUpgradeData = TPMCC(0x141)
    public static let incrementalSelfTest = TPMCC(0x142)
    public static let selfTest = TPMCC(0x143)
    public static let startup = TPMCC(0x144)
    public static let shutdown = TPMCC(0x145)
    public static let stirRandom = TPMCC(0x146)
    public static let activateCredential = TPMCC(0x147)
    public static let certify = TPMCC(0x148)
    public static let policyNV = TPMCC(0x149)
    public static let certifyCreation = TPMCC(0x14A)
    public static let duplicate = TPMCC(0x14B)
    public static let getTime = TPMCC(0x14C)
    public static let getSessionAuditDigest = TPMCC(0x14D)
    public static let nvRead = TPMCC(0x14E)
    public static let nvReadLock = TPMCC(0x14F)
    public static let objectChangeAuth = TPMCC(0x150)
    public static let policySecret = TPMCC(0x151)
    public static let rewrap = TPMCC(0x152)
    public static let create = TPMCC(0x153)
    public static let ecdhZGen = TPMCC(0x154)
    public static let hmac = TPMCC(0x155)
    public static let `import` = TPMCC(0x156)
    public static let load = TPMCC(0x157)
    public static let quote = TPMCC(0x158)
    public static let rsaDecrypt = TPMCC(0x159)
    public static let hmacStart = TPMCC(0x15B)
    public static let sequenceUpdate = TPMCC(0x15C)
    public static let sign = TPMCC(0x15D)
    public static let unseal = TPMCC(0x15E)
    public static let policySigned = TPMCC(0x160)
    public static let contextLoad = TPMCC(0x161)
    public static let contextSave = TPMCC(0x162)
    public static let ecdhKeyGen = TPMCC(0x163)
    public static let encryptDecrypt = TPMCC(0x164)
    public static let flushContext = TPMCC(0x165)
    public static let loadExternal = TPMCC(0x167)
    public static let makeCredential = TPMCC(0x168)
    public static let nvReadPublic = TPMCC(0x169)
    public static let policyAuthorize = TPMCC(0x16A)
    public static let policyAuthValue = TPMCC(0x16B)
    public static let policyCommandCode = TPMCC(0x16C)
    public static let policyCounterTimer = TPMCC(0x16D)
    public static let policyCpHash = TPMCC(0x16E)
    public static let policyLocality = TPMCC(0x16F)
    public static let policyNameHash = TPMCC(0x170)
    public static let policyOR = TPMCC(0x171)
    public static let policyTicket = TPMCC(0x172)
    public static let readPublic = TPMCC(0x173)
    public static let rsaEncrypt = TPMCC(0x174)
    public static let startAuthSession = TPMCC(0x176)
    public static let verifySignature = TPMCC(0x177)
    public static let eccParameters = TPMCC(0x178)
    public static let firmwareRead = TPMCC(0x179)
    public static let getCapability = TPMCC(0x17A)
    public static let getRandom = TPMCC(0x17B)
    public static let getTestResult = TPMCC(0x17C)
    public static let hash = TPMCC(0x17D)
    public static let pcrRead = TPMCC(0x17E)
    public static let policyPCR = TPMCC(0x17F)
    public static let policyRestart = TPMCC(0x180)
    public static let readClock = TPMCC(0x181)
    public static let pcrExtend = TPMCC(0x182)
    public static let pcrSetAuthValue = TPMCC(0x183)
    public static let nvCertify = TPMCC(0x184)
    public static let eventSequenceComplete = TPMCC(0x185)
    public static let hashSequenceStart = TPMCC(0x186)
    public static let policyPhysicalPresence = TPMCC(0x187)
    public static let policyDuplicationSelect = TPMCC(0x188)
    public static let policyGetDigest = TPMCC(0x189)
    public static let testParms = TPMCC(0x18A)
    public static let commit = TPMCC(0x18B)
    public static let policyPassword = TPMCC(0x18C)
    public static let zGen2Phase = TPMCC(0x18D)
    public static let ecEphemeral = TPMCC(0x18E)
    public static let policyNvWritten = TPMCC(0x18F)
    public static let policyTemplate = TPMCC(0x190)
    public static let createLoaded = TPMCC(0x191)
    public static let policyAuthorizeNV = TPMCC(0x192)
    public static let encryptDecrypt2 = TPMCC(0x193)
    public static let acGetCapability = TPMCC(0x194)
    public static let acSend = TPMCC(0x195)
    public static let policyACSendSelect = TPMCC(0x196)
    public static let certifyX509 = TPMCC(0x197)
    public static let actSetTimeout = TPMCC(0x198)
    public static let eccEncrypt = TPMCC(0x199)
    public static let eccDecrypt = TPMCC(0x19A)

    public static let first = TPMCC(0x11F)
    public static let last = TPMCC(0x19A)

    /// The specification's name of every rev 1.59 command ("TPM2_" + name), in code order.
    public static let specificationNames: [(TPMCC, String)] = [
        (.nvUndefineSpaceSpecial, "NV_UndefineSpaceSpecial"),
        (.evictControl, "EvictControl"),
        (.hierarchyControl, "HierarchyControl"),
        (.nvUndefineSpace, "NV_UndefineSpace"),
        (.changeEPS, "ChangeEPS"),
        (.changePPS, "ChangePPS"),
        (.clear, "Clear"),
        (.clearControl, "ClearControl"),
        (.clockSet, "ClockSet"),
        (.hierarchyChangeAuth, "HierarchyChangeAuth"),
        (.nvDefineSpace, "NV_DefineSpace"),
        (.pcrAllocate, "PCR_Allocate"),
        (.pcrSetAuthPolicy, "PCR_SetAuthPolicy"),
        (.ppCommands, "PP_Commands"),
        (.setPrimaryPolicy, "SetPrimaryPolicy"),
        (.fieldUpgradeStart, "FieldUpgradeStart"),
        (.clockRateAdjust, "ClockRateAdjust"),
        (.createPrimary, "CreatePrimary"),
        (.nvGlobalWriteLock, "NV_GlobalWriteLock"),
        (.getCommandAuditDigest, "GetCommandAuditDigest"),
        (.nvIncrement, "NV_Increment"),
        (.nvSetBits, "NV_SetBits"),
        (.nvExtend, "NV_Extend"),
        (.nvWrite, "NV_Write"),
        (.nvWriteLock, "NV_WriteLock"),
        (.dictionaryAttackLockReset, "DictionaryAttackLockReset"),
        (.dictionaryAttackParameters, "DictionaryAttackParameters"),
        (.nvChangeAuth, "NV_ChangeAuth"),
        (.pcrEvent, "PCR_Event"),
        (.pcrReset, "PCR_Reset"),
        (.sequenceComplete, "SequenceComplete"),
        (.setAlgorithmSet, "SetAlgorithmSet"),
        (.setCommandCodeAuditStatus, "SetCommandCodeAuditStatus"),
        (.fieldUpgradeData, "FieldUpgradeData"),
        (.incrementalSelfTest, "IncrementalSelfTest"),
        (.selfTest, "SelfTest"),
        (.startup, "Startup"),
        (.shutdown, "Shutdown"),
        (.stirRandom, "StirRandom"),
        (.activateCredential, "ActivateCredential"),
        (.certify, "Certify"),
        (.policyNV, "PolicyNV"),
        (.certifyCreation, "CertifyCreation"),
        (.duplicate, "Duplicate"),
        (.getTime, "GetTime"),
        (.getSessionAuditDigest, "GetSessionAuditDigest"),
        (.nvRead, "NV_Read"),
        (.nvReadLock, "NV_ReadLock"),
        (.objectChangeAuth, "ObjectChangeAuth"),
        (.policySecret, "PolicySecret"),
        (.rewrap, "Rewrap"),
        (.create, "Create"),
        (.ecdhZGen, "ECDH_ZGen"),
        (.hmac, "HMAC"),
        (.`import`, "Import"),
        (.load, "Load"),
        (.quote, "Quote"),
        (.rsaDecrypt, "RSA_Decrypt"),
        (.hmacStart, "HMAC_Start"),
        (.sequenceUpdate, "SequenceUpdate"),
        (.sign, "Sign"),
        (.unseal, "Unseal"),
        (.policySigned, "PolicySigned"),
        (.contextLoad, "ContextLoad"),
        (.contextSave, "ContextSave"),
        (.ecdhKeyGen, "ECDH_KeyGen"),
        (.encryptDecrypt, "EncryptDecrypt"),
        (.flushContext, "FlushContext"),
        (.loadExternal, "LoadExternal"),
        (.makeCredential, "MakeCredential"),
        (.nvReadPublic, "NV_ReadPublic"),
        (.policyAuthorize, "PolicyAuthorize"),
        (.policyAuthValue, "PolicyAuthValue"),
        (.policyCommandCode, "PolicyCommandCode"),
        (.policyCounterTimer, "PolicyCounterTimer"),
        (.policyCpHash, "PolicyCpHash"),
        (.policyLocality, "PolicyLocality"),
        (.policyNameHash, "PolicyNameHash"),
        (.policyOR, "PolicyOR"),
        (.policyTicket, "PolicyTicket"),
        (.readPublic, "ReadPublic"),
        (.rsaEncrypt, "RSA_Encrypt"),
        (.startAuthSession, "StartAuthSession"),
        (.verifySignature, "VerifySignature"),
        (.eccParameters, "ECC_Parameters"),
        (.firmwareRead, "FirmwareRead"),
        (.getCapability, "GetCapability"),
        (.getRandom, "GetRandom"),
        (.getTestResult, "GetTestResult"),
        (.hash, "Hash"),
        (.pcrRead, "PCR_Read"),
        (.policyPCR, "PolicyPCR"),
        (.policyRestart, "PolicyRestart"),
        (.readClock, "ReadClock"),
        (.pcrExtend, "PCR_Extend"),
        (.pcrSetAuthValue, "PCR_SetAuthValue"),
        (.nvCertify, "NV_Certify"),
        (.eventSequenceComplete, "EventSequenceComplete"),
        (.hashSequenceStart, "HashSequenceStart"),
        (.policyPhysicalPresence, "PolicyPhysicalPresence"),
        (.policyDuplicationSelect, "PolicyDuplicationSelect"),
        (.policyGetDigest, "PolicyGetDigest"),
        (.testParms, "TestParms"),
        (.commit, "Commit"),
        (.policyPassword, "PolicyPassword"),
        (.zGen2Phase, "ZGen_2Phase"),
        (.ecEphemeral, "EC_Ephemeral"),
        (.policyNvWritten, "PolicyNvWritten"),
        (.policyTemplate, "PolicyTemplate"),
        (.createLoaded, "CreateLoaded"),
        (.policyAuthorizeNV, "PolicyAuthorizeNV"),
        (.encryptDecrypt2, "EncryptDecrypt2"),
        (.acGetCapability, "AC_GetCapability"),
        (.acSend, "AC_Send"),
        (.policyACSendSelect, "Policy_AC_SendSelect"),
        (.certifyX509, "CertifyX509"),
        (.actSetTimeout, "ACT_SetTimeout"),
        (.eccEncrypt, "ECC_Encrypt"),
        (.eccDecrypt, "ECC_Decrypt"),
    ]

    public var description: String {
        if let n = TPMCC.specificationNames.first(where: { $0.0 == self }) { return "TPM2_" + n.1 }
        return "TPM_CC(0x" + String(rawValue, radix: 16, uppercase: true) + ")"
    }
}
