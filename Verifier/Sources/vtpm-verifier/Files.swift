import Crypto
import Foundation

/// A whole file, refusing one larger than `max` bytes.
func readFile(_ path: String, max: Int) throws -> [UInt8] {
    let h = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    defer { try? h.close() }
    let size = try h.seekToEnd()
    guard size <= UInt64(max) else { throw CLIError("\(path): \(size) bytes is more than \(max)") }
    try h.seek(toOffset: 0)
    return Array(try h.readToEnd() ?? Data())
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
