import TPMWire

/// The authorization role a handle needs (Part 3, 5.6: @ in the command tables).
enum AuthRole: Sendable {
    case none, user, admin, dup
}

/// The interface type (TPMI_*) a handle in the handle area must satisfy. A value outside
/// the type is TPM_RC_VALUE with the handle's number, as in Part 2's unmarshalling tables.
enum HandleKind: Sendable {
    /// TPMI_RH_HIERARCHY: owner, endorsement, platform, optionally NULL.
    case hierarchy(allowNull: Bool)
    /// TPMI_RH_HIERARCHY_AUTH: owner, endorsement, platform, lockout.
    case hierarchyAuth
    /// TPMI_RH_PROVISION: owner, platform.
    case provision
    /// TPMI_RH_PLATFORM.
    case platform
    /// TPMI_RH_CLEAR: lockout, platform.
    case clear
    /// TPMI_RH_LOCKOUT.
    case lockout
    /// TPMI_RH_ENDORSEMENT (TPM2_GetTime's privacy administrator), optionally NULL.
    case endorsement
    /// TPMI_DH_PCR: a PCR handle, optionally NULL.
    case pcr(allowNull: Bool)
    /// TPMI_DH_OBJECT: transient or persistent, optionally NULL.
    case object(allowNull: Bool)
    /// TPMI_DH_CONTEXT: an HMAC or policy session or a transient object.
    case context
    /// TPMI_DH_PARENT: an object or a hierarchy (owner, endorsement, platform), optionally NULL.
    case parent(allowNull: Bool)
    /// TPMI_SH_POLICY: a policy session handle.
    case policySession
    /// TPMI_SH_HMAC: an HMAC session handle.
    case hmacSession
    /// TPMI_RH_NV_AUTH: owner, platform or an NV Index.
    case nvAuth
    /// TPMI_RH_NV_INDEX: an NV Index.
    case nvIndex
    /// TPMI_DH_ENTITY: a hierarchy or lockout, an object, an NV Index, a PCR, a vendor
    /// authorization handle, optionally NULL (Part 2, 9.6).
    case entity(allowNull: Bool)

    func accepts(_ h: TPMHandle) -> Bool {
        switch self {
        case .hierarchy(let allowNull):
            return h == .owner || h == .endorsement || h == .platform || (allowNull && h == .null)
        case .hierarchyAuth:
            return h == .owner || h == .endorsement || h == .platform || h == .lockout
        case .provision: return h == .owner || h == .platform
        case .platform: return h == .platform
        case .clear: return h == .lockout || h == .platform
        case .lockout: return h == .lockout
        case .endorsement: return h == .endorsement
        case .pcr(let allowNull):
            return h.rawValue < UInt32(TPMLimits.pcrCount) || (allowNull && h == .null)
        // Transient and session handles exist only up to TRANSIENT_LAST and *_SESSION_LAST
        // (Part 2, 7.5); beyond them the value is outside the type (libtpms agrees).
        case .object(let allowNull):
            return h.isInTransientRange || h.handleType == .persistent || (allowNull && h == .null)
        case .context:
            return h.isInTransientRange || h.isInSessionRange
        case .parent(let allowNull):
            return h.isInTransientRange || h.handleType == .persistent || h == .owner || h == .endorsement || h == .platform
                || (allowNull && h == .null)
        case .policySession:
            return h.handleType == .policySession && h.isInSessionRange
        case .hmacSession:
            return h.handleType == .hmacSession && h.isInSessionRange
        case .nvAuth: return h == .owner || h == .platform || h.handleType == .nvIndex
        case .nvIndex: return h.handleType == .nvIndex
        case .entity(let allowNull):
            return [.owner, .endorsement, .platform, .lockout].contains(h) || h.isInTransientRange
                || h.handleType == .persistent || h.handleType == .nvIndex || h.rawValue < UInt32(TPMLimits.pcrCount)
                || (TPMHandle.auth00...TPMHandle.authFF).contains(h) || (allowNull && h == .null)
        }
    }
}

struct HandleSpec: Sendable {
    var kind: HandleKind
    var role: AuthRole
}

/// One row of the command table: everything dispatch and GetCapability(TPM_CAP_COMMANDS)
/// need to know about a command. Never stated twice.
struct CommandDescriptor: Sendable {
    var code: TPMCC
    var handles: [HandleSpec]
    /// The response carries a handle (TPMA_CC.rHandle).
    var responseHandle = false
    /// The command may write NV (TPMA_CC.nv).
    var nv = false
    /// The command may flush many objects (TPMA_CC.extensive).
    var extensive = false
    /// Its handles other than the response handle are flushed on success (TPMA_CC.flushed).
    var flushed = false
    /// The first command / response parameter is a TPM2B that sessions may encrypt.
    var decrypt = false
    var encrypt = false
    /// Allowed in failure mode (Part 1, 12.4 lets GetTestResult and GetCapability answer).
    var inFailureMode = false
    /// Takes no authorization area at all (TPM_RC_AUTH_CONTEXT when one is sent): the
    /// context-management commands and Startup (the reference's NO_SESSIONS).
    var noSessions = false
    var action: @Sendable (TPM, inout CommandContext) throws -> Void

    var attributes: TPMACC {
        TPMACC(
            commandIndex: UInt16(truncatingIfNeeded: code.rawValue), nv: nv, extensive: extensive,
            flushed: flushed, cHandles: handles.count, rHandle: responseHandle)
    }

    var authHandleCount: Int { handles.filter { $0.role != .none }.count }
}

extension TPM {
    /// Every implemented command. A code not in this table is TPM_RC_COMMAND_CODE and is
    /// not listed by GetCapability. Attribute bits agree with libtpms 0.9 (checked by the
    /// differential tests).
    static let commandTable: [CommandDescriptor] = [
        CommandDescriptor(code: .clear, handles: [HandleSpec(kind: .clear, role: .user)], nv: true, extensive: true) {
            try $0.clearCommand(&$1)
        },
        CommandDescriptor(code: .clearControl, handles: [HandleSpec(kind: .clear, role: .user)], nv: true) {
            try $0.clearControlCommand(&$1)
        },
        CommandDescriptor(code: .clockSet, handles: [HandleSpec(kind: .provision, role: .user)], nv: true) { try $0.clockSetCommand(&$1) },
        CommandDescriptor(code: .hierarchyChangeAuth, handles: [HandleSpec(kind: .hierarchyAuth, role: .user)], nv: true, decrypt: true) {
            try $0.hierarchyChangeAuthCommand(&$1)
        },
        // Hierarchy administration (Part 3, 24.2-24.6); TPMA_CC as libtpms reports them.
        CommandDescriptor(
            code: .hierarchyControl, handles: [HandleSpec(kind: .hierarchy(allowNull: false), role: .user)], nv: true, extensive: true
        ) {
            try $0.hierarchyControlCommand(&$1)
        },
        CommandDescriptor(code: .setPrimaryPolicy, handles: [HandleSpec(kind: .hierarchyAuth, role: .user)], nv: true, decrypt: true) {
            try $0.setPrimaryPolicyCommand(&$1)
        },
        CommandDescriptor(code: .changePPS, handles: [HandleSpec(kind: .platform, role: .user)], nv: true, extensive: true) {
            try $0.changePPSCommand(&$1)
        },
        CommandDescriptor(code: .changeEPS, handles: [HandleSpec(kind: .platform, role: .user)], nv: true, extensive: true) {
            try $0.changeEPSCommand(&$1)
        },
        CommandDescriptor(code: .pcrAllocate, handles: [HandleSpec(kind: .platform, role: .user)], nv: true) {
            try $0.pcrAllocateCommand(&$1)
        },
        CommandDescriptor(code: .clockRateAdjust, handles: [HandleSpec(kind: .provision, role: .user)]) {
            try $0.clockRateAdjustCommand(&$1)
        },
        CommandDescriptor(code: .pcrEvent, handles: [HandleSpec(kind: .pcr(allowNull: true), role: .user)], nv: true, decrypt: true) {
            try $0.pcrEventCommand(&$1)
        },
        CommandDescriptor(code: .pcrReset, handles: [HandleSpec(kind: .pcr(allowNull: false), role: .user)], nv: true) {
            try $0.pcrResetCommand(&$1)
        },
        CommandDescriptor(
            code: .sequenceComplete, handles: [HandleSpec(kind: .object(allowNull: false), role: .user)], flushed: true, decrypt: true,
            encrypt: true
        ) {
            try $0.sequenceCompleteCommand(&$1)
        },
        CommandDescriptor(code: .incrementalSelfTest, handles: [], nv: true) { try $0.incrementalSelfTestCommand(&$1) },
        CommandDescriptor(code: .selfTest, handles: [], nv: true) { try $0.selfTestCommand(&$1) },
        CommandDescriptor(code: .startup, handles: [], nv: true, noSessions: true) { try $0.startupCommand(&$1) },
        CommandDescriptor(code: .shutdown, handles: [], nv: true) { try $0.shutdownCommand(&$1) },
        CommandDescriptor(code: .stirRandom, handles: [], nv: true, decrypt: true) { try $0.stirRandomCommand(&$1) },
        CommandDescriptor(code: .sequenceUpdate, handles: [HandleSpec(kind: .object(allowNull: false), role: .user)], decrypt: true) {
            try $0.sequenceUpdateCommand(&$1)
        },
        CommandDescriptor(code: .contextLoad, handles: [], responseHandle: true, noSessions: true) { try $0.contextLoadCommand(&$1) },
        CommandDescriptor(code: .contextSave, handles: [HandleSpec(kind: .context, role: .none)], noSessions: true) {
            try $0.contextSaveCommand(&$1)
        },
        CommandDescriptor(code: .flushContext, handles: [], noSessions: true) { try $0.flushContextCommand(&$1) },
        CommandDescriptor(code: .getCapability, handles: [], inFailureMode: true) { try $0.getCapabilityCommand(&$1) },
        CommandDescriptor(code: .getRandom, handles: [], encrypt: true) { try $0.getRandomCommand(&$1) },
        CommandDescriptor(code: .getTestResult, handles: [], encrypt: true, inFailureMode: true) { try $0.getTestResultCommand(&$1) },
        CommandDescriptor(code: .hash, handles: [], decrypt: true, encrypt: true) { try $0.hashCommand(&$1) },
        CommandDescriptor(code: .pcrRead, handles: []) { try $0.pcrReadCommand(&$1) },
        CommandDescriptor(code: .readClock, handles: []) { try $0.readClockCommand(&$1) },
        CommandDescriptor(code: .pcrExtend, handles: [HandleSpec(kind: .pcr(allowNull: true), role: .user)], nv: true) {
            try $0.pcrExtendCommand(&$1)
        },
        CommandDescriptor(
            code: .eventSequenceComplete,
            handles: [HandleSpec(kind: .pcr(allowNull: true), role: .user), HandleSpec(kind: .object(allowNull: false), role: .user)],
            nv: true, flushed: true, decrypt: true
        ) { try $0.eventSequenceCompleteCommand(&$1) },
        CommandDescriptor(code: .hmacStart, handles: [userObject], responseHandle: true, decrypt: true) {
            try $0.hmacStartCommand(&$1)
        },
        CommandDescriptor(code: .hashSequenceStart, handles: [], responseHandle: true, decrypt: true) {
            try $0.hashSequenceStartCommand(&$1)
        },
        CommandDescriptor(code: .testParms, handles: []) { try $0.testParmsCommand(&$1) },
        // Objects (Part 3, 12 and 24.1); TPMA_CC as libtpms reports them.
        CommandDescriptor(
            code: .createPrimary, handles: [HandleSpec(kind: .hierarchy(allowNull: true), role: .user)], responseHandle: true,
            decrypt: true, encrypt: true
        ) { try $0.createPrimaryCommand(&$1) },
        CommandDescriptor(code: .create, handles: [userObject], decrypt: true, encrypt: true) {
            try $0.createCommand(&$1)
        },
        CommandDescriptor(
            code: .load, handles: [userObject], responseHandle: true, decrypt: true,
            encrypt: true
        ) { try $0.loadCommand(&$1) },
        CommandDescriptor(code: .loadExternal, handles: [], responseHandle: true, decrypt: true, encrypt: true) {
            try $0.loadExternalCommand(&$1)
        },
        CommandDescriptor(code: .readPublic, handles: [anyObject], encrypt: true) {
            try $0.readPublicCommand(&$1)
        },
        CommandDescriptor(code: .unseal, handles: [userObject], encrypt: true) {
            try $0.unsealCommand(&$1)
        },
        CommandDescriptor(
            code: .objectChangeAuth,
            handles: [HandleSpec(kind: .object(allowNull: false), role: .admin), anyObject],
            decrypt: true, encrypt: true
        ) { try $0.objectChangeAuthCommand(&$1) },
        // Credentials (Part 3, 12.5-12.6).
        CommandDescriptor(
            code: .activateCredential,
            handles: [HandleSpec(kind: .object(allowNull: false), role: .admin), userObject], decrypt: true, encrypt: true
        ) { try $0.activateCredentialCommand(&$1) },
        CommandDescriptor(code: .makeCredential, handles: [anyObject], decrypt: true, encrypt: true) {
            try $0.makeCredentialCommand(&$1)
        },
        // Duplication (Part 3, 13).
        CommandDescriptor(
            code: .duplicate,
            handles: [HandleSpec(kind: .object(allowNull: false), role: .dup), HandleSpec(kind: .object(allowNull: true), role: .none)],
            decrypt: true, encrypt: true
        ) { try $0.duplicateCommand(&$1) },
        CommandDescriptor(
            code: .rewrap,
            handles: [HandleSpec(kind: .object(allowNull: true), role: .user), HandleSpec(kind: .object(allowNull: true), role: .none)],
            decrypt: true, encrypt: true
        ) { try $0.rewrapCommand(&$1) },
        CommandDescriptor(code: .import, handles: [userObject], decrypt: true, encrypt: true) { try $0.importCommand(&$1) },
        // Attestation (Part 3, 18).
        CommandDescriptor(
            code: .quote, handles: [HandleSpec(kind: .object(allowNull: true), role: .user)], decrypt: true, encrypt: true
        ) { try $0.quoteCommand(&$1) },
        CommandDescriptor(
            code: .certify,
            handles: [HandleSpec(kind: .object(allowNull: false), role: .admin), HandleSpec(kind: .object(allowNull: true), role: .user)],
            decrypt: true, encrypt: true
        ) { try $0.certifyCommand(&$1) },
        CommandDescriptor(
            code: .certifyCreation,
            handles: [HandleSpec(kind: .object(allowNull: true), role: .user), anyObject],
            decrypt: true, encrypt: true
        ) { try $0.certifyCreationCommand(&$1) },
        CommandDescriptor(
            code: .certifyX509,
            handles: [HandleSpec(kind: .object(allowNull: false), role: .admin), HandleSpec(kind: .object(allowNull: false), role: .user)],
            decrypt: true, encrypt: true
        ) { try $0.certifyX509Command(&$1) },
        CommandDescriptor(
            code: .getTime,
            handles: [HandleSpec(kind: .endorsement, role: .user), HandleSpec(kind: .object(allowNull: true), role: .user)],
            decrypt: true, encrypt: true
        ) { try $0.getTimeCommand(&$1) },
        // Asymmetric and symmetric primitives (Part 3, 14 and 15).
        CommandDescriptor(code: .rsaEncrypt, handles: [anyObject], decrypt: true, encrypt: true) {
            try $0.rsaEncryptCommand(&$1)
        },
        CommandDescriptor(code: .rsaDecrypt, handles: [userObject], decrypt: true, encrypt: true) {
            try $0.rsaDecryptCommand(&$1)
        },
        CommandDescriptor(code: .ecdhKeyGen, handles: [anyObject], encrypt: true) {
            try $0.ecdhKeyGenCommand(&$1)
        },
        CommandDescriptor(code: .ecdhZGen, handles: [userObject], decrypt: true, encrypt: true) {
            try $0.ecdhZGenCommand(&$1)
        },
        CommandDescriptor(code: .eccParameters, handles: []) { try $0.eccParametersCommand(&$1) },
        // Commits: the ephemeral key of a two-phase key exchange and the first phase of ECDAA
        // (Part 3, 14.7, 14.8, 19.2; ECCCommitCommands.swift).
        CommandDescriptor(code: .ecEphemeral, handles: [], encrypt: true) { try $0.ecEphemeralCommand(&$1) },
        CommandDescriptor(code: .zGen2Phase, handles: [userObject], decrypt: true, encrypt: true) {
            try $0.zGen2PhaseCommand(&$1)
        },
        CommandDescriptor(code: .commit, handles: [userObject], decrypt: true, encrypt: true) {
            try $0.commitCommand(&$1)
        },
        CommandDescriptor(code: .eccEncrypt, handles: [anyObject], decrypt: true, encrypt: true) {
            try $0.eccEncryptCommand(&$1)
        },
        CommandDescriptor(code: .eccDecrypt, handles: [userObject], decrypt: true, encrypt: true) {
            try $0.eccDecryptCommand(&$1)
        },
        CommandDescriptor(code: .encryptDecrypt, handles: [userObject], encrypt: true) {
            try $0.encryptDecryptCommand(&$1)
        },
        CommandDescriptor(
            code: .encryptDecrypt2, handles: [userObject], decrypt: true, encrypt: true
        ) { try $0.encryptDecrypt2Command(&$1) },
        CommandDescriptor(code: .hmac, handles: [userObject], decrypt: true, encrypt: true) {
            try $0.hmacCommand(&$1)
        },
        CommandDescriptor(
            code: .createLoaded, handles: [HandleSpec(kind: .parent(allowNull: true), role: .user)], responseHandle: true, decrypt: true,
            encrypt: true
        ) { try $0.createLoadedCommand(&$1) },
        // Signatures (Part 3, 20).
        CommandDescriptor(code: .sign, handles: [userObject], decrypt: true) {
            try $0.signCommand(&$1)
        },
        CommandDescriptor(code: .verifySignature, handles: [anyObject], decrypt: true) {
            try $0.verifySignatureCommand(&$1)
        },

        // Sessions and policy (Part 3, 11 and 23).
        CommandDescriptor(
            code: .startAuthSession,
            handles: [HandleSpec(kind: .object(allowNull: true), role: .none), HandleSpec(kind: .entity(allowNull: true), role: .none)],
            responseHandle: true, decrypt: true, encrypt: true
        ) { try $0.startAuthSessionCommand(&$1) },
        CommandDescriptor(code: .policyRestart, handles: [policySession]) { try $0.policyRestartCommand(&$1) },
        CommandDescriptor(code: .policyPCR, handles: [policySession], decrypt: true) { try $0.policyPCRCommand(&$1) },
        CommandDescriptor(code: .policyLocality, handles: [policySession]) { try $0.policyLocalityCommand(&$1) },
        CommandDescriptor(code: .policyCommandCode, handles: [policySession]) { try $0.policyCommandCodeCommand(&$1) },
        CommandDescriptor(code: .policyAuthValue, handles: [policySession]) { try $0.policyAuthValueCommand(&$1) },
        CommandDescriptor(code: .policyPassword, handles: [policySession]) { try $0.policyPasswordCommand(&$1) },
        CommandDescriptor(code: .policyGetDigest, handles: [policySession], encrypt: true) { try $0.policyGetDigestCommand(&$1) },
        CommandDescriptor(code: .policyOR, handles: [policySession]) { try $0.policyORCommand(&$1) },
        CommandDescriptor(code: .policyCpHash, handles: [policySession], decrypt: true) { try $0.policyCpHashCommand(&$1) },
        CommandDescriptor(code: .policyNameHash, handles: [policySession], decrypt: true) { try $0.policyNameHashCommand(&$1) },
        CommandDescriptor(code: .policyCounterTimer, handles: [policySession], decrypt: true) { try $0.policyCounterTimerCommand(&$1) },
        CommandDescriptor(code: .policyPhysicalPresence, handles: [policySession]) { try $0.policyPhysicalPresenceCommand(&$1) },
        CommandDescriptor(code: .policyDuplicationSelect, handles: [policySession], decrypt: true) {
            try $0.policyDuplicationSelectCommand(&$1)
        },
        CommandDescriptor(code: .policyTemplate, handles: [policySession], decrypt: true) { try $0.policyTemplateCommand(&$1) },
        // Policy commands that bring in an authorization (Part 3, 23.3-23.5, 23.16).
        CommandDescriptor(
            code: .policySecret, handles: [HandleSpec(kind: .entity(allowNull: false), role: .user), policySession], decrypt: true,
            encrypt: true
        ) { try $0.policySecretCommand(&$1) },
        CommandDescriptor(code: .policySigned, handles: [anyObject, policySession], decrypt: true, encrypt: true) {
            try $0.policySignedCommand(&$1)
        },
        CommandDescriptor(code: .policyTicket, handles: [policySession], decrypt: true) { try $0.policyTicketCommand(&$1) },
        CommandDescriptor(code: .policyAuthorize, handles: [policySession], decrypt: true) { try $0.policyAuthorizeCommand(&$1) },
        // PCR authorization (Part 3, 22.6-22.7).
        CommandDescriptor(code: .pcrSetAuthValue, handles: [HandleSpec(kind: .pcr(allowNull: false), role: .user)], decrypt: true) {
            try $0.pcrSetAuthValueCommand(&$1)
        },
        CommandDescriptor(code: .pcrSetAuthPolicy, handles: [HandleSpec(kind: .platform, role: .user)], nv: true, decrypt: true) {
            try $0.pcrSetAuthPolicyCommand(&$1)
        },
        // Command and session audit (Part 3, 21.2, 18.5, 18.6).
        CommandDescriptor(code: .setCommandCodeAuditStatus, handles: [HandleSpec(kind: .provision, role: .user)], nv: true) {
            try $0.setCommandCodeAuditStatusCommand(&$1)
        },
        CommandDescriptor(
            code: .getCommandAuditDigest,
            handles: [HandleSpec(kind: .endorsement, role: .user), HandleSpec(kind: .object(allowNull: true), role: .user)], nv: true,
            decrypt: true, encrypt: true
        ) { try $0.getCommandAuditDigestCommand(&$1) },
        CommandDescriptor(
            code: .getSessionAuditDigest,
            handles: [
                HandleSpec(kind: .endorsement, role: .user), HandleSpec(kind: .object(allowNull: true), role: .user),
                HandleSpec(kind: .hmacSession, role: .none),
            ], decrypt: true, encrypt: true
        ) { try $0.getSessionAuditDigestCommand(&$1) },

        // NV Indices (Part 3, 31) and persistent objects (Part 3, 28.5); TPMA_CC as libtpms.
        CommandDescriptor(code: .nvDefineSpace, handles: [HandleSpec(kind: .provision, role: .user)], nv: true, decrypt: true) {
            try $0.nvDefineSpaceCommand(&$1)
        },
        CommandDescriptor(code: .nvUndefineSpace, handles: [HandleSpec(kind: .provision, role: .user), nvIndexHandle], nv: true) {
            try $0.nvUndefineSpaceCommand(&$1)
        },
        CommandDescriptor(
            code: .nvUndefineSpaceSpecial,
            handles: [HandleSpec(kind: .nvIndex, role: .admin), HandleSpec(kind: .platform, role: .user)], nv: true
        ) { try $0.nvUndefineSpaceSpecialCommand(&$1) },
        CommandDescriptor(code: .nvReadPublic, handles: [nvIndexHandle], encrypt: true) { try $0.nvReadPublicCommand(&$1) },
        CommandDescriptor(code: .nvWrite, handles: [nvAuthHandle, nvIndexHandle], nv: true, decrypt: true) { try $0.nvWriteCommand(&$1) },
        CommandDescriptor(code: .nvIncrement, handles: [nvAuthHandle, nvIndexHandle], nv: true) { try $0.nvIncrementCommand(&$1) },
        CommandDescriptor(code: .nvExtend, handles: [nvAuthHandle, nvIndexHandle], nv: true, decrypt: true) { try $0.nvExtendCommand(&$1) },
        CommandDescriptor(code: .nvSetBits, handles: [nvAuthHandle, nvIndexHandle], nv: true) { try $0.nvSetBitsCommand(&$1) },
        CommandDescriptor(code: .nvWriteLock, handles: [nvAuthHandle, nvIndexHandle], nv: true) { try $0.nvWriteLockCommand(&$1) },
        CommandDescriptor(code: .nvGlobalWriteLock, handles: [HandleSpec(kind: .provision, role: .user)], nv: true) {
            try $0.nvGlobalWriteLockCommand(&$1)
        },
        CommandDescriptor(code: .nvRead, handles: [nvAuthHandle, nvIndexHandle], encrypt: true) { try $0.nvReadCommand(&$1) },
        CommandDescriptor(code: .nvReadLock, handles: [nvAuthHandle, nvIndexHandle], nv: true) { try $0.nvReadLockCommand(&$1) },
        CommandDescriptor(code: .nvChangeAuth, handles: [HandleSpec(kind: .nvIndex, role: .admin)], nv: true, decrypt: true) {
            try $0.nvChangeAuthCommand(&$1)
        },
        CommandDescriptor(
            code: .nvCertify, handles: [HandleSpec(kind: .object(allowNull: true), role: .user), nvAuthHandle, nvIndexHandle],
            decrypt: true, encrypt: true
        ) { try $0.nvCertifyCommand(&$1) },
        // Policies that read an NV Index (Part 3, 23.9, 23.22, 23.23).
        CommandDescriptor(code: .policyNV, handles: [nvAuthHandle, nvIndexHandle, policySession], decrypt: true) {
            try $0.policyNVCommand(&$1)
        },
        CommandDescriptor(code: .policyNvWritten, handles: [policySession]) { try $0.policyNvWrittenCommand(&$1) },
        CommandDescriptor(code: .policyAuthorizeNV, handles: [nvAuthHandle, nvIndexHandle, policySession]) {
            try $0.policyAuthorizeNVCommand(&$1)
        },
        CommandDescriptor(code: .evictControl, handles: [HandleSpec(kind: .provision, role: .user), anyObject], nv: true) {
            try $0.evictControlCommand(&$1)
        },

        // Dictionary-attack protection (Part 3, 25).
        CommandDescriptor(code: .dictionaryAttackLockReset, handles: [HandleSpec(kind: .lockout, role: .user)], nv: true) {
            try $0.dictionaryAttackLockResetCommand(&$1)
        },
        CommandDescriptor(code: .dictionaryAttackParameters, handles: [HandleSpec(kind: .lockout, role: .user)], nv: true) {
            try $0.dictionaryAttackParametersCommand(&$1)
        },
    ].sorted { $0.code < $1.code }

    /// The policy session handle every policy command takes first (no authorization).
    private static let policySession = HandleSpec(kind: .policySession, role: .none)
    /// A loaded object (TPMI_DH_OBJECT) used with USER authorization, and without any.
    private static let userObject = HandleSpec(kind: .object(allowNull: false), role: .user)
    private static let anyObject = HandleSpec(kind: .object(allowNull: false), role: .none)

    /// The NV commands' authorization handle (TPMI_RH_NV_AUTH, USER) and Index handle.
    private static let nvAuthHandle = HandleSpec(kind: .nvAuth, role: .user)
    private static let nvIndexHandle = HandleSpec(kind: .nvIndex, role: .none)

    static let commandIndex: [TPMCC: CommandDescriptor] = Dictionary(
        uniqueKeysWithValues: commandTable.map { ($0.code, $0) })
}
