import TPMCrypto
import TPMWire

/// TPM_SE (Part 2, 6.11).
public enum SessionType: UInt8, Sendable {
    case hmac = 0x00
    case policy = 0x01
    case trial = 0x03
}

extension TPMClient {
    /// TPM2_StartAuthSession (Part 3, 11.1), unsalted (tpmKey NULL) and unbound (bind NULL),
    /// no parameter encryption (symmetric NULL).
    public func startAuthSession(type: SessionType, hash: HashAlgorithm = .sha256) throws(TPMClientError) -> (TPMHandle, nonceTPM: [UInt8])
    {
        var w = TPMWriter()
        w.sized(nonceSource(hash.digestSize))  // nonceCaller
        w.u16(0)  // encryptedSalt
        w.u8(type.rawValue)
        w.u16(TPMAlgID.null.rawValue)  // symmetric: TPMT_SYM_DEF NULL
        w.u16(hash.rawValue)
        let r = try execute(
            TPMCommand(.startAuthSession, handles: [.null, .null], parameters: w.bytes), returnsHandle: true)
        guard let handle = r.handle else { throw .malformedResponse(.startAuthSession, "no handle") }
        let nonce = try decode(r, .startAuthSession) { try $0.sized(max: TPMLimits.maxDigestSize) }
        return (handle, nonce)
    }

    public func startPolicySession(hash: HashAlgorithm = .sha256) throws(TPMClientError) -> PolicySession {
        let (h, nonce) = try startAuthSession(type: .policy, hash: hash)
        return PolicySession(handle: h, hashAlg: TPMAlgID(hash.rawValue), nonceTPM: nonce)
    }

    public func startHMACSession(hash: HashAlgorithm = .sha256) throws(TPMClientError) -> HMACSession {
        let (h, nonce) = try startAuthSession(type: .hmac, hash: hash)
        return HMACSession(handle: h, hash: hash, nonceTPM: nonce)
    }

    /// TPM2_PolicySecret (Part 3, 23.4) with no nonceTPM, cpHashA, policyRef or expiration:
    /// authorizes `session` with the authValue of `authHandle` (a password session).
    public func policySecret(_ authHandle: TPMHandle, session: PolicySession, auth: [UInt8] = []) throws(TPMClientError) {
        var w = TPMWriter()
        w.u16(0)  // nonceTPM
        w.u16(0)  // cpHashA
        w.u16(0)  // policyRef
        w.u32(0)  // expiration
        let r = try execute(
            TPMCommand(
                .policySecret, handles: [authHandle, session.handle], authorizations: [.password(auth)], parameters: w.bytes))
        _ = try decode(r, .policySecret) { reader in
            _ = try reader.sized(max: TPMLimits.maxDigestSize)  // timeout
            _ = try reader.u16()  // ticket tag
            _ = try reader.u32()  // hierarchy
            _ = try reader.sized(max: TPMLimits.maxDigestSize)
        }
    }

    /// TPM2_PolicyGetDigest (Part 3, 23.20).
    public func policyGetDigest(_ session: PolicySession) throws(TPMClientError) -> [UInt8] {
        let r = try execute(TPMCommand(.policyGetDigest, handles: [session.handle]))
        return try decode(r, .policyGetDigest) { try $0.sized(max: TPMLimits.maxDigestSize) }
    }

    /// A policy session satisfying the EK templates' PolicyA (PolicySecret on the endorsement
    /// hierarchy), for one use (continueSession clear: the TPM flushes it after the command).
    public func endorsementPolicySession(endorsementAuth: [UInt8] = []) throws(TPMClientError) -> PolicySession {
        let session = try startPolicySession()
        do {
            try policySecret(.endorsement, session: session, auth: endorsementAuth)
        } catch {
            try? flushContext(session.handle)
            throw error
        }
        return session
    }

    /// Runs `body` with a fresh endorsement policy session as its authorization. The session is
    /// used up by a successful command (continueSession clear); when `body` fails the session
    /// may still be loaded, so it is flushed (best effort) before the error is rethrown.
    public func withEndorsementPolicy<T>(endorsementAuth: [UInt8] = [], _ body: (Authorization) throws -> T) throws -> T {
        let session = try endorsementPolicySession(endorsementAuth: endorsementAuth)
        do {
            return try body(.policy(session))
        } catch {
            try? flushContext(session.handle)
            throw error
        }
    }

    /// Handles of the loaded transient objects (TPM_CAP_HANDLES from 0x80000000).
    public func transientHandles() throws(TPMClientError) -> [TPMHandle] {
        var out: [TPMHandle] = []
        var next = TPMHandle.transientFirst.rawValue
        while true {
            let (more, data) = try getCapability(.handles, property: next, count: 64)
            let handles: [TPMHandle] = try decode(TPMResponse(parameters: data, sessions: []), .getCapability) { r in
                let n = try r.u32()
                guard n <= 64 else { throw TPMError.size }
                return try (0..<n).map { _ in TPMHandle(try r.u32()) }
            }
            out += handles.filter { $0.rawValue >> 24 == 0x80 }
            guard more, let last = handles.last, last.rawValue >> 24 == 0x80 else { return out }
            next = last.rawValue + 1
        }
    }
}
