// Tickets (Part 2, 10.7): HMACs by a hierarchy's proof that let a later command trust what an
// earlier one checked. TPMT_TK_HASHCHECK is in Structures.swift; these three follow the same
// rules: a tag other than the ticket's own is TPM_RC_TAG, the hierarchy is a
// TPMI_RH_HIERARCHY+ (TPM_RC_VALUE), the digest a TPM2B_DIGEST.

/// TPMI_RH_HIERARCHY with NULL allowed, as every ticket carries it.
private func ticketHierarchy(_ r: inout TPMReader) throws -> TPMHandle {
    let h = TPMHandle(try r.u32())
    switch h {
    case .owner, .endorsement, .platform, .null: return h
    default: throw TPMError.value
    }
}

/// The fixed tag of a ticket type whose tag never varies.
public protocol TPMTicketKind: Sendable {
    static var tag: TPMST { get }
}

/// TPM_ST_CREATION: TPM2_Create/CreatePrimary's proof that the creation data came from the TPM.
public enum CreationTicketKind: TPMTicketKind {
    public static var tag: TPMST { .creation }
}

/// TPM_ST_VERIFIED: TPM2_VerifySignature's proof that a key signed a digest, taken by
/// TPM2_PolicyAuthorize.
public enum VerifiedTicketKind: TPMTicketKind {
    public static var tag: TPMST { .verified }
}

/// A ticket with a fixed tag: tag, hierarchy, digest.
public struct TPMTTicket<Kind: TPMTicketKind>: TPMCodable, Hashable, Sendable {
    public var hierarchy: TPMHandle
    public var digest: TPM2BDigest
    public var tag: TPMST { Kind.tag }

    public init(hierarchy: TPMHandle, digest: TPM2BDigest) {
        self.hierarchy = hierarchy
        self.digest = digest
    }

    /// The NULL ticket (hierarchy TPM_RH_NULL, empty digest).
    public static var null: TPMTTicket<Kind> { TPMTTicket(hierarchy: .null, digest: TPM2BDigest()) }

    public init(from r: inout TPMReader) throws {
        guard TPMST(try r.u16()) == Kind.tag else { throw TPMError(.tag) }
        hierarchy = try ticketHierarchy(&r)
        digest = try TPM2BDigest(from: &r)
    }

    public func encode(to w: inout TPMWriter) {
        w.u16(Kind.tag.rawValue)
        w.u32(hierarchy.rawValue)
        digest.encode(to: &w)
    }
}

/// TPMT_TK_CREATION (10.7.3).
public typealias TPMTTKCreation = TPMTTicket<CreationTicketKind>
/// TPMT_TK_VERIFIED (10.7.4).
public typealias TPMTTKVerified = TPMTTicket<VerifiedTicketKind>

/// TPMT_TK_AUTH (10.7.5): the ticket of TPM2_PolicySigned (TPM_ST_AUTH_SIGNED) or
/// TPM2_PolicySecret (TPM_ST_AUTH_SECRET), taken by TPM2_PolicyTicket.
public struct TPMTTKAuth: TPMCodable, Hashable, Sendable {
    public var tag: TPMST
    public var hierarchy: TPMHandle
    public var digest: TPM2BDigest

    public init(tag: TPMST, hierarchy: TPMHandle, digest: TPM2BDigest) {
        self.tag = tag
        self.hierarchy = hierarchy
        self.digest = digest
    }

    public init(from r: inout TPMReader) throws {
        tag = TPMST(try r.u16())
        guard tag == .authSigned || tag == .authSecret else { throw TPMError(.tag) }
        hierarchy = try ticketHierarchy(&r)
        digest = try TPM2BDigest(from: &r)
    }

    public func encode(to w: inout TPMWriter) {
        w.u16(tag.rawValue)
        w.u32(hierarchy.rawValue)
        digest.encode(to: &w)
    }
}
