import Attestation
import Foundation
import Measurement
import TPMCrypto

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the verifier keeps per guest (DIR/guests/NAME.json).
struct GuestRecord: Codable, Sendable {
    var guest: EnrolledGuest
    var state: GuestState
    var verdict: Verdict?
    var check: String?
    var reason: String
    var lastRound: String?
    var rounds: Int
}

extension GuestRecord {
    /// Everything but the enrollment, for encoding with a cached enrollment.
    private struct Rest: Encodable {
        let state: GuestState
        let verdict: Verdict?
        let check: String?
        let reason: String
        let lastRound: String?
        let rounds: Int
    }

    /// The same bytes as JSONEncoder with [.sortedKeys] gives for the whole record, with the
    /// "guest" value given already encoded (by that encoder): it goes in its sorted place,
    /// after "check" (if any) and before "lastRound" (if any) or "reason". Those two can only
    /// occur as keys there: inside "check"'s string value a quote is always escaped.
    static func encode(_ r: GuestRecord, guestJSON: [UInt8]) throws -> [UInt8] {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let rest = Array(
            try enc.encode(
                Rest(state: r.state, verdict: r.verdict, check: r.check, reason: r.reason, lastRound: r.lastRound, rounds: r.rounds)))
        let next = Array((r.lastRound != nil ? "\"lastRound\":" : "\"reason\":").utf8)
        guard let at = firstIndex(of: next, in: rest) else { throw CLIError("guest record encoding: no \"reason\" key") }
        return Array(rest[..<at]) + Array("\"guest\":".utf8) + guestJSON + [0x2C] + Array(rest[at...])
    }
}

struct DaemonConfig: Sendable {
    var stateDir: String
    var interval: TimeInterval
    var timeout: TimeInterval
    var concurrency: Int
    var onChange: String?
    var defaultPCR: UInt32
    var banks: [IMAHashAlgorithm]
}

/// The verifier: enrolled guests, their states, the policy, the audit log, and the rounds.
/// Shared between the scheduler, the worker threads and the control socket under one lock;
/// network rounds run outside it.
final class VerifierDaemon: @unchecked Sendable {
    let config: DaemonConfig
    let audit: AuditLog
    private let lock = NSLock()
    private var guests: [String: GuestRecord] = [:]
    private var policy: PolicyEvaluator?
    private var inFlight: Set<String> = []
    private var nextDue: [String: Date] = [:]
    /// Bumped by every policy change; a round that started under another epoch does not keep
    /// its replay state, so the new policy judges the whole list next round.
    private var policyEpoch = 0
    private let guestDir: String
    private let policyPath: String

    init(config: DaemonConfig, policyFile: String?) throws {
        self.config = config
        guestDir = config.stateDir + "/guests"
        policyPath = config.stateDir + "/policy.json"
        try FileManager.default.createDirectory(atPath: guestDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        audit = try AuditLog(directory: config.stateDir)
        for f in try FileManager.default.contentsOfDirectory(atPath: guestDir) where f.hasSuffix(".json") {
            let data = try readFile(guestDir + "/" + f, max: 64 << 20)
            let r = try JSONDecoder().decode(GuestRecord.self, from: Data(data))
            guests[r.guest.name] = r
        }
        if FileManager.default.fileExists(atPath: policyPath) {
            policy = try PolicyEvaluator(try RuntimePolicy.parse(try readFile(policyPath, max: RuntimePolicy.maxFileSize)))
        }
        try audit.append(kind: "start", ["guests": guests.count, "records": audit.count, "policy": policy != nil ? "set" : "none"])
        if let policyFile { _ = try setPolicy(try readFile(policyFile, max: RuntimePolicy.maxFileSize), source: policyFile) }
    }

    // MARK: policy

    func setPolicy(_ bytes: [UInt8], source: String) throws -> String {
        let p = try RuntimePolicy.parse(bytes)
        let ev = try PolicyEvaluator(p)
        let ours = p.serialized()
        let digest = hexOf(Array(SHA256Digest(ours)))
        if let installed = try? readFile(policyPath, max: RuntimePolicy.maxFileSize), installed == ours {
            lock.withLock { policy = ev }
            return "policy unchanged; sha256 \(digest)"
        }
        try writeFileDurably(policyPath, ours)
        // Entries already judged are judged again under the new policy: each guest's next round
        // verifies its list from entry 0 (once; O(list) for that round only).
        let rejudge: [GuestRecord] = lock.withLock {
            policy = ev
            policyEpoch += 1
            for name in guests.keys {
                guests[name]?.state.replay = nil
                guests[name]?.state.findings = []
                guests[name]?.state.findingCount = 0
            }
            return Array(guests.values)
        }
        for r in rejudge { try save(r) }
        try audit.append(
            kind: "policy",
            [
                "source": source, "sha256": digest, "mode": p.mode.rawValue, "paths": p.allow.count, "anywhere": p.allowAnywhere.count,
                "deny": p.deny.count, "exclude": p.exclude.count,
            ])
        return "policy set (\(p.allow.count) paths, \(p.allowAnywhere.count) digests anywhere, \(p.deny.count) denied, "
            + "\(p.exclude.count) excludes, \(p.mode.rawValue)); sha256 \(digest)"
    }

    func currentPolicy() -> RuntimePolicy? { lock.withLock { policy?.policy } }

    // MARK: guests

    func records() -> [GuestRecord] { lock.withLock { guests.values.sorted { $0.guest.name < $1.guest.name } } }

    /// Each guest's encoded enrollment (it only changes when the guest is enrolled again):
    /// encoding its keys and certificate anew every round was most of a save's CPU.
    private let guestJSONLock = NSLock()
    private var guestJSON: [String: (EnrolledGuest, [UInt8])] = [:]

    private func save(_ r: GuestRecord) throws {
        let cached: [UInt8]? = guestJSONLock.withLock {
            guard let (g, json) = guestJSON[r.guest.name], g == r.guest else { return nil }
            return json
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let guest = try cached ?? Array(enc.encode(r.guest))
        if cached == nil { guestJSONLock.withLock { guestJSON[r.guest.name] = (r.guest, guest) } }
        try writeFileDurably(guestDir + "/" + r.guest.name + ".json", try GuestRecord.encode(r, guestJSON: guest))
    }

    static func validName(_ n: String) -> Bool {
        !n.isEmpty && n.count <= 64
            && n.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x2E || c == 0x5F
            } && !n.hasPrefix(".")
    }

    /// Enrollment (issue 7, 3): the EK is trusted through a pinned public key (weaker, recorded
    /// so); the AK is bound to it by MakeCredential/ActivateCredential; only then is it kept.
    func enroll(name: String, address: String, ekPub: [UInt8]?, ekCA: [UInt8]?, pcr: UInt32?) throws -> String {
        guard Self.validName(name) else { throw CLIError("guest name: 1-64 of A-Z a-z 0-9 . _ - (not starting with .)") }
        _ = try splitHostPort(address)
        let conn = try AgentConnection(address: address, timeout: config.timeout)
        guard case .enrollResponse(let r) = try conn.request(.enrollRequest) else {
            throw CLIError("the agent did not answer EnrollRequest")
        }
        let ak = try TPMPublicKey(tpm2bPublic: r.akPublic)
        let ek = try TPMPublicKey(tpm2bPublic: r.ekPublic)
        guard ak.isAttestationKey else { throw CLIError("the AK is not a restricted, fixed signing key") }
        guard ek.isEndorsementKey else { throw CLIError("the EK is not a restricted decryption key") }
        guard ak.name == r.akName else { throw CLIError("the AK Name the agent sent is not the Name of its public area") }
        let strength: String
        if let pinned = ekPub {
            let p = try TPMPublicKey(tpm2bPublic: pinned)
            guard p.tpm2bPublic == ek.tpm2bPublic else { throw CLIError("the agent's EK is not the pinned one (--ek-pub)") }
        }
        if let ekCA {
            guard let cert = r.ekCertificate else {
                throw CLIError("the agent has no EK certificate; enroll with --ek-pub FILE (a weaker, pinned enrollment)")
            }
            try EKCertificate.verify(certificateDER: cert, trustPEM: ekCA, ek: ek)
            strength = "certificate"
        } else if ekPub != nil {
            strength = "pinned-ek"
        } else {
            throw CLIError("give --ek-ca PEM (EK certificate) or --ek-pub FILE (pinned EK public key)")
        }
        // Credential activation: only the TPM with this EK, holding an object named ak.name,
        // recovers the secret.
        let secret = SystemEntropy.bytes(32)
        let cred = try MakeCredential.make(ek: ek, objectName: ak.name, credential: secret)
        let answer = try conn.request(.activateRequest(ActivateRequest(credentialBlob: cred.credentialBlob, secret: cred.secret)))
        guard case .activateResponse(let got) = answer else {
            if case .error(let e) = answer { throw CLIError("credential activation failed on the agent: \(e.message)") }
            throw CLIError("the agent did not answer ActivateRequest")
        }
        guard constantTimeEqual(got, secret) else { throw CLIError("credential activation returned another secret: AK not bound to EK") }
        let guest = EnrolledGuest(
            name: name, address: address, akPublic: r.akPublic, ekPublic: r.ekPublic, ekCertificate: r.ekCertificate, enrollment: strength,
            pcr: pcr ?? config.defaultPCR, banks: config.banks)
        let record = GuestRecord(guest: guest, state: GuestState(), verdict: nil, check: nil, reason: "enrolled", lastRound: nil, rounds: 0)
        try save(record)
        lock.withLock {
            guests[name] = record
            nextDue[name] = Date()
        }
        try audit.append(
            kind: "enroll",
            [
                "agent": name, "address": address, "enrollment": strength, "ak-name": hexOf(ak.name), "ek-name": hexOf(ek.name),
                "pcr": Int(guest.pcr),
            ])
        return "enrolled \(name) (\(strength)); AK \(hexOf(ak.name))"
    }

    // MARK: rounds

    struct RoundSummary: Sendable {
        let name: String
        let verdict: Verdict
        let check: String?
        let reason: String
        let entries: Int
    }

    /// One attestation round for `name` (on demand or scheduled).
    func attest(name: String) throws -> RoundSummary {
        // A round already running for this guest (the scheduler's) is waited for: an on-demand
        // round always challenges afresh.
        let giveUp = Date().addingTimeInterval(2 * config.timeout + 5)
        var claimed: GuestRecord?
        var epoch = 0
        while claimed == nil {
            let (r, busy): (GuestRecord?, Bool) = lock.withLock {
                guard let r = guests[name] else { return (nil, false) }
                if inFlight.contains(name) { return (nil, true) }
                inFlight.insert(name)
                epoch = policyEpoch
                return (r, false)
            }
            if let r { claimed = r } else if !busy { throw CLIError("no guest named \(name)") }
            if claimed == nil {
                guard Date() < giveUp else { throw CLIError("a round for \(name) is still running") }
                usleep(20_000)
            }
        }
        guard var record = claimed else { throw CLIError("no guest named \(name)") }
        defer { lock.withLock { _ = inFlight.remove(name) } }
        let (result, entries) = runRound(record)
        let previous = record.verdict
        record.verdict = result.verdict
        record.check = result.check
        record.reason = result.reason
        record.lastRound = isoTime(Date())
        record.rounds += 1
        if let s = result.state { record.state = s }
        lock.withLock {
            if policyEpoch != epoch {
                record.state.replay = nil
                record.state.findings = []
                record.state.findingCount = 0
            }
            guests[name] = record
            nextDue[name] = Date().addingTimeInterval(config.interval)
        }
        try save(record)
        var fields: [String: any Sendable] = [
            "agent": name, "verdict": result.verdict.rawValue, "reason": result.reason, "entries": entries,
        ]
        if let c = result.check { fields["check"] = c }
        if let prev = previous, prev != result.verdict { fields["previous"] = prev.rawValue }
        if !result.findings.isEmpty { fields["findings"] = result.findings.prefix(20).map(\.description) }
        try audit.append(kind: "attest", fields)
        if previous != result.verdict, let hook = config.onChange { runHook(hook, name: name, previous: previous, result: result) }
        return RoundSummary(name: name, verdict: result.verdict, check: result.check, reason: result.reason, entries: entries)
    }

    struct Outcome {
        var verdict: Verdict
        var check: String?
        var reason: String
        var state: GuestState?
        var findings: [PolicyFinding]
    }

    /// Challenge, receive, appraise; a reboot restarts from entry 0 on the same connection.
    private func runRound(_ record: GuestRecord) -> (Outcome, Int) {
        let ev = lock.withLock { policy }
        var state = record.state
        do {
            let conn = try AgentConnection(address: record.guest.address, timeout: config.timeout)
            for _ in 0..<3 {
                let challenge = Appraiser.challenge(for: record.guest, state: state, nonce: Appraiser.freshNonce())
                let answer = try conn.request(.challenge(challenge))
                switch answer {
                case .evidence(let e):
                    let r = Appraiser.appraise(evidence: e, challenge: challenge, guest: record.guest, state: state, policy: ev)
                    if r.restartFromZero {
                        state = r.state
                        state.replay = nil
                        continue
                    }
                    let st: GuestState? = r.verdict == .tampered ? nil : r.state
                    return (
                        Outcome(verdict: r.verdict, check: r.check, reason: r.reason, state: st, findings: r.newFindings), r.entriesVerified
                    )
                case .error(let e) where e.code == EvidenceErrorCode.entryOutOfRange.rawValue && state.replay != nil:
                    // A new list (reboot): verify it from the start.
                    state.replay = nil
                    continue
                case .error(let e):
                    return (
                        Outcome(verdict: .unreachable, check: nil, reason: "agent error \(e.code): \(e.message)", state: nil, findings: []),
                        0
                    )
                default:
                    return (
                        Outcome(verdict: .unreachable, check: nil, reason: "unexpected \(answer.type) message", state: nil, findings: []), 0
                    )
                }
            }
            return (Outcome(verdict: .unreachable, check: nil, reason: "the list kept restarting", state: nil, findings: []), 0)
        } catch let e as EvidenceProtocolError {
            return (Outcome(verdict: .tampered, check: "protocol", reason: "\(e)", state: nil, findings: []), 0)
        } catch {
            return (Outcome(verdict: .unreachable, check: nil, reason: "\(error)", state: nil, findings: []), 0)
        }
    }

    private func runHook(_ cmd: String, name: String, previous: Verdict?, result: Outcome) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", cmd]
        var env = ProcessInfo.processInfo.environment
        env["VTPM_AGENT"] = name
        env["VTPM_VERDICT"] = result.verdict.rawValue
        env["VTPM_PREVIOUS"] = previous?.rawValue ?? ""
        env["VTPM_CHECK"] = result.check ?? ""
        env["VTPM_REASON"] = result.reason
        p.environment = env
        do { try p.run() } catch { FileHandle.standardError.write(Data("vtpm-verifier: --on-change: \(error)\n".utf8)) }
    }

    /// The scheduler: every guest is attested once per interval, at most `concurrency` at once.
    func runScheduler() -> Never {
        let slots = DispatchSemaphore(value: config.concurrency)
        // Signalled as each round ends: with a short interval (0: continuously) the guest is due
        // again at once, and the scheduler should not sleep out its pause.
        let roundEnded = DispatchSemaphore(value: 0)
        while true {
            let now = Date()
            // Due guests, and when the next one not yet due will be: the scheduler sleeps until
            // then (at most 100 ms, so new guests are seen), not a fixed tick that would add up to
            // 100 ms to every guest's interval.
            let (due, nextWake): ([String], Date) = lock.withLock {
                var due = [String]()
                var wake = now.addingTimeInterval(0.1)
                for name in guests.keys where !inFlight.contains(name) {
                    let at = nextDue[name] ?? .distantPast
                    if at <= now { due.append(name) } else if at < wake { wake = at }
                }
                return (due.sorted(), wake)
            }
            for name in due {
                slots.wait()
                lock.withLock { nextDue[name] = Date().addingTimeInterval(config.interval) }
                DispatchQueue.global().async {
                    defer {
                        slots.signal()
                        roundEnded.signal()
                    }
                    do { _ = try self.attest(name: name) } catch {
                        FileHandle.standardError.write(Data("vtpm-verifier: \(name): \(error)\n".utf8))
                    }
                }
            }
            // At least 2 ms between passes unless a round ended: guests falling due together are
            // started together.
            let pause = max(0.002, nextWake.timeIntervalSinceNow)
            _ = roundEnded.wait(timeout: .now() + pause)
        }
    }
}

private func SHA256Digest(_ b: [UInt8]) -> [UInt8] { IMAHashAlgorithm.sha256.digest(b) }
