import TPMCrypto
import TPMWire

/// Errors loading a saved state.
public enum StateError: Error, Sendable, Equatable {
    /// The blob is not a well-formed state of a supported version: bad magic, wrong part,
    /// bad length, integrity digest mismatch, a field out of its bounds, trailing bytes, or
    /// a volatile part that was not exported together with the given permanent part.
    case malformed(String)
    /// A format version this build cannot read (newer than it, or never defined).
    case unsupportedVersion(UInt32)
    /// Never thrown by the engine (its blobs carry a digest, not a MAC: it holds no secret
    /// outside its own state); reserved for the host layer that encrypts and authenticates
    /// blobs with a host key (docs/state-format.md, "Integrity and authentication").
    case authenticationFailed
}

/// The framing shared by both parts (docs/state-format.md): magic, version, part, body
/// length, body, SHA-256 over everything before it.
enum StateBlob {
    /// "vTPM".
    static let magic: UInt32 = 0x7654_504D
    /// The version this build writes. Every version ever written must keep loading.
    static let currentVersion: UInt32 = 5  // commit state (issue 3): version 5
    /// Every version this build reads. A new version is added here and to the `switch`es
    /// in the initializer; none is ever removed (docs/state-format.md, "Version history").
    static let supportedVersions: Set<UInt32> = [1, 2, 3, 4, 5]
    static let headerSize = 16
    static let digestSize = 32

    enum Part: UInt32 {
        case permanent = 1
        case volatile = 2
    }

    static func seal(_ part: Part, body: [UInt8]) -> [UInt8] {
        var w = TPMWriter(capacity: headerSize + body.count + digestSize)
        w.u32(magic)
        w.u32(currentVersion)
        w.u32(part.rawValue)
        w.u32(UInt32(clamping: body.count))
        w.bytes(body)
        w.bytes(HashAlgorithm.sha256.digest(w.bytes))
        return w.bytes
    }

    /// Checks the framing and the digest; returns the version and the body.
    static func open(_ blob: [UInt8], as part: Part) throws -> (version: UInt32, body: [UInt8]) {
        var r = StateReader(Array(blob.prefix(headerSize)))
        guard try r.u32("magic") == magic else { throw StateError.malformed("not a vtpm state blob") }
        let version = try r.u32("version")
        guard supportedVersions.contains(version) else { throw StateError.unsupportedVersion(version) }
        let rawPart = try r.u32("part")
        guard rawPart == part.rawValue else { throw StateError.malformed("part \(rawPart), expected \(part.rawValue)") }
        let length = Int(try r.u32("length"))
        guard blob.count - headerSize - digestSize == length else {
            throw StateError.malformed("length \(length) does not match the blob (\(blob.count) octets)")
        }
        let end = headerSize + length
        guard constantTimeEqual(HashAlgorithm.sha256.digest(Array(blob[0..<end])), Array(blob[end...])) else {
            throw StateError.malformed("integrity digest mismatch")
        }
        return (version, Array(blob[headerSize..<end]))
    }

    /// The digest a blob ends with (what a volatile part records of its permanent part).
    static func digest(of blob: [UInt8]) -> [UInt8] { Array(blob.suffix(digestSize)) }
}

extension TPM {
    /// The permanent (NV) part of the instance's state: PersistentState, including what
    /// Shutdown(STATE) saved. The host must make it durable whenever `nvChanged` is set.
    public func exportPermanentState() -> [UInt8] {
        var w = TPMWriter(capacity: 8192)
        persistent.encodeState(to: &w)
        return StateBlob.seal(.permanent, body: w.bytes)
    }

    /// The volatile part: everything lost at power off, bound to the permanent part as it is
    /// now (load both together). A powered-off instance exports a short blob saying so.
    /// Reading Clock here does not advance its NV copy, so exporting changes nothing.
    public func exportVolatileState() -> [UInt8] {
        var w = TPMWriter(capacity: 8192)
        w.bytes(StateBlob.digest(of: exportPermanentState()))
        w.bool(poweredOn)
        if poweredOn { encodeVolatile(to: &w) }
        return StateBlob.seal(.volatile, body: w.bytes)
    }

    /// Recreates an instance from exported state. With only `permanentState` it is powered
    /// off (the host calls `powerOn()`, then the guest sends TPM2_Startup); with
    /// `volatileState` too it continues where it stopped: same PCRs, objects, started state,
    /// Clock and Time continuing from their exported values on this environment's clock.
    /// Any input either loads or throws `StateError`.
    public convenience init(environment: TPMEnvironment, permanentState: [UInt8], volatileState: [UInt8]? = nil) throws {
        let (version, body) = try StateBlob.open(permanentState, as: .permanent)
        var r = StateReader(body)
        let persistent: PersistentState
        switch version {
        case 1, 2, 3, 4, 5: persistent = try PersistentState(state: &r, version: version)
        default: throw StateError.unsupportedVersion(version)
        }
        guard r.isAtEnd else { throw StateError.malformed("trailing bytes in the permanent part") }
        self.init(environment: environment, persistent: persistent)
        guard let volatileState else { return }

        let (vversion, vbody) = try StateBlob.open(volatileState, as: .volatile)
        var v = StateReader(vbody)
        guard try v.fixed(StateBlob.digestSize, "permanentDigest") == StateBlob.digest(of: permanentState) else {
            throw StateError.malformed("the volatile part belongs to another permanent part")
        }
        guard try v.bool("poweredOn") else {
            guard v.isAtEnd else { throw StateError.malformed("trailing bytes in the volatile part") }
            return
        }
        let restored: (state: VolatileState, drbg: HMACDRBG)
        switch vversion {
        case 1, 2, 3, 4, 5: restored = try TPM.decodeVolatile(&v, now: environment.milliseconds(), version: vversion)
        default: throw StateError.unsupportedVersion(vversion)
        }
        guard v.isAtEnd else { throw StateError.malformed("trailing bytes in the volatile part") }
        volatile = restored.state
        drbg = restored.drbg
        drbgReseedPending = true
        poweredOn = true
    }

    /// The host has made the permanent state durable.
    public func acknowledgeNVWrite() { nvChanged = false }
}

// MARK: - volatile part

extension TPM {
    /// Bound on the tested-algorithm list: the TPM_ALG_ID registry has fewer entries.
    static let maxTestedAlgorithms = 64
    static let drbgStateSize = 72

    private func encodeVolatile(to w: inout TPMWriter) {
        let s = volatile
        let now = env.milliseconds()
        w.bool(s.started)
        w.u8(s.startupLocality)
        PCRBankListCodec.encode(s.pcrBanks, to: &w)
        w.u32(s.pcrUpdateCounter)
        s.platform.encodeState(to: &w)
        w.u32(s.startupClear.rawValue)
        w.sized(s.nullSeed)
        w.sized(s.nullProof)
        w.u64(s.contextCounter)
        // Time and Clock as values, so a restored instance continues them on its own host
        // clock (Part 1, 36: neither advances while the TPM is not running).
        w.u64(now &- s.powerOnMillis)
        w.u64(clockValue(atMillis: now))
        w.u32(UInt32(bitPattern: Int32(clamping: s.clockAdjust)))
        w.bool(s.clockSafe)
        let tested = s.testedAlgorithms.sorted().prefix(TPM.maxTestedAlgorithms)
        w.u8(UInt8(tested.count))
        for a in tested { w.u16(a.rawValue) }
        w.bool(s.failureMode)
        w.u32(s.failureCode)
        let handles = s.objects.keys.sorted().prefix(TPMLimits.maxLoadedObjects)
        w.u8(UInt8(handles.count))
        for h in handles {
            w.u32(h)
            // THE object encoding (Objects.swift), shared with saved contexts: a new object
            // kind is one more case there and nothing here.
            s.objects[h]?.encode(to: &w)
        }
        // Version 2: sessions and the dictionary-attack timers (Time values, like Time).
        w.u64(s.sessionContextCounter)
        SessionSlotCodec.encodeSlots(s.sessionSlots, to: &w)
        w.u32(s.exclusiveAuditSession?.rawValue ?? TPMHandle.unassigned.rawValue)
        w.u64(s.daSelfHealTimer)
        w.u64(s.daLockoutTimer)
        // --- policy/audit (issue 4), version 4 ---
        w.sized(s.pcrAuthValue)
        w.sized(s.commandAuditDigest)
        // --- end policy/audit ---
        // Version 5: the commit state.
        s.commit.encodeState(to: &w)
        w.bytes(drbg.exportedState)
    }

    private static func decodeVolatile(
        _ r: inout StateReader, now: UInt64, version: UInt32
    ) throws -> (state: VolatileState, drbg: HMACDRBG) {
        var s = VolatileState()
        s.started = try r.bool("started")
        s.startupLocality = try r.u8("startupLocality")
        s.pcrBanks = try PCRBankListCodec.decode(&r, counts: [0, TPMLimits.hashCount], "pcrBanks")
        s.pcrUpdateCounter = try r.u32("pcrUpdateCounter")
        s.platform = try EntityAuth(state: &r, "platform")
        s.startupClear = try StartupClearCodec.decode(&r, "startupClear")
        s.nullSeed = try r.sized(oneOf: [0, PersistentState.seedSize], "nullSeed")
        s.nullProof = try r.sized(oneOf: [0, PersistentState.proofSize], "nullProof")
        s.contextCounter = try r.u64("contextCounter")
        let time = try r.u64("time")
        let clock = try r.u64("clock")
        s.powerOnMillis = now &- time
        s.clockAnchorMillis = now
        s.clockAnchorValue = clock
        let adjust = Int(Int32(bitPattern: try r.u32("clockAdjust")))
        guard abs(adjust) <= TPM.clockAdjustLimit else { throw StateError.malformed("clockAdjust: \(adjust)") }
        s.clockAdjust = adjust
        s.clockSafe = try r.bool("clockSafe")
        let nTested = try r.count(max: TPM.maxTestedAlgorithms, "testedAlgorithms.count")
        var last: UInt16?
        for i in 0..<nTested {
            let a = try r.u16("testedAlgorithms[\(i)]")
            guard last.map({ $0 < a }) ?? true else { throw StateError.malformed("testedAlgorithms: out of order") }
            last = a
            s.testedAlgorithms.insert(TPMAlgID(a))
        }
        s.failureMode = try r.bool("failureMode")
        s.failureCode = try r.u32("failureCode")
        let nObjects = try r.count(max: TPMLimits.maxLoadedObjects, "objects.count")
        var lastHandle: UInt32?
        for i in 0..<nObjects {
            let h = try r.u32("objects[\(i)].handle")
            guard TPMHandle(h).handleType == .transient else { throw StateError.malformed("objects[\(i)].handle: not transient") }
            guard lastHandle.map({ $0 < h }) ?? true else { throw StateError.malformed("objects: out of order") }
            lastHandle = h
            s.objects[h] = try r.decode("objects[\(i)]") { try TransientObject(from: &$0) }
        }
        // Version 1 predates sessions: none is active, the counter is where a TPM Reset puts it.
        if version >= 2 {
            s.sessionContextCounter = try SessionSlotCodec.decodeCounter(&r, "sessionContextCounter")
            s.sessionSlots = try SessionSlotCodec.decodeSlots(&r, "sessions")
            let audit = TPMHandle(try r.u32("exclusiveAuditSession"))
            if audit != .unassigned {
                guard audit.handleType == .hmacSession, audit.isInSessionRange, !s.sessionSlots[TPM.sessionIndex(audit)].isFree else {
                    throw StateError.malformed("exclusiveAuditSession: \(audit)")
                }
                s.exclusiveAuditSession = audit
            }
            s.daSelfHealTimer = try r.u64("daSelfHealTimer")
            s.daLockoutTimer = try r.u64("daLockoutTimer")
        }
        // --- policy/audit (issue 4), version 4 ---
        if version >= 4 {
            s.pcrAuthValue = try PCRAuthCodec.authValue(&r, "pcrAuthValue")
            s.commandAuditDigest = try r.sized(oneOf: [0] + TPMLimits.hashAlgorithms.compactMap(TPMLimits.digestSize), "commandAuditDigest")
        }
        // --- end policy/audit ---
        // Versions 1 to 4 predate the commit state: counter 0, no commit, no nonce yet.
        if version >= 5 { s.commit = try CommitState(state: &r, "commit") }
        guard let drbg = HMACDRBG(exportedState: try r.fixed(drbgStateSize, "drbg")) else {
            throw StateError.malformed("drbg")
        }
        return (s, drbg)
    }
}
