import TPMWire

extension TPM {
    /// The values TPM_CAP may take (Part 2, 6.12); any other is TPM_RC_VALUE when unmarshalled.
    /// TPM_CAP_VENDOR_PROPERTY is a valid TPM_CAP that this TPM has no data for.
    static let definedCapabilities: Set<TPMCap> = [
        .algs, .handles, .commands, .ppCommands, .auditCommands, .pcrs, .tpmProperties, .pcrProperties, .eccCurves,
        .authPolicies, .act, .vendorProperty,
    ]

    /// The permanent handles this TPM implements (Part 2, 7.4), ascending: TPM_CAP_HANDLES
    /// lists them, TPM_CAP_AUTH_POLICIES reports those that have a policy. No ACT and no
    /// vendor authorization handles are implemented.
    static let permanentHandles: [TPMHandle] = [.owner, .null, .passwordSession, .lockout, .endorsement, .platform, .platformNV]

    /// The TPM_PT_PCR properties this TPM reports (Part 2, 6.14), ascending.
    static let pcrPropertyTags: [TPMPTPCR] = [
        .save, .extendL0, .resetL0, .extendL1, .resetL1, .extendL2, .resetL2, .extendL3, .resetL3, .extendL4, .resetL4,
        .noIncrement, .drtmReset, .policy, .auth,
    ]

    /// TPM2_GetCapability (Part 3, 30.2). `property` selects the first value; the values at
    /// or above it are returned, at most `propertyCount` of them and at most what the list may
    /// hold in MAX_CAP_BUFFER; moreData is YES exactly when values were left out. A property
    /// past the last value gives an empty list and NO.
    func getCapabilityCommand(_ c: inout CommandContext) throws {
        let failureMode = volatile.failureMode
        let capability = try c.param { r -> TPMCap in
            let cap = TPMCap(try r.u32())
            // In failure mode any capability but TPM properties is refused below instead.
            guard failureMode || TPM.definedCapabilities.contains(cap) else { throw TPMError.value }
            return cap
        }
        let property = try c.param { try $0.u32() }
        let count = try c.param { try $0.u32() }
        try c.finish()

        let more: Bool
        let data: TPMUCapabilities
        if failureMode {
            // Part 3, 30.2: in failure mode only the vendor and firmware properties; a request
            // for anything else gets no value (TPM_RC_FAILURE, as libtpms answers).
            guard capability == .tpmProperties else { throw TPMError(.failure) }
            let range = TPMIdentity.failureModeProperties
            let items = range.filter { $0 >= property }.compactMap(taggedProperty)
            (data, more) = paged(items, count, TPMLimits.maxTPMProperties) { .tpmProperties(TPMLTaggedTPMProperty($0)) }
        } else {
            (data, more) = try capabilityData(capability, property: property, count: count)
        }
        c.response.u8(more ? 1 : 0)
        TPMSCapabilityData(data).encode(to: &c.response)
    }

    private func capabilityData(_ capability: TPMCap, property: UInt32, count: UInt32) throws -> (TPMUCapabilities, Bool) {
        switch capability {
        case .algs:
            let items = TPM.algorithms.filter { UInt32($0.alg.rawValue) >= property }
                .map { TPMSAlgProperty(alg: $0.alg, algProperties: $0.attributes) }
            return paged(items, count, TPMLimits.maxCapAlgs) { .algorithms(TPMLAlgProperty($0)) }

        case .handles:
            let items = try handles(from: TPMHandle(property))
            return paged(items, count, TPMLimits.maxCapHandles) { .handles(TPMLHandle($0)) }

        case .commands:
            // The one command table, in command-code order (vendor commands, with the V bit,
            // sort after the library commands as Part 3 asks).
            let items = TPM.commandTable.filter { $0.code.rawValue >= property }.map(\.attributes)
            return paged(items, count, TPMLimits.maxCapCC) { .command(TPMLCCA($0)) }

        case .ppCommands:
            // No implemented command requires physical-presence confirmation.
            return paged([TPMCC](), count, TPMLimits.maxCapCC) { .ppCommands(TPMLCC($0)) }

        case .auditCommands:
            // The audited commands at or above property, ascending (Audit.swift).
            let items = persistent.audit.sorted.filter { $0.rawValue >= property }
            return paged(items, count, TPMLimits.maxCapCC) { .auditCommands(TPMLCC($0)) }

        case .pcrs:
            // Part 3, 30.2: property shall be zero; the whole current allocation, one entry per
            // implemented bank, moreData NO. A count of zero returns nothing and YES, as the
            // reference code does.
            guard property == 0 else { throw TPMError.value.parameter(2) }
            guard count > 0 else { return (.assignedPCR(TPMLPCRSelection([])), true) }
            let selections = volatile.pcrBanks.map { bank in
                TPMSPCRSelection(hash: bank.alg, pcrs: (0..<TPMLimits.pcrCount).filter(bank.isAllocated))
            }
            return (.assignedPCR(TPMLPCRSelection(selections)), false)

        case .tpmProperties:
            // Part 3, 30.2: only the group (PT_FIXED or PT_VAR) that property falls in; a
            // property below PT_FIXED starts at PT_FIXED.
            let start = max(property, TPMPT.fixed.rawValue)
            let groupSize: UInt32 = 256
            var items: [TPMSTaggedProperty] = []
            if start < TPMPT.variable.rawValue + groupSize {
                let groupEnd = (start / groupSize + 1) * groupSize
                items = (start..<groupEnd).compactMap(taggedProperty)
            }
            return paged(items, count, TPMLimits.maxTPMProperties) { .tpmProperties(TPMLTaggedTPMProperty($0)) }

        case .pcrProperties:
            let items = TPM.pcrPropertyTags.filter { $0.rawValue >= property }
                .map { TPMSTaggedPCRSelect(tag: $0, pcrSelect: TPM.pcrSelect(for: $0)) }
            return paged(items, count, TPMLimits.maxPCRProperties) { .pcrProperties(TPMLTaggedPCRProperty($0)) }

        case .eccCurves:
            let items = TPM.eccCurves.filter { UInt32($0.rawValue) >= property }
            return paged(items, count, TPMLimits.maxECCCurves) { .eccCurves(TPMLECCCurve($0)) }

        case .authPolicies:
            // Part 3, 30.2 note 2: property must be in the permanent-handle range.
            let start = TPMHandle(property)
            guard start.handleType == .permanent else { throw TPMError.value.parameter(2) }
            let items = TPM.permanentHandles.filter { $0 >= start }.compactMap { h in
                entityPolicy(h).map { TPMSTaggedPolicy(handle: h, policyHash: TPMTHA(hashAlg: $0.policyAlg, digest: $0.policy)) }
            }
            return paged(items, count, TPMLimits.maxTaggedPolicies) { .authPolicies(TPMLTaggedPolicy($0)) }

        case .act:
            // The property must be an ACT handle (TPM_RC_VALUE otherwise); no ACT is implemented.
            guard (TPMHandle.act0...TPMHandle.actF).contains(TPMHandle(property)) else { throw TPMError.value.parameter(2) }
            return paged([TPMSACTData](), count, TPMLimits.maxACTData) { .actData(TPMLACTData($0)) }

        default:
            // TPM_CAP_VENDOR_PROPERTY: no vendor data.
            throw TPMError.value.parameter(1)
        }
    }

    /// The handles at or above `start` in the range of start's handle type (Part 3, 30.2:
    /// TPM_CAP_HANDLES). A type without handles here is TPM_RC_HANDLE + P2, as in the
    /// reference code.
    private func handles(from start: TPMHandle) throws -> [TPMHandle] {
        let all: [TPMHandle]
        switch start.handleType {
        case .pcr?: all = (0..<UInt32(TPMLimits.pcrCount)).map { TPMHandle($0) }
        case .permanent?: all = TPM.permanentHandles
        case .transient?: all = volatile.objects.keys.sorted().map { TPMHandle($0) }
        // TPM_HT_LOADED_SESSION (0x02): the loaded sessions, each with its own handle type;
        // TPM_HT_SAVED_SESSION (0x03): the saved ones, as HMAC-session handles (Part 2, 7.2).
        // Both list slots from the start handle's index on.
        case .hmacSession?, .policySession?:
            let from = TPM.sessionIndex(start)
            let loaded = start.handleType == .hmacSession
            return volatile.sessionSlots.indices.filter { $0 >= from }.compactMap { i in
                switch volatile.sessionSlots[i] {
                case .loaded(let s) where loaded: return TPM.sessionHandle(index: i, policy: s.isPolicy)
                case .saved where !loaded: return TPM.sessionHandle(index: i, policy: false)
                default: return nil
                }
            }
        // Every defined NV Index and persistent object (NV.swift).
        case .nvIndex?: all = persistent.nvIndices.keys.sorted().map { TPMHandle($0) }
        case .persistent?: all = persistent.evictObjects.keys.sorted().map { TPMHandle($0) }
        case .attachedComponent?, nil: throw TPMError(.handle).parameter(2)
        }
        return all.filter { $0 >= start }
    }

    private func taggedProperty(_ pt: UInt32) -> TPMSTaggedProperty? {
        propertyValue(TPMPT(pt)).map { TPMSTaggedProperty(property: TPMPT(pt), value: $0) }
    }

    /// The policy of a permanent entity that has one (the hierarchies and lockout).
    private func entityPolicy(_ h: TPMHandle) -> EntityAuth? {
        switch h {
        case .owner: return persistent.owner
        case .endorsement: return persistent.endorsement
        case .lockout: return persistent.lockout
        case .platform: return volatile.platform
        default: return nil
        }
    }

    /// The PCRs that have a PCR property, as a TPMS_PCR_SELECT bitmap of PCR_SELECT_MAX
    /// octets, from the PC Client attribute table (PCR.swift).
    static func pcrSelect(for tag: TPMPTPCR) -> [UInt8] {
        let locality =
            tag.rawValue >= TPMPTPCR.extendL0.rawValue && tag.rawValue <= TPMPTPCR.resetL4.rawValue
            ? UInt8(1) << ((tag.rawValue - 1) / 2) : 0
        let has: (PCRAttributes) -> Bool
        switch tag {
        case .save: has = { $0.stateSave }
        case .extendL0, .extendL1, .extendL2, .extendL3, .extendL4: has = { $0.extendLocalities & locality != 0 }
        case .resetL0, .resetL1, .resetL2, .resetL3, .resetL4: has = { $0.resetLocalities & locality != 0 }
        case .noIncrement: has = { $0.noIncrement }
        case .drtmReset: has = { $0.drtm }
        case .policy: has = { $0.policyGroup }
        case .auth: has = { $0.authGroup }
        default: has = { _ in false }
        }
        var select = [UInt8](repeating: 0, count: TPMLimits.pcrSelectMax)
        for (pcr, attributes) in PCRAttributes.table.enumerated() where has(attributes) && pcr / 8 < select.count {
            select[pcr / 8] |= 1 << UInt8(pcr % 8)
        }
        return select
    }
}

/// The first `count` items (never more than `max`, the list's bound) and whether any were left
/// out (Part 3, 30.2 moreData).
private func paged<T>(_ items: [T], _ count: UInt32, _ max: Int, _ wrap: ([T]) -> TPMUCapabilities) -> (TPMUCapabilities, Bool) {
    let n = Int(min(UInt64(count), UInt64(max)))
    return (wrap(Array(items.prefix(n))), items.count > n)
}
