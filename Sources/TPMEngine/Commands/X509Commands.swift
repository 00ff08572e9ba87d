import TPMCrypto
import TPMWire

extension TPM {
    /// TPM2_CertifyX509 (Part 3, 18.8): signs an X.509 certificate for objectHandle (ADMIN role)
    /// with signHandle (USER role). partialCertificate is a DER SEQUENCE of the issuer, validity,
    /// subject (and optionally first the signature AlgorithmIdentifier) SEQUENCEs and the [3]
    /// extensions, which must hold KeyUsage and may hold the TCG's TPMA_OBJECT extension
    /// (X509Certificate.swift). The TPM adds the version (v3), a serial number (the signer's
    /// nameAlg digest of the other TBS parts, the signer's Name and the object's Name, at most
    /// 20 octets), the signature algorithm when the caller gave none, and the subject public
    /// key; it returns them as addedToCertificate (a DER SEQUENCE in TBS order), the digest of
    /// the whole TBSCertificate with the scheme's hash, and the signature over it.
    ///
    /// Checks in the reference's order: reserved empty (TPM_RC_SIZE + P1), a signing key
    /// (TPM_RC_KEY + H2), a compatible scheme (TPM_RC_SCHEME + P2), an RSA or ECC object
    /// (TPM_RC_ASYMMETRIC + H1), the partial certificate one SEQUENCE using every octet
    /// (TPM_RC_SIZE + P3; empty or malformed content TPM_RC_VALUE + P3), three or four
    /// SEQUENCEs and exactly one extensions element (TPM_RC_VALUE + P3), a signature algorithm
    /// the TPM can name when it must (TPM_RC_SCHEME + H2), the extensions (TPM_RC_ATTRIBUTES +
    /// H1 for a TPMA_OBJECT extension that differs from the object's attributes, TPM_RC_VALUE +
    /// P3 otherwise).
    func certifyX509Command(_ c: inout CommandContext) throws {
        let reserved = try c.param(TPM2BData.self)
        let inScheme = try c.param(TPM.sigSchemeParameter)
        let partial = try c.param(TPM2BMaxBuffer.self).buffer
        try c.finish()
        guard reserved.count == 0 else { throw TPMError.size.parameter(1) }
        guard let signer = keyObject(c.handles[1]), TPM.isSigningObject(signer) else { throw TPMError(.key).handle(2) }
        guard let scheme = TPM.selectSignScheme(signer, requested: inScheme.details) else { throw TPMError(.scheme).parameter(2) }
        guard let object = keyObject(c.handles[0]), let spki = X509.subjectPublicKeyInfo(object.publicArea) else {
            throw TPMError(.asymmetric).handle(1)
        }
        guard !partial.isEmpty else { throw TPMError.value.parameter(3) }
        var r = DERReader(partial)
        guard let outerLength = r.nextTag(), r.tag == X509.sequence, r.offset + outerLength == partial.count else {
            throw TPMError.size.parameter(3)
        }
        var sequences: [[UInt8]] = []
        var extensions: [UInt8]?
        while r.offset < r.end {
            let start = r.offset
            guard let length = r.nextTag() else { break }
            if r.tag == X509.sequence {
                r.offset += length
                sequences.append(Array(partial[start..<r.offset]))
                if sequences.count > 4 { break }
            } else if r.tag == X509.extensionsTag {
                guard extensions == nil else { throw TPMError.value.parameter(3) }
                r.offset += length
                extensions = Array(partial[start..<r.offset])
            } else {
                throw TPMError.value.parameter(3)
            }
        }
        guard r.offset == r.end, (3...4).contains(sequences.count), let extensions else { throw TPMError.value.parameter(3) }
        let signatureAlgorithm: [UInt8]
        let tpmNamesAlgorithm = sequences.count == 3
        if !tpmNamesAlgorithm {
            signatureAlgorithm = sequences.removeFirst()
        } else {
            guard let a = X509.signatureAlgorithm(signer: signer, scheme: scheme) else { throw TPMError(.scheme).handle(2) }
            signatureAlgorithm = a
        }
        do {
            try X509.processExtensions(extensions, attributes: object.attributes)
        } catch let e as TPMError {
            throw e.rc == .attributes ? e.handle(1) : e.parameter(3)
        }
        // issuer, validity, subject, then the subject public key and the extensions.
        let rest = signatureAlgorithm + sequences.joined() + spki + extensions
        guard let serialHash = signer.nameAlg.hashAlgorithm, let tbsHash = scheme.hashAlg.hashAlgorithm else {
            throw TPMError(.scheme).parameter(2)
        }
        let serial = Array(serialHash.digest(rest + signer.name.buffer + object.name.buffer).prefix(20))
        let version = X509.tlv(0xA0, X509.integer(2))
        let serialNumber = X509.integer(serial)
        let tbs = X509.tlv(X509.sequence, version + serialNumber + rest)
        let tbsDigest = tbsHash.digest(tbs)
        let added = version + serialNumber + (tpmNamesAlgorithm ? signatureAlgorithm : []) + spki
        let addedToCertificate = X509.tlv(X509.sequence, added)
        guard addedToCertificate.count <= TPMLimits.maxDigestBuffer else { throw TPMError(.failure) }
        let signature = try sign(signer, scheme: scheme, digest: tbsDigest)
        TPM2BMaxBuffer(addedToCertificate).encode(to: &c.response)
        TPM2BDigest(tbsDigest).encode(to: &c.response)
        signature.encode(to: &c.response)
    }
}
