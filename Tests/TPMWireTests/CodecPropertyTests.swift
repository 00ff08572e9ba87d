import TPMWire
import XCTest

/// Codec properties, seeded (a failure names a replayable case):
/// - decode(encode(x)) == x for generated values of the structures that ObjectWirePropertyTests
///   does not generate: PCR selections, TPMT_HA and the digest lists, TPMT_TK_HASHCHECK, clock and
///   time info, TPMA_NV / TPMS_NV_PUBLIC / TPM2B_NV_PUBLIC, TPMS_CONTEXT / TPMS_CONTEXT_DATA;
/// - encode(decode(bytes)) == bytes for every input a decoder accepts, over mutations (octets
///   changed, inserted, removed, sizes shifted, truncation) of valid encodings of those and of the
///   object structures (TPMT_PUBLIC, TPMT_SENSITIVE, TPMT_SIGNATURE, TPMS_ATTEST, TPMS_CAPABILITY_DATA);
///   decoding is canonical, which is what makes a Name or a cpHash computed over a re-encoding
///   match the octets received;
/// - whatever the octets, a decoder returns or throws a TPMError.
final class CodecPropertyTests: XCTestCase {
    private var g = SeededGenerator(seed: 0xC0DE_C5EE_D159)

    private func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &g)] }
    private func chance() -> Bool { Bool.random(using: &g) }
    private func u8() -> UInt8 { UInt8.random(in: 0...255, using: &g) }
    private func u16() -> UInt16 { UInt16.random(in: 0...UInt16.max, using: &g) }
    private func u32() -> UInt32 { UInt32.random(in: 0...UInt32.max, using: &g) }
    private func u64() -> UInt64 { UInt64.random(in: 0...UInt64.max, using: &g) }
    private func octets(_ n: Int) -> [UInt8] { (0..<n).map { _ in u8() } }
    private func octets(upTo max: Int) -> [UInt8] { octets(pick([0, max, Int.random(in: 0...max, using: &g)])) }
    private func b<B: TPM2BBound>(_: B.Type = B.self) -> TPM2B<B> { TPM2B<B>(octets(upTo: B.maxSize)) }
    private func hash() -> TPMAlgID { pick([.sha1, .sha256, .sha384, .sha512]) }

    // MARK: generators

    private func pcrSelect() -> TPMSPCRSelection {
        chance()
            ? TPMSPCRSelection(hash: hash(), select: octets(TPMLimits.pcrSelectMax))
            : TPMSPCRSelection(hash: hash(), pcrs: (0..<Int.random(in: 0...4, using: &g)).map { _ in Int.random(in: 0..<24, using: &g) })
    }

    private func pcrSelection() -> TPMLPCRSelection {
        TPMLPCRSelection((0..<Int.random(in: 0...TPMLimits.hashCount, using: &g)).map { _ in pcrSelect() })
    }

    private func ha() -> TPMTHA {
        let h = hash()
        return TPMTHA(hashAlg: h, digest: octets(TPMLimits.digestSize(h) ?? 0))
    }

    private func hierarchy() -> TPMHandle { pick([.owner, .endorsement, .platform, .null]) }

    private func clockInfo() -> TPMSClockInfo {
        TPMSClockInfo(clock: u64(), resetCount: u32(), restartCount: u32(), safe: chance())
    }

    private func nvAttributes() -> TPMANV {
        let type = pick([TPMNT.ordinary, .counter, .bits, .extend, .pinFail, .pinPass])
        return TPMANV(type: type, TPMANV(rawValue: u32() & ~TPMANV.reserved))
    }

    private func nvPublic() -> TPMSNVPublic {
        TPMSNVPublic(
            nvIndex: TPMHandle(0x0100_0000 | u32() & 0x00FF_FFFF), nameAlg: hash(), attributes: nvAttributes(), authPolicy: b(),
            dataSize: UInt16.random(in: 0...UInt16(TPMLimits.maxNVIndexSize), using: &g))
    }

    private func savedHandle() -> TPMHandle {
        pick([
            .savedTransient, .savedSequence, .savedTransientClear,
            TPMHandle(TPMHandle.hmacSessionFirst.rawValue + UInt32.random(in: 0..<UInt32(TPMLimits.maxActiveSessions), using: &g)),
            TPMHandle(TPMHandle.policySessionFirst.rawValue + UInt32.random(in: 0..<UInt32(TPMLimits.maxActiveSessions), using: &g)),
        ])
    }

    private func contextData() -> TPMSContextData {
        TPMSContextData(integrity: b(), encrypted: b())
    }

    private func context() -> TPMSContext {
        TPMSContext(
            sequence: u64(), savedHandle: savedHandle(), hierarchy: hierarchy(), contextBlob: TPM2BContextData(contextData().wireBytes))
    }

    private func eccPublic() -> TPMTPublic {
        let scheme: TPMUAsymScheme = pick([.null, .ecdsa(hashAlg: hash()), .ecdh(hashAlg: hash())])
        let sym = chance() ? TPMTSymDefObject.null : TPMTSymDefObject(algorithm: .aes, keyBits: pick([128, 256]), mode: .cfb)
        return TPMTPublic(
            nameAlg: hash(), objectAttributes: TPMAObject(rawValue: u32() & ~TPMAObject.reserved), authPolicy: b(),
            parameters: .ecc(TPMSECCParms(symmetric: sym, scheme: TPMTECCScheme(scheme), curveID: .nistP256, kdf: TPMTKDFScheme(.null))),
            unique: .ecc(TPMSECCPoint(x: TPM2BECCParameter(octets(32)), y: TPM2BECCParameter(octets(32)))))
    }

    private func rsaPublic() -> TPMTPublic {
        TPMTPublic(
            nameAlg: hash(), objectAttributes: TPMAObject(rawValue: u32() & ~TPMAObject.reserved),
            parameters: .rsa(
                TPMSRSAParms(
                    symmetric: .null, scheme: TPMTRSAScheme(pick([.null, .rsassa(hashAlg: hash()), .oaep(hashAlg: hash())])),
                    keyBits: 2048, exponent: pick([0, 65537]))),
            unique: .rsa(TPM2BPublicKeyRSA(octets(256))))
    }

    private func keyedHashPublic() -> TPMTPublic {
        TPMTPublic(
            nameAlg: hash(), objectAttributes: TPMAObject(rawValue: u32() & ~TPMAObject.reserved), authPolicy: b(),
            parameters: .keyedHash(TPMSKeyedHashParms(scheme: TPMTKeyedHashScheme(pick([.null, .hmac(hashAlg: hash())])))),
            unique: .keyedHash(b()))
    }

    private func signature() -> TPMTSignature {
        TPMTSignature(
            pick([
                .null, .rsassa(TPMSSignatureRSA(hash: hash(), sig: TPM2BPublicKeyRSA(octets(256)))),
                .ecdsa(
                    TPMSSignatureECC(hash: hash(), signatureR: TPM2BECCParameter(octets(32)), signatureS: TPM2BECCParameter(octets(32)))),
                .hmac(ha()),
            ]))
    }

    private func attest() -> TPMSAttest {
        let attested: TPMUAttest = pick([
            .quote(TPMSQuoteInfo(pcrSelect: pcrSelection(), pcrDigest: TPM2BDigest(octets(32)))),
            .certify(TPMSCertifyInfo(name: TPM2BName([0, 0x0B] + octets(32)), qualifiedName: TPM2BName([0, 0x0B] + octets(32)))),
            .time(TPMSTimeAttestInfo(time: TPMSTimeInfo(time: u64(), clockInfo: clockInfo()), firmwareVersion: u64())),
            .nv(TPMSNVCertifyInfo(indexName: TPM2BName([0, 0x0B] + octets(32)), offset: u16(), nvContents: TPM2BMaxNVBuffer(octets(16)))),
        ])
        return TPMSAttest(
            qualifiedSigner: TPM2BName([0, 0x0B] + octets(32)), extraData: TPM2BData(octets(upTo: 16)), clockInfo: clockInfo(),
            firmwareVersion: u64(), attested: attested)
    }

    // MARK: decode(encode(x)) == x

    private func roundTrip<T: Equatable & TPMEncodable>(
        _ name: String, count: Int = 200, file: StaticString = #filePath, line: UInt = #line,
        _ make: () -> T, _ decode: (inout TPMReader) throws -> T
    ) {
        for i in 0..<count {
            let value = make()
            let bytes = value.wireBytes
            do {
                let back = try decodeAll(bytes, decode)
                XCTAssertEqual(back, value, "\(name) #\(i)", file: file, line: line)
            } catch {
                XCTFail("\(name) #\(i): \(error) decoding \(bytes)", file: file, line: line)
                return
            }
            XCTAssertEqual(decodeRC(bytes + [0], decode), .size, "\(name) #\(i): a trailing octet", file: file, line: line)
            if i % 10 == 0 { assertEveryTruncationIsInsufficient(bytes, "\(name) #\(i)", file: file, line: line, decode) }
        }
    }

    func testPCRSelectionsRoundTrip() {
        roundTrip("TPMS_PCR_SELECTION", { pcrSelect() }) { try TPMSPCRSelection(from: &$0) }
        roundTrip("TPML_PCR_SELECTION", { pcrSelection() }) { try TPMLPCRSelection(from: &$0) }
    }

    func testDigestsRoundTrip() {
        roundTrip("TPMT_HA", { ha() }) { try TPMTHA(from: &$0, allowNull: false) }
        roundTrip("TPML_DIGEST_VALUES", { TPMLDigestValues((0..<Int.random(in: 0...TPMLimits.hashCount, using: &g)).map { _ in ha() }) }) {
            try TPMLDigestValues(from: &$0)
        }
        roundTrip("TPML_DIGEST", { TPMLDigest((0..<Int.random(in: 0...TPMLimits.maxDigestListCount, using: &g)).map { _ in b() }) }) {
            try TPMLDigest(from: &$0)
        }
    }

    func testTicketsClockAndTimeRoundTrip() {
        roundTrip("TPMT_TK_HASHCHECK", { TPMTTKHashcheck(tag: .hashCheck, hierarchy: hierarchy(), digest: b()) }) {
            try TPMTTKHashcheck(from: &$0)
        }
        roundTrip("TPMS_CLOCK_INFO", { clockInfo() }) { try TPMSClockInfo(from: &$0) }
        roundTrip("TPMS_TIME_INFO", { TPMSTimeInfo(time: u64(), clockInfo: clockInfo()) }) { try TPMSTimeInfo(from: &$0) }
        roundTrip("TPMI_YES_NO", { TPMIYesNo(chance()) }) { try TPMIYesNo(from: &$0) }
    }

    func testNVPublicRoundTrip() {
        roundTrip("TPMA_NV", { nvAttributes() }) { try TPMANV(from: &$0) }
        roundTrip("TPMS_NV_PUBLIC", { nvPublic() }) { try TPMSNVPublic(from: &$0) }
        roundTrip("TPM2B_NV_PUBLIC", { TPM2BNVPublic(nvPublic()) }) { try TPM2BNVPublic(from: &$0) }
    }

    func testContextsRoundTrip() {
        roundTrip("TPMS_CONTEXT_DATA", { contextData() }) { try TPMSContextData(from: &$0) }
        roundTrip("TPMS_CONTEXT", { context() }) { try TPMSContext(from: &$0) }
    }

    // MARK: encode(decode(bytes)) == bytes

    /// A codec under mutation: valid encodings to start from, and decode-then-encode.
    private struct Codec {
        var name: String
        var seed: () -> [UInt8]
        var reencode: (inout TPMReader) throws -> [UInt8]
    }

    private func codec<T: TPMEncodable>(_ name: String, _ seed: @escaping () -> [UInt8], _ decode: @escaping (inout TPMReader) throws -> T)
        -> Codec
    {
        Codec(name: name, seed: seed, reencode: { try decode(&$0).wireBytes })
    }

    private var codecs: [Codec] {
        let s = objectSupport
        return [
            codec("TPML_PCR_SELECTION", { self.pcrSelection().wireBytes }) { try TPMLPCRSelection(from: &$0) },
            codec("TPML_DIGEST_VALUES", { TPMLDigestValues([self.ha(), self.ha()]).wireBytes }) { try TPMLDigestValues(from: &$0) },
            codec("TPML_DIGEST", { TPMLDigest([self.b(), self.b()]).wireBytes }) { try TPMLDigest(from: &$0) },
            codec("TPMT_TK_HASHCHECK", { TPMTTKHashcheck(tag: .hashCheck, hierarchy: self.hierarchy(), digest: self.b()).wireBytes }) {
                try TPMTTKHashcheck(from: &$0)
            },
            codec("TPMS_TIME_INFO", { TPMSTimeInfo(time: self.u64(), clockInfo: self.clockInfo()).wireBytes }) {
                try TPMSTimeInfo(from: &$0)
            },
            codec("TPM2B_NV_PUBLIC", { TPM2BNVPublic(self.nvPublic()).wireBytes }) { try TPM2BNVPublic(from: &$0) },
            codec("TPMS_CONTEXT", { self.context().wireBytes }) { try TPMSContext(from: &$0) },
            codec("TPMT_PUBLIC", { self.pick([self.eccPublic(), self.rsaPublic(), self.keyedHashPublic()]).wireBytes }) {
                try TPMTPublic(from: &$0, allowNull: true, support: s)
            },
            codec(
                "TPMT_SENSITIVE",
                {
                    TPMTSensitive(
                        authValue: self.b(), seedValue: self.b(),
                        sensitive: self.pick([.ecc(TPM2BECCParameter(self.octets(32))), .keyedHash(self.b())])
                    ).wireBytes
                }
            ) { try TPMTSensitive(from: &$0, support: s) },
            codec("TPMT_SIGNATURE", { self.signature().wireBytes }) { try TPMTSignature(from: &$0, allowNull: true, support: s) },
            codec("TPMS_ATTEST", { self.attest().wireBytes }) { try TPMSAttest(from: &$0) },
            codec(
                "TPMS_CAPABILITY_DATA",
                {
                    // TPM_CAP_PCRS with a selection, TPM_CAP_HANDLES with handles.
                    self.chance()
                        ? [0, 0, 0, 5] + self.pcrSelection().wireBytes
                        : [0, 0, 0, 1] + [0, 0, 0, 2] + [0x80, 0, 0, 0] + [0x81, 0, 0, self.u8()]
                }
            ) { try TPMSCapabilityData(from: &$0) },
        ]
    }

    /// One random change of the kinds a hostile peer makes.
    private func mutate(_ input: [UInt8]) -> [UInt8] {
        var bytes = input
        switch Int.random(in: 0..<6, using: &g) {
        case 0 where !bytes.isEmpty:
            bytes[Int.random(in: 0..<bytes.count, using: &g)] = u8()
        case 1 where !bytes.isEmpty:
            bytes[Int.random(in: 0..<bytes.count, using: &g)] ^= 1 << UInt8.random(in: 0...7, using: &g)
        case 2:
            bytes.insert(u8(), at: Int.random(in: 0...bytes.count, using: &g))
        case 3 where !bytes.isEmpty:
            bytes.remove(at: Int.random(in: 0..<bytes.count, using: &g))
        case 4 where bytes.count >= 2:
            // A big-endian u16 (a TPM2B size, an algorithm) moved by a little.
            let at = Int.random(in: 0..<(bytes.count - 1), using: &g)
            let v = (Int(bytes[at]) << 8 | Int(bytes[at + 1])) + pick([-2, -1, 1, 2])
            bytes[at] = UInt8(truncatingIfNeeded: v >> 8)
            bytes[at + 1] = UInt8(truncatingIfNeeded: v)
        default:
            bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &g)))
        }
        return bytes
    }

    func testAcceptedInputsReencodeExactly() {
        for c in codecs {
            var accepted = 0
            var changed = 0
            for i in 0..<1500 {
                let original = c.seed()
                let bytes = mutate(mutate(original))
                do {
                    let again = try decodeAll(bytes, c.reencode)
                    accepted += 1
                    if bytes != original { changed += 1 }
                    XCTAssertEqual(again, bytes, "\(c.name) #\(i): encode(decode(x)) != x for \(bytes)")
                    // decode(encode(decode(x))) decodes the same way again.
                    XCTAssertEqual(try? decodeAll(again, c.reencode), again, "\(c.name) #\(i)")
                } catch is TPMError {
                    continue
                } catch {
                    XCTFail("\(c.name) #\(i): \(error) is not a TPMError")
                }
            }
            // The property must have been exercised on inputs other than the valid seeds.
            XCTAssertGreaterThan(changed, 20, "\(c.name): only \(accepted) mutated inputs accepted, \(changed) changed")
        }
    }

    /// Random octets after a few valid leading octets: no decoder traps, and anything accepted
    /// re-encodes exactly.
    func testRandomOctetsNeverTrapAndReencode() {
        for c in codecs {
            for _ in 0..<800 {
                let seed = c.seed()
                let bytes =
                    Array(seed.prefix(Int.random(in: 0...min(8, seed.count), using: &g))) + octets(Int.random(in: 0...40, using: &g))
                do {
                    let again = try decodeAll(bytes, c.reencode)
                    XCTAssertEqual(again, bytes, c.name)
                } catch is TPMError {
                    continue
                } catch {
                    XCTFail("\(c.name): \(error) is not a TPMError")
                }
            }
        }
    }
}
