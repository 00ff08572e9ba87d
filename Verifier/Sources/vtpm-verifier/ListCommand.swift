import ArgumentParser
import Foundation
import Measurement

/// `vtpm-verifier list ...`: tools for IMA measurement lists (inspect a guest's list, build a
/// reference list from files, replay a list to the PCR values it must produce).
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Inspect, build and replay IMA measurement lists (ima-ng).",
        subcommands: [Make.self, Replay.self, Convert.self])

    /// Reads a list in either form: binary unless --ascii.
    static func load(_ path: String, ascii: Bool) throws -> [IMAEntry] {
        let bytes = try readFile(path, max: 1 << 30)
        return ascii ? try IMAASCIIFormat.parse(bytes) : try IMABinaryFormat.parse(bytes)
    }

    struct Make: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a list by measuring files (SHA-256), as IMA would on their execution.",
            discussion: """
                Each ITEM is a file path (measured), or violation:PATH (a violation entry). \
                The list starts with a boot_aggregate entry over zero PCRs unless --no-boot-aggregate.
                """)

        @Option(help: "The PCR the entries extend.") var pcr: UInt32 = 10
        @Option(help: "Write the binary list here.") var binary: String?
        @Option(help: "Write the ASCII list here.") var ascii: String?
        @Flag(help: "Leave out the boot_aggregate entry.") var noBootAggregate = false
        @Argument(help: "Files to measure, or violation:PATH.") var items: [String] = []

        func validate() throws {
            guard pcr < IMALimits.pcrCount else { throw ValidationError("--pcr must be 0...23") }
            guard binary != nil || ascii != nil else { throw ValidationError("give --binary FILE and/or --ascii FILE") }
        }

        func run() throws {
            var entries = [IMAEntry]()
            if !noBootAggregate {
                let zeros = Dictionary(uniqueKeysWithValues: (0...9).map { ($0, [UInt8](repeating: 0, count: 32)) })
                entries.append(
                    try .bootAggregate(pcr: pcr, bank: .sha256, aggregate: try BootAggregate.compute(bank: .sha256, pcrs: zeros)))
            }
            for item in items {
                if item.hasPrefix("violation:") {
                    entries.append(try .violation(pcr: pcr, path: String(item.dropFirst("violation:".count))))
                } else {
                    let digest = try sha256File(item)
                    entries.append(try IMAEntry(pcr: pcr, algorithm: "sha256", fileDigest: digest, path: item))
                }
            }
            if let binary { try Data(IMABinaryFormat.encode(entries)).write(to: URL(fileURLWithPath: binary)) }
            if let ascii { try Data(IMAASCIIFormat.encode(entries)).write(to: URL(fileURLWithPath: ascii)) }
        }
    }

    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the PCR values a list must have produced, per bank.",
            discussion: "Output lines: BANK PCR-NN: HEX (the PCRs the list extends).")

        @Flag(help: "The list is in the ASCII form.") var ascii = false
        @Option(name: .customLong("bank"), help: "A bank to compute (sha1, sha256, sha384, sha512); repeatable.")
        var banks: [String] = ["sha1", "sha256"]
        @Argument(help: "The list file.") var file: String

        func run() throws {
            let algs = try banks.map { name in
                guard let a = IMAHashAlgorithm(rawValue: name) else { throw ValidationError("unknown bank '\(name)'") }
                return a
            }
            let state = try IMAReplayState.replay(try ListCommand.load(file, ascii: ascii), banks: algs)
            for b in algs {
                for pcr in state.extendedPCRs.sorted() {
                    print("\(b.rawValue) PCR-\(pcr < 10 ? "0" : "")\(pcr): \(hexString(state.value(bank: b, pcr: pcr)))")
                }
            }
        }
    }

    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Convert a list between the binary and ASCII forms (to standard output).")

        @Option(help: "The output form: ascii or binary.") var to: String
        @Argument(help: "The list file (the other form).") var file: String

        func validate() throws {
            guard ["ascii", "binary"].contains(to) else { throw ValidationError("--to must be ascii or binary") }
        }

        func run() throws {
            let entries = try ListCommand.load(file, ascii: to == "binary")
            let out = to == "ascii" ? IMAASCIIFormat.encode(entries) : IMABinaryFormat.encode(entries)
            FileHandle.standardOutput.write(Data(out))
        }
    }
}
