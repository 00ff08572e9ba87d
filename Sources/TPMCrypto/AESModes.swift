/// The symmetric block-cipher modes of TPM2_EncryptDecrypt (Part 3, 15.2), by TPM_ALG_ID.
public enum SymmetricMode: UInt16, CaseIterable, Sendable {
    case ctr = 0x0040
    case ofb = 0x0041
    case cbc = 0x0042
    case cfb = 0x0043
    case ecb = 0x0044
}

/// AES-128/192/256 in the TPM's five modes (NIST SP 800-38A), with the TPM's conventions:
/// - no padding: ECB and CBC take only whole blocks (`notBlockMultiple` otherwise; the engine
///   answers TPM_RC_SIZE); CFB, OFB and CTR take any length, the last block partial;
/// - the IV is one block for every mode but ECB, which has none (its `iv` is ignored and its
///   `ivOut` is empty);
/// - `ivOut` is the chaining value that continues the stream in a next call (Part 3,
///   EncryptDecrypt's ivOut): CBC and CFB the last ciphertext block; for a partial last CFB
///   block, its ciphertext octets followed by zeros; OFB the last cipher output block; CTR the
///   counter block after the last one used (incremented as a 128-bit big-endian integer). These
///   follow the TCG reference code, which libtpms shares; empty input returns the IV unchanged.
public enum AESCipher {
    public static let blockSize = 16

    public static func encrypt(_ mode: SymmetricMode, key: [UInt8], iv: [UInt8], _ input: [UInt8]) throws
        -> (output: [UInt8], ivOut: [UInt8])
    {
        try run(mode, key: key, iv: iv, input, encrypt: true)
    }

    public static func decrypt(_ mode: SymmetricMode, key: [UInt8], iv: [UInt8], _ input: [UInt8]) throws
        -> (output: [UInt8], ivOut: [UInt8])
    {
        try run(mode, key: key, iv: iv, input, encrypt: false)
    }

    private static func run(_ mode: SymmetricMode, key: [UInt8], iv: [UInt8], _ input: [UInt8], encrypt: Bool) throws
        -> (output: [UInt8], ivOut: [UInt8])
    {
        guard let aes = AESBlockCipher(key: key) else { throw TPMCryptoError.badKeyOrIV }
        if mode == .ecb {
            guard input.count % blockSize == 0 else { throw TPMCryptoError.notBlockMultiple }
            return (encrypt ? aes.encrypt(input) : aes.decrypt(input), [])
        }
        guard iv.count == blockSize else { throw TPMCryptoError.badKeyOrIV }
        if mode == .cbc, input.count % blockSize != 0 { throw TPMCryptoError.notBlockMultiple }
        if input.isEmpty { return ([], iv) }
        switch mode {
        case .cbc: return encrypt ? cbcEncrypt(aes, iv, input) : cbcDecrypt(aes, iv, input)
        case .cfb: return encrypt ? cfbEncrypt(aes, iv, input) : cfbDecrypt(aes, iv, input)
        case .ofb: return ofb(aes, iv, input)
        case .ctr: return ctr(aes, iv, input)
        case .ecb: fatalError("handled above")
        }
    }

    // C_i = E(P_i xor C_(i-1)), C_0 = IV.
    private static func cbcEncrypt(_ aes: AESBlockCipher, _ iv: [UInt8], _ p: [UInt8]) -> ([UInt8], [UInt8]) {
        var out = [UInt8](repeating: 0, count: p.count)
        var chain = iv
        for off in stride(from: 0, to: p.count, by: blockSize) {
            for i in 0..<blockSize { chain[i] ^= p[off + i] }
            chain = aes.encrypt(chain)
            out.replaceSubrange(off..<off + blockSize, with: chain)
        }
        return (out, chain)
    }

    // P_i = D(C_i) xor C_(i-1): all blocks deciphered in one call.
    private static func cbcDecrypt(_ aes: AESBlockCipher, _ iv: [UInt8], _ c: [UInt8]) -> ([UInt8], [UInt8]) {
        var out = aes.decrypt(c)
        for i in 0..<out.count { out[i] ^= i < blockSize ? iv[i] : c[i - blockSize] }
        return (out, Array(c[(c.count - blockSize)...]))
    }

    // C_i = P_i xor E(C_(i-1)), C_0 = IV; a partial last block uses the leading octets.
    private static func cfbEncrypt(_ aes: AESBlockCipher, _ iv: [UInt8], _ p: [UInt8]) -> ([UInt8], [UInt8]) {
        var out = [UInt8](repeating: 0, count: p.count)
        var chain = iv
        for off in stride(from: 0, to: p.count, by: blockSize) {
            var ks = aes.encrypt(chain)
            let n = min(blockSize, p.count - off)
            for i in 0..<n { ks[i] ^= p[off + i] }
            for i in n..<blockSize { ks[i] = 0 }
            out.replaceSubrange(off..<off + n, with: ks[0..<n])
            chain = ks
        }
        return (out, chain)
    }

    // P_i = C_i xor E(C_(i-1)): the keystream depends only on ciphertext, one call for all.
    private static func cfbDecrypt(_ aes: AESBlockCipher, _ iv: [UInt8], _ c: [UInt8]) -> ([UInt8], [UInt8]) {
        let full = c.count / blockSize * blockSize
        let blocks = (c.count + blockSize - 1) / blockSize
        var chains = iv
        if blocks > 1 { chains += c[0..<(blocks - 1) * blockSize] }
        let ks = aes.encrypt(chains)
        var out = c
        for i in 0..<c.count { out[i] ^= ks[i] }
        var ivOut: [UInt8]
        if full == c.count {
            ivOut = Array(c[(c.count - blockSize)...])
        } else {
            ivOut = Array(c[full...])
            ivOut += [UInt8](repeating: 0, count: blockSize - ivOut.count)
        }
        return (out, ivOut)
    }

    // O_i = E(O_(i-1)), O_0 = IV; output = input xor O_i (same both ways).
    private static func ofb(_ aes: AESBlockCipher, _ iv: [UInt8], _ input: [UInt8]) -> ([UInt8], [UInt8]) {
        var out = input
        var o = iv
        for off in stride(from: 0, to: input.count, by: blockSize) {
            o = aes.encrypt(o)
            for i in 0..<min(blockSize, input.count - off) { out[off + i] ^= o[i] }
        }
        return (out, o)
    }

    // Counter blocks IV, IV+1, ... (mod 2^128) enciphered in one call; output = input xor them.
    private static func ctr(_ aes: AESBlockCipher, _ iv: [UInt8], _ input: [UInt8]) -> ([UInt8], [UInt8]) {
        let blocks = (input.count + blockSize - 1) / blockSize
        var counters: [UInt8] = []
        counters.reserveCapacity(blocks * blockSize)
        var counter = iv
        for _ in 0..<blocks {
            counters += counter
            increment(&counter)
        }
        let ks = aes.encrypt(counters)
        var out = input
        for i in 0..<input.count { out[i] ^= ks[i] }
        return (out, counter)
    }

    private static func increment(_ block: inout [UInt8]) {
        var i = block.count - 1
        while i >= 0 {
            block[i] &+= 1
            if block[i] != 0 { return }
            i -= 1
        }
    }
}
