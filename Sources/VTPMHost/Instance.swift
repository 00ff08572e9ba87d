import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import TPMEngine
import TPMWire

/// Why an instance could not be started or its state changed.
public enum InstanceError: Error, CustomStringConvertible {
    case store(StateStoreError)
    /// The stored state exists but does not load (corrupt, or a format this build lacks).
    case load(any Error)
    /// The operation needs a running TPM (or a stopped one) and the instance is not in that state.
    case wrongPowerState

    public var description: String {
        switch self {
        case .store(let e): return e.description
        case .load(let e): return "cannot load the TPM state: \(e)"
        case .wrongPowerState: return "not possible in the TPM's current power state"
        }
    }
}

/// One virtual TPM: an engine `TPM` plus its `StateStore`, with every access serialized on
/// one queue (the engine is not thread-safe, and commands of one TPM must run one at a time
/// in arrival order). Servers, control channels and management code all go through
/// `submit` or `sync`, so many connections and protocols can share one instance.
public final class Instance: @unchecked Sendable {
    // @unchecked: `core` is only touched on `queue`.
    private let queue: DispatchQueue
    private let core: InstanceCore

    public init(store: StateStore, environment: TPMEnvironment = .system, log: HostLog = .standardError()) {
        queue = DispatchQueue(label: "vtpm.instance." + store.directory)
        core = InstanceCore(store: store, environment: environment, log: log)
    }

    /// Runs `body` on the instance's queue and waits for it. Not from an event loop thread.
    public func sync<T>(_ body: (InstanceCore) throws -> T) rethrows -> T {
        try queue.sync { try body(core) }
    }

    /// Work queued with `queue.async` and not finished: while there is any, a command from the
    /// event loop does not run inline (its `queue.sync` would wait for that work and hold the
    /// loop).
    private let pendingAsync = NIOLockedValueBox(0)

    /// Commands that may take tens to hundreds of milliseconds (RSA key generation): they run
    /// on the instance's queue off the event loop, so one instance's key generation never
    /// delays the other instances that share its loop.
    public static func isSlow(_ command: [UInt8]) -> Bool {
        guard command.count >= 10 else { return false }
        let cc = UInt32(command[6]) << 24 | UInt32(command[7]) << 16 | UInt32(command[8]) << 8 | UInt32(command[9])
        return cc == TPMCC.createPrimary.rawValue || cc == TPMCC.create.rawValue || cc == TPMCC.createLoaded.rawValue
            || cc == TPMCC.changeEPS.rawValue || cc == TPMCC.changePPS.rawValue
    }

    /// Runs `body` on the instance's queue; the future completes on `eventLoop`. Calls
    /// submitted in some order run, and complete, in that order.
    public func submit<T: Sendable>(
        on eventLoop: any EventLoop, slow: Bool = false, _ body: @escaping @Sendable (InstanceCore) -> T
    ) -> EventLoopFuture<T> {
        if eventLoop.inEventLoop && !slow && pendingAsync.withLockedValue({ $0 == 0 }) {
            // On the event loop itself: run on this thread under the queue (a serial
            // queue's `sync` executes on the caller's thread when idle), so a command costs
            // no thread hop and no event-loop wake-up each way. Order is kept: the queue is
            // serial, and this loop submits its calls one after another. The loop is held
            // for the command's duration, which the host's one-loop servers accept.
            return eventLoop.makeSucceededFuture(queue.sync { body(core) })
        }
        let promise = eventLoop.makePromise(of: T.self)
        pendingAsync.withLockedValue { $0 += 1 }
        queue.async {
            let result = body(self.core)
            self.pendingAsync.withLockedValue { $0 -= 1 }
            promise.succeed(result)
        }
        return promise.futureResult
    }

    /// Runs `body` on the instance's queue later (housekeeping such as idle eviction).
    public func enqueue(_ body: @escaping @Sendable (InstanceCore) -> Void) {
        // Counted like `submit`'s work: a command from an event loop then waits its turn
        // off the loop instead of blocking the loop behind it.
        pendingAsync.withLockedValue { $0 += 1 }
        queue.async {
            body(self.core)
            self.pendingAsync.withLockedValue { $0 -= 1 }
        }
    }

    /// The async form of `submit`.
    public func perform<T: Sendable>(_ body: @escaping @Sendable (InstanceCore) -> T) async -> T {
        await withCheckedContinuation { c in queue.async { c.resume(returning: body(self.core)) } }
    }
}

/// The state of an `Instance` that lives on its queue: the TPM, its power state as the
/// platform sees it, and the rules that keep its state durable.
public final class InstanceCore {
    public let store: StateStore
    let environment: TPMEnvironment
    let log: HostLog
    /// nil until the first _TPM_Init, and after a failed state write (the next _TPM_Init
    /// reloads the last durable state).
    private var tpm: TPM?
    /// The platform has performed _TPM_Init and not removed power since (swtpm: "running";
    /// mssim: power on). A TPM that is not running answers every command with
    /// TPM_RC_FAILURE, as swtpm does for a TPM that was not INIT-ed.
    public private(set) var isRunning = false
    /// The state on disk was replaced (SET_STATEBLOB): the next _TPM_Init loads it.
    private var reloadFromStore = false
    /// A volatile blob may be on disk. It is bound to the permanent state it was saved
    /// with, so the first later NV write makes it unloadable: it is removed then.
    private var volatileMayBeStored = true
    /// The key that encrypts and authenticates GET_STATEBLOB's blobs and must open
    /// SET_STATEBLOB's (swtpm `--migration-key`; the daemon's migration.key). nil: plain blobs.
    public var migrationCipher: StateCipher?
    /// Locality for commands that arrive without one (swtpm data channel; SET_LOCALITY).
    public var locality: UInt8 = 0
    /// Physical presence as the platform asserts it (mssim PHYS_PRES_ON/OFF). A platform
    /// input, not TPM state: it outlasts power cycles and is handed to each new TPM.
    public private(set) var physicalPresence = false
    /// TPM_ACCESS.tpmEstablishment (PC Client PTP): set only by an H-CRTM/DRTM event
    /// sequence (_TPM_Hash_Start), which this host does not offer, so it stays clear.
    public private(set) var tpmEstablished = false
    /// Commands executed and those answered with an error code (`vtpm show`).
    public private(set) var commandCount: UInt64 = 0
    public private(set) var errorCount: UInt64 = 0
    /// `suspend()` saved the volatile state and released the engine; `powerOn(resumeVolatile:
    /// true)` brings it back.
    public private(set) var isSuspended = false

    init(store: StateStore, environment: TPMEnvironment, log: HostLog) {
        self.store = store
        self.environment = environment
        self.log = log
    }

    // MARK: commands

    /// Executes one TPM command. Any NV change it made is durable before this returns, so the
    /// response never reports a change that a crash could undo (Part 1, 37.2; TPM.swift).
    public func execute(locality: UInt8, command: [UInt8]) -> [UInt8] {
        touch()
        // swtpm: a TPM command takes the storage lock that `--migration incoming` deferred.
        guard isRunning, ensureStorageLocked() else { return TPM.errorResponse(.failure) }
        do { try reloadIfEvicted() } catch {
            log.error("cannot reload the evicted TPM, stopping the TPM: \(error)")
            isRunning = false
            return TPM.errorResponse(.failure)
        }
        guard let tpm else { return TPM.errorResponse(.failure) }
        if log.enabled(.debug) { log.debug("command (locality \(locality)): \(command.hex)") }
        let metrics = HostMetrics.shared.enabled
        let started = metrics ? DispatchTime.now().uptimeNanoseconds : 0
        let response = tpm.execute(locality: locality, command: command)
        if metrics {
            HostMetrics.shared.record(
                command: command, response: response, nanoseconds: DispatchTime.now().uptimeNanoseconds - started)
        }
        commandCount &+= 1
        if response.count >= 10 && response[6..<10].contains(where: { $0 != 0 }) { errorCount &+= 1 }
        do {
            try persistIfNeeded()
        } catch {
            // The change is in memory only: drop it and stop, like a TPM whose NV write
            // failed (it enters failure mode). The next _TPM_Init reloads the durable state.
            log.error("cannot save the TPM state, stopping the TPM: \(error)")
            self.tpm = nil
            isRunning = false
            return TPM.errorResponse(.failure)
        }
        if log.enabled(.debug) { log.debug("response: \(response.hex)") }
        return response
    }

    /// Executes a command at the instance's current locality.
    public func execute(_ command: [UInt8]) -> [UInt8] { execute(locality: locality, command: command) }

    /// Sends TPM2_Startup itself, as swtpm does for `--flags startup-clear|startup-state`,
    /// and returns the response code.
    @discardableResult
    public func startup(_ type: TPMSU) -> UInt32 {
        var w = TPMWriter(capacity: 12)
        w.u16(TPMST.noSessions.rawValue)
        w.u32(12)
        w.u32(TPMCC.startup.rawValue)
        w.u16(type.rawValue)
        let r = execute(w.bytes)
        guard r.count >= 10 else { return TPMRC.failure.rawValue }
        return r[6..<10].reduce(0) { $0 << 8 | UInt32($1) }
    }

    // MARK: power

    /// _TPM_Init (Part 1, 12.2.2): power on, or a reset when already on. With
    /// `resumeVolatile`, a stored volatile state (STORE_VOLATILE, SET_STATEBLOB) is loaded
    /// and the TPM continues where it was suspended; otherwise any stored volatile state is
    /// discarded and the TPM needs TPM2_Startup.
    public func powerOn(resumeVolatile: Bool) throws(InstanceError) {
        if isRunning { powerOff() }
        // An evicted engine's state is never resumed by a power cycle (it was RAM).
        isEvicted = false
        touch()
        // Without the storage lock (`--migration incoming`, the source still holds it) the
        // state is read and nothing on disk is changed, as swtpm's INIT does then.
        let locked = store.isLocked
        do {
            // An evicted engine's state left by a crash or a stop is volatile state lost to a
            // power loss.
            if locked { try store.delete(.evicted) }
            var volatile: [UInt8]?
            if resumeVolatile {
                volatile = try store.read(.volatile)
                if volatile?.isEmpty == true { volatile = nil }
            } else if locked {
                try store.delete(.volatile)
            }
            if tpm == nil || reloadFromStore || volatile != nil {
                tpm = try load(volatile: volatile)
                reloadFromStore = false
            }
            guard let tpm else { throw InstanceError.wrongPowerState }
            if !tpm.poweredOn { tpm.powerOn() }
            tpm.setPhysicalPresence(physicalPresence)
            try persistIfNeeded()
            // A suspended state resumes once: kept, it could later roll the TPM back to it.
            if volatile != nil && locked { try store.delete(.volatile) }
        } catch let e as StateStoreError {
            tpm = nil
            throw .store(e)
        } catch let e as InstanceError {
            tpm = nil
            throw e
        } catch {
            tpm = nil
            throw .load(error)
        }
        isRunning = true
        isSuspended = false
        log.info("TPM powered on", event: "power-on")
    }

    /// Power removed (swtpm STOP, mssim POWER_OFF): volatile state is lost. The permanent
    /// state is already durable (every change was written before its response).
    public func powerOff() {
        tpm?.powerOff()
        if isEvicted {
            // The evicted engine's volatile state is what a power loss loses.
            isEvicted = false
            do { try store.delete(.evicted) } catch { log.error("cannot remove the evicted state: \(error)") }
        }
        if isRunning { log.info("TPM powered off", event: "power-off") }
        isRunning = false
    }

    /// The permanent state from disk (manufacturing a TPM when there is none) plus the given
    /// volatile state.
    private func load(volatile: [UInt8]?, environment: TPMEnvironment? = nil) throws -> TPM {
        let environment = environment ?? self.environment
        if let permanent = try store.read(.permanent), !permanent.isEmpty {
            return try TPM(environment: environment, permanentState: permanent, volatileState: volatile)
        }
        // No state yet: a new TPM (Part 1, 14: fresh seeds). A volatile state without its
        // permanent state belongs to no TPM and is ignored.
        log.info("no TPM state in \(store.directory): manufacturing a new TPM")
        return TPM(environment: environment)
    }

    /// Host-side provisioning (no guest is attached, nothing is acknowledged to anyone until
    /// it ends) may batch its NV writes: while set, commands do not write the state; `flush()`
    /// writes it once at the end. Never set while a client is served.
    public var batchingProvisioning = false

    /// Writes the permanent state when the last operation changed it.
    private func persistIfNeeded() throws {
        // Without the storage lock nothing is written (an incoming migration's INIT); the
        // first command takes the lock and writes then.
        guard let tpm, tpm.nvChanged, !batchingProvisioning, store.isLocked else { return }
        try store.write(.permanent, tpm.exportPermanentState())
        tpm.acknowledgeNVWrite()
        if volatileMayBeStored {
            try store.delete(.volatile)
            volatileMayBeStored = false
        }
    }

    /// Makes sure nothing is left unsaved (graceful exit). The volatile state is not kept:
    /// an exit is a power loss, as in swtpm.
    public func flush() throws(InstanceError) {
        batchingProvisioning = false
        do { try persistIfNeeded() } catch let e as StateStoreError { throw .store(e) } catch { throw .load(error) }
    }

    // MARK: suspend, resume, migration

    /// Saves the volatile state (swtpm STORE_VOLATILE) so the next _TPM_Init with
    /// `resumeVolatile` continues from here.
    public func storeVolatile() throws(InstanceError) {
        guard isRunning else { throw .wrongPowerState }
        guard ensureStorageLocked() else { throw .store(.locked(store.directory)) }
        do {
            try reloadIfEvicted()
            guard let tpm else { throw InstanceError.wrongPowerState }
            // The pair on disk must match: the volatile part names the permanent part's digest.
            try store.write(.permanent, tpm.exportPermanentState())
            tpm.acknowledgeNVWrite()
            try store.write(.volatile, tpm.exportVolatileState())
            volatileMayBeStored = true
        } catch let e as StateStoreError { throw .store(e) } catch { throw .load(error) }
    }

    /// Suspends the instance: the volatile state is saved (as STORE_VOLATILE) and the engine
    /// released from memory; the next `powerOn(resumeVolatile: true)` continues from there.
    /// A stopped instance has no volatile state: it is only released.
    public func suspend() throws(InstanceError) {
        if isRunning { try storeVolatile() }
        powerOff()
        tpm = nil
        isSuspended = true
        log.info("TPM suspended", event: "suspend")
    }

    /// The current permanent or volatile state, for migration (swtpm GET_STATEBLOB). Taking
    /// the volatile state consumes any stored copy, as in swtpm.
    public func exportState(_ blob: StateStore.Blob) throws(InstanceError) -> [UInt8] {
        guard isRunning else { throw .wrongPowerState }
        do { try reloadIfEvicted() } catch { throw .load(error) }
        guard let tpm else { throw .wrongPowerState }
        switch blob {
        case .permanent:
            return tpm.exportPermanentState()
        case .volatile, .evicted:
            if store.isLocked {
                do { try store.delete(.volatile) } catch let e as StateStoreError { throw .store(e) } catch { throw .load(error) }
            }
            return tpm.exportVolatileState()
        }
    }

    /// Replaces a stored state while the TPM is stopped (swtpm SET_STATEBLOB); the next
    /// _TPM_Init loads it. An empty blob removes that part. A permanent state is checked
    /// by loading it first, so a bad blob never replaces a good one.
    public func importState(_ blob: StateStore.Blob, _ bytes: [UInt8]) throws(InstanceError) {
        guard !isRunning else { throw .wrongPowerState }
        guard ensureStorageLocked() else { throw .store(.locked(store.directory)) }
        do {
            if bytes.isEmpty {
                try store.delete(blob)
            } else {
                if blob == .permanent { _ = try TPM(environment: environment, permanentState: bytes) }
                try store.write(blob, bytes)
                if blob == .volatile { volatileMayBeStored = true }
            }
        } catch let e as StateStoreError { throw .store(e) } catch { throw .load(error) }
        reloadFromStore = true
    }

    // MARK: storage lock (swtpm --migration, CMD_LOCK_STORAGE)

    /// swtpm `--migration release-lock-outgoing`: the state directory's lock is released once
    /// QEMU has fetched the last state blob (savestate, after permanent and volatile), so the
    /// migration destination on shared storage can take it.
    public var releaseLockOutgoing = false
    /// Retries for the next implicit lock (swtpm: 300 x 10 ms after a release, 0 at start,
    /// the count CMD_LOCK_STORAGE gave after one).
    var lockingRetries: UInt32 = 0
    /// swtpm's default retries after a release: 3 seconds.
    static let defaultLockingRetries: UInt32 = 300

    /// Takes the state directory's lock if this instance does not hold it (deferred by
    /// `--migration incoming`, or released after an outgoing migration). False when another
    /// process still holds it after the retries.
    public func ensureStorageLocked() -> Bool {
        guard !store.isLocked else { return true }
        do {
            try store.lock(retries: lockingRetries)
        } catch {
            log.error("cannot lock the TPM state: \(error)")
            return false
        }
        lockingRetries = 0
        log.info("TPM state locked", event: "lock")
        return true
    }

    /// CMD_LOCK_STORAGE: lock with `retries` attempts 10 ms apart (QEMU asks after a failed
    /// migration, when the source resumes the VM and must own its state again).
    public func lockStorage(retries: UInt32) -> Bool {
        lockingRetries = retries
        return ensureStorageLocked()
    }

    /// The outgoing side of a migration has sent its last blob: give up the lock
    /// (`release-lock-outgoing`). A later command or LOCK_STORAGE takes it again.
    func releaseStorageAfterOutgoingMigration() {
        guard releaseLockOutgoing, store.isLocked else { return }
        store.release()
        lockingRetries = Self.defaultLockingRetries
        log.info("TPM state unlocked for the migration destination", event: "unlock")
    }

    // MARK: idle eviction

    /// When the instance last ran a command or control request (monotonic nanoseconds).
    public private(set) var lastActivity = DispatchTime.now().uptimeNanoseconds
    /// The running TPM's engine was written out for idleness (`evictIfIdle`): it is still
    /// running as the platform and its clients see it, and comes back at its next use.
    public private(set) var isEvicted = false
    /// The environment's milliseconds when the engine was evicted.
    private var evictedAtMillis: UInt64 = 0
    /// Evictions so far (`vtpm show`, metrics).
    public private(set) var evictionCount: UInt64 = 0

    /// Notes activity: an instance in use is not evicted.
    public func touch() { lastActivity = DispatchTime.now().uptimeNanoseconds }

    /// When the instance has been idle for `idleNanoseconds`: its whole volatile state is
    /// written, exactly as STORE_VOLATILE writes it (PCRs, loaded objects and sessions,
    /// sequences, clock), and the engine is dropped from memory. Nothing a client can observe
    /// changes: the next command loads it back. Returns whether it evicted.
    @discardableResult
    public func evictIfIdle(idleNanoseconds: UInt64, now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Bool {
        guard isRunning, !isEvicted, let tpm, store.isLocked, !batchingProvisioning,
            now >= lastActivity, now - lastActivity >= idleNanoseconds
        else { return false }
        do {
            // The pair on disk must match: the volatile part names the permanent part's digest.
            try store.write(.permanent, tpm.exportPermanentState())
            tpm.acknowledgeNVWrite()
            try store.write(.evicted, tpm.exportVolatileState())
            evictedAtMillis = environment.milliseconds()
        } catch {
            log.error("cannot evict the idle TPM: \(error)")
            return false
        }
        self.tpm = nil
        isEvicted = true
        evictionCount &+= 1
        HostMetrics.shared.recordEviction()
        log.info("idle TPM evicted from memory", event: "evict")
        return true
    }

    /// Loads an evicted engine back from its written state (nothing to do when resident).
    func reloadIfEvicted() throws {
        guard isEvicted else { return }
        guard let volatile = try store.read(.evicted), !volatile.isEmpty else {
            throw InstanceError.load(ManagementError("the evicted TPM state is missing from \(store.directory)"))
        }
        // The TPM kept running while evicted: its Time and Clock must include the gap. A
        // loaded volatile state continues Time and Clock from their saved values at the
        // environment's "now", so the load sees the instant of the eviction, and the engine
        // reads the real clock from then on.
        let pinned = NIOLockedValueBox<UInt64?>(evictedAtMillis)
        let base = environment
        let resumed = TPMEnvironment(
            entropy: base.entropy, milliseconds: { pinned.withLockedValue { $0 } ?? base.milliseconds() })
        let tpm = try load(volatile: volatile, environment: resumed)
        pinned.withLockedValue { $0 = nil }
        if !tpm.poweredOn { tpm.powerOn() }
        tpm.setPhysicalPresence(physicalPresence)
        self.tpm = tpm
        isEvicted = false
        try store.delete(.evicted)
        HostMetrics.shared.recordReload()
        log.info("evicted TPM reloaded", event: "reload")
    }

    /// The platform asserts or releases physical presence (PolicyPhysicalPresence checks it).
    public func setPhysicalPresence(_ asserted: Bool) {
        physicalPresence = asserted
        tpm?.setPhysicalPresence(asserted)
    }

    /// swtpm RESET_TPMESTABLISHED: allowed from locality 3 or 4 only (PC Client PTP,
    /// TPM_ACCESS.tpmEstablishment is cleared by a locality-3/4 write).
    public func resetEstablished(locality: UInt8) -> Bool {
        guard locality == 3 || locality == 4 else { return false }
        tpmEstablished = false
        return true
    }
}
