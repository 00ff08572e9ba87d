import Foundation
import Measurement

/// A runtime policy: which files a guest may run (Verifier/README.md, "Policy format").
///
/// An entry of the measurement list is judged in this order:
/// 1. its path matches an `exclude` pattern (a regular expression anchored at the start of the
///    path, as Keylime's excludes): not judged;
/// 2. a violation (IMA could not measure): refused unless `allowViolations`;
/// 3. its digest is in `deny`: refused, wherever it is;
/// 4. its path is in `allow`: the digest must be one listed for that path;
/// 5. its digest is in `allowAnywhere`: accepted;
/// 6. otherwise: refused as an unknown file.
/// `boot_aggregate` is checked against the quoted PCRs by the replay, and judged here only when
/// the policy lists that name. In `observe` mode findings are reported but never make a guest
/// UNTRUSTED.
public struct RuntimePolicy: Hashable, Sendable {
    public enum Mode: String, Sendable, Codable, Hashable { case enforce, observe }

    public var mode: Mode
    /// path -> allowed digests ("sha256:hex").
    public var allow: [String: Set<String>]
    public var allowAnywhere: Set<String>
    public var deny: Set<String>
    public var exclude: [String]
    public var allowViolations: Bool

    public init(
        mode: Mode = .enforce, allow: [String: Set<String>] = [:], allowAnywhere: Set<String> = [], deny: Set<String> = [],
        exclude: [String] = [], allowViolations: Bool = false
    ) {
        self.mode = mode
        self.allow = allow
        self.allowAnywhere = allowAnywhere
        self.deny = deny
        self.exclude = exclude
        self.allowViolations = allowViolations
    }

    /// "algorithm:hex", the form digests take in a policy.
    public static func digestKey(_ e: IMAEntry) -> String { e.digestAlgorithm + ":" + hexString(e.fileDigest) }
}

/// Why one entry is not acceptable.
public struct PolicyFinding: Hashable, Sendable, Codable, CustomStringConvertible {
    public enum Reason: String, Sendable, Codable, Hashable {
        case unknownFile = "unknown-file"
        case digestNotAllowed = "digest-not-allowed"
        case denied
        case violation
    }
    public let index: Int
    public let path: String
    public let digest: String
    public let reason: Reason

    public var description: String {
        switch reason {
        case .unknownFile: return "entry \(index): \(path) (\(digest)) is not in the policy"
        case .digestNotAllowed: return "entry \(index): \(path) has digest \(digest), not one the policy allows for it"
        case .denied: return "entry \(index): \(path) has denied digest \(digest)"
        case .violation: return "entry \(index): \(path) could not be measured (violation)"
        }
    }
}

public enum PolicyError: Error, Hashable, Sendable, CustomStringConvertible {
    case malformed(String)
    case badPattern(String)
    public var description: String {
        switch self {
        case .malformed(let s): return "policy: \(s)"
        case .badPattern(let p): return "policy: exclude pattern '\(p)' is not a regular expression"
        }
    }
}

/// A policy ready to judge entries: its exclude patterns compiled once.
public final class PolicyEvaluator: @unchecked Sendable {
    // NSRegularExpression is immutable and safe to use from several threads (Foundation's
    // documentation); nothing here mutates after init.
    public let policy: RuntimePolicy
    private let excludes: [NSRegularExpression]
    // Paths and digests as bytes, looked up with slices of the entry's template data: judging an
    // entry builds no string and copies nothing. A digest is the d-ng field's "<algo>:\0<digest>".
    private struct Key: Hashable {
        let bytes: ArraySlice<UInt8>
        /// A word-at-a-time digest of the bytes, compared before them: most probes of a table end
        /// there (policy paths often share their length), and Hasher gets one word instead of the
        /// bytes. Hasher's per-process seed still places the buckets.
        let mix: UInt64
        init(_ b: ArraySlice<UInt8>) {
            bytes = b
            mix = Key.mix(b)
        }
        init(_ s: String) { self.init(Array(s.utf8)[...]) }
        /// "algorithm:hex" as d-ng bytes; nil when not that shape.
        init?(digest key: String) {
            guard let colon = key.firstIndex(of: ":"), let b = bytesFromHex(key[key.index(after: colon)...]) else { return nil }
            self.init((Array(key[..<colon].utf8) + [0x3A, 0] + b)[...])
        }
        static func mix(_ b: ArraySlice<UInt8>) -> UInt64 {
            b.withUnsafeBytes { p in
                var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(p.count)
                var i = 0
                while i + 8 <= p.count {
                    h = (h ^ p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x0000_0100_0000_01B3
                    h ^= h >> 29
                    i += 8
                }
                while i < p.count {
                    h = (h ^ UInt64(p[i])) &* 0x0000_0100_0000_01B3
                    i += 1
                }
                return h ^ (h >> 32)
            }
        }
        func hash(into h: inout Hasher) { h.combine(mix) }
        static func == (l: Key, r: Key) -> Bool {
            guard l.mix == r.mix, l.bytes.count == r.bytes.count else { return false }
            if l.bytes.isEmpty { return true }
            return l.bytes.withUnsafeBytes { a in r.bytes.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 } }
        }
    }
    private let allow: [Key: Set<Key>]
    private let allowAnywhere: Set<Key>
    private let deny: Set<Key>
    private static let bootAggregate = Key(IMAEntry.bootAggregateName)

    public init(_ policy: RuntimePolicy) throws {
        self.policy = policy
        excludes = try policy.exclude.map { p in
            do { return try NSRegularExpression(pattern: p) } catch { throw PolicyError.badPattern(p) }
        }
        var allow = [Key: Set<Key>]()
        for (path, digests) in policy.allow { allow[Key(path), default: []].formUnion(digests.compactMap { Key(digest: $0) }) }
        self.allow = allow
        allowAnywhere = Set(policy.allowAnywhere.compactMap { Key(digest: $0) })
        deny = Set(policy.deny.compactMap { Key(digest: $0) })
    }

    public func isExcluded(_ path: String) -> Bool {
        let range = NSRange(path.startIndex..<path.endIndex, in: path)
        return excludes.contains { $0.firstMatch(in: path, options: [.anchored], range: range) != nil }
    }

    /// The finding for one entry (index in the list), or nil when it is acceptable.
    public func judge(_ e: IMAEntry, index: Int) -> PolicyFinding? {
        if !excludes.isEmpty, isExcluded(e.path) { return nil }
        func finding(_ r: PolicyFinding.Reason) -> PolicyFinding {
            PolicyFinding(index: index, path: e.path, digest: RuntimePolicy.digestKey(e), reason: r)
        }
        if e.isViolation { return policy.allowViolations ? nil : finding(.violation) }
        let data = e.templateData
        let key = Key(data[e.algorithmRange.lowerBound..<e.fileDigestRange.upperBound])
        if !deny.isEmpty, deny.contains(key) { return finding(.denied) }
        let path = Key(data[e.pathRange])
        if let allowed = allow[path] {
            return allowed.contains(key) || allowAnywhere.contains(key) ? nil : finding(.digestNotAllowed)
        }
        if path == Self.bootAggregate { return nil }
        if allowAnywhere.contains(key) { return nil }
        return finding(.unknownFile)
    }

    /// Findings for entries numbered from `firstIndex`.
    public func judge<C: Collection>(_ entries: C, firstIndex: Int) -> [PolicyFinding] where C.Element == IMAEntry {
        var out = [PolicyFinding]()
        for (i, e) in entries.enumerated() {
            if let f = judge(e, index: firstIndex + i) { out.append(f) }
        }
        return out
    }
}
