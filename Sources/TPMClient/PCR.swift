import TPMCrypto
import TPMWire

extension TPMClient {
    /// TPM2_PCR_Extend (Part 3, 22.2) with a password session (PCR authValues are empty on a
    /// PC Client TPM): one digest per bank in `digests`.
    public func pcrExtend(_ pcr: Int, digests: [TPMTHA], auth: [UInt8] = []) throws(TPMClientError) {
        var w = TPMWriter()
        TPMLDigestValues(digests).encode(to: &w)
        try execute(
            TPMCommand(.pcrExtend, handles: [TPMHandle(UInt32(pcr))], authorizations: [.password(auth)], parameters: w.bytes))
    }

    /// TPM2_PCR_Read (Part 3, 22.4) of every PCR in `selection`, looping because a TPM returns at
    /// most eight digests per call and drops what it did not read from pcrSelectionOut.
    /// Returns the values keyed by (bank, PCR) and the pcrUpdateCounter of the last call.
    public func pcrRead(_ selection: TPMLPCRSelection) throws(TPMClientError) -> (values: [PCRKey: [UInt8]], updateCounter: UInt32) {
        var pending = selection.selections.flatMap { s in s.selectedPCRs.map { PCRKey(bank: s.hash, pcr: $0) } }
        var values: [PCRKey: [UInt8]] = [:]
        var counter: UInt32 = 0
        while !pending.isEmpty {
            var banks: [TPMAlgID: [Int]] = [:]
            var order: [TPMAlgID] = []
            for k in pending {
                if banks[k.bank] == nil { order.append(k.bank) }
                banks[k.bank, default: []].append(k.pcr)
            }
            let request = TPMLPCRSelection(order.map { TPMSPCRSelection(hash: $0, pcrs: banks[$0] ?? []) })
            var w = TPMWriter()
            request.encode(to: &w)
            let r = try execute(TPMCommand(.pcrRead, parameters: w.bytes))
            let (c, out, digests) = try decode(r, .pcrRead) { reader in
                (try reader.u32(), try TPMLPCRSelection(from: &reader), try TPMLDigest(from: &reader))
            }
            counter = c
            let read = out.selections.flatMap { s in s.selectedPCRs.map { PCRKey(bank: s.hash, pcr: $0) } }
            guard read.count == digests.digests.count else {
                throw .malformedResponse(.pcrRead, "\(read.count) PCRs selected, \(digests.digests.count) digests")
            }
            guard !read.isEmpty else {
                // The TPM read nothing it was asked for: an unallocated bank or PCR.
                throw .unsupported("PCR_Read returned nothing for \(pending.count) PCR(s) (bank not allocated?)")
            }
            for (k, d) in zip(read, digests.digests) { values[k] = d.buffer }
            let readSet = Set(read)
            pending.removeAll { readSet.contains($0) }
        }
        return (values, counter)
    }

    /// The PCR banks the TPM has allocated (TPM_CAP_PCRS) that have at least one PCR, in the
    /// TPM's order.
    public func allocatedBanks() throws(TPMClientError) -> [TPMAlgID] {
        let data = try getCapability(.pcrs, property: 0, count: 1)
        return try decode(TPMResponse(parameters: data.data, sessions: []), .getCapability) { r in
            let selection = try TPMLPCRSelection(from: &r)
            return selection.selections.filter { $0.select.contains { $0 != 0 } }.map(\.hash)
        }
    }
}

/// One PCR of one bank.
public struct PCRKey: Hashable, Sendable, CustomStringConvertible {
    public var bank: TPMAlgID
    public var pcr: Int
    public init(bank: TPMAlgID, pcr: Int) {
        self.bank = bank
        self.pcr = pcr
    }
    public var description: String { "\(bank):\(pcr)" }
}
