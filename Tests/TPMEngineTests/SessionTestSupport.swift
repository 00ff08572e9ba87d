import Crypto
import Foundation
import TPMEngine
import TPMWire
import XCTest

/// The session arithmetic of Part 1 (19.6, 21) written again from the specification, with
/// swift-crypto for hashes and HMAC and OpenSSL's command line for AES-CFB: nothing here
/// calls the engine's own KDF, HMAC, cipher or cpHash code, so the tests compare the engine
/// with an independent implementation.
enum Spec {
    static func hash(_ alg: TPMAlgID, _ parts: [UInt8]...) -> [UInt8] { hash(alg, parts) }

    static func hash(_ alg: TPMAlgID, _ parts: [[UInt8]]) -> [UInt8] {
        let data = parts.flatMap { $0 }
        switch alg {
        case .sha1: return Array(Insecure.SHA1.hash(data: data))
        case .sha384: return Array(SHA384.hash(data: data))
        case .sha512: return Array(SHA512.hash(data: data))
        default: return Array(SHA256.hash(data: data))
        }
    }

    static func hmac(_ alg: TPMAlgID, key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        let k = SymmetricKey(data: key)
        switch alg {
        case .sha1: return Array(HMAC<Insecure.SHA1>.authenticationCode(for: data, using: k))
        case .sha384: return Array(HMAC<SHA384>.authenticationCode(for: data, using: k))
        case .sha512: return Array(HMAC<SHA512>.authenticationCode(for: data, using: k))
        default: return Array(HMAC<SHA256>.authenticationCode(for: data, using: k))
        }
    }

    static func digestSize(_ alg: TPMAlgID) -> Int { hash(alg, []).count }

    static func u32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    static func u16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func b2(_ b: [UInt8]) -> [UInt8] { u16(UInt16(b.count)) + b }

    /// KDFa (Part 1, 11.4.10.2), bits a multiple of 8 here.
    static func kdfa(_ alg: TPMAlgID, key: [UInt8], label: String, _ u: [UInt8], _ v: [UInt8], bits: Int) -> [UInt8] {
        var out: [UInt8] = []
        var i: UInt32 = 1
        while out.count * 8 < bits {
            out += hmac(alg, key: key, u32(i) + Array(label.utf8) + [0] + u + v + u32(UInt32(bits)))
            i += 1
        }
        return Array(out.prefix(bits / 8))
    }

    /// AES-CFB128 by `openssl enc`.
    static func aesCFB(key: [UInt8], iv: [UInt8], _ data: [UInt8], decrypt: Bool) -> [UInt8] {
        if data.isEmpty { return [] }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        let hex = { (b: [UInt8]) in b.map { String(format: "%02x", $0) }.joined() }
        p.arguments = ["enc", "-aes-\(key.count * 8)-cfb", "-K", hex(key), "-iv", hex(iv), "-nosalt"] + (decrypt ? ["-d"] : [])
        let input = Pipe()
        let output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        try? p.run()
        input.fileHandleForWriting.write(Data(data))
        try? input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return [UInt8](out)
    }

    /// Parameter encryption (Part 1, 21): CFB with KDFa(authHash, key, "CFB", newer, older)
    /// or XOR with KDFa(authHash, key, "XOR", newer, older).
    static func cipher(_ s: ClientSession, key: [UInt8], newer: [UInt8], older: [UInt8], _ data: [UInt8], decrypt: Bool) -> [UInt8] {
        switch s.symmetric {
        case .xor:
            let mask = kdfa(s.alg, key: key, label: "XOR", newer, older, bits: 8 * data.count)
            return zip(data, mask).map { $0 ^ $1 }
        case .aes(let bits):
            let m = kdfa(s.alg, key: key, label: "CFB", newer, older, bits: bits + 128)
            return aesCFB(key: Array(m[0..<(bits / 8)]), iv: Array(m[(bits / 8)...]), data, decrypt: decrypt)
        case .null:
            return data
        }
    }
}

/// A session as the caller keeps it.
final class ClientSession {
    enum Symmetric {
        case null
        case aes(Int)
        case xor(TPMAlgID)
        var wire: [UInt8] {
            switch self {
            case .null: return Spec.u16(0x10)
            case .aes(let bits): return Spec.u16(0x06) + Spec.u16(UInt16(bits)) + Spec.u16(0x43)
            case .xor(let h): return Spec.u16(0x0A) + Spec.u16(h.rawValue)
            }
        }
    }
    var handle: TPMHandle
    let alg: TPMAlgID
    var nonceCaller: [UInt8]
    var nonceTPM: [UInt8]
    let sessionKey: [UInt8]
    let symmetric: Symmetric
    /// The bind entity's Name and authValue (HMAC sessions).
    var bound: ([UInt8], [UInt8])?
    let isPolicy: Bool
    var authValueNeeded = false
    var passwordNeeded = false

    init(
        handle: TPMHandle, alg: TPMAlgID, nonceCaller: [UInt8], nonceTPM: [UInt8], sessionKey: [UInt8], symmetric: Symmetric,
        bound: ([UInt8], [UInt8])?, isPolicy: Bool
    ) {
        self.handle = handle
        self.alg = alg
        self.nonceCaller = nonceCaller
        self.nonceTPM = nonceTPM
        self.sessionKey = sessionKey
        self.symmetric = symmetric
        self.bound = bound
        self.isPolicy = isPolicy
    }
}

/// An entity a session authorizes: its handle, Name and authValue.
struct Entity {
    var handle: TPMHandle
    var name: [UInt8]
    var auth: [UInt8]
    init(_ handle: TPMHandle, auth: [UInt8] = [], name: [UInt8]? = nil) {
        self.handle = handle
        self.auth = auth
        self.name = name ?? Spec.u32(handle.rawValue)
    }
}

/// One session of a command: a loaded session (nil: the password session), its attributes,
/// and the entity it authorizes.
struct SessionUse {
    var session: ClientSession?
    var attributes: UInt8 = 0x01
    var entity: Entity?
    var password: [UInt8] = []
    /// Sent instead of the right HMAC.
    var hmac: [UInt8]?
}

struct SessionResponse {
    var code: UInt32
    var handle: TPMHandle?
    /// The response parameters, decrypted.
    var parameters: [UInt8]
    var attributes: [UInt8] = []
    var hmacs: [[UInt8]] = []
}

/// A fixed-looking but distinct nonce for each use.
private final class NonceSource: @unchecked Sendable {
    static let shared = NonceSource()
    private var counter: UInt8 = 0
    private let lock = NSLock()
    func next(_ n: Int) -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        counter &+= 1
        return (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(counter)) }
    }
}

extension TPM {
    /// TPM2_StartAuthSession from the caller's side; the session key is computed here.
    func startSession(
        type: UInt8 = 0, alg: TPMAlgID = .sha256, symmetric: ClientSession.Symmetric = .aes(128), bind: Entity? = nil,
        nonceSize: Int? = nil, file: StaticString = #filePath, line: UInt = #line
    ) -> ClientSession? {
        let nonce = NonceSource.shared.next(nonceSize ?? Spec.digestSize(alg))
        var w = TPMWriter()
        w.u32(TPMHandle.null.rawValue)
        w.u32(bind?.handle.rawValue ?? TPMHandle.null.rawValue)
        w.sized(nonce)
        w.sized([UInt8]())
        w.u8(type)
        w.bytes(symmetric.wire)
        w.u16(alg.rawValue)
        let r = execute(command: command(.startAuthSession, w.bytes))
        guard responseCode(r) == 0 else {
            XCTFail("StartAuthSession: \(String(responseCode(r), radix: 16))", file: file, line: line)
            return nil
        }
        let handle = TPMHandle(Spec.u32Value(r, 10))
        let n = Int(r[14]) << 8 | Int(r[15])
        let nonceTPM = Array(r[16..<(16 + n)])
        var key: [UInt8] = []
        if let bind { key = Spec.kdfa(alg, key: bind.auth, label: "ATH", nonceTPM, nonce, bits: 8 * Spec.digestSize(alg)) }
        return ClientSession(
            handle: handle, alg: alg, nonceCaller: nonce, nonceTPM: nonceTPM, sessionKey: key, symmetric: symmetric,
            bound: type == 0 ? bind.map { ($0.name, $0.auth) } : nil, isPolicy: type != 0)
    }

    /// A command with sessions, built and checked by the caller's arithmetic: the first
    /// parameter encrypted for a decrypt session, HMACs over cpHash and the nonces; on success
    /// every response HMAC is verified (a mismatch fails the test) and the first response
    /// parameter decrypted.
    func run(
        _ cc: TPMCC, handles: [TPMHandle] = [], names: [[UInt8]]? = nil, _ params: [UInt8], _ uses: [SessionUse],
        responseHandle: Bool = false, locality: UInt8 = 0, responseAuth: [UInt8]? = nil, file: StaticString = #filePath,
        line: UInt = #line
    ) -> SessionResponse {
        let names = names ?? handles.map { Spec.u32($0.rawValue) }
        for u in uses { if let s = u.session { s.nonceCaller = NonceSource.shared.next(s.nonceCaller.count) } }
        let decrypt = uses.firstIndex { $0.session != nil && $0.attributes & 0x20 != 0 }
        let encrypt = uses.firstIndex { $0.session != nil && $0.attributes & 0x40 != 0 }
        var p = params
        if let d = decrypt, let s = uses[d].session, p.count >= 2 {
            let n = min(Int(p[0]) << 8 | Int(p[1]), p.count - 2)
            let key = s.sessionKey + (uses[d].entity?.auth ?? [])
            p.replaceSubrange(
                2..<(2 + n), with: Spec.cipher(s, key: key, newer: s.nonceCaller, older: s.nonceTPM, Array(p[2..<(2 + n)]), decrypt: false))
        }
        var includes: [Bool] = []
        var area: [UInt8] = []
        for (i, u) in uses.enumerated() {
            guard let s = u.session else {
                area += Spec.u32(TPMHandle.passwordSession.rawValue) + Spec.b2([]) + [u.attributes] + Spec.b2(u.hmac ?? u.password)
                includes.append(true)
                continue
            }
            var include = false
            if let e = u.entity {
                if s.isPolicy {
                    include = s.authValueNeeded || s.passwordNeeded
                } else {
                    include = !(s.bound.map { $0.0 == e.name && $0.1 == e.auth } ?? false)
                }
            }
            includes.append(include)
            let key = s.sessionKey + (include ? u.entity?.auth ?? [] : [])
            var extra: [UInt8] = []
            if i == 0 && u.entity != nil {
                if let d = decrypt, d != 0, let ds = uses[d].session { extra += ds.nonceTPM }
                if let e = encrypt, e != 0, e != decrypt, let es = uses[e].session { extra += es.nonceTPM }
            }
            let cpHash = Spec.hash(s.alg, [Spec.u32(cc.rawValue)] + names + [p])
            let mac: [UInt8]
            if let h = u.hmac {
                mac = h
            } else if s.isPolicy && s.passwordNeeded {
                mac = u.entity?.auth ?? []
            } else if key.isEmpty {
                mac = []
            } else {
                mac = Spec.hmac(s.alg, key: key, cpHash + s.nonceCaller + s.nonceTPM + extra + [u.attributes])
            }
            area += Spec.u32(s.handle.rawValue) + Spec.b2(s.nonceCaller) + [u.attributes] + Spec.b2(mac)
        }
        var body = handles.flatMap { Spec.u32($0.rawValue) }
        body += Spec.u32(UInt32(area.count)) + area + p
        let r = execute(locality: locality, command: command(cc, tag: .sessions, body))
        let code = responseCode(r)
        guard code == 0 else { return SessionResponse(code: code, parameters: []) }
        var off = 10
        var handle: TPMHandle?
        if responseHandle {
            handle = TPMHandle(Spec.u32Value(r, off))
            off += 4
        }
        let size = Int(Spec.u32Value(r, off))
        var out = Array(r[(off + 4)..<(off + 4 + size)])
        var a = off + 4 + size
        var result = SessionResponse(code: 0, handle: handle, parameters: [])
        for (i, u) in uses.enumerated() {
            let n = Int(r[a]) << 8 | Int(r[a + 1])
            let nonce = Array(r[(a + 2)..<(a + 2 + n)])
            a += 2 + n
            let attrs = r[a]
            a += 1
            let m = Int(r[a]) << 8 | Int(r[a + 1])
            let mac = Array(r[(a + 2)..<(a + 2 + m)])
            a += 2 + m
            result.attributes.append(attrs)
            result.hmacs.append(mac)
            guard let s = u.session else {
                XCTAssertEqual(nonce + [attrs] + mac, [1], "password session response", file: file, line: line)
                continue
            }
            XCTAssertEqual(nonce.count, s.nonceTPM.count, "nonceTPM keeps its size", file: file, line: line)
            XCTAssertNotEqual(nonce, s.nonceTPM, "nonceTPM rolls", file: file, line: line)
            s.nonceTPM = nonce
            // The response HMAC uses the entity's authValue after the command (a new one after
            // HierarchyChangeAuth).
            let key = s.sessionKey + (includes[i] ? responseAuth ?? u.entity?.auth ?? [] : [])
            let rpHash = Spec.hash(s.alg, Spec.u32(0), Spec.u32(cc.rawValue), out)
            if s.isPolicy && s.passwordNeeded {
                XCTAssertEqual(mac, [], "PolicyPassword response HMAC", file: file, line: line)
            } else if key.isEmpty && (u.hmac ?? []).isEmpty && mac.isEmpty {
                // An empty key and an empty HMAC: nothing to check.
            } else {
                XCTAssertEqual(
                    mac, Spec.hmac(s.alg, key: key, rpHash + s.nonceTPM + s.nonceCaller + [attrs]), "response HMAC \(i + 1)", file: file,
                    line: line)
            }
        }
        XCTAssertEqual(a, r.count, "response length", file: file, line: line)
        if let e = encrypt, let s = uses[e].session, out.count >= 2 {
            let n = min(Int(out[0]) << 8 | Int(out[1]), out.count - 2)
            let key = s.sessionKey + (uses[e].entity?.auth ?? [])
            out.replaceSubrange(
                2..<(2 + n), with: Spec.cipher(s, key: key, newer: s.nonceTPM, older: s.nonceCaller, Array(out[2..<(2 + n)]), decrypt: true)
            )
        }
        result.parameters = out
        return result
    }

    /// A policy command: the session handle, then the parameters.
    func policy(_ cc: TPMCC, _ s: ClientSession, _ params: [UInt8] = []) -> [UInt8] {
        execute(command: command(cc, Spec.u32(s.handle.rawValue) + params))
    }

    func policyDigest(_ s: ClientSession) -> [UInt8] {
        let r = policy(.policyGetDigest, s)
        XCTAssertEqual(responseCode(r), 0)
        return Array(r.dropFirst(12))
    }

    func flush(_ h: TPMHandle) -> UInt32 { responseCode(execute(command: command(.flushContext, Spec.u32(h.rawValue)))) }

    func property(_ pt: UInt32) -> UInt32 {
        let r = execute(command: command(.getCapability, Spec.u32(6) + Spec.u32(pt) + Spec.u32(1)))
        return Spec.u32Value(r, 23)
    }
}

extension Spec {
    static func u32Value(_ b: [UInt8], _ off: Int) -> UInt32 {
        guard b.count >= off + 4 else { return 0xFFFF_FFFF }
        return b[off..<(off + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }
}
