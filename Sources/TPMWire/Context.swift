// Saved contexts (Part 2, 14): what TPM2_ContextSave returns and TPM2_ContextLoad takes.

public enum ContextDataBound: TPM2BBound { public static var maxSize: Int { TPMLimits.maxContextDataSize } }
public enum ContextSensitiveBound: TPM2BBound { public static var maxSize: Int { TPMLimits.maxContextSize } }

/// TPM2B_CONTEXT_DATA (14.4): an opaque TPMS_CONTEXT_DATA.
public typealias TPM2BContextData = TPM2B<ContextDataBound>
/// TPM2B_CONTEXT_SENSITIVE (14.2): the encrypted part of a context.
public typealias TPM2BContextSensitive = TPM2B<ContextSensitiveBound>

extension TPMHandle {
    /// The savedHandle of a saved transient object, a saved sequence object and a saved
    /// object with stClear set (Part 2, 14.6 and the TPMI_DH_SAVED table): whatever transient
    /// handle the object had, ContextLoad assigns a new one.
    public static let savedTransient = TPMHandle(0x8000_0000)
    public static let savedSequence = TPMHandle(0x8000_0001)
    public static let savedTransientClear = TPMHandle(0x8000_0002)

    /// TRANSIENT_LAST, HMAC_SESSION_LAST, POLICY_SESSION_LAST (Part 2, 7.5): the handle
    /// ranges end where the implementation's slots end.
    public static let transientLast = TPMHandle(transientFirst.rawValue + UInt32(TPMLimits.maxLoadedObjects) - 1)
    public static let hmacSessionLast = TPMHandle(hmacSessionFirst.rawValue + UInt32(TPMLimits.maxActiveSessions) - 1)
    public static let policySessionLast = TPMHandle(policySessionFirst.rawValue + UInt32(TPMLimits.maxActiveSessions) - 1)

    public var isInTransientRange: Bool { (TPMHandle.transientFirst...TPMHandle.transientLast).contains(self) }
    public var isInSessionRange: Bool {
        (TPMHandle.hmacSessionFirst...TPMHandle.hmacSessionLast).contains(self)
            || (TPMHandle.policySessionFirst...TPMHandle.policySessionLast).contains(self)
    }
}

/// TPMS_CONTEXT (14.5).
public struct TPMSContext: TPMCodable, Hashable, Sendable {
    /// The context's sequence number (the TPM's context counter when it was saved).
    public var sequence: UInt64
    /// TPMI_DH_SAVED: a session handle, or one of the three saved-object handles.
    public var savedHandle: TPMHandle
    /// TPMI_RH_HIERARCHY+: the hierarchy whose proof protects the context.
    public var hierarchy: TPMHandle
    public var contextBlob: TPM2BContextData

    public init(sequence: UInt64, savedHandle: TPMHandle, hierarchy: TPMHandle, contextBlob: TPM2BContextData) {
        self.sequence = sequence
        self.savedHandle = savedHandle
        self.hierarchy = hierarchy
        self.contextBlob = contextBlob
    }

    public init(from r: inout TPMReader) throws {
        sequence = try r.u64()
        savedHandle = TPMHandle(try r.u32())
        // TPMI_DH_SAVED (Part 2): anything else is TPM_RC_VALUE.
        switch savedHandle {
        case .savedTransient, .savedSequence, .savedTransientClear: break
        default: guard savedHandle.isInSessionRange else { throw TPMError.value }
        }
        hierarchy = TPMHandle(try r.u32())
        switch hierarchy {
        case .owner, .endorsement, .platform, .null: break
        default: throw TPMError.value
        }
        contextBlob = try TPM2BContextData(from: &r)
    }

    public func encode(to w: inout TPMWriter) {
        w.u64(sequence)
        w.u32(savedHandle.rawValue)
        w.u32(hierarchy.rawValue)
        contextBlob.encode(to: &w)
    }
}

/// TPMS_CONTEXT_DATA (14.3): the integrity HMAC and the encrypted context. Decoding checks
/// only the framing; both sizes must account for the whole blob.
public struct TPMSContextData: TPMCodable, Hashable, Sendable {
    public var integrity: TPM2BDigest
    public var encrypted: TPM2BContextSensitive

    public init(integrity: TPM2BDigest, encrypted: TPM2BContextSensitive) {
        self.integrity = integrity
        self.encrypted = encrypted
    }

    public init(from r: inout TPMReader) throws {
        integrity = try TPM2BDigest(from: &r)
        encrypted = try TPM2BContextSensitive(from: &r)
    }

    public func encode(to w: inout TPMWriter) {
        integrity.encode(to: &w)
        encrypted.encode(to: &w)
    }
}
