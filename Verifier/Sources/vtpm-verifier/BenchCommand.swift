import ArgumentParser
import Attestation
import Crypto
import Foundation
import Measurement
import TPMWire

/// `vtpm-verifier bench rounds`: the verification work of attestation rounds, in process, for
/// the comparison with Keylime's own per-round work (tests/integration/test_verifier_bench.py
/// runs Keylime's Tpm.check_quote the same way). Simulated guests: a P-256 AK made here, the
/// list boot_aggregate + 3 files in PCR 10 (sha256 bank), quotes built and signed here as a TPM
/// would (Part 2, 10.12.12 TPMS_ATTEST). Every round's evidence is made before the clock starts;
/// the first round verifies the whole list (and boot_aggregate), the timed ones are the steady
/// state (no new entries): nonce, AK, signature, PCR digest, counters, replay, policy.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks (the figures in Verifier/README.md).", subcommands: [Rounds.self])

    struct Rounds: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rounds verified per second with simulated guests (in process).")
        @Option(help: "Simulated guests.") var guests = 100
        @Option(help: "Rounds per guest (the first, a whole-list round, is not timed).") var rounds = 6

        func run() throws {
            guard guests > 0, rounds > 1 else { throw ValidationError("need guests > 0 and rounds > 1") }
            let files: [(String, [UInt8])] = [
                ("/usr/bin/ls", Array("ls binary".utf8)), ("/usr/bin/cat", Array("cat binary".utf8)), ("/bin/sh", Array("shell".utf8)),
            ]
            var entries = [
                try IMAEntry.bootAggregate(pcr: 10, bank: .sha256, aggregate: Array(SHA256.hash(data: [UInt8](repeating: 0, count: 320))))
            ]
            for (p, c) in files {
                entries.append(try IMAEntry(pcr: 10, algorithm: "sha256", fileDigest: Array(SHA256.hash(data: c)), path: p))
            }
            let pcr10 = try IMAReplayState.replay(entries, banks: [.sha256]).value(bank: .sha256, pcr: 10)
            let policy = try PolicyEvaluator(RuntimePolicy.fromList(entries))

            struct Guest {
                var enrolled: EnrolledGuest
                var state: GuestState
                var work: [(Challenge, Evidence)]
            }
            var all = [Guest]()
            for g in 0..<guests {
                let key = P256.Signing.PrivateKey()
                let raw = Array(key.publicKey.rawRepresentation)
                var area = TPMWriter()
                // TPMT_PUBLIC: ECC, SHA-256 name, fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|restricted|sign,
                // no policy, symmetric NULL, ECDSA-SHA256, NIST P-256, KDF NULL, x, y.
                area.u16(0x0023)
                area.u16(0x000B)
                area.u32(0x0005_0072)
                area.u16(0)
                for v: UInt16 in [0x0010, 0x0018, 0x000B, 0x0003, 0x0010] { area.u16(v) }
                area.u16(32)
                area.bytes(Array(raw[0..<32]))
                area.u16(32)
                area.bytes(Array(raw[32..<64]))
                let areaBytes = area.bytes
                var akPublic = TPMWriter()
                akPublic.u16(UInt16(areaBytes.count))
                akPublic.bytes(areaBytes)
                let name = [0x00, 0x0B] + Array(SHA256.hash(data: areaBytes))
                let enrolled = EnrolledGuest(
                    name: "g\(g)", address: "", akPublic: akPublic.bytes, ekPublic: [], ekCertificate: nil, enrollment: "pinned-ek",
                    pcr: 10,
                    banks: [.sha256])
                var work = [(Challenge, Evidence)]()
                for r in 0..<rounds {
                    let first: UInt64 = r == 0 ? 0 : UInt64(entries.count)
                    let challenge = Challenge(
                        nonce: Appraiser.freshNonce(), pcrSelection: enrolled.selection(fromEntry: first).wireBytes, firstEntry: first)
                    let pcrs = first == 0 ? Array(0...10) : [10]
                    let values = pcrs.map { $0 == 10 ? pcr10 : [UInt8](repeating: 0, count: 32) }
                    var a = TPMWriter()
                    a.u32(0xFF54_4347)
                    a.u16(0x8018)
                    a.u16(UInt16(name.count))
                    a.bytes(name)
                    a.u16(UInt16(challenge.nonce.count))
                    a.bytes(challenge.nonce)
                    a.u64(1000 + 10 * UInt64(r))
                    a.u32(1)
                    a.u32(0)
                    a.u8(1)
                    a.u64(0x2023)
                    a.bytes(challenge.pcrSelection)
                    a.u16(32)
                    a.bytes(Array(SHA256.hash(data: values.flatMap { $0 })))
                    let attest = a.bytes
                    let sig = try key.signature(for: attest).rawRepresentation
                    var s = TPMWriter()
                    s.u16(0x0018)
                    s.u16(0x000B)
                    s.u16(32)
                    s.bytes(Array(sig.prefix(32)))
                    s.u16(32)
                    s.bytes(Array(sig.suffix(32)))
                    let evidence = Evidence(
                        attest: attest, signature: s.bytes,
                        pcrs: [
                            PCRBankValues(algorithm: 0x000B, values: Dictionary(uniqueKeysWithValues: zip(pcrs.map(UInt8.init), values)))
                        ],
                        firstEntry: first, entries: Array(entries[Int(first)...]), akPublic: akPublic.bytes, ekPublic: [],
                        ekCertificate: nil,
                        resetCount: 1, restartCount: 0)
                    work.append((challenge, evidence))
                }
                all.append(Guest(enrolled: enrolled, state: GuestState(), work: work))
            }
            func round(_ g: inout Guest, _ r: Int) throws {
                let (c, e) = g.work[r]
                let result = Appraiser.appraise(evidence: e, challenge: c, guest: g.enrolled, state: g.state, policy: policy)
                guard result.verdict == .trusted, !result.restartFromZero else {
                    throw ValidationError("round \(r) of \(g.enrolled.name): \(result.verdict) \(result.check ?? "") \(result.reason)")
                }
                g.state = result.state
            }
            for i in all.indices { try round(&all[i], 0) }
            let start = DispatchTime.now().uptimeNanoseconds
            let cpuStart = processCPUSeconds()
            for r in 1..<rounds {
                for i in all.indices { try round(&all[i], r) }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let cpu = processCPUSeconds() - cpuStart
            let n = guests * (rounds - 1)
            print("{\"rounds\": \(n), \"elapsed\": \(seconds), \"cpu\": \(cpu)}")
        }
    }
}
