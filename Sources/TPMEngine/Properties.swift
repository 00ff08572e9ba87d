import TPMWire

/// What this TPM says about itself in TPM_CAP_TPM_PROPERTIES (Part 2, 6.13).
enum TPMIdentity {
    /// TPM_PT_MANUFACTURER: "VTPM". Vendor IDs are four ASCII characters registered with the
    /// TCG (TCG Vendor ID Registry); "VTPM" is not assigned to any vendor there, so it names
    /// this implementation without claiming another manufacturer's identity.
    static let manufacturer: UInt32 = 0x5654_504D
    /// TPM_PT_VENDOR_STRING_1...4: "vtpm", the rest unused (zero).
    static let vendorStrings: [UInt32] = [0x7674_706D, 0, 0, 0]
    /// TPM_PT_VENDOR_TPM_TYPE: a software (virtual) TPM of this implementation.
    static let tpmType: UInt32 = 1
    /// TPM_PT_FIRMWARE_VERSION_1/2: major.minor in the first word (1.0), the second unused.
    static let firmwareVersion1: UInt32 = 0x0001_0000
    static let firmwareVersion2: UInt32 = 0

    /// The library specification: family "2.0", level 0, revision 1.59 of November 8, 2019
    /// (day 312).
    static let family: UInt32 = 0x322E_3000
    static let level: UInt32 = 0
    static let revision: UInt32 = 159
    static let dayOfYear: UInt32 = 312
    static let year: UInt32 = 2019

    /// The platform-specific specification: TCG PC Client Platform TPM Profile for TPM 2.0,
    /// version 1.05 revision 14 of September 4, 2020 (day 248). TPM_PS_PC = 1.
    static let platformFamily: UInt32 = 1
    static let platformLevel: UInt32 = 0
    static let platformRevision: UInt32 = 105
    static let platformDayOfYear: UInt32 = 248
    static let platformYear: UInt32 = 2020

    /// The properties TPM2_GetCapability reports in failure mode (Part 3, 30.2: the minimum
    /// set a TPM in failure mode must report; we report exactly that set).
    static let failureModeProperties: ClosedRange<UInt32> = TPMPT.manufacturer.rawValue...TPMPT.firmwareVersion2.rawValue
}

extension TPM {
    /// The value of a TPM property, nil for a property this TPM does not define (Part 2,
    /// 6.13). Fixed values come from TPMLimits, the command and algorithm tables and
    /// `TPMIdentity`; variable values from the current state.
    func propertyValue(_ pt: TPMPT) -> UInt32? {
        switch pt {
        // PT_FIXED
        case .familyIndicator: return TPMIdentity.family
        case .level: return TPMIdentity.level
        case .revision: return TPMIdentity.revision
        case .dayOfYear: return TPMIdentity.dayOfYear
        case .year: return TPMIdentity.year
        case .manufacturer: return TPMIdentity.manufacturer
        case .vendorString1: return TPMIdentity.vendorStrings[0]
        case .vendorString2: return TPMIdentity.vendorStrings[1]
        case .vendorString3: return TPMIdentity.vendorStrings[2]
        case .vendorString4: return TPMIdentity.vendorStrings[3]
        case .vendorTPMType: return TPMIdentity.tpmType
        case .firmwareVersion1: return TPMIdentity.firmwareVersion1
        case .firmwareVersion2: return TPMIdentity.firmwareVersion2
        case .inputBuffer: return UInt32(TPMLimits.maxDigestBuffer)
        case .hrTransientMin: return UInt32(TPMLimits.maxLoadedObjects)
        case .hrPersistentMin: return UInt32(TPMLimits.minEvictObjects)
        case .hrLoadedMin: return UInt32(TPMLimits.maxLoadedSessions)
        case .activeSessionsMax: return UInt32(TPMLimits.maxActiveSessions)
        case .pcrCount: return UInt32(TPMLimits.pcrCount)
        case .pcrSelectMin: return UInt32(TPMLimits.pcrSelectMin)
        case .contextGapMax: return UInt32(TPMLimits.contextGapMax)
        // 0: no limit on counters other than NV space.
        case .nvCountersMax: return 0
        case .nvIndexMax: return UInt32(TPMLimits.maxNVIndexSize)
        // TPMA_MEMORY: sharedNV (persistent objects and NV Indices share one NV budget) and
        // objectCopiedToRam (a persistent object used by a command is copied into a transient
        // slot); sharedRAM is clear (sessions and objects have separate slots).
        case .memory: return 0x0000_0006
        case .clockUpdate: return UInt32(truncatingIfNeeded: TPM.clockUpdateInterval)
        case .contextHash: return UInt32(TPM.contextIntegrityHash.rawValue)
        case .contextSym: return UInt32(ContextProtection.symmetricAlgorithm.rawValue)
        case .contextSymSize: return UInt32(ContextProtection.symmetricKeyBits)
        // TPMS_CONTEXT: sequence(8) + savedHandle(4) + hierarchy(4) + TPM2B_CONTEXT_DATA(2 + max).
        case .maxObjectContext, .maxSessionContext: return UInt32(18 + TPMLimits.maxContextDataSize)
        case .orderlyCount: return UInt32(TPMLimits.maxOrderlyCount)
        case .maxCommandSize: return UInt32(TPMLimits.maxCommandSize)
        case .maxResponseSize: return UInt32(TPMLimits.maxResponseSize)
        case .maxDigest: return UInt32(TPMLimits.maxDigestSize)
        case .psFamilyIndicator: return TPMIdentity.platformFamily
        case .psLevel: return TPMIdentity.platformLevel
        case .psRevision: return TPMIdentity.platformRevision
        case .psDayOfYear: return TPMIdentity.platformDayOfYear
        case .psYear: return TPMIdentity.platformYear
        // Outstanding commits for the split-signing scheme ECDAA (Commit.swift).
        case .splitMax: return UInt32(CommitState.arrayBits)
        case .totalCommands: return UInt32(TPM.commandTable.count)
        case .libraryCommands: return UInt32(TPM.commandTable.filter { $0.code.rawValue & TPM.vendorCommandBit == 0 }.count)
        case .vendorCommands: return UInt32(TPM.commandTable.filter { $0.code.rawValue & TPM.vendorCommandBit != 0 }.count)
        case .nvBufferMax: return UInt32(TPMLimits.maxNVBuffer)
        case .modes: return 0
        case .maxCapBuffer: return UInt32(TPMLimits.maxCapBuffer)

        // PT_VAR
        case .permanent: return permanentAttributes.rawValue
        case .startupClear: return volatile.startupClear.rawValue
        // NV Indices and persistent objects (NV.swift): counts, and what the NV budget still
        // holds, keeping the reserves for MIN_EVICT_OBJECTS and MIN_COUNTER_INDICES.
        case .hrNVIndex: return UInt32(persistent.nvIndices.count)
        // Sessions (Session.swift): loaded ones, and active ones (loaded or saved).
        case .hrLoaded: return UInt32(loadedSessionCount)
        case .hrLoadedAvail: return UInt32(TPMLimits.maxLoadedSessions - loadedSessionCount)
        case .hrActive: return UInt32(activeSessionCount)
        case .hrActiveAvail: return UInt32(TPMLimits.maxActiveSessions - activeSessionCount)
        case .hrTransientAvail: return UInt32(max(0, TPMLimits.maxLoadedObjects - volatile.objects.count))
        case .hrPersistent: return UInt32(persistent.evictObjects.count)
        case .hrPersistentAvail: return UInt32(persistentAvailable)
        case .nvCounters: return UInt32(nvCounterCount)
        case .nvCountersAvail: return UInt32(counterIndicesAvailable)
        // TPM2_SetAlgorithmSet is not implemented: the algorithm set is the default, 0.
        case .algorithmSet: return 0
        case .loadedCurves: return UInt32(TPM.eccCurves.count)
        // Dictionary-attack protection (DictionaryAttack.swift).
        case .lockoutCounter: return persistent.da.failedTries
        case .maxAuthFail: return persistent.da.maxTries
        case .lockoutInterval: return persistent.da.recoveryTime
        case .lockoutRecovery: return persistent.da.lockoutRecovery
        // NV writes are not rate-limited.
        case .nvWriteRecovery: return 0
        // The command audit counter (Audit.swift): high and low 32 bits.
        case .auditCounter0: return UInt32(truncatingIfNeeded: persistent.audit.counter >> 32)
        case .auditCounter1: return UInt32(truncatingIfNeeded: persistent.audit.counter)
        default: return nil
        }
    }

    /// TPMA_PERMANENT (Part 2, 8.6) from the persistent state; inLockout when failedTries has
    /// reached maxTries.
    var permanentAttributes: TPMAPermanent {
        var a: TPMAPermanent = []
        if !persistent.owner.authValue.isEmpty { a.insert(.ownerAuthSet) }
        if !persistent.endorsement.authValue.isEmpty { a.insert(.endorsementAuthSet) }
        if !persistent.lockout.authValue.isEmpty { a.insert(.lockoutAuthSet) }
        if persistent.disableClear { a.insert(.disableClear) }
        if inLockout { a.insert(.inLockout) }
        if persistent.tpmGeneratedEPS { a.insert(.tpmGeneratedEPS) }
        return a
    }

    /// TPMA_CC's V bit as a command-code bit (Part 2, 6.5.1): a vendor-specific command.
    static let vendorCommandBit: UInt32 = 1 << 29
}

/// The identity the engine reports (TPM_PT_MANUFACTURER, TPM_PT_FIRMWARE_VERSION_1), for hosts
/// that describe their TPMs elsewhere (swtpm's GET_INFO, EK certificates).
public enum TPMIdentityInfo {
    public static let manufacturer = TPMIdentity.manufacturer
    public static let firmwareVersion1 = TPMIdentity.firmwareVersion1
}
