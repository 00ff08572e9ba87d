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
