import TPMCrypto
import TPMWire

// The body encodings of state-format version 1 (docs/state-format.md). Every field is
// written in a fixed order, big-endian, with no padding; byte strings carry a u16 length
// and lists a u8 count. Decoding checks each field against the bound the engine relies on,
// so a blob that decodes can never make the engine trap, and every count is bounded by
// TPMLimits before anything is read.

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
    }

    init(state r: inout StateReader) throws {
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
    }

    init(state r: inout StateReader) throws {
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
        savedState = try r.bool("savedState.present") ? try SavedState(state: &r) : nil
    }
}
