import Glibc

/// A property a fuzz input broke: print it and abort, so libFuzzer records the input as a
/// crash (it handles SIGABRT) and scripts/fuzz fails.
public func fuzzFailure(_ message: String, input: [UInt8] = []) -> Never {
    var text = "FUZZ CHECK FAILED: \(message)\n"
    if !input.isEmpty { text += "  input: \(hex(input.prefix(256)))\(input.count > 256 ? "..." : "")\n" }
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count) }
    abort()
}

public func fuzzCheck(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fuzzFailure(message()) }
}

public func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

/// The bytes libFuzzer passes to LLVMFuzzerTestOneInput.
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// Seed generation: when FUZZ_WRITE_SEEDS names a directory, a target that makes its own
/// seeds (from states and messages it builds) writes them there and the process exits.
public func writeSeedsIfAsked(_ seeds: @autoclosure () -> [(name: String, bytes: [UInt8])]) {
    guard let dir = getenv("FUZZ_WRITE_SEEDS").map({ String(cString: $0) }) else { return }
    for seed in seeds() {
        let path = dir + "/" + seed.name
        guard let f = fopen(path, "wb") else { fuzzFailure("cannot write \(path)") }
        _ = seed.bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, f) }
        fclose(f)
    }
    // _exit: libFuzzer's atexit hook would report exit() inside an input as a crash.
    _exit(0)
}

/// A big-endian reader over fuzz input that never throws: missing bytes read as zero.
public struct InputCursor {
    public let bytes: [UInt8]
    public private(set) var offset = 0
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var remaining: Int { bytes.count - offset }
    public mutating func u8() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }
    public mutating func u16() -> UInt16 { UInt16(u8()) << 8 | UInt16(u8()) }
    public mutating func u32() -> UInt32 { UInt32(u16()) << 16 | UInt32(u16()) }
    public mutating func take(_ n: Int) -> [UInt8] {
        let n = max(0, min(n, remaining))
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }
    public mutating func rest() -> [UInt8] { take(remaining) }
}
