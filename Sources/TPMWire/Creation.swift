// Creation data (Part 2, 15): what TPM2_Create and TPM2_CreatePrimary record about the
// circumstances of an object's creation, certified later by TPM2_CertifyCreation.

/// TPMS_CREATION_DATA (15.1). Output only in Part 2; decoding is for the verifier side and for
/// round trips: the PCR selection and digest as TPML_PCR_SELECTION / TPM2B_DIGEST rules, the
/// parent's nameAlg as a plain TPM_ALG_ID (TPM_ALG_NULL for a primary object's hierarchy).
public struct TPMSCreationData: TPMCodable, Hashable, Sendable {
    public var pcrSelect: TPMLPCRSelection
    public var pcrDigest: TPM2BDigest
    public var locality: TPMALocality
    public var parentNameAlg: TPMAlgID
    public var parentName: TPM2BName
    public var parentQualifiedName: TPM2BName
    public var outsideInfo: TPM2BData

    public init(
        pcrSelect: TPMLPCRSelection, pcrDigest: TPM2BDigest, locality: TPMALocality, parentNameAlg: TPMAlgID,
        parentName: TPM2BName, parentQualifiedName: TPM2BName, outsideInfo: TPM2BData
    ) {
        self.pcrSelect = pcrSelect
        self.pcrDigest = pcrDigest
        self.locality = locality
        self.parentNameAlg = parentNameAlg
        self.parentName = parentName
        self.parentQualifiedName = parentQualifiedName
        self.outsideInfo = outsideInfo
    }

    public init(from r: inout TPMReader) throws {
        pcrSelect = try TPMLPCRSelection(from: &r)
        pcrDigest = try TPM2BDigest(from: &r)
        locality = TPMALocality(rawValue: try r.u8())
        parentNameAlg = TPMAlgID(try r.u16())
        parentName = try TPM2BName(from: &r)
        parentQualifiedName = try TPM2BName(from: &r)
        outsideInfo = try TPM2BData(from: &r)
    }

    public func encode(to w: inout TPMWriter) {
        pcrSelect.encode(to: &w)
        pcrDigest.encode(to: &w)
        w.u8(locality.rawValue)
        w.u16(parentNameAlg.rawValue)
        parentName.encode(to: &w)
        parentQualifiedName.encode(to: &w)
        outsideInfo.encode(to: &w)
    }
}

/// TPM2B_CREATION_DATA (15.2): a TPMS_CREATION_DATA behind an "=" size (zero, or a size not
/// used exactly, is TPM_RC_SIZE).
public struct TPM2BCreationData: TPMCodable, Hashable, Sendable {
    public var creationData: TPMSCreationData
    public init(_ creationData: TPMSCreationData) { self.creationData = creationData }
    public init(from r: inout TPMReader) throws {
        creationData = try r.nonEmptySizedStructure { try TPMSCreationData(from: &$0) }
    }
    public func encode(to w: inout TPMWriter) { w.sizedStructure { creationData.encode(to: &$0) } }
}
