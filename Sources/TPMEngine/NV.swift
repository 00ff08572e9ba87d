import TPMCrypto
import TPMWire

// NV Indices and persistent objects (Part 1, 37; Part 3, 31): what a TPM keeps in its NV
// memory besides its own permanent data. Both live in `PersistentState`, so every change is
// an NV write the host makes durable before the response (TPM.swift).
//
// The NV budget (TPMLimits.nvMemorySize) is shared, as TPMA_MEMORY.sharedNV says: an Index
// costs TPMLimits.nvIndexEntrySize plus its data size, a persistent object
// TPMLimits.nvEvictObjectSize. As in the reference's NvTestSpace, defining an Index keeps room
// for MIN_EVICT_OBJECTS persistent objects and making an object persistent (or defining a
// non-counter Index) keeps room for MIN_COUNTER_INDICES counters: TPM_RC_NV_SPACE otherwise.

/// One defined NV Index: its public area (with the TPMA_NV_WRITTEN and lock bits as they are
/// now), authValue (trailing zeros removed) and data (dataSize octets, zero until written).
struct NVIndex: Sendable, Equatable {
    var publicArea: TPMSNVPublic
    var authValue: [UInt8]
    var data: [UInt8]

    init(publicArea: TPMSNVPublic, authValue: [UInt8]) {
        self.publicArea = publicArea
        self.authValue = authValue
        data = [UInt8](repeating: 0, count: Int(publicArea.dataSize))
    }

    init(publicArea: TPMSNVPublic, authValue: [UInt8], data: [UInt8]) {
        self.publicArea = publicArea
        self.authValue = authValue
        self.data = data
    }

    var attributes: TPMANV {
        get { publicArea.attributes }
        set { publicArea.attributes = newValue }
    }
    var type: TPMNT? { attributes.type }
    var isWritten: Bool { attributes.contains(.written) }

    /// The Name of an NV Index (Part 1, 16): nameAlg || H_nameAlg(TPMS_NV_PUBLIC), so it
    /// changes when TPMA_NV_WRITTEN (or a lock bit) does.
    var name: TPM2BName {
        guard let h = HashAlgorithm(rawValue: publicArea.nameAlg.rawValue) else { return TPM2BName() }
        return TPM2BName(u16Bytes(publicArea.nameAlg.rawValue) + h.digest(publicArea.wireBytes))
    }

    /// The value of a counter, bit field or PIN Index (Part 3, 31.8, 31.10): its 8 octets as a
    /// big-endian integer.
    var uint64Value: UInt64 { data.prefix(8).reduce(0) { $0 << 8 | UInt64($1) } }

    /// What the Index takes of the NV budget.
    var nvCost: Int { TPMLimits.nvIndexEntrySize + Int(publicArea.dataSize) }
}

/// A persistent object (EvictControl): the object as it was loaded, and its encoding, which
/// is what the state format stores and what makes two states compare equal.
struct PersistentObject: Sendable, Equatable {
    let object: KeyObject
    let encoded: [UInt8]

    init(_ object: KeyObject) {
        self.object = object
        encoded = TransientObject.key(object).encoded
    }

    static func == (a: PersistentObject, b: PersistentObject) -> Bool { a.encoded == b.encoded }
}

func u64Bytes(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * $0)) } }

extension TPM {
    /// The Index at `h`, nil when none is defined there.
    func nvIndex(_ h: TPMHandle) -> NVIndex? { persistent.nvIndices[h.rawValue] }

    /// Replaces a defined Index: an NV write.
    func storeNVIndex(_ index: NVIndex) {
        persistent.nvIndices[index.publicArea.nvIndex.rawValue] = index
        nvChanged = true
    }

    /// Writes `bytes` at `offset` and sets TPMA_NV_WRITTEN (the reference's NvWriteIndexData:
    /// the first, partial write of an ordinary Index leaves the rest as erased NV, all ones,
    /// as libtpms reads it back).
    func writeNVData(_ h: TPMHandle, offset: Int, _ bytes: [UInt8]) {
        guard var index = nvIndex(h), offset >= 0, offset + bytes.count <= index.data.count else { return }
        if !index.isWritten {
            index.attributes.insert(.written)
            index.data = [UInt8](repeating: 0xFF, count: index.data.count)
        }
        index.data.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
        storeNVIndex(index)
    }

    /// The persistent object at `h` (0x81xxxxxx).
    func persistentObject(_ h: TPMHandle) -> KeyObject? { persistent.evictObjects[h.rawValue]?.object }

    // MARK: the NV budget

    var nvBytesUsed: Int {
        persistent.nvIndices.values.reduce(0) { $0 + $1.nvCost } + persistent.evictObjects.count * TPMLimits.nvEvictObjectSize
    }

    var nvCounterCount: Int { persistent.nvIndices.values.filter { $0.type == .counter }.count }

    /// The reference's NvTestSpace: room for `size` more octets, keeping the reserve for
    /// MIN_EVICT_OBJECTS persistent objects (when adding an Index) and MIN_COUNTER_INDICES
    /// counters (unless adding a counter Index).
    func nvHasSpace(_ size: Int, isIndex: Bool, isCounter: Bool) -> Bool {
        var reserved = 0
        if isIndex {
            reserved += max(0, TPMLimits.minEvictObjects - persistent.evictObjects.count) * TPMLimits.nvEvictObjectSize
        }
        if !isIndex || !isCounter {
            reserved += max(0, TPMLimits.minCounterIndices - nvCounterCount) * TPM.nvCounterEntrySize
        }
        return nvBytesUsed + size + reserved <= TPMLimits.nvMemorySize
    }

    static let nvCounterEntrySize = TPMLimits.nvIndexEntrySize + 8

    /// The reference's NvRamTestSpaceIndex: room in the orderly-Index RAM for `dataSize` more.
    func orderlyRAMHasSpace(_ dataSize: Int) -> Bool {
        let used = persistent.nvIndices.values.filter { $0.attributes.contains(.orderly) }
            .reduce(0) { $0 + TPMLimits.orderlyIndexRAMHeader + Int($1.publicArea.dataSize) }
        return used + TPMLimits.orderlyIndexRAMHeader + dataSize <= TPMLimits.orderlyIndexRAMSpace
    }

    /// TPM_PT_HR_PERSISTENT_AVAIL (the reference's NvCapGetPersistentAvail).
    var persistentAvailable: Int {
        let reserve = max(0, TPMLimits.minCounterIndices - nvCounterCount) * TPM.nvCounterEntrySize
        return max(0, TPMLimits.nvMemorySize - nvBytesUsed - reserve) / TPMLimits.nvEvictObjectSize
    }

    /// TPM_PT_NV_COUNTERS_AVAIL (the reference's NvCapGetCounterAvail).
    var counterIndicesAvailable: Int {
        let reserve = max(0, TPMLimits.minEvictObjects - persistent.evictObjects.count) * TPMLimits.nvEvictObjectSize
        return max(0, TPMLimits.nvMemorySize - nvBytesUsed - reserve) / TPM.nvCounterEntrySize
    }

    // MARK: visibility and startup

    /// NvIndexIsAccessible: an Index is present unless its hierarchy is disabled (an owner
    /// Index while shEnable is CLEAR, a platform one while phEnableNV is CLEAR).
    func nvIndexIsAccessible(_ h: TPMHandle) -> Bool {
        guard let index = nvIndex(h) else { return false }
        if index.attributes.contains(.platformCreate) { return volatile.startupClear.contains(.phEnableNV) }
        return volatile.startupClear.contains(.shEnable)
    }

    /// The reference's NvEntityStartup, at TPM Reset and TPM Restart (not Resume): read locks
    /// go; a non-counter Index with CLEAR_STCLEAR (or ORDERLY, at a TPM Reset) is unwritten
    /// again; write locks go unless the Index is written and WRITEDEFINE.
    func nvStartup(reset: Bool) {
        for (h, var index) in persistent.nvIndices {
            var a = index.attributes
            a.remove(.readLocked)
            if index.type != .counter && (a.contains(.clearSTClear) || (a.contains(.orderly) && reset)) {
                a.remove(.written)
            }
            if !a.contains(.written) || !a.contains(.writeDefine) { a.remove(.writeLocked) }
            if a != index.attributes {
                index.attributes = a
                persistent.nvIndices[h] = index
                nvChanged = true
            }
        }
    }

    /// The reference's NvFlushHierarchy: the persistent objects of `hierarchy` go and, for the
    /// owner (storage) hierarchy, the NV Indices the owner created. TPM2_Clear flushes the owner
    /// and endorsement hierarchies; ChangeEPS and ChangePPS would flush theirs.
    func nvFlushHierarchy(_ hierarchy: TPMHandle) {
        if hierarchy == .owner {
            for (h, index) in persistent.nvIndices where !index.attributes.contains(.platformCreate) {
                deleteNVIndex(TPMHandle(h))
            }
        }
        for (h, p) in persistent.evictObjects where p.object.hierarchy == hierarchy {
            persistent.evictObjects[h] = nil
            nvChanged = true
        }
    }

    /// Removes a defined Index; a written counter's value is remembered so a later counter
    /// starts above it (Part 1, 37.2.3; the reference's NvUpdateMaxCount).
    func deleteNVIndex(_ h: TPMHandle) {
        guard let index = nvIndex(h) else { return }
        if index.type == .counter && index.isWritten { persistent.nvMaxCounter = max(persistent.nvMaxCounter, index.uint64Value) }
        persistent.nvIndices[h.rawValue] = nil
        nvChanged = true
    }
}

extension TPM {
    /// PIN Indices (Part 1, 37.2.5 and 37.2.6; the reference's CheckAuthSession): after its
    /// authValue was used, a written PIN Fail Index counts a failure in pinCount and resets it
    /// on success; a written PIN Pass Index counts each success.
    func nvPinAuthorization(_ h: TPMHandle, succeeded: Bool) {
        guard h.handleType == .nvIndex, let index = nvIndex(h), index.isWritten else { return }
        let v = index.uint64Value
        var count = UInt32(truncatingIfNeeded: v >> 32)
        let limit = UInt32(truncatingIfNeeded: v)
        switch index.type {
        case .pinFail?: count = succeeded ? 0 : count &+ 1
        case .pinPass? where succeeded: count &+= 1
        default: return
        }
        writeNVData(h, offset: 0, u64Bytes(UInt64(count) << 32 | UInt64(limit)))
    }
}
