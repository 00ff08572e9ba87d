import TPMCrypto
import TPMWire

/// The commit state of the split-signing and two-phase key-exchange commands (Part 1, annex C,
/// TPM2_Commit; Part 3, 14.7, 14.8, 19.2): STATE_RESET data, so TPM Restart and Resume keep
/// it and TPM Reset starts it again (counter 0, no outstanding commit, a new nonce).
///
/// Each commit (TPM2_Commit, TPM2_EC_Ephemeral) takes the counter's current value c, sets bit
/// c mod 128 of the array and increments the counter; the caller gets the low 16 bits of c.
/// The commit's random value r is a function of the nonce, c and (for TPM2_Commit) the key's
/// Name, so the TPM need not store r: the signing (TPM2_Sign with ECDAA) or key-exchange
/// (TPM2_ZGen_2Phase) command that consumes the commit recomputes it from the count, then
/// clears the bit so the same r is never used twice.
struct CommitState: Sendable, Equatable {
    /// The commit counter (the count of every commit since TPM Reset).
    var counter: UInt64 = 0
    /// The commit nonce: empty until the first commit after TPM Reset draws it, so a TPM Reset
    /// costs no random bits for a TPM that never commits.
    var nonce: [UInt8] = []
    /// One bit per outstanding commit: bit (c mod 128) is octet (c mod 128) / 8, bit
    /// (c mod 8) with bit 0 the least significant.
    var array = [UInt8](repeating: 0, count: TPMLimits.commitArraySize)

    static let label = "ECDAA Commit"
    static var arrayBits: Int { 8 * TPMLimits.commitArraySize }

    func isOutstanding(_ index: Int) -> Bool { array[index / 8] & (1 << UInt8(index % 8)) != 0 }
}

extension TPM {
    /// CryptGenerateR (Part 4) for a new commit: r for the counter's current value. nil when the
    /// curve has no scalar to give (never for an implemented curve).
    func commitRandom(curve: ECCCurve, name: [UInt8]) -> [UInt8]? {
        if volatile.commit.nonce.isEmpty { volatile.commit.nonce = random(TPMLimits.commitNonceSize) }
        return commitRandom(curve: curve, name: name, counter: volatile.commit.counter)
    }

    /// CryptGenerateR for the commit the caller names by the low 16 bits of its count: nil when
    /// that commit is not outstanding (its bit is clear, or it lies more than 128 commits back,
    /// where its bit already stands for a later commit).
    func committedRandom(curve: ECCCurve, name: [UInt8], count: UInt16) -> [UInt8]? {
        let current = volatile.commit.counter
        // How many commits ago `count` was taken: 1 ... 128 for an outstanding one.
        let age = UInt64(UInt16(truncatingIfNeeded: current) &- count)
        guard age >= 1, age <= UInt64(CommitState.arrayBits), age <= current,
            volatile.commit.isOutstanding(Int(count) % CommitState.arrayBits), !volatile.commit.nonce.isEmpty
        else { return nil }
        return commitRandom(curve: curve, name: name, counter: current - age)
    }

    /// r = the scalar rule over KDFa(SHA-256, nonce, "ECDAA Commit", name, counter (u64), ...):
    /// our own derivation (Part 4 leaves it to the implementation); it only has to be a secret
    /// function of the nonce, the key and the count.
    private func commitRandom(curve: ECCCurve, name: [UInt8], counter: UInt64) -> [UInt8]? {
        var v = TPMWriter(capacity: 8)
        v.u64(counter)
        return try? curve.derivedScalar(
            hash: TPM.contextIntegrityHash, seed: volatile.commit.nonce, label: CommitState.label, contextU: name, contextV: v.bytes)
    }

    /// CryptCommit: marks the current count outstanding, advances the counter and returns the
    /// count's low 16 bits.
    func commitCount() -> UInt16 {
        let c = volatile.commit.counter
        let index = Int(c % UInt64(CommitState.arrayBits))
        volatile.commit.array[index / 8] |= 1 << UInt8(index % 8)
        volatile.commit.counter = c &+ 1
        return UInt16(truncatingIfNeeded: c)
    }

    /// CryptEndCommit: the commit with this count is used up.
    func endCommit(_ count: UInt16) {
        let index = Int(count) % CommitState.arrayBits
        volatile.commit.array[index / 8] &= ~(1 << UInt8(index % 8))
    }
}
