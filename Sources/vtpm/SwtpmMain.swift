import TPMWire
import VTPMHost

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The process behind `swtpm socket ...`: parse, daemonize, open the state, listen, serve
/// until SIGTERM/SIGINT, CMD_SHUTDOWN or (with --terminate) the end of the data connection.
enum SwtpmMain {
    static func fail(_ message: String) -> Int32 {
        let line = Array("swtpm: \(message)\n".utf8)
        _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        return 1
    }

    static func run(_ arguments: [String]) -> Int32 {
        var env: [String: String] = [:]
        for name in ["TPM_PATH", "TPM_PORT"] { if let v = getenv(name) { env[name] = String(cString: v) } }
        let invocation: SwtpmInvocation
        do {
            invocation = try SwtpmCommandLine.parse(arguments, environment: env)
        } catch {
            return fail(error.message + (error.message.hasPrefix("Missing TPM interface") ? "" : " (see 'swtpm socket --help')"))
        }
        let config: SwtpmConfiguration
        switch invocation {
        case .version:
            print(SwtpmCommandLine.versionLine)
            return 0
        case .overview:
            print(SwtpmCommandLine.overview)
            return 0
        case .help:
            print(SwtpmCommandLine.usage, terminator: "")
            return 0
        case .run(let c):
            config = c
        }
        if config.printCapabilities {
            print(SwtpmCommandLine.capabilitiesJSON)
            return 0
        }
        if config.printStates { return printStates(config) }
        HostServer.servesOneTPM()
        guard ResponsePolling.configureFromEnvironment() else {
            return fail("VTPM_POLL_US needs a number of microseconds from 0 to \(ResponsePolling.maxWindowMicroseconds)")
        }

        let log: HostLog
        switch config.log {
        case nil: log = HostLog(fd: 2, level: config.logLevel, prefix: config.logPrefix)
        case .none?: log = .discard
        case .fd(let fd)?: log = HostLog(fd: fd, level: config.logLevel, prefix: config.logPrefix)
        case .file(let path)?:
            do {
                log = try HostLog.file(path, level: config.logLevel, prefix: config.logPrefix, truncate: config.logTruncate)
            } catch {
                return fail("\(error)")
            }
        }

        // Fork before any thread exists (the event loop and dispatch queues come later).
        var readiness: Int32 = -1
        if config.daemon {
            switch Daemon.fork() {
            case .parent(let status): return status
            case .child(let fd): readiness = fd
            case .failed(let e): return fail("Could not prepare to daemonize: \(String(cString: strerror(e)))")
            }
        }
        let status = serve(config, log: log, readiness: readiness)
        // On success `serve` reported readiness itself.
        if readiness >= 0 && status != 0 { Daemon.report(readiness, status: status) }
        return status
    }

    /// Runs the server; reports readiness to a waiting parent once listening.
    static func serve(_ config: SwtpmConfiguration, log: HostLog, readiness: Int32) -> Int32 {
        guard let dir = config.stateDirectory else { return fail("Error: --tpmstate is required") }
        let store: StateStore
        do {
            // `--migration incoming`: the source may still hold the lock (shared storage).
            store = try StateStore(directory: dir, fileMode: config.stateFileMode, lock: !config.incomingMigration)
        } catch {
            log.error("\(error)")
            return 1
        }
        var migrationCipher: StateCipher?
        do {
            if let k = config.stateKey { store.cipher = try k.load() }
            if let k = config.migrationKey { migrationCipher = try k.load() }
        } catch {
            log.error("\(error)")
            return 1
        }
        let instance = Instance(store: store, log: log)
        let releaseLockOutgoing = config.releaseLockOutgoing
        instance.sync { core in
            core.migrationCipher = migrationCipher
            core.releaseLockOutgoing = releaseLockOutgoing
        }
        if config.notNeedInit {
            do {
                try instance.sync { core in try core.powerOn(resumeVolatile: true) }
            } catch {
                log.error("Error: Could not initialize the TPM: \(error)")
                return 1
            }
            if let startup = config.startup {
                let rc = instance.sync { $0.startup(startup == .clear ? .clear : .state) }
                // swtpm, too, goes on: a TPM resumed from a saved volatile state is already started
                // (TPM_RC_INITIALIZE).
                if rc != 0 { log.info("TPM2_Startup returned 0x\(String(rc, radix: 16))") }
            }
        }
        let server = HostServer(instance: instance, log: log)
        server.terminateOnDataDisconnect = config.terminate
        var listeners: [(Endpoint, ServerProtocol)] = []
        if let control = config.control {
            listeners.append((control, .swtpmControl(ControlChannel.Options(rejectLocality4: config.rejectLocality4))))
        }
        if let data = config.server { listeners.append((data, .swtpmData(disconnect: config.disconnect))) }
        for (endpoint, proto) in listeners {
            do {
                try server.listen(endpoint, speaking: proto)
            } catch {
                log.error("Could not open socket \(endpoint): \(HostServer.describe(error))")
                server.shutdown()
                return 1
            }
        }
        if let pid = config.pid, !Daemon.writePid(pid) {
            log.error("Could not write the PID file: \(String(cString: strerror(errno)))")
            server.shutdown()
            return 1
        }
        server.handleSignals()
        if readiness >= 0 { Daemon.report(readiness, status: 0) }
        server.waitForTermination()
        return 0
    }

    /// `--print-states`: the blobs present, with swtpm's names for them.
    static func printStates(_ config: SwtpmConfiguration) -> Int32 {
        guard let dir = config.stateDirectory else { return fail("Error: --tpmstate option is required for --print-states") }
        let store: StateStore
        do { store = try StateStore(directory: dir) } catch { return fail("\(error)") }
        var entries: [String] = []
        for (blob, name) in [(StateStore.Blob.permanent, "permall"), (.volatile, "volatilestate")] {
            guard let bytes = try? store.read(blob) else { continue }
            entries.append(#"{"name": "\#(name)", "size": \#(bytes.count)}"#)
        }
        print(#"{ "type": "swtpm", "states": [ \#(entries.joined(separator: ", ")) ] }"#, terminator: "")
        return 0
    }
}

/// `--daemon` and `--pid`.
enum Daemon {
    enum Fork {
        case parent(Int32)
        case child(Int32)
        case failed(Int32)
    }

    /// Forks; the parent waits until the child reports that it is serving (exit 0) or
    /// that it failed (exit 1), as swtpm's daemonize does.
    static func fork() -> Fork {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return .failed(errno) }
        #if canImport(Glibc)
            let pid = Glibc.fork()
        #else
            let pid = Darwin.fork()
        #endif
        if pid < 0 { return .failed(errno) }
        if pid > 0 {
            close(fds[1])
            var status: UInt8 = 1
            var n: Int
            repeat { n = read(fds[0], &status, 1) } while n < 0 && errno == EINTR
            close(fds[0])
            return .parent(n == 1 ? Int32(status) : 1)
        }
        close(fds[0])
        setsid()
        return .child(fds[1])
    }

    /// Tells the waiting parent how start-up went; once serving, stdio is detached.
    static func report(_ fd: Int32, status: Int32) {
        var s = UInt8(truncatingIfNeeded: status)
        _ = write(fd, &s, 1)
        close(fd)
        let null = open("/dev/null", O_RDWR)
        if null >= 0 {
            for target in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] { dup2(null, target) }
            if null > 2 { close(null) }
        }
    }

    static func writePid(_ target: SwtpmConfiguration.PidTarget) -> Bool {
        let text = Array("\(getpid())".utf8)
        let fd: Int32
        switch target {
        case .file(let path): fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        case .fd(let n): fd = n
        }
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == text.count
    }
}
