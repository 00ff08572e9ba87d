import Foundation
import TPMClient
import TPMCrypto
import TPMWire

/// The agent's one connection to its TPM, shared by the measuring thread (extends) and the
/// evidence server (quotes). `TPMClient` is not thread-safe; every use goes through `with`.
///
/// `@unchecked Sendable`: the client is only touched under `lock`.
public final class TPMAccess: @unchecked Sendable {
    private let client: TPMClient
    private let lock = NSLock()
    public let tcti: TCTI

    public init(tcti: TCTI) throws {
        self.tcti = tcti
        client = try TPMClient(tcti: tcti)
        try client.startup()
    }

    public func with<T>(_ body: (TPMClient) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(client)
    }

    /// The allocated banks whose hash this agent implements (SHA-1/256/384/512).
    public func banks() throws -> [TPMAlgID] {
        try with { try $0.allocatedBanks() }.filter { HashAlgorithm(rawValue: $0.rawValue) != nil }
    }

    /// Extends `values[bank]` into `pcr` of each bank, in one TPM2_PCR_Extend.
    public func extend(pcr: Int, values: [TPMAlgID: [UInt8]], order: [TPMAlgID]) throws {
        let digests = order.compactMap { bank in values[bank].map { TPMTHA(hashAlg: bank, digest: $0) } }
        try with { try $0.pcrExtend(pcr, digests: digests) }
    }

    /// The values of `pcrs` in each of `banks`.
    public func read(pcrs: [Int], banks: [TPMAlgID]) throws -> [TPMAlgID: [Int: [UInt8]]] {
        let selection = TPMLPCRSelection(banks.map { TPMSPCRSelection(hash: $0, pcrs: pcrs) })
        let (values, _) = try with { try $0.pcrRead(selection) }
        var out: [TPMAlgID: [Int: [UInt8]]] = [:]
        for (k, v) in values { out[k.bank, default: [:]][k.pcr] = v }
        return out
    }

    /// TPMS_CLOCK_INFO's resetCount: it changes at every TPM reset (a new boot).
    public func resetCount() throws -> UInt32 {
        try with { try $0.readClock() }.clockInfo.resetCount
    }
}
