import TPMCrypto
import TPMWire

// Object commands (Part 3, 12) and TPM2_CreatePrimary (Part 3, 24.1). Each handler reads its
// parameters, checks in the order of Part 3 and the reference implementation (libtpms agrees
// for every code the tests assert), then acts. The object model is in KeyObject.swift, the
// attribute rules in ObjectValidation.swift, private-area protection in Protection.swift and
// key generation in PrimaryKeys.swift.

extension TPM {
    // MARK: helpers

    /// The hierarchy an entity belongs to (EntityGetHierarchy): a hierarchy handle is its own,
    /// an object its recorded hierarchy.
    func hierarchy(of h: TPMHandle) -> TPMHandle {
        switch h {
        case .owner, .endorsement, .platform: return h
        default: return keyObject(h)?.hierarchy ?? .null
        }
    }

    /// A TPM2B_PUBLIC parameter; `allowNull` is the "+" of LoadExternal's +TPM2B_PUBLIC.
    static func publicParameter(allowNull: Bool) -> (inout TPMReader) throws -> TPMTPublic {
        { try TPM2BPublic(from: &$0, allowNull: allowNull, support: TPM.algorithmSupport).publicArea }
    }

    /// TPMA_LOCALITY of the command's locality (LocalityGetAttributes): one bit for 0-4, the
    /// value itself for an extended locality.
    static func localityAttributes(_ locality: UInt8) -> TPMALocality {
        locality < 5 ? TPMALocality(rawValue: 1 << locality) : TPMALocality(rawValue: locality)
    }

    /// FillInCreationData (Part 3, 12.1 / 24.1): the creation data of an object created under
    /// `parent` (a hierarchy or a loaded object) and its nameAlg digest, the creationHash.
    func creationData(
        parent: TPMHandle, nameAlg: TPMAlgID, pcrSelection: TPMLPCRSelection, outsideInfo: TPM2BData, locality: UInt8
    ) throws -> (TPMSCreationData, [UInt8]) {
        let (selection, pcrDigest) = try pcrDigest(nameAlg, selection: pcrSelection)
        let parentName: TPM2BName
        let parentQN: TPM2BName
        var parentNameAlg = TPMAlgID.null
        if parent.handleType == .permanent {
            // A hierarchy's Name and Qualified Name are its handle.
            parentName = TPM.handleName(parent)
            parentQN = parentName
        } else {
            guard let p = keyObject(parent) else { throw TPMError(.handle) }
            parentNameAlg = p.nameAlg
            parentName = p.name
            parentQN = p.qualifiedName
        }
        let data = TPMSCreationData(
            pcrSelect: selection, pcrDigest: TPM2BDigest(pcrDigest), locality: TPM.localityAttributes(locality),
            parentNameAlg: parentNameAlg, parentName: parentName, parentQualifiedName: parentQN, outsideInfo: outsideInfo)
        return (data, try TPM.digest(nameAlg, data.wireBytes))
    }

    /// TPMT_TK_CREATION (Part 2, 10.7.3; TicketComputeCreation):
    /// HMAC_contextHash(proof(hierarchy), TPM_ST_CREATION || name || creationHash).
    func creationTicket(hierarchy: TPMHandle, name: TPM2BName, creationHash: [UInt8]) -> TPMTTKCreation {
        var m = TPMWriter(capacity: 2 + name.count + creationHash.count)
        m.u16(TPMST.creation.rawValue)
        m.bytes(name.buffer)
        m.bytes(creationHash)
        let hmac = TPM.contextIntegrityHash.hmac(key: hierarchyProof(hierarchy), data: m.bytes)
        return TPMTTKCreation(hierarchy: hierarchy, digest: TPM2BDigest(hmac))
    }

    /// Loads a key object into the lowest free slot (the caller checked that one is free).
    func loadKeyObject(_ k: KeyObject) throws -> TPMHandle { try loadTransientObject(.key(k)) }

    /// The flags and hierarchy a newly loaded object inherits (ObjectSetLoadedAttributes):
    /// from the hierarchy for a primary object, from the parent object otherwise.
    func inheritedFlags(parent: TPMHandle, publicArea: TPMTPublic) -> (TPMHandle, KeyObject.Flags) {
        var flags: KeyObject.Flags = publicArea.objectAttributes.has(.stClear) ? [.stClear] : []
        if parent.handleType == .permanent {
            if parent != .null { flags.insert(.primary) }
            return (parent, flags)
        }
        let p = keyObject(parent)
        if p?.flags.contains(.stClear) == true { flags.insert(.stClear) }
        return (p?.hierarchy ?? .null, flags)
    }

    // MARK: TPM2_CreatePrimary

    /// TPM2_CreatePrimary (Part 3, 24.1): a primary object derived from the hierarchy's seed
    /// (PrimaryKeys.swift; the same template, data and seed always give the same object), loaded
    /// into a free slot. Checks: a free slot (TPM_RC_OBJECT_MEMORY), CreateChecks on inPublic
    /// (P2), the authValue's size (TPM_RC_SIZE + P1).
    func createPrimaryCommand(_ c: inout CommandContext) throws {
        let inSensitive = try c.param(TPM2BSensitiveCreate.self).sensitive
        let template = try c.param(TPM.publicParameter(allowNull: false))
        let outsideInfo = try c.param(TPM2BData.self)
        let creationPCR = try c.param(TPMLPCRSelection.self)
        try c.finish()
        let primaryHandle = c.handles[0]
        guard freeTransientHandle != nil else { throw TPMError(.objectMemory) }
        do {
            try ObjectValidation.createChecks(parent: nil, publicArea: template, sensitiveDataSize: inSensitive.data.count)
        } catch let e as TPMError {
            throw e.parameter(2)
        }
        guard let auth = ObjectValidation.adjustAuthSize(inSensitive.userAuth.buffer, nameAlg: template.nameAlg) else {
            throw TPMError.size.parameter(1)
        }
        var source = try ObjectCreation.primarySource(
            seed: primarySeed(primaryHandle), template: template, sensitiveData: inSensitive.data.buffer)
        let created = try ObjectCreation.create(template: template, auth: auth, data: inSensitive.data.buffer, source: &source)
        let name = try created.publicArea.name(hash: TPM.digest)
        let (creation, creationHash) = try creationData(
            parent: primaryHandle, nameAlg: template.nameAlg, pcrSelection: creationPCR, outsideInfo: outsideInfo, locality: c.locality)
        let ticket = creationTicket(hierarchy: primaryHandle, name: name, creationHash: creationHash)
        let (hierarchy, flags) = inheritedFlags(parent: primaryHandle, publicArea: created.publicArea)
        let object = KeyObject(
            publicArea: created.publicArea, sensitive: created.sensitive, name: name,
            qualifiedName: try qualifiedName(of: name, nameAlg: template.nameAlg, parent: primaryHandle), hierarchy: hierarchy,
            flags: flags, material: created.material)
        c.responseHandle = try loadKeyObject(object)
        TPM2BPublic(created.publicArea).encode(to: &c.response)
        TPM2BCreationData(creation).encode(to: &c.response)
        TPM2BDigest(creationHash).encode(to: &c.response)
        ticket.encode(to: &c.response)
        name.encode(to: &c.response)
    }

    // MARK: TPM2_Create

    /// TPM2_Create (Part 3, 12.1): an ordinary object under a storage parent, returned wrapped
    /// by the parent (Protection.swift), not loaded. Checks: the parent is a storage parent
    /// (TPM_RC_TYPE + H1), a slot is free for the work (TPM_RC_OBJECT_MEMORY, as in the
    /// reference), CreateChecks (P2), the authValue's size (TPM_RC_SIZE + P1).
    func createCommand(_ c: inout CommandContext) throws {
        let inSensitive = try c.param(TPM2BSensitiveCreate.self).sensitive
        let template = try c.param(TPM.publicParameter(allowNull: false))
        let outsideInfo = try c.param(TPM2BData.self)
        let creationPCR = try c.param(TPMLPCRSelection.self)
        try c.finish()
        let parentHandle = c.handles[0]
        guard let parent = keyObject(parentHandle), parent.isParent else { throw TPMError(.type).handle(1) }
        guard freeTransientHandle != nil else { throw TPMError(.objectMemory) }
        do {
            try ObjectValidation.createChecks(parent: parent, publicArea: template, sensitiveDataSize: inSensitive.data.count)
        } catch let e as TPMError {
            throw e.parameter(2)
        }
        guard let auth = ObjectValidation.adjustAuthSize(inSensitive.userAuth.buffer, nameAlg: template.nameAlg) else {
            throw TPMError.size.parameter(1)
        }
        let created = try withRandomSource {
            try ObjectCreation.create(template: template, auth: auth, data: inSensitive.data.buffer, source: &$0)
        }
        let name = try created.publicArea.name(hash: TPM.digest)
        let (creation, creationHash) = try creationData(
            parent: parentHandle, nameAlg: template.nameAlg, pcrSelection: creationPCR, outsideInfo: outsideInfo, locality: c.locality)
        let ticket = creationTicket(hierarchy: parent.hierarchy, name: name, creationHash: creationHash)
        let outPrivate = try PrivateProtection.wrap(created.sensitive, name: name, parent: parent, iv: random(AESCipher.blockSize))
        outPrivate.encode(to: &c.response)
        TPM2BPublic(created.publicArea).encode(to: &c.response)
        TPM2BCreationData(creation).encode(to: &c.response)
        TPM2BDigest(creationHash).encode(to: &c.response)
        ticket.encode(to: &c.response)
    }

    // MARK: TPM2_Load

    /// TPM2_Load (Part 3, 12.2): a free slot (TPM_RC_OBJECT_MEMORY), a non-empty inPrivate
    /// (TPM_RC_SIZE + P1), a storage parent (TPM_RC_TYPE + H1), then the private area opened
    /// with the parent's seed and bound to the Name of inPublic (Protection.swift; codes + P1),
    /// then ObjectLoad's checks (P2 for the public area, P1 for the sensitive one).
    func loadCommand(_ c: inout CommandContext) throws {
        let inPrivate = try c.param(TPM2BPrivate.self)
        let inPublic = try c.param(TPM.publicParameter(allowNull: false))
        try c.finish()
        let parentHandle = c.handles[0]
        guard freeTransientHandle != nil else { throw TPMError(.objectMemory) }
        guard inPrivate.count != 0 else { throw TPMError.size.parameter(1) }
        guard let parent = keyObject(parentHandle), parent.isParent else { throw TPMError(.type).handle(1) }
        let name = try inPublic.name(hash: TPM.digest)
        let sensitive: TPMTSensitive
        do {
            sensitive = try PrivateProtection.unwrap(inPrivate, name: name, parent: parent, support: TPM.algorithmSupport)
        } catch let e as TPMError {
            throw e.parameter(1)
        }
        try ObjectValidation.loadChecks(
            parent: parent, publicArea: inPublic, sensitive: sensitive, publicParameter: 2, sensitiveParameter: 1)
        let material = try TPM.keyMaterial(public: inPublic, sensitive: sensitive)
        let (hierarchy, flags) = inheritedFlags(parent: parentHandle, publicArea: inPublic)
        let object = KeyObject(
            publicArea: inPublic, sensitive: sensitive, name: name,
            qualifiedName: try qualifiedName(of: name, nameAlg: inPublic.nameAlg, parent: parentHandle), hierarchy: hierarchy,
            flags: flags, material: material)
        c.responseHandle = try loadKeyObject(object)
        name.encode(to: &c.response)
    }

    // MARK: TPM2_LoadExternal

    /// TPM2_LoadExternal (Part 3, 12.3): a public key, or a key with its sensitive area in the
    /// clear, that this TPM did not create. Checks: a free slot (TPM_RC_OBJECT_MEMORY), the
    /// hierarchy enabled (TPM_RC_HIERARCHY + P3); with a sensitive area, the NULL hierarchy
    /// only (TPM_RC_HIERARCHY + P3) and neither fixedTPM, fixedParent nor restricted
    /// (TPM_RC_ATTRIBUTES + P2); then ObjectLoad's checks.
    func loadExternalCommand(_ c: inout CommandContext) throws {
        let inPrivate = try c.param { try TPM2BSensitive(from: &$0, support: TPM.algorithmSupport) }
        let inPublic = try c.param(TPM.publicParameter(allowNull: true))
        let hierarchy = try c.param(TPM.hierarchyParameter)
        try c.finish()
        guard freeTransientHandle != nil else { throw TPMError(.objectMemory) }
        guard hierarchyIsEnabled(hierarchy) else { throw TPMError(.hierarchy).parameter(3) }
        let sensitive = inPrivate.sensitiveArea
        if sensitive != nil {
            guard hierarchy == .null else { throw TPMError(.hierarchy).parameter(3) }
            let a = inPublic.objectAttributes
            if a.has(.fixedTPM) || a.has(.fixedParent) || a.has(.restricted) { throw TPMError(.attributes).parameter(2) }
        }
        let name = try inPublic.name(hash: TPM.digest)
        try ObjectValidation.loadChecks(parent: nil, publicArea: inPublic, sensitive: sensitive, publicParameter: 2, sensitiveParameter: 1)
        let material = try TPM.keyMaterial(public: inPublic, sensitive: sensitive)
        var flags: KeyObject.Flags = [.external]
        if inPublic.objectAttributes.has(.stClear) { flags.insert(.stClear) }
        let object = KeyObject(
            publicArea: inPublic, sensitive: sensitive, name: name, qualifiedName: name, hierarchy: hierarchy, flags: flags,
            material: material)
        c.responseHandle = try loadKeyObject(object)
        name.encode(to: &c.response)
    }

    // MARK: TPM2_ReadPublic

    /// TPM2_ReadPublic (Part 3, 12.4): a sequence object has no public area (TPM_RC_SEQUENCE).
    func readPublicCommand(_ c: inout CommandContext) throws {
        try c.finish()
        guard let k = keyObject(c.handles[0]) else { throw TPMError(.sequence) }
        TPM2BPublic(k.publicArea).encode(to: &c.response)
        k.name.encode(to: &c.response)
        k.qualifiedName.encode(to: &c.response)
    }

    // MARK: TPM2_Unseal

    /// TPM2_Unseal (Part 3, 12.7): only a data object (KEYEDHASH, TPM_RC_TYPE + H1) with none
    /// of sign, decrypt and restricted (TPM_RC_ATTRIBUTES + H1).
    func unsealCommand(_ c: inout CommandContext) throws {
        try c.finish()
        guard let k = keyObject(c.handles[0]), k.type == .keyedHash else { throw TPMError(.type).handle(1) }
        let a = k.attributes
        if a.has(.decrypt) || a.has(.sign) || a.has(.restricted) { throw TPMError(.attributes).handle(1) }
        guard case .keyedHash(let data)? = k.sensitive?.sensitive else { throw TPMError(.type).handle(1) }
        data.encode(to: &c.response)
    }

    // MARK: TPM2_ObjectChangeAuth

    /// TPM2_ObjectChangeAuth (Part 3, 12.6): a new private area with newAuth, wrapped by the
    /// parent; the loaded object keeps its authValue. Checks: not a sequence (TPM_RC_TYPE + H1),
    /// newAuth no longer than the nameAlg digest (TPM_RC_SIZE + P1), parentHandle really the
    /// object's parent, judged by the Qualified Name (TPM_RC_TYPE + H2).
    func objectChangeAuthCommand(_ c: inout CommandContext) throws {
        let newAuth = try c.param(TPM2BAuth.self)
        try c.finish()
        guard let k = keyObject(c.handles[0]) else { throw TPMError(.type).handle(1) }
        guard let auth = ObjectValidation.adjustAuthSize(newAuth.buffer, nameAlg: k.nameAlg) else { throw TPMError.size.parameter(1) }
        let parentHandle = c.handles[1]
        let qn = try? qualifiedName(of: k.name, nameAlg: k.nameAlg, parent: parentHandle)
        guard let qn, qn == k.qualifiedName, let parent = keyObject(parentHandle), let sensitive = k.sensitive else {
            throw TPMError(.type).handle(2)
        }
        var updated = sensitive
        updated.authValue = TPM2BAuth(auth)
        try PrivateProtection.wrap(updated, name: k.name, parent: parent, iv: random(AESCipher.blockSize)).encode(to: &c.response)
    }
}

extension TPM {
    // MARK: TPM2_CreateLoaded

    /// TPM2_CreateLoaded (Part 3, 12.9): creates and loads an object in one step. Under a
    /// hierarchy (or TPM_RH_NULL) the object is a primary object, derived exactly as
    /// TPM2_CreatePrimary derives it from the same template and data; under a storage parent it
    /// is an ordinary object, also returned wrapped; under a derivation parent it is a derived
    /// object (DerivedObjects.swift), not returned wrapped. Checks: the parent is a storage or
    /// derivation parent (TPM_RC_TYPE + H1), a free slot (TPM_RC_OBJECT_MEMORY), the template
    /// decoded whole, with a TPMS_DERIVE for unique under a derivation parent (its codes + P2),
    /// the authValue's size (TPM_RC_SIZE + P1); then for a derived object no RSA (TPM_RC_TYPE +
    /// P2), no sensitiveDataOrigin (TPM_RC_ATTRIBUTES, unnumbered as in the reference), the
    /// attributes (P2) and the label and context (decoding codes, unnumbered); otherwise
    /// CreateChecks (P2).
    func createLoadedCommand(_ c: inout CommandContext) throws {
        let inSensitive = try c.param(TPM2BSensitiveCreate.self).sensitive
        let templateBytes = try c.param(TPM2BTemplate.self)
        try c.finish()
        let parentHandle = c.handles[0]
        var parent: KeyObject?
        if parentHandle.handleType != .permanent {
            guard let p = keyObject(parentHandle), p.isParent || p.isDerivationParent else { throw TPMError(.type).handle(1) }
            parent = p
        }
        let derivationParent = parent?.isDerivationParent == true ? parent : nil
        guard freeTransientHandle != nil else { throw TPMError(.objectMemory) }
        let template: TPMTPublic
        do {
            template = try TPMTPublic(template: templateBytes, derivation: derivationParent != nil, support: TPM.algorithmSupport)
        } catch let e as TPMError {
            throw e.parameter(2)
        }
        guard let auth = ObjectValidation.adjustAuthSize(inSensitive.userAuth.buffer, nameAlg: template.nameAlg) else {
            throw TPMError.size.parameter(1)
        }
        let created: CreatedObject
        if let derivationParent, case .derive(let templateDerive) = template.unique {
            if template.type == .rsa { throw TPMError(.type).parameter(2) }
            if template.objectAttributes.has(.sensitiveDataOrigin) { throw TPMError(.attributes) }
            do {
                try ObjectValidation.publicAttributesValidation(parent: derivationParent, publicArea: template)
            } catch let e as TPMError {
                throw e.parameter(2)
            }
            let labelContext = try ObjectCreation.labelAndContext(template: templateDerive, sensitiveData: inSensitive.data.buffer)
            created = try ObjectCreation.derive(template: template, auth: auth, parent: derivationParent, derive: labelContext)
        } else {
            do {
                try ObjectValidation.createChecks(parent: parent, publicArea: template, sensitiveDataSize: inSensitive.data.count)
            } catch let e as TPMError {
                throw e.parameter(2)
            }
            created = try createOrdinaryOrPrimary(template, auth: auth, data: inSensitive.data.buffer, parent: parent, handle: parentHandle)
        }
        let name = try created.publicArea.name(hash: TPM.digest)
        var outPrivate = TPM2BPrivate()
        if let parent, derivationParent == nil {
            outPrivate = try PrivateProtection.wrap(created.sensitive, name: name, parent: parent, iv: random(AESCipher.blockSize))
        }
        let (hierarchy, flags) = inheritedFlags(parent: parentHandle, publicArea: created.publicArea)
        let object = KeyObject(
            publicArea: created.publicArea, sensitive: created.sensitive, name: name,
            qualifiedName: try qualifiedName(of: name, nameAlg: template.nameAlg, parent: parentHandle), hierarchy: hierarchy,
            flags: flags, material: created.material)
        c.responseHandle = try loadKeyObject(object)
        outPrivate.encode(to: &c.response)
        TPM2BPublic(created.publicArea).encode(to: &c.response)
        name.encode(to: &c.response)
    }

    /// CreateLoaded's primary object (from the hierarchy's seed) or ordinary object (from the
    /// DRBG).
    private func createOrdinaryOrPrimary(_ template: TPMTPublic, auth: [UInt8], data: [UInt8], parent: KeyObject?, handle: TPMHandle)
        throws -> CreatedObject
    {
        let created: CreatedObject
        if parent == nil {
            var source = try ObjectCreation.primarySource(seed: primarySeed(handle), template: template, sensitiveData: data)
            created = try ObjectCreation.create(template: template, auth: auth, data: data, source: &source)
        } else {
            created = try withRandomSource { try ObjectCreation.create(template: template, auth: auth, data: data, source: &$0) }
        }
        return created
    }
}
