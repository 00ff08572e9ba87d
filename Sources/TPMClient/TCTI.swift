/// Where the TPM is, named the way tpm2-tss names its TCTIs ("device:/dev/tpmrm0",
/// "mssim:host=127.0.0.1,port=2321", "swtpm:host=localhost,port=2321", "unix:path=/run/tpm.sock"),
/// so the same string works for the agent, the host and tpm2-tools.
public enum TCTI: Hashable, Sendable, CustomStringConvertible {
    /// A kernel TPM character device (the resource manager /dev/tpmrm0 or the raw /dev/tpm0):
    /// one write of a command, one read of its response.
    case device(path: String)
    /// The reference simulator's protocol: command port `port`, platform port `port + 1`.
    case mssim(host: String, port: UInt16)
    /// swtpm's TCP data channel: raw commands, a connection per command; control port `port + 1`.
    case swtpm(host: String, port: UInt16)
    /// A Unix stream socket carrying raw commands (swtpm `--server type=unixio`, `vtpm`'s own).
    case unix(path: String)

    /// tpm2-tss's defaults (tss2-tcti-mssim/-swtpm: localhost, 2321; tss2-tcti-device: /dev/tpmrm0).
    public static let defaultHost = "localhost"
    public static let defaultPort: UInt16 = 2321
    public static let defaultDevice = "/dev/tpmrm0"

    public var description: String {
        switch self {
        case .device(let path): return "device:\(path)"
        case .mssim(let host, let port): return "mssim:host=\(host),port=\(port)"
        case .swtpm(let host, let port): return "swtpm:host=\(host),port=\(port)"
        case .unix(let path): return "unix:path=\(path)"
        }
    }

    /// Parses a TCTI string. The forms tpm2-tss accepts: `device` or `device:PATH`, and
    /// `mssim`/`swtpm` with an optional `host=H,port=P` list (either key may be omitted).
    public init(parsing string: String) throws(TCTIError) {
        let (name, conf) = Self.split(string)
        switch name {
        case "device":
            let path = conf.isEmpty ? Self.defaultDevice : conf
            guard path.hasPrefix("/") else { throw .badValue(string, "device path must be absolute, e.g. device:/dev/tpmrm0") }
            self = .device(path: path)
        case "mssim", "swtpm":
            let kv = try Self.keyValues(conf, allowed: ["host", "port"], whole: string)
            let host = kv["host"] ?? Self.defaultHost
            guard !host.isEmpty else { throw .badValue(string, "host is empty") }
            var port = Self.defaultPort
            if let p = kv["port"] {
                // port + 1 must exist too (platform / control port).
                guard let v = UInt16(p), v > 0, v < UInt16.max else {
                    throw .badValue(string, "port must be a number from 1 to 65534, not '\(p)'")
                }
                port = v
            }
            self = name == "mssim" ? .mssim(host: host, port: port) : .swtpm(host: host, port: port)
        case "unix":
            let kv = try Self.keyValues(conf, allowed: ["path"], whole: string)
            guard let path = kv["path"], !path.isEmpty else { throw .badValue(string, "unix needs path=SOCKET") }
            self = .unix(path: path)
        case "":
            throw .empty
        default:
            throw .unknownKind(name)
        }
    }

    private static func split(_ s: String) -> (String, String) {
        guard let colon = s.firstIndex(of: ":") else { return (s, "") }
        return (String(s[..<colon]), String(s[s.index(after: colon)...]))
    }

    private static func keyValues(_ conf: String, allowed: Set<String>, whole: String) throws(TCTIError) -> [String: String] {
        var result: [String: String] = [:]
        guard !conf.isEmpty else { return result }
        for item in conf.split(separator: ",", omittingEmptySubsequences: false) {
            guard let eq = item.firstIndex(of: "=") else {
                throw .badValue(whole, "'\(item)' is not KEY=VALUE (keys: \(allowed.sorted().joined(separator: ", ")))")
            }
            let key = String(item[..<eq])
            guard allowed.contains(key) else {
                throw .badValue(whole, "unknown key '\(key)' (keys: \(allowed.sorted().joined(separator: ", ")))")
            }
            guard result[key] == nil else { throw .badValue(whole, "'\(key)' given twice") }
            result[key] = String(item[item.index(after: eq)...])
        }
        return result
    }
}

public enum TCTIError: Error, Hashable, Sendable, CustomStringConvertible {
    case empty
    case unknownKind(String)
    case badValue(String, String)

    public var description: String {
        switch self {
        case .empty: return "empty TCTI string (expected e.g. device:/dev/tpmrm0 or mssim:host=127.0.0.1,port=2321)"
        case .unknownKind(let k):
            return "unknown TCTI '\(k)' (expected device, mssim, swtpm or unix)"
        case .badValue(let s, let why): return "bad TCTI '\(s)': \(why)"
        }
    }
}
