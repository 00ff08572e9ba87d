import TPMCrypto
import TPMWire

/// A command ready to marshal (Part 1, 18.2; Part 3, 4.x): the header, the handle area, the
/// authorization area when there are sessions, then the parameters.
public struct TPMCommand {
    public var code: TPMCC
    public var handles: [TPMHandle]
    /// The Names of `handles`, for HMAC sessions' cpHash (Part 1, 16: a permanent handle, PCR or
    /// session's Name is its handle; an object's is nameAlg || H(TPMT_PUBLIC)). Empty when no
    /// HMAC session is used.
    public var names: [[UInt8]]
    public var authorizations: [Authorization]
    public var parameters: [UInt8]

    public init(
        _ code: TPMCC, handles: [TPMHandle] = [], names: [[UInt8]] = [], authorizations: [Authorization] = [],
        parameters: [UInt8] = []
    ) {
        self.code = code
        self.handles = handles
        self.names = names
        self.authorizations = authorizations
        self.parameters = parameters
    }

    /// The nonceCaller of each session, chosen at marshalling and needed to check the response.
    public typealias Nonces = [[UInt8]]

    /// Marshals the command; `nonce` supplies each HMAC session's nonceCaller (fresh randomness
    /// in use, fixed bytes in tests).
    public func marshal(nonce: (Int) -> [UInt8] = { SystemEntropy.bytes($0) }) -> (bytes: [UInt8], nonces: Nonces) {
        var w = TPMWriter(capacity: 64 + parameters.count)
        w.u16((authorizations.isEmpty ? TPMST.noSessions : TPMST.sessions).rawValue)
        w.u32(0)  // size, patched below
        w.u32(code.rawValue)
        for h in handles { w.u32(h.rawValue) }
        var nonces: Nonces = []
        if !authorizations.isEmpty {
            var area = TPMWriter()
            for auth in authorizations {
                switch auth {
                case .password(let value):
                    area.u32(TPMHandle.passwordSession.rawValue)
                    area.sized([UInt8]())
                    area.u8(0)
                    area.sized(value)
                    nonces.append([])
                case .policy(let session):
                    // A nonceCaller is required in every session but the password one; it has
                    // the size of the session's digest (Part 1, 19.6.2 allows 16 up to that).
                    let n = nonce(HashAlgorithm(rawValue: session.hashAlg.rawValue)?.digestSize ?? 32)
                    area.u32(session.handle.rawValue)
                    area.sized(n)
                    area.u8(session.continueSession ? TPMASession.continueSession.rawValue : 0)
                    area.sized([UInt8]())
                    nonces.append(n)
                case .hmac(let session, let authValue):
                    let n = nonce(session.hash.digestSize)
                    let hmac = session.commandHMAC(cpHash: cpHash(session.hash), nonceCaller: n, authValue: authValue)
                    area.u32(session.handle.rawValue)
                    area.sized(n)
                    area.u8(session.attributes.rawValue)
                    area.sized(hmac)
                    nonces.append(n)
                }
            }
            w.u32(UInt32(area.bytes.count))
            w.bytes(area.bytes)
        }
        w.bytes(parameters)
        w.patchU32(at: 2, UInt32(w.bytes.count))
        return (w.bytes, nonces)
    }

    /// cpHash = H(commandCode || Name1 || Name2 || Name3 || parameters) (Part 1, 18.7).
    public func cpHash(_ hash: HashAlgorithm) -> [UInt8] {
        var data = u32Bytes(code.rawValue)
        for n in names { data += n }
        return hash.digest(data + parameters)
    }
}

/// A parsed response (Part 1, 18.8): its handle (when the command returns one), parameters and
/// the session acknowledgements.
public struct TPMResponse {
    public var handle: TPMHandle?
    public var parameters: [UInt8]
    /// Per session: (nonceTPM, attributes, hmac).
    public var sessions: [(nonce: [UInt8], attributes: UInt8, hmac: [UInt8])]

    /// Splits a successful response. `hasHandle`: the command returns a handle (CreatePrimary,
    /// Load, StartAuthSession, ContextLoad...); `sessionCount`: sessions the command had.
    public static func parse(
        _ bytes: [UInt8], command: TPMCC, hasHandle: Bool, sessionCount: Int
    ) throws(TPMClientError) -> TPMResponse {
        do {
            var r = TPMReader(bytes)
            let tag = try r.u16()
            let size = try r.u32()
            let rc = TPMRC(try r.u32())
            guard Int(size) == bytes.count else {
                throw TPMClientError.malformedResponse(command, "size field \(size), got \(bytes.count)")
            }
            guard rc == .success else {
                guard tag == TPMST.noSessions.rawValue, bytes.count == 10 else {
                    throw TPMClientError.malformedResponse(command, "error response with a body")
                }
                throw TPMClientError.tpm(rc, command)
            }
            var response = TPMResponse(handle: nil, parameters: [], sessions: [])
            if hasHandle { response.handle = TPMHandle(try r.u32()) }
            if tag == TPMST.sessions.rawValue {
                guard sessionCount > 0 else { throw TPMClientError.malformedResponse(command, "sessions tag without sessions") }
                let paramSize = Int(try r.u32())
                response.parameters = try r.bytes(paramSize)
                for _ in 0..<sessionCount {
                    let nonce = try r.sized(max: TPMLimits.maxDigestSize)
                    let attributes = try r.u8()
                    let hmac = try r.sized(max: TPMLimits.maxDigestSize)
                    response.sessions.append((nonce, attributes, hmac))
                }
                guard r.isAtEnd else { throw TPMClientError.malformedResponse(command, "bytes after the sessions") }
            } else if tag == TPMST.noSessions.rawValue {
                guard sessionCount == 0 else { throw TPMClientError.malformedResponse(command, "no sessions in the response") }
                response.parameters = r.rest()
            } else {
                throw TPMClientError.malformedResponse(command, "tag 0x\(String(tag, radix: 16))")
            }
            return response
        } catch let e as TPMClientError {
            throw e
        } catch {
            throw TPMClientError.malformedResponse(command, "truncated")
        }
    }
}

public enum TPMClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The TPM answered with this response code.
    case tpm(TPMRC, TPMCC)
    case transport(TransportError)
    case malformedResponse(TPMCC, String)
    /// A response HMAC that does not verify.
    case responseHMAC(TPMCC)
    case unsupported(String)

    public var description: String {
        switch self {
        case .tpm(let rc, let cc): return "\(cc) failed: response code 0x\(String(rc.rawValue, radix: 16))"
        case .transport(let e): return e.description
        case .malformedResponse(let cc, let why): return "malformed response to \(cc): \(why)"
        case .responseHMAC(let cc): return "the response HMAC of \(cc) does not verify"
        case .unsupported(let what): return what
        }
    }

    /// The response code, when the TPM gave one.
    public var responseCode: TPMRC? {
        if case .tpm(let rc, _) = self { return rc }
        return nil
    }
}
