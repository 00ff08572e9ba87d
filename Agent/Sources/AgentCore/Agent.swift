import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// What the measuring thread does next.
public enum MeasureWork: @unchecked Sendable {
    /// Measure an opened file; `done` (explicit requests) gets the digest or the error.
    case file(OpenedFile, reason: String, done: (@Sendable (Result<[UInt8], Error>) -> Void)?)
    /// Record a violation: events were lost.
    case violation(String)
}

/// Counters shown by `vtpm-agent status`. `@unchecked Sendable`: guarded by `lock`.
public final class AgentCounters: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: Int] = [:]

    public init() {}

    public func add(_ key: String, _ n: Int = 1) {
        lock.lock()
        values[key, default: 0] += n
        lock.unlock()
    }

    public func snapshot() -> [String: Int] {
        lock.lock()
        defer { lock.unlock() }
        return values
    }
}

/// The measuring pipeline: audit reader -> bounded queue -> measuring thread -> sink.
public final class MeasurementPipeline: @unchecked Sendable {
    public let queue: BoundedQueue<MeasureWork>
    public let cache: MeasuredOnceCache
    public let counters = AgentCounters()
    public let scope: Scope
    let logger: Logger
    let sink: MeasurementSink
    let resolver = ExecResolver()
    /// PIDs seen in scope (touched by the audit thread only).
    private var knownInScope = BoundedPIDSet(capacity: 65536)
    private var measuringThread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    public init(sink: MeasurementSink, scope: Scope, queueCapacity: Int, logger: Logger) {
        self.sink = sink
        self.scope = scope
        self.logger = logger
        queue = BoundedQueue(capacity: queueCapacity)
        cache = MeasuredOnceCache()
    }

    /// Starts the measuring thread.
    public func start() {
        let t = Thread { [self] in
            while let work = queue.take(timeout: 3600 * 24) {
                handle(work)
            }
            finished.signal()
        }
        t.name = "measure"
        t.start()
        measuringThread = t
    }

    /// Stops taking work once the queue is drained.
    public func stopAndDrain() {
        queue.close()
        finished.wait()
    }

    /// An exec event from the audit reader: scope check, open the files, skip versions already
    /// measured, queue the rest.
    public func submit(_ event: ExecEvent) {
        counters.add("exec_events")
        if scope != .all {
            // The process, else its parent; when both are gone, whether the parent was seen in
            // scope before. Unresolvable processes are not measured by a scoped agent (counted).
            let inScope =
                scope.contains(pid: event.pid) ?? scope.contains(pid: event.ppid) ?? knownInScope.contains(event.ppid)
            guard inScope else {
                counters.add("out_of_scope")
                return
            }
            knownInScope.insert(event.pid)
        }
        for file in resolver.open(event, logger: logger) {
            submit(file, reason: "exec \(event.serial) pid \(event.pid)")
        }
    }

    /// Queues a file unless its version was measured before.
    public func submit(_ file: OpenedFile, reason: String, done: (@Sendable (Result<[UInt8], Error>) -> Void)? = nil) {
        guard cache.insert(file.version) else {
            counters.add("cache_hits")
            done?(.success([]))
            return
        }
        queue.put(.file(file, reason: reason, done: done))
    }

    public func submitViolation(_ what: String) {
        queue.put(.violation(what))
    }

    /// Measures every running process's executable (the start-up baseline).
    public func baseline(proc: String = "/proc") {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: proc)) ?? []).compactMap { Int32($0) }.sorted()
        var n = 0
        for pid in pids where pid != getpid() {
            if scope != .all, scope.contains(pid: pid, proc: proc) != true { continue }
            guard let name = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(proc)/\(pid)/exe") else { continue }
            let entryName = Array(name.utf8)
            guard let f = OpenedFile(openPath: "\(proc)/\(pid)/exe", entryPath: entryName, via: "/proc/\(pid)/exe") else { continue }
            submit(f, reason: "baseline pid \(pid)")
            n += 1
        }
        logger.info("baseline: \(n) running processes")
    }

    private func handle(_ work: MeasureWork) {
        switch work {
        case .violation(let what):
            do {
                let i = try sink.recordViolation(what)
                counters.add("violations")
                logger.warning("violation entry \(i): \(what)")
            } catch {
                logger.error("cannot record violation (\(what)): \(error)")
            }
        case .file(let file, let reason, let done):
            let name = String(decoding: file.path, as: UTF8.self)
            do {
                let digest = try file.sha256()
                let i = try sink.record(path: file.path, digest: digest)
                counters.add("measured")
                logger.debug("entry \(i): \(name) via \(file.via) (\(reason))")
                done?(.success(digest))
            } catch {
                cache.remove(file.version)
                counters.add("errors")
                logger.error("cannot measure \(name) (\(reason)): \(error)")
                done?(.failure(error))
            }
        }
    }
}

/// The audit reader thread: netlink records -> assembled exec events -> pipeline; socket
/// overflows and the kernel's lost counter -> violations.
public final class AuditReader: @unchecked Sendable {
    let audit: AuditNetlink
    let pipeline: MeasurementPipeline
    let logger: Logger
    private var stopping = false
    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)

    public init(audit: AuditNetlink, pipeline: MeasurementPipeline, logger: Logger) {
        self.audit = audit
        self.pipeline = pipeline
        self.logger = logger
    }

    public func start() {
        let t = Thread { [self] in
            run()
            done.signal()
        }
        t.name = "audit"
        t.start()
    }

    public func stop() {
        lock.lock()
        stopping = true
        lock.unlock()
        done.wait()
    }

    private var isStopping: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping
    }

    private func run() {
        var assembler = ExecEventAssembler()
        var lastLost = audit.lostCounter() ?? 0
        var lastCheck = Date()
        var idleSince = Date()
        while !isStopping {
            let received: AuditNetlink.Received
            do {
                received = try audit.receive()
            } catch {
                logger.error("\(error)")
                usleep(100_000)
                continue
            }
            switch received {
            case .overflow:
                pipeline.counters.add("socket_overflows")
                pipeline.submitViolation("audit-socket-overflow")
            case .idle:
                // Events whose EOE did not come within a receive time-out are complete.
                deliver(assembler.flush())
            case .messages(let messages):
                for (type, payload) in messages {
                    guard type >= 1300, type < 1400 else { continue }
                    do {
                        let record = try AuditRecord(type: type, text: payload)
                        deliver(assembler.add(record))
                    } catch {
                        pipeline.counters.add("malformed_records")
                        logger.warning("skipping malformed audit record (type \(type)): \(error)")
                    }
                }
                if Date().timeIntervalSince(idleSince) > 1 {
                    deliver(assembler.flush(keep: 64))
                    idleSince = Date()
                }
            }
            if Date().timeIntervalSince(lastCheck) > 1 {
                lastCheck = Date()
                if let lost = audit.lostCounter() {
                    if lost > lastLost {
                        pipeline.counters.add("kernel_lost", Int(lost - lastLost))
                        pipeline.submitViolation("audit-lost-\(lost - lastLost)")
                    }
                    lastLost = lost
                }
            }
        }
        deliver(assembler.flush())
    }

    private func deliver(_ results: [Result<ExecEvent, ExecAssemblyError>]) {
        for r in results {
            switch r {
            case .success(let e): pipeline.submit(e)
            case .failure(let err):
                pipeline.counters.add("malformed_events")
                logger.warning("skipping exec event: \(err)")
            }
        }
    }
}

/// A set of PIDs that forgets its oldest members past `capacity`.
struct BoundedPIDSet {
    private var set = Set<Int32>()
    private var order: [Int32] = []
    private var head = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func contains(_ pid: Int32) -> Bool { set.contains(pid) }

    mutating func insert(_ pid: Int32) {
        guard set.insert(pid).inserted else { return }
        order.append(pid)
        if set.count > capacity {
            set.remove(order[head])
            head += 1
            if head > capacity {
                order.removeFirst(head)
                head = 0
            }
        }
    }
}
