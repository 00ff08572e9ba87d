import Crypto
import Foundation

/// Encryption of state blobs: at rest (a state key: swtpm `--key`, `vtpm serve --state-key`)
/// and in transit (a migration key: swtpm `--migration-key`, the daemon's migration.key).
///
/// AES-GCM with a 128- or 256-bit key, a fresh 96-bit nonce per blob, and the blob's role
/// ("permanent", "volatile", "migration-permanent", ...) as associated data, so a blob cannot be
/// replayed as the other kind. Layout: "VTPMENC1" ‖ nonce (12) ‖ ciphertext ‖ tag (16). This is
/// our format (swtpm's uses AES-CBC + HMAC over libtpms blobs; neither side can read the other's
/// state anyway).
public struct StateCipher: Sendable {
    public static let magic: [UInt8] = Array("VTPMENC1".utf8)
    let key: SymmetricKey
    /// The key's size: 128 or 256.
    public var bits: Int { key.bitCount }

    public init(key bytes: [UInt8]) throws {
        guard bytes.count == 16 || bytes.count == 32 else {
            throw ManagementError("a state key must be 16 or 32 bytes (128 or 256 bits), not \(bytes.count)")
        }
        key = SymmetricKey(data: bytes)
    }

    /// Reads a key file: `format` "hex" (32 or 64 hex digits, whitespace ignored) or "binary"
    /// (16 or 32 bytes), as swtpm's `--key file=...,format=...`.
    public static func load(path: String, format: String = "hex") throws -> StateCipher {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ManagementError("cannot read the key file \(path)")
        }
        return try parse(Array(data), format: format, what: "the key file \(path)")
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var it = text.makeIterator()
        while let a = it.next() {
            guard let b = it.next(), let hi = a.hexDigitValue, let lo = b.hexDigitValue else { return nil }
            out.append(UInt8(hi << 4 | lo))
        }
        return out
    }

    /// A new random key file (hex, mode 0600), unless one exists; returns its cipher.
    public static func loadOrCreate(path: String) throws -> StateCipher {
        if FileManager.default.fileExists(atPath: path) { return try load(path: path) }
        let key = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        let text = key.map { String(format: "%02x", $0) }.joined() + "\n"
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ManagementError("cannot create \(path): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let ok = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count && fsync(fd) == 0
        close(fd)
        guard ok else { throw ManagementError("cannot write \(path)") }
        return try StateCipher(key: key)
    }

    public static func isEncrypted(_ blob: [UInt8]) -> Bool { blob.starts(with: magic) }

    // MARK: keys from passphrases (swtpm `--key pwdfile=|pwdfd=`, libvirt's encrypted vTPMs)

    /// How a passphrase becomes a key, as swtpm does it (swtpm(8), `--key pwdfile=...,kdf=`):
    /// `pbkdf2` (the default) is PBKDF2-HMAC-SHA512 with the salt "swtpm" and 1000 iterations;
    /// `sha512` takes the first bytes of SHA-512(passphrase). The passphrase is every byte of
    /// the file or descriptor (a trailing newline is part of it). So the same passphrase gives
    /// the same key here as in swtpm, which is what libvirt relies on.
    public enum KDF: String, Sendable {
        case pbkdf2
        case sha512
    }

    static let passphraseSalt: [UInt8] = Array("swtpm".utf8)
    static let passphraseIterations = 1000
    /// A passphrase larger than this is refused (swtpm reads any size; a secret is small).
    public static let maxPassphraseSize = 1 << 16

    /// A key of `bits` (128 or 256) derived from `passphrase`.
    public static func derive(passphrase: [UInt8], bits: Int, kdf: KDF) throws -> StateCipher {
        guard bits == 128 || bits == 256 else { throw ManagementError("a derived key has 128 or 256 bits, not \(bits)") }
        let count = bits / 8
        switch kdf {
        case .sha512:
            return try StateCipher(key: Array(SHA512.hash(data: passphrase).prefix(count)))
        case .pbkdf2:
            return try StateCipher(
                key: pbkdf2SHA512(password: passphrase, salt: passphraseSalt, iterations: passphraseIterations, count: count))
        }
    }

    /// PBKDF2 (RFC 8018, 5.2) with HMAC-SHA512, for outputs of at most one block (64 bytes).
    static func pbkdf2SHA512(password: [UInt8], salt: [UInt8], iterations: Int, count: Int) -> [UInt8] {
        precondition(count <= 64 && iterations >= 1)
        let key = SymmetricKey(data: password)
        var u = Array(HMAC<SHA512>.authenticationCode(for: salt + [0, 0, 0, 1], using: key))
        var t = u
        for _ in 1..<iterations {
            u = Array(HMAC<SHA512>.authenticationCode(for: u, using: key))
            for i in 0..<t.count { t[i] ^= u[i] }
        }
        return Array(t.prefix(count))
    }

    /// Everything readable from `fd` until end of file, at most `limit` bytes (a longer input
    /// is an error). The descriptor is closed.
    public static func readAll(fd: Int32, limit: Int, what: String) throws -> [UInt8] {
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ManagementError("cannot read \(what): \(String(cString: strerror(errno)))")
            }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
            guard out.count <= limit else { throw ManagementError("\(what) is longer than \(limit) bytes") }
        }
    }

    /// A key in the given format (hex or binary) from its bytes.
    public static func parse(_ data: [UInt8], format: String, what: String) throws -> StateCipher {
        switch format {
        case "binary":
            return try StateCipher(key: data)
        case "hex":
            var text = String(decoding: data, as: UTF8.self).filter { !$0.isWhitespace }
            if text.hasPrefix("0x") || text.hasPrefix("0X") { text.removeFirst(2) }
            guard text.count % 2 == 0, let bytes = hexBytes(text) else {
                throw ManagementError("\(what) does not hold a hex key")
            }
            return try StateCipher(key: bytes)
        default:
            throw ManagementError("unknown key format '\(format)' (hex, binary)")
        }
    }

    public func seal(_ plaintext: [UInt8], role: String) throws -> [UInt8] {
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: Self.magic + Array(role.utf8))
        return Self.magic + Array(box.nonce) + Array(box.ciphertext) + Array(box.tag)
    }

    public func open(_ blob: [UInt8], role: String) throws -> [UInt8] {
        guard blob.count >= Self.magic.count + 12 + 16, isEncryptedBlob(blob) else {
            throw ManagementError("the \(role) blob is not encrypted")
        }
        let body = blob[Self.magic.count...]
        do {
            let nonce = try AES.GCM.Nonce(data: body.prefix(12))
            let box = try AES.GCM.SealedBox(nonce: nonce, ciphertext: body.dropFirst(12).dropLast(16), tag: body.suffix(16))
            return Array(try AES.GCM.open(box, using: key, authenticating: Self.magic + Array(role.utf8)))
        } catch {
            throw ManagementError("the \(role) blob does not decrypt: wrong key, or damaged")
        }
    }

    private func isEncryptedBlob(_ blob: [UInt8]) -> Bool { Self.isEncrypted(blob) }
}
