import TPMCrypto
import XCTest

/// KDFe, KDF2 and MGF1 against independent implementations (tests/vectors/kdfe_vectors.py):
/// `cryptography`'s ConcatKDFHash (SP 800-56A) and X963KDF, and MGF1 written out with hashlib.
final class KDFeTests: XCTestCase {
    let z = hex("46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b")
    let u = Array(0..<UInt8(32))
    let v = Array(32..<UInt8(64))

    func testKDFe() {
        XCTAssertEqual(
            hexString(kdfe(.sha256, z: z, use: "DUPLICATE", partyUInfo: u, partyVInfo: v, bits: 128)),
            "18d19c1cbc2fb3626c9452940ac939d2")
        XCTAssertEqual(
            hexString(kdfe(.sha256, z: z, use: "SECRET", partyUInfo: u, partyVInfo: v, bits: 256)),
            "2ed3f66c5625e6165f152eb61212dc46be4d178aa40e0d23df3300c2e9600424")
        XCTAssertEqual(
            hexString(kdfe(.sha1, z: z, use: "IDENTITY", partyUInfo: u, partyVInfo: [], bits: 320)),
            "2af2fa37dbc13a28501318fded57f19995b54781204f0978641ccc7b1d859247c2ad665528869782")
        XCTAssertEqual(
            hexString(kdfe(.sha384, z: z + z, use: "STORAGE", partyUInfo: [], partyVInfo: v, bits: 1024)),
            "3db47166f5114fc0b94aa49195f7847a63a488ec4eaa7d03c33b5a2a83d3741e73a6598f11129fdc29588a0408e530ddebd00703c770e02f"
                + "46673b46ef185f95015a1c54044720494bc730a7ba2eff1d117f4627c1090e793cb4b3aab0626139154aca10392d506332eb9170bf12d2"
                + "eebf0ed33ab8271a42237d1024edbeee88")
        // The use label with its zero already present is not given a second one.
        XCTAssertEqual(
            kdfe(.sha256, z: z, use: "SECRET\u{0}", partyUInfo: u, partyVInfo: v, bits: 256),
            kdfe(.sha256, z: z, use: "SECRET", partyUInfo: u, partyVInfo: v, bits: 256))
        XCTAssertEqual(kdfe(.sha256, z: z, use: "X", partyUInfo: [], partyVInfo: [], bits: 0), [])
    }

    /// A bit count that is not a multiple of 8 clears the unused high bits, as KDFa does.
    func testKDFeOddBits() {
        XCTAssertEqual(
            hexString(kdfe(.sha512, z: z, use: "X", partyUInfo: u, partyVInfo: v, bits: 250)),
            "0292f65102a6ed74f299eec55ad1288c6f1dc88a8f7f7c5cbf780e82c4653384")
    }

    func testKDF2() {
        XCTAssertEqual(
            hexString(kdf2(.sha256, z: z, otherInfo: Array("other info".utf8), length: 100)),
            "595f5fb7e1210ca669cbdac685785381eafbd4a980ace696cfc1f671327ccd1bb795a467991aa0db3d7f23f352903c35f109473a4d116821"
                + "d5eccbb2125f0546162f28c7c9df6734c10a4cb8c95081ebaf2ca9bd7d4cd68874c31c79e94b09eba9680f5b")
    }

    func testMGF1() {
        XCTAssertEqual(
            hexString(mgf1(.sha1, seed: Array("seed".utf8), length: 50)),
            "09d8db2214e56d4dec8f9a3099b851a46886fe3f682e3c4f6a35ff98dd072c1124a6b7b411e543f204ffbe1792ab51164538")
        XCTAssertEqual(
            hexString(mgf1(.sha256, seed: z, length: 107)),
            "6460b1afba27d726fa40e7e5c29832cf6fbc2463a59c7af593d0e2569e8729ad65aa794ac84c5cee664468c1409a35e72b950b53ff795c"
                + "387e712e529a6bf1e0788060cffe9b7a06a47f1c914c002a92876971093d1f070e64a112ef1b853b089d656745708aa6e95ac648")
        XCTAssertEqual(mgf1(.sha256, seed: z, length: 0), [])
    }
}
