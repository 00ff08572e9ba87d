import FuzzSupport
import Measurement

// The IMA measurement list parsers (binary and ASCII), both on every input. Properties: no
// trap; a binary list that parses re-encodes to the same bytes; an ASCII list that parses
// re-encodes to a list that parses to the same entries, and those entries encode to a
// binary list that parses back to them (the two forms carry the same information).

/// Seeds: lists as the kernel writes them, in both forms (FUZZ_WRITE_SEEDS).
func seeds() -> [(name: String, bytes: [UInt8])] {
    do {
        var list = [try IMAEntry.bootAggregate(pcr: 10, bank: .sha256, aggregate: [UInt8](repeating: 0x3C, count: 32))]
        for i in 0..<4 {
            list.append(
                try IMAEntry(pcr: 10, algorithm: "sha256", fileDigest: [UInt8](repeating: UInt8(i), count: 32), path: "/usr/bin/p\(i)"))
        }
        list.append(try IMAEntry(pcr: 9, algorithm: "sha1", fileDigest: [UInt8](repeating: 7, count: 20), path: "/a b"))
        list.append(try IMAEntry(pcr: 10, algorithm: "sha512", fileDigest: [UInt8](repeating: 9, count: 64), path: "/x"))
        list.append(try IMAEntry.violation(pcr: 10, path: "/tmp/violated"))
        var out = [(name: String, bytes: [UInt8])]()
        for n in [1, 3, list.count] {
            out.append(("binary-\(n)", IMABinaryFormat.encode(list.prefix(n))))
            out.append(("ascii-\(n)", IMAASCIIFormat.encode(list.prefix(n))))
        }
        return out
    } catch { fuzzFailure("seed entries: \(error)") }
}

public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    writeSeedsIfAsked(seeds())
    let input = fuzzInput(data, size)
    if let entries = try? IMABinaryFormat.parse(input, maxEntries: 4096) {
        fuzzCheck(IMABinaryFormat.encode(entries) == input, "binary list: encode(parse(x)) != x")
    }
    if let (entries, consumed) = try? IMABinaryFormat.parsePrefix(input, maxEntries: 4096) {
        fuzzCheck(consumed <= input.count, "binary prefix consumed more than the input")
        fuzzCheck(IMABinaryFormat.encode(entries) == Array(input.prefix(consumed)), "binary prefix: encode != consumed bytes")
    }
    if let entries = try? IMAASCIIFormat.parse(input, maxEntries: 4096) {
        let again = try? IMAASCIIFormat.parse(IMAASCIIFormat.encode(entries), maxEntries: 4096)
        fuzzCheck(again == entries, "ASCII list: parse(encode(parse(x))) != parse(x)")
        let binary = try? IMABinaryFormat.parse(IMABinaryFormat.encode(entries), maxEntries: 4096)
        fuzzCheck(binary == entries, "ASCII entries do not survive the binary form")
    }
    return 0
}
