import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The verifier's audit log: append-only, hash-chained, signed, durable before reported.
///
/// `DIR/audit.log` holds one record per line:
///
///     <body JSON> SP <chain hash, hex> SP <ECDSA P-256 signature of the chain hash, hex DER> LF
///
/// where chain(n) = SHA-256(chain(n-1) || body bytes) and chain(0) is 32 zero bytes; the body
/// is compact JSON with "id" (1, 2, ...), "time", "kind" and the record's fields, and never
/// contains a space-free line break (JSON escapes them). The signing key is
/// `DIR/audit-key.pem` (0600), its public half `DIR/audit-key.pub.pem` for anyone to check
/// the log. `verify` names the first record whose body, link or signature is wrong. Records
/// are fsynced before `append` returns. An in-memory index (id -> offset) built at open serves
/// `show` and queries. Truncating the tail is not detectable from the file alone: the daemon
/// also logs the head (id and chain hash) at every start, and operators can anchor it
/// elsewhere.
final class AuditLog: @unchecked Sendable {
    struct Record: Sendable {
        let id: Int
        let body: [String: any Sendable]
        let line: String
    }

    struct VerifyFailure: Error, CustomStringConvertible {
        let id: Int
        let reason: String
        var description: String { "record \(id): \(reason)" }
    }

    let path: String
    private let key: P256.Signing.PrivateKey
    let publicKey: P256.Signing.PublicKey
    private let lock = NSLock()
    private var fd: Int32
    private var lastHash: [UInt8]
    private var offsets: [UInt64] = []  // offsets[id - 1]
    private var size: UInt64
    /// Set when a write or an fsync failed: no record is appended after it (under `lock`).
    private var failure: String?
    /// Group commit (`append`): how much of the file is known durable, whether an fsync is
    /// running, and the reason an fsync failed; under `sync`.
    private let sync = NSCondition()
    private var durable: UInt64 = 0
    private var syncing = false
    private var syncFailure: String?

    init(directory: String) throws {
        path = directory + "/audit.log"
        let keyPath = directory + "/audit-key.pem"
        if FileManager.default.fileExists(atPath: keyPath) {
            key = try P256.Signing.PrivateKey(pemRepresentation: String(contentsOfFile: keyPath, encoding: .utf8))
        } else {
            key = P256.Signing.PrivateKey()
            try writeFileDurably(keyPath, Array(key.pemRepresentation.utf8), mode: 0o600)
            try writeFileDurably(directory + "/audit-key.pub.pem", Array(key.publicKey.pemRepresentation.utf8), mode: 0o644)
        }
        publicKey = key.publicKey
        fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CLIError("cannot open \(path): \(String(cString: strerror(errno)))") }
        lastHash = [UInt8](repeating: 0, count: 32)
        size = 0
        // Build the index; a log that does not verify still opens (audit verify reports it), and
        // new records chain to the last line's stored hash.
        let data = try readFile(path, max: Int.max)
        var start = 0
        for (i, b) in data.enumerated() where b == 0x0A {
            offsets.append(UInt64(start))
            let line = String(decoding: data[start..<i], as: UTF8.self)
            if let h = line.split(separator: " ").dropLast().last, let bytes = hexBytes(String(h)), bytes.count == 32 { lastHash = bytes }
            start = i + 1
        }
        size = UInt64(start)
        durable = size
        if start != data.count {
            // A torn last line (crash mid-write): cut it so the log stays line-structured.
            guard ftruncate(fd, off_t(start)) == 0 else { throw CLIError("cannot truncate a torn record in \(path)") }
        }
    }

    deinit { close(fd) }

    var count: Int { lock.withLock { offsets.count } }

    /// Appends a record and returns its id once it is on disk.
    ///
    /// Group commit: the record is written (chained, signed) under `lock`, then `append` waits
    /// until an fsync that began after the write has finished. One thread at a time runs the
    /// fsync, for every record written before it began; rounds finishing together share it
    /// instead of taking turns at one fsync each under the lock. A record is never reported
    /// before it is durable, and since the file is only appended to, a durable record has every
    /// earlier record durable before it.
    @discardableResult
    func append(kind: String, _ fields: [String: any Sendable]) throws -> Int {
        let (id, end): (Int, UInt64) = try lock.withLock {
            if let failure { throw CLIError(failure) }
            var body = fields
            let id = offsets.count + 1
            body["id"] = id
            body["kind"] = kind
            body["time"] = isoTime(Date())
            let json =
                try AuditJSON.encode(body)
                ?? Array(JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes]))
            let chain = Array(SHA256.hash(data: lastHash + json))
            let sig = try key.signature(for: Data(chain)).derRepresentation
            let line = json + Array(" \(hexOf(chain)) \(hexOf(Array(sig)))\n".utf8)
            do {
                try writeAll(fd, line)
            } catch {
                // Part of the line may be in the file: no record may follow it (reopening the
                // log cuts a torn last line).
                failure = "write \(path): \(error)"
                throw error
            }
            offsets.append(size)
            size += UInt64(line.count)
            lastHash = chain
            return (id, size)
        }
        try waitDurable(end)
        return id
    }

    /// Returns once the file's first `end` bytes are on disk (or throws if an fsync failed).
    private func waitDurable(_ end: UInt64) throws {
        sync.lock()
        defer { sync.unlock() }
        while true {
            if let syncFailure { throw CLIError(syncFailure) }
            if durable >= end { return }
            if syncing {
                sync.wait()
                continue
            }
            syncing = true
            // Everything written so far (lock order: sync, then lock; append never takes sync
            // while it holds lock).
            let target = lock.withLock { size }
            sync.unlock()
            let ok = fsync(fd) == 0
            let reason = ok ? "" : "fsync \(path): \(String(cString: strerror(errno)))"
            sync.lock()
            syncing = false
            if ok {
                durable = max(durable, target)
            } else {
                syncFailure = reason
                lock.withLock { failure = reason }
            }
            sync.broadcast()
        }
    }

    /// Every record (parsed bodies), oldest first.
    func records() throws -> [Record] {
        let data = lock.withLock { (try? readFile(path, max: Int.max)) ?? [] }
        var out = [Record]()
        var start = 0
        for (i, b) in data.enumerated() where b == 0x0A {
            let line = String(decoding: data[start..<i], as: UTF8.self)
            start = i + 1
            guard let (body, _, _) = AuditLog.split(line),
                let obj = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            else { continue }
            out.append(Record(id: obj["id"] as? Int ?? 0, body: sendable(obj), line: line))
        }
        return out
    }

    func record(id: Int) throws -> Record? { try records().first { $0.id == id } }

    /// Checks every link and signature; nil when the whole log is intact.
    func verify() throws -> (checked: Int, failure: VerifyFailure?) {
        let data = lock.withLock { (try? readFile(path, max: Int.max)) ?? [] }
        return AuditLog.verify(data, key: publicKey)
    }

    /// Verifies log contents with the verifier's public key (also offline, daemon stopped).
    static func verify(_ data: [UInt8], key k: P256.Signing.PublicKey) -> (checked: Int, failure: VerifyFailure?) {
        var prev = [UInt8](repeating: 0, count: 32)
        var start = 0
        var n = 0
        for (i, b) in data.enumerated() where b == 0x0A {
            n += 1
            let line = String(decoding: data[start..<i], as: UTF8.self)
            start = i + 1
            guard let (body, hashHex, sigHex) = split(line), let hash = hexBytes(hashHex), let sig = hexBytes(sigHex) else {
                return (n - 1, VerifyFailure(id: n, reason: "not a record line"))
            }
            guard let obj = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], obj["id"] as? Int == n else {
                return (n - 1, VerifyFailure(id: n, reason: "body is not record \(n)"))
            }
            guard Array(SHA256.hash(data: prev + Array(body.utf8))) == hash else {
                return (n - 1, VerifyFailure(id: n, reason: "chain hash does not match its body and the previous record (altered)"))
            }
            guard let s = try? P256.Signing.ECDSASignature(derRepresentation: sig), k.isValidSignature(s, for: Data(hash)) else {
                return (n - 1, VerifyFailure(id: n, reason: "signature does not verify with the verifier's key"))
            }
            prev = hash
        }
        if start != data.count { return (n, VerifyFailure(id: n + 1, reason: "torn record at the end")) }
        return (n, nil)
    }

    private static func split(_ line: String) -> (String, String, String)? {
        guard let s2 = line.lastIndex(of: " ") else { return nil }
        let head = line[..<s2]
        guard let s1 = head.lastIndex(of: " ") else { return nil }
        return (String(head[..<s1]), String(head[head.index(after: s1)...]), String(line[line.index(after: s2)...]))
    }
}

/// JSONSerialization values are immutable Foundation objects; rewrap them as Sendable.
private func sendable(_ o: [String: Any]) -> [String: any Sendable] {
    var out = [String: any Sendable]()
    for (k, v) in o {
        switch v {
        case let s as String: out[k] = s
        case let n as Int: out[k] = n
        case let d as [String: Any]: out[k] = sendable(d)
        case let a as [Any]: out[k] = a.map { "\($0)" }
        case is NSNull: out[k] = "null"
        default: out[k] = "\(v)"
        }
    }
    return out
}

/// Lowercase hex digits as UTF-8 (hexOf, AuditJSON's \u00xx escapes).
let hexDigits = Array("0123456789abcdef".utf8)

func hexOf(_ b: [UInt8]) -> String {
    var out = [UInt8](repeating: 0, count: b.count * 2)
    for (i, v) in b.enumerated() {
        out[2 * i] = hexDigits[Int(v >> 4)]
        out[2 * i + 1] = hexDigits[Int(v & 0x0F)]
    }
    return String(decoding: out, as: UTF8.self)
}

func hexBytes(_ s: String) -> [UInt8]? {
    let u = Array(s.utf8)
    guard u.count % 2 == 0 else { return nil }
    var out = [UInt8]()
    var i = 0
    while i < u.count {
        guard let v = UInt8(String(decoding: u[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
        out.append(v)
        i += 2
    }
    return out
}

func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
    var off = 0
    while off < bytes.count {
        let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw CLIError("write: \(String(cString: strerror(errno)))")
        }
        off += n
    }
}

/// Write to a temporary file, fsync, rename over `path`, fsync the directory.
func writeFileDurably(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600) throws {
    let tmp = path + ".tmp"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { throw CLIError("cannot write \(tmp): \(String(cString: strerror(errno)))") }
    do {
        try writeAll(fd, bytes)
        guard fsync(fd) == 0 else { throw CLIError("fsync \(tmp)") }
    } catch {
        close(fd)
        throw error
    }
    close(fd)
    guard rename(tmp, path) == 0 else { throw CLIError("rename \(tmp): \(String(cString: strerror(errno)))") }
    let dir = (path as NSString).deletingLastPathComponent
    let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dfd >= 0 {
        _ = fsync(dfd)
        close(dfd)
    }
}
