import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A file's content version: device, inode, change time and size. A write changes ctime (and
/// usually size), so a modified file is a new version and is measured again (DESIGN.md §3).
public struct FileVersion: Hashable, Sendable {
    public var device: UInt64
    public var inode: UInt64
    public var ctimeSeconds: Int64
    public var ctimeNanoseconds: Int64
    public var size: Int64
}

/// An open file to measure, pinned by its descriptor as soon as the event arrives, so what is
/// hashed is what was executed even if the path changes afterwards.
public final class OpenedFile: @unchecked Sendable {
    public let fd: Int32
    public let version: FileVersion
    /// The name that goes into the list entry.
    public let path: [UInt8]
    /// How the file was reached, for the log: "/proc/PID/exe" or "path".
    public let via: String

    /// Opens `openPath` (O_RDONLY, no controlling terminal, close-on-exec) and fstats it;
    /// nil (with errno) when that fails or it is not a regular file.
    public init?(openPath: String, entryPath: [UInt8], via: String, canonicalName: Bool = false) {
        let fd = open(openPath, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            _ = close(fd)
            return nil
        }
        self.fd = fd
        version = FileVersion(
            device: UInt64(st.st_dev), inode: UInt64(st.st_ino), ctimeSeconds: Int64(st.st_ctim.tv_sec),
            ctimeNanoseconds: Int64(st.st_ctim.tv_nsec), size: Int64(st.st_size))
        if canonicalName, let name = Self.descriptorPath(fd) {
            path = name
        } else {
            path = entryPath
        }
        self.via = via
    }

    deinit { _ = close(fd) }

    /// readlink(/proc/self/fd/FD): the path the kernel resolved for the open file.
    static func descriptorPath(_ fd: Int32) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { raw in
            readlink("/proc/self/fd/\(fd)", raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
        }
        guard n > 0, n < buf.count, buf[0] == UInt8(ascii: "/") else { return nil }
        return Array(buf[0..<n])
    }

    /// SHA-256 of the whole content, read with pread from offset 0 in 1 MiB chunks.
    public func sha256() throws -> [UInt8] {
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: off_t = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw MeasureError.read(String(decoding: path, as: UTF8.self), errnoText(errno))
            }
            if n == 0 { break }
            hasher.update(data: buffer[0..<n])
            offset += off_t(n)
        }
        return Array(hasher.finalize())
    }
}

public enum MeasureError: Error, Hashable, Sendable, CustomStringConvertible {
    case read(String, String)
    public var description: String {
        switch self {
        case .read(let p, let e): return "cannot read \(p): \(e)"
        }
    }
}

/// The set of content versions already measured (or being measured), shared by the audit
/// reader, the baseline and explicit requests. Bounded: past `capacity` versions it forgets
/// everything and starts over, which only costs duplicate entries, never a missed one.
///
/// `@unchecked Sendable`: guarded by `lock`.
public final class MeasuredOnceCache: @unchecked Sendable {
    private var seen = Set<FileVersion>()
    private let lock = NSLock()
    public let capacity: Int
    public private(set) var hits = 0

    public init(capacity: Int = 1 << 20) { self.capacity = capacity }

    /// True if `v` is new (and now recorded), false if it was measured before.
    public func insert(_ v: FileVersion) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if seen.contains(v) {
            hits += 1
            return false
        }
        if seen.count >= capacity { seen.removeAll(keepingCapacity: true) }
        seen.insert(v)
        return true
    }

    /// Forgets `v` (its measurement failed, so a later exec measures it again).
    public func remove(_ v: FileVersion) {
        lock.lock()
        seen.remove(v)
        lock.unlock()
    }

    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return seen.count
    }

    public var hitCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return hits
    }
}
