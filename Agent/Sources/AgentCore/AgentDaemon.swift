import Foundation
import Logging
import TPMClient

#if canImport(Glibc)
    import Glibc
#endif

/// `vtpm-agent run`: wires the TPM, the list, the audit source, the measuring pipeline, the
/// control socket and (with `listen`) the evidence service, then waits for SIGTERM or SIGINT.
/// Order matters: the list is reconciled before any event is taken; audit starts before the
/// baseline so no exec falls between them; at exit the rules are removed first, then the queue
/// is drained so every event taken is recorded.
public final class AgentDaemon {
    public let config: AgentConfiguration
    let logger: Logger

    public init(config: AgentConfiguration, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    public func run() throws {
        // Signals are taken synchronously by this thread; every thread started below inherits the mask.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        raiseDescriptorLimit()

        let dir = URL(fileURLWithPath: config.stateDirectory)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tpm = try TPMAccess(tcti: config.tpm)
        logger.info("TPM \(config.tpm)")
        let store = try MeasurementStore(directory: dir, pcr: config.pcr, tpm: tpm, logger: logger)
        let pipeline = MeasurementPipeline(sink: store, scope: config.scope, queueCapacity: config.queueCapacity, logger: logger)
        pipeline.start()
        let audit = AuditNetlink(logger: logger, receiveBuffer: config.auditBuffer)
        try audit.start()
        let reader = AuditReader(audit: audit, pipeline: pipeline, logger: logger)
        reader.start()
        let started = Date()
        let config = self.config
        let auditMode = audit.mode.rawValue
        let control = ControlServer(path: dir.appendingPathComponent(ControlProtocol.socketName).path, logger: logger) { request in
            Self.handle(request, pipeline: pipeline, store: store, auditMode: auditMode, config: config, started: started)
        }
        try control.start()
        var evidence: EvidenceServer?
        if let listen = config.listen {
            let server = EvidenceServer(tpm: tpm, store: store, stateDirectory: dir, akAlgorithm: config.akAlgorithm, logger: logger)
            server.prepareKeys()
            try server.start(listen: listen)
            evidence = server
        }
        pipeline.baseline()
        logger.info("vtpm-agent running: PCR \(config.pcr), scope \(config.scope), state \(config.stateDirectory)")

        var sig: Int32 = 0
        sigwait(&signals, &sig)
        logger.info("signal \(sig): stopping")
        control.stop()
        evidence?.stop()
        reader.stop()
        audit.stop()
        pipeline.stopAndDrain()
        logger.info("stopped with \(store.entryCount) entries")
    }

    private func raiseDescriptorLimit() {
        var rl = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl) == 0, rl.rlim_cur < rl.rlim_max {
            rl.rlim_cur = rl.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl)
        }
    }

    static func handle(
        _ request: [String: Any], pipeline: MeasurementPipeline, store: MeasurementStore, auditMode: String,
        config: AgentConfiguration, started: Date
    ) -> [String: Any] {
        switch request["op"] as? String {
        case "status":
            var status: [String: Any] = [
                "pid": Int(getpid()), "tpm": config.tpm.description, "pcr": config.pcr, "scope": config.scope.description,
                "audit": auditMode, "entries": store.entryCount, "consistent": store.consistent,
                "banks": store.banks.map { String(format: "0x%04x", $0.rawValue) }, "reset_count": Int(store.resetCount),
                "queue": pipeline.queue.count, "queue_high_water": pipeline.queue.stats.highWater,
                "queue_waits": pipeline.queue.stats.waits, "cached_versions": pipeline.cache.count,
                "uptime_seconds": Int(Date().timeIntervalSince(started)),
            ]
            for (k, v) in pipeline.counters.snapshot() { status[k] = v }
            status["cache_hits"] = pipeline.cache.hitCount
            return ["ok": true, "status": status]
        case "measure":
            guard let paths = request["paths"] as? [String], !paths.isEmpty, paths.count <= ControlProtocol.maxPaths else {
                return ["ok": false, "error": "measure needs 1 to \(ControlProtocol.maxPaths) paths"]
            }
            var results: [[String: Any]] = []
            for path in paths {
                let absolute = path.hasPrefix("/") ? path : "/" + path
                guard let f = OpenedFile(openPath: absolute, entryPath: Array(absolute.utf8), via: "path") else {
                    results.append(["path": path, "error": "cannot open a regular file: \(String(cString: strerror(errno)))"])
                    continue
                }
                let done = DispatchSemaphore(value: 0)
                let box = ResultBox()
                pipeline.submit(f, reason: "measure request") { r in
                    box.set(r)
                    done.signal()
                }
                done.wait()
                switch box.get() {
                case .success(let d) where d.isEmpty: results.append(["path": path, "measured_before": true])
                case .success(let d): results.append(["path": path, "sha256": d.map { String(format: "%02x", $0) }.joined()])
                case .failure(let e): results.append(["path": path, "error": "\(e)"])
                case nil: results.append(["path": path, "error": "no result"])
                }
            }
            return ["ok": true, "results": results]
        default:
            return ["ok": false, "error": "unknown op (status, measure)"]
        }
    }
}

/// `@unchecked Sendable`: written once before the semaphore is signalled, read after.
final class ResultBox: @unchecked Sendable {
    private var value: Result<[UInt8], Error>?
    private let lock = NSLock()
    func set(_ v: Result<[UInt8], Error>) {
        lock.lock()
        value = v
        lock.unlock()
    }
    func get() -> Result<[UInt8], Error>? {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}
