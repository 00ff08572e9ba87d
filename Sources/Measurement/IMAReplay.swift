/// Replays a measurement list into the PCR values it must have produced, in every bank at
/// once, and carries the state forward so a verifier replays only new entries
/// (incremental attestation: cost O(new entries), not O(list)).
///
/// For each entry, each bank's PCR[entry.pcr] becomes H(PCR || extendValue(bank)); PCRs start
/// at zero after a reset (PC Client: PCRs 0-15 and the IMA range start at zero). The SHA-1
/// template hash stored in each entry must match its template data, otherwise an edited
/// entry could keep its old SHA-1 hash and still replay in the SHA-1 bank.
public struct IMAReplayState: Hashable, Sendable, Codable {
    public internal(set) var banks: [IMAHashAlgorithm]
    /// bank -> PCR index -> value; a PCR absent here is still all zero.
    public internal(set) var pcrs: [IMAHashAlgorithm: [UInt32: [UInt8]]]
    /// Entries replayed so far (the index the next entry must have).
    public internal(set) var entryCount: Int

    public init(banks: [IMAHashAlgorithm]) {
        var seen = Set<IMAHashAlgorithm>()
        self.banks = banks.filter { seen.insert($0).inserted }
        pcrs = [:]
        for b in self.banks { pcrs[b] = [:] }
        entryCount = 0
    }

    /// The value of `pcr` in `bank` after the entries replayed so far.
    public func value(bank: IMAHashAlgorithm, pcr: UInt32) -> [UInt8] {
        pcrs[bank]?[pcr] ?? [UInt8](repeating: 0, count: bank.digestSize)
    }

    /// The PCR indices some replayed entry extended.
    public var extendedPCRs: Set<UInt32> {
        var s = Set<UInt32>()
        for (_, m) in pcrs { s.formUnion(m.keys) }
        return s
    }

    /// Replays `entries`, which must start at index `entryCount`. On error nothing changes.
    /// (The work is IMAReplayer's: an entry costs its hashes and no allocation.)
    public mutating func apply<C: Collection>(_ entries: C) throws where C.Element == IMAEntry {
        // One concrete body: a generic one called from another module runs unspecialized.
        try applyEntries(Array(entries))
    }

    private mutating func applyEntries(_ entries: [IMAEntry]) throws {
        if entries.isEmpty { return }
        var r = IMAReplayer(self)
        for e in entries { try r.add(e) }
        self = r.state
    }

    /// Replays a whole list from a fresh (reset) state.
    public static func replay<C: Collection>(_ entries: C, banks: [IMAHashAlgorithm]) throws -> IMAReplayState
    where C.Element == IMAEntry {
        var s = IMAReplayState(banks: banks)
        try s.apply(entries)
        return s
    }

    // Saved as {"banks": [...], "entryCount": n, "pcrs": {"sha256": {"10": "hex"}}}.
    private enum CodingKeys: String, CodingKey { case banks, pcrs, entryCount }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let banks = try c.decode([IMAHashAlgorithm].self, forKey: .banks)
        let count = try c.decode(Int.self, forKey: .entryCount)
        let raw = try c.decode([String: [String: String]].self, forKey: .pcrs)
        guard count >= 0 else { throw MeasurementError.badState("negative entry count") }
        self.init(banks: banks)
        entryCount = count
        for (bankName, values) in raw {
            guard let bank = IMAHashAlgorithm(rawValue: bankName), self.banks.contains(bank) else {
                throw MeasurementError.badState("bank '\(bankName)' not in the state's banks")
            }
            for (pcrText, hex) in values {
                guard let pcr = UInt32(pcrText), pcr < IMALimits.pcrCount else {
                    throw MeasurementError.badState("PCR '\(pcrText)'")
                }
                guard let v = bytesFromHex(hex), v.count == bank.digestSize else {
                    throw MeasurementError.badState("value of PCR \(pcr) in \(bankName)")
                }
                pcrs[bank, default: [:]][pcr] = v
            }
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(banks, forKey: .banks)
        try c.encode(entryCount, forKey: .entryCount)
        var raw = [String: [String: String]]()
        for (bank, values) in pcrs {
            raw[bank.rawValue] = Dictionary(uniqueKeysWithValues: values.map { (String($0.key), hexString($0.value)) })
        }
        try c.encode(raw, forKey: .pcrs)
    }
}
