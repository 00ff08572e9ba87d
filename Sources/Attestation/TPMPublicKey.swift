import TPMCrypto
import TPMWire

/// What the verifier accepts in the TPM structures agents send: the algorithms, key sizes and
/// curves a PC Client TPM uses for EKs and AKs. Parsing with it is as strict as the TPM's own.
public enum VerifierAlgorithms {
    public static let support = TPMAlgorithmSupport(
        algorithms: [
            .rsa, .ecc, .sha1, .sha256, .sha384, .sha512, .aes, .cfb, .null, .rsassa, .rsapss, .rsaes, .oaep, .ecdsa, .ecdh,
            .ecdaa, .ecschnorr, .kdf1SP800_56A, .kdf1SP800_108, .kdf2, .mgf1, .hmac, .keyedHash, .symCipher, .xor,
        ],
        rsaKeyBits: [1024, 2048, 3072, 4096], aesKeyBits: [128, 192, 256], eccCurves: [.nistP256, .nistP384, .nistP521])
}

extension TPMAlgID {
    /// The TPMCrypto hash with this TPM_ALG_ID, if implemented.
    public var hashAlgorithm: HashAlgorithm? { HashAlgorithm(rawValue: rawValue) }
}

/// Why a public key or a signature was refused.
public enum KeyError: Error, Hashable, Sendable, CustomStringConvertible {
    case malformed(String)
    case unsupported(String)
    case badSignature(String)

    public var description: String {
        switch self {
        case .malformed(let s): return "malformed: \(s)"
        case .unsupported(let s): return "unsupported: \(s)"
        case .badSignature(let s): return "signature: \(s)"
        }
    }
}

/// A TPM object's public area as the verifier sees it (an AK or an EK): parsed strictly from a
/// TPM2B_PUBLIC, with its Name (Part 1, 16) computed from the octets that arrived.
public struct TPMPublicKey: Hashable, Sendable {
    public let publicArea: TPMTPublic
    /// The TPM2B_PUBLIC octets (with the size).
    public let tpm2bPublic: [UInt8]
    /// nameAlg || H_nameAlg(TPMT_PUBLIC).
    public let name: [UInt8]

    public init(tpm2bPublic bytes: [UInt8]) throws {
        var r = TPMReader(bytes)
        let p: TPM2BPublic
        do {
            p = try TPM2BPublic(from: &r, allowNull: false, support: VerifierAlgorithms.support)
        } catch {
            throw KeyError.malformed("TPM2B_PUBLIC: \(error)")
        }
        guard r.isAtEnd else { throw KeyError.malformed("TPM2B_PUBLIC: \(r.remaining) trailing bytes") }
        guard let h = p.publicArea.nameAlg.hashAlgorithm else { throw KeyError.unsupported("nameAlg") }
        publicArea = p.publicArea
        tpm2bPublic = bytes
        name = be16(p.publicArea.nameAlg.rawValue) + h.digest(Array(bytes.dropFirst(2)))
    }

    public var attributes: TPMAObject { publicArea.objectAttributes }

    /// An attestation key: a restricted signing key that never leaves its TPM (Part 1, 25.2:
    /// restricted, so the TPM signs only digests it computed itself and TPMS_ATTEST with
    /// TPM_GENERATED_VALUE cannot be forged with it).
    public var isAttestationKey: Bool {
        attributes.isSuperset(of: [.sign, .restricted, .fixedTPM, .fixedParent, .sensitiveDataOrigin]) && !attributes.contains(.decrypt)
    }

    /// A storage/endorsement key the verifier can send a credential to: a restricted
    /// decryption key (the TCG EK templates).
    public var isEndorsementKey: Bool {
        attributes.isSuperset(of: [.decrypt, .restricted, .fixedTPM, .fixedParent]) && !attributes.contains(.sign)
    }

    /// Verifies a TPMT_SIGNATURE (octets) over `message` (the TPMS_ATTEST octets). The scheme
    /// must be the key's own when the key names one (a restricted key always does).
    public func verify(signature sigBytes: [UInt8], over message: [UInt8]) throws {
        var r = TPMReader(sigBytes)
        let sig: TPMTSignature
        do {
            sig = try TPMTSignature(from: &r, allowNull: false, support: VerifierAlgorithms.support)
        } catch {
            throw KeyError.malformed("TPMT_SIGNATURE: \(error)")
        }
        guard r.isAtEnd else { throw KeyError.malformed("TPMT_SIGNATURE: \(r.remaining) trailing bytes") }
        try verify(signature: sig, over: message)
    }

    public func verify(signature sig: TPMTSignature, over message: [UInt8]) throws {
        switch (publicArea.parameters, publicArea.unique, sig.signature) {
        case (.rsa(let parms), .rsa(let n), .rsassa(let s)), (.rsa(let parms), .rsa(let n), .rsapss(let s)):
            try checkScheme(parms.scheme.details, signature: sig.sigAlg, hash: s.hash)
            guard let h = s.hash.hashAlgorithm else { throw KeyError.unsupported("signature hash") }
            let key: RSAPublicKey
            do {
                key = try RSAPublicKey(modulus: n.buffer, exponent: parms.exponent == 0 ? RSAPublicKey.defaultExponent : parms.exponent)
            } catch {
                throw KeyError.malformed("RSA public key: \(error)")
            }
            let digest = h.digest(message)
            let ok =
                sig.sigAlg == .rsassa
                ? key.verifyPKCS1v15(hash: h, digest: digest, signature: s.sig.buffer)
                : key.verifyPSS(hash: h, digest: digest, signature: s.sig.buffer)
            guard ok else { throw KeyError.badSignature("does not verify with the key") }
        case (.ecc(let parms), .ecc(let q), .ecdsa(let s)):
            try checkScheme(parms.scheme.details, signature: sig.sigAlg, hash: s.hash)
            guard let h = s.hash.hashAlgorithm else { throw KeyError.unsupported("signature hash") }
            guard let curve = ECCCurve(rawValue: parms.curveID.rawValue) else { throw KeyError.unsupported("curve") }
            let key: ECCPublicKey
            do {
                key = try ECCPublicKey(curve: curve, point: ECCPoint(x: q.x.buffer, y: q.y.buffer))
            } catch {
                throw KeyError.malformed("ECC public point: \(error)")
            }
            let ok = key.verifyECDSA(
                digest: h.digest(message), signature: ECCSignature(r: s.signatureR.buffer, s: s.signatureS.buffer))
            guard ok else { throw KeyError.badSignature("does not verify with the key") }
        default:
            throw KeyError.badSignature("scheme \(sig.sigAlg.rawValue) does not fit a \(publicArea.type.rawValue) key")
        }
    }

    /// The signature's scheme and hash must be the key's when the key fixes them.
    private func checkScheme(_ keyScheme: TPMUAsymScheme, signature: TPMAlgID, hash: TPMAlgID) throws {
        if case .null = keyScheme { return }
        guard TPMUSigScheme(keyScheme)?.selector == signature, keyScheme.hashAlg == hash else {
            throw KeyError.badSignature("scheme or hash differs from the key's")
        }
    }

    /// The hash of the key's signing scheme (the quote's pcrDigest uses it; Part 3, 18.4).
    public var signingHash: TPMAlgID? {
        switch publicArea.parameters {
        case .rsa(let p): return p.scheme.details.hashAlg == .null ? nil : p.scheme.details.hashAlg
        case .ecc(let p): return p.scheme.details.hashAlg == .null ? nil : p.scheme.details.hashAlg
        default: return nil
        }
    }
}

func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
