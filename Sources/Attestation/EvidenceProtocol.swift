import Measurement

// The evidence protocol between verifier and agent (docs/evidence-protocol.md): TCP, no
// HTTP. A frame is a big-endian u32 payload length and the payload; a payload starts with
// the protocol version and the message type. Integers are big-endian (like TPM
// structures); TPM structures travel exactly as the TPM marshals them; measurement-list
// records travel in IMA's binary form (little-endian, as securityfs writes them on x86).

/// The protocol's constants and bounds (one place; docs/evidence-protocol.md repeats them).
public enum EvidenceProtocol {
    public static let version: UInt8 = 1
    /// Largest payload an agent accepts (Challenge, EnrollRequest, ActivateRequest).
    public static let maxRequestPayload = 64 * 1024
    /// Largest payload a verifier accepts (Evidence with its list entries).
    public static let maxResponsePayload = 64 * 1024 * 1024
    /// Largest list-entry section in one Evidence (the rest of a payload is far smaller).
    public static let maxEntryBytes = 60 * 1024 * 1024
    public static let nonceSizes = 16...64
    /// Largest TPM structure carried (TPMS_ATTEST, TPMT_SIGNATURE, TPM2B_PUBLIC, credential blobs).
    public static let maxTPMStructure = 4096
    /// Largest EK certificate (DER).
    public static let maxCertificate = 16 * 1024
    public static let maxErrorMessage = 1024
    /// Banks in one Evidence and PCRs per bank (PC Client: 24).
    public static let maxBanks = 4
    public static let pcrCount = 24
}

public enum EvidenceMessageType: UInt8, Sendable, CaseIterable {
    case challenge = 1
    case evidence = 2
    case enrollRequest = 3
    case enrollResponse = 4
    case activateRequest = 5
    case activateResponse = 6
    case error = 0x7F
}

public enum EvidenceProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    case frameTooLarge(size: Int, max: Int)
    case emptyPayload
    case unsupportedVersion(UInt8)
    case unknownMessageType(UInt8)
    case truncated(field: String)
    case fieldTooLarge(field: String, size: Int, max: Int)
    case badValue(field: String, reason: String)
    case trailingBytes(Int)
    case badEntries(MeasurementError)

    public var description: String {
        switch self {
        case .frameTooLarge(let s, let m): return "frame of \(s) bytes exceeds \(m)"
        case .emptyPayload: return "payload shorter than version and type"
        case .unsupportedVersion(let v): return "protocol version \(v) not supported (this side speaks \(EvidenceProtocol.version))"
        case .unknownMessageType(let t): return "unknown message type \(t)"
        case .truncated(let f): return "message ends inside \(f)"
        case .fieldTooLarge(let f, let s, let m): return "\(f): \(s) bytes exceeds \(m)"
        case .badValue(let f, let r): return "\(f): \(r)"
        case .trailingBytes(let n): return "\(n) bytes after the message"
        case .badEntries(let e): return "list entries: \(e)"
        }
    }
}

/// Verifier -> agent: quote these PCRs over this nonce and send the list from `firstEntry`.
public struct Challenge: Hashable, Sendable {
    public var nonce: [UInt8]
    /// TPML_PCR_SELECTION exactly as marshaled for TPM2_Quote.
    public var pcrSelection: [UInt8]
    /// Index (0-based) of the first list entry wanted; entries before it are known.
    public var firstEntry: UInt64

    public init(nonce: [UInt8], pcrSelection: [UInt8], firstEntry: UInt64) {
        self.nonce = nonce
        self.pcrSelection = pcrSelection
        self.firstEntry = firstEntry
    }
}

/// The values of some PCRs in one bank, in increasing PCR order.
public struct PCRBankValues: Hashable, Sendable {
    /// TPM_ALG_ID of the bank.
    public var algorithm: UInt16
    public var values: [UInt8: [UInt8]]

    public init(algorithm: UInt16, values: [UInt8: [UInt8]]) {
        self.algorithm = algorithm
        self.values = values
    }
}

/// Agent -> verifier: the answer to a Challenge.
public struct Evidence: Hashable, Sendable {
    /// TPMS_ATTEST (the contents of the quote's TPM2B_ATTEST).
    public var attest: [UInt8]
    /// TPMT_SIGNATURE over `attest` by the AK.
    public var signature: [UInt8]
    /// PCR values read in the same critical section as the quote (the verifier recomputes
    /// the quote's pcrDigest from them).
    public var pcrs: [PCRBankValues]
    /// Index of `entries[0]` in the list (the challenge's firstEntry).
    public var firstEntry: UInt64
    /// Every entry from firstEntry to the end of the list as it was when quoted.
    public var entries: [IMAEntry]
    /// TPM2B_PUBLIC of the AK and of the EK.
    public var akPublic: [UInt8]
    public var ekPublic: [UInt8]
    /// DER EK certificate from NV, when present.
    public var ekCertificate: [UInt8]?
    /// The TPM's resetCount and restartCount as the agent saw them (informative: the signed
    /// ones inside `attest` are what the verifier trusts).
    public var resetCount: UInt32
    public var restartCount: UInt32

    public init(
        attest: [UInt8], signature: [UInt8], pcrs: [PCRBankValues], firstEntry: UInt64, entries: [IMAEntry],
        akPublic: [UInt8], ekPublic: [UInt8], ekCertificate: [UInt8]?, resetCount: UInt32, restartCount: UInt32
    ) {
        self.attest = attest
        self.signature = signature
        self.pcrs = pcrs
        self.firstEntry = firstEntry
        self.entries = entries
        self.akPublic = akPublic
        self.ekPublic = ekPublic
        self.ekCertificate = ekCertificate
        self.resetCount = resetCount
        self.restartCount = restartCount
    }
}

/// Agent -> verifier at enrollment: the AK to be bound and the EK it is bound to.
public struct EnrollResponse: Hashable, Sendable {
    /// TPM2B_PUBLIC of the AK.
    public var akPublic: [UInt8]
    /// The AK's Name (TPM2B_NAME contents: nameAlg then digest).
    public var akName: [UInt8]
    /// TPM2B_PUBLIC of the EK.
    public var ekPublic: [UInt8]
    public var ekCertificate: [UInt8]?

    public init(akPublic: [UInt8], akName: [UInt8], ekPublic: [UInt8], ekCertificate: [UInt8]?) {
        self.akPublic = akPublic
        self.akName = akName
        self.ekPublic = ekPublic
        self.ekCertificate = ekCertificate
    }
}

/// Verifier -> agent: TPM2_ActivateCredential inputs (outputs of MakeCredential).
public struct ActivateRequest: Hashable, Sendable {
    /// TPM2B_ID_OBJECT (with its size).
    public var credentialBlob: [UInt8]
    /// TPM2B_ENCRYPTED_SECRET (with its size).
    public var secret: [UInt8]

    public init(credentialBlob: [UInt8], secret: [UInt8]) {
        self.credentialBlob = credentialBlob
        self.secret = secret
    }
}

public enum EvidenceErrorCode: UInt16, Sendable, CaseIterable {
    case malformed = 1
    case unsupportedVersion = 2
    case unexpectedMessage = 3
    case tpmFailure = 4
    case tooLarge = 5
    case busy = 6
    case entryOutOfRange = 7
    case notEnrolled = 8
    case internalError = 9
}

/// Either side: why a request failed. Unknown codes are kept (a newer peer may send them).
public struct ProtocolErrorMessage: Hashable, Sendable {
    public var code: UInt16
    public var message: String

    public init(code: UInt16, message: String) {
        self.code = code
        self.message = message
    }

    public init(_ code: EvidenceErrorCode, _ message: String) { self.init(code: code.rawValue, message: message) }
}

public enum EvidenceMessage: Hashable, Sendable {
    case challenge(Challenge)
    case evidence(Evidence)
    case enrollRequest
    case enrollResponse(EnrollResponse)
    case activateRequest(ActivateRequest)
    /// The credential TPM2_ActivateCredential recovered (TPM2B_DIGEST contents).
    case activateResponse(certInfo: [UInt8])
    case error(ProtocolErrorMessage)

    public var type: EvidenceMessageType {
        switch self {
        case .challenge: return .challenge
        case .evidence: return .evidence
        case .enrollRequest: return .enrollRequest
        case .enrollResponse: return .enrollResponse
        case .activateRequest: return .activateRequest
        case .activateResponse: return .activateResponse
        case .error: return .error
        }
    }

    /// The payload (version, type, body). Throws when a field breaks a bound, so a peer
    /// never receives what it would refuse.
    public func payload() throws -> [UInt8] {
        var w = WireWriter()
        w.u8(EvidenceProtocol.version)
        w.u8(type.rawValue)
        switch self {
        case .challenge(let c):
            try check(c.nonce.count, in: EvidenceProtocol.nonceSizes, "nonce")
            try check(c.pcrSelection.count, max: EvidenceProtocol.maxTPMStructure, "pcrSelection")
            guard c.firstEntry <= UInt64(Int.max) else {
                throw EvidenceProtocolError.badValue(field: "firstEntry", reason: "beyond 2^63 - 1")
            }
            w.u8(UInt8(c.nonce.count))
            w.raw(c.nonce)
            w.blob16(c.pcrSelection)
            w.u64(c.firstEntry)
        case .evidence(let e):
            try check(e.attest.count, max: EvidenceProtocol.maxTPMStructure, "attest")
            try check(e.signature.count, max: EvidenceProtocol.maxTPMStructure, "signature")
            guard e.firstEntry <= UInt64(Int.max) - UInt64(e.entries.count) else {
                throw EvidenceProtocolError.badValue(field: "firstEntry", reason: "firstEntry + entryCount beyond 2^63 - 1")
            }
            w.blob16(e.attest)
            w.blob16(e.signature)
            try writePCRs(e.pcrs, &w)
            w.u64(e.firstEntry)
            let records = IMABinaryFormat.encode(e.entries)
            try check(records.count, max: EvidenceProtocol.maxEntryBytes, "entries")
            w.u32(UInt32(e.entries.count))
            w.blob32(records)
            try writePublic(e.akPublic, "akPublic", &w)
            try writePublic(e.ekPublic, "ekPublic", &w)
            try writeCertificate(e.ekCertificate, &w)
            w.u32(e.resetCount)
            w.u32(e.restartCount)
        case .enrollRequest:
            break
        case .enrollResponse(let r):
            try writePublic(r.akPublic, "akPublic", &w)
            try check(r.akName.count, max: 2 + 64, "akName")
            w.blob16(r.akName)
            try writePublic(r.ekPublic, "ekPublic", &w)
            try writeCertificate(r.ekCertificate, &w)
        case .activateRequest(let a):
            try check(a.credentialBlob.count, max: EvidenceProtocol.maxTPMStructure, "credentialBlob")
            try check(a.secret.count, max: EvidenceProtocol.maxTPMStructure, "secret")
            w.blob16(a.credentialBlob)
            w.blob16(a.secret)
        case .activateResponse(let certInfo):
            try check(certInfo.count, max: 64, "certInfo")
            w.blob16(certInfo)
        case .error(let e):
            let m = Array(e.message.utf8)
            try check(m.count, max: EvidenceProtocol.maxErrorMessage, "message")
            w.u16(e.code)
            w.blob16(m)
        }
        let max = type == .evidence ? EvidenceProtocol.maxResponsePayload : EvidenceProtocol.maxRequestPayload
        try check(w.bytes.count, max: max, "payload")
        return w.bytes
    }

    /// The whole frame: u32 big-endian length, payload.
    public func frame() throws -> [UInt8] {
        let p = try payload()
        var w = WireWriter()
        w.u32(UInt32(p.count))
        w.raw(p)
        return w.bytes
    }

    /// Decodes one payload strictly: known version and type, every bound, no trailing bytes.
    public init(payload: [UInt8]) throws {
        guard payload.count >= 2 else { throw EvidenceProtocolError.emptyPayload }
        var r = WireReader(payload)
        let version = try r.u8("version")
        guard version == EvidenceProtocol.version else { throw EvidenceProtocolError.unsupportedVersion(version) }
        let t = try r.u8("type")
        guard let type = EvidenceMessageType(rawValue: t) else { throw EvidenceProtocolError.unknownMessageType(t) }
        switch type {
        case .challenge:
            let n = Int(try r.u8("nonce"))
            try check(n, in: EvidenceProtocol.nonceSizes, "nonce")
            let nonce = try r.take(n, "nonce")
            let sel = try r.blob16("pcrSelection", max: EvidenceProtocol.maxTPMStructure)
            let first = try r.u64("firstEntry")
            guard first <= UInt64(Int.max) else { throw EvidenceProtocolError.badValue(field: "firstEntry", reason: "beyond 2^63 - 1") }
            self = .challenge(Challenge(nonce: nonce, pcrSelection: sel, firstEntry: first))
        case .evidence:
            let attest = try r.blob16("attest", max: EvidenceProtocol.maxTPMStructure)
            let sig = try r.blob16("signature", max: EvidenceProtocol.maxTPMStructure)
            let pcrs = try readPCRs(&r)
            let first = try r.u64("firstEntry")
            let count = Int(try r.u32("entryCount"))
            // Entry indices stay representable: firstEntry + entryCount <= 2^63 - 1.
            guard first <= UInt64(Int.max) - UInt64(count) else {
                throw EvidenceProtocolError.badValue(field: "firstEntry", reason: "firstEntry + entryCount beyond 2^63 - 1")
            }
            let records = try r.blob32("entries", max: EvidenceProtocol.maxEntryBytes)
            let entries: [IMAEntry]
            do {
                entries = try IMABinaryFormat.parse(records, firstIndex: Int(first), maxEntries: count)
            } catch let e as MeasurementError {
                throw EvidenceProtocolError.badEntries(e)
            }
            guard entries.count == count else {
                throw EvidenceProtocolError.badValue(field: "entryCount", reason: "\(count) announced, \(entries.count) sent")
            }
            let ak = try r.blob16("akPublic", max: EvidenceProtocol.maxTPMStructure)
            let ek = try r.blob16("ekPublic", max: EvidenceProtocol.maxTPMStructure)
            let cert = try readCertificate(&r)
            let reset = try r.u32("resetCount")
            let restart = try r.u32("restartCount")
            self = .evidence(
                Evidence(
                    attest: attest, signature: sig, pcrs: pcrs, firstEntry: first, entries: entries, akPublic: ak,
                    ekPublic: ek, ekCertificate: cert, resetCount: reset, restartCount: restart))
        case .enrollRequest:
            self = .enrollRequest
        case .enrollResponse:
            let ak = try r.blob16("akPublic", max: EvidenceProtocol.maxTPMStructure)
            let name = try r.blob16("akName", max: 2 + 64)
            let ek = try r.blob16("ekPublic", max: EvidenceProtocol.maxTPMStructure)
            let cert = try readCertificate(&r)
            self = .enrollResponse(EnrollResponse(akPublic: ak, akName: name, ekPublic: ek, ekCertificate: cert))
        case .activateRequest:
            let blob = try r.blob16("credentialBlob", max: EvidenceProtocol.maxTPMStructure)
            let secret = try r.blob16("secret", max: EvidenceProtocol.maxTPMStructure)
            self = .activateRequest(ActivateRequest(credentialBlob: blob, secret: secret))
        case .activateResponse:
            self = .activateResponse(certInfo: try r.blob16("certInfo", max: 64))
        case .error:
            let code = try r.u16("code")
            let m = try r.blob16("message", max: EvidenceProtocol.maxErrorMessage)
            guard let text = String(validating: m, as: UTF8.self) else {
                throw EvidenceProtocolError.badValue(field: "message", reason: "not UTF-8")
            }
            self = .error(ProtocolErrorMessage(code: code, message: text))
        }
        try r.finish()
    }
}

private func check(_ n: Int, max: Int, _ field: String) throws {
    guard n <= max else { throw EvidenceProtocolError.fieldTooLarge(field: field, size: n, max: max) }
}

private func check(_ n: Int, in range: ClosedRange<Int>, _ field: String) throws {
    guard range.contains(n) else {
        throw EvidenceProtocolError.badValue(field: field, reason: "\(n) bytes, must be \(range.lowerBound)-\(range.upperBound)")
    }
}

private func writePublic(_ p: [UInt8], _ field: String, _ w: inout WireWriter) throws {
    try check(p.count, max: EvidenceProtocol.maxTPMStructure, field)
    w.blob16(p)
}

/// u32 length (0 = absent) then DER.
private func writeCertificate(_ c: [UInt8]?, _ w: inout WireWriter) throws {
    let c = c ?? []
    try check(c.count, max: EvidenceProtocol.maxCertificate, "ekCertificate")
    w.blob32(c)
}

private func readCertificate(_ r: inout WireReader) throws -> [UInt8]? {
    let c = try r.blob32("ekCertificate", max: EvidenceProtocol.maxCertificate)
    return c.isEmpty ? nil : c
}

/// u8 bank count; per bank u16 TPM_ALG_ID, u8 PCR count, then per PCR u8 index and the
/// digest (the bank's size). Banks distinct; PCR indices strictly increasing and < 24.
private func writePCRs(_ banks: [PCRBankValues], _ w: inout WireWriter) throws {
    guard banks.count <= EvidenceProtocol.maxBanks else {
        throw EvidenceProtocolError.fieldTooLarge(field: "pcrs", size: banks.count, max: EvidenceProtocol.maxBanks)
    }
    guard Set(banks.map(\.algorithm)).count == banks.count else {
        throw EvidenceProtocolError.badValue(field: "pcrs", reason: "bank listed twice")
    }
    w.u8(UInt8(banks.count))
    for b in banks {
        guard let alg = IMAHashAlgorithm(tpmAlgorithmID: b.algorithm) else {
            throw EvidenceProtocolError.badValue(field: "pcrs", reason: "unknown bank algorithm \(b.algorithm)")
        }
        w.u16(b.algorithm)
        guard b.values.count <= EvidenceProtocol.pcrCount else {
            throw EvidenceProtocolError.fieldTooLarge(field: "pcrs", size: b.values.count, max: EvidenceProtocol.pcrCount)
        }
        w.u8(UInt8(b.values.count))
        for (pcr, v) in b.values.sorted(by: { $0.key < $1.key }) {
            guard Int(pcr) < EvidenceProtocol.pcrCount, v.count == alg.digestSize else {
                throw EvidenceProtocolError.badValue(field: "pcrs", reason: "PCR \(pcr) of bank \(alg.rawValue)")
            }
            w.u8(pcr)
            w.raw(v)
        }
    }
}

private func readPCRs(_ r: inout WireReader) throws -> [PCRBankValues] {
    let n = Int(try r.u8("pcrs"))
    guard n <= EvidenceProtocol.maxBanks else {
        throw EvidenceProtocolError.fieldTooLarge(field: "pcrs", size: n, max: EvidenceProtocol.maxBanks)
    }
    var banks = [PCRBankValues]()
    for _ in 0..<n {
        let id = try r.u16("pcrs.algorithm")
        guard let alg = IMAHashAlgorithm(tpmAlgorithmID: id) else {
            throw EvidenceProtocolError.badValue(field: "pcrs", reason: "unknown bank algorithm \(id)")
        }
        guard !banks.contains(where: { $0.algorithm == id }) else {
            throw EvidenceProtocolError.badValue(field: "pcrs", reason: "bank \(alg.rawValue) listed twice")
        }
        let count = Int(try r.u8("pcrs.count"))
        guard count <= EvidenceProtocol.pcrCount else {
            throw EvidenceProtocolError.fieldTooLarge(field: "pcrs", size: count, max: EvidenceProtocol.pcrCount)
        }
        var values = [UInt8: [UInt8]]()
        var last = -1
        for _ in 0..<count {
            let pcr = try r.u8("pcrs.index")
            guard Int(pcr) < EvidenceProtocol.pcrCount, Int(pcr) > last else {
                throw EvidenceProtocolError.badValue(field: "pcrs", reason: "PCR index \(pcr) out of range or order")
            }
            last = Int(pcr)
            values[pcr] = try r.take(alg.digestSize, "pcrs.value")
        }
        banks.append(PCRBankValues(algorithm: id, values: values))
    }
    return banks
}
