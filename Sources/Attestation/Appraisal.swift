import Measurement
import TPMCrypto
import TPMWire

/// A guest's standing after an attestation round.
public enum Verdict: String, Sendable, Codable, Hashable, CaseIterable {
    /// Evidence verified and every entry acceptable to the policy.
    case trusted = "TRUSTED"
    /// Evidence verified; some entry is not acceptable (the findings say which and why).
    case untrusted = "UNTRUSTED"
    /// Evidence failed a check: forged, replayed, rolled back or inconsistent.
    case tampered = "TAMPERED"
    /// No usable answer from the agent.
    case unreachable = "UNREACHABLE"
}

/// What the verifier knows about a guest: fixed at enrollment.
public struct EnrolledGuest: Hashable, Sendable, Codable {
    public var name: String
    public var address: String
    /// TPM2B_PUBLIC of the AK bound to the EK by credential activation.
    public var akPublic: [UInt8]
    public var ekPublic: [UInt8]
    public var ekCertificate: [UInt8]?
    /// "certificate" (the EK certificate chains to a configured root) or "pinned-ek" (weaker:
    /// the EK public key was given by the operator).
    public var enrollment: String
    /// The PCR the guest's list extends, and the banks replayed.
    public var pcr: UInt32
    public var banks: [IMAHashAlgorithm]

    public init(
        name: String, address: String, akPublic: [UInt8], ekPublic: [UInt8], ekCertificate: [UInt8]?, enrollment: String, pcr: UInt32,
        banks: [IMAHashAlgorithm]
    ) {
        self.name = name
        self.address = address
        self.akPublic = akPublic
        self.ekPublic = ekPublic
        self.ekCertificate = ekCertificate
        self.enrollment = enrollment
        self.pcr = pcr
        self.banks = banks
    }

    /// The PCRs every challenge asks for: the list's PCR in every replayed bank.
    public var selection: TPMLPCRSelection { selection(fromEntry: 1) }

    /// The PCRs a challenge for entries from `first` asks for: the list's PCR in every replayed
    /// bank, and when the list is verified from its start also PCRs 0-9 of those banks, which
    /// its boot_aggregate entry must be the hash of (BootAggregate).
    public func selection(fromEntry first: UInt64) -> TPMLPCRSelection {
        let pcrs = first == 0 ? Array(Set(BootAggregate.pcrIndices(bank: .sha256) + [Int(pcr)])).sorted() : [Int(pcr)]
        return TPMLPCRSelection(banks.map { TPMSPCRSelection(hash: TPMAlgID($0.tpmAlgorithmID), pcrs: pcrs) })
    }
}

/// What the verifier carries from round to round for one guest (saved between rounds).
public struct GuestState: Hashable, Sendable, Codable {
    /// Counters of the last verified quote.
    public var counters: BootCounters?
    /// The list replayed so far in the current boot.
    public var replay: IMAReplayState?
    /// Policy findings in the current boot (a file that ran stays in the list until reboot);
    /// the first `maxFindings` are kept, `findingCount` counts all.
    public var findings: [PolicyFinding]
    public var findingCount: Int

    public static let maxFindings = 100

    public init(counters: BootCounters? = nil, replay: IMAReplayState? = nil, findings: [PolicyFinding] = [], findingCount: Int = 0) {
        self.counters = counters
        self.replay = replay
        self.findings = findings
        self.findingCount = findingCount
    }

    /// The index the next challenge asks for.
    public var nextEntry: UInt64 { UInt64(replay?.entryCount ?? 0) }
}

/// The checks of a round beyond the quote's own.
public enum RoundCheck: String, Sendable, Codable {
    case entries
    case replay
    case bootAggregate = "boot-aggregate"
    case counters
    case policy
}

/// The outcome of one round.
public struct RoundResult: Hashable, Sendable {
    public var verdict: Verdict
    /// The failing check's name (QuoteCheck or RoundCheck raw value), nil when none failed.
    public var check: String?
    public var reason: String
    /// Findings of this round's new entries.
    public var newFindings: [PolicyFinding]
    /// The state to keep (unchanged when the evidence was refused).
    public var state: GuestState
    /// The guest rebooted: challenge again from entry 0 (no verdict from this round).
    public var restartFromZero: Bool
    public var entriesVerified: Int
    public var bootChange: BootChange?
}

public enum Appraiser {
    /// A challenge for `guest` in `state` with a fresh nonce.
    public static func challenge(for guest: EnrolledGuest, state: GuestState, nonce: [UInt8]) -> Challenge {
        Challenge(nonce: nonce, pcrSelection: guest.selection(fromEntry: state.nextEntry).wireBytes, firstEntry: state.nextEntry)
    }

    public static func freshNonce() -> [UInt8] { SystemEntropy.bytes(32) }

    /// Judges one Evidence answering `challenge`. Pure: the caller persists `state` and records
    /// the result.
    public static func appraise(
        evidence: Evidence, challenge: Challenge, guest: EnrolledGuest, state: GuestState, policy: PolicyEvaluator?
    ) -> RoundResult {
        func tampered(_ check: String, _ reason: String) -> RoundResult {
            RoundResult(
                verdict: .tampered, check: check, reason: reason, newFindings: [], state: state, restartFromZero: false, entriesVerified: 0,
                bootChange: nil)
        }
        let ak: TPMPublicKey
        do { ak = try TPMPublicKey(tpm2bPublic: guest.akPublic) } catch {
            return tampered(QuoteCheck.attestationKey.rawValue, "enrolled AK unusable: \(error)")
        }
        guard evidence.akPublic == guest.akPublic else {
            return tampered(QuoteCheck.attestationKey.rawValue, "the evidence names an AK other than the one enrolled for \(guest.name)")
        }
        let selection: TPMLPCRSelection
        do { selection = try TPMLPCRSelection(wire: challenge.pcrSelection) } catch {
            return tampered(QuoteCheck.pcrSelection.rawValue, "challenge selection unreadable")
        }
        let quote: VerifiedQuote
        do {
            quote = try QuoteVerifier.verify(
                attest: evidence.attest, signature: evidence.signature, pcrs: evidence.pcrs, ak: ak, nonce: challenge.nonce,
                expectedSelection: selection, previous: state.counters)
        } catch let f as QuoteFailure {
            return tampered(f.check.rawValue, f.reason)
        } catch {
            return tampered(QuoteCheck.attestStructure.rawValue, "\(error)")
        }
        // The agent's own report of the counters must be what the TPM signed: an agent that
        // reports the old counters is hiding a reset.
        guard evidence.resetCount == quote.counters.resetCount, evidence.restartCount == quote.counters.restartCount else {
            return tampered(
                RoundCheck.counters.rawValue,
                "the agent reports resetCount \(evidence.resetCount)/restartCount \(evidence.restartCount), the TPM signed "
                    + "\(quote.counters.resetCount)/\(quote.counters.restartCount): a reset hidden from the verifier")
        }
        guard evidence.firstEntry == challenge.firstEntry else {
            return tampered(RoundCheck.entries.rawValue, "entries start at \(evidence.firstEntry), \(challenge.firstEntry) was asked for")
        }

        let first = Int(clamping: evidence.firstEntry)
        let restart = RoundResult(
            verdict: .trusted, check: nil, reason: "new boot: the list is verified again from entry 0", newFindings: [], state: state,
            restartFromZero: true, entriesVerified: 0, bootChange: quote.change)
        // After a reset the PCRs started over. A list that still continues the previous boot's
        // replay to the quoted values means someone re-extended the old entries: a hidden reset.
        if quote.change == .reset || quote.change == .first, first > 0 {
            if quote.change == .reset, continuesPreviousBoot(evidence.entries, from: first, state: state, quote: quote, guest: guest) {
                return tampered(
                    RoundCheck.counters.rawValue,
                    "the TPM was reset (resetCount \(state.counters?.resetCount ?? 0) -> \(quote.counters.resetCount)) but the list "
                        + "continues the previous boot's and its PCR was re-extended to match: a reset hidden from the verifier")
            }
            return restart
        }
        var base: IMAReplayState
        if first == 0 {
            base = IMAReplayState(banks: guest.banks)
        } else if let old = state.replay, old.entryCount == first {
            base = old
        } else {
            return restart
        }
        var replayed = base
        do { try replayed.apply(evidence.entries) } catch {
            return tampered(RoundCheck.replay.rawValue, "\(error)")
        }
        if let m = mismatch(replayed, quote: quote, guest: guest) {
            // A Restart may have reset the PCRs (hibernation): start over rather than blame.
            if quote.change == .restart, first > 0 { return restart }
            return tampered(RoundCheck.replay.rawValue, m)
        }

        if first == 0, let m = bootAggregateMismatch(evidence.entries, quote: quote, guest: guest) {
            return tampered(RoundCheck.bootAggregate.rawValue, m)
        }

        let newFindings = policy?.judge(evidence.entries, firstIndex: first) ?? []
        var next = state
        next.counters = quote.counters
        next.replay = replayed
        if first == 0 {
            next.findings = []
            next.findingCount = 0
        }
        next.findings += newFindings.prefix(max(0, GuestState.maxFindings - next.findings.count))
        next.findingCount += newFindings.count
        let enforce = policy?.policy.mode != .observe
        var result = RoundResult(
            verdict: .trusted, check: nil, reason: "\(replayed.entryCount) entries verified", newFindings: newFindings, state: next,
            restartFromZero: false, entriesVerified: evidence.entries.count, bootChange: quote.change)
        if next.findingCount > 0 {
            let shown = next.findings.prefix(3).map(\.description).joined(separator: "; ")
            let more = next.findingCount > 3 ? " (and \(next.findingCount - 3) more)" : ""
            if enforce {
                result.verdict = .untrusted
                result.check = RoundCheck.policy.rawValue
                result.reason = shown + more
            } else {
                result.reason += "; observe mode: " + shown + more
            }
        }
        return result
    }

    /// IMA's first entry, boot_aggregate, is the hash of PCRs 0-7 (SHA-1) or 0-9 (other banks) in
    /// the bank its d-ng field names (ima_calc_boot_aggregate); it must be that hash of the quoted
    /// values, else the list was not made on top of this boot's firmware measurements (a list
    /// carried over from another machine or boot). nil when it agrees.
    static func bootAggregateMismatch(_ entries: [IMAEntry], quote: VerifiedQuote, guest: EnrolledGuest) -> String? {
        guard let e = entries.first else { return "the list is empty: IMA's first entry is always boot_aggregate" }
        guard e.path == IMAEntry.bootAggregateName else { return "entry 0 is \(e.path), not boot_aggregate" }
        guard let bank = IMAHashAlgorithm(rawValue: e.digestAlgorithm), guest.banks.contains(bank) else {
            return "boot_aggregate is a \(e.digestAlgorithm) digest, not one of the quoted banks "
                + guest.banks.map(\.rawValue).joined(separator: ", ")
        }
        var values: [Int: [UInt8]] = [:]
        for i in BootAggregate.pcrIndices(bank: bank) {
            guard let v = quote.pcrs[bank.tpmAlgorithmID]?[UInt8(i)] else { return "PCR \(i) of the \(bank.rawValue) bank was not quoted" }
            values[i] = v
        }
        guard let expected = try? BootAggregate.compute(bank: bank, pcrs: values) else {
            return "the quoted \(bank.rawValue) PCRs do not have that bank's size"
        }
        let listed = e.fileDigest
        guard listed == expected else {
            let range = BootAggregate.pcrIndices(bank: bank)
            return "boot_aggregate \(hexString(listed)) is not the \(bank.rawValue) hash of the quoted PCRs "
                + "\(range.first!)-\(range.last!) (\(hexString(expected))): the list was not made in this boot"
        }
        return nil
    }

    /// The new entries, replayed over the previous boot's state, give the quoted values.
    static func continuesPreviousBoot(
        _ entries: [IMAEntry], from first: Int, state: GuestState, quote: VerifiedQuote, guest: EnrolledGuest
    ) -> Bool {
        guard var s = state.replay, s.entryCount == first else { return false }
        guard (try? s.apply(entries)) != nil else { return false }
        return mismatch(s, quote: quote, guest: guest) == nil
    }

    /// Every PCR the list extends must be the guest's attested PCR, and its quoted value in every
    /// replayed bank must be the replay's. nil when they agree.
    static func mismatch(_ s: IMAReplayState, quote: VerifiedQuote, guest: EnrolledGuest) -> String? {
        if let other = s.extendedPCRs.first(where: { $0 != guest.pcr }) {
            return "the list extends PCR \(other), not the attested PCR \(guest.pcr)"
        }
        for b in guest.banks {
            guard let quoted = quote.pcrs[b.tpmAlgorithmID]?[UInt8(guest.pcr)] else {
                return "PCR \(guest.pcr) of the \(b.rawValue) bank was not quoted"
            }
            let expected = s.value(bank: b, pcr: guest.pcr)
            if quoted != expected {
                return "PCR \(guest.pcr) (\(b.rawValue)) is \(hexString(quoted)) but the list replays to \(hexString(expected)): "
                    + "an entry was edited, deleted, or extended without being listed"
            }
        }
        return nil
    }
}
