import Crypto
import TPMCrypto
import TPMEngine
import TPMWire
import XCTest

// Derived objects (Part 1, 27.3; TPM2_CreateLoaded under a derivation parent). The known
// answers are libtpms 0.9.2's (swtpm 0.7.1): the public areas it derives from the same parent
// secret, templates, labels and contexts, also recomputed with Python's `cryptography` from the
// reference's description (SP 800-108 stream, extra-random-bits scalar). Error codes are
// libtpms's too.

final class DerivedObjectTests: XCTestCase {
    typealias C = DifferentialCase
    static let parentBits: [UInt8] = Array(1...32)
    /// A derivation parent: restricted decryption KEYEDHASH, XOR with SHA-256 and SP 800-108,
    /// its secret supplied (so it must be duplicable: neither fixedTPM nor fixedParent).
    static let parentTemplate = Templates.keyedHash(
        attributes: [.userWithAuth, .restricted, .decrypt], scheme: .xor(hashAlg: .sha256, kdf: .kdf1SP800_108))
    static let childAttributes: TPMAObject = [.fixedParent, .userWithAuth, .sign]

    /// A template head (type, nameAlg, attributes, policy, parameters) followed by a TPMS_DERIVE.
    static func template(_ t: TPMTPublic, label: [UInt8], context: [UInt8]) -> [UInt8] {
        var w = TPMWriter()
        w.u16(t.type.rawValue)
        w.u16(t.nameAlg.rawValue)
        t.objectAttributes.encode(to: &w)
        t.authPolicy.encode(to: &w)
        t.parameters.encode(to: &w)
        w.sized(label)
        w.sized(context)
        return w.bytes
    }

    static func eccChild(_ curve: TPMECCCurve, _ hash: TPMAlgID) -> TPMTPublic {
        Templates.ecc(curve: curve, attributes: childAttributes, scheme: .ecdsa(hashAlg: hash))
    }
    static let hmacChild = Templates.keyedHash(attributes: childAttributes, scheme: .hmac(hashAlg: .sha256))
    static let aesChild = Templates.symCipher(attributes: [.fixedParent, .userWithAuth, .decrypt, .sign])

    static func derive(_ t: TPMTPublic, label: [UInt8], context: [UInt8], data: [UInt8] = []) -> [UInt8] {
        createLoadedCommand(parent: TPMHandle(0x8000_0000), templateBytes: template(t, label: label, context: context), data: data)
    }

    static func derive(_ t: [UInt8], data: [UInt8] = []) -> [UInt8] {
        createLoadedCommand(parent: TPMHandle(0x8000_0000), templateBytes: t, data: data)
    }

    func parseCreateLoaded(_ r: [UInt8]) throws -> (handle: TPMHandle, publicBytes: [UInt8], publicArea: TPMTPublic, name: [UInt8]) {
        XCTAssertEqual(responseCode(r), 0)
        var p = try checkedParameters(r, hasHandle: true)
        XCTAssertEqual(try p.sized(max: 2048), [], "a derived object's private area is not returned")
        let pubBytes = try p.sized(max: 1024)
        var pr = TPMReader(pubBytes)
        let pub = try TPMTPublic(from: &pr, allowNull: false, support: support)
        let name = try p.sized(max: 66)
        return (responseHandle(r), pubBytes, pub, name)
    }

    func testKnownAnswersFromLibtpms() throws {
        let tpm = startedTPM()
        let parent = try makePrimary(tpm, .owner, Self.parentTemplate, data: Self.parentBits)
        XCTAssertEqual(parent.handle, TPMHandle(0x8000_0000))
        let derive = { (name: String) in Array(name.utf8) }
        let cases: [(String, [UInt8], String)] = [
            (
                "ecc p256", Self.derive(Self.eccChild(.nistP256, .sha256), label: derive("label"), context: derive("context")),
                "0023000b00040050000000100018000b000300100020457dd59a259322b8e5e7e517085c7eb732f4ef1728ba533d36471d570fb61b26"
                    + "0020772738b6373afa55b1be2a339dc528c814eb25012845573e3995597ac86aca8b"
            ),
            (
                "ecc p384", Self.derive(Self.eccChild(.nistP384, .sha384), label: derive("L"), context: []),
                "0023000b00040050000000100018000c00040010003077265d848bdebd8e84e62511fff1f81dfae613ae8c29085ff033e05ceaf7fda3"
                    + "2276fae14d7077b235dd9d16044083220030d6dd584bb4de6a379ec8e1f7a65907a9c6407dc208509ee816823e8cffde991ce348"
                    + "7829fc088cdbf378c9c104e36d20"
            ),
            (
                "ecc p521", Self.derive(Self.eccChild(.nistP521, .sha512), label: [], context: []),
                "0023000b00040050000000100018000d00050010004200fb4b0c5f5958a1ba4035eee2f2f73f886a8aaddebe89e7348f2505c9c1276f"
                    + "3c6f434e567bb120a3a02eaa766a2eb4816c549a1686f58dec904f7c60a5937d2aeb0042005e2ebc7907e67959a3a553c233be8faf"
                    + "ec849c7c5bfd2b78fc78e44dc378d88009b8e5eb0948477557f791bf18437182059687f095f34d369c6c130f0b1a8d1720"
            ),
            (
                "label and context from the sensitive data",
                Self.derive(
                    Self.eccChild(.nistP256, .sha256), label: [], context: [],
                    data: Spec1.sized(derive("dlabel")) + Spec1.sized(derive("dcontext"))),
                "0023000b00040050000000100018000b0003001000202f06c2cb92769dc4f099910d39cefa96d4be2b5f50c1b87a3b67d164f3a8c67b"
                    + "00206193091883b248b8c2009f2122ba85ca168325bebc65d7cffdb30f3482c54f08"
            ),
            (
                "the template's label wins",
                Self.derive(
                    Self.eccChild(.nistP256, .sha256), label: derive("tlabel"), context: [],
                    data: Spec1.sized(derive("dlabel")) + Spec1.sized(derive("dcontext"))),
                "0023000b00040050000000100018000b000300100020d5936c209bc616fa96be925f9b7106ed095a2ccb54d44a4b175a57dcd9ba4ebd"
                    + "002076a11c95fed94436daa88c05f96d4299b913347dc91925c58bd31ed6fbeabffd"
            ),
            (
                "hmac key", Self.derive(Self.hmacChild, label: derive("hmac"), context: derive("key")),
                "0008000b0004005000000005000b0020462053e0eff97ce4fdb7e3e0e162b92c66251dbf02731747398e0387243c2114"
            ),
            (
                "aes key, label ending in zero", Self.derive(Self.aesChild, label: derive("aes") + [0], context: derive("k")),
                "0025000b00060050000000060080004300200252e83682607b564b2bf9106f5b99efe8e18836f8aedde8eed00b2c35a4ad4d"
            ),
        ]
        for (name, cmd, expected) in cases {
            let d = try parseCreateLoaded(tpm.execute(command: cmd))
            XCTAssertEqual(hex(d.publicBytes), expected, name)
            XCTAssertEqual(d.name, independentName(d.publicBytes), name)
            XCTAssertEqual(responseCode(tpm.execute(command: flushCommand(d.handle))), 0)
        }
    }

    /// The same inputs give the same key (it signs, and swift-crypto verifies); another label
    /// gives another.
    func testDeterministicAndUsable() throws {
        let tpm = startedTPM()
        _ = try makePrimary(tpm, .owner, Self.parentTemplate, data: Self.parentBits)
        let cmd = Self.derive(Self.eccChild(.nistP256, .sha256), label: Array("app".utf8), context: Array("user 1".utf8))
        let a = try parseCreateLoaded(tpm.execute(command: cmd))
        let message = Array("derived".utf8)
        let sig = try parseSignature(tpm.execute(command: signCommand(a.handle, digest: Array(SHA256.hash(data: message)))))
        XCTAssertTrue(try independentlyVerify(sig, publicArea: a.publicArea, message: message))
        XCTAssertEqual(responseCode(tpm.execute(command: flushCommand(a.handle))), 0)
        XCTAssertEqual(try parseCreateLoaded(tpm.execute(command: cmd)).publicBytes, a.publicBytes)
        let other = Self.derive(Self.eccChild(.nistP256, .sha256), label: Array("app".utf8), context: Array("user 2".utf8))
        XCTAssertEqual(responseCode(tpm.execute(command: flushCommand(TPMHandle(0x8000_0001)))), 0)
        XCTAssertNotEqual(try parseCreateLoaded(tpm.execute(command: other)).publicBytes, a.publicBytes)
    }

    /// Error codes compared with libtpms 0.9.2.
    func testDifferential() {
        let dp = createPrimaryCommand(.owner, Self.parentTemplate, data: Self.parentBits)
        let ecc = Self.eccChild(.nistP256, .sha256)
        var fixedTPM = ecc
        fixedTPM.objectAttributes.insert(.fixedTPM)
        var notFixedParent = ecc
        notFixedParent.objectAttributes.remove(.fixedParent)
        var sdo = ecc
        sdo.objectAttributes.insert(.sensitiveDataOrigin)
        let rsa = Templates.rsa(attributes: Self.childAttributes, scheme: .rsassa(hashAlg: .sha256))
        let l = [UInt8](repeating: 0x4C, count: 32)
        let cases: [C] = [
            C(name: "derive ecc", steps: [dp, Self.derive(ecc, label: [1], context: [2])], expected: [0, 0]),
            C(name: "derive rsa", steps: [dp, Self.derive(rsa, label: [1], context: [2])], expected: [0, 0x2CA]),
            C(name: "derive sdo", steps: [dp, Self.derive(sdo, label: [1], context: [2])], expected: [0, 0x082]),
            C(name: "derive fixedTPM", steps: [dp, Self.derive(fixedTPM, label: [1], context: [2])], expected: [0, 0x2C2]),
            C(name: "derive not fixedParent", steps: [dp, Self.derive(notFixedParent, label: [1], context: [2])], expected: [0, 0x2C2]),
            C(name: "derive label of 32", steps: [dp, Self.derive(ecc, label: l, context: l)], expected: [0, 0]),
            C(name: "derive label of 33", steps: [dp, Self.derive(ecc, label: l + [1], context: [])], expected: [0, 0x2D5]),
            C(
                name: "derive data not a TPMS_DERIVE", steps: [dp, Self.derive(ecc, label: [], context: [], data: [0, 9, 1])],
                expected: [0, 0x09A]),
            C(
                name: "derive data with a long label",
                steps: [dp, Self.derive(ecc, label: [], context: [], data: [0, 33] + l + [1] + [0, 0])],
                expected: [0, 0x095]),
            C(name: "derive template with a point", steps: [dp, Self.derive(ecc.wireBytes + [0, 0])], expected: [0, 0x2D5]),
            C(
                name: "derive trailing", steps: [dp, Self.derive(Self.template(ecc, label: [1], context: [2]) + [0])], expected: [0, 0x2D5]),
            C(
                name: "derive long auth",
                steps: [
                    dp,
                    createLoadedCommand(
                        parent: TPMHandle(0x8000_0000), templateBytes: Self.template(ecc, label: [1], context: [2]),
                        auth: [UInt8](repeating: 1, count: 33)),
                ],
                expected: [0, 0x1D5]),
            C(name: "derive hmac", steps: [dp, Self.derive(Self.hmacChild, label: [1], context: [])], expected: [0, 0]),
            C(
                name: "derive under a sealed object",
                steps: [
                    createPrimaryCommand(.owner, Templates.keyedHash(attributes: Templates.sealAttributes), data: [1]),
                    Self.derive(ecc, label: [1], context: [2]),
                ],
                expected: [0, 0x18A]),
        ]
        runDifferential(cases)
    }
}
