#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A command line that cannot be run, with swtpm's wording where swtpm has one.
public struct SwtpmUsageError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// `swtpm socket ...` as vtpm runs it.
public struct SwtpmConfiguration: Equatable, Sendable {
    public enum Startup: Equatable, Sendable { case clear, state }
    public enum LogTarget: Equatable, Sendable {
        case file(String)
        case fd(Int32)
        case none
    }
    public enum PidTarget: Equatable, Sendable {
        case file(String)
        case fd(Int32)
    }

    public var tpm2 = false
    /// The data channel (`--server`, `-p`); nil: none (QEMU passes it with SET_DATAFD).
    public var server: Endpoint?
    /// `--server ...,disconnect` (implied by `-p`): one command per connection.
    public var disconnect = false
    public var control: Endpoint?
    public var stateDirectory: String?
    public var stateFileMode: mode_t = 0o640
    /// `--flags not-need-init`: powered on at start, without CMD_INIT.
    public var notNeedInit = false
    /// `--flags startup-...`: a TPM2_Startup sent at start (implies not-need-init).
    public var startup: Startup?
    public var daemon = false
    public var pid: PidTarget?
    public var log: LogTarget?
    public var logLevel = 1
    public var logPrefix = "swtpm: "
    public var logTruncate = false
    /// `--terminate`: exit when the data connection ends.
    public var terminate = false
    public var rejectLocality4 = false
    public var printCapabilities = false
    public var printStates = false
    /// `--key file=...` (state at rest) and `--migration-key file=...` (state blobs in transit).
    public var stateKey: KeyFile?
    public var migrationKey: KeyFile?

    /// `--migration [incoming][,release-lock-outgoing]` (swtpm 0.8): the state directory is
    /// locked only once the state arrives (SET_STATEBLOB), at the first TPM command or at
    /// CMD_LOCK_STORAGE; and it is unlocked once QEMU has fetched the last state blob.
    public var incomingMigration = false
    public var releaseLockOutgoing = false

    /// A key as swtpm takes it: `file=PATH|fd=N[,format=hex|binary]` (the key itself) or
    /// `pwdfile=PATH|pwdfd=N[,kdf=pbkdf2|sha512]` (a passphrase the key is derived from), with
    /// `[,mode=aes-cbc|aes-128-cbc|aes-256-cbc][,remove[=true|false]]`.
    public struct KeyFile: Equatable, Sendable {
        public enum Source: Equatable, Sendable {
            case file(String)
            case fd(Int32)
            case passphraseFile(String)
            case passphraseFD(Int32)
        }
        public var source: Source
        public var format = "hex"
        /// Key size in bits from `mode` (aes-cbc, aes-128-cbc: 128; aes-256-cbc: 256), if given.
        /// A passphrase gives a key of this size (swtpm's default mode: aes-128-cbc).
        public var bits: Int?
        public var kdf = StateCipher.KDF.pbkdf2
        public var remove = false

        public init(source: Source) { self.source = source }
        /// The key file's path, if the key is read from a named file.
        public var path: String? {
            switch source {
            case .file(let p), .passphraseFile(let p): return p
            case .fd, .passphraseFD: return nil
            }
        }
    }

    public init() {}
}

public enum SwtpmInvocation: Equatable, Sendable {
    case run(SwtpmConfiguration)
    /// `swtpm socket --help` (usage to stdout, exit 0).
    case help
    /// `swtpm --version`.
    case version
    /// `swtpm --help` / `-h` without an interface: the short usage.
    case overview
}

/// Parses swtpm's command line (getopt_long rules: `--opt value` or `--opt=value`, unique
/// prefixes of long names, `-p 2321`), with the option groups swtpm takes
/// (`--server type=tcp,port=2321`). Unknown options, unknown keys inside a group, and
/// options vtpm does not implement are errors, never silently ignored.
public enum SwtpmCommandLine {
    /// The version `--version` prints: swtpm's format, so tools that parse it keep working.
    public static let versionLine = "TPM emulator version 0.7.1 (vtpm), Copyright (c) the vtpm authors."

    static let longOptions: [(name: String, takesArgument: Bool)] = [
        ("port", true), ("fd", true), ("server", true), ("terminate", false), ("daemon", false),
        ("ctrl", true), ("migration-key", true), ("log", true), ("key", true), ("locality", true),
        ("pid", true), ("tpmstate", true), ("flags", true), ("tpm2", false), ("seccomp", true),
        ("print-capabilities", false), ("print-states", false), ("help", false), ("runas", true),
        ("migration", true),
    ]
    static let shortOptions: [Character: (name: String, takesArgument: Bool)] = [
        "p": ("port", true), "f": ("fd", true), "t": ("terminate", false), "d": ("daemon", false),
        "h": ("help", false), "r": ("runas", true),
    ]

    public static func parse(_ arguments: [String], environment: [String: String] = [:]) throws(SwtpmUsageError) -> SwtpmInvocation {
        guard let iface = arguments.first else { throw SwtpmUsageError("Missing TPM interface type.") }
        switch iface {
        case "-v", "--version": return .version
        case "-h", "--help": return .overview
        case "socket": break
        case "chardev", "cuse": throw SwtpmUsageError("The TPM interface type '\(iface)' is not supported by vtpm; use 'socket'.")
        default: throw SwtpmUsageError("Unsupported TPM interface type '\(iface)'.")
        }
        var config = SwtpmConfiguration()
        var serverOptions: String?
        var portOption: String?
        var i = 1
        let args = arguments
        while i < args.count {
            let arg = args[i]
            i += 1
            var name: String
            var value: String?
            if arg.hasPrefix("--") && arg.count > 2 {
                var body = String(arg.dropFirst(2))
                if let eq = body.firstIndex(of: "=") {
                    value = String(body[body.index(after: eq)...])
                    body = String(body[..<eq])
                }
                let matches = longOptions.filter { $0.name.hasPrefix(body) }
                let exact = longOptions.first { $0.name == body }
                guard let option = exact ?? (matches.count == 1 ? matches[0] : nil) else {
                    if matches.count > 1 { throw SwtpmUsageError("option '\(arg)' is ambiguous") }
                    throw SwtpmUsageError("unrecognized option '\(arg)'")
                }
                name = option.name
                if option.takesArgument {
                    if value == nil {
                        guard i < args.count else { throw SwtpmUsageError("option '--\(option.name)' requires an argument") }
                        value = args[i]
                        i += 1
                    }
                } else if value != nil {
                    throw SwtpmUsageError("option '--\(option.name)' doesn't allow an argument")
                }
            } else if arg.hasPrefix("-") && arg.count == 2, let option = shortOptions[arg.last!] {
                name = option.name
                if option.takesArgument {
                    guard i < args.count else { throw SwtpmUsageError("option requires an argument -- '\(arg.last!)'") }
                    value = args[i]
                    i += 1
                }
            } else if arg.hasPrefix("-") && arg.count > 1 {
                throw SwtpmUsageError("invalid option -- '\(arg.dropFirst())'")
            } else {
                throw SwtpmUsageError("Unknown parameter '\(arg)'")
            }
            let v = value ?? ""
            switch name {
            case "help": return .help
            case "tpm2": config.tpm2 = true
            case "terminate": config.terminate = true
            case "daemon": config.daemon = true
            case "print-capabilities": config.printCapabilities = true
            case "print-states": config.printStates = true
            case "server": serverOptions = v
            case "port": portOption = v
            case "ctrl": config.control = try parseControl(v)
            case "tpmstate": try parseTPMState(v, into: &config)
            case "flags": try parseFlags(v, into: &config)
            case "log": try parseLog(v, into: &config)
            case "pid": config.pid = try parsePid(v)
            case "locality": try parseLocality(v, into: &config)
            case "seccomp": try parseSeccomp(v)
            case "fd": throw SwtpmUsageError("--fd is not supported by vtpm; use --server")
            case "key": config.stateKey = try parseKey(v, option: name)
            case "migration-key": config.migrationKey = try parseKey(v, option: name)
            case "migration": try parseMigration(v, into: &config)
            case "runas": throw SwtpmUsageError("--runas is not supported by vtpm; start it as the user it should run as")
            default: throw SwtpmUsageError("unrecognized option '--\(name)'")
            }
        }
        if let p = portOption {
            // `-p PORT`: swtpm's older form of `--server type=tcp,port=PORT,disconnect`.
            guard let port = parseNumber(p), port < 0x10000 else { throw SwtpmUsageError("Cannot parse socket port number '\(p)'.") }
            config.server = .tcp(host: "127.0.0.1", port: port)
            config.disconnect = true
        }
        if let s = serverOptions { try parseServer(s, environment: environment, into: &config) }
        if config.stateDirectory == nil, let dir = environment["TPM_PATH"] { config.stateDirectory = dir }
        if config.printCapabilities || config.printStates { return .run(config) }
        guard config.tpm2 else { throw SwtpmUsageError("vtpm implements TPM 2.0 only: add --tpm2") }
        guard config.stateDirectory != nil else {
            throw SwtpmUsageError("Error: --tpmstate dir=... (or TPM_PATH) is required")
        }
        guard config.server != nil || config.control != nil else {
            throw SwtpmUsageError("Error: nothing to serve: give --server and/or --ctrl")
        }
        return .run(config)
    }

    // MARK: option groups ("key=value,key,...")

    /// Splits an option group, accepting only `allowed` keys (swtpm's options_parse).
    static func group(_ text: String, _ what: String, allowed: Set<String>) throws(SwtpmUsageError) -> [String: String] {
        var out: [String: String] = [:]
        for item in text.split(separator: ",", omittingEmptySubsequences: true) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0])
            guard allowed.contains(key) else { throw SwtpmUsageError("Error parsing \(what) options: Unknown option '\(key)'") }
            out[key] = parts.count > 1 ? String(parts[1]) : ""
        }
        return out
    }

    static func parseNumber(_ s: String) -> Int? {
        guard !s.isEmpty, s.count <= 10 else { return nil }
        if s.hasPrefix("0x") || s.hasPrefix("0X") { return Int(s.dropFirst(2), radix: 16) }
        return Int(s)
    }

    static func number(_ s: String, _ what: String) throws(SwtpmUsageError) -> Int {
        guard let n = parseNumber(s), n >= 0 else { throw SwtpmUsageError("Error parsing \(what) options: invalid number '\(s)'") }
        return n
    }

    static func mode(_ s: String, _ what: String) throws(SwtpmUsageError) -> mode_t {
        guard s.hasPrefix("0"), let m = mode_t(s, radix: 8), m <= 0o777 else {
            throw SwtpmUsageError("Error parsing \(what) options: invalid mode type '\(s)'")
        }
        return m
    }

    static func port(_ s: String?, _ what: String) throws(SwtpmUsageError) -> Int? {
        guard let s else { return nil }
        let p = try number(s, what)
        guard p < 0x10000 else {
            throw SwtpmUsageError("\(what == "ctrl" ? "TCP control channel port" : "TCP socket port") outside valid range")
        }
        return p
    }

    static func parseServer(_ text: String, environment: [String: String], into c: inout SwtpmConfiguration) throws(SwtpmUsageError) {
        let g = try group(
            text, "server", allowed: ["type", "port", "bindaddr", "ifname", "fd", "disconnect", "path", "mode", "uid", "gid"])
        if g["disconnect"] != nil { c.disconnect = true }
        if g["fd"] != nil { throw SwtpmUsageError("--server fd=... is not supported by vtpm; use port= or path=") }
        if g["ifname"] != nil { throw SwtpmUsageError("--server ifname=... is not supported by vtpm; use bindaddr=") }
        if g["uid"] != nil || g["gid"] != nil { throw SwtpmUsageError("--server uid=/gid= are not supported by vtpm") }
        switch g["type"] ?? "tcp" {
        case "tcp":
            guard let port = try port(g["port"] ?? environment["TPM_PORT"], "server") else {
                throw SwtpmUsageError("No valid port number provided for TCP socket.")
            }
            c.server = .tcp(host: g["bindaddr"] ?? "127.0.0.1", port: port)
        case "unixio":
            guard let path = g["path"], !path.isEmpty else {
                throw SwtpmUsageError("Missing path and file descriptor option for UnixIO socket")
            }
            c.server = .unix(path: path, mode: try g["mode"].map { m throws(SwtpmUsageError) in try mode(m, "server") } ?? 0o770)
        case let t:
            throw SwtpmUsageError("Unsupport socket type: \(t)")
        }
    }

    static func parseControl(_ text: String) throws(SwtpmUsageError) -> Endpoint {
        let g = try group(text, "ctrl", allowed: ["type", "path", "port", "bindaddr", "ifname", "fd", "clientfd", "mode", "uid", "gid"])
        if g["fd"] != nil || g["clientfd"] != nil {
            throw SwtpmUsageError("--ctrl fd=/clientfd= are not supported by vtpm; use port= or path=")
        }
        if g["ifname"] != nil { throw SwtpmUsageError("--ctrl ifname=... is not supported by vtpm; use bindaddr=") }
        if g["uid"] != nil || g["gid"] != nil { throw SwtpmUsageError("--ctrl uid=/gid= are not supported by vtpm") }
        guard let type = g["type"] else { throw SwtpmUsageError("Missing type parameter for control channel") }
        switch type {
        case "unixio":
            guard let path = g["path"], !path.isEmpty else {
                throw SwtpmUsageError("Missing path and fd options for UnixIO control channel")
            }
            return .unix(path: path, mode: try g["mode"].map { m throws(SwtpmUsageError) in try mode(m, "ctrl") } ?? 0o770)
        case "tcp":
            guard let port = try port(g["port"], "ctrl") else {
                throw SwtpmUsageError("Missing port and fd options for TCP control channel")
            }
            return .tcp(host: g["bindaddr"] ?? "127.0.0.1", port: port)
        default:
            throw SwtpmUsageError("Unsupport control channel type: \(type)")
        }
    }

    static func parseTPMState(_ text: String, into c: inout SwtpmConfiguration) throws(SwtpmUsageError) {
        let g = try group(text, "tpmstate", allowed: ["dir", "mode", "backend-uri"])
        if let m = g["mode"] { c.stateFileMode = try mode(m, "tpmstate") }
        if let uri = g["backend-uri"] {
            guard uri.hasPrefix("dir://") else { throw SwtpmUsageError("Error parsing tpmstate options: unsupported backend '\(uri)'") }
            c.stateDirectory = String(uri.dropFirst("dir://".count))
        }
        if let dir = g["dir"] { c.stateDirectory = dir }
        guard c.stateDirectory?.isEmpty == false else { throw SwtpmUsageError("Error parsing tpmstate options: missing dir") }
    }

    static func parseFlags(_ text: String, into c: inout SwtpmConfiguration) throws(SwtpmUsageError) {
        let g = try group(
            text, "flags", allowed: ["not-need-init", "startup-clear", "startup-state", "startup-deactivated", "startup-none"])
        if g["not-need-init"] != nil { c.notNeedInit = true }
        if g["startup-clear"] != nil {
            c.startup = .clear
        } else if g["startup-state"] != nil {
            c.startup = .state
        } else if g["startup-deactivated"] != nil {
            throw SwtpmUsageError("Error parsing flags options: startup-deactivated is a TPM 1.2 startup type")
        } else if g["startup-none"] != nil {
            c.startup = nil
        }
        // swtpm: a startup type implies that no INIT is needed.
        if c.startup != nil { c.notNeedInit = true }
    }

    static func parseLog(_ text: String, into c: inout SwtpmConfiguration) throws(SwtpmUsageError) {
        let g = try group(text, "logging", allowed: ["file", "fd", "level", "prefix", "truncate"])
        if let f = g["file"] { c.log = f == "-" ? SwtpmConfiguration.LogTarget.none : .file(f) }
        if let f = g["fd"] {
            guard let n = parseNumber(f), n >= 0 else { throw SwtpmUsageError("Error parsing logging options: invalid number '\(f)'") }
            c.log = .fd(Int32(n))
        }
        if let l = g["level"] { c.logLevel = try number(l, "logging") }
        if let p = g["prefix"] { c.logPrefix = p }
        if g["truncate"] != nil { c.logTruncate = true }
        if c.log == nil { throw SwtpmUsageError("Error parsing logging options: missing file or fd") }
    }

    static func parsePid(_ text: String) throws(SwtpmUsageError) -> SwtpmConfiguration.PidTarget {
        let g = try group(text, "pid", allowed: ["file", "fd"])
        if let f = g["file"], !f.isEmpty { return .file(f) }
        if let f = g["fd"] {
            guard let n = parseNumber(f), n >= 0 else { throw SwtpmUsageError("Error parsing pid options: invalid number '\(f)'") }
            return .fd(Int32(n))
        }
        throw SwtpmUsageError("Error parsing pid options: missing file or fd")
    }

    static func parseLocality(_ text: String, into c: inout SwtpmConfiguration) throws(SwtpmUsageError) {
        let g = try group(text, "locality", allowed: ["reject-locality-4", "allow-set-locality"])
        if g["reject-locality-4"] != nil { c.rejectLocality4 = true }
        if g["allow-set-locality"] != nil {
            throw SwtpmUsageError("--locality allow-set-locality is not supported by vtpm")
        }
    }

    /// `--key` / `--migration-key`: a key (`file=`, `fd=`) or a passphrase (`pwdfile=`,
    /// `pwdfd=`) as swtpm takes them; vtpm encrypts with AES-GCM using the key (docs/servers.md).
    static func parseKey(_ text: String, option: String) throws(SwtpmUsageError) -> SwtpmConfiguration.KeyFile {
        let g = try group(text, option, allowed: ["file", "format", "mode", "remove", "pwdfile", "pwdfd", "fd", "kdf"])
        func descriptor(_ v: String) throws(SwtpmUsageError) -> Int32 {
            guard let n = parseNumber(v), n >= 0, n <= Int(Int32.max) else {
                throw SwtpmUsageError("Error parsing \(option) options: invalid number '\(v)'")
            }
            return Int32(n)
        }
        var key: SwtpmConfiguration.KeyFile
        if let path = g["file"], !path.isEmpty {
            key = .init(source: .file(path))
        } else if let fd = g["fd"] {
            key = .init(source: .fd(try descriptor(fd)))
        } else if let path = g["pwdfile"], !path.isEmpty {
            key = .init(source: .passphraseFile(path))
        } else if let fd = g["pwdfd"] {
            key = .init(source: .passphraseFD(try descriptor(fd)))
        } else {
            throw SwtpmUsageError("Either file=, fd=, pwdfile=, or pwdfd= is required for key option")
        }
        if let k = g["kdf"] {
            guard let kdf = StateCipher.KDF(rawValue: k) else { throw SwtpmUsageError("Unknown kdf '\(k)'.") }
            key.kdf = kdf
        }
        if let f = g["format"] {
            guard f == "hex" || f == "binary" else { throw SwtpmUsageError("--\(option): unknown format '\(f)' (hex, binary)") }
            key.format = f
        }
        switch g["mode"] {
        case nil: break
        case "aes-cbc", "aes-128-cbc": key.bits = 128
        case "aes-256-cbc": key.bits = 256
        case let m?: throw SwtpmUsageError("--\(option): unknown mode '\(m)' (aes-cbc, aes-256-cbc)")
        }
        if let r = g["remove"] { key.remove = try boolean(r, option, "remove") }
        return key
    }

    /// An option group's boolean: present without a value, or `true`/`false`.
    static func boolean(_ v: String, _ what: String, _ name: String) throws(SwtpmUsageError) -> Bool {
        switch v {
        case "", "true": return true
        case "false": return false
        default: throw SwtpmUsageError("Error parsing \(what) options: '\(name)' takes true or false, not '\(v)'")
        }
    }

    /// `--migration [incoming][,release-lock-outgoing]`, as libvirt passes it for state on shared
    /// storage.
    static func parseMigration(_ text: String, into c: inout SwtpmConfiguration) throws(SwtpmUsageError) {
        let g = try group(text, "migration", allowed: ["incoming", "release-lock-outgoing"])
        if let v = g["incoming"] { c.incomingMigration = try boolean(v, "migration", "incoming") }
        if let v = g["release-lock-outgoing"] { c.releaseLockOutgoing = try boolean(v, "migration", "release-lock-outgoing") }
    }

    /// vtpm installs no seccomp profile; the option is accepted so existing command lines
    /// (tpm2-tools' harness passes action=none) keep working.
    static func parseSeccomp(_ text: String) throws(SwtpmUsageError) {
        let g = try group(text, "seccomp", allowed: ["action"])
        if let a = g["action"], !["none", "kill", "log"].contains(a) {
            throw SwtpmUsageError("Error parsing seccomp options: unsupported action '\(a)'")
        }
    }

    /// `--print-capabilities`: what this implementation offers, in swtpm's JSON shape.
    public static var capabilitiesJSON: String {
        #"{ "type": "swtpm", "features": [ "tpm-2.0", "tpm-send-command-header", "flags-opt-startup", "cmdarg-seccomp", "#
            + #""cmdarg-key-fd", "cmdarg-pwd-fd", "cmdarg-print-states", "nvram-backend-dir", "cmdarg-migration" ], "#
            + #""version": "0.7.1" }"#
    }

    public static let overview = """
        TPM emulator with choice of interface.

        Usage: swtpm socket [options]
               swtpm -v|--version

        Use the --help option to see the help screen for each interface type.
        Use the --version options to see version information.
        (This is vtpm's swtpm-compatible front end; it implements the socket interface.)
        """

    public static let usage = """
        Usage: swtpm socket [options]

        vtpm's swtpm-compatible front end. The following options are supported:

        --tpm2           : choose TPM2 functionality (required: vtpm is a TPM 2.0)
        --server [type=tcp][,port=port[,bindaddr=address]][,disconnect]
                         : expect TCP connections for TPM commands on the given port,
                           bound to 127.0.0.1 unless bindaddr says otherwise; disconnect
                           closes each connection after one response
        --server type=unixio,path=path[,mode=0...]
                         : expect UnixIO connections on the given path (mode 0770 default)
        -p|--port <port> : the same as --server type=tcp,port=<port>,disconnect
        --ctrl type=[unixio|tcp][,path=<path>][,port=<port>[,bindaddr=address]][,mode=0...]
                         : the swtpm control channel on a UnixIO or TCP socket
        --tpmstate dir=<dir>[,mode=0...]|backend-uri=dir://<dir>
                         : the directory holding the TPM's state (must exist; TPM_PATH
                           may be used instead); mode of the state files, default 0640
        --flags [not-need-init][,startup-clear|startup-state|startup-none]
                         : not-need-init: power the TPM on without an INIT on the control
                           channel; startup-...: also send TPM2_Startup of this type
        --locality reject-locality-4
                         : refuse locality 4 on the control channel
        --log file=<path>|fd=<fd>[,level=n][,prefix=<prefix>][,truncate]
                         : write the log to this file ('-' for none); level 2 adds state
                           changes and connections, level 3 every command and response
        --key file=<keyfile>|fd=<fd>[,format=hex|binary][,mode=aes-cbc|aes-256-cbc][,remove]
        --key pwdfile=<file>|pwdfd=<fd>[,mode=aes-cbc|aes-256-cbc][,kdf=pbkdf2|sha512][,remove]
                         : encrypt the state files with this key, or a key derived from the
                           passphrase (PBKDF2-HMAC-SHA512 as swtpm); vtpm uses AES-GCM
        --migration-key ...
                         : the same options: encrypt the state blobs of CMD_GET_STATEBLOB
        --migration [incoming][,release-lock-outgoing]
                         : incoming: lock the state directory only once the state arrives
                           (shared storage); release-lock-outgoing: unlock it once the last
                           state blob was fetched
        --pid file=<path>|fd=<fd>
                         : write the process ID into the given file
        -t|--terminate   : terminate once the data connection has been lost
        -d|--daemon      : daemonize
        --seccomp action=none|kill|log
                         : accepted for compatibility; vtpm installs no seccomp profile
        --print-capabilities
                         : print capabilities and terminate
        --print-states   : print existing TPM states and terminate
        -h|--help        : display this help screen and terminate

        """
}
