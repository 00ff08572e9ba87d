#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension SwtpmConfiguration.KeyFile {
    /// The cipher for this `--key` / `--migration-key`: the key read from its file or
    /// descriptor, or derived from the passphrase in its file or descriptor (swtpm's KDF, so
    /// libvirt's secret opens the same state here as with swtpm). A descriptor is read to its
    /// end and closed; `remove` unlinks a named file once read, as swtpm does.
    public func load() throws -> StateCipher {
        let cipher: StateCipher
        switch source {
        case .file(let path):
            cipher = try StateCipher.load(path: path, format: format)
        case .fd(let fd):
            let data = try StateCipher.readAll(fd: fd, limit: 4096, what: "the key from descriptor \(fd)")
            cipher = try StateCipher.parse(data, format: format, what: "the key from descriptor \(fd)")
        case .passphraseFile(let path):
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw ManagementError("cannot open the passphrase file \(path): \(String(cString: strerror(errno)))")
            }
            cipher = try Self.derive(StateCipher.readAll(fd: fd, limit: StateCipher.maxPassphraseSize, what: path), bits, kdf)
        case .passphraseFD(let fd):
            let what = "the passphrase from descriptor \(fd)"
            cipher = try Self.derive(StateCipher.readAll(fd: fd, limit: StateCipher.maxPassphraseSize, what: what), bits, kdf)
        }
        if let bits, bits != cipher.bits {
            throw ManagementError("the key has \(cipher.bits) bits, the mode asks for \(bits)")
        }
        if remove, let path { unlink(path) }
        return cipher
    }

    /// swtpm's default mode, aes-128-cbc, gives 128-bit keys.
    private static func derive(_ passphrase: [UInt8], _ bits: Int?, _ kdf: StateCipher.KDF) throws -> StateCipher {
        guard !passphrase.isEmpty else { throw ManagementError("the passphrase is empty") }
        return try StateCipher.derive(passphrase: passphrase, bits: bits ?? 128, kdf: kdf)
    }
}
