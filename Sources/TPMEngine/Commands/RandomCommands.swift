import TPMWire

extension TPM {
    /// TPM2_GetRandom (Part 3, 16.1): at most one digest's worth (the largest implemented
    /// hash) per call, as the TPM may return fewer octets than asked for.
    func getRandomCommand(_ c: inout CommandContext) throws {
        let requested = try c.param { try $0.u16() }
        try c.finish()
        let n = min(Int(requested), TPMLimits.maxDigestSize)
        TPM2BDigest(random(n)).encode(to: &c.response)
    }

    /// TPM2_StirRandom (Part 3, 16.2): the data is additional input to the DRBG.
    func stirRandomCommand(_ c: inout CommandContext) throws {
        let data = try c.param(TPM2BSensitiveData.self)
        try c.finish()
        drbg.reseed(entropy: env.entropy(32), additional: data.buffer)
    }
}
