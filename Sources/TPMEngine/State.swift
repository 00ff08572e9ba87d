import TPMCrypto
import TPMWire

/// An authorization value and policy of a permanent entity (a hierarchy or lockout).
struct EntityAuth: Sendable, Equatable {
    var authValue: [UInt8] = []
    /// The policy's hash algorithm (TPM_ALG_NULL when no policy is set) and digest.
    var policyAlg: TPMAlgID = .null
    var policy: [UInt8] = []
}

/// What Shutdown(STATE) saves and Startup(STATE) or a TPM Restart reads back (Part 1, 12.2:
/// the STATE_CLEAR and STATE_RESET data). Stored with the persistent state because a real
/// TPM writes it to NV.
struct SavedState: Sendable, Equatable {
    var pcrBanks: [PCRBank]
    var pcrUpdateCounter: UInt32
    var platform: EntityAuth
    var startupClear: TPMAStartupClear
    var nullSeed: [UInt8]
    var nullProof: [UInt8]
    var contextCounter: UInt64
    var restartCount: UInt32
    var startupLocality: UInt8
    /// The session context counter and the saved sessions (slot index: low bits of the
    /// context ID), which stay loadable after a TPM Restart or Resume (Session.swift).
    var sessionContextCounter: UInt64 = TPM.firstSessionContextID
    var savedSessions: [Int: UInt16] = [:]
    // --- policy/audit (issue 4) ---
    /// The PCR auth group's authValue (PCR_SetAuthValue; STATE_CLEAR data).
    var pcrAuthValue: [UInt8] = []
    // --- end policy/audit ---
    /// The commit counter, nonce and array (Commit.swift; STATE_RESET data).
    var commit = CommitState()

    var allocation: [PCRAllocation] { pcrBanks.map { PCRAllocation(alg: $0.alg, mask: $0.allocated) } }
}

/// Permanent data: survives power loss (the reference's PERSISTENT_DATA plus ORDERLY_DATA).
/// Every change to it is reported to the host as an NV write before the response is sent.
struct PersistentState: Sendable, Equatable {
    /// Primary seeds (Part 1, 14.3): endorsement, storage (owner), platform.
    var eps: [UInt8]
    var sps: [UInt8]
    var pps: [UInt8]
    /// Hierarchy proofs (Part 1, 14.4), used for tickets and context integrity.
    var ehProof: [UInt8]
    var shProof: [UInt8]
    var phProof: [UInt8]
    var owner = EntityAuth()
    var endorsement = EntityAuth()
    var lockout = EntityAuth()
    var disableClear = false
    var tpmGeneratedEPS = true
    /// The allocation in effect from the next TPM Reset (PCR_Allocate writes it): one
    /// entry per implemented hash, in TPM_ALG_ID order.
    var pcrAllocation: [PCRAllocation]
    var resetCount: UInt32 = 0
    var restartCount: UInt32 = 0
    var clearCount: UInt32 = 0
    /// The NV copy of Clock (Part 1, 36.4), updated every `clockUpdateInterval` ms and at
    /// orderly shutdown.
    var clock: UInt64 = 0
    /// How the TPM last shut down: TPM_SU_CLEAR, TPM_SU_STATE, or `orderlyNone`.
    var orderlyState: UInt16 = PersistentState.orderlyNone
    var savedState: SavedState?
    /// Dictionary-attack counters and parameters (DictionaryAttack.swift).
    var da = DictionaryAttackState()
    /// NV Indices by handle, persistent objects by handle, and the largest value a deleted
    /// counter Index had reached (a new counter starts above it). NV.swift.
    var nvIndices: [UInt32: NVIndex] = [:]
    var evictObjects: [UInt32: PersistentObject] = [:]
    var nvMaxCounter: UInt64 = 0
    // --- policy/audit (issue 4) ---
    /// The PCR policy group's policy (PCR_SetAuthPolicy): its hash and digest; the authValue
    /// field is unused (always empty).
    var pcrPolicy = EntityAuth()
    /// Command audit (Audit.swift): the audited commands, the audit hash and counter.
    var audit = CommandAuditState()
    // --- end policy/audit ---

    static let orderlyNone: UInt16 = 0xFFFF
    static let seedSize = 64
    static let proofSize = 64
}

/// A sequence object (Part 1, 32: hash, event and HMAC sequences).
struct SequenceObject: Sendable {
    enum Kind: Sendable {
        case hash(ExportableHasher)
        /// An event sequence hashes into every implemented bank at once.
        case event([ExportableHasher])
        /// An HMAC sequence (TPM2_HMAC_Start): the inner hash, already fed K0 xor ipad, and
        /// K0, the key padded (or first hashed) to the hash's block size (HMACSequence.swift).
        case hmac(inner: ExportableHasher, key: [UInt8])
    }
    var kind: Kind
    var authValue: [UInt8]
    /// Part 3, 17.3: a hash sequence whose first block might be a TPM-generated value
    /// (starts with TPM_GENERATED_VALUE) cannot earn a ticket.
    var firstBlockChecked = false
    var ticketAllowed = true
}

enum TransientObject: Sendable {
    case sequence(SequenceObject)
    /// A key or data object (KeyObject.swift).
    case key(KeyObject)
}

/// Volatile data: lost at power off (the reference's STATE_CLEAR, STATE_RESET data in RAM).
struct VolatileState: Sendable {
    var started = false
    var startupLocality: UInt8 = 0
    var pcrBanks: [PCRBank] = []
    var pcrUpdateCounter: UInt32 = 0
    var platform = EntityAuth()
    var startupClear: TPMAStartupClear = [.phEnable, .shEnable, .ehEnable, .phEnableNV]
    var nullSeed: [UInt8] = []
    var nullProof: [UInt8] = []
    var contextCounter: UInt64 = 0
    /// Host milliseconds at _TPM_Init (Time counts from there) and the clock anchor.
    var powerOnMillis: UInt64 = 0
    var clockAnchorMillis: UInt64 = 0
    var clockAnchorValue: UInt64 = 0
    /// ClockRateAdjust's setting, in units of 1/30000 (CLOCK_NOMINAL), bounded by ±5000.
    var clockAdjust: Int = 0
    var clockSafe = true
    var objects: [UInt32: TransientObject] = [:]
    /// Algorithms whose self test has run (IncrementalSelfTest, SelfTest).
    var testedAlgorithms: Set<TPMAlgID> = []
    var failureMode = false
    var failureCode: UInt32 = 0
    /// Authorization sessions: the context slots and the session context counter
    /// (Session.swift), and the session that is exclusively auditing, if any.
    var sessionSlots: [SessionSlot] = TPM.emptySessionSlots
    var sessionContextCounter: UInt64 = TPM.firstSessionContextID
    var exclusiveAuditSession: TPMHandle?
    /// Time of the last DA failure (or of Startup) for failedTries and for lockoutAuth.
    var daSelfHealTimer: UInt64 = 0
    var daLockoutTimer: UInt64 = 0
    /// During a command only (never serialized): how many persistent objects the command uses.
    /// Each holds a transient slot for its copy while the command runs (libtpms's
    /// ObjectLoadEvict), so objects the command loads take the slots after them.
    var persistentCopies = 0
    /// A platform input, not TPM state: whether physical presence is asserted now (the mssim
    /// platform port's PP on/off). Never asserted unless the host says so; not serialized.
    var physicalPresence = false
    // --- policy/audit (issue 4) ---
    /// The PCR auth group's authValue (PCR_SetAuthValue; STATE_CLEAR data, trailing zeros
    /// removed).
    var pcrAuthValue: [UInt8] = []
    /// The command audit digest (Audit.swift): empty until the first audited command after
    /// TPM Reset or GetCommandAuditDigest.
    var commandAuditDigest: [UInt8] = []
    /// Set by SetCommandCodeAuditStatus when it changed the audit hash, for the audit hook of
    /// the same command (never set between commands; not serialized).
    var auditHashChanged = false
    // --- end policy/audit ---
    /// The commit counter, nonce and array (Commit.swift; STATE_RESET data).
    var commit = CommitState()
}
