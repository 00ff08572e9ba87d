import TPMEngine
import TPMWire
import X509

/// What swtpm_setup does to a new TPM for libvirt (`--createek --create-ek-cert
/// --create-platform-cert --lock-nvram`), done with TPM commands against the instance:
/// endorsement keys from the TCG EK Credential Profile's templates made persistent at the
/// standard handles, their certificates (signed by the host's `LocalCA`) in the standard NV
/// indices, a platform certificate, and optionally the indices write-locked.
public enum EKProvisioning {
    public struct Options: Sendable {
        public var rsa = true
        /// An ECC NIST P-384 EK (swtpm_setup `--ecc`).
        public var ecc = false
        public var ekCertificates = true
        public var platformCertificate = true
        public var lockNV = true
        public init() {}
    }

    // TCG EK Credential Profile 2.x: persistent handles and NV indices.
    public static let rsaEKHandle: UInt32 = 0x8101_0001
    public static let eccEKHandle: UInt32 = 0x8101_0016
    public static let rsaEKCertIndex: UInt32 = 0x01C0_0002
    public static let eccEKCertIndex: UInt32 = 0x01C0_0016
    public static let platformCertIndex: UInt32 = 0x01C0_8000

    /// The policy of the low-range EK templates: PolicySecret(TPM_RH_ENDORSEMENT), SHA-256
    /// (TCG EK Credential Profile, template L-1).
    static let rsaEKPolicy: [UInt8] = hex("837197674484B3F81A90CC8D46A5D724FD52D76E06520B64F2A1DA1B331469AA")
    /// The SHA-384 policy of the high-range templates (PolicyOR of PolicySecret(endorsement)
    /// and PolicyAuthorizeNV; EK Credential Profile 2.x, template H-3).
    static let eccEKPolicy: [UInt8] = hex(
        "B26E7D28D11A50BC53D882BCF5FD3A1A074148BB35D3B4E4CB1C0AD9BDE419CACB47BA09699646150F9FC000F3F80E12")

    // TPMA_NV bits of the certificate indices: PPWRITE, WRITEDEFINE, PPREAD, OWNERREAD,
    // AUTHREAD, NO_DA, PLATFORMCREATE (what swtpm_setup sets, so clients find the same).
    static let certificateNVAttributes: UInt32 = 1 << 0 | 1 << 13 | 1 << 16 | 1 << 17 | 1 << 18 | 1 << 25 | 1 << 30

    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    /// Provisions a powered, started TPM. Returns one line per thing made (for logs).
    @discardableResult
    public static func provision(_ core: InstanceCore, ca: LocalCA?, options: Options) throws -> [String] {
        var done: [String] = []
        let identity = try tpmIdentity(core)
        var firstKey: LocalCA.EndorsementKey?
        for isECC in [false, true] where isECC ? options.ecc : options.rsa {
            let (handle, key) = try createPrimaryEK(core, ecc: isECC)
            let persistent = isECC ? eccEKHandle : rsaEKHandle
            _ = try run(core, .evictControl, handles: [TPMHandle.owner.rawValue, handle], auths: 1, params: u32(persistent))
            _ = try run(core, .flushContext, handles: [], auths: 0, params: u32(handle))
            done.append("\(isECC ? "ECC P-384" : "RSA 2048") EK at persistent handle 0x\(String(persistent, radix: 16))")
            if firstKey == nil { firstKey = key }
            if options.ekCertificates, let ca {
                let cert = try ca.issueEKCertificate(for: key, identity: identity)
                let index = isECC ? eccEKCertIndex : rsaEKCertIndex
                try writeNV(core, index: index, data: try derBytes(cert), lock: options.lockNV)
                done.append("EK certificate in NV index 0x0\(String(index, radix: 16))")
            }
        }
        if options.platformCertificate, let ca, let key = firstKey {
            let cert = try ca.issuePlatformCertificate(for: key, identity: identity)
            try writeNV(core, index: platformCertIndex, data: try derBytes(cert), lock: options.lockNV)
            done.append("platform certificate in NV index 0x0\(String(platformCertIndex, radix: 16))")
        }
        return done
    }

    static func derBytes(_ cert: Certificate) throws -> [UInt8] {
        let pem = try cert.serializeAsPEM()
        return pem.derBytes
    }

    // MARK: templates

    /// CreatePrimary(TPM_RH_ENDORSEMENT) with the EK template; the transient handle and key.
    static func createPrimaryEK(_ core: InstanceCore, ecc: Bool) throws -> (UInt32, LocalCA.EndorsementKey) {
        var t = TPMWriter(capacity: 400)
        if ecc {
            t.u16(TPMAlgID.ecc.rawValue)
            t.u16(TPMAlgID.sha384.rawValue)
            // fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, adminWithPolicy,
            // restricted, decrypt.
            t.u32(0x0003_00F2)
            t.u16(UInt16(eccEKPolicy.count))
            t.bytes(eccEKPolicy)
            t.u16(TPMAlgID.aes.rawValue)
            t.u16(256)
            t.u16(TPMAlgID.cfb.rawValue)
            t.u16(TPMAlgID.null.rawValue)  // scheme
            t.u16(0x0004)  // TPM_ECC_NIST_P384
            t.u16(TPMAlgID.null.rawValue)  // kdf
            t.u16(0)  // unique.x: empty (high-range template)
            t.u16(0)  // unique.y
        } else {
            t.u16(TPMAlgID.rsa.rawValue)
            t.u16(TPMAlgID.sha256.rawValue)
            // fixedTPM, fixedParent, sensitiveDataOrigin, adminWithPolicy, restricted, decrypt.
            t.u32(0x0003_00B2)
            t.u16(UInt16(rsaEKPolicy.count))
            t.bytes(rsaEKPolicy)
            t.u16(TPMAlgID.aes.rawValue)
            t.u16(128)
            t.u16(TPMAlgID.cfb.rawValue)
            t.u16(TPMAlgID.null.rawValue)  // scheme
            t.u16(2048)
            t.u32(0)  // exponent: the default 65537
            t.u16(256)  // unique: 256 zero bytes (template L-1)
            t.bytes([UInt8](repeating: 0, count: 256))
        }
        var p = TPMWriter(capacity: 512)
        p.u16(4)  // inSensitive: TPM2B of {userAuth empty, data empty}
        p.u16(0)
        p.u16(0)
        p.u16(UInt16(t.bytes.count))
        p.bytes(t.bytes)
        p.u16(0)  // outsideInfo
        p.u32(0)  // creationPCR: none
        let (handle, out) = try runWithHandle(core, .createPrimary, handles: [TPMHandle.endorsement.rawValue], params: p.bytes)
        // outPublic: TPM2B_PUBLIC.
        var r = TPMReader(out)
        _ = try r.u16()
        let type = try r.u16()
        _ = try r.u16()  // nameAlg
        _ = try r.u32()  // attributes
        _ = try r.bytes(Int(try r.u16()))  // authPolicy
        if type == TPMAlgID.ecc.rawValue {
            _ = try r.u16()
            _ = try r.u16()
            _ = try r.u16()  // symmetric
            _ = try r.u16()  // scheme
            _ = try r.u16()  // curve
            _ = try r.u16()  // kdf
            let x = try r.bytes(Int(try r.u16()))
            let y = try r.bytes(Int(try r.u16()))
            return (handle, .ecc(bits: 384, x: x, y: y))
        }
        _ = try r.u16()
        _ = try r.u16()
        _ = try r.u16()  // symmetric
        _ = try r.u16()  // scheme
        _ = try r.u16()  // keyBits
        let exponent = try r.u32()
        let modulus = try r.bytes(Int(try r.u16()))
        return (handle, .rsa(modulus: modulus, exponent: exponent))
    }

    // MARK: NV

    /// NV_DefineSpace + NV_Write (1024-byte chunks) + NV_WriteLock, all with platform auth.
    static func writeNV(_ core: InstanceCore, index: UInt32, data: [UInt8], lock: Bool) throws {
        var pub = TPMWriter(capacity: 16)
        pub.u32(index)
        pub.u16(TPMAlgID.sha256.rawValue)
        pub.u32(certificateNVAttributes)
        pub.u16(0)  // authPolicy
        pub.u16(UInt16(data.count))
        var p = TPMWriter(capacity: 32)
        p.u16(0)  // auth
        p.u16(UInt16(pub.bytes.count))
        p.bytes(pub.bytes)
        _ = try run(core, .nvDefineSpace, handles: [TPMHandle.platform.rawValue], auths: 1, params: p.bytes)
        var offset = 0
        while offset < data.count {
            let chunk = Array(data[offset..<min(data.count, offset + 1024)])
            var w = TPMWriter(capacity: chunk.count + 8)
            w.u16(UInt16(chunk.count))
            w.bytes(chunk)
            w.u16(UInt16(offset))
            _ = try run(core, .nvWrite, handles: [TPMHandle.platform.rawValue, index], auths: 1, params: w.bytes)
            offset += chunk.count
        }
        if lock {
            _ = try run(core, .nvWriteLock, handles: [TPMHandle.platform.rawValue, index], auths: 1, params: [])
        }
    }

    /// The contents of an NV index (NV_ReadPublic for its size, NV_Read with platform auth).
    public static func readNV(_ core: InstanceCore, index: UInt32) throws -> [UInt8] {
        let pub = try run(core, .nvReadPublic, handles: [index], auths: 0, params: [])
        var r = TPMReader(pub)
        _ = try r.u16()  // size of TPMS_NV_PUBLIC
        _ = try r.u32()  // nvIndex
        _ = try r.u16()  // nameAlg
        _ = try r.u32()  // attributes
        _ = try r.bytes(Int(try r.u16()))  // authPolicy
        let size = Int(try r.u16())
        var data: [UInt8] = []
        while data.count < size {
            var p = TPMWriter(capacity: 4)
            p.u16(UInt16(min(1024, size - data.count)))
            p.u16(UInt16(data.count))
            let out = try run(core, .nvRead, handles: [TPMHandle.platform.rawValue, index], auths: 1, params: p.bytes)
            var rr = TPMReader(out)
            let chunk = try rr.bytes(Int(try rr.u16()))
            guard !chunk.isEmpty else { break }
            data += chunk
        }
        return data
    }

    // MARK: identity

    static func tpmIdentity(_ core: InstanceCore) throws -> LocalCA.TPMIdentity {
        var p = TPMWriter(capacity: 12)
        p.u32(6)  // TPM_CAP_TPM_PROPERTIES
        p.u32(TPMPT.manufacturer.rawValue)
        p.u32(7)
        let out = try run(core, .getCapability, handles: [], auths: 0, params: p.bytes)
        var r = TPMReader(out)
        _ = try r.u8()  // moreData
        _ = try r.u32()  // capability
        var values: [UInt32: UInt32] = [:]
        for _ in 0..<(try r.u32()) {
            let property = try r.u32()
            values[property] = try r.u32()
        }
        var model = ""
        for pt in TPMPT.vendorString1.rawValue...(TPMPT.vendorString1.rawValue + 3) {
            let v = values[pt] ?? 0
            for shift in stride(from: 24, through: 0, by: -8) {
                let c = UInt8(v >> UInt32(shift) & 0xFF)
                if c != 0 { model.append(Character(UnicodeScalar(c))) }
            }
        }
        return LocalCA.TPMIdentity(
            manufacturer: values[TPMPT.manufacturer.rawValue] ?? 0, model: model,
            firmwareVersion: values[TPMPT.firmwareVersion1.rawValue] ?? 0)
    }

    // MARK: commands

    static func u32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    /// Runs a command whose first `auths` handles are authorized by empty passwords; returns
    /// the response parameters (after the parameterSize field when sessions are used).
    static func run(_ core: InstanceCore, _ cc: TPMCC, handles: [UInt32], auths: Int, params: [UInt8]) throws -> [UInt8] {
        let response = core.execute(command(cc, handles: handles, auths: auths, params: params))
        let rc = Provisioning.rc(response)
        guard rc == 0 else { throw ManagementError("\(cc) failed with 0x\(String(rc, radix: 16))") }
        return Array(response.dropFirst(auths > 0 ? 14 : 10))
    }

    /// Runs a command that returns a handle (CreatePrimary): the handle and the parameters.
    static func runWithHandle(_ core: InstanceCore, _ cc: TPMCC, handles: [UInt32], params: [UInt8]) throws -> (UInt32, [UInt8]) {
        let response = core.execute(command(cc, handles: handles, auths: handles.count, params: params))
        let rc = Provisioning.rc(response)
        guard rc == 0, response.count >= 18 else { throw ManagementError("\(cc) failed with 0x\(String(rc, radix: 16))") }
        let handle = response[10..<14].reduce(0) { $0 << 8 | UInt32($1) }
        return (handle, Array(response.dropFirst(18)))
    }

    static func command(_ cc: TPMCC, handles: [UInt32], auths: Int, params: [UInt8]) -> [UInt8] {
        var w = TPMWriter(capacity: 64 + params.count)
        w.u16(auths > 0 ? TPMST.sessions.rawValue : TPMST.noSessions.rawValue)
        w.u32(0)
        w.u32(cc.rawValue)
        for h in handles { w.u32(h) }
        if auths > 0 {
            w.u32(UInt32(9 * auths))
            for _ in 0..<auths {
                w.u32(TPMHandle.passwordSession.rawValue)
                w.u16(0)
                w.u8(0)
                w.u16(0)
            }
        }
        w.bytes(params)
        var bytes = w.bytes
        let n = u32(UInt32(bytes.count))
        bytes.replaceSubrange(2..<6, with: n)
        return bytes
    }
}
