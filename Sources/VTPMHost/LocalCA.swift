import Crypto
import Foundation
import SwiftASN1
import X509
import _CryptoExtras

/// The host's local certificate authority: a self-signed ECDSA P-384 root that signs the EK
/// (and platform) certificates of the instances this host provisions, as swtpm_setup's
/// swtpm-localca does. A verifier configured with the root (`vtpm ca show`) can then check that
/// an EK belongs to a TPM this host made.
///
/// On disk (created on first use, the key 0600): `DIR/ca-key.pem` (PKCS#8), `DIR/ca-cert.pem`.
/// Creation is serialized with an flock on `DIR/.lock`, so two processes provisioning at once
/// agree on one root.
public final class LocalCA: @unchecked Sendable {
    // @unchecked: immutable after init.
    public let directory: String
    public let certificate: Certificate
    private let key: P384.Signing.PrivateKey

    /// The CA directory when none is given: `$VTPM_CA_DIR`, else /var/lib/vtpm/ca for root,
    /// else ~/.local/share/vtpm/ca.
    public static func defaultDirectory() -> String {
        if let d = environmentDirectory() { return d }
        if getuid() == 0 { return "/var/lib/vtpm/ca" }
        return (ProcessInfo.processInfo.environment["HOME"] ?? ".") + "/.local/share/vtpm/ca"
    }

    /// `$VTPM_CA_DIR`, if set.
    public static func environmentDirectory() -> String? {
        guard let d = ProcessInfo.processInfo.environment["VTPM_CA_DIR"], !d.isEmpty else { return nil }
        return d
    }

    public var certificatePEM: String { (try? certificate.serializeAsPEM().pemString) ?? "" }

    /// Opens the CA in `directory`, creating the directory, key and root certificate when absent.
    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let lockFD = open(directory + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else { throw ManagementError("cannot open \(directory)/.lock: \(String(cString: strerror(errno)))") }
        defer { close(lockFD) }
        guard flock(lockFD, LOCK_EX) == 0 else { throw ManagementError("cannot lock \(directory)/.lock") }
        let keyPath = directory + "/ca-key.pem"
        let certPath = directory + "/ca-cert.pem"
        if FileManager.default.fileExists(atPath: keyPath) {
            do {
                key = try P384.Signing.PrivateKey(pemRepresentation: try String(contentsOfFile: keyPath, encoding: .utf8))
                certificate = try Certificate(pemEncoded: try String(contentsOfFile: certPath, encoding: .utf8))
            } catch {
                throw ManagementError("the local CA in \(directory) does not load: \(error)")
            }
            guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
                throw ManagementError("the local CA in \(directory): ca-cert.pem does not match ca-key.pem")
            }
            return
        }
        let newKey = P384.Signing.PrivateKey()
        key = newKey
        let name = try DistinguishedName {
            OrganizationName("vtpm")
            CommonName("vtpm local CA")
        }
        let now = Date()
        certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(newKey.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 25 * 365 * 86400, issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA384,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: Certificate.PublicKey(newKey.publicKey))
            },
            issuerPrivateKey: .init(newKey))
        try Self.writeDurably(keyPath, newKey.pemRepresentation, mode: 0o600)
        try Self.writeDurably(certPath, try certificate.serializeAsPEM().pemString + "\n", mode: 0o644)
    }

    private static func writeDurably(_ path: String, _ text: String, mode: mode_t) throws {
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw ManagementError("cannot create \(temp): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced, rename(temp, path) == 0 else {
            unlink(temp)
            throw ManagementError("cannot write \(path)")
        }
    }

    /// An endorsement key's public part, as a TPM reports it.
    public enum EndorsementKey: Sendable {
        case rsa(modulus: [UInt8], exponent: UInt32)
        /// NIST P-256 or P-384 (`bits` 256 or 384), affine coordinates.
        case ecc(bits: Int, x: [UInt8], y: [UInt8])

        var certificateKey: Certificate.PublicKey {
            get throws {
                switch self {
                case .rsa(let modulus, let exponent):
                    let e = exponent == 0 ? 65537 : exponent
                    let eBytes = Array(withUnsafeBytes(of: e.bigEndian) { Array($0) }.drop { $0 == 0 })
                    return Certificate.PublicKey(try _RSA.Signing.PublicKey(n: modulus, e: eBytes))
                case .ecc(let bits, let x, let y):
                    let size = (bits + 7) / 8
                    func pad(_ v: [UInt8]) -> [UInt8] { [UInt8](repeating: 0, count: max(0, size - v.count)) + v }
                    let point = [0x04] + pad(x) + pad(y)
                    switch bits {
                    case 256: return Certificate.PublicKey(try P256.Signing.PublicKey(x963Representation: point))
                    case 384: return Certificate.PublicKey(try P384.Signing.PublicKey(x963Representation: point))
                    default: throw ManagementError("no EK certificates for \(bits)-bit curves")
                    }
                }
            }
        }

        var isRSA: Bool { if case .rsa = self { return true } else { return false } }
    }

    /// What the TCG EK Credential Profile puts in the subject alternative name.
    public struct TPMIdentity: Sendable {
        /// TPM_PT_MANUFACTURER, TPM_PT_VENDOR_STRING_1.. (model) and TPM_PT_FIRMWARE_VERSION_1.
        public var manufacturer: UInt32
        public var model: String
        public var firmwareVersion: UInt32
        public init(manufacturer: UInt32, model: String, firmwareVersion: UInt32) {
            self.manufacturer = manufacturer
            self.model = model
            self.firmwareVersion = firmwareVersion
        }
    }

    // TCG OIDs (TCG EK Credential Profile 2.x, section 3.2 and the TCG OID registry).
    static let tpmManufacturer: ASN1ObjectIdentifier = [2, 23, 133, 2, 1]
    static let tpmModel: ASN1ObjectIdentifier = [2, 23, 133, 2, 2]
    static let tpmVersion: ASN1ObjectIdentifier = [2, 23, 133, 2, 3]
    static let tpmSpecification: ASN1ObjectIdentifier = [2, 23, 133, 2, 16]
    static let ekCertificatePurpose: ASN1ObjectIdentifier = [2, 23, 133, 8, 1]
    static let subjectDirectoryAttributes: ASN1ObjectIdentifier = [2, 5, 29, 9]

    /// An EK certificate as the TCG EK Credential Profile 2.x describes it: empty subject,
    /// the TPM's identity in a critical subjectAltName directoryName, keyEncipherment (RSA) or
    /// keyAgreement (ECC), not a CA, the tcg-kp-EKCertificate purpose, the TPM specification
    /// (family "2.0", level 0, revision 159, the engine's) in subjectDirectoryAttributes; signed by this CA.
    public func issueEKCertificate(for ek: EndorsementKey, identity: TPMIdentity, validYears: Int = 25) throws -> Certificate {
        let hex = { (v: UInt32) in "id:" + String(format: "%08X", v) }
        let san = SubjectAlternativeNames([
            .directoryName(
                DistinguishedName([
                    RelativeDistinguishedName([
                        .init(type: Self.tpmManufacturer, utf8String: hex(identity.manufacturer)),
                        .init(type: Self.tpmModel, utf8String: identity.model),
                        .init(type: Self.tpmVersion, utf8String: hex(identity.firmwareVersion)),
                    ])
                ]))
        ])
        let now = Date()
        let usage = ek.isRSA ? KeyUsage(keyEncipherment: true) : KeyUsage(keyAgreement: true)
        var extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(usage)
            Critical(san)
            AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            try ExtendedKeyUsage([ExtendedKeyUsage.Usage(oid: Self.ekCertificatePurpose)])
        }
        try extensions.append(
            Certificate.Extension(oid: Self.subjectDirectoryAttributes, critical: false, value: Self.tpmSpecificationAttribute()))
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: try ek.certificateKey,
            notValidBefore: now - 3600, notValidAfter: now + Double(validYears) * 365 * 86400,
            issuer: certificate.subject, subject: DistinguishedName(), signatureAlgorithm: .ecdsaWithSHA384,
            extensions: extensions, issuerPrivateKey: .init(key))
    }

    // TCG Platform Certificate Profile attribute OIDs and purpose.
    static let platformManufacturer: ASN1ObjectIdentifier = [2, 23, 133, 5, 1, 1]
    static let platformModel: ASN1ObjectIdentifier = [2, 23, 133, 5, 1, 4]
    static let platformVersion: ASN1ObjectIdentifier = [2, 23, 133, 5, 1, 5]
    static let platformCertificatePurpose: ASN1ObjectIdentifier = [2, 23, 133, 8, 2]

    /// A platform certificate as swtpm_setup's local CA makes one: a public-key certificate
    /// (not the TCG Platform Certificate Profile's attribute certificate) for the platform's
    /// EK, naming the platform (manufacturer "vtpm", model and version) in a critical
    /// subjectAltName, with the tcg-kp-PlatformCertificate purpose.
    public func issuePlatformCertificate(for ek: EndorsementKey, identity: TPMIdentity, validYears: Int = 25) throws -> Certificate {
        let san = SubjectAlternativeNames([
            .directoryName(
                DistinguishedName([
                    RelativeDistinguishedName([
                        .init(type: Self.platformManufacturer, utf8String: "vtpm"),
                        .init(type: Self.platformModel, utf8String: "vtpm virtual platform"),
                        .init(type: Self.platformVersion, utf8String: String(identity.firmwareVersion, radix: 16)),
                    ])
                ]))
        ])
        let now = Date()
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(san)
            AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            try ExtendedKeyUsage([ExtendedKeyUsage.Usage(oid: Self.platformCertificatePurpose)])
        }
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: try ek.certificateKey,
            notValidBefore: now - 3600, notValidAfter: now + Double(validYears) * 365 * 86400,
            issuer: certificate.subject, subject: DistinguishedName(), signatureAlgorithm: .ecdsaWithSHA384,
            extensions: extensions, issuerPrivateKey: .init(key))
    }

    /// SubjectDirectoryAttributes ::= SEQUENCE OF Attribute, holding tpmSpecification ::=
    /// SEQUENCE { family UTF8String, level INTEGER, revision INTEGER }.
    static func tpmSpecificationAttribute() throws -> ArraySlice<UInt8> {
        var s = DER.Serializer()
        try s.appendConstructedNode(identifier: .sequence) { attrs in
            try attrs.appendConstructedNode(identifier: .sequence) { attr in
                try attr.serialize(Self.tpmSpecification)
                try attr.appendConstructedNode(identifier: .set) { values in
                    try values.appendConstructedNode(identifier: .sequence) { spec in
                        try spec.serialize(ASN1UTF8String("2.0"))
                        try spec.serialize(0)
                        try spec.serialize(159)
                    }
                }
            }
        }
        return s.serializedBytes[...]
    }
}
