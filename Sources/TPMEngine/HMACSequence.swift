import TPMCrypto

/// HMAC (RFC 2104, FIPS 198-1) split so that a sequence object can hold it between commands
/// and in a saved context: K0 is the key padded with zeros to the block size (a longer key is
/// hashed first), the inner hash starts with K0 xor ipad, and the result is
/// H((K0 xor opad) || inner digest). The inner state is an ExportableHasher, as hash sequences'.
enum HMACSequence {
    static func start(_ alg: HashAlgorithm, key: [UInt8]) -> (inner: ExportableHasher, key: [UInt8]) {
        var k0 = key.count > alg.blockSize ? alg.digest(key) : key
        k0 += [UInt8](repeating: 0, count: alg.blockSize - k0.count)
        var inner = ExportableHasher(alg)
        inner.update(k0.map { $0 ^ 0x36 })
        return (inner, k0)
    }

    static func finish(inner: ExportableHasher, key k0: [UInt8]) -> [UInt8] {
        inner.algorithm.digest(k0.map { $0 ^ 0x5C } + inner.finalize())
    }
}
