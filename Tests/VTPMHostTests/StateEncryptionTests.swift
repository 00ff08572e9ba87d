import Crypto
import Foundation
import XCTest

@testable import VTPMHost

/// State at rest and in transit under a key: AES-GCM opened by an independent implementation
/// (swift-crypto's own AES.GCM with the documented layout), wrong keys and downgrades refused.
final class StateEncryptionTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "vtpm-enc-\(UUID().uuidString)"
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    let key = [UInt8](repeating: 0x42, count: 32)

    func testLayoutOpensWithPlainAESGCM() throws {
        let cipher = try StateCipher(key: key)
        let sealed = try cipher.seal(Array("hello TPM".utf8), role: "vtpm-permanent")
        XCTAssertEqual(Array(sealed.prefix(8)), Array("VTPMENC1".utf8))
        // magic ‖ nonce ‖ ciphertext ‖ tag, associated data = magic ‖ role.
        let box = try AES.GCM.SealedBox(
            nonce: AES.GCM.Nonce(data: sealed[8..<20]), ciphertext: sealed[20..<(sealed.count - 16)], tag: sealed.suffix(16))
        let plain = try AES.GCM.open(box, using: SymmetricKey(data: key), authenticating: Array("VTPMENC1vtpm-permanent".utf8))
        XCTAssertEqual(String(decoding: plain, as: UTF8.self), "hello TPM")
        // Another role (a volatile blob replayed as permanent) does not open.
        XCTAssertThrowsError(try cipher.open(sealed, role: "vtpm-volatile"))
        var flipped = sealed
        flipped[25] ^= 1
        XCTAssertThrowsError(try cipher.open(flipped, role: "vtpm-permanent"))
    }

    /// swtpm's passphrase KDFs (swtpm(8) `--key pwdfile=`): PBKDF2-HMAC-SHA512, salt "swtpm",
    /// 1000 iterations (default), or SHA-512's first bytes. Expected keys from Python's hashlib
    /// (`pbkdf2_hmac('sha512', b'correct horse\n', b'swtpm', 1000, 32)`, `sha512(...)`).
    func testPassphraseKeysMatchSwtpmsKDF() throws {
        let pass = Array("correct horse\n".utf8)
        func keyBytes(_ c: StateCipher) -> [UInt8] { c.key.withUnsafeBytes { Array($0) } }
        XCTAssertEqual(
            keyBytes(try StateCipher.derive(passphrase: pass, bits: 256, kdf: .pbkdf2)),
            bytes(hex: "4f9b96b90f7bc96f6ee8e918ce26c00584a0b57eba0519e72aac452eb293defd"))
        XCTAssertEqual(
            keyBytes(try StateCipher.derive(passphrase: pass, bits: 128, kdf: .pbkdf2)), bytes(hex: "4f9b96b90f7bc96f6ee8e918ce26c005"))
        XCTAssertEqual(
            keyBytes(try StateCipher.derive(passphrase: pass, bits: 256, kdf: .sha512)),
            bytes(hex: "6b1c1b5b311741c990f5c4bd514e5b0e4db85beebe5b3c31290904acf643bbe4"))
        // Through the command line's loader, from a descriptor (a pipe, as libvirt passes it).
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        _ = pass.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
        close(fds[1])
        var option = SwtpmConfiguration.KeyFile(source: .passphraseFD(fds[0]))
        option.bits = 256
        XCTAssertEqual(keyBytes(try option.load()), bytes(hex: "4f9b96b90f7bc96f6ee8e918ce26c00584a0b57eba0519e72aac452eb293defd"))
        XCTAssertEqual(fcntl(fds[0], F_GETFD), -1, "the descriptor is closed once read")
    }

    func testKeyFiles() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try String(repeating: "ab", count: 16).write(toFile: dir + "/k128", atomically: true, encoding: .utf8)
        XCTAssertEqual(try StateCipher.load(path: dir + "/k128").bits, 128)
        try "xyz".write(toFile: dir + "/bad", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try StateCipher.load(path: dir + "/bad"))
        let made = try StateCipher.loadOrCreate(path: dir + "/new")
        XCTAssertEqual(made.bits, 256)
        var st = stat()
        XCTAssertEqual(stat(dir + "/new", &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        // Loaded again, the same key.
        let again = try StateCipher.loadOrCreate(path: dir + "/new")
        XCTAssertEqual(try again.open(try made.seal([1, 2, 3], role: "r"), role: "r"), [1, 2, 3])
    }

    func testStoreEncryptsAtRestAndRefusesMismatches() throws {
        do {
            let store = try StateStore(directory: dir, create: true)
            store.cipher = try StateCipher(key: key)
            try store.write(.permanent, Array("secret seeds".utf8))
            XCTAssertEqual(try store.read(.permanent), Array("secret seeds".utf8))
        }
        let raw = try XCTUnwrap(FileManager.default.contents(atPath: dir + "/vtpm-permanent"))
        XCTAssertNil(String(decoding: raw, as: UTF8.self).range(of: "secret"))
        // No key: a clear refusal, not garbage.
        let plain = try StateStore(directory: dir)
        XCTAssertThrowsError(try plain.read(.permanent)) { e in
            XCTAssertTrue("\(e)".contains("encrypted"), "\(e)")
        }
        plain.cipher = try StateCipher(key: [UInt8](repeating: 7, count: 32))
        XCTAssertThrowsError(try plain.read(.permanent)) { e in XCTAssertTrue("\(e)".contains("does not decrypt"), "\(e)") }
        plain.release()
        // A key given for a plain state: refused (it could be a downgrade).
        let other = dir + "/plain"
        let s2 = try StateStore(directory: other, create: true)
        try s2.write(.permanent, [1, 2, 3])
        s2.cipher = try StateCipher(key: key)
        XCTAssertThrowsError(try s2.read(.permanent))
    }
}
