import TPMCrypto
import TPMWire

// What authorization needs to know about any entity a handle names (the reference's
// Entity.c and the entity predicates of SessionProcess.c): its Name, authValue and
// authPolicy, whether dictionary-attack protection applies, and which kinds of authorization
// it accepts. Each function switches on the handle type; key objects bring their Name, noDA,
// userWithAuth, adminWithPolicy and publicOnly (KeyObject.swift), persistent objects the same;
// NV Indices bring TPMA_NV (NV.swift).

extension TPM {
    /// The Name of an entity (Part 1, 16): the handle itself for permanent entities, PCRs and
    /// sessions; an object's Name for a transient object, which for a sequence object is the
    /// Empty Buffer (its nameAlg is TPM_ALG_NULL).
    func entityName(_ h: TPMHandle) -> [UInt8] {
        switch h.handleType {
        case .transient?, .persistent?:
            switch transientObject(h) {
            case .sequence?, nil: return []
            case .key(let k)?: return k.name.buffer
            }
        case .nvIndex?:
            return nvIndex(h)?.name.buffer ?? []
        default:
            return u32Bytes(h.rawValue)
        }
    }

    /// The authValue an entity is authorized with, trailing zeros removed (Part 1, 19.6.4):
    /// nil when the handle names nothing that has one (an object no longer loaded).
    func entityAuthValue(_ h: TPMHandle) -> [UInt8]? {
        switch h.handleType {
        case .permanent?:
            switch h {
            case .owner: return persistent.owner.authValue
            case .endorsement: return persistent.endorsement.authValue
            case .lockout: return persistent.lockout.authValue
            case .platform: return volatile.platform.authValue
            default: return []
            }
        case .transient?, .persistent?:
            switch transientObject(h) {
            case .sequence(let s)?: return stripTrailingZeros(s.authValue)
            case .key(let k)?: return stripTrailingZeros(k.authValue)
            case nil: return nil
            }
        case .nvIndex?: return nvIndex(h).map { stripTrailingZeros($0.authValue) }
        // A PCR's is its auth group's (PCRAuthorization.swift).
        case .pcr?: return pcrAuthValue(h)
        default: return nil
        }
    }

    /// The authValue, empty for an entity that has none.
    func authValue(of h: TPMHandle) -> [UInt8] { entityAuthValue(h) ?? [] }

    /// The authPolicy of an entity and its hash algorithm (the reference's
    /// EntityGetAuthPolicy): TPM_ALG_NULL and an empty digest when it has none.
    func authPolicy(of h: TPMHandle) -> (alg: TPMAlgID, digest: [UInt8]) {
        let e: EntityAuth?
        switch h {
        case .owner: e = persistent.owner
        case .endorsement: e = persistent.endorsement
        case .lockout: e = persistent.lockout
        case .platform: e = volatile.platform
        default:
            // A PCR's is its policy group's (PCRAuthorization.swift).
            if h.handleType == .pcr { return pcrAuthPolicy(h) }
            // An object's authPolicy is a digest of its nameAlg (empty: none).
            if let k = keyObject(h) {
                return k.publicArea.authPolicy.count == 0 ? (.null, []) : (k.nameAlg, k.publicArea.authPolicy.buffer)
            }
            // An NV Index's authPolicy is a digest of its nameAlg (empty: none).
            if h.handleType == .nvIndex, let index = nvIndex(h) {
                let p = index.publicArea
                return p.authPolicy.count == 0 ? (.null, []) : (p.nameAlg, p.authPolicy.buffer)
            }
            e = nil
        }
        guard let e else { return (.null, []) }
        return (e.policyAlg, e.policy)
    }

    /// Exempt from dictionary-attack protection (Part 1, 19.8.1; the reference's
    /// IsDAExempted): every permanent handle but TPM_RH_LOCKOUT, PCRs, sequence objects
    /// and objects with noDA, NV Indices with TPMA_NV_NO_DA.
    func isDAExempt(_ h: TPMHandle) -> Bool {
        switch h.handleType {
        case .permanent?: return h != .lockout
        case .pcr?: return true
        case .nvIndex?: return nvIndex(h)?.attributes.contains(.noDA) ?? false
        case .transient?, .persistent?:
            switch transientObject(h) {
            case .sequence?: return true
            case .key(let k)?: return k.attributes.contains(.noDA)
            case nil: return false
            }
        default: return false
        }
    }

    /// Whether an HMAC or password session may use the entity's authValue in this role (the
    /// reference's IsAuthValueAvailable). An object's serves the USER role only with
    /// userWithAuth and the ADMIN role only without adminWithPolicy, and never when only its
    /// public area is loaded. An NV Index's serves a write with AUTHWRITE, a read (any other
    /// command) with AUTHREAD, and a PIN Index's only while written and pinCount < pinLimit.
    func isAuthValueAvailable(_ h: TPMHandle, role: AuthRole, code: TPMCC = TPMCC(0)) -> Bool {
        switch h.handleType {
        case .permanent?: return [.owner, .endorsement, .platform, .lockout, .null].contains(h)
        case .nvIndex?:
            guard let index = nvIndex(h) else { return false }
            if TPM.nvWriteCommands.contains(code) { return index.attributes.contains(.authWrite) }
            if index.type == .pinPass || index.type == .pinFail {
                let v = index.uint64Value
                return index.isWritten && UInt32(truncatingIfNeeded: v >> 32) < UInt32(truncatingIfNeeded: v)
            }
            return index.attributes.contains(.authRead)
        case .transient?, .persistent?:
            // A sequence object's authValue is always available.
            switch transientObject(h) {
            case .sequence?: return true
            case .key(let k)?:
                let a = k.attributes
                return !k.isPublicOnly && (a.contains(.userWithAuth) || (role == .admin && !a.contains(.adminWithPolicy)))
            case nil: return false
            }
        // A PCR's authValue serves only while its group has no policy.
        case .pcr?: return !pcrPolicyIsAvailable(h)
        default: return false
        }
    }

    /// Whether a policy session may authorize the entity (the reference's
    /// IsAuthPolicyAvailable): it has a policy; an object with its sensitive area loaded always
    /// (an empty authPolicy is one no session can match); never a sequence object; an NV Index
    /// with an authPolicy in a role that needs a policy, else with POLICYWRITE for a write and
    /// POLICYREAD for anything else.
    func isAuthPolicyAvailable(_ h: TPMHandle, role: AuthRole, code: TPMCC = TPMCC(0)) -> Bool {
        switch h.handleType {
        case .permanent?:
            switch h {
            case .owner, .endorsement, .platform, .lockout: return !authPolicy(of: h).digest.isEmpty
            default: return false
            }
        case .transient?, .persistent?:
            if let k = keyObject(h) { return !k.isPublicOnly }
            return false
        case .nvIndex?:
            // Only with an authPolicy; then always where the role needs a policy (NV_ChangeAuth,
            // NV_UndefineSpaceSpecial), otherwise as POLICYWRITE or POLICYREAD allows.
            guard let index = nvIndex(h), index.publicArea.authPolicy.count != 0 else { return false }
            if isPolicySessionRequired(h, role: role) { return true }
            return index.attributes.contains(TPM.nvWriteCommands.contains(code) ? .policyWrite : .policyRead)
        case .pcr?: return pcrPolicyIsAvailable(h)
        default: return false
        }
    }

    /// Whether only a policy session may authorize the entity in this role (the reference's
    /// IsPolicySessionRequired): the DUP role always, the ADMIN role unless a transient object
    /// allows it with its authValue (no adminWithPolicy; a sequence object has none), a PCR
    /// with a policy.
    func isPolicySessionRequired(_ h: TPMHandle, role: AuthRole) -> Bool {
        switch role {
        case .dup: return true
        case .admin:
            switch h.handleType == .transient || h.handleType == .persistent ? transientObject(h) : nil {
            case .key(let k)?: return k.attributes.contains(.adminWithPolicy)
            case .sequence?: return false
            case nil: return true
            }
        default:
            // A PCR whose group has a policy (PCR_SetAuthPolicy).
            return h.handleType == .pcr && pcrPolicyIsAvailable(h)
        }
    }

    /// The bind value of an HMAC session bound to `h` (Part 1, 19.6.9).
    func boundEntity(_ h: TPMHandle) -> BoundEntity {
        BoundEntity(name: entityName(h), authValue: authValue(of: h))
    }
}

/// Part 1, 19.6.4 and the reference code: trailing zero octets of an authValue are not
/// significant.
func stripTrailingZeros(_ a: [UInt8]) -> [UInt8] {
    var n = a.count
    while n > 0 && a[n - 1] == 0 { n -= 1 }
    return Array(a[0..<n])
}

extension TPM {
    /// The reference's IsWriteOperation: commands that write an NV Index, for which its
    /// AUTHWRITE and POLICYWRITE attributes apply (READ otherwise).
    static let nvWriteCommands: Set<TPMCC> = [.nvWrite, .nvIncrement, .nvSetBits, .nvExtend, .nvWriteLock]
}
