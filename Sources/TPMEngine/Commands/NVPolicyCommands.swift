import TPMCrypto
import TPMWire

// The policy commands that read an NV Index (Part 3, 23.9, 23.22, 23.23). PolicyNV and
// PolicyAuthorizeNV take the Index's authorization handle first, the Index second and the
// policy session third; a trial session skips the checks against the Index's contents.

extension TPM {
    /// The policy or trial session at handle `i` of a policy command.
    private func nvPolicySession(_ c: CommandContext, at i: Int) throws -> Session {
        guard i < c.handles.count, let s = loadedSession(c.handles[i]), s.policy != nil else { throw TPMError(.referenceHandle(i)) }
        return s
    }

    /// TPM2_PolicyNV (Part 3, 23.9): the Index may be read (NvReadAccessChecks), offset within
    /// it (TPM_RC_VALUE + P2), operandB within the rest (TPM_RC_SIZE + P1), and the comparison
    /// of its octets at offset with operandB holds (TPM_RC_POLICY). Then
    ///   args = H(operandB.buffer || offset || operation)
    ///   policyDigest_new = H(policyDigest_old || TPM_CC_PolicyNV || args || nvIndex->Name)
    func policyNVCommand(_ c: inout CommandContext) throws {
        let operandB = try c.param { try $0.sized(max: TPMLimits.maxDigestSize) }
        let offset = Int(try c.param { try $0.u16() })
        let operation = try c.param { r -> UInt16 in
            // TPM_EO (Part 2, 6.8): TPM_EO_EQ ... TPM_EO_BITCLEAR.
            let op = try r.u16()
            guard op <= 0x000B else { throw TPMError.value }
            return op
        }
        try c.finish()
        var s = try nvPolicySession(c, at: 2)
        guard let index = nvIndex(c.handles[1]) else { throw TPMError(.handle).handle(2) }
        if !s.isTrial {
            try nvReadAccessCheck(auth: c.handles[0], index)
            guard offset <= index.data.count else { throw TPMError.value.parameter(2) }
            guard index.data.count - offset >= operandB.count else { throw TPMError.size.parameter(1) }
            guard TPM.policyCondition(operation, index.data[offset..<(offset + operandB.count)], operandB) else {
                throw TPMError(.policy)
            }
        }
        let args = s.authHash.digest([operandB, u16Bytes(UInt16(offset)), u16Bytes(operation)])
        s.extendPolicy(.policyNV, args, index.name.buffer)
        storeSession(s, at: c.handles[2])
    }

    /// TPM2_PolicyNvWritten (Part 3, 23.22): the authorized Index must have TPMA_NV_WRITTEN as
    /// `writtenSet` when the session is used; a contradicting earlier setting is TPM_RC_VALUE
    /// + P1. policyDigest_new = H(policyDigest_old || TPM_CC_PolicyNvWritten || writtenSet).
    func policyNvWrittenCommand(_ c: inout CommandContext) throws {
        let writtenSet = try c.param(TPMIYesNo.self).value
        try c.finish()
        var s = try nvPolicySession(c, at: 0)
        if let earlier = s.policy?.nvWritten, earlier != writtenSet { throw TPMError.value.parameter(1) }
        s.policy?.nvWritten = writtenSet
        s.extendPolicy(.policyNvWritten, [writtenSet ? 1 : 0])
        storeSession(s, at: c.handles[0])
    }

    /// TPM2_PolicyAuthorizeNV (Part 3, 23.23): the Index holds a TPMT_HA whose hash is the
    /// session's (TPM_RC_HASH) and whose digest is the current policyDigest (TPM_RC_VALUE);
    /// then the digest restarts from zeros and becomes H(0...0 || TPM_CC_PolicyAuthorizeNV ||
    /// nvIndex->Name).
    func policyAuthorizeNVCommand(_ c: inout CommandContext) throws {
        try c.finish()
        var s = try nvPolicySession(c, at: 2)
        guard let index = nvIndex(c.handles[1]), var p = s.policy else { throw TPMError(.handle).handle(2) }
        if !s.isTrial {
            try nvReadAccessCheck(auth: c.handles[0], index)
            // TPMT_HA without TPM_ALG_NULL, read from at most sizeof(TPMT_HA) octets; its
            // unmarshalling error is the command's (unnumbered, as in the reference).
            var r = TPMReader(Array(index.data.prefix(2 + TPMLimits.maxDigestSize)))
            let alg = try TPMIAlgHash(from: &r, allowNull: false).alg
            guard let size = TPMLimits.digestSize(alg) else { throw TPMError(.hash) }
            let digest = try r.bytes(size)
            guard alg.rawValue == s.authHash.rawValue else { throw TPMError(.hash) }
            guard constantTimeEqual(digest, p.digest) else { throw TPMError.value }
        }
        p.digest = [UInt8](repeating: 0, count: s.authHash.digestSize)
        s.policy = p
        s.policyContextUpdate(.policyAuthorizeNV, name: index.name.buffer, policyRef: nil, cpHash: nil, timeout: 0)
        storeSession(s, at: c.handles[2])
    }
}
