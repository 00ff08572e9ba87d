import TPMCrypto
import TPMEngine
import TPMWire
import XCTest

/// Static keys for LoadExternal cases.
enum StaticKeys {
    /// RSA-2048 (the key of tests/vectors/rsa_vectors.py): n and the prime p.
    static let rsaN = hex(
        "985549d55cac38a8c06305a34a135516e799463994fb6e4a31ef02903da19921dc39ac0becad8ae689dc1dc66dde721662dc0d9f2d96ba42"
            + "12d19240b8ecb2314d7ae275f234eea0ed233d2ba88f8b3d2ae129e02fb82b0d53f2de0ae80d2da5bc9a1f12fd6fd6a9b48d87425731"
            + "dba14adb7ee96fb8e2474d18f256cb998f50f847c056e105950f8481ec245e12c314ada6d9d0962d698f0cd4251b0cc4de59ebcb514b"
            + "02f217dca194891a835a59647bd66096f68a06f3590d86e2c3f3fde6d56bbacf2958c09bcafe94fb53aff9fc5257aa2bc1c988d39afa"
            + "2a52a4eef486e676869d9a8af4469716bd6909e746b5f4d476d1518c95951548ae7bb1acfc4f")
    static let rsaP = hex(
        "cfce3287fccc23964c0053353483ecb7dcd332ab6d68e5a2fe5ea1a3224aa0fddd1dbca9fc4d4dcc670e054ab0ef6e5493439073d6c17c"
            + "3240f5d5139d700ce78d995e05855db4dc06dfa3fcb8a51770de84af9114da703885c7b7d7456efe7e6a75869b9dc99742a420ffc9fb"
            + "c809ffff7445034136e0e66e541a3d0b205777")
    /// A P-256 key: d and Q (Python `cryptography`).
    static let eccD = hex("3a1b9c2d4e5f60718293a4b5c6d7e8f90123456789abcdef0fedcba987654321")
    static let eccX = hex("4900eb6dba80afdce67df450dd2271e806ff12137f3b179747f45bd15b358319")
    static let eccY = hex("af3a388e28b16aaa14f1d3544cf26eda9aef0463334136f4e0e4055549511f8c")

    static func rsaPublic(
        attributes: TPMAObject = [.userWithAuth, .sign], scheme: TPMUAsymScheme = .rsassa(hashAlg: .sha256), nameAlg: TPMAlgID = .sha256,
        n: [UInt8] = rsaN
    ) -> TPMTPublic {
        TPMTPublic(
            nameAlg: nameAlg, objectAttributes: attributes,
            parameters: .rsa(TPMSRSAParms(symmetric: .null, scheme: TPMTRSAScheme(scheme), keyBits: 2048, exponent: 0)),
            unique: .rsa(TPM2BPublicKeyRSA(n)))
    }

    static func eccPublic(
        attributes: TPMAObject = [.userWithAuth, .sign], scheme: TPMUAsymScheme = .ecdsa(hashAlg: .sha256), nameAlg: TPMAlgID = .sha256,
        x: [UInt8] = eccX, y: [UInt8] = eccY
    ) -> TPMTPublic {
        TPMTPublic(
            nameAlg: nameAlg, objectAttributes: attributes,
            parameters: .ecc(TPMSECCParms(symmetric: .null, scheme: TPMTECCScheme(scheme), curveID: .nistP256, kdf: .null)),
            unique: .ecc(TPMSECCPoint(x: TPM2BECCParameter(x), y: TPM2BECCParameter(y))))
    }

    static func rsaSensitive(prime: [UInt8] = rsaP, auth: [UInt8] = [], seed: [UInt8] = []) -> TPMTSensitive {
        TPMTSensitive(authValue: TPM2BAuth(auth), seedValue: TPM2BDigest(seed), sensitive: .rsa(TPM2BPrivateKeyRSA(prime)))
    }

    static func eccSensitive(d: [UInt8] = eccD, auth: [UInt8] = []) -> TPMTSensitive {
        TPMTSensitive(authValue: TPM2BAuth(auth), seedValue: TPM2BDigest(), sensitive: .ecc(TPM2BECCParameter(d)))
    }
}

/// Response codes for invalid templates, wrong authorizations and misused objects, compared
/// with libtpms 0.9.2 (swtpm 0.7.1): the `expected` codes were recorded by
/// tests/differential/replay.py from these very commands.
final class ObjectDifferentialTests: XCTestCase {
    typealias C = DifferentialCase
    static let own = TPMHandle.owner
    static let storage = Templates.rsa()
    static let eccStorage = Templates.ecc()
    static let signer = Templates.ecc(attributes: Templates.signingAttributes, scheme: .ecdsa(hashAlg: .sha256))
    static let seal = Templates.keyedHash(attributes: Templates.sealAttributes)
    static let t0 = TPMHandle(0x8000_0000)
    static let t1 = TPMHandle(0x8000_0001)

    static func cp(_ t: TPMTPublic, _ h: TPMHandle = own, auth: [UInt8] = [], data: [UInt8] = [], hAuth: [UInt8] = []) -> [UInt8] {
        createPrimaryCommand(h, t, auth: auth, data: data, hierarchyAuth: hAuth)
    }

    static func with(_ t: TPMTPublic, _ change: (inout TPMTPublic) -> Void) -> TPMTPublic {
        var x = t
        change(&x)
        return x
    }

    static func attrs(_ t: TPMTPublic, _ a: TPMAObject) -> TPMTPublic { with(t) { $0.objectAttributes = a } }

    func testCreatePrimaryTemplates() {
        let s = Self.self
        let sa = Templates.storageAttributes
        let cases: [C] = [
            C(name: "rsa storage owner", steps: [s.cp(s.storage)], expected: [0x000]),
            C(name: "ecc signer endorsement", steps: [s.cp(s.signer, .endorsement)], expected: [0x000]),
            C(name: "ecc signer platform", steps: [s.cp(s.signer, .platform)], expected: [0x000]),
            C(name: "ecc storage null", steps: [s.cp(s.eccStorage, .null)], expected: [0x000]),
            C(name: "seal with data", steps: [s.cp(s.seal, data: Array("secret".utf8))], expected: [0x000]),
            C(name: "seal without data", steps: [s.cp(s.seal)], expected: [0x2C2]),
            C(name: "seal sdo", steps: [s.cp(s.attrs(s.seal, Templates.sealAttributes.union(.sensitiveDataOrigin)))], expected: [0x2C2]),
            C(
                name: "rsa without sdo", steps: [s.cp(s.attrs(s.storage, sa.subtracting(.sensitiveDataOrigin)), data: [1])],
                expected: [0x2C2]),
            C(name: "fixedTPM without fixedParent", steps: [s.cp(s.attrs(s.storage, sa.subtracting(.fixedParent)))], expected: [0x2C2]),
            C(name: "restricted sign+decrypt", steps: [s.cp(s.attrs(s.storage, sa.union(.sign)))], expected: [0x2C2]),
            C(name: "restricted neither", steps: [s.cp(s.attrs(s.storage, sa.subtracting(.decrypt)))], expected: [0x2C2]),
            C(
                name: "neither sign nor decrypt rsa", steps: [s.cp(s.attrs(s.storage, sa.subtracting([.decrypt, .restricted])))],
                expected: [0x2C2]),
            C(name: "storage with scheme", steps: [s.cp(Templates.rsa(scheme: .oaep(hashAlg: .sha256)))], expected: [0x2D2]),
            C(name: "storage without symmetric", steps: [s.cp(Templates.rsa(symmetric: .null))], expected: [0x2D6]),
            C(
                name: "signer with symmetric",
                steps: [
                    s.cp(
                        Templates.ecc(
                            attributes: Templates.signingAttributes, scheme: .ecdsa(hashAlg: .sha256), symmetric: Templates.aes128CFB))
                ], expected: [0x2D6]),
            C(
                name: "restricted signer null scheme",
                steps: [s.cp(Templates.ecc(attributes: Templates.signingAttributes.union(.restricted)))], expected: [0x2D2]),
            C(
                name: "signer decrypt scheme", steps: [s.cp(Templates.rsa(attributes: Templates.signingAttributes, scheme: .rsaes))],
                expected: [0x2D2]),
            C(
                name: "decrypt key sign scheme",
                steps: [s.cp(Templates.rsa(attributes: sa.subtracting(.restricted), scheme: .rsassa(hashAlg: .sha256), symmetric: .null))],
                expected: [0x2D2]),
            C(
                name: "sign+decrypt with scheme",
                steps: [s.cp(Templates.rsa(attributes: Templates.signingAttributes.union(.decrypt), scheme: .rsassa(hashAlg: .sha256)))],
                expected: [0x2D2]),
            C(
                name: "ecc kdf",
                steps: [
                    s.cp(
                        Templates.ecc(
                            attributes: Templates.signingAttributes, scheme: .ecdsa(hashAlg: .sha256),
                            kdf: TPMTKDFScheme(.kdf1SP800_108(hashAlg: .sha256))))
                ], expected: [0x2CC]),
            C(name: "policy wrong size", steps: [s.cp(Templates.rsa(policy: [UInt8](repeating: 1, count: 20)))], expected: [0x2D5]),
            C(name: "policy right size", steps: [s.cp(Templates.ecc(policy: [UInt8](repeating: 1, count: 32)))], expected: [0x000]),
            C(name: "auth too long", steps: [s.cp(s.eccStorage, auth: [UInt8](repeating: 7, count: 33))], expected: [0x1D5]),
            C(
                name: "auth trailing zeros", steps: [s.cp(s.eccStorage, auth: [UInt8](repeating: 7, count: 32) + [0, 0, 0])],
                expected: [0x000]),
            C(
                name: "auth sha1 21", steps: [s.cp(Templates.ecc(nameAlg: .sha1), auth: [UInt8](repeating: 7, count: 21))],
                expected: [0x1D5]),
            C(name: "exponent 3", steps: [s.cp(Templates.rsa(bits: 1024, exponent: 3))], expected: [0x08D]),
            C(name: "exponent 65541", steps: [s.cp(Templates.rsa(bits: 1024, exponent: 65541))], expected: [0x08D]),
            C(name: "encryptedDuplication fixedTPM", steps: [s.cp(s.attrs(s.storage, sa.union(.encryptedDuplication)))], expected: [0x2C2]),
            C(
                name: "symcipher key wrong size",
                steps: [
                    s.cp(Templates.symCipher(attributes: [.fixedTPM, .fixedParent, .userWithAuth, .decrypt, .sign]), data: [1, 2, 3])
                ], expected: [0x087]),
            C(
                name: "symcipher key right size",
                steps: [
                    s.cp(
                        Templates.symCipher(attributes: [.fixedTPM, .fixedParent, .userWithAuth, .decrypt, .sign]),
                        data: [UInt8](repeating: 5, count: 16))
                ], expected: [0x000]),
            C(name: "symcipher generated", steps: [s.cp(Templates.symCipher())], expected: [0x000]),
            C(
                name: "symcipher restricted decrypt sdo clear",
                steps: [
                    s.cp(
                        Templates.symCipher(attributes: [.fixedTPM, .fixedParent, .userWithAuth, .decrypt, .restricted]),
                        data: [UInt8](repeating: 5, count: 16))
                ], expected: [0x2C2]),
            C(
                name: "hmac key too long",
                steps: [
                    s.cp(
                        Templates.keyedHash(attributes: [.fixedTPM, .fixedParent, .userWithAuth, .sign], scheme: .hmac(hashAlg: .sha256)),
                        data: [UInt8](repeating: 5, count: 65))
                ], expected: [0x095]),
            C(
                name: "hmac key block size",
                steps: [
                    s.cp(
                        Templates.keyedHash(attributes: [.fixedTPM, .fixedParent, .userWithAuth, .sign], scheme: .hmac(hashAlg: .sha256)),
                        data: [UInt8](repeating: 5, count: 64))
                ], expected: [0x000]),
            C(
                name: "keyedhash sign xor",
                steps: [
                    s.cp(Templates.keyedHash(attributes: Templates.signingAttributes, scheme: .xor(hashAlg: .sha256, kdf: .kdf1SP800_108)))
                ], expected: [0x2D2]),
            C(
                name: "keyedhash decrypt hmac",
                steps: [
                    s.cp(
                        Templates.keyedHash(
                            attributes: [.fixedTPM, .fixedParent, .sensitiveDataOrigin, .userWithAuth, .decrypt],
                            scheme: .hmac(hashAlg: .sha256)))
                ], expected: [0x2D2]),
            C(
                name: "derivation parent kdf",
                steps: [s.cp(Templates.keyedHash(attributes: sa, scheme: .xor(hashAlg: .sha256, kdf: .kdf1SP800_56A)))], expected: [0x2D2]),
            C(
                name: "derivation parent",
                steps: [s.cp(Templates.keyedHash(attributes: sa, scheme: .xor(hashAlg: .sha256, kdf: .kdf1SP800_108)))], expected: [0x000]),
            C(
                name: "seal with scheme",
                steps: [s.cp(Templates.keyedHash(attributes: Templates.sealAttributes, scheme: .hmac(hashAlg: .sha256)), data: [1])],
                expected: [0x2D2]),
            C(name: "wrong hierarchy auth", steps: [s.cp(s.storage, hAuth: [1])], expected: [0x9A2]),
            C(name: "lockout handle", steps: [s.cp(s.storage, .lockout)], expected: [0x184]),
            C(
                name: "four primaries", steps: [s.cp(s.signer), s.cp(s.signer), s.cp(s.signer), s.cp(s.signer)],
                expected: [0x000, 0x000, 0x000, 0x902]),
            C(name: "unique given", steps: [s.cp(Templates.rsa(bits: 1024, unique: [1, 2, 3]))], expected: [0x000]),
            C(name: "data for sdo primary", steps: [s.cp(s.signer, data: [9, 9])], expected: [0x000]),
            C(name: "stClear primary", steps: [s.cp(s.attrs(s.signer, Templates.signingAttributes.union(.stClear)))], expected: [0x000]),
            C(
                name: "x509sign attributes", steps: [s.cp(s.attrs(s.signer, Templates.signingAttributes.union(.x509sign)))],
                expected: [0x000]),
        ]
        runDifferential(cases)
    }

    static func cr(_ t: TPMTPublic, parent: TPMHandle = t0, auth: [UInt8] = [], data: [UInt8] = [], pAuth: [UInt8] = []) -> [UInt8] {
        createCommand(parent: parent, t, parentAuth: pAuth, auth: auth, data: data)
    }

    static func le(_ p: TPMTPublic, _ sens: TPMTSensitive? = nil, _ h: TPMHandle = .null) -> [UInt8] {
        loadExternalCommand(sensitive: sens, publicArea: p, hierarchy: h)
    }

    static func ld(_ priv: [UInt8], _ p: TPMTPublic, parent: TPMHandle = t0) -> [UInt8] {
        loadCommand(parent: parent, outPrivate: priv, publicArea: p)
    }

    static func session(_ cc: TPMCC, _ handles: [TPMHandle], _ params: [UInt8] = [], auth: [UInt8] = []) -> [UInt8] {
        command(cc, tag: .sessions, withPassword(handles: handles, password: auth, params: params))
    }

    func testCreateAndLoad() {
        let s = Self.self
        let sa = Templates.storageAttributes
        let child = Templates.ecc(attributes: Templates.signingAttributes, scheme: .ecdsa(hashAlg: .sha256))
        let cases: [C] = [
            C(name: "create signer", steps: [s.cp(s.storage), s.cr(child)], expected: [0x000, 0x000]),
            C(name: "create under signer", steps: [s.cp(s.signer), s.cr(child)], expected: [0x000, 0x18A]),
            C(name: "create under seal", steps: [s.cp(s.seal, data: [1]), s.cr(child)], expected: [0x000, 0x18A]),
            C(name: "create no parent", steps: [s.cr(child)], expected: [0x910]),
            C(name: "create parent wrong auth", steps: [s.cp(s.storage, auth: [1]), s.cr(child, pAuth: [2])], expected: [0x000, 0x98E]),
            C(name: "create parent auth", steps: [s.cp(s.storage, auth: [1]), s.cr(child, pAuth: [1])], expected: [0x000, 0x000]),
            C(name: "create data with sdo", steps: [s.cp(s.storage), s.cr(child, data: [1])], expected: [0x000, 0x2C2]),
            C(name: "create sealed", steps: [s.cp(s.storage), s.cr(s.seal, data: [1])], expected: [0x000, 0x000]),
            C(name: "create seal no data", steps: [s.cp(s.storage), s.cr(s.seal)], expected: [0x000, 0x2C2]),
            C(
                name: "create fixedTPM only",
                steps: [s.cp(s.storage), s.cr(s.attrs(child, Templates.signingAttributes.subtracting(.fixedParent)))],
                expected: [0x000, 0x2C2]),
            C(
                name: "create duplicable",
                steps: [s.cp(s.storage), s.cr(s.attrs(child, Templates.signingAttributes.subtracting([.fixedParent, .fixedTPM])))],
                expected: [0x000, 0x000]),
            C(
                name: "create storage child other nameAlg", steps: [s.cp(s.storage), s.cr(Templates.ecc(nameAlg: .sha384))],
                expected: [0x000, 0x2C3]),
            C(
                name: "create storage child other sym",
                steps: [s.cp(s.storage), s.cr(Templates.ecc(symmetric: TPMTSymDefObject(algorithm: .aes, keyBits: 256, mode: .cfb)))],
                expected: [0x000, 0x2D6]),
            C(
                name: "create duplicable storage child other nameAlg",
                steps: [s.cp(s.storage), s.cr(Templates.ecc(attributes: sa.subtracting([.fixedParent, .fixedTPM]), nameAlg: .sha384))],
                expected: [0x000, 0x000]),
            C(
                name: "create encdup child of fixedTPM",
                steps: [
                    s.cp(s.storage),
                    s.cr(s.attrs(child, Templates.signingAttributes.subtracting([.fixedParent, .fixedTPM]).union(.encryptedDuplication))),
                ], expected: [0x000, 0x000]),
            C(
                name: "create four slots", steps: [s.cp(s.storage), s.cp(s.signer), s.cp(s.signer), s.cr(child)],
                expected: [0x000, 0x000, 0x000, 0x902]),
            C(
                name: "create rsa exponent",
                steps: [
                    s.cp(s.storage),
                    s.cr(
                        Templates.rsa(bits: 1024, attributes: Templates.signingAttributes, scheme: .rsassa(hashAlg: .sha256), exponent: 17)),
                ], expected: [0x000, 0x08D]),
            C(name: "load empty private", steps: [s.cp(s.storage), s.ld([], child)], expected: [0x000, 0x1D5]),
            C(
                name: "load garbage private", steps: [s.cp(s.storage), s.ld([UInt8](repeating: 0, count: 100), child)],
                expected: [0x000, 0x1DF]),
            C(
                name: "load private bad integrity size",
                steps: [s.cp(s.storage), s.ld([0, 0x50] + [UInt8](repeating: 0, count: 10), child)], expected: [0x000, 0x1D5]),
            C(
                name: "load under signer", steps: [s.cp(s.signer), s.ld([0, 0x20] + [UInt8](repeating: 0, count: 60), child)],
                expected: [0x000, 0x18A]),
            C(
                name: "load null nameAlg",
                steps: [s.cp(s.storage), s.ld([0, 0x20] + [UInt8](repeating: 0, count: 60), s.with(child) { $0.nameAlg = .null })],
                expected: [0x000, 0x2C3]),
            C(
                name: "load full", steps: [s.cp(s.storage), s.cp(s.signer), s.cp(s.signer), s.ld([1, 2, 3], child)],
                expected: [0x000, 0x000, 0x000, 0x902]),
            C(name: "readpublic nothing", steps: [command(.readPublic, be32(0x8000_0000))], expected: [0x910]),
            C(
                name: "readpublic sequence",
                steps: [command(.hashSequenceStart, [0, 0, 0, 0x0B]), command(.readPublic, be32(0x8000_0000))], expected: [0x000, 0x103]),
            C(name: "readpublic object", steps: [s.cp(s.signer), command(.readPublic, be32(0x8000_0000))], expected: [0x000, 0x000]),
            C(name: "readpublic persistent", steps: [command(.readPublic, be32(0x8100_0000))], expected: [0x18B]),
            C(
                name: "readpublic trailing", steps: [s.cp(s.signer), command(.readPublic, be32(0x8000_0000) + [0])],
                expected: [0x000, 0x095]),
            C(name: "unseal sealed", steps: [s.cp(s.seal, data: [1, 2]), s.session(.unseal, [s.t0])], expected: [0x000, 0x000]),
            C(name: "unseal signer", steps: [s.cp(s.signer), s.session(.unseal, [s.t0])], expected: [0x000, 0x18A]),
            C(
                name: "unseal hmac key",
                steps: [
                    s.cp(Templates.keyedHash(attributes: Templates.signingAttributes, scheme: .hmac(hashAlg: .sha256))),
                    s.session(.unseal, [s.t0]),
                ], expected: [0x000, 0x182]),
            C(
                name: "unseal wrong auth", steps: [s.cp(s.seal, auth: [1], data: [1, 2]), s.session(.unseal, [s.t0], auth: [2])],
                expected: [0x000, 0x9A2]),
            C(
                name: "unseal noDA clear wrong auth",
                steps: [
                    s.cp(s.attrs(s.seal, [.fixedTPM, .fixedParent, .userWithAuth]), auth: [1], data: [1, 2]),
                    s.session(.unseal, [s.t0], auth: [2]),
                ], expected: [0x000, 0x98E]),
            C(
                name: "unseal without userWithAuth",
                steps: [s.cp(s.attrs(s.seal, [.fixedTPM, .fixedParent, .noDA]), data: [1, 2]), s.session(.unseal, [s.t0])],
                expected: [0x000, 0x12F]),
            C(
                name: "unseal no session", steps: [s.cp(s.seal, data: [1, 2]), command(.unseal, be32(0x8000_0000))],
                expected: [0x000, 0x125]),
            C(
                name: "changeauth not parent",
                steps: [s.cp(s.storage), s.cp(s.signer), s.session(.objectChangeAuth, [s.t1, s.t0], [0, 1, 5])],
                expected: [0x000, 0x000, 0x28A]),
            C(
                name: "changeauth too long",
                steps: [
                    s.cp(s.signer), s.cp(s.storage),
                    s.session(.objectChangeAuth, [s.t0, s.t1], [0, 33] + [UInt8](repeating: 1, count: 33)),
                ], expected: [0x000, 0x000, 0x1D5]),
            C(
                name: "changeauth adminWithPolicy",
                steps: [
                    s.cp(s.attrs(s.signer, Templates.signingAttributes.union(.adminWithPolicy))), s.cp(s.storage),
                    s.session(.objectChangeAuth, [s.t0, s.t1], [0, 1, 5]),
                ], expected: [0x000, 0x000, 0x124]),
            C(
                name: "changeauth sequence",
                steps: [
                    command(.hashSequenceStart, [0, 0, 0, 0x0B]), s.cp(s.storage), s.session(.objectChangeAuth, [s.t0, s.t1], [0, 1, 5]),
                ], expected: [0x000, 0x000, 0x18A]),
        ]
        runDifferential(cases)
    }

    func testLoadExternal() {
        let s = Self.self
        let rsa = StaticKeys.rsaPublic()
        let ecc = StaticKeys.eccPublic()
        let cases: [C] = [
            C(name: "le rsa public", steps: [s.le(rsa, nil, .owner)], expected: [0x000]),
            C(name: "le ecc public null", steps: [s.le(ecc)], expected: [0x000]),
            C(name: "le ecc public null nameAlg", steps: [s.le(s.with(ecc) { $0.nameAlg = .null })], expected: [0x000]),
            C(name: "le rsa pair", steps: [s.le(rsa, StaticKeys.rsaSensitive())], expected: [0x000]),
            C(name: "le ecc pair", steps: [s.le(ecc, StaticKeys.eccSensitive())], expected: [0x000]),
            C(name: "le pair owner", steps: [s.le(ecc, StaticKeys.eccSensitive(), .owner)], expected: [0x3C5]),
            C(
                name: "le pair fixedTPM",
                steps: [s.le(s.attrs(ecc, [.fixedTPM, .fixedParent, .userWithAuth, .sign]), StaticKeys.eccSensitive())], expected: [0x2C2]),
            C(
                name: "le pair restricted", steps: [s.le(s.attrs(ecc, [.restricted, .userWithAuth, .sign]), StaticKeys.eccSensitive())],
                expected: [0x2C2]),
            C(
                name: "le public fixedTPM", steps: [s.le(s.attrs(ecc, [.fixedTPM, .fixedParent, .userWithAuth, .sign]), nil, .owner)],
                expected: [0x000]),
            C(name: "le rsa short modulus", steps: [s.le(StaticKeys.rsaPublic(n: Array(StaticKeys.rsaN.dropFirst())))], expected: [0x2DC]),
            C(
                name: "le rsa small modulus", steps: [s.le(StaticKeys.rsaPublic(n: [0x7F] + Array(StaticKeys.rsaN.dropFirst())))],
                expected: [0x2DC]),
            C(name: "le ecc off curve", steps: [s.le(StaticKeys.eccPublic(y: StaticKeys.eccX))], expected: [0x2E7]),
            C(
                name: "le ecc off curve null nameAlg", steps: [s.le(StaticKeys.eccPublic(nameAlg: .null, y: StaticKeys.eccX))],
                expected: [0x000]),
            C(name: "le ecc short x", steps: [s.le(StaticKeys.eccPublic(x: Array(StaticKeys.eccX.dropFirst())))], expected: [0x2DC]),
            C(
                name: "le ecc wrong private", steps: [s.le(ecc, StaticKeys.eccSensitive(d: [UInt8](repeating: 1, count: 32)))],
                expected: [0x0A5]),
            C(
                name: "le ecc zero private", steps: [s.le(ecc, StaticKeys.eccSensitive(d: [UInt8](repeating: 0, count: 32)))],
                expected: [0x087]),
            C(
                name: "le rsa wrong prime", steps: [s.le(rsa, StaticKeys.rsaSensitive(prime: [0x80] + [UInt8](repeating: 1, count: 127)))],
                expected: [0x0A5]),
            C(
                name: "le rsa short prime", steps: [s.le(rsa, StaticKeys.rsaSensitive(prime: Array(StaticKeys.rsaP.dropFirst())))],
                expected: [0x1C7]),
            C(
                name: "le rsa big seed", steps: [s.le(rsa, StaticKeys.rsaSensitive(seed: [UInt8](repeating: 1, count: 33)))],
                expected: [0x1C7]),
            C(
                name: "le rsa long auth", steps: [s.le(rsa, StaticKeys.rsaSensitive(auth: [UInt8](repeating: 1, count: 33)))],
                expected: [0x1D5]),
            C(name: "le type mismatch", steps: [s.le(rsa, StaticKeys.eccSensitive())], expected: [0x1CA]),
            C(
                name: "le keyedhash public bad unique",
                steps: [s.le(Templates.keyedHash(attributes: [.userWithAuth, .sign], scheme: .hmac(hashAlg: .sha256)))], expected: [0x2DC]),
            C(
                name: "le storage public",
                steps: [s.le(StaticKeys.rsaPublic(attributes: [.userWithAuth, .decrypt, .restricted], scheme: .null))], expected: [0x2D6]),
            C(
                name: "le signer with sym",
                steps: [
                    s.le(
                        s.with(rsa) {
                            if case .rsa(var p) = $0.parameters {
                                p.symmetric = Templates.aes128CFB
                                $0.parameters = .rsa(p)
                            }
                        })
                ], expected: [0x2D6]),
            C(
                name: "le exponent 5",
                steps: [
                    s.le(
                        s.with(rsa) {
                            if case .rsa(var p) = $0.parameters {
                                p.exponent = 5
                                $0.parameters = .rsa(p)
                            }
                        })
                ], expected: [0x2C4]),
            C(
                name: "le hierarchy value", steps: [command(.loadExternal, [0, 0] + TPM2BPublic(ecc).wireBytes + be32(0x4000_000A))],
                expected: [0x3C4]),
            C(name: "le full", steps: [s.le(ecc), s.le(ecc), s.le(ecc), s.le(ecc)], expected: [0x000, 0x000, 0x000, 0x902]),
            C(
                name: "le then readpublic", steps: [s.le(ecc, nil, .endorsement), command(.readPublic, be32(0x8000_0000))],
                expected: [0x000, 0x000]),
            C(
                name: "le unseal public-only",
                steps: [s.le(Templates.keyedHash(attributes: [.userWithAuth]).settingUnique(32)), s.session(.unseal, [s.t0])],
                expected: [0x000, 0x12F]),
        ]
        runDifferential(cases)
    }
    func testCreateLoadedCodes() {
        let s = Self.self
        let child = Templates.ecc(attributes: Templates.signingAttributes, scheme: .ecdsa(hashAlg: .sha256))
        let cl = { (h: TPMHandle, t: [UInt8], data: [UInt8]) in createLoadedCommand(parent: h, templateBytes: t, data: data) }
        let cases: [C] = [
            C(name: "cl owner", steps: [cl(.owner, child.wireBytes, [])], expected: [0x000]),
            C(name: "cl null", steps: [cl(.null, child.wireBytes, [])], expected: [0x000]),
            C(name: "cl lockout", steps: [cl(.lockout, child.wireBytes, [])], expected: [0x184]),
            C(name: "cl under storage", steps: [s.cp(s.storage), cl(s.t0, child.wireBytes, [])], expected: [0x000, 0x000]),
            C(name: "cl under signer", steps: [s.cp(s.signer), cl(s.t0, child.wireBytes, [])], expected: [0x000, 0x18A]),
            // A derived object is never sensitiveDataOrigin (TPM_RC_ATTRIBUTES, unnumbered).
            C(
                name: "cl under derivation parent",
                steps: [
                    s.cp(Templates.keyedHash(attributes: Templates.storageAttributes, scheme: .xor(hashAlg: .sha256, kdf: .kdf1SP800_108))),
                    cl(s.t0, child.wireBytes, []),
                ], expected: [0x000, 0x082]),
            C(name: "cl trailing", steps: [cl(.owner, child.wireBytes + [0], [])], expected: [0x2D5]),
            C(name: "cl short", steps: [cl(.owner, Array(child.wireBytes.dropLast()), [])], expected: [0x2DA]),
            C(name: "cl empty", steps: [cl(.owner, [], [])], expected: [0x2DA]),
            C(name: "cl null nameAlg", steps: [cl(.owner, s.with(child) { $0.nameAlg = .null }.wireBytes, [])], expected: [0x2C3]),
            C(
                name: "cl bad attributes",
                steps: [cl(.owner, s.attrs(child, Templates.signingAttributes.subtracting(.fixedParent)).wireBytes, [])], expected: [0x2C2]),
            C(name: "cl data with sdo under parent", steps: [s.cp(s.storage), cl(s.t0, child.wireBytes, [1])], expected: [0x000, 0x2C2]),
            C(name: "cl seal under parent", steps: [s.cp(s.storage), cl(s.t0, s.seal.wireBytes, [1])], expected: [0x000, 0x000]),
            C(
                name: "cl full", steps: [s.cp(s.signer), s.cp(s.signer), s.cp(s.signer), cl(.owner, child.wireBytes, [])],
                expected: [0x000, 0x000, 0x000, 0x902]),
        ]
        runDifferential(cases)
    }
    static func startSession(tpmKey: TPMHandle, bind: TPMHandle = .null, salt: [UInt8]) -> [UInt8] {
        var w = TPMWriter()
        w.u32(tpmKey.rawValue)
        w.u32(bind.rawValue)
        w.sized([UInt8](repeating: 0x33, count: 32))
        w.sized(salt)
        w.u8(0)
        w.u16(TPMAlgID.null.rawValue)
        w.u16(TPMAlgID.sha256.rawValue)
        return command(.startAuthSession, w.bytes)
    }

    /// Salted and bound sessions with key objects (Part 3, 11.1).
    func testSessionsWithKeyObjects() {
        let s = Self.self
        let point = TPMSECCPoint(x: TPM2BECCParameter(StaticKeys.eccX), y: TPM2BECCParameter(StaticKeys.eccY)).wireBytes
        let offCurve = TPMSECCPoint(x: TPM2BECCParameter(StaticKeys.eccX), y: TPM2BECCParameter(StaticKeys.eccX)).wireBytes
        let eccDecrypt = StaticKeys.eccPublic(attributes: [.userWithAuth, .decrypt], scheme: .null)
        let cases: [C] = [
            C(name: "salt ecc storage", steps: [s.cp(s.eccStorage), s.startSession(tpmKey: s.t0, salt: point)], expected: [0x000, 0x000]),
            C(
                name: "salt ecc off curve", steps: [s.cp(s.eccStorage), s.startSession(tpmKey: s.t0, salt: offCurve)],
                expected: [0x000, 0x2C4]),
            C(
                name: "salt ecc garbage", steps: [s.cp(s.eccStorage), s.startSession(tpmKey: s.t0, salt: [1, 2, 3])],
                expected: [0x000, 0x2C4]),
            C(name: "salt empty", steps: [s.cp(s.eccStorage), s.startSession(tpmKey: s.t0, salt: [])], expected: [0x000, 0x2C4]),
            C(name: "salt signing key", steps: [s.cp(s.signer), s.startSession(tpmKey: s.t0, salt: point)], expected: [0x000, 0x182]),
            C(
                name: "salt keyedhash", steps: [s.cp(s.seal, data: [1]), s.startSession(tpmKey: s.t0, salt: point)],
                expected: [0x000, 0x19C]),
            C(name: "salt public only", steps: [s.le(eccDecrypt), s.startSession(tpmKey: s.t0, salt: point)], expected: [0x000, 0x18B]),
            C(
                name: "salt ecc pair", steps: [s.le(eccDecrypt, StaticKeys.eccSensitive()), s.startSession(tpmKey: s.t0, salt: point)],
                expected: [0x000, 0x000]),
            C(
                name: "salt rsa wrong size", steps: [s.cp(Templates.rsa(bits: 1024)), s.startSession(tpmKey: s.t0, salt: [1, 2, 3])],
                expected: [0x000, 0x2C4]),
            C(
                name: "salt rsa bad padding",
                steps: [s.cp(Templates.rsa(bits: 1024)), s.startSession(tpmKey: s.t0, salt: [UInt8](repeating: 1, count: 128))],
                expected: [0x000, 0x2C4]),
            C(
                name: "salt sequence", steps: [command(.hashSequenceStart, [0, 0, 0, 0x0B]), s.startSession(tpmKey: s.t0, salt: point)],
                expected: [0x000, 0x19C]),
            C(
                name: "bind public only", steps: [s.le(eccDecrypt), s.startSession(tpmKey: .null, bind: s.t0, salt: [])],
                expected: [0x000, 0x28B]),
            C(
                name: "bind object", steps: [s.cp(s.eccStorage, auth: [4]), s.startSession(tpmKey: .null, bind: s.t0, salt: [])],
                expected: [0x000, 0x000]),
        ]
        runDifferential(cases)
    }
}
