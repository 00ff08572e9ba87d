import TPMCrypto
import TPMWire

// The DER pieces of TPM2_CertifyX509 (Part 3, 18.8; the reference's TpmAsn1.c, X509_spt.c,
// X509_RSA.c and X509_ECC.c): reading the caller's partial certificate with the reference's
// tag and length rules, checking its KeyUsage and TPMA_OBJECT extensions against the object,
// and writing the values the TPM adds (version, serial number, signature algorithm, subject
// public key). Lengths up to 0xFFFF use the DER forms (short, 0x81 n, 0x82 n n).

/// A DER reader with the reference's ASN1NextTag rules: single-octet tags only, lengths in the
/// short form or 0x81/0x82 (below 0x8000), each within what remains. Any violation is nil.
struct DERReader {
    let bytes: [UInt8]
    var offset = 0
    var end: Int
    var tag: UInt8 = 0xFF

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        offset = start
        self.end = end ?? bytes.count
    }

    var atEnd: Bool { offset >= end }

    /// Reads a tag and length; returns the length (the content starts at `offset`).
    mutating func nextTag() -> Int? {
        guard offset < end else { return nil }
        tag = bytes[offset]
        offset += 1
        guard tag & 0x1F != 0x1F, offset < end else { return nil }
        let first = bytes[offset]
        offset += 1
        var length = Int(first)
        if first >= 0x80 {
            let n = Int(first & 0x7F)
            guard offset + n <= end else { return nil }
            switch first {
            case 0x81:
                length = Int(bytes[offset])
            case 0x82:
                guard bytes[offset] < 0x80 else { return nil }
                length = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
            default:
                return nil
            }
            offset += n
        }
        guard offset + length <= end else { return nil }
        return length
    }

    /// ASN1GetBitStringValue: a BIT STRING of at most 32 bits, left-justified in a UInt32.
    mutating func bitStringValue() -> UInt32? {
        guard let length = nextTag(), length >= 1, tag == 0x03 else { return nil }
        let shift = Int(bytes[offset])
        offset += 1
        var remaining = length - 1
        let inputBits = 8 * remaining - shift
        guard shift < 8, remaining > 0 || shift == 0 else { return nil }
        var value: UInt32 = 0
        while remaining > 1 {
            guard value & 0xFF00_0000 == 0 else { return nil }
            value = value << 8 + UInt32(bytes[offset])
            offset += 1
            remaining -= 1
        }
        if remaining == 1 {
            guard value & (0xFF00_0000 << UInt32(8 - shift)) == 0 else { return nil }
            value = value << UInt32(8 - shift) + UInt32(bytes[offset] >> UInt8(shift))
            offset += 1
        }
        if inputBits > 0 { value <<= UInt32(32 - inputBits) }
        return value
    }
}

enum X509 {
    static let sequence: UInt8 = 0x30
    static let extensionsTag: UInt8 = 0xA3
    static let oidKeyUsage: [UInt8] = [0x06, 0x03, 0x55, 0x1D, 0x0F]
    /// 2.23.133.10.1.1.1, the TCG's TPMA_OBJECT extension.
    static let oidTPMAObject: [UInt8] = [0x06, 0x07, 0x67, 0x81, 0x05, 0x0A, 0x01, 0x01, 0x01]
    static let oidECPublicKey: [UInt8] = [0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]
    static let oidRSAEncryption: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]
    static let oidRSAPSS: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A]
    static let oidMGF1: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x08]

    static func curveOID(_ c: TPMECCCurve) -> [UInt8]? {
        switch c {
        case .nistP256: return [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
        case .nistP384: return [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22]
        case .nistP521: return [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23]
        default: return nil
        }
    }

    static func hashOID(_ h: TPMAlgID) -> [UInt8]? {
        let nist: [UInt8] = [0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02]
        switch h {
        case .sha1: return [0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A]
        case .sha256: return nist + [0x01]
        case .sha384: return nist + [0x02]
        case .sha512: return nist + [0x03]
        default: return nil
        }
    }

    static func pkcs1OID(_ h: TPMAlgID) -> [UInt8]? {
        let base: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01]
        switch h {
        case .sha1: return base + [0x05]
        case .sha256: return base + [0x0B]
        case .sha384: return base + [0x0C]
        case .sha512: return base + [0x0D]
        default: return nil
        }
    }

    static func ecdsaOID(_ h: TPMAlgID) -> [UInt8]? {
        switch h {
        case .sha1: return [0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x01]
        case .sha256: return [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02]
        case .sha384: return [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03]
        case .sha512: return [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x04]
        default: return nil
        }
    }

    // MARK: writing

    static func length(_ n: Int) -> [UInt8] {
        if n <= 127 { return [UInt8(n)] }
        if n <= 0xFF { return [0x81, UInt8(n)] }
        return [0x82, UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
    }

    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] { [tag] + length(content.count) + content }

    /// ASN1PushInteger: no leading zero octets, and one zero added when the first is 0x80 or above.
    static func integer(_ big: [UInt8]) -> [UInt8] {
        var v = Array(big.drop { $0 == 0 })
        if v.isEmpty { v = [0] }
        if v[0] >= 0x80 { v.insert(0, at: 0) }
        return tlv(0x02, v)
    }

    static func integer(_ u: UInt32) -> [UInt8] {
        integer([UInt8(u >> 24), UInt8(u >> 16 & 0xFF), UInt8(u >> 8 & 0xFF), UInt8(u & 0xFF)])
    }

    /// SEQUENCE { OID, NULL } (X509PushAlgorithmIdentifierSequence).
    static func algorithmIdentifier(_ oid: [UInt8]) -> [UInt8] { tlv(sequence, oid + [0x05, 0x00]) }

    /// X509AddPublicKey: the SubjectPublicKeyInfo of an RSA or ECC key; nil for other types.
    static func subjectPublicKeyInfo(_ p: TPMTPublic) -> [UInt8]? {
        switch (p.parameters, p.unique) {
        case (.rsa(let parms), .rsa(let n)):
            let e = parms.exponent == 0 ? RSAPublicKey.defaultExponent : parms.exponent
            let key = tlv(sequence, integer(n.buffer) + integer(e))
            return tlv(sequence, algorithmIdentifier(oidRSAEncryption) + tlv(0x03, [0] + key))
        case (.ecc(let parms), .ecc(let q)):
            guard let curve = curveOID(parms.curveID) else { return nil }
            let point = tlv(0x03, [0, 0x04] + q.x.buffer + q.y.buffer)
            return tlv(sequence, tlv(sequence, oidECPublicKey + curve) + point)
        default:
            return nil
        }
    }

    /// X509AddSigningAlgorithm: the AlgorithmIdentifier of a signature by `signer` under
    /// `scheme` (RSASSA, RSAPSS with its parameters, ECDSA); nil when there is none.
    static func signatureAlgorithm(signer: KeyObject, scheme: TPMUSigScheme) -> [UInt8]? {
        switch (signer.type, scheme) {
        case (.rsa, .rsassa(let h)):
            return pkcs1OID(h).map(algorithmIdentifier)
        case (.rsa, .rsapss(let h)):
            guard let hashOID = hashOID(h), let hash = h.hashAlgorithm, case .rsa(let n) = signer.publicArea.unique else { return nil }
            if h == .sha1 { return algorithmIdentifier(oidRSAPSS) }
            let salt = max(0, min(hash.digestSize, n.count - hash.digestSize - 2))
            let params =
                tlv(0xA0, algorithmIdentifier(hashOID)) + tlv(0xA1, tlv(sequence, oidMGF1 + algorithmIdentifier(hashOID)))
                + tlv(0xA2, integer(UInt32(salt)))
            return tlv(sequence, oidRSAPSS + tlv(sequence, params))
        case (.ecc, .ecdsa(let h)):
            return ecdsaOID(h).map { tlv(sequence, $0) }
        default:
            return nil
        }
    }

    // MARK: extensions

    /// X509FindExtensionByOID: the extension (a SEQUENCE) in `list` whose content starts with
    /// `oid`, as a reader over that content; `.malformed` when the list does not parse.
    enum Found {
        case found(DERReader)
        case absent
        case malformed
    }

    static func findExtension(_ list: DERReader, oid: [UInt8]) -> Found {
        var r = list
        while r.offset < r.end {
            guard let length = r.nextTag(), r.tag == sequence else { return .malformed }
            if length >= oid.count, Array(r.bytes[r.offset..<r.offset + oid.count]) == oid {
                return .found(DERReader(r.bytes, from: r.offset, to: r.offset + length))
            }
            r.offset += length
        }
        return r.offset == r.end ? .absent : .malformed
    }

    /// X509GetExtensionBits: the BIT STRING inside the extension's OCTET STRING.
    static func extensionBits(_ ext: DERReader) -> UInt32? {
        var r = ext
        while let length = r.nextTag(), length > 0, r.end > r.offset {
            if r.tag == 0x04 { return r.bitStringValue() }
            r.offset += length
        }
        return nil
    }

    /// X509ProcessExtensions: the TPMA_OBJECT extension, when present, must equal the object's
    /// attributes (TPM_RC_ATTRIBUTES); KeyUsage must be present and allowed by them; anything
    /// malformed is TPM_RC_VALUE (codes unnumbered).
    static func processExtensions(_ element: [UInt8], attributes: TPMAObject) throws {
        var r = DERReader(element)
        guard r.nextTag() != nil, r.tag == extensionsTag, let listLength = r.nextTag(), r.tag == sequence else { throw TPMError.value }
        let list = DERReader(element, from: r.offset, to: r.offset + listLength)
        switch findExtension(list, oid: oidTPMAObject) {
        case .found(let ext):
            guard let bits = extensionBits(ext) else { throw TPMError.value }
            if bits != attributes.rawValue { throw TPMError(.attributes) }
        case .absent: break
        case .malformed: throw TPMError.value
        }
        guard case .found(let ext) = findExtension(list, oid: oidKeyUsage), let usage = extensionBits(ext) else { throw TPMError.value }
        let digitalSignature: UInt32 = 1 << 31
        let nonRepudiation: UInt32 = 1 << 30
        let keyAgreement: UInt32 = 1 << 27
        let signUses: UInt32 = digitalSignature | 1 << 26 | 1 << 25  // keyCertSign, cRLSign
        let decryptUses: UInt32 = 1 << 29 | 1 << 28 | keyAgreement | 1 << 24 | 1 << 23  // key/dataEncipherment, en/decipherOnly
        let badSign = usage & signUses != 0 && !attributes.has(.sign)
        let badDecrypt = usage & decryptUses != 0 && !attributes.has(.decrypt)
        let badFixedTPM = usage & nonRepudiation != 0 && !attributes.has(.fixedTPM)
        let badRestricted = usage & keyAgreement != 0 && !attributes.has(.restricted)
        if badSign || badDecrypt || badFixedTPM || badRestricted { throw TPMError.value }
    }
}
