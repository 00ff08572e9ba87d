import Crypto
import TPMCrypto
import TPMWire
import XCTest

@testable import TPMEngine

extension TPM {
    func contextSave(_ h: TPMHandle) -> [UInt8] {
        var w = TPMWriter()
        w.u32(h.rawValue)
        return execute(command: command(.contextSave, w.bytes))
    }

    func savedContext(_ h: TPMHandle) throws -> TPMSContext {
        let r = contextSave(h)
        XCTAssertEqual(responseCode(r), 0)
        var rd = responseParameters(r)
        let ctx = try TPMSContext(from: &rd)
        XCTAssertTrue(rd.isAtEnd)
        return ctx
    }

    func contextLoad(_ bytes: [UInt8]) -> [UInt8] { execute(command: command(.contextLoad, bytes)) }
    func contextLoad(_ ctx: TPMSContext) -> [UInt8] { contextLoad(ctx.wireBytes) }

    func flushContext(_ h: UInt32) -> [UInt8] {
        var w = TPMWriter()
        w.u32(h)
        return execute(command: command(.flushContext, w.bytes))
    }

    func shutdown(_ type: TPMSU) { precondition(responseCode(execute(command: command(.shutdown, [0, UInt8(type.rawValue)]))) == 0) }
    func startup(_ type: TPMSU) -> UInt32 { responseCode(execute(command: command(.startup, [0, UInt8(type.rawValue)]))) }
}

final class ContextTests: XCTestCase {
    /// NIST SP 800-38A, F.3.17 (CFB128-AES256.Encrypt), also what `openssl enc -aes-256-cfb` gives.
    func testAESCFBKnownAnswer() throws {
        let key = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
        let iv = hex("000102030405060708090a0b0c0d0e0f")
        let plain = hex(
            "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
        )
        let cipher = hex(
            "dc7e84bfda79164b7ecd8486985d386039ffed143b28b1c832113c6331e5407bdf10132415e54b92a13ed0a8267ae2f975a385741ab9cef82031623d55b1e471"
        )
        XCTAssertEqual(try AESCFB.encrypt(key: key, iv: iv, plain), cipher)
        XCTAssertEqual(try AESCFB.decrypt(key: key, iv: iv, cipher), plain)
        // A partial last block (CFB needs no padding).
        XCTAssertEqual(try AESCFB.encrypt(key: key, iv: iv, Array(plain[0..<21])), Array(cipher[0..<21]))
        XCTAssertThrowsError(try AESCFB.encrypt(key: Array(key[0..<20]), iv: iv, plain))
    }

    func testSaveFlushLoadRoundTripsKeepTheSequenceWorking() throws {
        for alg in [TPMAlgID.sha1, .sha256, .sha384, .sha512] {
            let tpm = startedTPM()
            var h = responseHandle(tpm.startSequence(auth: Array("secret".utf8), alg: alg))
            var all: [UInt8] = []
            // What a resource manager does between commands: save, flush, load.
            for i in 0..<6 {
                let block = (0..<(37 * i + 5)).map { UInt8(truncatingIfNeeded: $0 ^ i) }
                all += block
                XCTAssertEqual(responseCode(tpm.update(h, block, auth: Array("secret".utf8))), 0)
                let ctx = try tpm.savedContext(h)
                XCTAssertEqual(ctx.savedHandle, TPMHandle(0x8000_0001))
                XCTAssertEqual(ctx.hierarchy, .null)
                XCTAssertEqual(ctx.sequence, UInt64(i + 1))
                XCTAssertEqual(tpm.flushContext(h.rawValue), hex("80010000000a00000000"))
                XCTAssertTrue(tpm.volatile.objects.isEmpty)
                let r = tpm.contextLoad(ctx)
                XCTAssertEqual(r, hex("80010000000e0000000080000000"))
                h = responseHandle(r)
            }
            // The authValue travelled with the context.
            XCTAssertEqual(responseCode(tpm.update(h, [], auth: Array("wrong".utf8))), 0x9A2)
            let (digest, ticket) = try digestAndTicket(tpm.complete(h, [1, 2], auth: Array("secret".utf8)))
            XCTAssertEqual(digest, independentDigest(alg, all + [1, 2]))
            // The first block (5 octets, not TPM_GENERATED_VALUE) made the sequence ticket-safe.
            XCTAssertEqual(ticket.digest.buffer, independentTicket(proof: tpm.persistent.shProof, digest: digest))
        }
    }

    func testEventSequenceRoundTrip() throws {
        let tpm = startedTPM()
        let h = responseHandle(tpm.startSequence(alg: .null))
        XCTAssertEqual(responseCode(tpm.update(h, Array("abc".utf8))), 0)
        let ctx = try tpm.savedContext(h)
        XCTAssertEqual(responseCode(tpm.flushContext(h.rawValue)), 0)
        let h2 = responseHandle(tpm.contextLoad(ctx))
        let r = tpm.eventComplete(pcr: .null, h2, Array("def".utf8))
        var rd = responseParameters(r)
        for d in try TPMLDigestValues(from: &rd).digests { XCTAssertEqual(d.digest, independentDigest(d.hashAlg, Array("abcdef".utf8))) }
    }

    func testSaveLeavesObjectLoadedAndLoadMakesIndependentCopies() throws {
        let tpm = startedTPM()
        let h = responseHandle(tpm.startSequence(alg: .sha256))
        XCTAssertEqual(responseCode(tpm.update(h, Array("abcd".utf8))), 0)
        let ctx = try tpm.savedContext(h)
        XCTAssertEqual(responseCode(tpm.update(h, Array("original".utf8))), 0)
        let copy1 = responseHandle(tpm.contextLoad(ctx))
        let copy2 = responseHandle(tpm.contextLoad(ctx))
        XCTAssertEqual([copy1, copy2], [TPMHandle(0x8000_0001), TPMHandle(0x8000_0002)])
        XCTAssertEqual(tpm.contextLoad(ctx), hex("80010000000a00000902"))
        XCTAssertEqual(try digestAndTicket(tpm.complete(h, [])).0, independentDigest(.sha256, Array("abcdoriginal".utf8)))
        XCTAssertEqual(try digestAndTicket(tpm.complete(copy1, Array("x".utf8))).0, independentDigest(.sha256, Array("abcdx".utf8)))
        XCTAssertEqual(try digestAndTicket(tpm.complete(copy2, [])).0, independentDigest(.sha256, Array("abcd".utf8)))
    }

    func testEveryByteFlippedIsRejected() throws {
        let tpm = startedTPM()
        let h = responseHandle(tpm.startSequence(auth: [7], alg: .sha512))
        XCTAssertEqual(responseCode(tpm.update(h, (0..<200).map { UInt8($0) }, auth: [7])), 0)
        let wire = try tpm.savedContext(h).wireBytes
        XCTAssertEqual(responseCode(tpm.flushContext(h.rawValue)), 0)
        var seen = Set<UInt32>()
        for i in wire.indices {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var bad = wire
                bad[i] ^= mask
                let rc = responseCode(tpm.contextLoad(bad))
                XCTAssertNotEqual(rc, 0, "byte \(i) ^ \(mask) loaded")
                seen.insert(rc)
                if rc == 0 { XCTAssertEqual(responseCode(tpm.flushContext(0x8000_0000)), 0) }
            }
        }
        // INTEGRITY, SIZE, VALUE (handle/hierarchy types), INSUFFICIENT (+P1), or TPM_RC_SIZE for
        // bytes left over when the blob size shrinks; nothing else.
        XCTAssertTrue(seen.isSubset(of: [0x1DF, 0x1D5, 0x1C4, 0x1DA, 0x95]), "\(seen)")
        XCTAssertTrue(seen.contains(0x1DF))
        // Every truncation, and a trailing byte.
        for n in 0..<wire.count { XCTAssertNotEqual(responseCode(tpm.contextLoad(Array(wire[0..<n]))), 0) }
        XCTAssertEqual(responseCode(tpm.contextLoad(wire + [0])), 0x95)
        // The untouched context still loads.
        XCTAssertEqual(responseCode(tpm.contextLoad(wire)), 0)
    }

    func testContextFromAnotherTPMIsRejected() throws {
        let a = startedTPM(seed: 1)
        let b = startedTPM(seed: 2)
        let ctx = try a.savedContext(responseHandle(a.startSequence(alg: .sha256)))
        XCTAssertEqual(responseCode(b.contextLoad(ctx)), 0x1DF)
    }

    func testResetInvalidatesRestartAndResumeKeep() throws {
        let tpm = startedTPM()
        let h = responseHandle(tpm.startSequence(alg: .sha256))
        XCTAssertEqual(responseCode(tpm.update(h, Array("abcd".utf8))), 0)
        let ctx = try tpm.savedContext(h)

        // TPM Resume: Shutdown(STATE), Startup(STATE).
        tpm.shutdown(.state)
        tpm.powerOff()
        tpm.powerOn()
        XCTAssertEqual(tpm.startup(.state), 0)
        XCTAssertEqual(responseCode(tpm.contextLoad(ctx)), 0)
        // The context counter survived: the next save continues after 1.
        XCTAssertEqual(try tpm.savedContext(TPMHandle(0x8000_0000)).sequence, 2)

        // TPM Restart: Shutdown(STATE), Startup(CLEAR).
        tpm.shutdown(.state)
        tpm.powerOff()
        tpm.powerOn()
        XCTAssertEqual(tpm.startup(.clear), 0)
        let r = tpm.contextLoad(ctx)
        XCTAssertEqual(responseCode(r), 0)
        XCTAssertEqual(try digestAndTicket(tpm.complete(responseHandle(r), [])).0, independentDigest(.sha256, Array("abcd".utf8)))

        // TPM Reset: nullProof and the reset epoch change, so the NULL-hierarchy context dies.
        tpm.shutdown(.clear)
        tpm.powerOff()
        tpm.powerOn()
        XCTAssertEqual(tpm.startup(.clear), 0)
        XCTAssertEqual(responseCode(tpm.contextLoad(ctx)), 0x1DF)
        // And the context counter starts again.
        XCTAssertEqual(try tpm.savedContext(responseHandle(tpm.startSequence(alg: .sha1))).sequence, 1)
    }

    func testContextSaveEndsOrderlyShutdownState() throws {
        let tpm = startedTPM()
        let h = responseHandle(tpm.startSequence(alg: .sha256))
        tpm.shutdown(.state)
        XCTAssertEqual(responseCode(tpm.contextSave(h)), 0)
        tpm.powerOff()
        tpm.powerOn()
        // The saved STATE no longer matches the context counter: Startup(STATE) is refused.
        XCTAssertEqual(tpm.startup(.state), 0x1C4)
    }

    func testDisabledHierarchyAndMismatchedObject() throws {
        let tpm = startedTPM()
        let object = TransientObject.sequence(SequenceObject(kind: .hash(ExportableHasher(.sha256)), authValue: []))
        // A context under the owner hierarchy (the one a key would have).
        let ctx = try tpm.protectContext(sequence: 9, savedHandle: .savedSequence, hierarchy: .owner, contents: object.encoded)
        tpm.volatile.startupClear.remove(.shEnable)
        XCTAssertEqual(responseCode(tpm.contextLoad(ctx)), 0x1C5)
        tpm.volatile.startupClear.insert(.shEnable)
        // Enabled, its integrity holds, but a sequence object is never in the owner hierarchy.
        XCTAssertEqual(responseCode(tpm.contextLoad(ctx)), 0x1DF)
        // A well-protected session context: no session has ever been saved.
        let session = try tpm.protectContext(sequence: 3, savedHandle: TPMHandle(0x0200_0000), hierarchy: .null, contents: [])
        XCTAssertEqual(responseCode(tpm.contextLoad(session)), 0x1CB)
    }

    /// Codes recorded from swtpm 0.7.1 / libtpms 0.9.2 for the same kinds of input.
    func testErrorCodesMatchSwtpm() throws {
        let tpm = startedTPM()
        let h = responseHandle(tpm.startSequence(alg: .sha256))
        let good = try tpm.savedContext(h)
        func variant(_ edit: (inout TPMSContext) -> Void) -> UInt32 {
            var c = good
            edit(&c)
            return responseCode(tpm.contextLoad(c))
        }
        XCTAssertEqual(variant { $0.savedHandle = TPMHandle(0x8000_0000) }, 0x1DF)
        XCTAssertEqual(variant { $0.savedHandle = TPMHandle(0x8000_0002) }, 0x1DF)
        XCTAssertEqual(variant { $0.savedHandle = TPMHandle(0x8000_0003) }, 0x1C4)
        XCTAssertEqual(variant { $0.savedHandle = TPMHandle(0x0200_0000) }, 0x1DF)
        XCTAssertEqual(variant { $0.savedHandle = TPMHandle(0x0200_003F) }, 0x1DF)
        XCTAssertEqual(variant { $0.savedHandle = TPMHandle(0x0200_0040) }, 0x1C4)
        XCTAssertEqual(variant { $0.savedHandle = TPMHandle(0x0300_0040) }, 0x1C4)
        XCTAssertEqual(variant { $0.savedHandle = TPMHandle(0x8100_0000) }, 0x1C4)
        XCTAssertEqual(variant { $0.hierarchy = .owner }, 0x1DF)
        XCTAssertEqual(variant { $0.hierarchy = .lockout }, 0x1C4)
        XCTAssertEqual(variant { $0.sequence += 1 }, 0x1DF)
        XCTAssertEqual(variant { $0.contextBlob = TPM2BContextData([]) }, 0x1D5)
        XCTAssertEqual(variant { $0.contextBlob = TPM2BContextData([0, 64] + [UInt8](repeating: 0, count: 64)) }, 0x1D5)
        // Past TPM2B_CONTEXT_DATA's bound (2748 as in libtpms): TPM_RC_SIZE + P1.
        var w = TPMWriter()
        w.u64(1)
        w.u32(0x8000_0001)
        w.u32(TPMHandle.null.rawValue)
        let header = w.bytes
        XCTAssertEqual(responseCode(tpm.contextLoad(header + [0x0A, 0xBD] + [UInt8](repeating: 0, count: 2749))), 0x1D5)
        XCTAssertEqual(responseCode(tpm.contextLoad(header + [0x0A, 0x00] + [UInt8](repeating: 0, count: 10))), 0x1DA)
        XCTAssertEqual(responseCode(tpm.contextLoad(Array(header.prefix(10)))), 0x1DA)

        // ContextSave: handle types, ranges, what is loaded.
        XCTAssertEqual(responseCode(tpm.contextSave(TPMHandle(0x8000_0007))), 0x184)
        XCTAssertEqual(responseCode(tpm.contextSave(.owner)), 0x184)
        XCTAssertEqual(responseCode(tpm.contextSave(TPMHandle(0x8100_0000))), 0x184)
        XCTAssertEqual(responseCode(tpm.contextSave(TPMHandle(0x8000_0001))), 0x910)
        XCTAssertEqual(responseCode(tpm.contextSave(TPMHandle(0x0200_0000))), 0x910)

        // ContextSave's response has libtpms's shape up to the blob.
        let r = tpm.contextSave(h)
        XCTAssertEqual(Array(r[0..<2]), [0x80, 0x01])
        XCTAssertEqual(Array(r[6..<26]), hex("00000000" + "0000000000000002" + "80000001" + "40000007"))
    }

    func testFlushContext() {
        let tpm = startedTPM()
        let h = responseHandle(tpm.startSequence(alg: .sha256))
        XCTAssertEqual(tpm.flushContext(0x8000_0001), hex("80010000000a000001cb"))
        XCTAssertEqual(responseCode(tpm.flushContext(0x8000_0009)), 0x1C4)
        XCTAssertEqual(responseCode(tpm.flushContext(0x4000_0001)), 0x1C4)
        XCTAssertEqual(responseCode(tpm.flushContext(0x8100_0001)), 0x1C4)
        XCTAssertEqual(responseCode(tpm.flushContext(0x0200_0000)), 0x1CB)
        XCTAssertEqual(responseCode(tpm.flushContext(0x0300_0001)), 0x1CB)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.flushContext, [0x80, 0]))), 0x1DA)
        XCTAssertEqual(responseCode(tpm.execute(command: command(.flushContext, [0x80, 0, 0, 0, 0]))), 0x95)
        XCTAssertEqual(tpm.flushContext(h.rawValue), hex("80010000000a00000000"))
        XCTAssertEqual(tpm.flushContext(h.rawValue), hex("80010000000a000001cb"))
        XCTAssertEqual(responseCode(tpm.update(h, [])), 0x910)
    }

    func testObjectEncodingRoundTripsAndRejectsGarbage() {
        var seq = SequenceObject(
            kind: .hash(ExportableHasher(.sha384)), authValue: [1, 2, 3], firstBlockChecked: true, ticketAllowed: true)
        if case .hash(var h) = seq.kind {
            h.update((0..<300).map { UInt8(truncatingIfNeeded: $0) })
            seq.kind = .hash(h)
        }
        let event = SequenceObject(kind: .event([.sha1, .sha256, .sha384, .sha512].map { ExportableHasher($0) }), authValue: [])
        for object in [TransientObject.sequence(seq), .sequence(event)] {
            let bytes = object.encoded
            XCTAssertEqual(TransientObject(encoded: bytes)?.encoded, bytes)
            XCTAssertNil(TransientObject(encoded: bytes + [0]))
            for n in 0..<bytes.count { XCTAssertNil(TransientObject(encoded: Array(bytes[0..<n]))) }
        }
        // Random input never traps.
        var g = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let n = Int.random(in: 0..<120, using: &g)
            var b = (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
            if b.count > 1 {
                b[0] = 1
                b[1] = UInt8.random(in: 1...2, using: &g)
            }
            _ = TransientObject(encoded: b)
        }
    }
}
