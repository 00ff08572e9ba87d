import ArgumentParser
import Attestation
import Foundation
import Measurement

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Build, install and show runtime policies.",
        subcommands: [Generate.self, FromList.self, Check.self, Set.self, Show.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "An allowlist from a reference image: every executable file's SHA-256 (printed on standard output).")
        @Option(name: .customLong("from-dir"), help: "A directory to walk (repeatable).") var dirs: [String]
        @Option(name: .customLong("image-root"), help: "Record paths relative to this directory as seen from / (a mounted image).")
        var imageRoot: String?
        @Flag(name: .customLong("all-files"), help: "All regular files, not only those with an execute bit.") var allFiles = false
        @Option(help: "Exclude pattern (regular expression anchored at the path's start; repeatable).") var exclude: [String] = []

        func run() throws {
            var p = RuntimePolicy(exclude: exclude)
            let fm = FileManager.default
            for dir in dirs {
                guard let walker = fm.enumerator(atPath: dir) else { throw CLIError("cannot read \(dir)") }
                while let rel = walker.nextObject() as? String {
                    let full = (dir as NSString).appendingPathComponent(rel)
                    var st = stat()
                    guard lstat(full, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
                    if !allFiles && st.st_mode & 0o111 == 0 { continue }
                    let digest = try sha256File(full)
                    var path = (full as NSString).standardizingPath
                    if let root = imageRoot.map({ ($0 as NSString).standardizingPath }), path.hasPrefix(root + "/") {
                        path = String(path.dropFirst(root.count))
                    }
                    p.allow[path, default: []].insert("sha256:" + hexString(digest))
                }
            }
            FileHandle.standardOutput.write(Data(p.serialized()))
        }
    }

    struct FromList: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "from-list", abstract: "An allowlist from a golden guest's measurement list (printed on standard output).")
        @Flag(help: "The list is in the ASCII form.") var ascii = false
        @Argument(help: "The list (binary_runtime_measurements or, with --ascii, ascii_runtime_measurements).") var file: String
        func run() throws {
            FileHandle.standardOutput.write(Data(RuntimePolicy.fromList(try ListCommand.load(file, ascii: ascii)).serialized()))
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Judge every entry of a list against a policy (no TPM): one line per refused entry, exit 1 if any.",
            discussion: "The list is also replayed (template hashes checked); --json prints every entry's result.")
        @Option(help: "The policy file (ours or Keylime's).") var policy: String
        @Flag(help: "The list is in the ASCII form.") var ascii = false
        @Flag(help: "JSON: one object per entry {index, path, digest, ok, reason}.") var json = false
        @Option(help: "A bank to replay the list in (repeatable; the SHA-1 template hashes are checked always).")
        var bank: [String] = ["sha256"]
        @Flag(help: "Print on standard error how long reading, parsing, replaying and judging took (not the policy load).")
        var timing = false
        @Argument(help: "The list.") var file: String

        func run() throws {
            let ev = try PolicyEvaluator(try RuntimePolicy.parse(try readFile(policy, max: RuntimePolicy.maxFileSize)))
            let banks = try bank.map { name in
                guard let b = IMAHashAlgorithm(rawValue: name) else { throw ValidationError("unknown bank '\(name)'") }
                return b
            }
            let start = DispatchTime.now().uptimeNanoseconds
            let cpuStart = processCPUSeconds()
            // Without --json only the refused entries are printed: the list is replayed and judged
            // line by line as it is parsed (no array of entries).
            var replayer = IMAReplayer(IMAReplayState(banks: banks))
            var entries = [IMAEntry]()
            var findings = [PolicyFinding?]()
            var streamed = [PolicyFinding]()
            var firstPCR: UInt32?
            let bytes = try readFile(file, max: 1 << 30)
            if ascii && !json {
                try IMAASCIIFormat.forEach(bytes) { e in
                    try replayer.add(e)
                    if firstPCR == nil { firstPCR = e.pcr }
                    if let f = ev.judge(e, index: replayer.entryCount - 1) { streamed.append(f) }
                }
            } else {
                entries = ascii ? try IMAASCIIFormat.parse(bytes) : try IMABinaryFormat.parse(bytes)
                for e in entries { try replayer.add(e) }
                firstPCR = entries.first?.pcr
                findings = entries.enumerated().map { ev.judge($0.element, index: $0.offset) }
            }
            let state = replayer.state
            if timing {
                let s = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                let cpu = processCPUSeconds() - cpuStart
                let pcr = firstPCR ?? 0
                let pcrs = banks.map { "\($0.rawValue) PCR \(pcr) \(hexString(state.value(bank: $0, pcr: pcr)))" }
                FileHandle.standardError.write(
                    Data("timing: \(state.entryCount) entries in \(s) s, cpu \(cpu) s; \(pcrs.joined(separator: ", "))\n".utf8))
            }
            if ascii && !json {
                FileHandle.standardOutput.write(Data(streamed.map { $0.description + "\n" }.joined().utf8))
                if !streamed.isEmpty { throw ExitCode(1) }
                return
            }
            var out = ""
            var refused = 0
            for (i, e) in entries.enumerated() {
                let f = findings[i]
                if f != nil { refused += 1 }
                if json {
                    var o: [String: Any] = ["index": i, "path": e.path, "digest": RuntimePolicy.digestKey(e), "ok": f == nil]
                    if let f { o["reason"] = f.reason.rawValue }
                    out += String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self) + "\n"
                } else if let f {
                    out += f.description + "\n"
                }
            }
            FileHandle.standardOutput.write(Data(out.utf8))
            if refused > 0 { throw ExitCode(1) }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install a policy in the running verifier (ours or Keylime's runtime policy JSON); an audit record says so.")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "The policy file.") var file: String
        func run() throws {
            let text = String(decoding: try readFile(file, max: RuntimePolicy.maxFileSize), as: UTF8.self)
            _ = try RuntimePolicy.parse(Array(text.utf8))
            try daemon.run(["cmd": "policy-set", "policy": text, "source": file])
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The running verifier's policy, in our format.")
        @OptionGroup var daemon: DaemonOptions
        func run() throws { try daemon.run(["cmd": "policy-show"]) }
    }
}

/// CPU time this process used so far (user + system): on a loaded machine the figure to compare, not the wall clock.
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
