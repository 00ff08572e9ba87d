import TPMEngine
import TPMWire

/// The instances the engine targets start from.
public enum Setups {
    public static let owner: UInt32 = 0x4000_0001
    public static let null: UInt32 = 0x4000_0007

    /// Runs a setup command; a failure is a bug in the harness or the engine.
    @discardableResult
    public static func run(_ tpm: TPM, _ cmd: [UInt8], _ what: String) -> [UInt8] {
        let r = tpm.execute(command: cmd)
        Wire.checkResponse(r, command: cmd)
        guard Wire.responseCode(r) == 0 else {
            fuzzFailure("setup \(what) failed: 0x\(String(Wire.responseCode(r), radix: 16))")
        }
        return r
    }

    /// A manufactured, powered-on TPM after Startup(CLEAR).
    public static func started(_ world: FuzzWorld) -> TPM {
        let tpm = TPM(environment: world.environment)
        tpm.powerOn()
        run(tpm, Wire.command(.startup, [0, 0]), "Startup")
        return tpm
    }

    /// TPMT_PUBLIC of an ECC P-256 key with SHA-256 names.
    static func eccPublic(attributes: UInt32, restrictedStorage: Bool) -> [UInt8] {
        var w = TPMWriter()
        w.u16(0x0023)  // TPM_ALG_ECC
        w.u16(0x000B)  // nameAlg SHA-256
        w.u32(attributes)
        w.u16(0)  // authPolicy
        if restrictedStorage {
            w.u16(0x0006)  // AES
            w.u16(128)
            w.u16(0x0043)  // CFB
            w.u16(0x0010)  // scheme NULL
        } else {
            w.u16(0x0010)  // symmetric NULL
            w.u16(0x0018)  // ECDSA
            w.u16(0x000B)  // SHA-256
        }
        w.u16(0x0003)  // NIST P-256
        w.u16(0x0010)  // kdf NULL
        w.u16(0)  // unique.x
        w.u16(0)  // unique.y
        return w.bytes
    }

    static func sized(_ b: [UInt8]) -> [UInt8] {
        var w = TPMWriter()
        w.sized(b)
        return w.bytes
    }

    /// Skips the header and parameterSize of a TPM_ST_SESSIONS response and returns a reader
    /// over the parameters.
    static func parameters(_ r: [UInt8], handles: Int) -> TPMReader {
        var rd = TPMReader(r)
        do {
            _ = try rd.bytes(10 + 4 * handles)
            let size = Int(try rd.u32())
            return try rd.subReader(size)
        } catch {
            fuzzFailure("setup: malformed response \(hex(r.prefix(64)))")
        }
    }

    /// A started TPM with: an ECC storage primary in the owner hierarchy (0x80000000, also
    /// made persistent at 0x81000001), an ECDSA signing child loaded under it (0x80000001), an
    /// HMAC session and a policy session (unbound, unsalted), an ordinary NV index 0x01000001
    /// (32 bytes, written) and a counter index 0x01000002 (incremented); a PCR extended.
    /// Empty auth values everywhere, so mutated commands with password sessions get far.
    public static func loaded(_ world: FuzzWorld) -> TPM {
        let tpm = started(world)
        // CreatePrimary (Part 3, 24.1): storage parent.
        var inSensitive = TPMWriter()
        inSensitive.u16(0)  // userAuth
        inSensitive.u16(0)  // data
        let primaryParams =
            sized(inSensitive.bytes) + sized(eccPublic(attributes: 0x0003_0072, restrictedStorage: true)) + [0, 0]
            + [0, 0, 0, 0]
        run(
            tpm,
            Wire.command(.createPrimary, tag: .sessions, Wire.withPasswords(handles: [owner], passwords: [[]], params: primaryParams)),
            "CreatePrimary")
        let primary: UInt32 = 0x8000_0000
        // Create + Load: an ECDSA signing key.
        let createParams =
            sized(inSensitive.bytes) + sized(eccPublic(attributes: 0x0004_0072, restrictedStorage: false)) + [0, 0] + [0, 0, 0, 0]
        let created = run(
            tpm, Wire.command(.create, tag: .sessions, Wire.withPasswords(handles: [primary], passwords: [[]], params: createParams)),
            "Create")
        var p = parameters(created, handles: 0)
        let outPrivate: [UInt8]
        let outPublic: [UInt8]
        do {
            outPrivate = try p.sized(max: 4096)
            outPublic = try p.sized(max: 4096)
        } catch { fuzzFailure("setup: Create response") }
        run(
            tpm,
            Wire.command(
                .load, tag: .sessions, Wire.withPasswords(handles: [primary], passwords: [[]], params: sized(outPrivate) + sized(outPublic))
            ),
            "Load")
        // EvictControl (Part 3, 28.5): the primary also persistent.
        run(
            tpm,
            Wire.command(
                .evictControl, tag: .sessions, Wire.withPasswords(handles: [owner, primary], passwords: [[]], params: [0x81, 0, 0, 1])),
            "EvictControl")
        // StartAuthSession (Part 3, 11.1): HMAC then policy, SHA-256, no symmetric.
        for type: UInt8 in [0x00, 0x01] {
            var w = TPMWriter()
            w.u32(null)  // tpmKey
            w.u32(null)  // bind
            w.sized([UInt8](repeating: 0xA5, count: 16))  // nonceCaller
            w.u16(0)  // encryptedSalt
            w.u8(type)
            w.u16(0x0010)  // symmetric NULL
            w.u16(0x000B)  // authHash
            run(tpm, Wire.command(.startAuthSession, w.bytes), "StartAuthSession")
        }
        // NV_DefineSpace (Part 3, 31.3): an ordinary and a counter index.
        for (index, type, size) in [(UInt32(0x0100_0001), UInt32(0x00), UInt16(32)), (0x0100_0002, 0x10, 8)] {
            var pub = TPMWriter()
            pub.u32(index)
            pub.u16(0x000B)
            // OWNERWRITE | AUTHWRITE | OWNERREAD | AUTHREAD, TPM_NT in bits 4..7.
            pub.u32(0x0006_0006 | type)
            pub.u16(0)
            pub.u16(size)
            let params = sized([]) + sized(pub.bytes)
            run(
                tpm, Wire.command(.nvDefineSpace, tag: .sessions, Wire.withPasswords(handles: [owner], passwords: [[]], params: params)),
                "NV_DefineSpace")
        }
        let data = sized([UInt8](repeating: 0x5A, count: 32)) + [0, 0]
        run(
            tpm,
            Wire.command(
                .nvWrite, tag: .sessions, Wire.withPasswords(handles: [0x0100_0001, 0x0100_0001], passwords: [[]], params: data)),
            "NV_Write")
        run(
            tpm,
            Wire.command(
                .nvIncrement, tag: .sessions, Wire.withPasswords(handles: [0x0100_0002, 0x0100_0002], passwords: [[]], params: [])),
            "NV_Increment")
        // PCR_Extend (Part 3, 22.2): PCR 16, SHA-256.
        var ext = TPMWriter()
        ext.u32(1)
        ext.u16(0x000B)
        ext.bytes([UInt8](repeating: 0x11, count: 32))
        run(
            tpm, Wire.command(.pcrExtend, tag: .sessions, Wire.withPasswords(handles: [16], passwords: [[]], params: ext.bytes)),
            "PCR_Extend")
        return tpm
    }
}
