import TPMCrypto
import TPMWire

// Authorization of PCRs (Part 1, 17.6.7-17.6.8; Part 3, 22.6-22.7). The PC Client profile puts
// PCRs 20-22 in one auth group and one policy group (PCR.swift's attribute table): the group
// shares one authValue (PCR_SetAuthValue, STATE_CLEAR data: kept by Shutdown(STATE) for TPM
// Resume, emptied by TPM Reset and Restart) and one policy (PCR_SetAuthPolicy, kept in NV).
// Every other PCR has an empty authValue and no policy.

extension TPM {
    func pcrInAuthGroup(_ h: TPMHandle) -> Bool {
        h.handleType == .pcr && Int(h.rawValue) < TPMLimits.pcrCount && PCRAttributes.table[Int(h.rawValue)].authGroup
    }

    func pcrInPolicyGroup(_ h: TPMHandle) -> Bool {
        h.handleType == .pcr && Int(h.rawValue) < TPMLimits.pcrCount && PCRAttributes.table[Int(h.rawValue)].policyGroup
    }

    /// The authValue of a PCR (the reference's PCRGetAuthValue).
    func pcrAuthValue(_ h: TPMHandle) -> [UInt8] { pcrInAuthGroup(h) ? volatile.pcrAuthValue : [] }

    /// The policy of a PCR and its hash (TPM_ALG_NULL: none; the reference's PCRGetAuthPolicy).
    func pcrAuthPolicy(_ h: TPMHandle) -> (alg: TPMAlgID, digest: [UInt8]) {
        guard pcrInPolicyGroup(h) else { return (.null, []) }
        return (persistent.pcrPolicy.policyAlg, persistent.pcrPolicy.policy)
    }

    /// The PCR has a policy (the reference's PCRPolicyIsAvailable): then only a policy session
    /// may authorize it.
    func pcrPolicyIsAvailable(_ h: TPMHandle) -> Bool { pcrAuthPolicy(h).alg != .null }
}

/// The state-format pieces of PCR authorization (docs/state-format.md, version 3).
enum PCRAuthCodec {
    /// The group authValue: at most a digest, no trailing zeros (they are removed on entry).
    static func authValue(_ r: inout StateReader, _ field: String) throws -> [UInt8] {
        let v = try r.sized(max: TPMLimits.maxDigestSize, field)
        guard v.last != 0 else { throw StateError.malformed("\(field): trailing zero") }
        return v
    }

    /// The group policy: an ENTITY_AUTH whose authValue is empty.
    static func policy(_ r: inout StateReader, _ field: String) throws -> EntityAuth {
        let p = try EntityAuth(state: &r, field)
        guard p.authValue.isEmpty else { throw StateError.malformed("\(field).authValue: not empty") }
        return p
    }
}
