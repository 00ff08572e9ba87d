import Foundation
import NIOCore
import NIOPosix
import TPMEngine
import TPMWire

/// Why a management request failed; the description is the one-line message the CLI prints.
public struct ManagementError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What an instance is configured with (DIR/instances/NAME/instance.json).
public struct InstanceConfiguration: Codable, Equatable, Sendable {
    /// mssim command port (platform port = port + 1), if the instance is exposed that way.
    public var mssimPort: Int?
    /// PCR banks allocated at creation (names: sha1, sha256, sha384, sha512).
    public var pcrBanks: [String]
    /// A raw data socket (data.sock) besides the control socket. QEMU does not need one (it
    /// passes its data socket with SET_DATAFD), so it is made only when asked for; nil in a
    /// configuration written before this option, whose instances always had one (kept).
    public var dataSocket: Bool?
    public init(mssimPort: Int? = nil, pcrBanks: [String], dataSocket: Bool = false) {
        self.mssimPort = mssimPort
        self.pcrBanks = pcrBanks
        self.dataSocket = dataSocket
    }
    var hasDataSocket: Bool { dataSocket ?? true }
}

/// What `vtpm ls` and `vtpm show` report of one instance.
public struct InstanceStatus: Codable, Equatable, Sendable {
    public var name: String
    /// "running" (powered on), "stopped" (off, waiting for INIT or power-on) or "suspended"
    /// (volatile state saved, engine released from memory).
    public var state: String
    public var controlSocket: String
    /// Absent when the instance has no raw data socket (created without `dataSocket`).
    public var dataSocket: String?
    public var mssimPort: Int?
    public var pcrBanks: [String]
    /// Bytes of the permanent and (when suspended) volatile state on disk.
    public var permanentBytes: Int
    public var volatileBytes: Int
    public var commands: UInt64
    public var errorResponses: UInt64
    /// The engine is out of memory for idleness (`--idle-evict`); it still counts as running
    /// and comes back at the next command. Optional so older daemons' answers still decode.
    public var evicted: Bool?
    /// How often it was evicted since the daemon started.
    public var evictions: UInt64?
    /// Seconds since its last command or control request.
    public var idleSeconds: Double?
}

/// The instances of one `vtpm serve` daemon: each in its own directory under
/// `DIR/instances/NAME` (state store, configuration, sockets), served on a shared event-loop
/// group with one control socket (swtpm's control protocol with SET_DATAFD, for QEMU), one
/// raw data socket and optionally the mssim ports. The daemon holds `DIR/.lock`, so a second
/// daemon on the same directory is refused. Thread-safe: requests are serialized on `queue`.
public final class InstanceManager: @unchecked Sendable {
    // @unchecked: `servers` is only touched on `queue`.
    public let directory: String
    let log: HostLog
    /// The event loops every instance's connections (and the management socket) run on.
    public let group: MultiThreadedEventLoopGroup
    private let queue = DispatchQueue(label: "vtpm.manager")
    private var servers: [String: (server: HostServer, config: InstanceConfiguration)] = [:]
    private var lockFD: Int32 = -1

    /// Instance names: a letter or digit first, then letters, digits, '.', '_', '-'; at most
    /// 64 characters. No '/', no "..": a name is always one directory under DIR/instances.
    public static func validate(name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !name.isEmpty, name.count <= 64, name.allSatisfy({ allowed.contains($0) }),
            let first = name.first, first.isLetter || first.isNumber
        else {
            throw ManagementError(
                "invalid instance name '\(name)': use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
    }

    public static let bankNames: [String: TPMAlgID] = ["sha1": .sha1, "sha256": .sha256, "sha384": .sha384, "sha512": .sha512]

    /// The local CA that signs EK certificates (opened on first use).
    public let caDirectory: String
    private var ca: LocalCA?

    /// Encrypts every instance's state at rest (`--state-key`), if set.
    let stateCipher: StateCipher?
    /// Encrypts GET_STATEBLOB's blobs (migration, QEMU savevm); nil with `--plain-migration`.
    let migrationCipher: StateCipher?

    public init(
        directory given: String, log: HostLog, caDirectory: String? = nil, stateKey: String? = nil,
        plainMigration: Bool = false, threads: Int = System.coreCount
    ) throws {
        // A daemon keeps its CA with its state unless told otherwise ($VTPM_CA_DIR, --ca-dir).
        self.caDirectory = caDirectory ?? LocalCA.environmentDirectory() ?? given + "/ca"
        for d in [given, given + "/instances"] where mkdir(d, 0o700) != 0 && errno != EEXIST {
            throw ManagementError("cannot create \(d): \(String(cString: strerror(errno)))")
        }
        // Absolute, so the socket paths handed to QEMU and libvirt work from anywhere.
        guard let resolved = realpath(given, nil) else {
            throw ManagementError("cannot resolve \(given): \(String(cString: strerror(errno)))")
        }
        directory = String(cString: resolved)
        free(resolved)
        self.log = log
        let lockPath = self.directory + "/.lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ManagementError("cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw ManagementError("state directory \(self.directory) is in use by another vtpm daemon")
        }
        lockFD = fd
        do {
            stateCipher = try stateKey.map { try StateCipher.load(path: $0) }
            // One migration key per daemon, made on first use: copy DIR/migration.key to the
            // hosts a VM may migrate to (docs/host.md).
            migrationCipher = plainMigration ? nil : try StateCipher.loadOrCreate(path: directory + "/migration.key")
        } catch {
            close(fd)
            lockFD = -1
            throw error
        }
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
    }

    /// Starts serving every instance found in the directory. A damaged instance is logged
    /// and left out; the others run.
    public func startAll() {
        queue.sync {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/instances")) ?? []
            for name in names.sorted() {
                do {
                    try Self.validate(name: name)
                    let config = try readConfiguration(name)
                    try serve(name, config: config, create: false)
                } catch {
                    log.error("instance \(name) not started: \(error)")
                }
            }
        }
    }

    func instanceDirectory(_ name: String) -> String { directory + "/instances/" + name }
    func controlSocket(_ name: String) -> String { instanceDirectory(name) + "/ctrl.sock" }
    func dataSocket(_ name: String) -> String { instanceDirectory(name) + "/data.sock" }

    private func readConfiguration(_ name: String) throws -> InstanceConfiguration {
        let data = try Data(contentsOf: URL(fileURLWithPath: instanceDirectory(name) + "/instance.json"))
        return try JSONDecoder().decode(InstanceConfiguration.self, from: data)
    }

    /// Opens the instance's store and its listeners. On the manager's queue.
    private func serve(_ name: String, config: InstanceConfiguration, create: Bool) throws {
        let store = try StateStore(directory: instanceDirectory(name), fileMode: 0o600, create: create, locking: .heldByCaller)
        store.cipher = stateCipher
        let instanceLog = log.with("instance", name)
        let instance = Instance(store: store, log: instanceLog)
        let migrationCipher = self.migrationCipher
        instance.sync { $0.migrationCipher = migrationCipher }
        let server = HostServer(instance: instance, log: instanceLog, group: group)
        do {
            try server.listen(.unix(path: controlSocket(name), mode: 0o600), speaking: .swtpmControl(.init()))
            if config.hasDataSocket {
                try server.listen(.unix(path: dataSocket(name), mode: 0o600), speaking: .swtpmData(disconnect: false))
            }
            if let port = config.mssimPort {
                // Reachable without QEMU: powered on like `vtpm sim`.
                try instance.sync { try $0.powerOn(resumeVolatile: true) }
                try server.listen(.tcp(host: "127.0.0.1", port: port), speaking: .mssimCommand)
                try server.listen(.tcp(host: "127.0.0.1", port: port + 1), speaking: .mssimPlatform)
            }
        } catch {
            server.shutdown()
            throw error
        }
        servers[name] = (server, config)
        HostMetrics.shared.setInstances(servers.count)
    }

    /// Creates, provisions (manufacture, PCR banks, and unless `ek` is false the EKs and their
    /// certificates as swtpm_setup makes them) and serves a new instance.
    public func create(name: String, pcrBanks: [String], mssimPort: Int?, ek: Bool = true, dataSocket: Bool = false) throws {
        try Self.validate(name: name)
        guard controlSocket(name).utf8.count <= HostServer.maxUnixSocketPath else {
            throw ManagementError(
                "the socket path \(controlSocket(name)) is too long for a Unix socket: use a shorter state directory or name")
        }
        var algs: [TPMAlgID] = []
        for b in pcrBanks {
            guard let alg = Self.bankNames[b] else {
                throw ManagementError("unknown PCR bank '\(b)' (sha1, sha256, sha384, sha512)")
            }
            algs.append(alg)
        }
        guard !algs.isEmpty else { throw ManagementError("at least one PCR bank is needed") }
        if let p = mssimPort, !(1...65534).contains(p) { throw ManagementError("mssim port must be 1...65534") }
        try queue.sync { () throws in
            guard servers[name] == nil, access(instanceDirectory(name), F_OK) != 0 else {
                throw ManagementError("instance '\(name)' already exists")
            }
            let dir = instanceDirectory(name)
            do {
                let store = try StateStore(directory: dir, fileMode: 0o600, create: true, locking: .heldByCaller)
                store.cipher = stateCipher
                let instance = Instance(store: store, log: .discard)
                try instance.sync { core in try Provisioning.manufacture(core, banks: algs, flush: !ek) }
                if ek {
                    if ca == nil { ca = try LocalCA(directory: caDirectory) }
                    let ca = self.ca
                    try instance.sync { core in
                        core.batchingProvisioning = true
                        try core.powerOn(resumeVolatile: false)
                        defer { core.powerOff() }
                        try Provisioning.check(core.startup(.clear), "TPM2_Startup")
                        var options = EKProvisioning.Options()
                        options.ecc = true
                        try EKProvisioning.provision(core, ca: ca, options: options)
                        try Provisioning.check(Provisioning.rc(core.execute(Provisioning.shutdownClear)), "TPM2_Shutdown")
                        try core.flush()
                    }
                }
                let config = InstanceConfiguration(mssimPort: mssimPort, pcrBanks: pcrBanks, dataSocket: dataSocket)
                try store.write(file: "instance.json", Array(try JSONEncoder().encode(config)))
                instance.sync { $0.store.release() }
                try serve(name, config: config, create: false)
            } catch {
                if let server = servers.removeValue(forKey: name) { server.server.shutdown() }
                try? FileManager.default.removeItem(atPath: dir)
                throw ManagementError("cannot create instance '\(name)': \(error)")
            }
            log.info("created instance \(name)")
        }
    }

    /// Stops the instance (closing its connections) and erases its state.
    public func destroy(name: String) throws {
        try Self.validate(name: name)
        try queue.sync { () throws in
            guard let entry = servers.removeValue(forKey: name) else { throw ManagementError("no instance '\(name)'") }
            HostMetrics.shared.setInstances(servers.count)
            entry.server.shutdown()
            do {
                try FileManager.default.removeItem(atPath: instanceDirectory(name))
            } catch {
                throw ManagementError("cannot erase \(instanceDirectory(name)): \(error)")
            }
            log.info("destroyed instance \(name)")
        }
    }

    /// Saves the volatile state and releases the engine from memory.
    public func suspend(name: String) throws {
        let server = try lookup(name)
        try server.instance.sync { core in
            do { try core.suspend() } catch { throw ManagementError("cannot suspend '\(name)': \(error)") }
        }
    }

    /// Loads a suspended instance and continues where it was suspended.
    public func resume(name: String) throws {
        let server = try lookup(name)
        try server.instance.sync { core in
            guard core.isSuspended else { throw ManagementError("instance '\(name)' is not suspended") }
            do { try core.powerOn(resumeVolatile: true) } catch { throw ManagementError("cannot resume '\(name)': \(error)") }
        }
    }

    private func lookup(_ name: String) throws -> HostServer {
        try Self.validate(name: name)
        guard let s = queue.sync(execute: { servers[name]?.server }) else { throw ManagementError("no instance '\(name)'") }
        return s
    }

    public func status(name: String) throws -> InstanceStatus {
        try Self.validate(name: name)
        guard let entry = queue.sync(execute: { servers[name] }) else { throw ManagementError("no instance '\(name)'") }
        return entry.server.instance.sync { core in
            let now = DispatchTime.now().uptimeNanoseconds
            return InstanceStatus(
                name: name, state: core.isRunning ? "running" : core.isSuspended ? "suspended" : "stopped",
                controlSocket: controlSocket(name), dataSocket: entry.config.hasDataSocket ? dataSocket(name) : nil,
                mssimPort: entry.config.mssimPort,
                pcrBanks: entry.config.pcrBanks, permanentBytes: core.store.size(.permanent),
                volatileBytes: core.store.size(core.isEvicted ? .evicted : .volatile), commands: core.commandCount,
                errorResponses: core.errorCount, evicted: core.isEvicted, evictions: core.evictionCount,
                idleSeconds: Double(now >= core.lastActivity ? now - core.lastActivity : 0) / 1e9)
        }
    }

    public func list() -> [InstanceStatus] {
        let names = queue.sync { servers.keys.sorted() }
        return names.compactMap { try? status(name: $0) }
    }

    /// QEMU's arguments for attaching to the instance's control socket.
    public func qemuArguments(name: String, device: String) throws -> [String] {
        _ = try lookup(name)
        guard ["tpm-tis", "tpm-crb", "tpm-tis-device", "tpm-spapr"].contains(device) else {
            throw ManagementError("unknown TPM device '\(device)' (tpm-tis, tpm-crb)")
        }
        return [
            "-chardev", "socket,id=chrtpm,path=\(controlSocket(name))",
            "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
            "-device", "\(device),tpmdev=tpm0",
        ]
    }

    // MARK: idle eviction

    private var evictionTimer: (any DispatchSourceTimer)?

    /// Evicts instances idle (no TPM command, no control request) for `seconds`: each one's
    /// volatile state is written and its engine dropped; the next command loads it back
    /// (`InstanceCore.evictIfIdle`). Checked every `seconds / 4` (at least every 100 ms, at
    /// most every 10 s). Connections stay open: a client attached to an evicted instance
    /// (QEMU's control and data sockets) sees nothing but one slower command.
    public func enableIdleEviction(seconds: Double) {
        guard seconds > 0 else { return }
        let idle = UInt64(seconds * 1e9)
        let interval = min(max(seconds / 4, 0.1), 10)
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(Int(interval * 100)))
        timer.setEventHandler { [weak self] in self?.evictIdle(idleNanoseconds: idle) }
        timer.resume()
        queue.sync { evictionTimer = timer }
        log.info("instances idle for \(seconds) s are evicted from memory", event: "idle-evict")
    }

    /// One pass: every instance checks its idleness on its own queue.
    func evictIdle(idleNanoseconds: UInt64) {
        let instances = queue.sync { servers.values.map(\.server.instance) }
        for instance in instances { instance.enqueue { _ = $0.evictIfIdle(idleNanoseconds: idleNanoseconds) } }
    }

    /// Stops every instance (their state is saved) and releases the directory.
    public func shutdown() {
        queue.sync { evictionTimer?.cancel() }
        queue.sync {
            for (_, entry) in servers { entry.server.shutdown() }
            servers.removeAll()
        }
        try? group.syncShutdownGracefully()
        if lockFD >= 0 {
            close(lockFD)
            lockFD = -1
        }
    }
}

/// Host-side provisioning of a new instance, done with TPM commands as swtpm_setup does.
public enum Provisioning {
    /// Manufactures the TPM (fresh seeds), allocates the PCR banks and leaves the instance
    /// powered off with its state on disk.
    /// With `flush: false` the state stays in memory for more provisioning (still batching);
    /// the caller flushes once at the end.
    public static func manufacture(_ core: InstanceCore, banks: [TPMAlgID], flush: Bool = true) throws {
        // One durable write at the end (flush) instead of one per command.
        core.batchingProvisioning = true
        try core.powerOn(resumeVolatile: false)
        defer { core.powerOff() }
        try check(core.startup(.clear), "TPM2_Startup")
        // TPM2_PCR_Allocate(TPM_RH_PLATFORM, every implemented bank: all PCRs or none).
        var params = TPMWriter(capacity: 64)
        let implemented: [TPMAlgID] = [.sha1, .sha256, .sha384, .sha512]
        params.u32(UInt32(implemented.count))
        for alg in implemented {
            params.u16(alg.rawValue)
            params.u8(3)
            let on: UInt8 = banks.contains(alg) ? 0xFF : 0
            params.bytes([on, on, on])
        }
        _ = try EKProvisioning.run(core, .pcrAllocate, handles: [TPMHandle.platform.rawValue], auths: 1, params: params.bytes)
        try check(rc(core.execute(shutdownClear)), "TPM2_Shutdown")
        if flush { try core.flush() }
    }

    /// TPM2_Shutdown(TPM_SU_CLEAR).
    public static let shutdownClear: [UInt8] = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x45, 0, 0]

    public static func rc(_ response: [UInt8]) -> UInt32 {
        guard response.count >= 10 else { return TPMRC.failure.rawValue }
        return response[6..<10].reduce(0) { $0 << 8 | UInt32($1) }
    }

    public static func check(_ rc: UInt32, _ what: String) throws {
        guard rc == 0 else { throw ManagementError("\(what) failed with 0x\(String(rc, radix: 16))") }
    }
}
