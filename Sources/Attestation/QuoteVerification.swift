import TPMCrypto
import TPMWire

/// The named checks of a quote, in the order they run. Each failure names its check and says
/// why, like the RFC 5280 policies of swift-certificates: a verdict can always be explained.
public enum QuoteCheck: String, Sendable, Codable, CaseIterable {
    /// The evidence names the AK enrolled for this guest.
    case attestationKey = "attestation-key"
    /// TPMS_ATTEST parses strictly.
    case attestStructure = "attest-structure"
    /// magic == TPM_GENERATED_VALUE (Part 2, 6.2): the TPM made this structure.
    case magic
    /// type == TPM_ST_ATTEST_QUOTE.
    case attestType = "attest-type"
    /// The AK's signature over the TPMS_ATTEST octets.
    case signature
    /// extraData == the nonce of this challenge (freshness; a replayed answer fails here).
    case nonce
    /// The quoted PCR selection is the one asked for, and the PCR values sent are exactly it.
    case pcrSelection = "pcr-selection"
    /// pcrDigest == H(selected PCR values) with the signing scheme's hash (Part 3, 18.4).
    case pcrDigest = "pcr-digest"
    /// resetCount/restartCount/clock never go back; the evidence's own counters are the signed ones.
    case counters
}

public struct QuoteFailure: Error, Hashable, Sendable, CustomStringConvertible {
    public let check: QuoteCheck
    public let reason: String
    public init(_ check: QuoteCheck, _ reason: String) {
        self.check = check
        self.reason = reason
    }
    public var description: String { "\(check.rawValue): \(reason)" }
}

/// The TPM's boot counters and clock as a quote reports them (TPMS_CLOCK_INFO).
public struct BootCounters: Hashable, Sendable, Codable {
    public var resetCount: UInt32
    public var restartCount: UInt32
    public var clock: UInt64

    public init(resetCount: UInt32, restartCount: UInt32, clock: UInt64) {
        self.resetCount = resetCount
        self.restartCount = restartCount
        self.clock = clock
    }
}

/// What the counters say happened since the previous verified quote (Part 1, 36.4-36.6).
public enum BootChange: String, Hashable, Sendable, Codable {
    /// Same boot, same power cycle.
    case none
    /// restartCount grew: TPM Restart or Resume (Shutdown(STATE) then Startup). PCRs may or may
    /// not have been reset.
    case restart
    /// resetCount grew: TPM Reset (a reboot). PCRs started over.
    case reset
    /// No previous quote to compare with.
    case first
}

/// A quote that passed every check.
public struct VerifiedQuote: Hashable, Sendable {
    public let attest: TPMSAttest
    /// bank (TPM_ALG_ID) -> PCR -> value, exactly the quoted selection.
    public let pcrs: [UInt16: [UInt8: [UInt8]]]
    public let counters: BootCounters
    public let change: BootChange
}

public enum QuoteVerifier {
    /// Verifies a quote with the enrolled AK. `expectedSelection` is what the challenge asked
    /// for; `previous` the counters of the last verified quote of this guest.
    public static func verify(
        attest: [UInt8], signature: [UInt8], pcrs: [PCRBankValues], ak: TPMPublicKey, nonce: [UInt8],
        expectedSelection: TPMLPCRSelection, previous: BootCounters?
    ) throws -> VerifiedQuote {
        // magic and type first, from the octets, so they get their own reasons.
        guard attest.count >= 6 else { throw QuoteFailure(.attestStructure, "\(attest.count) bytes") }
        let magic = attest[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard magic == tpmGeneratedValue else {
            throw QuoteFailure(.magic, "0x\(String(magic, radix: 16)) is not TPM_GENERATED_VALUE (the TPM did not make it)")
        }
        let type = UInt16(attest[4]) << 8 | UInt16(attest[5])
        guard type == TPMST.attestQuote.rawValue else {
            throw QuoteFailure(.attestType, "type 0x\(String(type, radix: 16)) is not TPM_ST_ATTEST_QUOTE")
        }
        let parsed: TPMSAttest
        do { parsed = try TPMSAttest(wire: attest) } catch { throw QuoteFailure(.attestStructure, "\(error)") }
        guard case .quote(let info) = parsed.attested else { throw QuoteFailure(.attestType, "not a quote") }

        // The signature before anything inside is believed.
        var r = TPMReader(signature)
        let sig: TPMTSignature
        do {
            sig = try TPMTSignature(from: &r, allowNull: false, support: VerifierAlgorithms.support)
            guard r.isAtEnd else { throw KeyError.malformed("trailing bytes") }
        } catch {
            throw QuoteFailure(.signature, "TPMT_SIGNATURE: \(error)")
        }
        do { try ak.verify(signature: sig, over: attest) } catch { throw QuoteFailure(.signature, "\(error)") }

        guard constantTimeEqual(parsed.extraData.buffer, nonce) else {
            throw QuoteFailure(.nonce, "extraData is not this challenge's nonce (stale or replayed evidence)")
        }

        // Selection: the quoted one is the one asked for, and the values sent cover it exactly.
        let quoted = selectionSets(info.pcrSelect)
        guard quoted == selectionSets(expectedSelection) else {
            throw QuoteFailure(.pcrSelection, "quoted selection \(describe(quoted)) is not the challenge's")
        }
        var values = [UInt16: [UInt8: [UInt8]]]()
        for b in pcrs { values[b.algorithm] = b.values }
        let sent = values.mapValues { Set($0.keys.map(Int.init)) }
        guard sent == quoted.filter({ !$0.value.isEmpty }) else {
            throw QuoteFailure(.pcrSelection, "PCR values sent \(describe(sent)) are not the quoted selection \(describe(quoted))")
        }

        // pcrDigest: the selected values concatenated in selection order (Part 3, 18.4.1).
        guard let h = sigHash(sig).flatMap({ $0.hashAlgorithm }) else { throw QuoteFailure(.pcrDigest, "no signing hash") }
        var concatenated = [UInt8]()
        for s in info.pcrSelect.selections {
            for p in s.selectedPCRs {
                guard let v = values[s.hash.rawValue]?[UInt8(p)] else { throw QuoteFailure(.pcrSelection, "PCR \(p) missing") }
                concatenated += v
            }
        }
        guard constantTimeEqual(h.digest(concatenated), info.pcrDigest.buffer) else {
            throw QuoteFailure(.pcrDigest, "the PCR values sent are not the ones quoted")
        }

        let c = parsed.clockInfo
        let now = BootCounters(resetCount: c.resetCount, restartCount: c.restartCount, clock: c.clock)
        let change = try compare(now, previous)
        return VerifiedQuote(attest: parsed, pcrs: values, counters: now, change: change)
    }

    /// Counters only move forward: a smaller resetCount, a smaller restartCount within one
    /// reset, or a smaller clock within one restart is a rollback (an old TPM state restored).
    public static func compare(_ now: BootCounters, _ previous: BootCounters?) throws -> BootChange {
        guard let p = previous else { return .first }
        if now.resetCount < p.resetCount {
            throw QuoteFailure(.counters, "resetCount went back from \(p.resetCount) to \(now.resetCount) (TPM state rolled back)")
        }
        if now.resetCount > p.resetCount { return .reset }
        if now.restartCount < p.restartCount {
            throw QuoteFailure(.counters, "restartCount went back from \(p.restartCount) to \(now.restartCount) (TPM state rolled back)")
        }
        if now.restartCount > p.restartCount { return .restart }
        if now.clock < p.clock {
            throw QuoteFailure(.counters, "clock went back from \(p.clock) to \(now.clock) within one boot")
        }
        return .none
    }

    static func sigHash(_ s: TPMTSignature) -> TPMAlgID? {
        switch s.signature {
        case .rsassa(let x), .rsapss(let x): return x.hash
        case .ecdsa(let x), .ecdaa(let x), .sm2(let x), .ecschnorr(let x): return x.hash
        default: return nil
        }
    }

    /// bank -> selected PCR indices.
    public static func selectionSets(_ l: TPMLPCRSelection) -> [UInt16: Set<Int>] {
        var out = [UInt16: Set<Int>]()
        for s in l.selections { out[s.hash.rawValue, default: []].formUnion(s.selectedPCRs) }
        return out.filter { !$0.value.isEmpty }
    }

    static func describe(_ s: [UInt16: Set<Int>]) -> String {
        s.keys.sorted().map { k in
            let name = TPMAlgID(k).hashAlgorithm.map { "\($0)" } ?? "0x\(String(k, radix: 16))"
            return "\(name):\(s[k]!.sorted().map(String.init).joined(separator: ","))"
        }.joined(separator: "+")
    }
}
