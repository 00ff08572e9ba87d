import TPMCrypto
import TPMWire

extension TPM {
    /// PCRComputeCurrentDigest (Part 4): the `alg` digest of the selected PCRs, bank by bank in
    /// the order of the selection and in PCR order within a bank. Selected PCRs that are not
    /// allocated, and banks that do not exist, are removed from the selection first (FilterPcr);
    /// the filtered selection is returned with the digest.
    func pcrDigest(_ alg: TPMAlgID, selection: TPMLPCRSelection) throws -> (TPMLPCRSelection, [UInt8]) {
        guard let h = alg.hashAlgorithm else { throw TPMError(.hash) }
        var hasher = Hasher(h)
        var filtered: [TPMSPCRSelection] = []
        for var s in selection.selections {
            let bank = bankIndex(s.hash).map { volatile.pcrBanks[$0] }
            for pcr in s.selectedPCRs where !(bank?.isAllocated(pcr) ?? false) {
                s.select[pcr / 8] &= ~UInt8(1 << (pcr % 8))
            }
            if let bank {
                for pcr in s.selectedPCRs { hasher.update(bank.values[pcr]) }
            }
            filtered.append(s)
        }
        return (TPMLPCRSelection(filtered), hasher.finalize())
    }
}

// Attestation commands (Part 3, 18): the TPM signs a TPMS_ATTEST (Part 2, 10.12) describing a
// key, a PCR state, a creation or the time. The common part follows the reference's
// FillInAttestInfo and SignAttestInfo.

extension TPM {
    /// TPM_PT_FIRMWARE_VERSION_1 || _2.
    static var firmwareVersion: UInt64 { UInt64(TPMIdentity.firmwareVersion1) << 32 | UInt64(TPMIdentity.firmwareVersion2) }

    static let obfuscateLabel = "OBFUSCATE"

    /// The signing key of an attestation command: nil for TPM_RH_NULL (a NULL signature),
    /// else a key object that may sign (TPM_RC_KEY on the sign handle, handle `number`).
    func attestationSigner(_ h: TPMHandle, handleNumber: Int) throws -> KeyObject? {
        if h == .null { return nil }
        guard let k = keyObject(h), TPM.isSigningObject(k) else { throw TPMError(.key).handle(handleNumber) }
        return k
    }

    /// FillInAttestInfo and SignAttestInfo (Part 3, 18.1; Part 4, 7.2):
    /// - qualifiedSigner: the signer's Qualified Name, TPM_RH_NULL's handle without a signer;
    /// - extraData: qualifyingData;
    /// - clockInfo and firmwareVersion, obfuscated unless the signer is in the endorsement or
    ///   platform hierarchy: firmwareVersion, resetCount and restartCount each get added (modulo
    ///   their size) the big-endian integers of octets 0-7, 8-11 and 12-15 of
    ///   KDFa(CONTEXT_INTEGRITY_HASH, shProof, "OBFUSCATE", qualifiedSigner, "", 128);
    /// then the marshalled TPMS_ATTEST is hashed with the scheme's hash and signed. A signature
    /// clears an orderly shutdown state, since it reveals Clock (as the reference does).
    func attest(
        signer: KeyObject?, scheme: TPMUSigScheme, qualifyingData: TPM2BData, attested: TPMUAttest
    ) throws -> (TPM2BAttest, TPMTSignature) {
        let qualifiedSigner = signer?.qualifiedName ?? TPM.handleName(.null)
        var clock = clockInfo
        var firmware = TPM.firmwareVersion
        if signer == nil || (signer?.hierarchy != .endorsement && signer?.hierarchy != .platform) {
            let o = kdfa(
                TPM.contextIntegrityHash, key: persistent.shProof, label: TPM.obfuscateLabel, contextU: qualifiedSigner.buffer,
                contextV: [], bits: 128)
            firmware &+= TPM.bigEndian(o[0..<8])
            clock.resetCount &+= UInt32(truncatingIfNeeded: TPM.bigEndian(o[8..<12]))
            clock.restartCount &+= UInt32(truncatingIfNeeded: TPM.bigEndian(o[12..<16]))
        }
        let info = TPMSAttest(
            qualifiedSigner: qualifiedSigner, extraData: qualifyingData, clockInfo: clock, firmwareVersion: firmware, attested: attested)
        let bytes = info.wireBytes
        guard let signer else { return (TPM2BAttest(bytes), .null) }
        let digest = try TPM.digest(scheme.hashAlg, bytes)
        let signature = try sign(signer, scheme: scheme, digest: digest)
        clearOrderlyState()
        return (TPM2BAttest(bytes), signature)
    }

    static func bigEndian(_ b: ArraySlice<UInt8>) -> UInt64 { b.reduce(0) { $0 << 8 | UInt64($1) } }

    /// The scheme of an attestation (CryptSelectSignScheme): the NULL scheme without a signer,
    /// else the selected one (TPM_RC_SCHEME on the scheme parameter when incompatible).
    func attestationScheme(_ signer: KeyObject?, requested: TPMTSigScheme, parameter: Int) throws -> TPMUSigScheme {
        guard let signer else { return .null }
        guard let s = TPM.selectSignScheme(signer, requested: requested.details) else { throw TPMError(.scheme).parameter(parameter) }
        return s
    }

    static func sigSchemeParameter(_ r: inout TPMReader) throws -> TPMTSigScheme {
        try TPMTSigScheme(from: &r, allowNull: true, support: TPM.algorithmSupport)
    }

    // MARK: TPM2_Quote

    /// TPM2_Quote (Part 3, 18.4): the digest, with the scheme's hash, of the selected PCRs
    /// (unallocated ones dropped from the selection), signed. Checks: a signing key
    /// (TPM_RC_KEY + H1), a compatible scheme with a hash (TPM_RC_SCHEME + P2). signHandle may
    /// be TPM_RH_NULL (TPMI_DH_OBJECT+), but then the NULL scheme has no hash to digest the
    /// PCRs with: TPM_RC_SCHEME + P2, as in libtpms.
    func quoteCommand(_ c: inout CommandContext) throws {
        let qualifyingData = try c.param(TPM2BData.self)
        let inScheme = try c.param(TPM.sigSchemeParameter)
        let selection = try c.param(TPMLPCRSelection.self)
        try c.finish()
        let signer = try attestationSigner(c.handles[0], handleNumber: 1)
        let scheme = try attestationScheme(signer, requested: inScheme, parameter: 2)
        guard scheme.hashAlg != .null else { throw TPMError(.scheme).parameter(2) }
        let (filtered, digest) = try pcrDigest(scheme.hashAlg, selection: selection)
        let (quoted, signature) = try attest(
            signer: signer, scheme: scheme, qualifyingData: qualifyingData,
            attested: .quote(TPMSQuoteInfo(pcrSelect: filtered, pcrDigest: TPM2BDigest(digest))))
        quoted.encode(to: &c.response)
        signature.encode(to: &c.response)
    }

    // MARK: TPM2_Certify

    /// TPM2_Certify (Part 3, 18.2): the Name and Qualified Name of a loaded object, signed.
    /// Checks: a signing key or TPM_RH_NULL (TPM_RC_KEY + H2), a compatible scheme
    /// (TPM_RC_SCHEME + P2).
    func certifyCommand(_ c: inout CommandContext) throws {
        let qualifyingData = try c.param(TPM2BData.self)
        let inScheme = try c.param(TPM.sigSchemeParameter)
        try c.finish()
        let signer = try attestationSigner(c.handles[1], handleNumber: 2)
        let scheme = try attestationScheme(signer, requested: inScheme, parameter: 2)
        let object = keyObject(c.handles[0])
        let info = TPMSCertifyInfo(name: object?.name ?? TPM2BName(), qualifiedName: object?.qualifiedName ?? TPM2BName())
        let (certifyInfo, signature) = try attest(signer: signer, scheme: scheme, qualifyingData: qualifyingData, attested: .certify(info))
        certifyInfo.encode(to: &c.response)
        signature.encode(to: &c.response)
    }

    // MARK: TPM2_CertifyCreation

    /// TPM2_CertifyCreation (Part 3, 18.3): vouches that the TPM created `objectHandle` with
    /// `creationHash`, proven by the creation ticket. Checks: a signing key or TPM_RH_NULL
    /// (TPM_RC_KEY + H1), a compatible scheme (TPM_RC_SCHEME + P3), the ticket
    /// (TPM_RC_TICKET + P4).
    func certifyCreationCommand(_ c: inout CommandContext) throws {
        let qualifyingData = try c.param(TPM2BData.self)
        let creationHash = try c.param(TPM2BDigest.self)
        let inScheme = try c.param(TPM.sigSchemeParameter)
        let ticket = try c.param(TPMTTKCreation.self)
        try c.finish()
        let signer = try attestationSigner(c.handles[0], handleNumber: 1)
        let scheme = try attestationScheme(signer, requested: inScheme, parameter: 3)
        let name = keyObject(c.handles[1])?.name ?? TPM2BName()
        let expected = creationTicket(hierarchy: ticket.hierarchy, name: name, creationHash: creationHash.buffer)
        guard constantTimeEqual(expected.digest.buffer, ticket.digest.buffer) else { throw TPMError(.ticket).parameter(4) }
        let (certifyInfo, signature) = try attest(
            signer: signer, scheme: scheme, qualifyingData: qualifyingData,
            attested: .creation(TPMSCreationInfo(objectName: name, creationHash: creationHash)))
        certifyInfo.encode(to: &c.response)
        signature.encode(to: &c.response)
    }

    // MARK: TPM2_GetTime

    /// TPM2_GetTime (Part 3, 18.7): Time, Clock and the firmware version in the clear, signed;
    /// authorized by the endorsement hierarchy (the privacy administrator). Checks: a signing
    /// key or TPM_RH_NULL (TPM_RC_KEY + H2), a compatible scheme (TPM_RC_SCHEME + P2).
    func getTimeCommand(_ c: inout CommandContext) throws {
        let qualifyingData = try c.param(TPM2BData.self)
        let inScheme = try c.param(TPM.sigSchemeParameter)
        try c.finish()
        let signer = try attestationSigner(c.handles[1], handleNumber: 2)
        let scheme = try attestationScheme(signer, requested: inScheme, parameter: 2)
        let time = TPMSTimeAttestInfo(time: timeInfo, firmwareVersion: TPM.firmwareVersion)
        let (attestation, signature) = try attest(signer: signer, scheme: scheme, qualifyingData: qualifyingData, attested: .time(time))
        attestation.encode(to: &c.response)
        signature.encode(to: &c.response)
    }
}
