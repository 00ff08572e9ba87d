import Crypto
import Foundation

/// A whole file, refusing one larger than `max` bytes.
func readFile(_ path: String, max: Int) throws -> [UInt8] {
    let h = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    defer { try? h.close() }
    let size = try h.seekToEnd()
    guard size <= UInt64(max) else { throw CLIError("\(path): \(size) bytes is more than \(max)") }
    try h.seek(toOffset: 0)
    // Straight into the array with read(2): no Data, no second copy (a 100,000-entry list is ~15 MB).
    let fd = h.fileDescriptor
    let want = Int(size)
    var failure: Int32 = 0
    let bytes = [UInt8](unsafeUninitializedCapacity: want) { buf, count in
        count = 0
        while count < want {
            let n = read(fd, buf.baseAddress! + count, want - count)
            if n < 0, errno == EINTR { continue }
            if n < 0 { failure = errno }
            if n <= 0 { break }
            count += n
        }
    }
    guard failure == 0 else { throw CLIError("\(path): read: \(String(cString: strerror(failure)))") }
    return bytes
}

/// SHA-256 of a file's content, read in 1 MiB pieces.
func sha256File(_ path: String) throws -> [UInt8] {
    let h = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    defer { try? h.close() }
    var hasher = SHA256()
    while let chunk = try h.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
    return Array(hasher.finalize())
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
