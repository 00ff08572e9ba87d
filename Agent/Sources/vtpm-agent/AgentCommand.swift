import AgentCore
import ArgumentParser
import Foundation
import Logging
import TPMClient

@main
struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vtpm-agent",
        abstract: "Measures every executable that runs into a TPM PCR and keeps an IMA-style measurement list.",
        subcommands: [Run.self, Measure.self, Status.self])
}

/// Options every subcommand that talks to a running agent shares.
struct StateDirOption: ParsableArguments {
    @Option(name: .long, help: "The agent's state directory (list files, control socket).")
    var stateDir = AgentConfiguration().stateDirectory

    var socketPath: String { URL(fileURLWithPath: stateDir).appendingPathComponent(ControlProtocol.socketName).path }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the agent: audit exec events, measure, extend, serve evidence (needs root).")

    @Option(help: "The TPM, as a TCTI string: device:/dev/tpmrm0, mssim:host=H,port=P, swtpm:host=H,port=P, unix:path=S.")
    var tpm: String?
    @Option(name: .long, help: "State directory (default /var/lib/vtpm-agent).")
    var stateDir: String?
    @Option(help: "Serve evidence to verifiers on HOST:PORT (default: not served).")
    var listen: String?
    @Option(help: "The PCR the list is extended into (default 13; kernel IMA uses 10).")
    var pcr: Int?
    @Option(help: "Which processes to measure: all, cgroup:/PATH, pidns:PID (default all).")
    var scope: String?
    @Option(help: "Exec events waiting to be hashed (default 16384); a full queue makes the audit reader wait.")
    var queueCapacity: Int?
    @Option(help: "Receive buffer of the audit socket in bytes (default 64 MiB); its overflow is recorded as a violation.")
    var auditBuffer: Int?
    @Option(help: "Attestation key type: ecc or rsa (default ecc).")
    var akAlgorithm: String?
    @Option(help: "Configuration file (key = value lines); options given here override it.")
    var config: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    func validate() throws {
        _ = try configuration()
    }

    func configuration() throws -> AgentConfiguration {
        var c = AgentConfiguration()
        if let path = config {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("cannot read the configuration file \(path)")
            }
            do {
                try c.load(text: text, file: path)
            } catch {
                throw ValidationError(error.description)
            }
        }
        let overrides: [(String, String?)] = [
            ("tpm", tpm), ("state-dir", stateDir.map { URL(fileURLWithPath: $0).standardizedFileURL.path }), ("listen", listen),
            ("pcr", pcr.map(String.init)), ("scope", scope), ("log-level", logLevel),
            ("queue-capacity", queueCapacity.map(String.init)), ("audit-buffer", auditBuffer.map(String.init)),
            ("ak-algorithm", akAlgorithm),
        ]
        for (k, v) in overrides {
            guard let v else { continue }
            do {
                try c.set(k, v)
            } catch {
                throw ValidationError(error.description)
            }
        }
        return c
    }

    func run() throws {
        let c = try configuration()
        let level = Logger.Level(rawValue: c.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "vtpm-agent")
        do {
            try AgentDaemon(config: c, logger: logger).run()
        } catch {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
    }
}

struct Measure: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask the running agent to measure files now (scripts, configuration); prints their SHA-256.")

    @OptionGroup var state: StateDirOption
    @Argument(help: "Files to measure.")
    var paths: [String]

    func run() throws {
        let cwd = FileManager.default.currentDirectoryPath
        let absolute = paths.map { $0.hasPrefix("/") ? $0 : URL(fileURLWithPath: cwd).appendingPathComponent($0).standardizedFileURL.path }
        let response: [String: Any]
        do {
            response = try UnixSocket.request(path: state.socketPath, ["op": "measure", "paths": absolute])
        } catch {
            throw ValidationError("no agent answers on \(state.socketPath): \(error)")
        }
        guard response["ok"] as? Bool == true, let results = response["results"] as? [[String: Any]] else {
            throw ValidationError("the agent refused: \(response["error"] ?? "?")")
        }
        var failed = false
        for r in results {
            let p = r["path"] as? String ?? "?"
            if let d = r["sha256"] as? String {
                print("\(d)  \(p)")
            } else if r["measured_before"] as? Bool == true {
                print("(measured before)  \(p)")
            } else {
                failed = true
                FileHandle.standardError.write(Data("vtpm-agent: \(p): \(r["error"] ?? "?")\n".utf8))
            }
        }
        if failed { throw ExitCode(1) }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the running agent's state and counters.")

    @OptionGroup var state: StateDirOption
    @Flag(help: "Print JSON (for scripts).")
    var json = false

    func run() throws {
        let response: [String: Any]
        do {
            response = try UnixSocket.request(path: state.socketPath, ["op": "status"])
        } catch {
            throw ValidationError("no agent answers on \(state.socketPath): \(error)")
        }
        guard let status = response["status"] as? [String: Any] else { throw ValidationError("bad answer from the agent") }
        if json {
            let data = try JSONSerialization.data(withJSONObject: status, options: [.sortedKeys, .prettyPrinted])
            print(String(decoding: data, as: UTF8.self))
        } else {
            for k in status.keys.sorted() { print("\(k): \(status[k]!)") }
        }
    }
}
