import TPMCrypto
import TPMWire

// Transient object slots (Part 1, 30.1; MAX_LOADED_OBJECTS). `volatile.objects` is the one
// record of what is loaded: the key is the transient handle, TRANSIENT_FIRST + slot, so
// handles are 0x80000000...TRANSIENT_LAST and a new object takes the lowest free slot (as
// libtpms does). Sequence objects live here now; key objects take the same slots.

extension TPM {
    /// Loads `object` into the lowest free slot. Every slot in use: TPM_RC_OBJECT_MEMORY.
    func loadTransientObject(_ object: TransientObject) throws -> TPMHandle {
        guard let handle = freeTransientHandle else { throw TPMError(.objectMemory) }
        volatile.objects[handle.rawValue] = object
        return handle
    }

    /// The handle the next loaded object would get, nil when every slot is in use. The lowest
    /// free slots are held by the copies of the persistent objects the command uses (NV.swift).
    var freeTransientHandle: TPMHandle? {
        var held = volatile.persistentCopies
        for slot in 0..<TPMLimits.maxLoadedObjects {
            let h = TPMHandle(TPMHandle.transientFirst.rawValue + UInt32(slot))
            guard volatile.objects[h.rawValue] == nil else { continue }
            if held == 0 { return h }
            held -= 1
        }
        return nil
    }

    /// The object at a transient handle, or the persistent object at a persistent handle
    /// (usable wherever a loaded object is; NV.swift).
    func transientObject(_ h: TPMHandle) -> TransientObject? {
        if h.handleType == .persistent { return persistentObject(h).map { .key($0) } }
        return volatile.objects[h.rawValue]
    }

    /// Removes a loaded object; false when `h` names none.
    @discardableResult
    func flushTransientObject(_ h: TPMHandle) -> Bool {
        volatile.objects.removeValue(forKey: h.rawValue) != nil
    }

    /// The sequence object at `h`, nil when `h` holds another kind of object or nothing.
    func sequenceObject(_ h: TPMHandle) -> SequenceObject? {
        if case .sequence(let s)? = volatile.objects[h.rawValue] { return s }
        return nil
    }

    /// Replaces the sequence object at `h` (a handle known to hold one).
    func storeSequenceObject(_ s: SequenceObject, at h: TPMHandle) {
        volatile.objects[h.rawValue] = .sequence(s)
    }
}

extension TransientObject {
    /// The hierarchy the object belongs to, whose proof protects its saved context. A
    /// sequence object is a temporary object of the NULL hierarchy (Part 1, 32.2), so its
    /// context does not survive a TPM Reset.
    var hierarchy: TPMHandle {
        switch self {
        case .sequence: return .null
        case .key(let k): return k.hierarchy
        }
    }

    /// The savedHandle ContextSave reports (Part 2, 14.6).
    var savedHandle: TPMHandle {
        switch self {
        case .sequence: return .savedSequence
        case .key(let k): return k.savedHandle
        }
    }
}

// MARK: serialization

/// The byte form of a transient object, used inside saved contexts (and available to the
/// instance-state serializer). Strict: anything malformed is TPM_RC_INTEGRITY-worthy and
/// decodes to an error, never a trap.
///
///   u8 version (1) || u8 kind || kind-specific fields
///   kind 1, hash sequence:  TPM2B auth || u8 flags || TPM2B hashState
///   kind 2, event sequence: TPM2B auth || u8 count || count x TPM2B hashState
///   kind 3, key object:     KeyObject.encodeFields (KeyObject.swift)
///   kind 4, HMAC sequence:  TPM2B auth || TPM2B K0 || TPM2B inner hashState
/// flags: bit 0 first block seen, bit 1 ticket allowed. hashState is
/// `ExportableHasher.exportedState`; an event sequence holds one per implemented hash, in
/// TPMLimits.hashAlgorithms order.
extension TransientObject {
    static let formatVersion: UInt8 = 1
    private static let kindHashSequence: UInt8 = 1
    private static let kindEventSequence: UInt8 = 2
    private static let kindKey: UInt8 = 3
    private static let kindHMACSequence: UInt8 = 4
    /// Generous bound on one exported hash state (SHA-512: 2 + 8 + 64 + 1 + 127).
    private static let maxHashState = 256
    /// The largest hash block (SHA-384/512): an HMAC sequence's K0.
    private static let maxHMACKey = 128

    func encode(to w: inout TPMWriter) {
        w.u8(TransientObject.formatVersion)
        switch self {
        case .sequence(let s):
            switch s.kind {
            case .hash(let h):
                w.u8(TransientObject.kindHashSequence)
                w.sized(s.authValue)
                w.u8((s.firstBlockChecked ? 1 : 0) | (s.ticketAllowed ? 2 : 0))
                w.sized(h.exportedState)
            case .event(let hs):
                w.u8(TransientObject.kindEventSequence)
                w.sized(s.authValue)
                w.u8(UInt8(hs.count))
                for h in hs { w.sized(h.exportedState) }
            case .hmac(let inner, let key):
                w.u8(TransientObject.kindHMACSequence)
                w.sized(s.authValue)
                w.sized(key)
                w.sized(inner.exportedState)
            }
        case .key(let k):
            w.u8(TransientObject.kindKey)
            k.encodeFields(to: &w)
        }
    }

    var encoded: [UInt8] {
        var w = TPMWriter(capacity: 512)
        encode(to: &w)
        return w.bytes
    }

    init(from r: inout TPMReader) throws {
        guard try r.u8() == TransientObject.formatVersion else { throw TPMError(.integrity) }
        let kind = try r.u8()
        if kind == TransientObject.kindKey {
            self = .key(try KeyObject(fieldsFrom: &r))
            return
        }
        let auth = try r.sized(max: TPMLimits.maxDigestSize)
        func hasher() throws -> ExportableHasher {
            guard let h = ExportableHasher(exportedState: try r.sized(max: TransientObject.maxHashState)) else {
                throw TPMError(.integrity)
            }
            return h
        }
        switch kind {
        case TransientObject.kindHashSequence:
            let flags = try r.u8()
            guard flags & ~3 == 0 else { throw TPMError(.integrity) }
            let h = try hasher()
            self = .sequence(
                SequenceObject(kind: .hash(h), authValue: auth, firstBlockChecked: flags & 1 != 0, ticketAllowed: flags & 2 != 0))
        case TransientObject.kindEventSequence:
            let algs = TPMLimits.hashAlgorithms
            guard Int(try r.u8()) == algs.count else { throw TPMError(.integrity) }
            var hs: [ExportableHasher] = []
            for alg in algs {
                let h = try hasher()
                guard h.algorithm.rawValue == alg.rawValue else { throw TPMError(.integrity) }
                hs.append(h)
            }
            // Event sequences never earn tickets; HashSequenceStart creates them this way too.
            self = .sequence(SequenceObject(kind: .event(hs), authValue: auth, firstBlockChecked: false, ticketAllowed: false))
        case TransientObject.kindHMACSequence:
            // K0 is exactly one block of the inner hash's algorithm.
            let key = try r.sized(max: TransientObject.maxHMACKey)
            let inner = try hasher()
            guard key.count == inner.algorithm.blockSize else { throw TPMError(.integrity) }
            self = .sequence(
                SequenceObject(kind: .hmac(inner: inner, key: key), authValue: auth, firstBlockChecked: false, ticketAllowed: false))
        default:
            throw TPMError(.integrity)
        }
    }

    /// Decodes exactly `bytes`; nil for anything malformed or with bytes left over.
    init?(encoded bytes: [UInt8]) {
        var r = TPMReader(bytes)
        guard let o = try? TransientObject(from: &r), r.isAtEnd else { return nil }
        self = o
    }
}
