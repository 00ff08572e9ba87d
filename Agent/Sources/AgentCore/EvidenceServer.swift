import Attestation
import Foundation
import Logging
import Measurement
import TPMClient
import TPMWire

#if canImport(Glibc)
    import Glibc
#endif

/// The evidence service (docs/evidence-protocol.md): length-framed messages on TCP, one thread
/// per connection, at most `maxConnections` at once; a frame over the bound, a malformed
/// message or a client silent for `idleSeconds` closes the connection. Measuring never waits
/// for it except during the short critical section of a quote.
public final class EvidenceServer: @unchecked Sendable {
    public static let maxConnections = 32
    public static let idleSeconds = 30

    let tpm: TPMAccess
    let store: MeasurementStore
    let stateDirectory: URL
    let akAlgorithm: String
    let logger: Logger
    private var listenFD: Int32 = -1
    private let lock = NSLock()
    private var connections = 0
    private var key: AttestationKey?
    public let counters = AgentCounters()

    public init(tpm: TPMAccess, store: MeasurementStore, stateDirectory: URL, akAlgorithm: String, logger: Logger) {
        self.tpm = tpm
        self.store = store
        self.stateDirectory = stateDirectory
        self.akAlgorithm = akAlgorithm
        self.logger = logger
    }

    /// The keys, created or loaded on first use (and retried on the next request after a failure:
    /// a TPM without PolicySecret, say, still lets the agent measure).
    func attestationKey(_ client: TPMClient) throws -> AttestationKey {
        if let k = key { return k }
        let k = try AttestationKey(client: client, stateDirectory: stateDirectory, algorithm: akAlgorithm, logger: logger)
        key = k
        return k
    }

    /// Prepares the keys now so a failure is in the start-up log.
    public func prepareKeys() {
        do {
            _ = try tpm.with { try attestationKey($0) }
        } catch {
            logger.error("attestation key not available yet: \(error)")
        }
    }

    public func start(listen: String) throws {
        guard let colon = listen.lastIndex(of: ":"), let port = UInt16(listen[listen.index(after: colon)...]) else {
            throw ControlError.io("listen", "bad address \(listen)")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        listenFD = try TCPListener.open(host: host, port: port)
        logger.info("evidence service on \(listen)")
        let t = Thread { [self] in acceptLoop() }
        t.name = "evidence"
        t.start()
    }

    public func stop() {
        tpm.with { client in key?.flush(client: client) }
        if listenFD >= 0 {
            shutdown(listenFD, Int32(SHUT_RDWR))
            _ = close(listenFD)
            listenFD = -1
        }
    }

    private func acceptLoop() {
        let fd = listenFD
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            lock.lock()
            let admitted = connections < Self.maxConnections
            if admitted { connections += 1 }
            lock.unlock()
            guard admitted else {
                counters.add("evidence_refused_busy")
                try? send(c, .error(ProtocolErrorMessage(.busy, "too many connections")))
                _ = close(c)
                continue
            }
            let t = Thread { [self] in
                serve(c)
                _ = close(c)
                lock.lock()
                connections -= 1
                lock.unlock()
            }
            t.start()
        }
    }

    private func send(_ fd: Int32, _ m: EvidenceMessage) throws {
        UnixSocket.writeAll(fd, try m.frame())
    }

    private func serve(_ fd: Int32) {
        UnixSocket.setTimeout(fd, seconds: Self.idleSeconds)
        var decoder = EvidenceFrameDecoder(maxPayload: EvidenceProtocol.maxRequestPayload)
        var buf = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return }
            decoder.append(buf[0..<n])
            do {
                while let message = try decoder.nextMessage() {
                    counters.add("evidence_requests")
                    try send(fd, answer(message))
                }
            } catch let e as EvidenceProtocolError {
                counters.add("evidence_malformed")
                logger.warning("evidence client: \(e); closing")
                try? send(fd, .error(ProtocolErrorMessage(e.isSize ? .tooLarge : .malformed, e.description)))
                return
            } catch {
                logger.error("evidence: \(error)")
                return
            }
        }
    }

    func answer(_ message: EvidenceMessage) -> EvidenceMessage {
        do {
            switch message {
            case .challenge(let c): return try evidence(for: c)
            case .enrollRequest:
                return try tpm.with { client in
                    let k = try attestationKey(client)
                    return .enrollResponse(
                        EnrollResponse(
                            akPublic: k.akPublic.sized, akName: k.akName, ekPublic: k.ekPublic.sized, ekCertificate: k.ekCertificate))
                }
            case .activateRequest(let a):
                let blob = try Self.unsized(a.credentialBlob, "credentialBlob")
                let secret = try Self.unsized(a.secret, "secret")
                return try tpm.with { client in
                    let k = try attestationKey(client)
                    let certInfo = try k.withKeys(client: client) { ak, ek in
                        try client.withEndorsementPolicy { policy in
                            try client.activateCredential(
                                activate: ak, activateAuth: .emptyPassword, key: ek, keyAuth: policy, credentialBlob: blob, secret: secret)
                        }
                    }
                    return .activateResponse(certInfo: certInfo)
                }
            default:
                return .error(ProtocolErrorMessage(.unexpectedMessage, "the agent answers Challenge, EnrollRequest, ActivateRequest"))
            }
        } catch let e as EvidenceProtocolError {
            return .error(ProtocolErrorMessage(.malformed, e.description))
        } catch let e as EvidenceAnswerError {
            return .error(ProtocolErrorMessage(e.code, e.message))
        } catch {
            logger.error("evidence: \(error)")
            return .error(ProtocolErrorMessage(.tpmFailure, "\(error)"))
        }
    }

    /// The quote, the PCR values and the list cut in one critical section with respect to the
    /// agent's extends (the store's lock, then the TPM's).
    func evidence(for c: Challenge) throws -> EvidenceMessage {
        var r = TPMReader(c.pcrSelection)
        let selection: TPMLPCRSelection
        do {
            selection = try TPMLPCRSelection(from: &r)
            guard r.isAtEnd, selection.selections.count <= EvidenceProtocol.maxBanks else { throw TPMError.size }
        } catch {
            throw EvidenceAnswerError(code: .malformed, message: "pcrSelection is not a TPML_PCR_SELECTION of at most 4 banks")
        }
        return try store.quiesced { entries in
            guard c.firstEntry <= UInt64(entries.count) else {
                throw EvidenceAnswerError(
                    code: .entryOutOfRange, message: "firstEntry \(c.firstEntry) beyond the list (\(entries.count) entries)")
            }
            return try tpm.with { client in
                let k = try attestationKey(client)
                let quote = try k.withKeys(client: client) { ak, _ in
                    try client.quote(key: ak, qualifyingData: c.nonce, pcrs: selection)
                }
                let (values, _) = try client.pcrRead(selection)
                var banks: [TPMAlgID: [UInt8: [UInt8]]] = [:]
                for (key, v) in values { banks[key.bank, default: [:]][UInt8(key.pcr)] = v }
                let pcrs = selection.selections.map { s in PCRBankValues(algorithm: s.hash.rawValue, values: banks[s.hash] ?? [:]) }
                let clock = try client.readClock().clockInfo
                return .evidence(
                    Evidence(
                        attest: quote.attest, signature: quote.signature, pcrs: pcrs, firstEntry: c.firstEntry,
                        entries: Array(entries[Int(c.firstEntry)...]), akPublic: k.akPublic.sized, ekPublic: k.ekPublic.sized,
                        ekCertificate: k.ekCertificate, resetCount: clock.resetCount, restartCount: clock.restartCount))
            }
        }
    }

    /// A TPM2B's contents, checking its size prefix.
    static func unsized(_ b: [UInt8], _ field: String) throws -> [UInt8] {
        guard b.count >= 2, Int(b[0]) << 8 | Int(b[1]) == b.count - 2 else {
            throw EvidenceAnswerError(code: .malformed, message: "\(field): size prefix does not match")
        }
        return Array(b[2...])
    }
}

struct EvidenceAnswerError: Error {
    var code: EvidenceErrorCode
    var message: String
}

extension EvidenceProtocolError {
    var isSize: Bool {
        if case .frameTooLarge = self { return true }
        return false
    }
}

/// A listening TCP socket (IPv4 or IPv6 literal or name).
enum TCPListener {
    static func open(host: String, port: UInt16) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &list)
        guard rc == 0, let ai = list else { throw ControlError.io("resolve \(host)", String(cString: gai_strerror(rc))) }
        defer { freeaddrinfo(list) }
        let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype | O_CLOEXEC, ai.pointee.ai_protocol)
        guard fd >= 0 else { throw ControlError.io("socket", errnoText(errno)) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0, listen(fd, 64) == 0 else {
            let e = errno
            _ = close(fd)
            throw ControlError.io("listen on \(host):\(port)", errnoText(e))
        }
        return fd
    }
}
