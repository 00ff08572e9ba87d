import Attestation
import FuzzSupport
import Measurement

// The attestation evidence protocol: EvidenceFrameDecoder over the input as a stream, each
// payload decoded by EvidenceMessage(payload:). Properties: no trap; a decoded message
// encodes back to exactly its payload (the decoder is strict, so it accepts only canonical
// encodings).

/// Seeds: one frame of each message type, and a stream of several (FUZZ_WRITE_SEEDS).
func seeds() -> [(name: String, bytes: [UInt8])] {
    do {
        let entries = [
            try IMAEntry.bootAggregate(pcr: 10, bank: .sha256, aggregate: [UInt8](repeating: 0x3C, count: 32)),
            try IMAEntry(pcr: 10, algorithm: "sha256", fileDigest: [UInt8](repeating: 1, count: 32), path: "/bin/sh"),
        ]
        // A TPM2B_PUBLIC-shaped blob (the protocol carries it opaquely).
        let pub: [UInt8] =
            [0x00, 0x23, 0x00, 0x0B, 0x00, 0x05, 0x00, 0x72, 0, 0, 0x00, 0x10, 0x00, 0x18, 0x00, 0x0B, 0x00, 0x03, 0x00, 0x10]
            + [0, 32] + [UInt8](repeating: 0x11, count: 32) + [0, 32] + [UInt8](repeating: 0x22, count: 32)
        let messages: [(String, EvidenceMessage)] = [
            (
                "challenge",
                .challenge(
                    Challenge(
                        nonce: [UInt8](repeating: 0xAB, count: 32), pcrSelection: [0, 0, 0, 1, 0, 0x0B, 3, 0xFF, 0x07, 0], firstEntry: 0))
            ),
            (
                "evidence",
                .evidence(
                    Evidence(
                        attest: [0xFF, 0x54, 0x43, 0x47, 0x80, 0x18] + [UInt8](repeating: 0, count: 40),
                        signature: [0, 0x18, 0, 0x0B, 0, 2, 1, 2, 0, 2, 3, 4],
                        pcrs: [
                            PCRBankValues(
                                algorithm: 0x000B, values: [0: [UInt8](repeating: 0, count: 32), 10: [UInt8](repeating: 0x10, count: 32)]),
                            PCRBankValues(algorithm: 0x0004, values: [10: [UInt8](repeating: 0x20, count: 20)]),
                        ],
                        firstEntry: 0, entries: entries, akPublic: pub, ekPublic: pub, ekCertificate: [0x30, 0x03, 0x02, 0x01, 0x01],
                        resetCount: 3, restartCount: 1))
            ),
            (
                "evidence-later",
                .evidence(
                    Evidence(
                        attest: [1, 2, 3], signature: [4, 5], pcrs: [], firstEntry: 17, entries: Array(entries.suffix(1)), akPublic: pub,
                        ekPublic: [], ekCertificate: nil, resetCount: 0, restartCount: 0))
            ),
            ("enroll-request", .enrollRequest),
            (
                "enroll-response",
                .enrollResponse(
                    EnrollResponse(akPublic: pub, akName: [0, 0x0B] + [UInt8](repeating: 9, count: 32), ekPublic: pub, ekCertificate: nil))
            ),
            (
                "activate-request",
                .activateRequest(
                    ActivateRequest(
                        credentialBlob: [0, 32] + [UInt8](repeating: 1, count: 32) + [9, 9], secret: [UInt8](repeating: 2, count: 64)))
            ),
            ("activate-response", .activateResponse(certInfo: [UInt8](repeating: 0x33, count: 32))),
            ("error", .error(ProtocolErrorMessage(.notEnrolled, "agent is not enrolled"))),
        ]
        var out = try messages.map { (name: $0.0, bytes: try $0.1.frame()) }
        out.append((name: "stream", bytes: out.reduce([]) { $0 + $1.bytes }))
        return out
    } catch { fuzzFailure("seed messages: \(error)") }
}

public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    writeSeedsIfAsked(seeds())
    let input = fuzzInput(data, size)
    var decoder = EvidenceFrameDecoder(maxPayload: 1 << 20)
    decoder.append(input)
    var frames = 0
    while frames < 256 {
        guard let payload = try? decoder.nextPayload() else { break }
        frames += 1
        guard let message = try? EvidenceMessage(payload: payload) else { continue }
        do {
            let again = try message.payload()
            fuzzCheck(again == payload, "evidence \(message.type): payload(decode(p)) != p")
        } catch {
            fuzzFailure("evidence \(message.type): decoded message does not encode: \(error)")
        }
    }
    return 0
}
