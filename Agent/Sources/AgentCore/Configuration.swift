import Foundation
import TPMClient

/// The agent's settings: the configuration file (`key = value` lines, `#` comments; see
/// Agent/vtpm-agent.conf), overridden by command-line options.
public struct AgentConfiguration: Hashable, Sendable {
    public var tpm: TCTI = .device(path: TCTI.defaultDevice)
    public var stateDirectory = "/var/lib/vtpm-agent"
    /// HOST:PORT of the evidence service; nil: not served.
    public var listen: String?
    /// PCR 13 by default: kernel IMA uses PCR 10 (and nothing after boot may share our PCR); see
    /// Agent/README.md for why 13 and not another.
    public var pcr = 13
    public var scope: Scope = .all
    public var queueCapacity = 16384
    /// Receive buffer of the audit netlink socket, bytes.
    public var auditBuffer = 64 << 20
    public var logLevel = "info"
    /// Key type of the attestation key: "ecc" (P-256, ECDSA-SHA256) or "rsa" (2048, RSASSA-SHA256).
    public var akAlgorithm = "ecc"

    public static let keys = ["tpm", "state-dir", "listen", "pcr", "scope", "queue-capacity", "audit-buffer", "log-level", "ak-algorithm"]

    public init() {}

    /// Applies one setting, checking its value.
    public mutating func set(_ key: String, _ value: String) throws(ConfigurationError) {
        switch key {
        case "tpm":
            do {
                tpm = try TCTI(parsing: value)
            } catch {
                throw .bad(key, value, error.description)
            }
        case "state-dir":
            guard value.hasPrefix("/") else { throw .bad(key, value, "must be an absolute path") }
            stateDirectory = value
        case "listen":
            guard value != "none" else {
                listen = nil
                return
            }
            guard let colon = value.lastIndex(of: ":"), let port = UInt16(value[value.index(after: colon)...]), port > 0,
                colon != value.startIndex
            else { throw .bad(key, value, "expected HOST:PORT, e.g. 0.0.0.0:7523, or none") }
            listen = value
        case "pcr":
            guard let n = Int(value), (0...23).contains(n) else { throw .bad(key, value, "a PCR index from 0 to 23") }
            pcr = n
        case "scope":
            do {
                scope = try Scope(parsing: value)
            } catch {
                throw .bad(key, value, error.description)
            }
        case "queue-capacity":
            guard let n = Int(value), (16...1_048_576).contains(n) else { throw .bad(key, value, "a number from 16 to 1048576") }
            queueCapacity = n
        case "audit-buffer":
            guard let n = Int(value), ((16 << 10)...(1 << 30)).contains(n) else {
                throw .bad(key, value, "bytes, from 16384 to 1073741824")
            }
            auditBuffer = n
        case "log-level":
            guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(value) else {
                throw .bad(key, value, "one of trace, debug, info, notice, warning, error, critical")
            }
            logLevel = value
        case "ak-algorithm":
            guard value == "ecc" || value == "rsa" else { throw .bad(key, value, "ecc or rsa") }
            akAlgorithm = value
        default:
            throw .unknownKey(key)
        }
    }

    /// Reads a configuration file's settings into this configuration.
    public mutating func load(text: String, file: String) throws(ConfigurationError) {
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            guard let eq = trimmed.firstIndex(of: "=") else { throw .syntax(file, n + 1, "expected KEY = VALUE") }
            let key = trimmed[..<eq].trimmingCharacters(in: .whitespaces)
            let value = trimmed[trimmed.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            do {
                try set(key, value)
            } catch {
                throw .syntax(file, n + 1, error.description)
            }
        }
    }
}

public enum ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    case unknownKey(String)
    case bad(String, String, String)
    case syntax(String, Int, String)

    public var description: String {
        switch self {
        case .unknownKey(let k): return "unknown setting '\(k)' (settings: \(AgentConfiguration.keys.joined(separator: ", ")))"
        case .bad(let k, let v, let why): return "bad \(k) '\(v)': \(why)"
        case .syntax(let f, let line, let why): return "\(f):\(line): \(why)"
        }
    }
}
