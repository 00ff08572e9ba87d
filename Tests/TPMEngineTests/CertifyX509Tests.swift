import Crypto
import TPMCrypto
import TPMEngine
import TPMWire
import XCTest

// TPM2_CertifyX509 (Part 3, 18.8). Keys loaded with LoadExternal make the output deterministic
// but for the signature: addedToCertificate and tbsDigest are libtpms 0.9.2's for the same
// inputs, the TBSCertificate is reassembled here and its digest and signature checked with
// swift-crypto. Error codes are libtpms's (tests/differential/replay.py).

enum DER {
    static func tlv(_ tag: UInt8, _ c: [UInt8]) -> [UInt8] {
        let n = c.count
        let l: [UInt8] = n < 128 ? [UInt8(n)] : n < 256 ? [0x81, UInt8(n)] : [0x82, UInt8(n >> 8), UInt8(n & 0xFF)]
        return [tag] + l + c
    }
    static func name(_ cn: String) -> [UInt8] {
        tlv(0x30, tlv(0x31, tlv(0x30, [0x06, 0x03, 0x55, 0x04, 0x03] + tlv(0x0C, Array(cn.utf8)))))
    }
    static let validity = tlv(0x30, tlv(0x17, Array("260101000000Z".utf8)) + tlv(0x17, Array("360101000000Z".utf8)))
    /// KeyUsage, critical, digitalSignature.
    static let keyUsageSign = tlv(0x30, [0x06, 0x03, 0x55, 0x1D, 0x0F] + tlv(0x01, [0xFF]) + tlv(0x04, tlv(0x03, [0x07, 0x80])))
    static func keyUsage(_ bits: [UInt8]) -> [UInt8] { tlv(0x30, [0x06, 0x03, 0x55, 0x1D, 0x0F] + tlv(0x04, tlv(0x03, bits))) }
    static func tpmaObject(_ a: UInt32) -> [UInt8] {
        tlv(0x30, [0x06, 0x07, 0x67, 0x81, 0x05, 0x0A, 0x01, 0x01, 0x01] + tlv(0x04, tlv(0x03, [0] + be32(a))))
    }
    static func partial(_ extensions: [UInt8], algorithm: [UInt8] = []) -> [UInt8] {
        tlv(0x30, algorithm + name("vtpm test CA") + validity + name("vtpm test key") + tlv(0xA3, tlv(0x30, extensions)))
    }
    /// The elements of a DER SEQUENCE's content (short or 0x81/0x82 lengths).
    static func elements(_ b: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        while i + 1 < b.count {
            var l = Int(b[i + 1])
            var j = i + 2
            if l & 0x80 != 0 {
                let k = l & 0x7F
                l = b[j..<j + k].reduce(0) { $0 << 8 | Int($1) }
                j += k
            }
            out.append(Array(b[i..<j + l]))
            i = j + l
        }
        return out
    }
    static func content(_ b: [UInt8]) -> [UInt8] {
        let first = Int(b[1])
        return Array(b[(first & 0x80 != 0 ? 2 + (first & 0x7F) : 2)...])
    }
}

func certifyX509Command(object: TPMHandle, signer: TPMHandle, scheme: TPMUSigScheme, partial: [UInt8], reserved: [UInt8] = []) -> [UInt8] {
    var w = TPMWriter()
    w.sized(reserved)
    TPMTSigScheme(scheme).encode(to: &w)
    w.sized(partial)
    return command(.certifyX509, tag: .sessions, withPasswords(handles: [object, signer], passwords: [[], []], params: w.bytes))
}

final class CertifyX509Tests: XCTestCase {
    typealias C = DifferentialCase
    static let t0 = TPMHandle(0x8000_0000)
    static let t1 = TPMHandle(0x8000_0001)
    static let signAttributes: TPMAObject = [.userWithAuth, .sign]
    /// StaticKeys.eccD + 1: the signer of the known answers.
    static let signerD = hex("3a1b9c2d4e5f60718293a4b5c6d7e8f90123456789abcdef0fedcba987654322")

    static func loadECC(d: [UInt8], attributes: TPMAObject = signAttributes, scheme: TPMUAsymScheme = .ecdsa(hashAlg: .sha256)) throws
        -> [UInt8]
    {
        let key = try P256.Signing.PrivateKey(rawRepresentation: d)
        let raw = Array(key.publicKey.rawRepresentation)
        let pub = StaticKeys.eccPublic(attributes: attributes, scheme: scheme, x: Array(raw[0..<32]), y: Array(raw[32...]))
        return loadExternalCommand(sensitive: StaticKeys.eccSensitive(d: d), publicArea: pub)
    }

    static let loadRSA = loadExternalCommand(sensitive: StaticKeys.rsaSensitive(), publicArea: StaticKeys.rsaPublic(scheme: .null))

    struct Output {
        var added: [UInt8]
        var tbsDigest: [UInt8]
        var signature: TPMTSignature
    }

    func parse(_ r: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> Output {
        XCTAssertEqual(responseCode(r), 0, file: file, line: line)
        var p = try checkedParameters(r, hasHandle: false)
        let o = Output(
            added: try p.sized(max: 1024), tbsDigest: try p.sized(max: 64),
            signature: try TPMTSignature(from: &p, allowNull: false, support: support))
        XCTAssertTrue(p.isAtEnd)
        return o
    }

    /// The TBSCertificate from the partial certificate and addedToCertificate.
    func tbs(partial: [UInt8], added: [UInt8]) -> (tbs: [UInt8], algorithm: [UInt8]) {
        let a = DER.elements(DER.content(added))
        let pe = DER.elements(DER.content(partial))
        var parts: [[UInt8]] = []
        let algorithm: [UInt8]
        if pe.count == 5 {
            parts = [a[0], a[1], pe[0], pe[1], pe[2], pe[3], a[2], pe[4]]
            algorithm = pe[0]
        } else {
            parts = [a[0], a[1], a[2], pe[0], pe[1], pe[2], a[3], pe[3]]
            algorithm = a[2]
        }
        var body: [UInt8] = []
        for p in parts { body += p }
        return (DER.tlv(0x30, body), algorithm)
    }

    func testKnownAnswersAndSignatures() throws {
        let tpm = startedTPM()
        XCTAssertEqual(responseCode(tpm.execute(command: try Self.loadECC(d: StaticKeys.eccD))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: try Self.loadECC(d: Self.signerD))), 0)
        let signer = try P256.Signing.PrivateKey(rawRepresentation: Self.signerD).publicKey
        let spki = "3059301306072a8648ce3d020106082a8648ce3d03010703420004" + hex(StaticKeys.eccX) + hex(StaticKeys.eccY)
        let ecdsaSHA256 = "300a06082a8648ce3d040302"
        let cases: [(String, [UInt8], String, String)] = [
            (
                "KeyUsage", DER.partial(DER.keyUsageSign),
                "308182a003020102021400bd4eb5aeb19e02a04a15126dd86b30179ac4ca" + ecdsaSHA256 + spki,
                "309e58f0f871c4ea415968487e22b41901efcdeff6a4b52ba932ac2874bc20f7"
            ),
            (
                "TPMA_OBJECT and KeyUsage", DER.partial(DER.tpmaObject(Self.signAttributes.rawValue) + DER.keyUsageSign),
                "308182a0030201020214362f96c78332518439851ec4915cfa77a7896e05" + ecdsaSHA256 + spki,
                "4de75a73ee135bdd37a7110654cd766e8a4eb1ed3534abda61588a287e3c779b"
            ),
            (
                "algorithm given", DER.partial(DER.keyUsageSign, algorithm: hex(ecdsaSHA256)),
                "3076a003020102021400bd4eb5aeb19e02a04a15126dd86b30179ac4ca" + spki,
                "309e58f0f871c4ea415968487e22b41901efcdeff6a4b52ba932ac2874bc20f7"
            ),
        ]
        for (name, partial, added, digest) in cases {
            let out = try parse(
                tpm.execute(
                    command: certifyX509Command(object: Self.t0, signer: Self.t1, scheme: .ecdsa(hashAlg: .sha256), partial: partial)))
            XCTAssertEqual(hex(out.added), added, name)
            XCTAssertEqual(hex(out.tbsDigest), digest, name)
            let (tbs, algorithm) = tbs(partial: partial, added: out.added)
            XCTAssertEqual(hex(algorithm), ecdsaSHA256)
            XCTAssertEqual(Array(SHA256.hash(data: tbs)), out.tbsDigest, name)
            guard case .ecdsa(let s) = out.signature.signature else { return XCTFail("ECDSA") }
            let sig = try P256.Signing.ECDSASignature(rawRepresentation: s.signatureR.buffer + s.signatureS.buffer)
            XCTAssertTrue(signer.isValidSignature(sig, for: SHA256.hash(data: tbs)), name)
        }
    }

    /// An RSA object under RSASSA and RSAPSS signers (libtpms's encodings of the public key and
    /// of the PSS parameters).
    func testRSAEncodings() throws {
        let tpm = startedTPM()
        XCTAssertEqual(responseCode(tpm.execute(command: Self.loadRSA)), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: try Self.loadECC(d: Self.signerD, scheme: .null))), 0)
        let out = try parse(
            tpm.execute(
                command: certifyX509Command(
                    object: Self.t0, signer: Self.t1, scheme: .ecdsa(hashAlg: .sha384), partial: DER.partial(DER.keyUsageSign))))
        let spki = DER.elements(DER.content(out.added))[3]
        // SEQUENCE { SEQUENCE { rsaEncryption, NULL }, BIT STRING { SEQUENCE { n, e } } }
        let expected = DER.tlv(
            0x30,
            DER.tlv(0x30, hex("06092a864886f70d010101") + [0x05, 0x00])
                + DER.tlv(0x03, [0] + DER.tlv(0x30, DER.tlv(0x02, [0] + StaticKeys.rsaN) + hex("0203010001"))))
        XCTAssertEqual(spki, expected)
        XCTAssertEqual(out.tbsDigest.count, 48)
        XCTAssertEqual(responseCode(tpm.execute(command: flushCommand(Self.t1))), 0)
        // The RSA key signs: RSASSA names sha256WithRSAEncryption, RSAPSS its parameters.
        XCTAssertEqual(responseCode(tpm.execute(command: try Self.loadECC(d: StaticKeys.eccD))), 0)
        for (scheme, algorithm) in [
            (TPMUSigScheme.rsassa(hashAlg: .sha256), "300d06092a864886f70d01010b0500"),
            (
                .rsapss(hashAlg: .sha256),
                "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d0609608648016503040201"
                    + "0500a203020120"
            ),
            (.rsapss(hashAlg: .sha1), "300d06092a864886f70d01010a0500"),
        ] {
            let o = try parse(
                tpm.execute(
                    command: certifyX509Command(object: Self.t1, signer: Self.t0, scheme: scheme, partial: DER.partial(DER.keyUsageSign))))
            XCTAssertEqual(hex(DER.elements(DER.content(o.added))[2]), algorithm, "\(scheme)")
        }
    }

    /// Mutated partial certificates and commands get well-formed answers, never a trap.
    func testHostilePartialCertificates() throws {
        let tpm = startedTPM()
        XCTAssertEqual(responseCode(tpm.execute(command: try Self.loadECC(d: StaticKeys.eccD))), 0)
        XCTAssertEqual(responseCode(tpm.execute(command: try Self.loadECC(d: Self.signerD))), 0)
        let good = DER.partial(DER.tpmaObject(Self.signAttributes.rawValue) + DER.keyUsageSign)
        var rng = ObjectHostileTests.Rand(state: 0x0509)
        var codes: [UInt32: Int] = [:]
        for _ in 0..<3000 {
            var p = good
            for _ in 0...rng.below(3) {
                switch rng.below(3) {
                case 0: p[rng.below(p.count)] ^= UInt8(1 << rng.below(8))
                case 1: p[rng.below(p.count)] = UInt8(truncatingIfNeeded: rng.next())
                default: p = Array(p.prefix(rng.below(p.count) + 1))
                }
            }
            let r = tpm.execute(command: certifyX509Command(object: Self.t0, signer: Self.t1, scheme: .ecdsa(hashAlg: .sha256), partial: p))
            codes[responseCode(r), default: 0] += 1
            XCTAssertTrue(r.count >= 10 && (responseCode(r) == 0 || r.count == 10))
        }
        XCTAssertGreaterThan(codes.count, 3)
        XCTAssertGreaterThan(codes[0] ?? 0, 10)
    }

    /// Error codes compared with libtpms 0.9.2, which numbers signHandle as handle 1 and
    /// objectHandle as handle 2 in this command's codes; Part 3, 18.8 has objectHandle first
    /// (docs/deviations.md, D20).
    func testDifferential() throws {
        let s = Self.self
        let ecc = try s.loadECC(d: StaticKeys.eccD)
        let signer = try s.loadECC(d: s.signerD)
        let x = { (p: [UInt8], scheme: TPMUSigScheme) in
            certifyX509Command(object: s.t0, signer: s.t1, scheme: scheme, partial: p)
        }
        let ok = DER.partial(DER.keyUsageSign)
        let e256 = TPMUSigScheme.ecdsa(hashAlg: .sha256)
        let hmacKey = createPrimaryCommand(
            .null, Templates.keyedHash(attributes: [.fixedTPM, .fixedParent, .userWithAuth, .sign], scheme: .hmac(hashAlg: .sha256)),
            data: [1, 2])
        let noScheme = try s.loadECC(d: s.signerD, scheme: .null)
        let inner = Array(DER.content(ok))
        let cases: [C] = [
            C(name: "x509 ok", steps: [ecc, signer, x(ok, e256)], expected: [0, 0, 0]),
            C(name: "x509 NULL scheme", steps: [ecc, signer, x(ok, .null)], expected: [0, 0, 0]),
            C(name: "x509 RSA scheme", steps: [ecc, signer, x(ok, .rsassa(hashAlg: .sha256))], expected: [0, 0, 0x2D2]),
            C(
                name: "x509 reserved",
                steps: [ecc, signer, certifyX509Command(object: s.t0, signer: s.t1, scheme: e256, partial: ok, reserved: [1])],
                expected: [0, 0, 0x1D5]),
            C(
                name: "x509 signer cannot sign",
                steps: [ecc, try s.loadECC(d: s.signerD, attributes: [.userWithAuth, .decrypt], scheme: .null), x(ok, e256)],
                expected: [0, 0, 0x29C], libtpms: [0, 0, 0x19C]),
            C(
                name: "x509 object not asymmetric", steps: [hmacKey, signer, x(ok, e256)], expected: [0, 0, 0x181], libtpms: [0, 0, 0x281]),
            C(name: "x509 empty", steps: [ecc, signer, x([], e256)], expected: [0, 0, 0x3C4]),
            C(name: "x509 not a SEQUENCE", steps: [ecc, signer, x([0x31] + Array(ok.dropFirst()), e256)], expected: [0, 0, 0x3D5]),
            C(name: "x509 trailing", steps: [ecc, signer, x(ok + [0], e256)], expected: [0, 0, 0x3D5]),
            C(
                name: "x509 two SEQUENCEs",
                steps: [
                    ecc, signer, x(DER.tlv(0x30, DER.name("a") + DER.validity + DER.tlv(0xA3, DER.tlv(0x30, DER.keyUsageSign))), e256),
                ],
                expected: [0, 0, 0x3C4]),
            C(
                name: "x509 five SEQUENCEs", steps: [ecc, signer, x(DER.tlv(0x30, DER.name("a") + DER.name("b") + inner), e256)],
                expected: [0, 0, 0x3C4]),
            C(
                name: "x509 no extensions", steps: [ecc, signer, x(DER.tlv(0x30, DER.name("a") + DER.validity + DER.name("b")), e256)],
                expected: [0, 0, 0x3C4]),
            C(
                name: "x509 two extensions",
                steps: [ecc, signer, x(DER.tlv(0x30, inner + DER.tlv(0xA3, DER.tlv(0x30, DER.keyUsageSign))), e256)],
                expected: [0, 0, 0x3C4]),
            C(
                name: "x509 other element", steps: [ecc, signer, x(DER.tlv(0x30, [0x02, 0x01, 0x05] + inner), e256)],
                expected: [0, 0, 0x3C4]),
            C(
                name: "x509 no KeyUsage", steps: [ecc, signer, x(DER.partial(DER.tpmaObject(s.signAttributes.rawValue)), e256)],
                expected: [0, 0, 0x3C4]),
            C(
                name: "x509 TPMA_OBJECT differs", steps: [ecc, signer, x(DER.partial(DER.tpmaObject(0x60) + DER.keyUsageSign), e256)],
                expected: [0, 0, 0x182], libtpms: [0, 0, 0x282]),
            C(
                name: "x509 KeyUsage decrypt", steps: [ecc, signer, x(DER.partial(DER.keyUsage([0x05, 0x20])), e256)],
                expected: [0, 0, 0x3C4]),
            C(
                name: "x509 KeyUsage nonRepudiation", steps: [ecc, signer, x(DER.partial(DER.keyUsage([0x06, 0x40])), e256)],
                expected: [0, 0, 0x3C4]),
            C(
                name: "x509 KeyUsage keyCertSign", steps: [ecc, signer, x(DER.partial(DER.keyUsage([0x02, 0x04])), e256)],
                expected: [0, 0, 0]),
            C(
                name: "x509 KeyUsage bad shift", steps: [ecc, signer, x(DER.partial(DER.keyUsage([0x08, 0x80])), e256)],
                expected: [0, 0, 0x3C4]),
            C(
                name: "x509 KeyUsage not a BIT STRING",
                steps: [
                    ecc, signer, x(DER.partial(DER.tlv(0x30, [0x06, 0x03, 0x55, 0x1D, 0x0F] + DER.tlv(0x04, [0x02, 0x01, 0x01]))), e256),
                ],
                expected: [0, 0, 0x3C4]),
            C(
                name: "x509 long-form length", steps: [ecc, signer, x([0x30, 0x81, UInt8(inner.count)] + inner, e256)], expected: [0, 0, 0]),
            C(
                name: "x509 three-octet length", steps: [ecc, signer, x([0x30, 0x83, 0, 0, UInt8(inner.count)] + inner, e256)],
                expected: [0, 0, 0x3D5]),
            C(
                name: "x509 schnorr without algorithm", steps: [ecc, noScheme, x(ok, .ecschnorr(hashAlg: .sha256))],
                expected: [0, 0, 0x292], libtpms: [0, 0, 0x192]),
            C(
                name: "x509 schnorr with algorithm",
                steps: [
                    ecc, noScheme,
                    x(DER.partial(DER.keyUsageSign, algorithm: DER.tlv(0x30, [0x06, 0x01, 0x01])), .ecschnorr(hashAlg: .sha256)),
                ],
                expected: [0, 0, 0]),
        ]
        runDifferential(cases)
    }
}
