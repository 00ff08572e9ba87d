import Foundation
import Logging
import TPMClient
import TPMCrypto
import TPMWire

/// The EK (TCG template, re-created at every start: the same key for the same seed) and the
/// attestation key under it, created once and kept as its TPM2_Create blobs in the state
/// directory (`ak.pub`, `ak.priv`: TPM2B_PUBLIC and TPM2B_PRIVATE), loaded again after a
/// restart, so the verifier's binding of this AK to the EK outlives the agent.
///
/// Every use of the EK goes through a PolicySecret(TPM_RH_ENDORSEMENT) session (the EK
/// templates' PolicyA); the AK is used with an empty password.
public final class AttestationKey: @unchecked Sendable {
    public let ekPublic: PublicArea
    public let akPublic: PublicArea
    public let akName: [UInt8]
    public let ekCertificate: [UInt8]?
    private(set) var ekHandle: TPMHandle
    private(set) var akHandle: TPMHandle
    private let blob: CreatedObject
    private let ekTemplate: TPMTPublic

    /// Creates or loads the keys; call with the TPM held (`TPMAccess.with`).
    public init(client: TPMClient, stateDirectory: URL, algorithm: String, logger: Logger) throws {
        ekTemplate = algorithm == "rsa" ? KeyTemplates.ekRSA2048 : KeyTemplates.ekECCP256
        let akTemplate = algorithm == "rsa" ? KeyTemplates.akRSA2048 : KeyTemplates.akECCP256
        let pubURL = stateDirectory.appendingPathComponent("ak.pub")
        let privURL = stateDirectory.appendingPathComponent("ak.priv")
        let ekURL = stateDirectory.appendingPathComponent("ek.pub")
        // Without a resource manager, objects a killed agent left loaded stay in the TPM: flush
        // those that are this agent's (the Names of the EK and AK it stored), nothing else.
        let ours = Set([ekURL, pubURL].compactMap { try? Data(contentsOf: $0) }.compactMap { Self.name(ofSized: [UInt8]($0)) })
        if !ours.isEmpty, let handles = try? client.transientHandles() {
            for h in handles {
                if let (_, name, _) = try? client.readPublic(h), ours.contains(name) {
                    try? client.flushContext(h)
                    logger.info("flushed \(h) left loaded by an earlier run")
                }
            }
        }
        let ek = try client.createPrimary(hierarchy: .endorsement, template: ekTemplate)
        ekHandle = ek.handle
        ekPublic = ek.outPublic
        try? Self.writeAtomically(Data(ek.outPublic.sized), ekURL)
        var stored: CreatedObject?
        if let pub = try? Data(contentsOf: pubURL), let priv = try? Data(contentsOf: privURL) {
            stored = try? Self.decode(pub: [UInt8](pub), priv: [UInt8](priv))
            if stored == nil { logger.error("ak.pub/ak.priv are unreadable; creating a new attestation key") }
        }
        if let s = stored, s.outPublic.publicArea.type != akTemplate.type {
            logger.notice("ak-algorithm changed; creating a new attestation key")
            stored = nil
        }
        var loaded: (TPMHandle, [UInt8])?
        if let s = stored {
            do {
                loaded = try client.withEndorsementPolicy { try client.load(parent: ek.handle, parentAuth: $0, object: s) }
                logger.info("attestation key loaded from \(pubURL.path)")
            } catch {
                // Another TPM, or a cleared endorsement hierarchy: the old AK is of no use.
                logger.error("the stored attestation key does not load under this EK (\(error)); creating a new one")
                stored = nil
            }
        }
        if stored == nil {
            let created = try client.withEndorsementPolicy { try client.create(parent: ek.handle, parentAuth: $0, template: akTemplate) }
            try Self.writeAtomically(Data(created.outPublic.sized), pubURL)
            try Self.writeAtomically(Data(u16(created.outPrivate.count) + created.outPrivate), privURL)
            stored = created
            loaded = try client.withEndorsementPolicy { try client.load(parent: ek.handle, parentAuth: $0, object: created) }
            logger.notice("created a new attestation key (\(algorithm)); a verifier must enroll it")
        }
        blob = stored!
        akPublic = blob.outPublic
        (akHandle, akName) = loaded!
        let index = algorithm == "rsa" ? EKCertificateIndex.rsa2048 : EKCertificateIndex.eccP256
        ekCertificate = try? client.nvReadAll(index)
        logger.info("EK certificate: \(ekCertificate.map { "\($0.count) bytes from NV" } ?? "none in NV")")
    }

    /// After a TPM reset the transient objects are gone: create the EK and load the AK again.
    public func reload(client: TPMClient) throws {
        let ek = try client.createPrimary(hierarchy: .endorsement, template: ekTemplate)
        guard ek.outPublic == ekPublic else { throw StoreError.io("reload", "the EK changed (another TPM?)") }
        ekHandle = ek.handle
        let (h, name) = try client.withEndorsementPolicy { try client.load(parent: ek.handle, parentAuth: $0, object: blob) }
        guard name == akName else { throw StoreError.io("reload", "the AK's Name changed") }
        akHandle = h
    }

    /// Runs `body`; if the TPM lost the keys (TPM_RC_HANDLE or TPM_RC_REFERENCE_H0 on a handle),
    /// reloads them and runs it once more.
    public func withKeys<T>(client: TPMClient, _ body: (TPMHandle, TPMHandle) throws -> T) throws -> T {
        do {
            return try body(akHandle, ekHandle)
        } catch let e as TPMClientError {
            // TPM_RC_HANDLE (format one, any handle number) or TPM_RC_REFERENCE_H0..H6.
            guard let v = e.responseCode?.rawValue, (v & 0x080 != 0 && v & 0x03F == 0x00B) || (0x910...0x916).contains(v)
            else { throw e }
            try reload(client: client)
            return try body(akHandle, ekHandle)
        }
    }

    /// Flushes the keys (at exit: a TPM without a resource manager keeps them otherwise).
    public func flush(client: TPMClient) {
        try? client.flushContext(akHandle)
        try? client.flushContext(ekHandle)
    }

    /// The Name of a TPM2B_PUBLIC's area: nameAlg || H(TPMT_PUBLIC).
    static func name(ofSized b: [UInt8]) -> [UInt8]? {
        guard b.count > 4, let area = try? PublicArea(bytes: Array(b[2...])),
            let h = HashAlgorithm(rawValue: area.publicArea.nameAlg.rawValue)
        else { return nil }
        return u16(Int(area.publicArea.nameAlg.rawValue)) + h.digest(area.bytes)
    }

    static func decode(pub: [UInt8], priv: [UInt8]) throws -> CreatedObject {
        var r = TPMReader(pub)
        let p = try PublicArea(bytes: try r.sized(max: TPMLimits.maxPublicAreaSize))
        guard r.isAtEnd else { throw TPMError.size }
        var q = TPMReader(priv)
        let s = try q.sized(max: TPMLimits.maxPrivateSize)
        guard q.isAtEnd else { throw TPMError.size }
        return CreatedObject(outPrivate: s, outPublic: p)
    }

    static func writeAtomically(_ data: Data, _ url: URL) throws {
        try data.write(to: url, options: .atomic)
    }
}

func u16(_ n: Int) -> [UInt8] { [UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)] }
