/// Replays entries one at a time on top of an IMAReplayState: the per-entry work of
/// IMAReplayState.apply, usable while a list is still being parsed (no array of entries needed).
///
/// The PCRs of every bank are held side by side in one flat buffer (24 PCRs per bank) and the
/// hashes written in place, so an entry costs its hashes and no allocation; `state` builds the
/// dictionary form once at the end. After an error from `add`, `state` is still the entries added
/// before it.
public struct IMAReplayer {
    private var base: IMAReplayState
    private let banks: [IMAHashAlgorithm]
    /// Offset of each bank's 24 PCRs in `flat`.
    private let offsets: [Int]
    private var flat: [UInt8]
    private var touched: UInt32 = 0
    private var count: Int

    public init(_ state: IMAReplayState) {
        base = state
        banks = state.banks
        let pcrCount = Int(IMALimits.pcrCount)
        var offsets = [Int]()
        var total = 0
        for b in banks {
            offsets.append(total)
            total += pcrCount * b.digestSize
        }
        self.offsets = offsets
        flat = [UInt8](repeating: 0, count: total)
        for (i, b) in banks.enumerated() {
            for (pcr, v) in state.pcrs[b] ?? [:] where v.count == b.digestSize && pcr < IMALimits.pcrCount {
                let at = offsets[i] + Int(pcr) * b.digestSize
                flat.replaceSubrange(at..<(at + b.digestSize), with: v)
            }
        }
        count = state.entryCount
    }

    /// Entries replayed so far (the index the next entry must have).
    public var entryCount: Int { count }

    /// Replays one entry: checks its stored SHA-1 template hash against its data, then extends
    /// its PCR in every bank.
    public mutating func add(_ e: IMAEntry) throws {
        let index = count
        guard e.pcr < IMALimits.pcrCount else { throw MeasurementError.badPCR(entry: index, pcr: e.pcr) }
        let pcr = Int(e.pcr)
        let violation = e.isViolation
        var sha1 = SHA1Value()
        if !violation {
            // One SHA-1 over the template data serves both the consistency check and the SHA-1 bank.
            e.templateData.withUnsafeBytes { data in IMAHashAlgorithm.sha1.hash(data) { sha1 = SHA1Value($0) } }
            guard sha1 == e.storedHash else { throw MeasurementError.templateHashMismatch(entry: index) }
        }
        let banks = self.banks
        let offsets = self.offsets
        flat.withUnsafeMutableBytes { all in
            for (i, b) in banks.enumerated() {
                let at = offsets[i] + pcr * b.digestSize
                let slot = UnsafeMutableRawBufferPointer(rebasing: all[at..<(at + b.digestSize)])
                if violation {
                    Self.ones.withUnsafeBytes { b.extend(slot, with: UnsafeRawBufferPointer(rebasing: $0[0..<b.digestSize])) }
                } else if b == .sha1 {
                    sha1.withBytes { b.extend(slot, with: $0) }
                } else {
                    e.templateData.withUnsafeBytes { data in b.hash(data) { b.extend(slot, with: $0) } }
                }
            }
        }
        touched |= 1 << e.pcr
        count += 1
    }

    /// The replay state after the entries added.
    public var state: IMAReplayState {
        var s = base
        for (i, b) in banks.enumerated() {
            var m = s.pcrs[b] ?? [:]
            for pcr in 0..<Int(IMALimits.pcrCount) where touched & (1 << UInt32(pcr)) != 0 {
                let at = offsets[i] + pcr * b.digestSize
                m[UInt32(pcr)] = Array(flat[at..<(at + b.digestSize)])
            }
            s.pcrs[b] = m
        }
        s.entryCount = count
        return s
    }

    private static let ones = [UInt8](repeating: 0xFF, count: 64)
}
