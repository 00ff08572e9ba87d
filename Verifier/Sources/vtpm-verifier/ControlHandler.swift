import Attestation
import Foundation

/// The daemon's side of each CLI subcommand: request dictionary in, text or JSON out.
extension VerifierDaemon {
    func handle(_ req: [String: Any]) -> ControlSocket.Response {
        let cmd = req["cmd"] as? String ?? ""
        let json = req["json"] as? Bool ?? false
        do {
            switch cmd {
            case "status": return ok(status(json: json))
            case "enroll":
                guard let name = req["name"] as? String, let agent = req["agent"] as? String else { return bad("enroll: name and agent") }
                let ekPub = (req["ek-pub"] as? String).flatMap { hexBytes($0) }
                let ekCA = (req["ek-ca"] as? String).map { Array($0.utf8) }
                let pcr = (req["pcr"] as? Int).map(UInt32.init)
                return ok(try enroll(name: name, address: agent, ekPub: ekPub, ekCA: ekCA, pcr: pcr) + "\n")
            case "attest":
                guard let name = req["name"] as? String else { return bad("attest: name") }
                let r = try attest(name: name)
                let text = "\(r.name): \(r.verdict.rawValue)" + (r.check.map { " [\($0)]" } ?? "") + " \(r.reason)\n"
                return ControlSocket.Response(exit: r.verdict == .trusted ? 0 : 1, out: text, err: "")
            case "audit": return ok(try auditList(req, json: json))
            case "audit-show":
                guard let id = req["id"] as? Int, let r = try audit.record(id: id) else { return bad("no such record") }
                return ok(json ? bodyJSON(r) + "\n" : describe(r) + "\n")
            case "audit-verify":
                let (n, failure) = try audit.verify()
                if let f = failure {
                    return ControlSocket.Response(exit: 1, out: "", err: "audit log broken at record \(f.id): \(f.reason)\n")
                }
                return ok("audit log intact: \(n) records\n")
            case "policy-set":
                guard let text = req["policy"] as? String else { return bad("policy-set: policy") }
                return ok(try setPolicy(Array(text.utf8), source: req["source"] as? String ?? "cli") + "\n")
            case "policy-show":
                guard let p = currentPolicy() else { return ok("no policy set: every verified list is TRUSTED\n") }
                return ok(String(decoding: p.serialized(), as: UTF8.self))
            default:
                return bad("unknown command '\(cmd)'")
            }
        } catch {
            return ControlSocket.Response(exit: 1, out: "", err: "\(error)\n")
        }
    }

    private func ok(_ s: String) -> ControlSocket.Response { ControlSocket.Response(exit: 0, out: s, err: "") }
    private func bad(_ s: String) -> ControlSocket.Response { ControlSocket.Response(exit: 2, out: "", err: s + "\n") }

    func status(json: Bool) -> String {
        let rs = records()
        if json {
            let arr: [[String: Any]] = rs.map { r in
                var o: [String: Any] = [
                    "name": r.guest.name, "address": r.guest.address, "verdict": r.verdict?.rawValue ?? "PENDING", "reason": r.reason,
                    "enrollment": r.guest.enrollment, "rounds": r.rounds, "entries": r.state.replay?.entryCount ?? 0,
                    "findings": r.state.findings.map(\.description),
                ]
                if let c = r.check { o["check"] = c }
                if let t = r.lastRound { o["last-round"] = t }
                if let c = r.state.counters { o["reset-count"] = Int(c.resetCount) }
                return o
            }
            let data = (try? JSONSerialization.data(withJSONObject: arr, options: [.prettyPrinted, .sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self) + "\n"
        }
        if rs.isEmpty { return "no guests enrolled\n" }
        var out = ""
        for r in rs {
            let v = r.verdict?.rawValue ?? "PENDING"
            out += "\(r.guest.name)\t\(v)\t\(r.guest.address)\t\(r.state.replay?.entryCount ?? 0) entries"
            out += (r.check.map { "\t[\($0)]" } ?? "") + "\t\(r.reason)\n"
        }
        return out
    }

    func auditList(_ req: [String: Any], json: Bool) throws -> String {
        let agent = req["agent"] as? String
        let verdict = (req["verdict"] as? String)?.uppercased()
        let since = try (req["since"] as? String).map { s -> Date in
            guard let d = parseTime(s) else { throw CLIError("--since: ISO 8601 time (2026-01-31T12:00:00Z)") }
            return d
        }
        let until = try (req["until"] as? String).map { s -> Date in
            guard let d = parseTime(s) else { throw CLIError("--until: ISO 8601 time") }
            return d
        }
        var out = ""
        for r in try audit.records() {
            if let agent, r.body["agent"] as? String != agent { continue }
            if let verdict, r.body["verdict"] as? String != verdict { continue }
            if since != nil || until != nil {
                guard let t = (r.body["time"] as? String).flatMap(parseTime) else { continue }
                if let since, t < since { continue }
                if let until, t > until { continue }
            }
            out += (json ? bodyJSON(r) : describe(r)) + "\n"
        }
        return out
    }

    /// The record's body exactly as stored (and hashed).
    func bodyJSON(_ r: AuditLog.Record) -> String {
        String(r.line.split(separator: " ", omittingEmptySubsequences: false).dropLast(2).joined(separator: " "))
    }

    func describe(_ r: AuditLog.Record) -> String {
        let b = r.body
        var s = "#\(r.id) \(b["time"] as? String ?? "?") \(b["kind"] as? String ?? "?")"
        if let a = b["agent"] as? String { s += " \(a)" }
        if let v = b["verdict"] as? String { s += " \(v)" }
        if let c = b["check"] as? String { s += " [\(c)]" }
        if let reason = b["reason"] as? String { s += " \(reason)" }
        for k in b.keys.sorted() where !["id", "time", "kind", "agent", "verdict", "check", "reason"].contains(k) {
            s += " \(k)=\(b[k].map { "\($0)" } ?? "")"
        }
        return s
    }
}
