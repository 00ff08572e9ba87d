import TPMCrypto
import TPMWire

/// One TPM 2.0 instance: a sans-I/O state machine. Its host feeds it commands with
/// `execute(locality:command:)`, supplies entropy and time through `TPMEnvironment`, and
/// stores its state: after any command for which `nvChanged` is true, the host must make
/// `exportPermanentState()` durable before it delivers the response (Part 1, 37: a response
/// never reports an NV change that could still be lost).
///
/// Not Sendable: an instance is confined to one actor, queue or thread at a time.
public final class TPM {
    let env: TPMEnvironment
    var persistent: PersistentState
    var volatile = VolatileState()
    var drbg: HMACDRBG
    /// Set by a command that changed persistent state; cleared by the host.
    public internal(set) var nvChanged = false
    /// Whether _TPM_Init has happened since the instance was created or powered off.
    public internal(set) var poweredOn = false
    /// Set when volatile state (with the DRBG's working state) was loaded: the same blob may
    /// be loaded more than once (a VM snapshot restored twice), so the DRBG takes fresh host
    /// entropy before its next output and the copies do not produce the same numbers.
    var drbgReseedPending = false

    /// Manufactures a new TPM (Part 1, 14: fresh random seeds and proofs).
    public init(environment: TPMEnvironment, pcrBanks: [TPMAlgID] = [.sha1, .sha256]) {
        env = environment
        drbg = HMACDRBG(entropy: environment.entropy(48), personalization: Array("vtpm manufacture".utf8))
        persistent = PersistentState(
            eps: [], sps: [], pps: [], ehProof: [], shProof: [], phProof: [],
            pcrAllocation: PCRAllocation.full(pcrBanks)
        )
        persistent.eps = drbg.generate(PersistentState.seedSize)
        persistent.sps = drbg.generate(PersistentState.seedSize)
        persistent.pps = drbg.generate(PersistentState.seedSize)
        persistent.ehProof = drbg.generate(PersistentState.proofSize)
        persistent.shProof = drbg.generate(PersistentState.proofSize)
        persistent.phProof = drbg.generate(PersistentState.proofSize)
        // A new TPM counts as orderly shut down: its first Startup is a TPM Reset with Safe
        // Clock (libtpms reports the same after manufacture).
        persistent.orderlyState = TPMSU.clear.rawValue
        nvChanged = true
    }

    /// Recreates an instance from its saved permanent state (and, to resume a suspended
    /// instance without a power cycle, its volatile state).
    init(environment: TPMEnvironment, persistent: PersistentState) {
        env = environment
        self.persistent = persistent
        drbg = HMACDRBG(entropy: environment.entropy(48), personalization: Array("vtpm load".utf8))
    }

    // MARK: power

    /// _TPM_Init (Part 1, 12.2.2): the platform powers the TPM on or resets it. All
    /// volatile state is lost; the TPM then needs TPM2_Startup.
    public func powerOn() {
        let now = env.milliseconds()
        let safe = persistent.orderlyState != PersistentState.orderlyNone
        var clock = persistent.clock
        if !safe {
            // Not orderly: the last NV copy of Clock may be older than values already
            // reported, so move past any of them (Part 1, 36.6) and report Safe = NO.
            clock = clock &+ TPM.clockUpdateInterval
            persistent.clock = clock
            nvChanged = true
        }
        volatile = VolatileState()
        volatile.powerOnMillis = now
        volatile.clockAnchorMillis = now
        volatile.clockAnchorValue = clock
        volatile.clockSafe = safe
        drbg.reseed(entropy: env.entropy(32), additional: Array("vtpm power-on".utf8))
        poweredOn = true
    }

    /// Power lost: everything volatile goes; an orderly state not written by Shutdown
    /// stays "not orderly" so the next Startup sees the loss.
    public func powerOff() {
        poweredOn = false
        volatile = VolatileState()
    }

    /// Puts the TPM in failure mode (Part 1, 12.4): only GetTestResult and GetCapability
    /// answer; everything else is TPM_RC_FAILURE.
    func enterFailureMode(_ code: UInt32) {
        volatile.failureMode = true
        volatile.failureCode = code
    }

    public var isInFailureMode: Bool { volatile.failureMode }

    // MARK: clock (Part 1, 36)

    /// NV copy of Clock is refreshed when Clock passes a multiple of this (TPM_PT_CLOCK_UPDATE).
    static let clockUpdateInterval: UInt64 = 1 << 22
    static let clockNominal = 30_000
    static let clockAdjustLimit = 5_000

    /// Clock now, advancing the NV copy when an update interval has passed.
    func currentClock() -> UInt64 {
        let clock = clockValue(atMillis: env.milliseconds())
        if clock / TPM.clockUpdateInterval != persistent.clock / TPM.clockUpdateInterval {
            persistent.clock = clock
            volatile.clockSafe = true
            nvChanged = true
        }
        return clock
    }

    /// Clock at host time `now`, leaving the NV copy alone (state export reads it this way).
    func clockValue(atMillis now: UInt64) -> UInt64 {
        let elapsed = now &- volatile.clockAnchorMillis
        let rate = UInt64(TPM.clockNominal + volatile.clockAdjust)
        return volatile.clockAnchorValue &+ elapsed &* rate / UInt64(TPM.clockNominal)
    }

    /// Sets Clock (ClockSet) and re-anchors it; the NV copy is written at once.
    func setClock(_ value: UInt64) {
        volatile.clockAnchorMillis = env.milliseconds()
        volatile.clockAnchorValue = value
        persistent.clock = value
        volatile.clockSafe = true
        nvChanged = true
    }

    /// Re-anchors Clock before a rate change so time already elapsed keeps the old rate.
    func reanchorClock() {
        let c = currentClock()
        volatile.clockAnchorMillis = env.milliseconds()
        volatile.clockAnchorValue = c
    }

    /// Time: milliseconds since _TPM_Init (Part 1, 36.3).
    func currentTime() -> UInt64 { env.milliseconds() &- volatile.powerOnMillis }

    var clockInfo: TPMSClockInfo {
        TPMSClockInfo(
            clock: currentClock(), resetCount: persistent.resetCount,
            restartCount: persistent.restartCount, safe: volatile.clockSafe)
    }

    var timeInfo: TPMSTimeInfo { TPMSTimeInfo(time: currentTime(), clockInfo: clockInfo) }

    // MARK: randomness

    func random(_ count: Int) -> [UInt8] {
        if drbgReseedPending {
            drbg.reseed(entropy: env.entropy(32), additional: Array("vtpm resume".utf8))
            drbgReseedPending = false
        }
        return drbg.generate(count)
    }

    /// The banks with at least one allocated PCR.
    var activeBanks: [TPMAlgID] { volatile.pcrBanks.filter { $0.allocated != 0 }.map(\.alg) }
}

extension TPM {
    /// CONTEXT_INTEGRITY_HASH_ALG: also bounds hierarchy authValues (Part 3, 24.8). SHA-512
    /// as in libtpms, so authValues up to 64 octets are accepted by both.
    static let contextIntegrityHash: HashAlgorithm = .sha512
}
