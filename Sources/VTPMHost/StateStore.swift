#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a state directory could not be used.
public enum StateStoreError: Error, Equatable, CustomStringConvertible {
    /// Another process holds the directory's lock: two live copies of one TPM must never exist.
    case locked(String)
    /// A system call failed: what was being done, on which path, and errno.
    case system(String, String, Int32)
    /// A stored blob is larger than any state this host writes.
    case tooLarge(String, Int)
    /// The blob is encrypted and no key was given, or a key was given and the blob is not
    /// encrypted (refused: it could be a downgrade), or it does not decrypt with the key.
    case encryption(String, String)

    public var description: String {
        switch self {
        case .locked(let dir): return "state directory \(dir) is in use by another process"
        case .system(let what, let path, let err): return "\(what) \(path): \(String(cString: strerror(err)))"
        case .tooLarge(let path, let size): return "\(path) is \(size) bytes, more than \(StateStore.maxBlobSize)"
        case .encryption(let path, let why): return "\(path): \(why)"
        }
    }
}

/// One instance's state on disk: a directory holding the permanent blob and, while the
/// instance is suspended, the volatile blob.
///
/// Writes are atomic and durable: the new content goes to a temporary file that is fsynced
/// and then renamed over the old one, and the directory is fsynced so the rename itself
/// survives a crash. A reader therefore sees either the old or the new blob, never a torn
/// one. An exclusive lock on `.lock` keeps a second process from running the same TPM.
///
/// Not thread-safe: it belongs to one `Instance` and is used on that instance's queue.
public final class StateStore {
    /// The blobs an instance keeps.
    public enum Blob: String, CaseIterable, Sendable {
        case permanent = "vtpm-permanent"
        /// Saved by the platform (STORE_VOLATILE, SET_STATEBLOB, suspend): resumed at INIT.
        case volatile = "vtpm-volatile"
        /// The volatile state of a running instance whose engine was evicted from memory for
        /// idleness: loaded back at its next command, lost (like RAM) at a power cycle.
        case evicted = "vtpm-evicted"
    }

    /// Upper bound on a blob read back from disk (our states are a few KiB; NV indices
    /// and objects bring them to at most a few hundred KiB).
    public static let maxBlobSize = 16 << 20

    public let directory: String
    /// Mode bits of the files written (swtpm's default is 0640).
    public let fileMode: mode_t
    private var lockFD: Int32 = -1

    /// Points in `write` where tests simulate a crash: the process dies there, leaving
    /// whatever is on disk at that moment.
    enum WriteStep: Equatable { case tempWritten, tempSynced, renamed }
    /// Test hook: returning true stops `write` at that step as if the process had died.
    var crashAt: ((WriteStep) -> Bool)?

    /// How a store keeps other processes off its directory.
    public enum Locking: Sendable {
        /// Holds an exclusive flock on DIR/.lock while open (one descriptor), and refuses a
        /// directory that a running `vtpm serve` daemon owns (DIR = STATE/instances/NAME with
        /// STATE/.lock held).
        case exclusive
        /// The caller (the `vtpm serve` daemon) holds a lock on an enclosing directory: the
        /// store checks that no other process holds DIR/.lock (a `vtpm swtpm` started on it
        /// first) and then lets go of it, so an instance costs no descriptor for its lock. A
        /// process that comes later takes DIR/.lock and then finds the daemon's lock held
        /// (`exclusive`): whichever order the two start in, one of them sees the other.
        case heldByCaller
    }

    public let locking: Locking
    /// With `.heldByCaller`: the check that no other process holds DIR/.lock has passed.
    private var callerLockChecked = false

    /// Opens (and, with `create`, makes) the directory and, unless `lock` is false, takes its
    /// lock (as `locking` says) and removes the temporary files a crash may have left. Without
    /// the lock (swtpm `--migration incoming`: the source still holds it on shared storage) the
    /// state may be read, and `lock(retries:)` takes it later.
    public init(
        directory: String, fileMode: mode_t = 0o640, create: Bool = false, lock: Bool = true,
        locking: Locking = .exclusive
    ) throws {
        self.directory = directory
        self.fileMode = fileMode
        self.locking = locking
        if create && mkdir(directory, 0o750) != 0 && errno != EEXIST {
            throw StateStoreError.system("cannot create", directory, errno)
        }
        if lock { try self.lock(retries: 0) }
    }

    deinit { release() }

    /// The directory's lock is held by this store (or, `.heldByCaller`, by the daemon and checked).
    public var isLocked: Bool { lockFD >= 0 || callerLockChecked }

    /// How long one retry of `lock(retries:)` waits (swtpm: 10 ms).
    public static let lockRetryMilliseconds: UInt32 = 10

    /// Takes the directory's lock, trying again `retries` times `lockRetryMilliseconds` apart
    /// while another process holds it (swtpm CMD_LOCK_STORAGE). Held already: nothing to do.
    public func lock(retries: UInt32) throws {
        guard !isLocked else { return }
        let lockPath = directory + "/.lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, fileMode)
        guard fd >= 0 else { throw StateStoreError.system("cannot open lock file", lockPath, errno) }
        var left = retries
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            if e == EINTR { continue }
            guard e == EWOULDBLOCK, left > 0 else {
                close(fd)
                if e == EWOULDBLOCK { throw StateStoreError.locked(directory) }
                throw StateStoreError.system("cannot lock", lockPath, e)
            }
            left -= 1
            usleep(Self.lockRetryMilliseconds * 1000)
        }
        switch locking {
        case .exclusive:
            lockFD = fd
            if Self.daemonOwns(directory) {
                release()
                throw StateStoreError.locked(directory)
            }
        case .heldByCaller:
            close(fd)
            callerLockChecked = true
        }
        removeStaleTemporaries()
    }

    /// Whether `directory` is STATE/instances/NAME of a running daemon (STATE/.lock is held).
    static func daemonOwns(_ directory: String) -> Bool {
        var parts = directory.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[parts.count - 2] == "instances" else { return false }
        parts.removeLast(2)
        let lockPath = (directory.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/") + (parts.isEmpty ? "" : "/") + ".lock"
        let fd = open(lockPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK
    }

    /// Gives up the lock (another process may then open the directory).
    public func release() {
        callerLockChecked = false
        if lockFD >= 0 {
            close(lockFD)
            lockFD = -1
        }
    }

    func path(_ blob: Blob) -> String { directory + "/" + blob.rawValue }

    /// The blob's bytes, or nil when it does not exist.
    /// With a cipher, the blobs are encrypted at rest (StateCipher); without, they are plain.
    public var cipher: StateCipher?

    /// The blob's bytes (decrypted when the store has a cipher), or nil when it does not exist.
    public func read(_ blob: Blob) throws -> [UInt8]? {
        guard let stored = try readRaw(blob) else { return nil }
        let encrypted = StateCipher.isEncrypted(stored)
        guard let cipher else {
            if encrypted {
                throw StateStoreError.encryption(path(blob), "the state is encrypted: give its key (--key / --state-key)")
            }
            return stored
        }
        guard encrypted || stored.isEmpty else {
            throw StateStoreError.encryption(path(blob), "a key is configured but this state is not encrypted")
        }
        do {
            return stored.isEmpty ? stored : try cipher.open(stored, role: blob.rawValue)
        } catch {
            throw StateStoreError.encryption(path(blob), "does not decrypt with the key given (wrong key or passphrase, or damaged)")
        }
    }

    /// The blob's bytes as stored.
    func readRaw(_ blob: Blob) throws -> [UInt8]? {
        let p = path(blob)
        let fd = open(p, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw StateStoreError.system("cannot open", p, errno)
        }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { sysRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StateStoreError.system("cannot read", p, errno)
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            guard out.count <= StateStore.maxBlobSize else { throw StateStoreError.tooLarge(p, out.count) }
        }
        return out
    }

    /// Replaces the blob atomically and durably (temp file, fsync, rename, fsync directory).
    public func write(_ blob: Blob, _ bytes: [UInt8]) throws {
        try write(file: blob.rawValue, try cipher.map { try $0.seal(bytes, role: blob.rawValue) } ?? bytes)
    }

    /// The size of the blob on disk (0 when absent).
    public func size(_ blob: Blob) -> Int {
        var st = stat()
        return stat(path(blob), &st) == 0 ? Int(st.st_size) : 0
    }

    /// Replaces the file `name` of the directory (a blob, or the host's own metadata such
    /// as a daemon's instance.json) atomically and durably.
    public func write(file name: String, _ bytes: [UInt8]) throws {
        let target = directory + "/" + name
        let temp = directory + "/.\(name).tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, fileMode)
        guard fd >= 0 else { throw StateStoreError.system("cannot create", temp, errno) }
        var ok = false
        defer {
            if !ok {
                close(fd)
                unlink(temp)
            }
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { sysWrite(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StateStoreError.system("cannot write", temp, errno)
            }
            offset += n
        }
        if crashAt?(.tempWritten) == true {
            ok = true
            close(fd)
            return
        }
        guard fsync(fd) == 0 else { throw StateStoreError.system("cannot sync", temp, errno) }
        if crashAt?(.tempSynced) == true {
            ok = true
            close(fd)
            return
        }
        ok = true
        guard close(fd) == 0 else {
            unlink(temp)
            throw StateStoreError.system("cannot close", temp, errno)
        }
        guard rename(temp, target) == 0 else {
            let e = errno
            unlink(temp)
            throw StateStoreError.system("cannot rename to", target, e)
        }
        if crashAt?(.renamed) == true { return }
        try syncDirectory()
    }

    /// Removes the blob (durably); removing an absent blob is not an error.
    public func delete(_ blob: Blob) throws {
        let p = path(blob)
        if unlink(p) != 0 {
            if errno == ENOENT { return }
            throw StateStoreError.system("cannot remove", p, errno)
        }
        try syncDirectory()
    }

    private func syncDirectory() throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StateStoreError.system("cannot open", directory, errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw StateStoreError.system("cannot sync", directory, errno) }
    }

    /// A temporary file is only ever complete once renamed, so one still present at open is
    /// the remains of an interrupted write and carries no state.
    private func removeStaleTemporaries() {
        for blob in Blob.allCases { unlink(directory + "/.\(blob.rawValue).tmp") }
    }
}

// `read`/`write` are shadowed by StateStore's methods inside the class.
@inline(__always) private func sysRead(_ fd: Int32, _ buf: UnsafeMutableRawPointer?, _ n: Int) -> Int { read(fd, buf, n) }
@inline(__always) private func sysWrite(_ fd: Int32, _ buf: UnsafeRawPointer?, _ n: Int) -> Int { write(fd, buf, n) }
