/// The ECC encryption of TPM2_ECC_Encrypt and TPM2_ECC_Decrypt (Part 3 rev 1.59, 14.8 and 14.9;
/// the functions CryptEccEncrypt and CryptEccDecrypt of Part 4), an SM2-style construction with
/// the KDF2 mask of TPM_ALG_KDF2:
///
///     k random in [1, n - 1]             C1 = [k]G
///     (x2, y2) = [k]Q                    each coordinate padded to the curve's size
///     C2 = M xor KDF2(H, x2 || y2, |M|)  KDF2: H(Z || [1]32) || H(Z || [2]32) || ...
///     C3 = H(x2 || M || y2)
///
/// Decryption recomputes (x2, y2) = [d]C1, unmasks C2 and accepts the result only when
/// H(x2 || M || y2) equals C3 (compared in constant time).
public enum ECCEncryption {
    public struct Ciphertext: Sendable, Equatable {
        /// The ephemeral public point [k]G.
        public let c1: ECCPoint
        /// The masked message, as long as the message.
        public let c2: [UInt8]
        /// The integrity digest H(x2 || M || y2).
        public let c3: [UInt8]

        public init(c1: ECCPoint, c2: [UInt8], c3: [UInt8]) {
            self.c1 = c1
            self.c2 = c2
            self.c3 = c3
        }
    }

    /// Encrypts `message` to `recipient`, drawing the ephemeral scalar from `source` with the
    /// rule of `ECCCurve.randomScalar`.
    public static func encrypt<S: BitSource>(
        _ message: [UInt8], to recipient: ECCPublicKey, hash: HashAlgorithm, using source: inout S
    ) throws -> Ciphertext {
        let ephemeral = try ECCPrivateKey.generate(curve: recipient.curve, using: &source)
        let p2 = try ephemeral.sharedPoint(with: recipient)
        var z = p2.x + p2.y
        defer { secureWipe(&z) }
        var mask = kdf2(hash, z: z, otherInfo: [], length: message.count)
        defer { secureWipe(&mask) }
        let c2 = zip(message, mask).map { $0 ^ $1 }
        let c3 = hash.digest([p2.x, message, p2.y])
        return Ciphertext(c1: ephemeral.publicKey.point, c2: c2, c3: c3)
    }

    /// Recovers the message of (C1, C2, C3) with `key`. C1 must already be a validated point of
    /// the key's curve (an `ECCPublicKey`). Throws `decryptionFailed` when C3 does not match.
    public static func decrypt(
        c1: ECCPublicKey, c2: [UInt8], c3: [UInt8], with key: ECCPrivateKey, hash: HashAlgorithm
    ) throws -> [UInt8] {
        let p2 = try key.sharedPoint(with: c1)
        var z = p2.x + p2.y
        defer { secureWipe(&z) }
        var mask = kdf2(hash, z: z, otherInfo: [], length: c2.count)
        defer { secureWipe(&mask) }
        var message = zip(c2, mask).map { $0 ^ $1 }
        guard constantTimeEqual(hash.digest([p2.x, message, p2.y]), c3) else {
            secureWipe(&message)
            throw TPMCryptoError.decryptionFailed
        }
        return message
    }
}
