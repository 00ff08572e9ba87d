import Foundation
import Measurement

// Policy files: ours (documented in Verifier/README.md) and Keylime's runtime policy
// (keylime/ima: {"meta": {"version": 1}, "digests": {path: [hex...]}, "excludes": [regex...],
// ...}; Keylime's digests are bare hex whose algorithm follows from the length).

extension RuntimePolicy {
    /// The largest policy file read (a full distribution's allowlist is a few tens of MiB).
    public static let maxFileSize = 256 * 1024 * 1024

    /// Reads either format: ours has "vtpm-policy": 1; Keylime's has "digests" (and "meta").
    public static func parse(_ data: [UInt8]) throws -> RuntimePolicy {
        guard data.count <= maxFileSize else { throw PolicyError.malformed("larger than \(maxFileSize) bytes") }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: Data(data)) } catch { throw PolicyError.malformed("not JSON") }
        guard let o = json as? [String: Any] else { throw PolicyError.malformed("not a JSON object") }
        if o["vtpm-policy"] != nil { return try parseOurs(o) }
        if o["digests"] != nil || o["meta"] != nil { return try parseKeylime(o) }
        throw PolicyError.malformed("neither a vtpm policy (\"vtpm-policy\": 1) nor a Keylime runtime policy (\"digests\")")
    }

    static func parseOurs(_ o: [String: Any]) throws -> RuntimePolicy {
        guard o["vtpm-policy"] as? Int == 1 else { throw PolicyError.malformed("\"vtpm-policy\" must be 1") }
        let known: Set<String> = ["vtpm-policy", "mode", "allow", "allow-anywhere", "deny", "exclude", "allow-violations", "comment"]
        if let extra = o.keys.first(where: { !known.contains($0) }) { throw PolicyError.malformed("unknown key \"\(extra)\"") }
        var p = RuntimePolicy()
        if let m = o["mode"] {
            guard let s = m as? String, let mode = Mode(rawValue: s) else { throw PolicyError.malformed("\"mode\" is enforce or observe") }
            p.mode = mode
        }
        if let a = o["allow"] {
            guard let d = a as? [String: Any] else { throw PolicyError.malformed("\"allow\" maps paths to digest lists") }
            for (path, v) in d { p.allow[path] = Set(try digestList(v, "allow[\(path)]", bare: false)) }
        }
        if let a = o["allow-anywhere"] { p.allowAnywhere = Set(try digestList(a, "allow-anywhere", bare: false)) }
        if let a = o["deny"] { p.deny = Set(try digestList(a, "deny", bare: false)) }
        if let e = o["exclude"] { p.exclude = try stringList(e, "exclude") }
        if let v = o["allow-violations"] {
            guard let b = v as? Bool else { throw PolicyError.malformed("\"allow-violations\" is true or false") }
            p.allowViolations = b
        }
        return p
    }

    static func parseKeylime(_ o: [String: Any]) throws -> RuntimePolicy {
        if let meta = o["meta"] {
            guard let m = meta as? [String: Any], let v = m["version"] as? Int, v == 1 else {
                throw PolicyError.malformed("Keylime runtime policy meta.version must be 1")
            }
        }
        var p = RuntimePolicy()
        if let d = o["digests"] {
            guard let map = d as? [String: Any] else { throw PolicyError.malformed("\"digests\" maps paths to digest lists") }
            for (path, v) in map { p.allow[path] = Set(try digestList(v, "digests[\(path)]", bare: true)) }
        }
        if let e = o["excludes"] { p.exclude = try stringList(e, "excludes") }
        return p
    }

    /// "algo:hex" strings; with `bare`, also Keylime's bare hex (algorithm from its length).
    static func digestList(_ v: Any, _ field: String, bare: Bool) throws -> [String] {
        try stringList(v, field).map { s in
            let lower = s.lowercased()
            if let colon = lower.firstIndex(of: ":") {
                let algo = String(lower[..<colon])
                let hex = lower[lower.index(after: colon)...]
                guard let size = IMAFileDigestAlgorithms.sizes[algo], let b = bytesFromHex(hex), b.count == size else {
                    throw PolicyError.malformed("\(field): '\(s)' is not algorithm:hex")
                }
                return algo + ":" + hexString(b)
            }
            let bySize: [Int: String] = [20: "sha1", 32: "sha256", 48: "sha384", 64: "sha512"]
            guard bare, let b = bytesFromHex(lower), let algo = bySize[b.count] else {
                throw PolicyError.malformed("\(field): '\(s)' is not algorithm:hex")
            }
            return algo + ":" + hexString(b)
        }
    }

    static func stringList(_ v: Any, _ field: String) throws -> [String] {
        guard let a = v as? [Any] else { throw PolicyError.malformed("\(field) is not a list") }
        return try a.map {
            guard let s = $0 as? String else { throw PolicyError.malformed("\(field) holds a non-string") }
            return s
        }
    }

    /// Our format, keys and lists sorted (stable output for diffs).
    public func serialized() -> [UInt8] {
        var o: [String: Any] = ["vtpm-policy": 1, "mode": mode.rawValue]
        o["allow"] = allow.mapValues { $0.sorted() }
        o["allow-anywhere"] = allowAnywhere.sorted()
        o["deny"] = deny.sorted()
        o["exclude"] = exclude
        o["allow-violations"] = allowViolations
        let data = (try? JSONSerialization.data(withJSONObject: o, options: [.prettyPrinted, .sortedKeys])) ?? Data("{}".utf8)
        return Array(data) + [0x0A]
    }

    /// An allowlist from a golden guest's list: every measured path with its digest(s);
    /// boot_aggregate and violations are left out.
    public static func fromList<C: Collection>(_ entries: C) -> RuntimePolicy where C.Element == IMAEntry {
        var p = RuntimePolicy()
        for e in entries where !e.isViolation && e.path != IMAEntry.bootAggregateName {
            p.allow[e.path, default: []].insert(digestKey(e))
        }
        return p
    }
}
