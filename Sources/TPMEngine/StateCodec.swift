import TPMCrypto
import TPMWire

// The body encodings of the state format (docs/state-format.md). The encoders write the
// current version (3); the decoders read every version ever written, each field added by a
// later version only when the blob has it. Every field is written in a fixed order,
// big-endian, with no padding; byte strings carry a u16 length and lists a u8 count.
// Decoding checks each field against the bound the engine relies on, so a blob that decodes
// can never make the engine trap, and every count is bounded by TPMLimits before anything
// is read.

/// A reader over a state body whose failures are `StateError.malformed` naming the field.
struct StateReader {
    private var r: TPMReader

    init(_ bytes: [UInt8]) { r = TPMReader(bytes) }

    var isAtEnd: Bool { r.isAtEnd }

    private static func truncated(_ field: String) -> StateError { .malformed("truncated in \(field)") }

    mutating func u8(_ field: String) throws -> UInt8 {
        do { return try r.u8() } catch { throw StateReader.truncated(field) }
    }

    mutating func u16(_ field: String) throws -> UInt16 {
        do { return try r.u16() } catch { throw StateReader.truncated(field) }
    }

    mutating func u32(_ field: String) throws -> UInt32 {
        do { return try r.u32() } catch { throw StateReader.truncated(field) }
    }

    mutating func u64(_ field: String) throws -> UInt64 {
        do { return try r.u64() } catch { throw StateReader.truncated(field) }
    }

    /// Exactly `count` raw bytes.
    mutating func fixed(_ count: Int, _ field: String) throws -> [UInt8] {
        do { return try r.bytes(count) } catch { throw StateReader.truncated(field) }
    }

    /// A u16 length then that many bytes; the length is checked against `max` first.
    mutating func sized(max: Int, _ field: String) throws -> [UInt8] {
        let n = Int(try u16(field))
        guard n <= max else { throw StateError.malformed("\(field): \(n) octets, at most \(max) allowed") }
        return try fixed(n, field)
    }

    /// A byte string whose length must be one of `lengths`.
    mutating func sized(oneOf lengths: [Int], _ field: String) throws -> [UInt8] {
        let v = try sized(max: lengths.max() ?? 0, field)
        guard lengths.contains(v.count) else { throw StateError.malformed("\(field): \(v.count) octets") }
        return v
    }

    /// A boolean: exactly 0 or 1, so every value has one encoding.
    mutating func bool(_ field: String) throws -> Bool {
        switch try u8(field) {
        case 0: return false
        case 1: return true
        case let v: throw StateError.malformed("\(field): \(v) is not a boolean")
        }
    }

    /// A u8 list count, at most `max`.
    mutating func count(max: Int, _ field: String) throws -> Int {
        let n = Int(try u8(field))
        guard n <= max else { throw StateError.malformed("\(field): \(n) entries, at most \(max) allowed") }
        return n
    }

    /// A structure read by its own TPMReader-based decoder (a transient object, say); any
    /// failure there is a malformed field.
    mutating func decode<T>(_ field: String, _ body: (inout TPMReader) throws -> T) throws -> T {
        do { return try body(&r) } catch { throw StateError.malformed("\(field): \(error)") }
    }

    /// An implemented hash algorithm (one of TPMLimits.hashAlgorithms).
    mutating func hashAlg(_ field: String) throws -> TPMAlgID {
        let alg = TPMAlgID(try u16(field))
        guard TPMLimits.hashAlgorithms.contains(alg), HashAlgorithm(rawValue: alg.rawValue) != nil else {
            throw StateError.malformed("\(field): \(alg) is not an implemented hash")
        }
        return alg
    }
}

/// Writing helpers matching `StateReader`.
extension TPMWriter {
    mutating func bool(_ v: Bool) { u8(v ? 1 : 0) }
}

// MARK: - shared pieces

extension EntityAuth {
    /// authValue (sized, <= 64), policy hash alg (u16, TPM_ALG_NULL or a hash), policy
    /// (sized, exactly that hash's digest size; empty with TPM_ALG_NULL).
    func encodeState(to w: inout TPMWriter) {
        w.sized(authValue)
        w.u16(policyAlg.rawValue)
        w.sized(policy)
    }

    init(state r: inout StateReader, _ field: String) throws {
        self.init()
        authValue = try r.sized(max: TPMLimits.maxDigestSize, "\(field).authValue")
        let alg = TPMAlgID(try r.u16("\(field).policyAlg"))
        let size: Int
        if alg == .null {
            size = 0
        } else if TPMLimits.hashAlgorithms.contains(alg), let n = TPMLimits.digestSize(alg) {
            size = n
        } else {
            throw StateError.malformed("\(field).policyAlg: \(alg)")
        }
        policyAlg = alg
        policy = try r.sized(oneOf: [size], "\(field).policy")
    }
}

/// PCR bank lists: count (u8), then per bank: hash alg (u16), allocated-PCR mask (u32),
/// and the values of all TPMLimits.pcrCount PCRs, each exactly the hash's digest size,
/// with no length prefix. Banks are in strictly increasing TPM_ALG_ID order.
enum PCRBankListCodec {
    static func encode(_ banks: [PCRBank], to w: inout TPMWriter) {
        w.u8(UInt8(clamping: banks.count))
        for b in banks.prefix(Int(UInt8.max)) {
            w.u16(b.alg.rawValue)
            w.u32(b.allocated)
            for v in b.values { w.bytes(v) }
        }
    }

    /// `counts` lists the bank counts the engine can hold at this point (0 before Startup,
    /// one per implemented hash after).
    static func decode(_ r: inout StateReader, counts: [Int], _ field: String) throws -> [PCRBank] {
        let n = try r.count(max: TPMLimits.hashCount, "\(field).count")
        guard counts.contains(n) else { throw StateError.malformed("\(field): \(n) banks") }
        var banks: [PCRBank] = []
        for i in 0..<n {
            let alg = try r.hashAlg("\(field)[\(i)].alg")
            guard banks.last.map({ $0.alg < alg }) ?? true else { throw StateError.malformed("\(field): banks out of order") }
            let mask = try r.u32("\(field)[\(i)].allocated")
            guard mask & ~PCRAllocation.allPCRs == 0 else { throw StateError.malformed("\(field)[\(i)].allocated") }
            let size = TPMLimits.digestSize(alg) ?? 0
            var values: [[UInt8]] = []
            for p in 0..<TPMLimits.pcrCount { values.append(try r.fixed(size, "\(field)[\(i)].pcr\(p)")) }
            banks.append(PCRBank(alg: alg, allocated: mask, values: values))
        }
        return banks
    }
}

/// TPMA_STARTUP_CLEAR as the engine keeps it: only the bits it defines.
enum StartupClearCodec {
    static let defined: TPMAStartupClear = [.phEnable, .shEnable, .ehEnable, .phEnableNV, .orderly]

    static func decode(_ r: inout StateReader, _ field: String) throws -> TPMAStartupClear {
        let v = TPMAStartupClear(rawValue: try r.u32(field))
        guard defined.isSuperset(of: v) else { throw StateError.malformed("\(field): undefined bits") }
        return v
    }
}

// MARK: - permanent part

extension SavedState {
    func encodeState(to w: inout TPMWriter) {
        PCRBankListCodec.encode(pcrBanks, to: &w)
        w.u32(pcrUpdateCounter)
        platform.encodeState(to: &w)
        w.u32(startupClear.rawValue)
        w.sized(nullSeed)
        w.sized(nullProof)
        w.u64(contextCounter)
        w.u32(restartCount)
        w.u8(startupLocality)
        // Version 2: the sessions that stay loadable after TPM Restart and Resume.
        w.u64(sessionContextCounter)
        SessionSlotCodec.encodeSaved(savedSessions, to: &w)
        // Version 4 adds pcrAuthValue at the end of the permanent part (PersistentState).
    }

    init(state r: inout StateReader, version: UInt32) throws {
        let banks = try PCRBankListCodec.decode(&r, counts: [0, TPMLimits.hashCount], "saved.pcrBanks")
        self.init(
            pcrBanks: banks,
            pcrUpdateCounter: try r.u32("saved.pcrUpdateCounter"),
            platform: try EntityAuth(state: &r, "saved.platform"),
            startupClear: try StartupClearCodec.decode(&r, "saved.startupClear"),
            nullSeed: try r.sized(oneOf: [0, PersistentState.seedSize], "saved.nullSeed"),
            nullProof: try r.sized(oneOf: [0, PersistentState.proofSize], "saved.nullProof"),
            contextCounter: try r.u64("saved.contextCounter"),
            restartCount: try r.u32("saved.restartCount"),
            startupLocality: try r.u8("saved.startupLocality"))
        if version >= 2 {
            sessionContextCounter = try SessionSlotCodec.decodeCounter(&r, "saved.sessionContextCounter")
            savedSessions = try SessionSlotCodec.decodeSaved(&r, "saved.savedSessions")
        }
    }
}

extension PersistentState {
    func encodeState(to w: inout TPMWriter) {
        for v in [eps, sps, pps, ehProof, shProof, phProof] { w.sized(v) }
        owner.encodeState(to: &w)
        endorsement.encodeState(to: &w)
        lockout.encodeState(to: &w)
        w.bool(disableClear)
        w.bool(tpmGeneratedEPS)
        w.u8(UInt8(clamping: pcrAllocation.count))
        for a in pcrAllocation.prefix(Int(UInt8.max)) {
            w.u16(a.alg.rawValue)
            w.u32(a.mask)
        }
        w.u32(resetCount)
        w.u32(restartCount)
        w.u32(clearCount)
        w.u64(clock)
        w.u16(orderlyState)
        w.bool(savedState != nil)
        savedState?.encodeState(to: &w)
        // Version 2: dictionary-attack protection.
        da.encodeState(to: &w)
        // Version 3: NV Indices and persistent objects.
        NVStateCodec.encode(self, to: &w)
        // --- policy/audit (issue 4), version 4 ---
        pcrPolicy.encodeState(to: &w)
        audit.encodeState(to: &w)
        if let savedState { w.sized(savedState.pcrAuthValue) }
        // --- end policy/audit ---
        // Version 5: the commit state saved by Shutdown(STATE).
        savedState?.commit.encodeState(to: &w)
    }

    init(state r: inout StateReader, version: UInt32) throws {
        let seeds = try ["eps", "sps", "pps"].map { try r.sized(oneOf: [PersistentState.seedSize], $0) }
        let proofs = try ["ehProof", "shProof", "phProof"].map { try r.sized(oneOf: [PersistentState.proofSize], $0) }
        self.init(
            eps: seeds[0], sps: seeds[1], pps: seeds[2], ehProof: proofs[0], shProof: proofs[1], phProof: proofs[2],
            pcrAllocation: [])
        owner = try EntityAuth(state: &r, "owner")
        endorsement = try EntityAuth(state: &r, "endorsement")
        lockout = try EntityAuth(state: &r, "lockout")
        disableClear = try r.bool("disableClear")
        tpmGeneratedEPS = try r.bool("tpmGeneratedEPS")
        // One entry per implemented hash, in TPM_ALG_ID order (the engine indexes by it).
        let n = try r.count(max: TPMLimits.hashCount, "pcrAllocation.count")
        guard n == TPMLimits.hashCount else { throw StateError.malformed("pcrAllocation: \(n) entries") }
        for i in 0..<n {
            let alg = try r.hashAlg("pcrAllocation[\(i)].alg")
            guard alg == TPMLimits.hashAlgorithms[i] else { throw StateError.malformed("pcrAllocation: banks out of order") }
            let mask = try r.u32("pcrAllocation[\(i)].mask")
            guard mask & ~PCRAllocation.allPCRs == 0 else { throw StateError.malformed("pcrAllocation[\(i)].mask") }
            pcrAllocation.append(PCRAllocation(alg: alg, mask: mask))
        }
        resetCount = try r.u32("resetCount")
        restartCount = try r.u32("restartCount")
        clearCount = try r.u32("clearCount")
        clock = try r.u64("clock")
        orderlyState = try r.u16("orderlyState")
        guard [TPMSU.clear.rawValue, TPMSU.state.rawValue, PersistentState.orderlyNone].contains(orderlyState) else {
            throw StateError.malformed("orderlyState: \(orderlyState)")
        }
        savedState = try r.bool("savedState.present") ? try SavedState(state: &r, version: version) : nil
        // Version 1 predates dictionary-attack protection: the manufacturer defaults, no
        // failures.
        if version >= 2 { da = try DictionaryAttackState(state: &r) }
        // Versions 1 and 2 predate NV Indices and persistent objects: none is defined.
        if version >= 3 { try NVStateCodec.decode(into: &self, &r) }
        // --- policy/audit (issue 4), version 4; earlier versions: no PCR policy, the audit
        // defaults of a new TPM ---
        if version >= 4 {
            pcrPolicy = try PCRAuthCodec.policy(&r, "pcrPolicy")
            audit = try CommandAuditState(state: &r)
            if savedState != nil { savedState?.pcrAuthValue = try PCRAuthCodec.authValue(&r, "saved.pcrAuthValue") }
        }
        // --- end policy/audit ---
        // Versions 1 to 4 predate the commit state: a saved state restores no commit (counter 0).
        if version >= 5, savedState != nil { savedState?.commit = try CommitState(state: &r, "saved.commit") }
    }
}

// MARK: - version 2 additions

extension DictionaryAttackState {
    /// failedTries, maxTries, recoveryTime, lockoutRecovery (u32 each), lockoutAuthEnabled,
    /// used (bool each).
    func encodeState(to w: inout TPMWriter) {
        w.u32(failedTries)
        w.u32(maxTries)
        w.u32(recoveryTime)
        w.u32(lockoutRecovery)
        w.bool(lockoutAuthEnabled)
        w.bool(used)
    }

    init(state r: inout StateReader) throws {
        self.init(
            failedTries: try r.u32("da.failedTries"), maxTries: try r.u32("da.maxTries"), recoveryTime: try r.u32("da.recoveryTime"),
            lockoutRecovery: try r.u32("da.lockoutRecovery"), lockoutAuthEnabled: try r.bool("da.lockoutAuthEnabled"),
            used: try r.bool("da.used"))
    }
}

/// The session slot table and the session context counter (Session.swift).
enum SessionSlotCodec {
    /// A context counter's low 16 bits are never 0...MAX_LOADED_SESSIONS (they are skipped).
    static func decodeCounter(_ r: inout StateReader, _ field: String) throws -> UInt64 {
        let v = try r.u64(field)
        guard v % TPM.contextSlotModulus >= TPM.firstSessionContextID else { throw StateError.malformed("\(field): \(v)") }
        return v
    }

    static func decodeBits(_ r: inout StateReader, _ field: String) throws -> UInt16 {
        let v = try r.u16(field)
        guard UInt64(v) >= TPM.firstSessionContextID else { throw StateError.malformed("\(field): \(v)") }
        return v
    }

    static func decodeIndex(_ r: inout StateReader, after last: Int?, _ field: String) throws -> Int {
        let i = Int(try r.u8(field))
        guard i < TPMLimits.maxActiveSessions, last.map({ $0 < i }) ?? true else {
            throw StateError.malformed("\(field): \(i) out of range or order")
        }
        return i
    }

    /// Saved sessions: count (u8), then per session its slot index (u8, strictly increasing)
    /// and context-ID low bits (u16).
    static func encodeSaved(_ saved: [Int: UInt16], to w: inout TPMWriter) {
        let entries = saved.keys.sorted().filter { $0 >= 0 && $0 < TPMLimits.maxActiveSessions }
        w.u8(UInt8(entries.count))
        for i in entries {
            w.u8(UInt8(i))
            w.u16(saved[i] ?? 0)
        }
    }

    static func decodeSaved(_ r: inout StateReader, _ field: String) throws -> [Int: UInt16] {
        let n = try r.count(max: TPMLimits.maxActiveSessions, "\(field).count")
        var out: [Int: UInt16] = [:]
        var last: Int?
        for k in 0..<n {
            let i = try decodeIndex(&r, after: last, "\(field)[\(k)].index")
            last = i
            out[i] = try decodeBits(&r, "\(field)[\(k)].bits")
        }
        return out
    }

    /// Active sessions: count (u8), then per slot in use its index (u8, strictly increasing),
    /// a kind (u8: 1 loaded, 2 saved), and the SESSION (loaded) or the low bits (saved).
    static func encodeSlots(_ slots: [SessionSlot], to w: inout TPMWriter) {
        let used = slots.indices.filter { !slots[$0].isFree }
        w.u8(UInt8(used.count))
        for i in used {
            w.u8(UInt8(i))
            switch slots[i] {
            case .loaded(let s):
                w.u8(1)
                s.encode(to: &w)
            case .saved(let bits):
                w.u8(2)
                w.u16(bits)
            case .free: break
            }
        }
    }

    static func decodeSlots(_ r: inout StateReader, _ field: String) throws -> [SessionSlot] {
        var slots = TPM.emptySessionSlots
        let n = try r.count(max: TPMLimits.maxActiveSessions, "\(field).count")
        var last: Int?
        var loaded = 0
        for k in 0..<n {
            let i = try decodeIndex(&r, after: last, "\(field)[\(k)].index")
            last = i
            switch try r.u8("\(field)[\(k)].kind") {
            case 1:
                loaded += 1
                guard loaded <= TPMLimits.maxLoadedSessions else { throw StateError.malformed("\(field): more than 3 loaded") }
                slots[i] = .loaded(try r.decode("\(field)[\(k)].session") { try Session(from: &$0) })
            case 2:
                slots[i] = .saved(try decodeBits(&r, "\(field)[\(k)].bits"))
            case let v:
                throw StateError.malformed("\(field)[\(k)].kind: \(v)")
            }
        }
        return slots
    }
}

// MARK: - version 3 additions

/// NV Indices and persistent objects (NV.swift), after the dictionary-attack state:
///   nvMaxCounter (u64)
///   nvIndices.count (u16, at most TPMLimits.maxNVIndices), then per Index, in strictly
///     increasing handle order: TPMS_NV_PUBLIC (as marshalled), authValue (sized, at most
///     the nameAlg digest), data (exactly dataSize octets, no length prefix)
///   evictObjects.count (u8, at most TPMLimits.maxPersistentObjects), then per object, in
///     strictly increasing handle order: handle (u32, 0x81xxxxxx) and the OBJECT encoding
///     (a key object with its sensitive area, not stClear, of the platform hierarchy in the
///     platform range, of the owner or endorsement hierarchy in the owner range)
/// The whole must fit the NV budget (TPMLimits.nvMemorySize).
enum NVStateCodec {
    static func encode(_ p: PersistentState, to w: inout TPMWriter) {
        w.u64(p.nvMaxCounter)
        let handles = p.nvIndices.keys.sorted().prefix(TPMLimits.maxNVIndices)
        w.u16(UInt16(handles.count))
        for h in handles {
            guard let index = p.nvIndices[h] else { continue }
            index.publicArea.encode(to: &w)
            w.sized(index.authValue)
            w.bytes(index.data)
        }
        let objects = p.evictObjects.keys.sorted().prefix(TPMLimits.maxPersistentObjects)
        w.u8(UInt8(objects.count))
        for h in objects {
            guard let o = p.evictObjects[h] else { continue }
            w.u32(h)
            w.bytes(o.encoded)
        }
    }

    static func decode(into p: inout PersistentState, _ r: inout StateReader) throws {
        p.nvMaxCounter = try r.u64("nvMaxCounter")
        let n = Int(try r.u16("nvIndices.count"))
        guard n <= TPMLimits.maxNVIndices else { throw StateError.malformed("nvIndices.count: \(n)") }
        var last: UInt32?
        var used = 0
        for i in 0..<n {
            let field = "nvIndices[\(i)]"
            let pub = try r.decode("\(field).public") { try TPMSNVPublic(from: &$0) }
            let h = pub.nvIndex.rawValue
            guard last.map({ $0 < h }) ?? true else { throw StateError.malformed("nvIndices: out of order") }
            last = h
            guard let type = pub.attributes.type, let digestSize = TPMLimits.digestSize(pub.nameAlg) else {
                throw StateError.malformed("\(field): type or nameAlg")
            }
            let size = Int(pub.dataSize)
            let sizeOK: Bool
            switch type {
            case .ordinary: sizeOK = true
            case .extend: sizeOK = size == digestSize
            default: sizeOK = size == 8
            }
            guard sizeOK, pub.authPolicy.count == 0 || pub.authPolicy.count == digestSize else {
                throw StateError.malformed("\(field): sizes")
            }
            let auth = try r.sized(max: digestSize, "\(field).authValue")
            let data = try r.fixed(size, "\(field).data")
            let index = NVIndex(publicArea: pub, authValue: auth, data: data)
            used += index.nvCost
            p.nvIndices[h] = index
        }
        let m = try r.count(max: TPMLimits.maxPersistentObjects, "evictObjects.count")
        last = nil
        for i in 0..<m {
            let h = try r.u32("evictObjects[\(i)].handle")
            guard TPMHandle(h).handleType == .persistent, last.map({ $0 < h }) ?? true else {
                throw StateError.malformed("evictObjects[\(i)].handle: \(h)")
            }
            last = h
            let o = try r.decode("evictObjects[\(i)]") { try TransientObject(from: &$0) }
            // What EvictControl can make persistent: a key object with its sensitive area, not
            // stClear, of a hierarchy whose range the handle is in.
            guard case .key(let k) = o, [TPMHandle.owner, .endorsement, .platform].contains(k.hierarchy), !k.isPublicOnly,
                !k.flags.contains(.stClear), (k.hierarchy == .platform) == TPMHandle(h).isPlatformPersistent
            else {
                throw StateError.malformed("evictObjects[\(i)]: not a persistent key object")
            }
            used += TPMLimits.nvEvictObjectSize
            p.evictObjects[h] = PersistentObject(k)
        }
        guard used <= TPMLimits.nvMemorySize else { throw StateError.malformed("NV contents exceed the NV budget") }
    }
}

// MARK: - version 5 additions

extension CommitState {
    /// counter (u64), nonce (B: 0 or 32 octets), array (16 octets, no length).
    func encodeState(to w: inout TPMWriter) {
        w.u64(counter)
        w.sized(nonce)
        w.bytes(array)
    }

    init(state r: inout StateReader, _ field: String) throws {
        counter = try r.u64("\(field).counter")
        nonce = try r.sized(oneOf: [0, TPMLimits.commitNonceSize], "\(field).nonce")
        array = try r.fixed(TPMLimits.commitArraySize, "\(field).array")
        // No commit is made before the nonce is drawn.
        if nonce.isEmpty, counter != 0 || array.contains(where: { $0 != 0 }) {
            throw StateError.malformed("\(field): commits without a nonce")
        }
    }
}
