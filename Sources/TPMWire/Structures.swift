// Structures of Part 2 that the engine core needs. Each decodes strictly: sizes against
// their limits, selectors against the implemented algorithms, with the code Part 2 names.

/// TPMI_YES_NO (Part 2, 9.2): 0 or 1, anything else TPM_RC_VALUE.
public struct TPMIYesNo: TPMCodable, Hashable, Sendable {
    public var value: Bool
    public init(_ v: Bool) { value = v }
    public init(from r: inout TPMReader) throws {
        switch try r.u8() {
        case 0: value = false
        case 1: value = true
        default: throw TPMError.value
        }
    }
    public func encode(to w: inout TPMWriter) { w.u8(value ? 1 : 0) }
}

/// TPMI_ALG_HASH (Part 2, 9.27): an implemented hash, or TPM_ALG_NULL where allowed.
/// Anything else is TPM_RC_HASH.
public struct TPMIAlgHash: Hashable, Sendable, TPMEncodable {
    public var alg: TPMAlgID
    public init(_ alg: TPMAlgID) { self.alg = alg }
    public init(from r: inout TPMReader, allowNull: Bool) throws {
        let a = TPMAlgID(try r.u16())
        if a == .null, allowNull {
            alg = a
            return
        }
        guard TPMLimits.hashAlgorithms.contains(a) else { throw TPMError(.hash) }
        alg = a
    }
    public var isNull: Bool { alg == .null }
    public func encode(to w: inout TPMWriter) { w.u16(alg.rawValue) }
}

/// A TPM2B whose bound is a static property: TPM2B_DIGEST, TPM2B_DATA, TPM2B_MAX_BUFFER...
public protocol TPM2BBound { static var maxSize: Int { get } }

public struct TPM2B<Bound: TPM2BBound>: TPMCodable, Hashable, Sendable {
    public var buffer: [UInt8]
    public init(_ buffer: [UInt8] = []) { self.buffer = buffer }
    public init(from r: inout TPMReader) throws { buffer = try r.sized(max: Bound.maxSize) }
    public func encode(to w: inout TPMWriter) { w.sized(buffer) }
    public var count: Int { buffer.count }
}

public enum DigestBound: TPM2BBound { public static var maxSize: Int { TPMLimits.maxDigestSize } }
public enum DataBound: TPM2BBound { public static var maxSize: Int { TPMLimits.maxDataSize } }
public enum MaxBufferBound: TPM2BBound { public static var maxSize: Int { TPMLimits.maxDigestBuffer } }
public enum EventBound: TPM2BBound { public static var maxSize: Int { TPMLimits.maxEventSize } }
public enum SensitiveDataBound: TPM2BBound { public static var maxSize: Int { TPMLimits.maxSymData } }

/// TPM2B_DIGEST (10.4.2); TPM2B_NONCE and TPM2B_AUTH are the same type (10.4.4, 10.4.5).
public typealias TPM2BDigest = TPM2B<DigestBound>
public typealias TPM2BNonce = TPM2BDigest
public typealias TPM2BAuth = TPM2BDigest
/// TPM2B_DATA (10.4.3).
public typealias TPM2BData = TPM2B<DataBound>
/// TPM2B_MAX_BUFFER (10.4.8).
public typealias TPM2BMaxBuffer = TPM2B<MaxBufferBound>
/// TPM2B_EVENT (10.4.7).
public typealias TPM2BEvent = TPM2B<EventBound>
/// TPM2B_SENSITIVE_DATA (11.1.14).
public typealias TPM2BSensitiveData = TPM2B<SensitiveDataBound>

/// TPMT_HA (10.3.2): a hash algorithm and a digest of exactly its size.
public struct TPMTHA: Hashable, Sendable, TPMEncodable {
    public var hashAlg: TPMAlgID
    public var digest: [UInt8]
    public init(hashAlg: TPMAlgID, digest: [UInt8]) {
        self.hashAlg = hashAlg
        self.digest = digest
    }
    public init(from r: inout TPMReader, allowNull: Bool) throws {
        hashAlg = try TPMIAlgHash(from: &r, allowNull: allowNull).alg
        digest = try r.bytes(TPMLimits.digestSize(hashAlg) ?? 0)
    }
    public func encode(to w: inout TPMWriter) {
        w.u16(hashAlg.rawValue)
        w.bytes(digest)
    }
}

/// TPML_DIGEST_VALUES (10.9.7): at most HASH_COUNT entries, else TPM_RC_SIZE.
public struct TPMLDigestValues: TPMCodable, Hashable, Sendable {
    public var digests: [TPMTHA]
    public init(_ d: [TPMTHA]) { digests = d }
    public init(from r: inout TPMReader) throws {
        let n = try r.u32()
        guard n <= TPMLimits.hashCount else { throw TPMError.size }
        digests = []
        for _ in 0..<n { digests.append(try TPMTHA(from: &r, allowNull: false)) }
    }
    public func encode(to w: inout TPMWriter) {
        w.u32(UInt32(digests.count))
        for d in digests { d.encode(to: &w) }
    }
}

/// TPML_DIGEST (10.9.2): at most 8 digests.
public struct TPMLDigest: TPMCodable, Hashable, Sendable {
    public var digests: [TPM2BDigest]
    public init(_ d: [TPM2BDigest]) { digests = d }
    public init(from r: inout TPMReader) throws {
        let n = try r.u32()
        guard n <= TPMLimits.maxDigestListCount else { throw TPMError.size }
        digests = []
        for _ in 0..<n { digests.append(try TPM2BDigest(from: &r)) }
    }
    public func encode(to w: inout TPMWriter) {
        w.u32(UInt32(digests.count))
        for d in digests { d.encode(to: &w) }
    }
}

/// TPMS_PCR_SELECTION (10.6.2). sizeofSelect outside PCR_SELECT_MIN...PCR_SELECT_MAX is
/// TPM_RC_VALUE, as the reference unmarshalling code has it.
public struct TPMSPCRSelection: TPMCodable, Hashable, Sendable {
    public var hash: TPMAlgID
    public var select: [UInt8]
    public init(hash: TPMAlgID, select: [UInt8]) {
        self.hash = hash
        self.select = select
    }
    public init(hash: TPMAlgID, pcrs: [Int]) {
        self.hash = hash
        var s = [UInt8](repeating: 0, count: TPMLimits.pcrSelectMax)
        for p in pcrs where p >= 0 && p < TPMLimits.pcrCount { s[p / 8] |= 1 << (p % 8) }
        select = s
    }
    public init(from r: inout TPMReader) throws {
        hash = try TPMIAlgHash(from: &r, allowNull: false).alg
        let n = Int(try r.u8())
        guard n >= TPMLimits.pcrSelectMin, n <= TPMLimits.pcrSelectMax else { throw TPMError.value }
        select = try r.bytes(n)
    }
    public func encode(to w: inout TPMWriter) {
        w.u16(hash.rawValue)
        w.u8(UInt8(select.count))
        w.bytes(select)
    }
    public func isSelected(_ pcr: Int) -> Bool {
        pcr / 8 < select.count && select[pcr / 8] & (1 << (pcr % 8)) != 0
    }
    public var selectedPCRs: [Int] { (0..<select.count * 8).filter(isSelected) }
}

/// TPML_PCR_SELECTION (10.9.8): at most HASH_COUNT entries, else TPM_RC_SIZE.
public struct TPMLPCRSelection: TPMCodable, Hashable, Sendable {
    public var selections: [TPMSPCRSelection]
    public init(_ s: [TPMSPCRSelection]) { selections = s }
    public init(from r: inout TPMReader) throws {
        let n = try r.u32()
        guard n <= TPMLimits.hashCount else { throw TPMError.size }
        selections = []
        for _ in 0..<n { selections.append(try TPMSPCRSelection(from: &r)) }
    }
    public func encode(to w: inout TPMWriter) {
        w.u32(UInt32(selections.count))
        for s in selections { s.encode(to: &w) }
    }
}

/// TPMT_TK_HASHCHECK (10.7.6).
public struct TPMTTKHashcheck: TPMCodable, Hashable, Sendable {
    public var tag: TPMST
    public var hierarchy: TPMHandle
    public var digest: TPM2BDigest
    public init(tag: TPMST, hierarchy: TPMHandle, digest: TPM2BDigest) {
        self.tag = tag
        self.hierarchy = hierarchy
        self.digest = digest
    }
    /// A NULL ticket: TPM_ST_HASHCHECK, TPM_RH_NULL, empty digest (Part 3, 15.4).
    public static let null = TPMTTKHashcheck(tag: .hashCheck, hierarchy: .null, digest: TPM2BDigest())
    public init(from r: inout TPMReader) throws {
        tag = TPMST(try r.u16())
        guard tag == .hashCheck else { throw TPMError(.tag) }
        hierarchy = TPMHandle(try r.u32())
        switch hierarchy {
        case .owner, .endorsement, .platform, .null: break
        default: throw TPMError.value
        }
        digest = try TPM2BDigest(from: &r)
    }
    public func encode(to w: inout TPMWriter) {
        w.u16(tag.rawValue)
        w.u32(hierarchy.rawValue)
        digest.encode(to: &w)
    }
}

/// TPMS_CLOCK_INFO (10.11.1).
public struct TPMSClockInfo: TPMCodable, Hashable, Sendable {
    public var clock: UInt64
    public var resetCount: UInt32
    public var restartCount: UInt32
    public var safe: Bool
    public init(clock: UInt64, resetCount: UInt32, restartCount: UInt32, safe: Bool) {
        self.clock = clock
        self.resetCount = resetCount
        self.restartCount = restartCount
        self.safe = safe
    }
    public init(from r: inout TPMReader) throws {
        clock = try r.u64()
        resetCount = try r.u32()
        restartCount = try r.u32()
        safe = try TPMIYesNo(from: &r).value
    }
    public func encode(to w: inout TPMWriter) {
        w.u64(clock)
        w.u32(resetCount)
        w.u32(restartCount)
        w.u8(safe ? 1 : 0)
    }
}

/// TPMS_TIME_INFO (10.11.6).
public struct TPMSTimeInfo: TPMCodable, Hashable, Sendable {
    public var time: UInt64
    public var clockInfo: TPMSClockInfo
    public init(time: UInt64, clockInfo: TPMSClockInfo) {
        self.time = time
        self.clockInfo = clockInfo
    }
    public init(from r: inout TPMReader) throws {
        time = try r.u64()
        clockInfo = try TPMSClockInfo(from: &r)
    }
    public func encode(to w: inout TPMWriter) {
        w.u64(time)
        clockInfo.encode(to: &w)
    }
}
