// Attestation structures (Part 2, 10.11-10.12): the TPMS_ATTEST that TPM2_Quote, TPM2_Certify,
// TPM2_CertifyCreation, TPM2_GetTime, the audit commands and TPM2_NV_Certify sign, and its
// TPM2B_ATTEST wrapper. Part 2 marks them output only, so it names no unmarshalling codes;
// decoding here (for the verifier and for round trips) refuses a wrong magic and an attestation
// type outside TPMI_ST_ATTEST with TPM_RC_TAG, the code of a wrong structure tag, and checks
// every buffer against its bound with TPM_RC_SIZE as everywhere else.

public enum AttestBound: TPM2BBound { public static var maxSize: Int { TPMLimits.maxAttestSize } }
public enum MaxNVBufferBound: TPM2BBound { public static var maxSize: Int { TPMLimits.maxNVBuffer } }

/// TPM2B_ATTEST (10.12): a marshalled TPMS_ATTEST, kept as the octets that were signed.
public typealias TPM2BAttest = TPM2B<AttestBound>
/// TPM2B_MAX_NV_BUFFER (10.4): NV data, at most MAX_NV_BUFFER_SIZE octets.
public typealias TPM2BMaxNVBuffer = TPM2B<MaxNVBufferBound>

extension TPM2B where Bound == AttestBound {
    public init(_ attest: TPMSAttest) { self.init(attest.wireBytes) }
    /// The TPMS_ATTEST inside; it must fill the buffer exactly (TPM_RC_SIZE).
    public func attest() throws -> TPMSAttest { try TPMSAttest(wire: buffer) }
}

/// TPMS_CERTIFY_INFO (10.12): TPM2_Certify.
public struct TPMSCertifyInfo: TPMCodable, Hashable, Sendable {
    public var name: TPM2BName
    public var qualifiedName: TPM2BName
    public init(name: TPM2BName, qualifiedName: TPM2BName) {
        self.name = name
        self.qualifiedName = qualifiedName
    }
    public init(from r: inout TPMReader) throws {
        name = try TPM2BName(from: &r)
        qualifiedName = try TPM2BName(from: &r)
    }
    public func encode(to w: inout TPMWriter) {
        name.encode(to: &w)
        qualifiedName.encode(to: &w)
    }
}

/// TPMS_QUOTE_INFO (10.12): TPM2_Quote.
public struct TPMSQuoteInfo: TPMCodable, Hashable, Sendable {
    public var pcrSelect: TPMLPCRSelection
    public var pcrDigest: TPM2BDigest
    public init(pcrSelect: TPMLPCRSelection, pcrDigest: TPM2BDigest) {
        self.pcrSelect = pcrSelect
        self.pcrDigest = pcrDigest
    }
    public init(from r: inout TPMReader) throws {
        pcrSelect = try TPMLPCRSelection(from: &r)
        pcrDigest = try TPM2BDigest(from: &r)
    }
    public func encode(to w: inout TPMWriter) {
        pcrSelect.encode(to: &w)
        pcrDigest.encode(to: &w)
    }
}

/// TPMS_COMMAND_AUDIT_INFO (10.12): TPM2_GetCommandAuditDigest. digestAlg is a plain
/// TPM_ALG_ID.
public struct TPMSCommandAuditInfo: TPMCodable, Hashable, Sendable {
    public var auditCounter: UInt64
    public var digestAlg: TPMAlgID
    public var auditDigest: TPM2BDigest
    public var commandDigest: TPM2BDigest
    public init(auditCounter: UInt64, digestAlg: TPMAlgID, auditDigest: TPM2BDigest, commandDigest: TPM2BDigest) {
        self.auditCounter = auditCounter
        self.digestAlg = digestAlg
        self.auditDigest = auditDigest
        self.commandDigest = commandDigest
    }
    public init(from r: inout TPMReader) throws {
        auditCounter = try r.u64()
        digestAlg = TPMAlgID(try r.u16())
        auditDigest = try TPM2BDigest(from: &r)
        commandDigest = try TPM2BDigest(from: &r)
    }
    public func encode(to w: inout TPMWriter) {
        w.u64(auditCounter)
        w.u16(digestAlg.rawValue)
        auditDigest.encode(to: &w)
        commandDigest.encode(to: &w)
    }
}

/// TPMS_SESSION_AUDIT_INFO (10.12): TPM2_GetSessionAuditDigest. exclusiveSession is a
/// TPMI_YES_NO (TPM_RC_VALUE).
public struct TPMSSessionAuditInfo: TPMCodable, Hashable, Sendable {
    public var exclusiveSession: Bool
    public var sessionDigest: TPM2BDigest
    public init(exclusiveSession: Bool, sessionDigest: TPM2BDigest) {
        self.exclusiveSession = exclusiveSession
        self.sessionDigest = sessionDigest
    }
    public init(from r: inout TPMReader) throws {
        exclusiveSession = try TPMIYesNo(from: &r).value
        sessionDigest = try TPM2BDigest(from: &r)
    }
    public func encode(to w: inout TPMWriter) {
        w.u8(exclusiveSession ? 1 : 0)
        sessionDigest.encode(to: &w)
    }
}

/// TPMS_CREATION_INFO (10.12): TPM2_CertifyCreation.
public struct TPMSCreationInfo: TPMCodable, Hashable, Sendable {
    public var objectName: TPM2BName
    public var creationHash: TPM2BDigest
    public init(objectName: TPM2BName, creationHash: TPM2BDigest) {
        self.objectName = objectName
        self.creationHash = creationHash
    }
    public init(from r: inout TPMReader) throws {
        objectName = try TPM2BName(from: &r)
        creationHash = try TPM2BDigest(from: &r)
    }
    public func encode(to w: inout TPMWriter) {
        objectName.encode(to: &w)
        creationHash.encode(to: &w)
    }
}

/// TPMS_TIME_ATTEST_INFO (10.11): TPM2_GetTime.
public struct TPMSTimeAttestInfo: TPMCodable, Hashable, Sendable {
    public var time: TPMSTimeInfo
    public var firmwareVersion: UInt64
    public init(time: TPMSTimeInfo, firmwareVersion: UInt64) {
        self.time = time
        self.firmwareVersion = firmwareVersion
    }
    public init(from r: inout TPMReader) throws {
        time = try TPMSTimeInfo(from: &r)
        firmwareVersion = try r.u64()
    }
    public func encode(to w: inout TPMWriter) {
        time.encode(to: &w)
        w.u64(firmwareVersion)
    }
}

/// TPMS_NV_CERTIFY_INFO (10.12): TPM2_NV_Certify of a range of an Index.
public struct TPMSNVCertifyInfo: TPMCodable, Hashable, Sendable {
    public var indexName: TPM2BName
    public var offset: UInt16
    public var nvContents: TPM2BMaxNVBuffer
    public init(indexName: TPM2BName, offset: UInt16, nvContents: TPM2BMaxNVBuffer) {
        self.indexName = indexName
        self.offset = offset
        self.nvContents = nvContents
    }
    public init(from r: inout TPMReader) throws {
        indexName = try TPM2BName(from: &r)
        offset = try r.u16()
        nvContents = try TPM2BMaxNVBuffer(from: &r)
    }
    public func encode(to w: inout TPMWriter) {
        indexName.encode(to: &w)
        w.u16(offset)
        nvContents.encode(to: &w)
    }
}

/// TPMS_NV_DIGEST_CERTIFY_INFO (10.12): TPM2_NV_Certify of a whole Index, by digest.
public struct TPMSNVDigestCertifyInfo: TPMCodable, Hashable, Sendable {
    public var indexName: TPM2BName
    public var nvDigest: TPM2BDigest
    public init(indexName: TPM2BName, nvDigest: TPM2BDigest) {
        self.indexName = indexName
        self.nvDigest = nvDigest
    }
    public init(from r: inout TPMReader) throws {
        indexName = try TPM2BName(from: &r)
        nvDigest = try TPM2BDigest(from: &r)
    }
    public func encode(to w: inout TPMWriter) {
        indexName.encode(to: &w)
        nvDigest.encode(to: &w)
    }
}

/// TPMU_ATTEST (10.12), selected by TPMI_ST_ATTEST.
public enum TPMUAttest: Hashable, Sendable, TPMEncodable {
    case certify(TPMSCertifyInfo)
    case creation(TPMSCreationInfo)
    case quote(TPMSQuoteInfo)
    case commandAudit(TPMSCommandAuditInfo)
    case sessionAudit(TPMSSessionAuditInfo)
    case time(TPMSTimeAttestInfo)
    case nv(TPMSNVCertifyInfo)
    case nvDigest(TPMSNVDigestCertifyInfo)

    /// The TPMI_ST_ATTEST value of this member.
    public var type: TPMST {
        switch self {
        case .certify: return .attestCertify
        case .creation: return .attestCreation
        case .quote: return .attestQuote
        case .commandAudit: return .attestCommandAudit
        case .sessionAudit: return .attestSessionAudit
        case .time: return .attestTime
        case .nv: return .attestNV
        case .nvDigest: return .attestNVDigest
        }
    }

    /// TPMI_ST_ATTEST: the attestation structure tags.
    public static let types: [TPMST] = [
        .attestCertify, .attestCreation, .attestQuote, .attestCommandAudit, .attestSessionAudit, .attestTime, .attestNV,
        .attestNVDigest,
    ]

    /// A type outside TPMI_ST_ATTEST is TPM_RC_TAG.
    public init(from r: inout TPMReader, type: TPMST) throws {
        switch type {
        case .attestCertify: self = .certify(try TPMSCertifyInfo(from: &r))
        case .attestCreation: self = .creation(try TPMSCreationInfo(from: &r))
        case .attestQuote: self = .quote(try TPMSQuoteInfo(from: &r))
        case .attestCommandAudit: self = .commandAudit(try TPMSCommandAuditInfo(from: &r))
        case .attestSessionAudit: self = .sessionAudit(try TPMSSessionAuditInfo(from: &r))
        case .attestTime: self = .time(try TPMSTimeAttestInfo(from: &r))
        case .attestNV: self = .nv(try TPMSNVCertifyInfo(from: &r))
        case .attestNVDigest: self = .nvDigest(try TPMSNVDigestCertifyInfo(from: &r))
        default: throw TPMError(.tag)
        }
    }

    public func encode(to w: inout TPMWriter) {
        switch self {
        case .certify(let i): i.encode(to: &w)
        case .creation(let i): i.encode(to: &w)
        case .quote(let i): i.encode(to: &w)
        case .commandAudit(let i): i.encode(to: &w)
        case .sessionAudit(let i): i.encode(to: &w)
        case .time(let i): i.encode(to: &w)
        case .nv(let i): i.encode(to: &w)
        case .nvDigest(let i): i.encode(to: &w)
        }
    }
}

/// TPMS_ATTEST (10.12): magic is TPM_GENERATED_VALUE (Part 2, 6.2) and type the selector of
/// `attested`. clockInfo's resetCount, restartCount and firmwareVersion are obfuscated by the
/// signing command for keys outside the endorsement and platform hierarchies (Part 3, 18.1);
/// this structure only carries them.
public struct TPMSAttest: TPMCodable, Hashable, Sendable {
    public var qualifiedSigner: TPM2BName
    public var extraData: TPM2BData
    public var clockInfo: TPMSClockInfo
    public var firmwareVersion: UInt64
    public var attested: TPMUAttest
    public var magic: UInt32 { tpmGeneratedValue }
    public var type: TPMST { attested.type }

    public init(
        qualifiedSigner: TPM2BName, extraData: TPM2BData, clockInfo: TPMSClockInfo, firmwareVersion: UInt64,
        attested: TPMUAttest
    ) {
        self.qualifiedSigner = qualifiedSigner
        self.extraData = extraData
        self.clockInfo = clockInfo
        self.firmwareVersion = firmwareVersion
        self.attested = attested
    }

    public init(from r: inout TPMReader) throws {
        guard try r.u32() == tpmGeneratedValue else { throw TPMError(.tag) }
        let type = TPMST(try r.u16())
        guard TPMUAttest.types.contains(type) else { throw TPMError(.tag) }
        qualifiedSigner = try TPM2BName(from: &r)
        extraData = try TPM2BData(from: &r)
        clockInfo = try TPMSClockInfo(from: &r)
        firmwareVersion = try r.u64()
        attested = try TPMUAttest(from: &r, type: type)
    }

    public func encode(to w: inout TPMWriter) {
        w.u32(magic)
        w.u16(type.rawValue)
        qualifiedSigner.encode(to: &w)
        extraData.encode(to: &w)
        clockInfo.encode(to: &w)
        w.u64(firmwareVersion)
        attested.encode(to: &w)
    }
}
