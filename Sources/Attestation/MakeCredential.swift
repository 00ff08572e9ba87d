import TPMCrypto
import TPMWire

/// TPM2_MakeCredential done by the verifier in software (Part 1, 24; Part 3, 12.6): a secret
/// that only the TPM holding the EK can recover, and only for the object with the given Name
/// (TPM2_ActivateCredential checks the Name, Part 3, 12.5). Binding an AK to an EK this way is
/// how the verifier learns the AK lives in the same TPM as the certified EK.
public struct CredentialOutput: Hashable, Sendable {
    /// TPM2B_ID_OBJECT: size || TPM2B_DIGEST integrityHMAC || encIdentity.
    public let credentialBlob: [UInt8]
    /// TPM2B_ENCRYPTED_SECRET: size || the seed encrypted to the EK.
    public let secret: [UInt8]
}

public enum MakeCredential {
    /// - `ek`: the endorsement key (a restricted decryption key with an AES symmetric definition).
    /// - `objectName`: the AK's Name.
    /// - `credential`: at most the EK nameAlg's digest size (TPM2B_DIGEST in the TPM).
    /// - `seedSource`: bits for the seed (and the ephemeral ECC key, and OAEP's own seed).
    public static func make<S: BitSource>(ek: TPMPublicKey, objectName: [UInt8], credential: [UInt8], using source: inout S) throws
        -> CredentialOutput
    {
        guard ek.isEndorsementKey else { throw KeyError.unsupported("the key is not a restricted decryption key") }
        guard let nameHash = ek.publicArea.nameAlg.hashAlgorithm else { throw KeyError.unsupported("EK nameAlg") }
        guard !credential.isEmpty, credential.count <= nameHash.digestSize else {
            throw KeyError.unsupported("credential of \(credential.count) bytes (1...\(nameHash.digestSize))")
        }
        guard objectName.count >= 2 else { throw KeyError.malformed("object Name") }

        // Seed and its protection with the EK (Part 1, 24.4 and Annex B.10.4 / C.6.4).
        let seed: [UInt8]
        let encryptedSeed: [UInt8]
        let symmetric: TPMTSymDefObject
        switch (ek.publicArea.parameters, ek.publicArea.unique) {
        case (.rsa(let p), .rsa(let n)):
            symmetric = p.symmetric
            let oaepHash: HashAlgorithm
            switch p.scheme.details {
            case .null: oaepHash = nameHash
            case .oaep(let h):
                guard let oh = h.hashAlgorithm else { throw KeyError.unsupported("OAEP hash") }
                oaepHash = oh
            default: throw KeyError.unsupported("EK scheme")
            }
            seed = source.nextBytes(nameHash.digestSize)
            let key = try RSAPublicKey(modulus: n.buffer, exponent: p.exponent == 0 ? RSAPublicKey.defaultExponent : p.exponent)
            encryptedSeed = try key.encryptOAEP(hash: oaepHash, label: RSAPublicKey.oaepLabel("IDENTITY"), seed, using: &source)
        case (.ecc(let p), .ecc(let q)):
            symmetric = p.symmetric
            guard let curve = ECCCurve(rawValue: p.curveID.rawValue) else { throw KeyError.unsupported("curve") }
            let ekKey = try ECCPublicKey(curve: curve, point: ECCPoint(x: q.x.buffer, y: q.y.buffer))
            // One-pass Diffie-Hellman with an ephemeral key (Part 1, C.6.4): Z = [de]Q_EK, the
            // seed KDFe(nameAlg, Z.x, "IDENTITY", Qe.x, Q_EK.x).
            let ephemeral = try ECCPrivateKey.generate(curve: curve, using: &source)
            let z = try ephemeral.sharedPoint(with: ekKey)
            let qe = ephemeral.publicKey.point
            seed = kdfe(nameHash, z: z.x, use: "IDENTITY", partyUInfo: qe.x, partyVInfo: q.x.buffer, bits: 8 * nameHash.digestSize)
            var w = TPMWriter()
            TPMSECCPoint(x: TPM2BECCParameter(qe.x), y: TPM2BECCParameter(qe.y)).encode(to: &w)
            encryptedSeed = w.bytes
        default:
            throw KeyError.unsupported("EK type")
        }
        guard symmetric.algorithm == .aes, symmetric.mode == .cfb else { throw KeyError.unsupported("EK symmetric definition") }

        // Part 1, 24.4: symKey = KDFa(nameAlg, seed, "STORAGE", Name, empty, keyBits);
        // encIdentity = CFB(symKey, IV = 0, TPM2B_DIGEST credential).
        let symKey = kdfa(nameHash, key: seed, label: "STORAGE", contextU: objectName, contextV: [], bits: Int(symmetric.keyBits))
        let encIdentity = try AESCFB.encrypt(key: symKey, iv: [UInt8](repeating: 0, count: 16), be16(UInt16(credential.count)) + credential)
        // Part 1, 24.5: HMACkey = KDFa(nameAlg, seed, "INTEGRITY", empty, empty, digest bits);
        // outerHMAC = HMAC(HMACkey, encIdentity || Name).
        let hmacKey = kdfa(nameHash, key: seed, label: "INTEGRITY", contextU: [], contextV: [], bits: 8 * nameHash.digestSize)
        let outerHMAC = nameHash.hmac(key: hmacKey, data: encIdentity + objectName)
        let idObject = be16(UInt16(outerHMAC.count)) + outerHMAC + encIdentity
        return CredentialOutput(
            credentialBlob: be16(UInt16(idObject.count)) + idObject, secret: be16(UInt16(encryptedSeed.count)) + encryptedSeed)
    }

    /// With a fresh DRBG seeded from the operating system.
    public static func make(ek: TPMPublicKey, objectName: [UInt8], credential: [UInt8]) throws -> CredentialOutput {
        var drbg = HMACDRBG(
            entropy: SystemEntropy.bytes(48), nonce: SystemEntropy.bytes(16), personalization: Array("vtpm-verifier credential".utf8))
        return try make(ek: ek, objectName: objectName, credential: credential, using: &drbg)
    }
}
