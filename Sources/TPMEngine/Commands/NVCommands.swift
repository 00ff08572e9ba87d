import TPMCrypto
import TPMWire

// NV Index commands (Part 3, 31). Dispatch has already checked that the Index exists and is
// visible (NvIndexIsAccessible: TPM_RC_HANDLE) and the authorization (Entity.swift: the Index's
// AUTHREAD/AUTHWRITE, POLICYREAD/POLICYWRITE); the handlers make the checks the reference's
// NvReadAccessChecks and NvWriteAccessChecks add (locks, OWNER/PP attributes, written state)
// in Part 3's order.

extension TPM {
    /// The Index a handler's handle names (dispatch checked it exists).
    private func definedIndex(_ h: TPMHandle, handle n: Int) throws -> NVIndex {
        guard let index = nvIndex(h) else { throw TPMError(.handle).handle(n) }
        return index
    }

    /// NvWriteAccessChecks: not write-locked (TPM_RC_NV_LOCKED); with owner or platform
    /// authorization the Index must allow it (OWNERWRITE, PPWRITE), otherwise the Index
    /// authorized itself (TPM_RC_NV_AUTHORIZATION).
    func nvWriteAccessCheck(auth: TPMHandle, _ index: NVIndex) throws {
        let a = index.attributes
        guard !a.contains(.writeLocked) else { throw TPMError(.nvLocked) }
        switch auth {
        case .owner: guard a.contains(.ownerWrite) else { throw TPMError(.nvAuthorization) }
        case .platform: guard a.contains(.ppWrite) else { throw TPMError(.nvAuthorization) }
        default: guard auth == index.publicArea.nvIndex else { throw TPMError(.nvAuthorization) }
        }
    }

    /// NvReadAccessChecks: not read-locked, OWNERREAD/PPREAD or the Index itself, then written
    /// (TPM_RC_NV_UNINITIALIZED, last so that NV_ReadLock sees the authorization errors first).
    func nvReadAccessCheck(auth: TPMHandle, _ index: NVIndex) throws {
        let a = index.attributes
        guard !a.contains(.readLocked) else { throw TPMError(.nvLocked) }
        switch auth {
        case .owner: guard a.contains(.ownerRead) else { throw TPMError(.nvAuthorization) }
        case .platform: guard a.contains(.ppRead) else { throw TPMError(.nvAuthorization) }
        default: guard auth == index.publicArea.nvIndex else { throw TPMError(.nvAuthorization) }
        }
        guard index.isWritten else { throw TPMError(.nvUninitialized) }
    }

    // MARK: defining and removing

    /// TPM2_NV_DefineSpace (Part 3, 31.3). Checks in the reference's order: authPolicy size
    /// (TPM_RC_SIZE + P2), authValue no longer than the nameAlg digest (TPM_RC_SIZE + P1),
    /// phEnableNV for the platform (TPM_RC_HIERARCHY + H1), the type and its size, the
    /// attribute rules (TPM_RC_ATTRIBUTES + P2, + H1 for PLATFORMCREATE against the
    /// hierarchy), WRITEALL within MAX_NV_BUFFER_SIZE, then TPM_RC_NV_DEFINED and
    /// TPM_RC_NV_SPACE.
    func nvDefineSpaceCommand(_ c: inout CommandContext) throws {
        let auth = try c.param(TPM2BAuth.self)
        let info = try c.param(TPM2BNVPublic.self).nvPublic
        try c.finish()
        let authHandle = c.handles[0]
        let a = info.attributes
        let nameSize = TPMLimits.digestSize(info.nameAlg) ?? 0
        func attributeError() -> TPMError { TPMError(.attributes).parameter(2) }

        guard info.authPolicy.count == 0 || info.authPolicy.count == nameSize else { throw TPMError.size.parameter(2) }
        let authValue = stripTrailingZeros(auth.buffer)
        guard authValue.count <= nameSize else { throw TPMError.size.parameter(1) }
        if authHandle == .platform && !volatile.startupClear.contains(.phEnableNV) { throw TPMError(.hierarchy).handle(1) }
        guard let type = a.type else { throw attributeError() }
        switch type {
        case .ordinary: guard Int(info.dataSize) <= TPMLimits.maxNVIndexSize else { throw TPMError.size.parameter(2) }
        case .extend: guard Int(info.dataSize) == nameSize else { throw TPMError.size.parameter(2) }
        case .counter, .bits, .pinPass, .pinFail: guard info.dataSize == 8 else { throw TPMError.size.parameter(2) }
        }
        switch type {
        case .counter: if a.contains(.clearSTClear) { throw attributeError() }
        case .pinFail, .pinPass:
            // A PIN Fail Index must be exempt from dictionary-attack protection; neither kind
            // may be written with its own authValue, globally locked or locked until deleted.
            if type == .pinFail && !a.contains(.noDA) { throw attributeError() }
            if !a.isDisjoint(with: [.authWrite, .globalLock, .writeDefine]) { throw attributeError() }
        default: break
        }
        if !a.isDisjoint(with: [.written, .writeLocked, .readLocked]) { throw attributeError() }
        if a.isDisjoint(with: [.ownerRead, .ppRead, .authRead, .policyRead]) { throw attributeError() }
        if a.isDisjoint(with: [.ownerWrite, .ppWrite, .authWrite, .policyWrite]) { throw attributeError() }
        if a.contains(.clearSTClear) && a.contains(.writeDefine) { throw attributeError() }
        if a.contains(.platformCreate) != (authHandle == .platform) { throw TPMError(.attributes).handle(1) }
        if a.contains(.policyDelete) && authHandle != .platform { throw attributeError() }
        if Int(info.dataSize) > TPMLimits.maxNVBuffer && a.contains(.writeAll) { throw TPMError.size.parameter(2) }
        guard nvIndex(info.nvIndex) == nil else { throw TPMError(.nvDefined) }
        let index = NVIndex(publicArea: info, authValue: authValue)
        guard nvHasSpace(index.nvCost, isIndex: true, isCounter: type == .counter) else { throw TPMError(.nvSpace) }
        if a.contains(.orderly) && !orderlyRAMHasSpace(Int(info.dataSize)) { throw TPMError(.nvSpace) }
        storeNVIndex(index)
    }

    /// TPM2_NV_UndefineSpace (Part 3, 31.4): not an Index that needs
    /// NV_UndefineSpaceSpecial (TPM_RC_ATTRIBUTES + H2); the owner may not remove a
    /// platform-created Index (TPM_RC_NV_AUTHORIZATION).
    func nvUndefineSpaceCommand(_ c: inout CommandContext) throws {
        try c.finish()
        let index = try definedIndex(c.handles[1], handle: 2)
        if index.attributes.contains(.policyDelete) { throw TPMError(.attributes).handle(2) }
        if c.handles[0] == .owner && index.attributes.contains(.platformCreate) { throw TPMError(.nvAuthorization) }
        deleteNVIndex(c.handles[1])
    }

    /// TPM2_NV_UndefineSpaceSpecial (Part 3, 31.5): only an Index with POLICY_DELETE
    /// (TPM_RC_ATTRIBUTES + H1), authorized by its policy (ADMIN role) and by the platform.
    func nvUndefineSpaceSpecialCommand(_ c: inout CommandContext) throws {
        try c.finish()
        let index = try definedIndex(c.handles[0], handle: 1)
        guard index.attributes.contains(.policyDelete) else { throw TPMError(.attributes).handle(1) }
        deleteNVIndex(c.handles[0])
        // The reference's SessionRemoveAssociationToHandle: the session that authorized the
        // Index answers as if it had authorized TPM_RH_NULL (no authValue in its response HMAC).
        for i in c.auth.sessions.indices where c.auth.sessions[i].authorizes == c.handles[0] {
            c.auth.sessions[i].checkedAuthValue = []
        }
    }

    /// TPM2_NV_ReadPublic (Part 3, 31.6): the public area and the Name.
    func nvReadPublicCommand(_ c: inout CommandContext) throws {
        try c.finish()
        let index = try definedIndex(c.handles[0], handle: 1)
        TPM2BNVPublic(index.publicArea).encode(to: &c.response)
        index.name.encode(to: &c.response)
    }

    // MARK: writing

    /// TPM2_NV_Write (Part 3, 31.7): an ordinary or PIN Index (TPM_RC_ATTRIBUTES, unnumbered
    /// as in the reference), offset within the Index (TPM_RC_VALUE + P2), data within it
    /// (TPM_RC_NV_RANGE), all of it with WRITEALL (TPM_RC_NV_RANGE).
    func nvWriteCommand(_ c: inout CommandContext) throws {
        let data = try c.param(TPM2BMaxNVBuffer.self)
        let offset = Int(try c.param { try $0.u16() })
        try c.finish()
        let index = try definedIndex(c.handles[1], handle: 2)
        try nvWriteAccessCheck(auth: c.handles[0], index)
        if [.counter, .bits, .extend].contains(index.type) { throw TPMError(.attributes) }
        let size = Int(index.publicArea.dataSize)
        guard offset <= size else { throw TPMError.value.parameter(2) }
        guard data.count <= size - offset else { throw TPMError(.nvRange) }
        if index.attributes.contains(.writeAll) && data.count < size { throw TPMError(.nvRange) }
        writeNVData(c.handles[1], offset: offset, data.buffer)
    }

    /// TPM2_NV_Increment (Part 3, 31.8): a counter Index (TPM_RC_ATTRIBUTES + H2); its first
    /// value is one more than the largest any counter has had (Part 1, 37.2.3).
    func nvIncrementCommand(_ c: inout CommandContext) throws {
        try c.finish()
        let index = try definedIndex(c.handles[1], handle: 2)
        try nvWriteAccessCheck(auth: c.handles[0], index)
        guard index.type == .counter else { throw TPMError(.attributes).handle(2) }
        let value = (index.isWritten ? index.uint64Value : persistent.nvMaxCounter) &+ 1
        writeNVData(c.handles[1], offset: 0, u64Bytes(value))
    }

    /// TPM2_NV_Extend (Part 3, 31.9): an extend Index (TPM_RC_ATTRIBUTES + H2) becomes
    /// H_nameAlg(old || data), old being zeros before the first extend.
    func nvExtendCommand(_ c: inout CommandContext) throws {
        let data = try c.param(TPM2BMaxNVBuffer.self)
        try c.finish()
        let index = try definedIndex(c.handles[1], handle: 2)
        try nvWriteAccessCheck(auth: c.handles[0], index)
        guard index.type == .extend, let h = HashAlgorithm(rawValue: index.publicArea.nameAlg.rawValue) else {
            throw TPMError(.attributes).handle(2)
        }
        let old = index.isWritten ? index.data : [UInt8](repeating: 0, count: h.digestSize)
        writeNVData(c.handles[1], offset: 0, h.digest([old, data.buffer]))
    }

    /// TPM2_NV_SetBits (Part 3, 31.10): a bit-field Index (TPM_RC_ATTRIBUTES + H2) ORed with
    /// `bits` (0 before the first write).
    func nvSetBitsCommand(_ c: inout CommandContext) throws {
        let bits = try c.param { try $0.u64() }
        try c.finish()
        let index = try definedIndex(c.handles[1], handle: 2)
        try nvWriteAccessCheck(auth: c.handles[0], index)
        guard index.type == .bits else { throw TPMError(.attributes).handle(2) }
        writeNVData(c.handles[1], offset: 0, u64Bytes((index.isWritten ? index.uint64Value : 0) | bits))
    }

    /// TPM2_NV_WriteLock (Part 3, 31.11): an Index already locked succeeds at once (only a
    /// TPM_RC_NV_AUTHORIZATION is reported); one without WRITEDEFINE or WRITE_STCLEAR cannot
    /// be locked (TPM_RC_ATTRIBUTES + H2).
    func nvWriteLockCommand(_ c: inout CommandContext) throws {
        try c.finish()
        var index = try definedIndex(c.handles[1], handle: 2)
        do {
            try nvWriteAccessCheck(auth: c.handles[0], index)
        } catch let e as TPMError where e.rc == .nvLocked {
            return
        }
        guard !index.attributes.isDisjoint(with: [.writeDefine, .writeSTClear]) else { throw TPMError(.attributes).handle(2) }
        index.attributes.insert(.writeLocked)
        storeNVIndex(index)
    }

    /// TPM2_NV_GlobalWriteLock (Part 3, 31.12): every Index with GLOBALLOCK is write-locked
    /// until the next TPM Reset or Restart.
    func nvGlobalWriteLockCommand(_ c: inout CommandContext) throws {
        try c.finish()
        for var index in persistent.nvIndices.values where index.attributes.contains(.globalLock) {
            if index.attributes.contains(.writeLocked) { continue }
            index.attributes.insert(.writeLocked)
            storeNVIndex(index)
        }
    }

    // MARK: reading

    /// TPM2_NV_Read (Part 3, 31.13): size within MAX_NV_BUFFER_SIZE (TPM_RC_VALUE + P1),
    /// offset within the Index (TPM_RC_VALUE + P2), the range within it (TPM_RC_NV_RANGE).
    func nvReadCommand(_ c: inout CommandContext) throws {
        let size = Int(try c.param { try $0.u16() })
        let offset = Int(try c.param { try $0.u16() })
        try c.finish()
        let index = try definedIndex(c.handles[1], handle: 2)
        try nvReadAccessCheck(auth: c.handles[0], index)
        guard size <= TPMLimits.maxNVBuffer else { throw TPMError.value.parameter(1) }
        guard offset <= index.data.count else { throw TPMError.value.parameter(2) }
        guard size <= index.data.count - offset else { throw TPMError(.nvRange) }
        TPM2BMaxNVBuffer(Array(index.data[offset..<(offset + size)])).encode(to: &c.response)
    }

    /// TPM2_NV_ReadLock (Part 3, 31.14): an Index already read-locked succeeds at once;
    /// one without READ_STCLEAR cannot be locked (TPM_RC_ATTRIBUTES + H2). An unwritten Index
    /// may be locked.
    func nvReadLockCommand(_ c: inout CommandContext) throws {
        try c.finish()
        var index = try definedIndex(c.handles[1], handle: 2)
        do {
            try nvReadAccessCheck(auth: c.handles[0], index)
        } catch let e as TPMError where e.rc == .nvLocked {
            return
        } catch let e as TPMError where e.rc == .nvUninitialized {
            // Part 3, 31.14: reading is not needed to lock.
        }
        guard index.attributes.contains(.readSTClear) else { throw TPMError(.attributes).handle(2) }
        index.attributes.insert(.readLocked)
        storeNVIndex(index)
    }

    /// TPM2_NV_ChangeAuth (Part 3, 31.15): authorized by the Index's policy (ADMIN role); the
    /// new authValue no longer than the nameAlg digest (TPM_RC_SIZE + P1).
    func nvChangeAuthCommand(_ c: inout CommandContext) throws {
        let newAuth = try c.param(TPM2BAuth.self)
        try c.finish()
        var index = try definedIndex(c.handles[0], handle: 1)
        let auth = stripTrailingZeros(newAuth.buffer)
        guard auth.count <= TPMLimits.digestSize(index.publicArea.nameAlg) ?? 0 else { throw TPMError.size.parameter(1) }
        index.authValue = auth
        storeNVIndex(index)
    }

    /// TPM2_NV_Certify (Part 3, 31.16): a signing key or TPM_RH_NULL (TPM_RC_KEY + H1), a
    /// compatible scheme (TPM_RC_SCHEME + P2), read access, the range (TPM_RC_NV_RANGE), size
    /// within MAX_NV_BUFFER_SIZE (TPM_RC_VALUE + P3). Size and offset 0 certify the digest of
    /// the whole Index with the scheme's hash (TPM_ST_ATTEST_NV_DIGEST), else the octets
    /// (TPM_ST_ATTEST_NV).
    func nvCertifyCommand(_ c: inout CommandContext) throws {
        let qualifyingData = try c.param(TPM2BData.self)
        let inScheme = try c.param(TPM.sigSchemeParameter)
        let size = Int(try c.param { try $0.u16() })
        let offset = Int(try c.param { try $0.u16() })
        try c.finish()
        let signer = try attestationSigner(c.handles[0], handleNumber: 1)
        let scheme = try attestationScheme(signer, requested: inScheme, parameter: 2)
        let index = try definedIndex(c.handles[2], handle: 3)
        try nvReadAccessCheck(auth: c.handles[1], index)
        guard size + offset <= index.data.count else { throw TPMError(.nvRange) }
        guard size <= TPMLimits.maxNVBuffer else { throw TPMError.value.parameter(3) }
        let attested: TPMUAttest
        if size != 0 || offset != 0 {
            attested = .nv(
                TPMSNVCertifyInfo(
                    indexName: index.name, offset: UInt16(offset), nvContents: TPM2BMaxNVBuffer(Array(index.data[offset..<(offset + size)]))
                ))
        } else {
            let digest = HashAlgorithm(rawValue: scheme.hashAlg.rawValue).map { $0.digest(index.data) } ?? []
            attested = .nvDigest(TPMSNVDigestCertifyInfo(indexName: index.name, nvDigest: TPM2BDigest(digest)))
        }
        let (certifyInfo, signature) = try attest(signer: signer, scheme: scheme, qualifyingData: qualifyingData, attested: attested)
        certifyInfo.encode(to: &c.response)
        signature.encode(to: &c.response)
    }
}
