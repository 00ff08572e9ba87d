import TPMCrypto
import TPMWire

/// The PC Client platform's attributes of each PCR (PC Client Platform TPM Profile,
/// "PCR attributes" table): which localities may extend and reset it, whether
/// Shutdown(STATE) saves it, whether changing it leaves the update counter alone, and its
/// DRTM and authorization group. libtpms reports the same values (checked in tests).
struct PCRAttributes: Sendable {
    var stateSave: Bool
    /// Bit n set: locality n may extend (TPM_PT_PCR_EXTEND_Ln).
    var extendLocalities: UInt8
    /// Bit n set: locality n may reset (TPM_PT_PCR_RESET_Ln).
    var resetLocalities: UInt8
    var noIncrement: Bool
    /// Reset to 0 by a DRTM event, all ones after TPM Reset (PCR 17-22).
    var drtm: Bool
    /// Members of the policy and auth groups (PCR_SetAuthPolicy, PCR_SetAuthValue).
    var policyGroup: Bool
    var authGroup: Bool

    static let table: [PCRAttributes] = (0..<TPMLimits.pcrCount).map { pcr in
        switch pcr {
        case 0...15:
            return PCRAttributes(
                stateSave: true, extendLocalities: 0x1F, resetLocalities: 0, noIncrement: false, drtm: false, policyGroup: false,
                authGroup: false)
        case 16, 23:
            return PCRAttributes(
                stateSave: false, extendLocalities: 0x1F, resetLocalities: 0x0F, noIncrement: true, drtm: false, policyGroup: false,
                authGroup: false)
        case 17, 18:
            return PCRAttributes(
                stateSave: false, extendLocalities: 0x1C, resetLocalities: 0x10, noIncrement: false, drtm: true, policyGroup: false,
                authGroup: false)
        case 19:
            return PCRAttributes(
                stateSave: false, extendLocalities: 0x0C, resetLocalities: 0x10, noIncrement: false, drtm: true, policyGroup: false,
                authGroup: false)
        case 20:
            return PCRAttributes(
                stateSave: false, extendLocalities: 0x0E, resetLocalities: 0x14, noIncrement: false, drtm: true, policyGroup: true,
                authGroup: true)
        default:  // 21, 22
            return PCRAttributes(
                stateSave: false, extendLocalities: 0x04, resetLocalities: 0x14, noIncrement: true, drtm: true, policyGroup: true,
                authGroup: true)
        }
    }
}

/// Which PCRs of one bank are allocated (PCR_Allocate; Part 1, 17.5). Bit n: PCR n.
struct PCRAllocation: Sendable, Equatable {
    var alg: TPMAlgID
    var mask: UInt32

    static let allPCRs: UInt32 = (1 << UInt32(TPMLimits.pcrCount)) - 1

    /// One entry for every implemented hash, `banks` fully allocated, the others empty.
    static func full(_ banks: [TPMAlgID]) -> [PCRAllocation] {
        TPMLimits.hashAlgorithms.map { PCRAllocation(alg: $0, mask: banks.contains($0) ? allPCRs : 0) }
    }

    func isAllocated(_ pcr: Int) -> Bool { pcr >= 0 && pcr < TPMLimits.pcrCount && mask & (1 << UInt32(pcr)) != 0 }
}

/// One PCR bank: a hash algorithm, which PCRs are allocated, and the values of all PCRs.
struct PCRBank: Sendable, Equatable {
    var alg: TPMAlgID
    var allocated: UInt32 = PCRAllocation.allPCRs
    var values: [[UInt8]]

    func isAllocated(_ pcr: Int) -> Bool { pcr >= 0 && pcr < TPMLimits.pcrCount && allocated & (1 << UInt32(pcr)) != 0 }

    var hash: HashAlgorithm { HashAlgorithm(rawValue: alg.rawValue)! }

    /// The value a PCR takes at TPM Reset (PC Client): zeros, all ones for the DRTM PCRs,
    /// and PCR 0's last octet set to the Startup locality when that was 3.
    static func initialValue(pcr: Int, alg: TPMAlgID, startupLocality: UInt8) -> [UInt8] {
        let n = TPMLimits.digestSize(alg) ?? 0
        if PCRAttributes.table[pcr].drtm { return [UInt8](repeating: 0xFF, count: n) }
        var v = [UInt8](repeating: 0, count: n)
        if pcr == 0, startupLocality == 3, n > 0 { v[n - 1] = 3 }
        return v
    }

    init(alg: TPMAlgID, allocated: UInt32 = PCRAllocation.allPCRs, startupLocality: UInt8 = 0) {
        self.alg = alg
        self.allocated = allocated
        values = (0..<TPMLimits.pcrCount).map { PCRBank.initialValue(pcr: $0, alg: alg, startupLocality: startupLocality) }
    }

    init(alg: TPMAlgID, allocated: UInt32, values: [[UInt8]]) {
        self.alg = alg
        self.allocated = allocated
        self.values = values
    }

    /// PCR_Extend: new = H(old || digest).
    mutating func extend(_ pcr: Int, _ digest: [UInt8]) {
        values[pcr] = hash.digest([values[pcr], digest])
    }
}
