import Attestation
import FuzzSupport
import Measurement

// The verifier's runtime-policy parser (RuntimePolicy.parse: our JSON format and Keylime's
// runtime policy) and the evaluator built from what it accepts. Properties: no trap; a policy
// that parses serializes (our format) to a file that parses to the same policy; an evaluator
// either builds or refuses a bad exclude pattern, and judging a fixed short list never traps.
// The list's paths are short so that a pathological exclude regex (the operator's own file)
// cannot turn into a time-out here.

/// Seeds: both formats as they are written (FUZZ_WRITE_SEEDS).
func seeds() -> [(name: String, bytes: [UInt8])] {
    let d1 = String(repeating: "ab", count: 32)
    let d2 = String(repeating: "0f", count: 20)
    let d3 = String(repeating: "7c", count: 48)
    let files = [
        (
            "ours",
            """
            {"vtpm-policy": 1, "mode": "enforce", "allow": {"/usr/bin/ls": ["sha256:\(d1)"], "/bin/sh": ["sha1:\(d2)", "sha384:\(d3)"]},
             "allow-anywhere": ["sha256:\(d1)"], "deny": ["sha1:\(d2)"], "exclude": ["/tmp/.*", "^/var/log/"],
             "allow-violations": false, "comment": "golden image 2026-11"}
            """
        ),
        ("ours-observe", "{\"vtpm-policy\": 1, \"mode\": \"observe\", \"allow-violations\": true}"),
        (
            "keylime",
            """
            {"meta": {"version": 1, "generator": 0, "timestamp": "2026-11-27"}, "release": 0,
             "digests": {"/usr/bin/ls": ["\(d1)"], "/bin/sh": ["\(d2)", "\(d1)"]}, "excludes": ["boot_aggregate", "/tmp/.*"],
             "keyrings": {}, "ima": {"ignored_keyrings": [], "log_hash_alg": "sha1", "dm_policy": null}, "ima-buf": {},
             "verification-keys": ""}
            """
        ),
        ("keylime-minimal", "{\"digests\": {}}"),
        ("bad-regex", "{\"vtpm-policy\": 1, \"exclude\": [\"(unclosed\"]}"),
    ]
    return files.map { (name: $0.0, bytes: Array($0.1.utf8)) }
}

/// A fixed list to judge: boot_aggregate, files the seeds name, a violation.
let entries: [IMAEntry] = {
    do {
        return [
            try IMAEntry.bootAggregate(pcr: 10, bank: .sha256, aggregate: [UInt8](repeating: 0x3C, count: 32)),
            try IMAEntry(pcr: 10, algorithm: "sha256", fileDigest: [UInt8](repeating: 0xAB, count: 32), path: "/usr/bin/ls"),
            try IMAEntry(pcr: 10, algorithm: "sha1", fileDigest: [UInt8](repeating: 0x0F, count: 20), path: "/bin/sh"),
            try IMAEntry(pcr: 10, algorithm: "sha256", fileDigest: [UInt8](repeating: 1, count: 32), path: "/tmp/x"),
            try IMAEntry.violation(pcr: 10, path: "/var/log/a"),
        ]
    } catch { fuzzFailure("list entries: \(error)") }
}()

public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    writeSeedsIfAsked(seeds())
    let input = fuzzInput(data, size)
    guard let policy = try? RuntimePolicy.parse(input) else { return 0 }
    let file = policy.serialized()
    do {
        let again = try RuntimePolicy.parse(file)
        fuzzCheck(again == policy, "parse(serialized(p)) != p for \(String(decoding: file.prefix(300), as: UTF8.self))")
    } catch {
        let text = String(decoding: file.prefix(300), as: UTF8.self)
        fuzzFailure("a parsed policy serializes to a file that does not parse (\(error)): \(text)")
    }
    guard let evaluator = try? PolicyEvaluator(policy) else { return 0 }
    let findings = evaluator.judge(entries, firstIndex: 0)
    fuzzCheck(findings.count <= entries.count, "more findings than entries")
    return 0
}
