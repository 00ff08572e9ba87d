import TPMCrypto
import TPMWire

/// One entry of a command's authorization area (Part 1, 18.6; Part 2, 10.13.2 TPMS_AUTH_COMMAND).
public enum Authorization {
    /// TPM_RS_PW with the entity's authValue in the clear (Part 1, 19.6.3).
    case password([UInt8])
    /// A policy session whose policy needs no authValue: the HMAC field is empty (Part 1, 19.6.4).
    case policy(PolicySession)
    /// An HMAC session (unsalted, unbound): `authValue` is the authorized entity's.
    case hmac(HMACSession, authValue: [UInt8])

    public static var emptyPassword: Authorization { .password([]) }
}

/// A policy session started by `TPMClient.startAuthSession(type: .policy)`.
public final class PolicySession {
    public let handle: TPMHandle
    public let hashAlg: TPMAlgID
    public internal(set) var nonceTPM: [UInt8]
    /// Keep the session after the command (TPMA_SESSION continueSession).
    public var continueSession: Bool

    init(handle: TPMHandle, hashAlg: TPMAlgID, nonceTPM: [UInt8], continueSession: Bool = false) {
        self.handle = handle
        self.hashAlg = hashAlg
        self.nonceTPM = nonceTPM
        self.continueSession = continueSession
    }
}

/// An unsalted, unbound HMAC session (Part 1, 19.6.5-19.6.9): the session key is empty, so the
/// HMAC key of each authorization is the entity's authValue alone.
public final class HMACSession {
    public let handle: TPMHandle
    public let hash: HashAlgorithm
    public internal(set) var nonceTPM: [UInt8]
    public var continueSession = true
    let sessionKey: [UInt8] = []

    init(handle: TPMHandle, hash: HashAlgorithm, nonceTPM: [UInt8]) {
        self.handle = handle
        self.hash = hash
        self.nonceTPM = nonceTPM
    }

    var attributes: TPMASession { continueSession ? .continueSession : [] }

    /// The command HMAC: HMAC(sessionKey || authValue, cpHash || nonceCaller || nonceTPM || attrs)
    /// (Part 1, 19.6.5, equation 23; no decrypt/encrypt nonces).
    func commandHMAC(cpHash: [UInt8], nonceCaller: [UInt8], authValue: [UInt8]) -> [UInt8] {
        hash.hmac(key: sessionKey + authValue, data: cpHash + nonceCaller + nonceTPM + [UInt8(attributes.rawValue)])
    }

    /// The response HMAC: HMAC(key, rpHash || nonceTPM(new) || nonceCaller || attrs) (Part 1, 19.6.9).
    func responseHMAC(rpHash: [UInt8], newNonceTPM: [UInt8], nonceCaller: [UInt8], attributes: UInt8, authValue: [UInt8]) -> [UInt8] {
        hash.hmac(key: sessionKey + authValue, data: rpHash + newNonceTPM + nonceCaller + [attributes])
    }
}
