import TPMCrypto
import TPMWire

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A TPM 2.0 client: builds commands, sends them through a transport, checks and splits the
/// responses. One caller at a time (it is not Sendable); the agent confines it to one actor.
public final class TPMClient {
    public let transport: TPMTransport
    /// Fresh nonceCaller bytes; replaced in tests to make commands reproducible.
    public var nonceSource: (Int) -> [UInt8] = { SystemEntropy.bytes($0) }

    public init(transport: TPMTransport) { self.transport = transport }

    public convenience init(tcti: TCTI) throws(TPMClientError) {
        do {
            self.init(transport: try openTransport(tcti))
        } catch {
            throw .transport(error)
        }
    }

    /// Sends `command` and returns its parsed response; a response code other than success is
    /// thrown as `TPMClientError.tpm`. HMAC sessions' response HMACs are checked and their
    /// nonceTPM updated; policy sessions' nonceTPM too.
    @discardableResult
    public func execute(_ command: TPMCommand, returnsHandle: Bool = false) throws(TPMClientError) -> TPMResponse {
        var attempt = 0
        while true {
            let (bytes, nonces) = command.marshal(nonce: nonceSource)
            let raw: [UInt8]
            do {
                raw = try transport.transmit(bytes)
            } catch {
                throw .transport(error)
            }
            do {
                let response = try TPMResponse.parse(
                    raw, command: command.code, hasHandle: returnsHandle, sessionCount: command.authorizations.count)
                try acknowledge(command, response, nonces)
                return response
            } catch .tpm(let rc, let cc) where Self.retryable.contains(rc) && attempt < Self.maxRetries {
                // TPM_RC_RETRY, TPM_RC_YIELDED and TPM_RC_TESTING ask the caller to send the same
                // command again (Part 2, 6.6.3); libtpms answers RETRY while it is busy.
                _ = cc
                attempt += 1
                usleep(UInt32(min(attempt, 20)) * 5_000)
            }
        }
    }

    static let retryable: Set<TPMRC> = [TPMRC(0x922), TPMRC(0x908), TPMRC(0x90A)]
    static let maxRetries = 100

    private func acknowledge(_ command: TPMCommand, _ response: TPMResponse, _ nonces: TPMCommand.Nonces) throws(TPMClientError) {
        for (i, auth) in command.authorizations.enumerated() where i < response.sessions.count {
            let ack = response.sessions[i]
            switch auth {
            case .password:
                guard ack.nonce.isEmpty, ack.hmac.isEmpty else {
                    throw .malformedResponse(command.code, "password session acknowledgement not empty")
                }
            case .policy(let session):
                session.nonceTPM = ack.nonce
            case .hmac(let session, let authValue):
                // rpHash = H(responseCode || commandCode || parameters) (Part 1, 18.9).
                let rpHash = session.hash.digest(u32Bytes(0) + u32Bytes(command.code.rawValue) + response.parameters)
                let expected = session.responseHMAC(
                    rpHash: rpHash, newNonceTPM: ack.nonce, nonceCaller: nonces[i], attributes: ack.attributes,
                    authValue: authValue)
                guard constantTimeEqual(expected, ack.hmac) else { throw .responseHMAC(command.code) }
                session.nonceTPM = ack.nonce
            }
        }
    }

    /// Decodes the parameters of a response with `body`, turning a short or malformed parameter
    /// area into `.malformedResponse`.
    func decode<T>(_ response: TPMResponse, _ cc: TPMCC, _ body: (inout TPMReader) throws -> T) throws(TPMClientError) -> T {
        var r = TPMReader(response.parameters)
        do {
            let value = try body(&r)
            guard r.isAtEnd else { throw TPMClientError.malformedResponse(cc, "trailing bytes in the parameters") }
            return value
        } catch let e as TPMClientError {
            throw e
        } catch {
            throw .malformedResponse(cc, "parameters: \(error)")
        }
    }
}

extension TPMAlgorithmSupport {
    /// Everything the codec knows: a client decodes what any TPM may return.
    public static let client = TPMAlgorithmSupport(
        algorithms: [
            .rsa, .keyedHash, .ecc, .symCipher, .aes, .sm4, .camellia, .tdes, .sha1, .sha256, .sha384, .sha512,
            .hmac, .xor, .rsassa, .rsaes, .rsapss, .oaep, .ecdsa, .ecdh, .ecdaa, .sm2, .ecschnorr, .ecmqv, .mgf1,
            .kdf1SP800_56A, .kdf2, .kdf1SP800_108, .cmac, .ctr, .ofb, .cbc, .cfb, .ecb,
        ],
        rsaKeyBits: [1024, 2048, 3072, 4096], aesKeyBits: [128, 192, 256],
        eccCurves: [.nistP192, .nistP224, .nistP256, .nistP384, .nistP521, .bnP256, .bnP638, .sm2P256])
}
