import ArgumentParser
import TPMEngine
import VTPMHost

struct VTPMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vtpm",
        abstract: "A TPM 2.0 implemented in Swift, served to TPM clients.",
        subcommands: [
            Sim.self, Serve.self, Create.self, List.self, Show.self, Destroy.self, Suspend.self, Resume.self, QemuArgs.self, CA.self,
            Swtpm.self,
        ])
}

/// `vtpm sim`: the TPM reference simulator's protocol (tpm2-tss `mssim` TCTI).
struct Sim: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve one TPM with the reference simulator's (mssim) protocol.",
        discussion: """
            TPM commands on PORT, platform signals (power, NV, cancel) on PORT+1, as the \
            TCG reference simulator does. Clients: TPM2TOOLS_TCTI=mssim:host=HOST,port=PORT, \
            tpm2-pytss, anything linked to libtss2-tcti-mssim. The TPM is powered on at start.
            """)

    @Option(help: "The command port; the platform port is PORT+1.")
    var port: Int = 2321

    @Option(help: "The address to listen on (IPv4 or IPv6).")
    var host: String = "127.0.0.1"

    @Option(name: .customLong("state-dir"), help: "The directory with the TPM's state (created if missing).")
    var stateDir: String = "./vtpm-state"

    @Option(help: "1: errors; 2: also power and connection events; 3: also every command and response.")
    var logLevel: Int = 1

    func validate() throws {
        guard (1...65534).contains(port) else { throw ValidationError("--port must be 1...65534 (the platform port is PORT+1)") }
        guard (0...9).contains(logLevel) else { throw ValidationError("--log-level must be 0...9") }
    }

    func run() throws {
        let log = HostLog(fd: 2, level: logLevel, prefix: "vtpm: ")
        let store: StateStore
        do {
            store = try StateStore(directory: stateDir, fileMode: 0o600, create: true)
        } catch {
            log.error("\(error)")
            throw ExitCode.failure
        }
        let instance = Instance(store: store, log: log)
        do {
            try instance.sync { core in try core.powerOn(resumeVolatile: true) }
        } catch {
            log.error("Could not initialize the TPM: \(error)")
            throw ExitCode.failure
        }
        let server = HostServer(instance: instance, log: log)
        for (endpoint, proto) in [
            (Endpoint.tcp(host: host, port: port), ServerProtocol.mssimCommand),
            (.tcp(host: host, port: port + 1), .mssimPlatform),
        ] {
            do {
                try server.listen(endpoint, speaking: proto)
            } catch {
                log.error("cannot listen on \(endpoint): \(HostServer.describe(error))")
                server.shutdown()
                throw ExitCode.failure
            }
        }
        server.handleSignals()
        server.waitForTermination()
    }
}

/// `vtpm swtpm socket ...`: swtpm's command line.
struct Swtpm: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run with swtpm's command line (the same as invoking this executable as 'swtpm').",
        discussion: "Example: vtpm swtpm socket --tpm2 --server type=tcp,port=2321 --ctrl type=tcp,port=2322 "
            + "--tpmstate dir=/var/lib/vtpm/vm1 --flags not-need-init,startup-clear. 'vtpm swtpm socket --help' lists the options.")

    @Argument(parsing: .captureForPassthrough, help: "swtpm's arguments, starting with the interface ('socket').")
    var arguments: [String] = []

    func run() throws {
        let rc = SwtpmMain.run(arguments)
        if rc != 0 { throw ExitCode(rc) }
    }
}
