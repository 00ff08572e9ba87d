import ArgumentParser
import Attestation
import Crypto
import Foundation
import Measurement

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a CLI subcommand finds the daemon.
struct DaemonOptions: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: "The verifier's state directory (its socket is DIR/verifier.sock).")
    var stateDir: String?
    @Option(help: "The verifier's control socket (instead of --state-dir).")
    var socket: String?

    var socketPath: String { socket ?? ((stateDir ?? "/var/lib/vtpm-verifier") + "/verifier.sock") }

    /// Sends a request, prints the answer, exits with the daemon's status.
    func run(_ request: [String: Any]) throws {
        let r = try ControlSocket.call(path: socketPath, request)
        FileHandle.standardOutput.write(Data(r.out.utf8))
        FileHandle.standardError.write(Data(r.err.utf8))
        if r.exit != 0 { throw ExitCode(r.exit) }
    }
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the verifier: attest every enrolled guest each interval; serve the CLI on DIR/verifier.sock.",
        discussion: "Settings come from the options, then --config FILE (KEY = VALUE lines, Verifier/vtpm-verifier.conf), then defaults.")

    @Option(help: "A configuration file (KEY = VALUE lines; options given here win).") var config: String?
    @Option(
        name: .customLong("state-dir"),
        help: "State directory (guests, policy, audit log, signing key, socket). Default /var/lib/vtpm-verifier.")
    var stateDir: String?
    @Option(help: "Seconds between two rounds of one guest. Default 10; 0 attests continuously.") var interval: Double?
    @Option(help: "A policy file to install at start (ours or Keylime's runtime policy JSON).") var policy: String?
    @Option(
        name: .customLong("on-change"),
        help: "Shell command run when a guest's verdict changes (env VTPM_AGENT, VTPM_VERDICT, VTPM_PREVIOUS, VTPM_CHECK, VTPM_REASON).")
    var onChange: String?
    @Option(help: "Seconds an agent has to answer a round. Default 10.") var timeout: Double?
    @Option(help: "Rounds run at once. Default 32.") var concurrency: Int?
    @Option(help: "Default PCR of guests' measurement lists (enroll --pcr overrides). Default 13, the agent's.") var pcr: UInt32?
    @Option(name: .customLong("bank"), help: "PCR banks replayed (repeatable). Default sha1 and sha256.") var banks: [String] = []

    struct Settings {
        var stateDir = "/var/lib/vtpm-verifier"
        var interval: Double = 10
        var policy: String?
        var onChange: String?
        var timeout: Double = 10
        var concurrency = 32
        var pcr: UInt32 = 13
        var banks = ["sha1", "sha256"]
    }

    /// Options over the file over the defaults, each checked.
    func settings() throws -> Settings {
        var s = Settings()
        if let config {
            let text = String(decoding: try readFile(config, max: 1 << 20), as: UTF8.self)
            for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
                guard let eq = line.firstIndex(of: "=") else { throw ValidationError("\(config):\(n + 1): expected KEY = VALUE") }
                let key = line[..<eq].trimmingCharacters(in: .whitespaces)
                let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
                func bad() -> ValidationError { ValidationError("\(config):\(n + 1): bad value for \(key)") }
                switch key {
                case "state-dir": s.stateDir = value
                case "interval":
                    guard let v = Double(value) else { throw bad() }
                    s.interval = v
                case "policy": s.policy = value.isEmpty ? nil : value
                case "on-change": s.onChange = value.isEmpty ? nil : value
                case "timeout":
                    guard let v = Double(value) else { throw bad() }
                    s.timeout = v
                case "concurrency":
                    guard let v = Int(value) else { throw bad() }
                    s.concurrency = v
                case "pcr":
                    guard let v = UInt32(value) else { throw bad() }
                    s.pcr = v
                case "banks": s.banks = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                default: throw ValidationError("\(config):\(n + 1): unknown setting '\(key)'")
                }
            }
        }
        if let stateDir { s.stateDir = stateDir }
        if let interval { s.interval = interval }
        if let policy { s.policy = policy }
        if let onChange { s.onChange = onChange }
        if let timeout { s.timeout = timeout }
        if let concurrency { s.concurrency = concurrency }
        if let pcr { s.pcr = pcr }
        if !banks.isEmpty { s.banks = banks }
        // 0: each guest's next round starts as soon as its last one is judged (Keylime's
        // quote_interval = 0; for benchmarks and tests rather than fleets).
        guard s.interval >= 0, s.interval.isFinite else { throw ValidationError("interval must be 0 or more seconds") }
        guard s.timeout > 0 else { throw ValidationError("timeout must be positive") }
        guard (1...1024).contains(s.concurrency) else { throw ValidationError("concurrency must be 1...1024") }
        guard s.pcr < 24 else { throw ValidationError("pcr must be 0...23") }
        for b in s.banks where IMAHashAlgorithm(rawValue: b) == nil { throw ValidationError("bank '\(b)': sha1, sha256, sha384 or sha512") }
        guard !s.banks.isEmpty else { throw ValidationError("at least one bank") }
        return s
    }

    func validate() throws { _ = try settings() }

    func run() throws {
        let s = try settings()
        signal(SIGPIPE, SIG_IGN)
        try FileManager.default.createDirectory(
            atPath: s.stateDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let config = DaemonConfig(
            stateDir: s.stateDir, interval: s.interval, timeout: s.timeout, concurrency: s.concurrency, onChange: s.onChange,
            defaultPCR: s.pcr, banks: s.banks.compactMap(IMAHashAlgorithm.init(rawValue:)))
        let daemon = try VerifierDaemon(config: config, policyFile: s.policy)
        try ControlSocket.serve(path: s.stateDir + "/verifier.sock") { daemon.handle($0) }
        FileHandle.standardError.write(Data("vtpm-verifier: serving \(s.stateDir)/verifier.sock, \(daemon.records().count) guests\n".utf8))
        daemon.runScheduler()
    }
}

struct Enroll: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enroll a guest: bind its AK to its EK (credential activation) and start attesting it.",
        discussion: """
            The EK must be trusted first: --ek-ca PEM (its EK certificate chains to this root) or --ek-pub FILE \
            (TPM2B_PUBLIC of the EK, e.g. tpm2 createek -u FILE; a weaker enrollment, recorded as such).
            """)

    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "The guest's name (A-Z a-z 0-9 . _ -).") var name: String
    @Option(help: "The agent's evidence service, HOST:PORT.") var agent: String
    @Option(name: .customLong("ek-ca"), help: "PEM root the EK certificate must chain to.") var ekCA: String?
    @Option(name: .customLong("ek-pub"), help: "The EK's TPM2B_PUBLIC, pinned.") var ekPub: String?
    @Option(help: "The PCR of this guest's list (default: the daemon's --pcr).") var pcr: UInt32?

    func validate() throws {
        guard ekCA != nil || ekPub != nil else { throw ValidationError("give --ek-ca PEM or --ek-pub FILE") }
        _ = try splitHostPort(agent)
    }

    func run() throws {
        var req: [String: Any] = ["cmd": "enroll", "name": name, "agent": agent]
        if let ekPub { req["ek-pub"] = hexOf(try readFile(ekPub, max: 4096)) }
        if let ekCA { req["ek-ca"] = String(decoding: try readFile(ekCA, max: 1 << 20), as: UTF8.self) }
        if let pcr { req["pcr"] = Int(pcr) }
        try daemon.run(req)
    }
}

struct Attest: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Attest one guest now; prints its verdict (exit 0 only when TRUSTED).")
    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "The guest's name.") var name: String
    func run() throws { try daemon.run(["cmd": "attest", "name": name]) }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The current verdict of every guest.")
    @OptionGroup var daemon: DaemonOptions
    @Flag(help: "JSON output.") var json = false
    func run() throws { try daemon.run(["cmd": "status", "json": json]) }
}

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read and check the audit log.", subcommands: [List.self, Show.self, Verify.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Records, oldest first, filtered.")
        @OptionGroup var daemon: DaemonOptions
        @Option(help: "Only this guest.") var agent: String?
        @Option(help: "Only records at or after this time (ISO 8601).") var since: String?
        @Option(help: "Only records at or before this time (ISO 8601).") var until: String?
        @Option(help: "Only this verdict (TRUSTED, UNTRUSTED, TAMPERED, UNREACHABLE).") var verdict: String?
        @Flag(help: "JSON output (one record body per line, as stored).") var json = false

        func validate() throws {
            if let verdict, Verdict(rawValue: verdict.uppercased()) == nil {
                throw ValidationError("--verdict: TRUSTED, UNTRUSTED, TAMPERED or UNREACHABLE")
            }
            if let since, parseTime(since) == nil { throw ValidationError("--since: ISO 8601, e.g. 2026-01-31T12:00:00Z") }
            if let until, parseTime(until) == nil { throw ValidationError("--until: ISO 8601, e.g. 2026-01-31T12:00:00Z") }
        }

        func run() throws {
            var req: [String: Any] = ["cmd": "audit", "json": json]
            if let agent { req["agent"] = agent }
            if let since { req["since"] = since }
            if let until { req["until"] = until }
            if let verdict { req["verdict"] = verdict }
            try daemon.run(req)
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One record.")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "The record's id.") var id: Int
        @Flag(help: "JSON output (the body as stored).") var json = false
        func run() throws { try daemon.run(["cmd": "audit-show", "id": id, "json": json]) }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every record's hash chain and signature; names the first broken record.",
            discussion: "With --state-dir the log is read directly (the daemon need not run); with --socket the daemon checks it.")
        @OptionGroup var daemon: DaemonOptions
        @Option(help: "The verifier's public key (default DIR/audit-key.pub.pem).") var key: String?

        func run() throws {
            guard let dir = daemon.stateDir, daemon.socket == nil else { return try daemon.run(["cmd": "audit-verify"]) }
            let pem = String(decoding: try readFile(key ?? dir + "/audit-key.pub.pem", max: 1 << 16), as: UTF8.self)
            let k = try P256.Signing.PublicKey(pemRepresentation: pem)
            let (n, failure) = AuditLog.verify(try readFile(dir + "/audit.log", max: Int.max), key: k)
            if let f = failure {
                FileHandle.standardError.write(Data("audit log broken at record \(f.id): \(f.reason)\n".utf8))
                throw ExitCode(1)
            }
            print("audit log intact: \(n) records")
        }
    }
}
