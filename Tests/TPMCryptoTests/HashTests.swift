import Crypto
import Foundation
import TPMCrypto
import XCTest

func hex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = s.startIndex
    while i < s.endIndex {
        let j = s.index(i, offsetBy: 2)
        out.append(UInt8(s[i..<j], radix: 16)!)
        i = j
    }
    return out
}

/// FIPS 180-4 example vectors (NIST CSRC "Examples with intermediate values").
let abc = Array("abc".utf8)
let twoBlock448 = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
let twoBlock896 = Array(
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu".utf8)

let nistVectors: [(HashAlgorithm, [UInt8], String)] = [
    (.sha1, abc, "a9993e364706816aba3e25717850c26c9cd0d89d"),
    (.sha1, twoBlock448, "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
    (.sha256, abc, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (.sha256, twoBlock448, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    (.sha384, abc, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"),
    (.sha384, twoBlock896, "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039"),
    (
        .sha512, abc,
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
    ),
    (
        .sha512, twoBlock896,
        "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"
    ),
]

final class HashTests: XCTestCase {
    func testNISTVectorsOneShot() {
        for (alg, msg, expected) in nistVectors {
            XCTAssertEqual(alg.digest(msg), hex(expected), "\(alg)")
        }
    }

    func testNISTVectorsExportableHasher() {
        for (alg, msg, expected) in nistVectors {
            var h = ExportableHasher(alg)
            h.update(msg)
            XCTAssertEqual(h.finalize(), hex(expected), "\(alg)")
        }
    }

    func testMillionA() {
        // FIPS 180-4 long-message vectors: one million 'a'.
        let msg = [UInt8](repeating: 0x61, count: 1_000_000)
        let expected: [HashAlgorithm: String] = [
            .sha1: "34aa973cd4c4daa4f61eeb2bdbad27316534016f",
            .sha256: "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
        ]
        for (alg, e) in expected {
            var h = ExportableHasher(alg)
            for i in stride(from: 0, to: msg.count, by: 1000) { h.update(Array(msg[i..<i + 1000])) }
            XCTAssertEqual(h.finalize(), hex(e))
            XCTAssertEqual(alg.digest(msg), hex(e))
        }
    }

    /// Every split point and length around block boundaries, against swift-crypto, and an
    /// export/import at the split gives the same result.
    func testExportableHasherAgreesWithSwiftCryptoAtEverySplit() {
        let data = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        for alg in HashAlgorithm.allCases {
            for len in [0, 1, 55, 56, 63, 64, 65, 111, 112, 127, 128, 129, 200, 300] {
                let msg = Array(data[0..<len])
                let expected = alg.digest(msg)
                for split in Set([0, len / 3, len / 2, len]) {
                    var h = ExportableHasher(alg)
                    h.update(Array(msg[0..<split]))
                    guard var restored = ExportableHasher(exportedState: h.exportedState) else {
                        return XCTFail("export failed")
                    }
                    restored.update(Array(msg[split...]))
                    XCTAssertEqual(restored.finalize(), expected, "\(alg) len \(len) split \(split)")
                }
            }
        }
    }

    func testImportRejectsMalformedState() {
        var h = ExportableHasher(.sha256)
        h.update([1, 2, 3])
        let s = h.exportedState
        XCTAssertNotNil(ExportableHasher(exportedState: s))
        for n in 0..<s.count { XCTAssertNil(ExportableHasher(exportedState: Array(s[0..<n])), "truncated at \(n)") }
        XCTAssertNil(ExportableHasher(exportedState: s + [0]))
        var badAlg = s
        badAlg[1] = 0x99
        XCTAssertNil(ExportableHasher(exportedState: badAlg))
        var badCount = s
        badCount[badCount.count - 4] = 4  // buffered-byte count no longer matches the length
        XCTAssertNil(ExportableHasher(exportedState: badCount))
    }

    func testIncrementalHasherMatchesOneShot() {
        for (alg, msg, expected) in nistVectors {
            var h = Hasher(alg)
            for b in msg { h.update([b]) }
            XCTAssertEqual(h.finalize(), hex(expected))
        }
    }
}

final class HMACTests: XCTestCase {
    /// RFC 2202 test case 1 (SHA-1) and RFC 4231 test case 1 (SHA-2): key 0x0b x 20,
    /// "Hi There".
    func testRFCVectors() {
        let key = [UInt8](repeating: 0x0B, count: 20)
        let data = Array("Hi There".utf8)
        XCTAssertEqual(HashAlgorithm.sha1.hmac(key: key, data: data), hex("b617318655057264e28bc0b6fb378c8ef146be00"))
        XCTAssertEqual(
            HashAlgorithm.sha256.hmac(key: key, data: data), hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"))
        XCTAssertEqual(
            HashAlgorithm.sha384.hmac(key: key, data: data),
            hex("afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"))
        XCTAssertEqual(
            HashAlgorithm.sha512.hmac(key: key, data: data),
            hex(
                "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"
            ))
    }

    /// RFC 4231 test case 6: a key longer than the block size is hashed first.
    func testLongKey() {
        let key = [UInt8](repeating: 0xAA, count: 131)
        let data = Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)
        XCTAssertEqual(
            HashAlgorithm.sha256.hmac(key: key, data: data), hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"))
    }

    /// Against swift-crypto's independent HMAC and SHA (BoringSSL), for every algorithm, key
    /// lengths around the block sizes and messages around them, with array, slice and Data
    /// inputs; and a forked `Hasher` (a copy) continues independently.
    func testAgreesWithSwiftCrypto() {
        var g = SystemRandomNumberGenerator()
        func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) } }
        func reference(_ alg: HashAlgorithm, _ key: [UInt8], _ msg: [UInt8]) -> [UInt8] {
            let k = SymmetricKey(data: key)
            switch alg {
            case .sha1: return Array(HMAC<Insecure.SHA1>.authenticationCode(for: msg, using: k))
            case .sha256: return Array(HMAC<SHA256>.authenticationCode(for: msg, using: k))
            case .sha384: return Array(HMAC<SHA384>.authenticationCode(for: msg, using: k))
            case .sha512: return Array(HMAC<SHA512>.authenticationCode(for: msg, using: k))
            }
        }
        func referenceDigest(_ alg: HashAlgorithm, _ msg: [UInt8]) -> [UInt8] {
            switch alg {
            case .sha1: return Array(Insecure.SHA1.hash(data: msg))
            case .sha256: return Array(SHA256.hash(data: msg))
            case .sha384: return Array(SHA384.hash(data: msg))
            case .sha512: return Array(SHA512.hash(data: msg))
            }
        }
        for alg in HashAlgorithm.allCases {
            for keyLength in [0, 1, 20, 63, 64, 65, 127, 128, 129, 300] {
                for msgLength in [0, 1, 55, 56, 64, 111, 112, 128, 1000] {
                    let key = bytes(keyLength)
                    let msg = bytes(msgLength)
                    let expected = reference(alg, key, msg)
                    XCTAssertEqual(alg.hmac(key: key, data: msg), expected, "\(alg) \(keyLength) \(msgLength)")
                    XCTAssertEqual(alg.hmac(key: Data(key), data: Data(msg)), expected)
                    XCTAssertEqual(alg.hmac(key: key[...], data: ([0] + msg)[1...]), expected)
                    XCTAssertEqual(alg.digest(msg), referenceDigest(alg, msg))
                    XCTAssertEqual(alg.digest(Data(msg)), referenceDigest(alg, msg))
                }
            }
            let a = bytes(100)
            let b = bytes(77)
            var h = Hasher(alg)
            h.update(a)
            var fork = h
            fork.update(b)
            XCTAssertEqual(h.finalize(), referenceDigest(alg, a))
            XCTAssertEqual(fork.finalize(), referenceDigest(alg, a + b))
            XCTAssertEqual(h.finalize(), referenceDigest(alg, a), "finalize leaves the value usable")
        }
    }
}
