import ArgumentParser
import Foundation
import TPMCrypto
import VTPMHost

#if canImport(Glibc)
    import Glibc
#endif

/// Where a CLI command finds the daemon: `--socket PATH`, else `--state-dir DIR`/vtpm.sock.
struct DaemonLocation: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: "The daemon's state directory (its socket is DIR/vtpm.sock).")
    var stateDir: String = "./vtpm-state"

    @Option(help: "The daemon's management socket (default: STATE_DIR/vtpm.sock).")
    var socket: String?

    var socketPath: String { socket ?? stateDir + "/vtpm.sock" }

    /// Sends one request; prints the daemon's error and exits 1 when it fails.
    func send(_ request: ManagementRequest) throws -> ManagementResponse {
        let response: ManagementResponse
        do {
            response = try ManagementClient.send(request, socket: socketPath)
        } catch {
            FileHandle.standardError.write(Data("vtpm: \(error)\n".utf8))
            throw ExitCode.failure
        }
        guard response.ok else {
            FileHandle.standardError.write(Data("vtpm: \(response.error ?? "request failed")\n".utf8))
            throw ExitCode.failure
        }
        return response
    }
}

func printJSON<T: Encodable>(_ value: T) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    if let data = try? encoder.encode(value), let text = String(data: data, encoding: .utf8) { print(text) }
}

/// `vtpm serve`: the daemon.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon that hosts any number of TPM instances.",
        discussion: """
            Instances live in STATE_DIR/instances/NAME; each has a control socket (swtpm's \
            protocol, for QEMU's -tpmdev emulator), optionally a raw data socket and mssim \
            ports. Manage them with 'vtpm create', 'vtpm ls', ... through STATE_DIR/vtpm.sock.
            """)

    @Option(name: .customLong("state-dir"), help: "The state directory (created if missing).")
    var stateDir: String = "./vtpm-state"

    @Option(help: "The management socket (default: STATE_DIR/vtpm.sock).")
    var socket: String?

    @Option(help: "1 (or error): errors; 2 (info): also instance and connection events; 3 (debug): also every command.")
    var logLevel: String = "2"

    @Option(
        name: .customLong("idle-evict"),
        help: "Drop from memory an instance idle for SECONDS (default: never); its next command reloads it.")
    var idleEvict: Double?

    @Option(name: .customLong("ca-dir"), help: "The local CA for EK certificates (default: $VTPM_CA_DIR, else STATE_DIR/ca).")
    var caDir: String?

    @Option(name: .customLong("state-key"), help: "A key file (hex, 128 or 256 bits): every instance's state is encrypted at rest.")
    var stateKey: String?

    @Option(help: "Serve Prometheus metrics on HOST:PORT (GET /metrics), e.g. 127.0.0.1:9464.")
    var metrics: String?

    @Option(
        name: .customLong("keygen-threads"),
        help: "Threads one primary RSA key's prime search may use (default 1: a guest generating keys takes at most one core).")
    var keygenThreads: Int = 1

    @Option(
        name: .customLong("poll-us"),
        help: """
            Microseconds a data connection polls for its next command before sleeping, when its client \
            is that fast (default \(ResponsePolling.defaultWindowMicroseconds); 0: off; docs/host.md).
            """)
    var pollMicroseconds: Int = ResponsePolling.defaultWindowMicroseconds

    @Flag(
        name: .customLong("plain-migration"),
        help: "Send migration/savevm state blobs unencrypted (default: encrypted with STATE_DIR/migration.key).")
    var plainMigration = false

    func run() throws {
        guard let threshold = HostLog.threshold(parsing: logLevel) else {
            FileHandle.standardError.write(Data("vtpm: unknown log level '\(logLevel)' (1-3, or trace ... critical)\n".utf8))
            throw ExitCode.failure
        }
        if let idleEvict, !(idleEvict > 0 && idleEvict < 1e9) {
            FileHandle.standardError.write(Data("vtpm: --idle-evict needs a positive number of seconds\n".utf8))
            throw ExitCode.failure
        }
        guard (1...64).contains(keygenThreads) else {
            FileHandle.standardError.write(Data("vtpm: --keygen-threads needs a number from 1 to 64\n".utf8))
            throw ExitCode.failure
        }
        KeyGeneration.threadLimit = keygenThreads
        guard (0...ResponsePolling.maxWindowMicroseconds).contains(pollMicroseconds) else {
            FileHandle.standardError.write(
                Data("vtpm: --poll-us needs a number from 0 to \(ResponsePolling.maxWindowMicroseconds)\n".utf8))
            throw ExitCode.failure
        }
        ResponsePolling.windowMicroseconds = pollMicroseconds
        let log = HostLog(fd: 2, threshold: threshold, prefix: "vtpm: ")
        // Each instance holds a few descriptors (two listening sockets, its state lock, and
        // its connections): take all the descriptors allowed, and as root raise the hard limit
        // to the kernel's per-process maximum (fs.nr_open).
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            if getuid() == 0, let text = try? String(contentsOfFile: "/proc/sys/fs/nr_open", encoding: .utf8),
                let most = rlim_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), most > limit.rlim_max
            {
                var raised = rlimit(rlim_cur: most, rlim_max: most)
                if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
            }
            if limit.rlim_cur < limit.rlim_max {
                limit.rlim_cur = limit.rlim_max
                _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            }
        }
        let manager: InstanceManager
        do {
            manager = try InstanceManager(
                directory: stateDir, log: log, caDirectory: caDir, stateKey: stateKey, plainMigration: plainMigration)
        } catch {
            log.error("\(error)")
            throw ExitCode.failure
        }
        var metricsServer: MetricsServer?
        if let spec = metrics {
            guard let colon = spec.lastIndex(of: ":"), let port = Int(spec[spec.index(after: colon)...]), (0...65535).contains(port) else {
                log.error("--metrics needs HOST:PORT, not '\(spec)'")
                manager.shutdown()
                throw ExitCode.failure
            }
            HostMetrics.shared.enable()
            do {
                metricsServer = try MetricsServer(
                    host: String(spec[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: port,
                    metrics: .shared, group: manager.group)
            } catch {
                log.error("cannot listen on \(spec) for metrics: \(HostServer.describe(error))")
                manager.shutdown()
                throw ExitCode.failure
            }
        }
        manager.startAll()
        if let idleEvict { manager.enableIdleEviction(seconds: idleEvict) }
        let path = socket ?? stateDir + "/vtpm.sock"
        let server: ManagementServer
        do {
            server = try ManagementServer(path: path, manager: manager, group: manager.group)
        } catch {
            log.error("cannot listen on \(path): \(HostServer.describe(error))")
            manager.shutdown()
            throw ExitCode.failure
        }
        log.info("management socket \(path); \(manager.list().count) instance(s)")
        let done = DispatchSemaphore(value: 0)
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { done.signal() }
            source.resume()
            sources.append(source)
        }
        done.wait()
        log.info("stopping")
        metricsServer?.close()
        server.close()
        manager.shutdown()
        for s in sources { s.cancel() }
    }
}

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create (manufacture and provision) a TPM instance.")
    @Argument(help: "The instance's name (letters, digits, '.', '_', '-').") var name: String
    @Option(name: .customLong("pcr-banks"), help: "Comma-separated PCR banks to allocate (sha1, sha256, sha384, sha512).")
    var pcrBanks: String = "sha256"
    @Option(name: .customLong("mssim-port"), help: "Also serve it with the mssim protocol on PORT and PORT+1.")
    var mssimPort: Int?
    @Flag(name: .customLong("no-ek"), help: "Do not create EKs and EK certificates.")
    var noEK = false
    @Flag(
        name: .customLong("data-socket"),
        help: "Also serve raw TPM commands on INSTANCE_DIR/data.sock (QEMU does not need it: it passes its own with SET_DATAFD).")
    var dataSocket = false
    @OptionGroup var daemon: DaemonLocation

    func run() throws {
        let banks = pcrBanks.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        let r = try daemon.send(
            ManagementRequest(op: "create", name: name, pcrBanks: banks, mssimPort: mssimPort, ek: !noEK, dataSocket: dataSocket))
        if let i = r.instance { print("created \(i.name): control socket \(i.controlSocket)") }
    }
}

struct Destroy: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop an instance and erase its state.")
    @Argument var name: String
    @OptionGroup var daemon: DaemonLocation
    func run() throws { _ = try daemon.send(ManagementRequest(op: "destroy", name: name)) }
}

struct Suspend: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Save an instance's volatile state and release its memory.")
    @Argument var name: String
    @OptionGroup var daemon: DaemonLocation
    func run() throws { _ = try daemon.send(ManagementRequest(op: "suspend", name: name)) }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Resume a suspended instance where it was suspended.")
    @Argument var name: String
    @OptionGroup var daemon: DaemonLocation
    func run() throws { _ = try daemon.send(ManagementRequest(op: "resume", name: name)) }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the instances.")
    @Flag var json = false
    @OptionGroup var daemon: DaemonLocation
    func run() throws {
        let instances = try daemon.send(ManagementRequest(op: "list")).instances ?? []
        if json { return printJSON(instances) }
        print("NAME".padding(toLength: 24, withPad: " ", startingAt: 0) + " STATE      COMMANDS  CONTROL SOCKET")
        for i in instances {
            print(
                i.name.padding(toLength: 24, withPad: " ", startingAt: 0) + " " + i.state.padding(toLength: 10, withPad: " ", startingAt: 0)
                    + " " + String(i.commands).padding(toLength: 9, withPad: " ", startingAt: 0) + " " + i.controlSocket)
        }
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one instance.")
    @Argument var name: String
    @Flag var json = false
    @OptionGroup var daemon: DaemonLocation
    func run() throws {
        guard let i = try daemon.send(ManagementRequest(op: "show", name: name)).instance else { return }
        if json { return printJSON(i) }
        print("name:            \(i.name)")
        print("state:           \(i.state)")
        print("control socket:  \(i.controlSocket)")
        if let d = i.dataSocket { print("data socket:     \(d)") }
        if let p = i.mssimPort { print("mssim ports:     \(p), \(p + 1) (TCTI mssim:host=127.0.0.1,port=\(p))") }
        print("PCR banks:       \(i.pcrBanks.joined(separator: ","))")
        print("state on disk:   \(i.permanentBytes) bytes permanent, \(i.volatileBytes) bytes volatile")
        print("commands:        \(i.commands) (\(i.errorResponses) answered with an error)")
        if let evicted = i.evicted {
            let idle = i.idleSeconds.map { String(format: "%.1f", $0) } ?? "?"
            let where_ = evicted ? "evicted (reloads at its next command)" : "resident"
            print("memory:          \(where_), idle \(idle) s, \(i.evictions ?? 0) eviction(s)")
        }
    }
}

struct QemuArgs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qemu-args", abstract: "Print the QEMU arguments that attach a VM to an instance.")
    @Argument var name: String
    @Option(help: "tpm-tis (SeaBIOS/OVMF, x86) or tpm-crb (OVMF, q35).") var device: String = "tpm-tis"
    @OptionGroup var daemon: DaemonLocation
    func run() throws {
        let args = try daemon.send(ManagementRequest(op: "qemu-args", name: name, device: device)).arguments ?? []
        print(args.joined(separator: " "))
    }
}

/// `vtpm ca show`: the local CA's root certificate.
struct CA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca", abstract: "The host's local CA, which signs instances' EK certificates.", subcommands: [CAShow.self])
}

struct CAShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Print the local CA's root certificate (PEM); creates the CA on first use.")
    @Option(name: .customLong("ca-dir"), help: "The CA's directory (default: $VTPM_CA_DIR, else STATE_DIR/ca, the daemon's).")
    var caDir: String?

    @Option(name: .customLong("state-dir"), help: "The daemon's state directory.")
    var stateDir: String = "./vtpm-state"

    func run() throws {
        do {
            let dir = caDir ?? LocalCA.environmentDirectory() ?? stateDir + "/ca"
            print(try LocalCA(directory: dir).certificatePEM)
        } catch {
            FileHandle.standardError.write(Data("vtpm: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
