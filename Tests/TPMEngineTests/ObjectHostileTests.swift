import TPMCrypto
import TPMWire
import XCTest

@testable import TPMEngine

/// Hostile input to the object, key, signature and attestation commands: valid commands
/// mutated at random (a fixed seed) must each get a well-formed answer, never a trap; the
/// engine stays usable; a damaged key-object encoding never loads as something else.
final class ObjectHostileTests: XCTestCase {
    struct Rand {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 17
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    func wellFormed(_ r: [UInt8], _ cmd: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertGreaterThanOrEqual(r.count, 10, file: file, line: line)
        guard r.count >= 10 else { return }
        let size = Int(r[2]) << 24 | Int(r[3]) << 16 | Int(r[4]) << 8 | Int(r[5])
        XCTAssertEqual(size, r.count, "size field", file: file, line: line)
        if responseCode(r) != 0 { XCTAssertEqual(r.count, 10, "error responses are bare: \(hex(cmd))", file: file, line: line) }
    }

    func testMutatedObjectCommands() throws {
        let tpm = startedTPM()
        let srk = try makePrimary(tpm, .owner, Templates.ecc())
        let signer = Templates.ecc(attributes: Templates.signingAttributes, scheme: .ecdsa(hashAlg: .sha256))
        let created = try parseCreate(tpm.execute(command: createCommand(parent: srk.handle, signer)))
        let key = responseHandle(
            tpm.execute(command: loadCommand(parent: srk.handle, outPrivate: created.outPrivate, publicArea: created.publicArea)))
        let d32 = [UInt8](repeating: 7, count: 32)
        let sel = TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: [0])])
        let seeds: [[UInt8]] = [
            createPrimaryCommand(.null, Templates.ecc(attributes: Templates.signingAttributes, scheme: .ecdsa(hashAlg: .sha256))),
            createCommand(parent: srk.handle, Templates.keyedHash(attributes: Templates.sealAttributes), data: [1]),
            loadCommand(parent: srk.handle, outPrivate: created.outPrivate, publicArea: created.publicArea),
            loadExternalCommand(sensitive: StaticKeys.eccSensitive(), publicArea: StaticKeys.eccPublic()),
            loadExternalCommand(sensitive: StaticKeys.rsaSensitive(), publicArea: StaticKeys.rsaPublic()),
            command(.readPublic, be32(key.rawValue)),
            signCommand(key, digest: d32),
            verifySignatureCommand(
                key, digest: d32,
                signature: TPMTSignature(
                    .ecdsa(
                        TPMSSignatureECC(
                            hash: .sha256, signatureR: TPM2BECCParameter(d32), signatureS: TPM2BECCParameter(d32))))),
            quoteCommand(key, nonce: [1, 2], pcrs: sel),
            certifyCommand(object: srk.handle, signer: key, nonce: []),
            getTimeCommand(signer: key, nonce: [3]),
            zGenCommand(srk.handle, x: StaticKeys.eccX, y: StaticKeys.eccY),
            command(.ecdhKeyGen, be32(srk.handle.rawValue)),
            command(.eccParameters, [0, 3]),
            rsaEncryptCommand(srk.handle, message: [1]),
            hmacCommand(key, data: [1]),
            encryptDecryptCommand(key, decrypt: false, iv: [UInt8](repeating: 0, count: 16), data: [1]),
            createLoadedCommand(parent: srk.handle, templateBytes: signer.wireBytes),
            command(
                .objectChangeAuth, tag: .sessions, withPasswords(handles: [key, srk.handle], passwords: [[], []], params: [0, 1, 9])),
        ]
        var rng = Rand(state: 0x5EED_0B1E_C7)
        var codes: [UInt32: Int] = [:]
        for i in 0..<3000 {
            var c = seeds[i % seeds.count]
            switch rng.below(4) {
            case 0:
                for _ in 0...rng.below(4) { c[10 + rng.below(c.count - 10)] ^= UInt8(1 << rng.below(8)) }
            case 1:
                c[10 + rng.below(c.count - 10)] = UInt8(truncatingIfNeeded: rng.next())
            case 2:
                c = Array(c.prefix(10 + rng.below(c.count - 10)))
            default:
                c += (0..<rng.below(40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
            // Keep the header's size field truthful half the time, so the parameters are reached.
            if rng.below(2) == 0 {
                let n = UInt32(c.count)
                c[2] = UInt8(n >> 24)
                c[3] = UInt8(n >> 16 & 0xFF)
                c[4] = UInt8(n >> 8 & 0xFF)
                c[5] = UInt8(n & 0xFF)
            }
            let r = tpm.execute(command: c)
            codes[responseCode(r), default: 0] += 1
            wellFormed(r, c)
            // Keep slots free: flush whatever a mutated command loaded beyond the two objects.
            if responseCode(r) == 0 {
                for h in [TPMHandle(0x8000_0002)] { _ = tpm.execute(command: flushCommand(h)) }
            }
        }
        // The mutations reach deep into the handlers: many distinct codes, some successes.
        XCTAssertGreaterThan(codes.count, 30)
        XCTAssertGreaterThan(codes[0] ?? 0, 20)
        // Still working.
        XCTAssertEqual(responseCode(tpm.execute(command: signCommand(key, digest: d32))), 0)
    }
}
