import TPMCrypto
import TPMWire

// Enhanced authorization (Part 1, 19.7): a policy session accumulates a policyDigest from the
// policy commands it is given, and records the conditions those commands attach to its use
// (a command code, a locality, a cpHash or nameHash, PCR values...). When the session is used
// to authorize an entity, the policyDigest must equal the entity's authPolicy and every
// recorded condition must hold (`checkPolicySession`). A trial session computes the digest
// and checks nothing.

/// What a policy restricts the authorized command to (the reference's u1 union of a policy
/// session): a cpHash (PolicyCpHash, PolicySigned/Secret/Ticket with cpHashA), a nameHash
/// (PolicyNameHash, PolicyDuplicationSelect) or a template hash (PolicyTemplate).
struct PolicyRestriction: Sendable, Equatable {
    enum Kind: UInt8, Sendable {
        case cpHash = 1
        case nameHash = 2
        case templateHash = 3
    }
    var kind: Kind
    var digest: [UInt8]
}

/// The policy state of a policy or trial session (Part 1, 19.7.1).
struct PolicyState: Sendable, Equatable {
    var digest: [UInt8]
    /// PolicyCommandCode, PolicyDuplicationSelect: the only command the session may authorize.
    var commandCode: TPMCC?
    /// PolicyLocality: TPMA_LOCALITY (0: not set).
    var locality: UInt8 = 0
    var restriction: PolicyRestriction?
    /// PolicyAuthValue: an HMAC over the entity's authValue is needed; PolicyPassword: the
    /// authValue itself, in the HMAC field.
    var isAuthValueNeeded = false
    var isPasswordNeeded = false
    /// PolicyPhysicalPresence.
    var isPPRequired = false
    /// PolicyNvWritten: the TPMA_NV_WRITTEN state the authorized NV Index must have.
    var nvWritten: Bool?
    /// PolicyPCR: pcrUpdateCounter when the PCRs were checked; any PCR change since then
    /// fails the policy (TPM_RC_PCR_CHANGED).
    var pcrUpdateCounter: UInt32?
    /// Time when the session started or its nonce last rolled, the authorization deadline
    /// (Time, 0: none; PolicySigned/Secret/Ticket set it), and the power cycle those Times
    /// belong to (Time restarts at every _TPM_Init).
    var startTime: UInt64
    var timeout: UInt64 = 0
    var epoch: UInt64

    init(digestSize: Int, startTime: UInt64, epoch: UInt64) {
        digest = [UInt8](repeating: 0, count: digestSize)
        self.startTime = startTime
        self.epoch = epoch
    }

    /// PolicyRestart and every use with continueSession (the reference's
    /// SessionResetPolicyData): back to a zero digest and no conditions; the start time stays.
    mutating func reset() {
        self = PolicyState(digestSize: digest.count, startTime: startTime, epoch: epoch)
    }

    // MARK: serialization (docs/state-format.md, POLICY)

    /// B digest || u32 commandCode (0: none) || u8 locality || u8 restriction kind (0: none)
    /// || [B restriction digest] || u8 flags || u32 pcrUpdateCounter || u64 startTime ||
    /// u64 timeout || u64 epoch. flags: bit 0 authValue needed, 1 password needed, 2 physical
    /// presence, 3 NV written checked, 4 NV written state, 5 PCR counter recorded.
    func encode(to w: inout TPMWriter) {
        w.sized(digest)
        w.u32(commandCode?.rawValue ?? 0)
        w.u8(locality)
        w.u8(restriction?.kind.rawValue ?? 0)
        if let restriction { w.sized(restriction.digest) }
        var flags: UInt8 = 0
        if isAuthValueNeeded { flags |= 1 }
        if isPasswordNeeded { flags |= 2 }
        if isPPRequired { flags |= 4 }
        if let nvWritten { flags |= 8 | (nvWritten ? 16 : 0) }
        if pcrUpdateCounter != nil { flags |= 32 }
        w.u8(flags)
        w.u32(pcrUpdateCounter ?? 0)
        w.u64(startTime)
        w.u64(timeout)
        w.u64(epoch)
    }

    init(from r: inout TPMReader, digestSize n: Int) throws {
        func fail() -> TPMError { TPMError(.integrity) }
        let digest = try r.sized(max: TPMLimits.maxDigestSize)
        guard digest.count == n else { throw fail() }
        let cc = try r.u32()
        let locality = try r.u8()
        let kind = try r.u8()
        var restriction: PolicyRestriction?
        if kind != 0 {
            guard let k = PolicyRestriction.Kind(rawValue: kind) else { throw fail() }
            let d = try r.sized(max: TPMLimits.maxDigestSize)
            guard d.count == n else { throw fail() }
            restriction = PolicyRestriction(kind: k, digest: d)
        }
        let flags = try r.u8()
        guard flags & ~0x3F == 0, flags & 0x18 != 0x10, flags & 3 != 3 else { throw fail() }
        let counter = try r.u32()
        guard flags & 32 != 0 || counter == 0 else { throw fail() }
        let start = try r.u64()
        let timeout = try r.u64()
        let epoch = try r.u64()
        self.init(digestSize: n, startTime: start, epoch: epoch)
        self.digest = digest
        commandCode = cc == 0 ? nil : TPMCC(cc)
        self.locality = locality
        self.restriction = restriction
        isAuthValueNeeded = flags & 1 != 0
        isPasswordNeeded = flags & 2 != 0
        isPPRequired = flags & 4 != 0
        nvWritten = flags & 8 != 0 ? flags & 16 != 0 : nil
        pcrUpdateCounter = flags & 32 != 0 ? counter : nil
        self.timeout = timeout
    }
}

extension Session {
    /// policyDigest_new = H(policyDigest_old || commandCode || parts...): the update almost
    /// every policy command makes (Part 3, 23).
    mutating func extendPolicy(_ code: TPMCC, _ parts: [UInt8]...) {
        guard var p = policy else { return }
        var h = Hasher(authHash)
        h.update(p.digest)
        h.update(u32Bytes(code.rawValue))
        for part in parts { h.update(part) }
        p.digest = h.finalize()
        policy = p
    }

    /// The reference's PolicyContextUpdate (PolicySigned, PolicySecret, PolicyTicket,
    /// PolicyAuthorize, PolicyAuthorizeNV): H(old || commandCode || name), then, with a
    /// policyRef, H(that || policyRef); a cpHashA becomes the session's cpHash, and the
    /// earliest timeout wins.
    mutating func policyContextUpdate(_ code: TPMCC, name: [UInt8]?, policyRef: [UInt8]?, cpHash: [UInt8]?, timeout: UInt64) {
        if let name { extendPolicy(code, name) } else { extendPolicy(code) }
        guard var p = policy else { return }
        if let policyRef { p.digest = authHash.digest([p.digest, policyRef]) }
        if let cpHash, !cpHash.isEmpty { p.restriction = PolicyRestriction(kind: .cpHash, digest: cpHash) }
        if timeout != 0 && (p.timeout == 0 || p.timeout > timeout) { p.timeout = timeout }
        policy = p
    }
}

/// Big-endian bytes of an integer, as the TPM marshals it.
func u32Bytes(_ v: UInt32) -> [UInt8] {
    [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
}

func u16Bytes(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(truncatingIfNeeded: v)] }

extension TPM {
    /// The power cycle Time values belong to: Time restarts at every _TPM_Init, and every
    /// TPM2_Startup that follows changes resetCount or restartCount. A policy deadline from
    /// another epoch has expired (the reference's g_timeEpoch).
    var timeEpoch: UInt64 { UInt64(persistent.resetCount) << 32 | UInt64(persistent.restartCount) }

    /// A fresh policy state for a new session, or for one whose nonce rolled.
    func newPolicyState(_ hash: HashAlgorithm) -> PolicyState {
        PolicyState(digestSize: hash.digestSize, startTime: currentTime(), epoch: timeEpoch)
    }

    /// The digest PolicyPCR compares and records (the reference's PCRComputeCurrentDigest):
    /// the selected PCR values, bank by bank in the order given, each bank's PCRs in
    /// ascending order, hashed with the session's hash. PCRs not allocated are dropped from
    /// the selection first; the filtered selection is also what enters the policyDigest, as
    /// in the reference and libtpms.
    func currentPCRDigest(_ hash: HashAlgorithm, _ selection: TPMLPCRSelection) -> (digest: [UInt8], filtered: TPMLPCRSelection) {
        var h = Hasher(hash)
        var filtered: [TPMSPCRSelection] = []
        for sel in selection.selections {
            var f = sel
            let bank = bankIndex(sel.hash).map { volatile.pcrBanks[$0] }
            for i in f.select.indices {
                let allocated = bank.map { UInt8(truncatingIfNeeded: $0.allocated >> UInt32(8 * i)) } ?? 0
                f.select[i] &= allocated
            }
            if let bank {
                for pcr in f.selectedPCRs where pcr < TPMLimits.pcrCount { h.update(bank.values[pcr]) }
            }
            filtered.append(f)
        }
        return (h.finalize(), TPMLPCRSelection(filtered))
    }

    // MARK: the policy check (Part 1, 19.7.4; the reference's CheckPolicyAuthSession)

    /// Checks that a policy session authorizes `entity` for this command. The order of the
    /// checks is the reference's; any failure refuses the authorization.
    func checkPolicySession(
        _ s: Session, entity: TPMHandle, role: AuthRole, code: TPMCC, locality: UInt8, cpHash: () -> [UInt8],
        nameHash: () -> [UInt8], templateHash: () -> [UInt8]?
    ) throws {
        guard let p = s.policy else { throw TPMError(.policyFail) }
        // PolicySecret needs an authValue or password check to mean anything (objects issue).
        if code == .policySecret && !p.isPasswordNeeded && !p.isAuthValueNeeded { throw TPMError(.mode) }
        if let counter = p.pcrUpdateCounter, counter != volatile.pcrUpdateCounter { throw TPMError(.pcrChanged) }
        let (alg, authPolicy) = authPolicy(of: entity)
        guard constantTimeEqual(p.digest, authPolicy) else { throw TPMError(.policyFail) }
        guard alg.rawValue == s.authHash.rawValue else { throw TPMError(.policyFail) }
        if p.timeout != 0 {
            if p.timeout < currentTime() || p.epoch != timeEpoch { throw TPMError(.expired) }
        }
        if let cc = p.commandCode {
            guard cc == code else { throw TPMError(.policyCC) }
        } else if role == .admin || role == .dup {
            throw TPMError(.policyFail)
        }
        if p.locality != 0 {
            if locality < 5 {
                guard p.locality & (1 << locality) != 0, p.locality <= 31 else { throw TPMError(.locality) }
            } else if locality > 31 {
                guard p.locality == locality else { throw TPMError(.locality) }
            } else {
                throw TPMError(.locality)
            }
        }
        if p.isPPRequired && !volatile.physicalPresence { throw TPMError(.pp) }
        if let r = p.restriction {
            let ok: Bool
            switch r.kind {
            case .cpHash: ok = constantTimeEqual(r.digest, cpHash())
            case .templateHash: ok = templateHash().map { constantTimeEqual(r.digest, $0) } ?? false
            case .nameHash: ok = constantTimeEqual(r.digest, nameHash())
            }
            guard ok else { throw TPMError(.policyFail) }
        }
        if let written = p.nvWritten {
            // PolicyNvWritten: only an NV Index has a written state (Part 3, 23.22).
            guard let index = nvIndex(entity), index.isWritten == written else { throw TPMError(.policyFail) }
        }
    }

    /// PolicyNV and PolicyCounterTimer comparisons (Part 3, 23.x; TPM_EO, Part 2, 6.8): A is
    /// the TPM's value, B the operand, both `size` octets, big-endian.
    static func policyCondition(_ op: UInt16, _ a: ArraySlice<UInt8>, _ b: [UInt8]) -> Bool {
        let a = Array(a)
        func unsigned() -> Int {
            for (x, y) in zip(a, b) where x != y { return x < y ? -1 : 1 }
            return 0
        }
        func signed() -> Int {
            guard let x = a.first, let y = b.first else { return 0 }
            let sa = x & 0x80 != 0
            let sb = y & 0x80 != 0
            if sa != sb { return sa ? -1 : 1 }
            return unsigned()
        }
        switch op {
        case 0x0000: return unsigned() == 0  // TPM_EO_EQ
        case 0x0001: return unsigned() != 0  // TPM_EO_NEQ
        case 0x0002: return signed() > 0  // TPM_EO_SIGNED_GT
        case 0x0003: return unsigned() > 0  // TPM_EO_UNSIGNED_GT
        case 0x0004: return signed() < 0  // TPM_EO_SIGNED_LT
        case 0x0005: return unsigned() < 0  // TPM_EO_UNSIGNED_LT
        case 0x0006: return signed() >= 0  // TPM_EO_SIGNED_GE
        case 0x0007: return unsigned() >= 0  // TPM_EO_UNSIGNED_GE
        case 0x0008: return signed() <= 0  // TPM_EO_SIGNED_LE
        case 0x0009: return unsigned() <= 0  // TPM_EO_UNSIGNED_LE
        case 0x000A: return zip(a, b).allSatisfy { $0 & $1 == $1 }  // TPM_EO_BITSET
        case 0x000B: return zip(a, b).allSatisfy { $0 & $1 == 0 }  // TPM_EO_BITCLEAR
        default: return false
        }
    }
}

// MARK: - the shared checks of PolicySigned, PolicySecret and PolicyTicket

extension TPM {
    /// The deadline an authorization with `expiration` sets (Part 3, 23.3; the reference's
    /// ComputeAuthTimeout), in Time: 0 for none; |expiration| seconds after the session's
    /// start when the caller gave the session's nonceTPM, otherwise |expiration| seconds of
    /// Time (keeping the current millisecond, so that it never expires early).
    func authTimeout(_ s: Session, expiration: Int32, nonceTPM: [UInt8]) -> UInt64 {
        guard expiration != 0, let p = s.policy else { return 0 }
        let seconds = UInt64(expiration.magnitude)
        if nonceTPM.isEmpty { return seconds * 1000 + currentTime() % 1000 }
        return p.startTime &+ seconds * 1000
    }

    /// The checks PolicySigned, PolicySecret and PolicyTicket make on their common parameters
    /// (the reference's PolicyParameterChecks), each error numbered for the parameter given:
    /// a nonceTPM that is not the session's (TPM_RC_NONCE), a deadline that has passed or
    /// belongs to another power cycle (TPM_RC_EXPIRED), a cpHashA of the wrong size
    /// (TPM_RC_SIZE) or other than the session's (TPM_RC_CPHASH).
    func policyParameterChecks(
        _ s: Session, authTimeout: UInt64, cpHashA: [UInt8], nonceTPM: [UInt8]?, nonceParameter: Int, cpHashParameter: Int,
        expirationParameter: Int
    ) throws {
        guard let p = s.policy else { throw TPMError(.policyFail) }
        if let nonceTPM, !nonceTPM.isEmpty, !constantTimeEqual(nonceTPM, s.nonceTPM) {
            throw TPMError(.nonce).parameter(nonceParameter)
        }
        if authTimeout != 0 && (authTimeout < currentTime() || p.epoch != timeEpoch) {
            throw TPMError(.expired).parameter(expirationParameter)
        }
        if !cpHashA.isEmpty {
            guard cpHashA.count == p.digest.count else { throw TPMError.size.parameter(cpHashParameter) }
            if let r = p.restriction, r.digest != cpHashA { throw TPMError(.cpHash) }
        }
    }
}

extension TPM {
    /// Physical presence, as the platform signals it (the mssim platform port's PP on and
    /// off): PolicyPhysicalPresence needs it asserted when the session is used.
    public func setPhysicalPresence(_ asserted: Bool) { volatile.physicalPresence = asserted }
}

// MARK: - authorization tickets (TPMT_TK_AUTH)

extension TPM {
    /// The flag in a TPM2B_TIMEOUT's top bit: the ticket was issued without a nonceTPM, so it
    /// also ends with the TPM Reset count (the timeout's format is the TPM's own, Part 2,
    /// 10.7.5; the reference marks it the same way).
    static let expiresOnResetBit: UInt64 = 1 << 63

    /// The hierarchy an entity belongs to, for its tickets (the reference's
    /// EntityGetHierarchy): a hierarchy handle itself (lockout and PCRs count as the owner's),
    /// an object's hierarchy, TPM_RH_NULL for a sequence object, the platform's for an NV Index
    /// with TPMA_NV_PLATFORMCREATE and the owner's for any other.
    func entityHierarchy(_ h: TPMHandle) -> TPMHandle {
        switch h.handleType {
        case .permanent?:
            switch h {
            case .platform, .endorsement, .null: return h
            default: return .owner
            }
        case .transient?, .persistent?: return keyObject(h)?.hierarchy ?? .null
        case .nvIndex?: return nvIndex(h).map { $0.attributes.contains(.platformCreate) ? .platform : .owner } ?? .null
        case .pcr?: return .owner
        default: return .null
        }
    }

    /// TPMT_TK_AUTH (Part 2, 10.7.5): HMAC_contextHash(proof(hierarchy), tag || cpHashA ||
    /// policyRef || authName || timeout [|| timeEpoch [|| resetCount]]): the time epoch when
    /// the ticket expires (its Time is meaningless in another power cycle), and the reset
    /// count as well when it was issued without a nonceTPM.
    func authTicket(
        _ tag: TPMST, hierarchy: TPMHandle, timeout: UInt64, expiresOnReset: Bool, cpHash: [UInt8], policyRef: [UInt8], name: [UInt8]
    ) -> TPMTTKAuth {
        var m = TPMWriter(capacity: 2 + cpHash.count + policyRef.count + name.count + 20)
        m.u16(tag.rawValue)
        m.bytes(cpHash)
        m.bytes(policyRef)
        m.bytes(name)
        m.u64(timeout)
        if timeout != 0 {
            m.u64(timeEpoch)
            if expiresOnReset { m.u32(persistent.resetCount) }
        }
        let hmac = TPM.contextIntegrityHash.hmac(key: hierarchyProof(hierarchy), data: m.bytes)
        return TPMTTKAuth(tag: tag, hierarchy: hierarchy, digest: TPM2BDigest(hmac))
    }

    /// The timeout and ticket PolicySigned and PolicySecret return: with a negative expiration
    /// in a policy session, the deadline (flagged when it ends with the TPM Reset) and its
    /// ticket; otherwise an empty timeout and a NULL ticket of `tag`.
    func authTicketResponse(
        _ tag: TPMST, session s: Session, entity: TPMHandle, expiration: Int32, timeout: UInt64, nonceTPM: [UInt8], cpHash: [UInt8],
        policyRef: [UInt8], name: [UInt8], to w: inout TPMWriter
    ) {
        guard expiration < 0, !s.isTrial else {
            w.sized([UInt8]())
            TPMTTKAuth(tag: tag, hierarchy: .null, digest: TPM2BDigest()).encode(to: &w)
            return
        }
        let expiresOnReset = nonceTPM.isEmpty
        let plain = timeout & ~TPM.expiresOnResetBit
        let ticket = authTicket(
            tag, hierarchy: entityHierarchy(entity), timeout: plain, expiresOnReset: expiresOnReset, cpHash: cpHash, policyRef: policyRef,
            name: name)
        var t = TPMWriter(capacity: 8)
        t.u64(expiresOnReset ? plain | TPM.expiresOnResetBit : plain)
        w.sized(t.bytes)
        ticket.encode(to: &w)
    }
}
