import TPMCrypto
import TPMWire

extension TPM {
    // MARK: helpers

    /// A TPMI_RH_HIERARCHY+ parameter: owner, endorsement, platform or NULL, else TPM_RC_VALUE.
    static func hierarchyParameter(_ r: inout TPMReader) throws -> TPMHandle {
        let h = TPMHandle(try r.u32())
        guard HandleKind.hierarchy(allowNull: true).accepts(h) else { throw TPMError.value }
        return h
    }

    /// The implemented hash behind a TPMI_ALG_HASH that has already been checked.
    static func hashAlgorithm(_ alg: TPMAlgID) throws -> HashAlgorithm {
        guard let a = HashAlgorithm(rawValue: alg.rawValue) else { throw TPMError(.hash) }
        return a
    }

    /// Part 3, 17.5 (and TicketIsSafe in the reference code): a ticket may vouch for a digest
    /// only when the first block of the hashed data cannot be the start of a TPM-generated
    /// structure. A block shorter than TPM_GENERATED_VALUE could be its first octets, with
    /// the rest in the next block, so it is not safe either.
    static func firstBlockIsSafe(_ block: [UInt8]) -> Bool {
        guard block.count >= 4 else { return false }
        let value = UInt32(block[0]) << 24 | UInt32(block[1]) << 16 | UInt32(block[2]) << 8 | UInt32(block[3])
        return value != tpmGeneratedValue
    }

    /// TPMT_TK_HASHCHECK (Part 2, 10.7.6): HMAC(proof, TPM_ST_HASHCHECK || digest) with
    /// CONTEXT_INTEGRITY_HASH, keyed by the hierarchy's proof.
    func hashCheckTicket(hierarchy: TPMHandle, digest: [UInt8]) -> TPMTTKHashcheck {
        var m = TPMWriter(capacity: 2 + digest.count)
        m.u16(TPMST.hashCheck.rawValue)
        m.bytes(digest)
        let hmac = TPM.contextIntegrityHash.hmac(key: hierarchyProof(hierarchy), data: m.bytes)
        return TPMTTKHashcheck(tag: .hashCheck, hierarchy: hierarchy, digest: TPM2BDigest(hmac))
    }

    // MARK: commands

    /// TPM2_Hash (Part 3, 15.4). No ticket for TPM_RH_NULL or for data that starts with
    /// TPM_GENERATED_VALUE (data shorter than that value cannot start with it). The
    /// hierarchy need not be enabled: Part 3 lists no such check, and libtpms makes none.
    func hashCommand(_ c: inout CommandContext) throws {
        let data = try c.param(TPM2BMaxBuffer.self)
        let hashAlg = try c.param { try TPMIAlgHash(from: &$0, allowNull: false) }
        let hierarchy = try c.param(TPM.hierarchyParameter)
        try c.finish()
        let digest = try TPM.hashAlgorithm(hashAlg.alg).digest(data.buffer)
        let ticketSafe = data.count < 4 || TPM.firstBlockIsSafe(data.buffer)
        let ticket = hierarchy == .null || !ticketSafe ? TPMTTKHashcheck.null : hashCheckTicket(hierarchy: hierarchy, digest: digest)
        TPM2BDigest(digest).encode(to: &c.response)
        ticket.encode(to: &c.response)
    }

    /// TPM2_HashSequenceStart (Part 3, 17.3): TPM_ALG_NULL starts an event sequence that
    /// hashes with every implemented hash (Part 1, 32.4). The object takes a transient slot
    /// (TPM_RC_OBJECT_MEMORY when none is free).
    func hashSequenceStartCommand(_ c: inout CommandContext) throws {
        let auth = try c.param(TPM2BAuth.self)
        let hashAlg = try c.param { try TPMIAlgHash(from: &$0, allowNull: true) }
        try c.finish()
        let kind: SequenceObject.Kind
        if hashAlg.isNull {
            kind = .event(try TPMLimits.hashAlgorithms.map { ExportableHasher(try TPM.hashAlgorithm($0)) })
        } else {
            kind = .hash(ExportableHasher(try TPM.hashAlgorithm(hashAlg.alg)))
        }
        // Trailing zeros of an authValue are not significant (Part 1, 19.6.4).
        let sequence = SequenceObject(
            kind: kind, authValue: stripTrailingZeros(auth.buffer), firstBlockChecked: false, ticketAllowed: false)
        c.responseHandle = try loadTransientObject(.sequence(sequence))
    }

    /// TPM2_HMAC_Start (Part 3, 17.2): an HMAC sequence keyed by a loaded HMAC key, in a free
    /// transient slot (TPM_RC_OBJECT_MEMORY). Checks in the reference's order: a KEYEDHASH
    /// object (TPM_RC_TYPE + H1), not restricted (TPM_RC_ATTRIBUTES + H1), a signing key
    /// (TPM_RC_KEY + H1); the hash is the key's scheme's, and hashAlg must then be NULL or the
    /// same, or, for a key without a scheme, hashAlg itself (TPM_RC_VALUE + P2 when none
    /// results).
    func hmacStartCommand(_ c: inout CommandContext) throws {
        let auth = try c.param(TPM2BAuth.self)
        let hashAlg = try c.param { try TPMIAlgHash(from: &$0, allowNull: true) }.alg
        try c.finish()
        guard let k = keyObject(c.handles[0]), k.type == .keyedHash, case .keyedHash(let parms) = k.publicArea.parameters else {
            throw TPMError(.type).handle(1)
        }
        if k.attributes.has(.restricted) { throw TPMError(.attributes).handle(1) }
        guard k.attributes.has(.sign), case .keyedHash(let key)? = k.sensitive?.sensitive else { throw TPMError(.key).handle(1) }
        var alg = hashAlg
        if case .hmac(let schemeHash) = parms.scheme.details {
            alg = hashAlg == .null || hashAlg == schemeHash ? schemeHash : .null
        }
        guard alg != .null else { throw TPMError.value.parameter(2) }
        let (inner, k0) = HMACSequence.start(try TPM.hashAlgorithm(alg), key: key.buffer)
        // Trailing zeros of an authValue are not significant (Part 1, 19.6.4).
        let sequence = SequenceObject(
            kind: .hmac(inner: inner, key: k0), authValue: stripTrailingZeros(auth.buffer), firstBlockChecked: false, ticketAllowed: false)
        c.responseHandle = try loadTransientObject(.sequence(sequence))
    }

    /// TPM2_SequenceUpdate (Part 3, 17.4): anything but a sequence object is TPM_RC_MODE.
    /// The first block of a hash sequence decides whether it may earn a ticket.
    func sequenceUpdateCommand(_ c: inout CommandContext) throws {
        let buffer = try c.param(TPM2BMaxBuffer.self)
        try c.finish()
        let handle = c.handles[0]
        guard var s = sequenceObject(handle) else { throw TPMError(.mode).handle(1) }
        switch s.kind {
        case .hash(var h):
            if !s.firstBlockChecked {
                s.firstBlockChecked = true
                s.ticketAllowed = TPM.firstBlockIsSafe(buffer.buffer)
            }
            h.update(buffer.buffer)
            s.kind = .hash(h)
        case .event(var hs):
            for i in hs.indices { hs[i].update(buffer.buffer) }
            s.kind = .event(hs)
        case .hmac(var inner, let key):
            inner.update(buffer.buffer)
            s.kind = .hmac(inner: inner, key: key)
        }
        storeSequenceObject(s, at: handle)
    }

    /// TPM2_SequenceComplete (Part 3, 17.5): the last block, the digest, a ticket unless the
    /// hierarchy is NULL or the first block was not safe; the sequence object is flushed.
    /// An event sequence is TPM_RC_MODE (it completes with EventSequenceComplete). An HMAC
    /// sequence returns the HMAC and never a ticket (a NULL one, whatever the hierarchy).
    func sequenceCompleteCommand(_ c: inout CommandContext) throws {
        let buffer = try c.param(TPM2BMaxBuffer.self)
        let hierarchy = try c.param(TPM.hierarchyParameter)
        try c.finish()
        let handle = c.handles[0]
        if let s = sequenceObject(handle), case .hmac(var inner, let key) = s.kind {
            inner.update(buffer.buffer)
            flushTransientObject(handle)
            TPM2BDigest(HMACSequence.finish(inner: inner, key: key)).encode(to: &c.response)
            TPMTTKHashcheck.null.encode(to: &c.response)
            return
        }
        guard var s = sequenceObject(handle), case .hash(var h) = s.kind else { throw TPMError(.mode).handle(1) }
        h.update(buffer.buffer)
        let digest = h.finalize()
        if !s.firstBlockChecked {
            s.firstBlockChecked = true
            s.ticketAllowed = TPM.firstBlockIsSafe(buffer.buffer)
        }
        let ticket = hierarchy == .null || !s.ticketAllowed ? TPMTTKHashcheck.null : hashCheckTicket(hierarchy: hierarchy, digest: digest)
        flushTransientObject(handle)
        TPM2BDigest(digest).encode(to: &c.response)
        ticket.encode(to: &c.response)
    }

    /// TPM2_EventSequenceComplete (Part 3, 17.6): completes every bank's digest, extends them
    /// into the PCR's allocated banks (as PCR_Event does) unless pcrHandle is TPM_RH_NULL,
    /// and flushes the sequence. A hash sequence is TPM_RC_MODE (handle 2); the locality
    /// check follows it, as in the reference code.
    func eventSequenceCompleteCommand(_ c: inout CommandContext) throws {
        let buffer = try c.param(TPM2BMaxBuffer.self)
        try c.finish()
        let pcrHandle = c.handles[0]
        let handle = c.handles[1]
        guard let s = sequenceObject(handle), case .event(var hs) = s.kind else { throw TPMError(.mode).handle(2) }
        let pcr = pcrHandle == .null ? nil : Int(pcrHandle.rawValue)
        if let pcr { guard extendAllowed(pcr, locality: c.locality) else { throw TPMError(.locality) } }
        var results: [TPMTHA] = []
        for i in hs.indices {
            hs[i].update(buffer.buffer)
            results.append(TPMTHA(hashAlg: TPMAlgID(hs[i].algorithm.rawValue), digest: hs[i].finalize()))
        }
        if let pcr {
            for d in results {
                if let b = bankIndex(d.hashAlg), volatile.pcrBanks[b].isAllocated(pcr) {
                    volatile.pcrBanks[b].extend(pcr, d.digest)
                    pcrChanged(pcr)
                }
            }
        }
        flushTransientObject(handle)
        TPMLDigestValues(results).encode(to: &c.response)
    }
}
