/// IMA's boot_aggregate (security/integrity/ima/ima_crypto.c, ima_calc_boot_aggregate):
/// the hash, with the bank's algorithm, of PCRs 0-7 read from that bank, and for a bank
/// other than SHA-1 also PCRs 8 and 9 (where boot loaders measure the kernel command line
/// and files on TPM 2.0 platforms).
public enum BootAggregate {
    /// `pcrs` maps PCR index to its value in `bank`; every PCR needed must be present.
    public static func compute(bank: IMAHashAlgorithm, pcrs: [Int: [UInt8]]) throws -> [UInt8] {
        let indices = bank == .sha1 ? Array(0...7) : Array(0...9)
        var data = [UInt8]()
        for i in indices {
            guard let v = pcrs[i], v.count == bank.digestSize else {
                throw MeasurementError.badState("boot_aggregate needs PCR \(i) of the \(bank.rawValue) bank")
            }
            data += v
        }
        return bank.digest(data)
    }

    /// The PCR indices that enter the aggregate of `bank`.
    public static func pcrIndices(bank: IMAHashAlgorithm) -> [Int] { bank == .sha1 ? Array(0...7) : Array(0...9) }
}
