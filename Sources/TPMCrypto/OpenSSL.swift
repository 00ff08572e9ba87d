internal import COpenSSL

// The one Swift file that touches OpenSSL's libcrypto and raw pointers (with
// Sources/COpenSSL/shim.h). Everything here is internal: small owning wrappers whose deinit
// clears and frees (BN_clear_free, EC_POINT_clear_free, EVP_PKEY_free, EVP_CIPHER_CTX_free),
// and byte-array-in/byte-array-out operations. Callers in this module never see a pointer.
//
// Allocation failure inside OpenSSL is treated like Swift's own allocation failure (a trap):
// it does not depend on input. Every failure that input can cause comes back as an error or nil.

// MARK: - Bignums

/// A BN_CTX scratch area, reused across the operations of one computation.
final class BNContext {
    let ref: OpaquePointer

    init() {
        guard let c = BN_CTX_new() else { fatalError("BN_CTX_new: out of memory") }
        ref = c
    }

    deinit { BN_CTX_free(ref) }
}

/// An owned BIGNUM. Values are non-negative throughout this module.
final class BigNum {
    let ref: OpaquePointer

    init() {
        guard let b = BN_new() else { fatalError("BN_new: out of memory") }
        ref = b
    }

    /// Takes ownership of a BIGNUM returned by OpenSSL.
    fileprivate init(owning b: OpaquePointer) { ref = b }

    /// The unsigned big-endian integer `bytes`.
    convenience init(_ bytes: [UInt8]) {
        self.init()
        let ok = bytes.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32($0.count), ref) }
        precondition(ok != nil, "BN_bin2bn: out of memory")
    }

    convenience init(_ word: UInt) {
        self.init()
        precondition(BN_set_word(ref, word) == 1, "BN_set_word failed")
    }

    deinit { BN_clear_free(ref) }

    func copy() -> BigNum {
        guard let d = BN_dup(ref) else { fatalError("BN_dup: out of memory") }
        let c = BigNum(owning: d)
        if BN_get_flags(ref, BN_FLG_CONSTTIME) != 0 { c.setConstantTime() }
        return c
    }

    /// Marks a secret so that OpenSSL takes its constant-time paths (modular inverse and
    /// exponentiation).
    func setConstantTime() { BN_set_flags(ref, BN_FLG_CONSTTIME) }

    var bitCount: Int { Int(BN_num_bits(ref)) }
    var isZero: Bool { BN_is_zero(ref) == 1 }
    var isOne: Bool { BN_is_one(ref) == 1 }
    var isOdd: Bool { BN_is_odd(ref) == 1 }
    func isBitSet(_ n: Int) -> Bool { BN_is_bit_set(ref, Int32(n)) == 1 }

    /// Big-endian, left-padded to `count` octets; nil when the value does not fit.
    func bytes(count: Int) -> [UInt8]? {
        guard count >= 0, bitCount <= 8 * count else { return nil }
        var out = [UInt8](repeating: 0, count: count)
        let n = out.withUnsafeMutableBufferPointer { BN_bn2binpad(ref, $0.baseAddress, Int32(count)) }
        return n == Int32(count) ? out : nil
    }

    /// Big-endian with no leading zero octets (empty for zero).
    var minimalBytes: [UInt8] { bytes(count: (bitCount + 7) / 8) ?? [] }

    func setBit(_ n: Int) { precondition(BN_set_bit(ref, Int32(n)) == 1, "BN_set_bit failed") }

    func shiftedLeft(_ n: Int) -> BigNum {
        let r = BigNum()
        precondition(BN_lshift(r.ref, ref, Int32(n)) == 1, "BN_lshift failed")
        return r
    }

    func shiftedRight(_ n: Int) -> BigNum {
        let r = BigNum()
        precondition(BN_rshift(r.ref, ref, Int32(n)) == 1, "BN_rshift failed")
        return r
    }

    static func compare(_ a: BigNum, _ b: BigNum) -> Int { Int(BN_cmp(a.ref, b.ref)) }

    static func + (a: BigNum, b: BigNum) -> BigNum {
        let r = BigNum()
        precondition(BN_add(r.ref, a.ref, b.ref) == 1, "BN_add failed")
        return r
    }

    /// a - b; callers ensure a >= b.
    static func - (a: BigNum, b: BigNum) -> BigNum {
        let r = BigNum()
        precondition(BN_sub(r.ref, a.ref, b.ref) == 1, "BN_sub failed")
        return r
    }

    static func * (a: BigNum, b: BigNum) -> BigNum {
        let r = BigNum()
        let ctx = BNContext()
        precondition(BN_mul(r.ref, a.ref, b.ref, ctx.ref) == 1, "BN_mul failed")
        return r
    }

    /// (quotient, remainder) of a / m; nil when m is zero.
    static func divide(_ a: BigNum, by m: BigNum) -> (quotient: BigNum, remainder: BigNum)? {
        guard !m.isZero else { return nil }
        let q = BigNum()
        let r = BigNum()
        let ctx = BNContext()
        guard BN_div(q.ref, r.ref, a.ref, m.ref, ctx.ref) == 1 else { return nil }
        return (q, r)
    }

    /// a mod m (non-negative); nil when m is zero.
    static func mod(_ a: BigNum, _ m: BigNum) -> BigNum? {
        guard !m.isZero else { return nil }
        let r = BigNum()
        let ctx = BNContext()
        return BN_nnmod(r.ref, a.ref, m.ref, ctx.ref) == 1 ? r : nil
    }

    static func modMul(_ a: BigNum, _ b: BigNum, _ m: BigNum) -> BigNum? {
        guard !m.isZero else { return nil }
        let r = BigNum()
        let ctx = BNContext()
        return BN_mod_mul(r.ref, a.ref, b.ref, m.ref, ctx.ref) == 1 ? r : nil
    }

    static func modAdd(_ a: BigNum, _ b: BigNum, _ m: BigNum) -> BigNum? {
        guard !m.isZero else { return nil }
        let r = BigNum()
        let ctx = BNContext()
        return BN_mod_add(r.ref, a.ref, b.ref, m.ref, ctx.ref) == 1 ? r : nil
    }

    /// a^-1 mod m, by OpenSSL's branch-free inversion (the operand is marked constant-time);
    /// nil when no inverse exists.
    static func modInverse(_ a: BigNum, _ m: BigNum) -> BigNum? {
        guard !m.isZero else { return nil }
        let x = a.copy()
        x.setConstantTime()
        let r = BigNum()
        let ctx = BNContext()
        guard BN_mod_inverse(r.ref, x.ref, m.ref, ctx.ref) != nil else {
            ERR_clear_error()
            return nil
        }
        return r
    }

    /// a^e mod m with Montgomery multiplication in constant time (m odd); nil otherwise.
    static func modExpConstantTime(_ a: BigNum, _ e: BigNum, _ m: BigNum) -> BigNum? {
        guard m.isOdd else { return nil }
        let r = BigNum()
        let ctx = BNContext()
        guard BN_mod_exp_mont_consttime(r.ref, a.ref, e.ref, m.ref, ctx.ref, nil) == 1 else {
            ERR_clear_error()
            return nil
        }
        return r
    }

    /// a^e mod m for public values.
    static func modExp(_ a: BigNum, _ e: BigNum, _ m: BigNum) -> BigNum? {
        guard !m.isZero else { return nil }
        let r = BigNum()
        let ctx = BNContext()
        return BN_mod_exp(r.ref, a.ref, e.ref, m.ref, ctx.ref) == 1 ? r : nil
    }

    static func gcd(_ a: BigNum, _ b: BigNum) -> BigNum {
        let r = BigNum()
        let ctx = BNContext()
        precondition(BN_gcd(r.ref, a.ref, b.ref, ctx.ref) == 1, "BN_gcd failed")
        return r
    }

    /// The remainder of this number divided by a machine word (w > 0).
    func remainder(dividingBy w: UInt) -> UInt {
        let r = BN_mod_word(ref, w)
        precondition(r != UInt.max, "BN_mod_word failed")
        return r
    }

    /// a^e mod m through a Montgomery context prepared for m (public values: primality tests).
    static func modExp(_ a: BigNum, _ e: BigNum, _ mont: MontgomeryContext, _ ctx: BNContext) -> BigNum {
        let r = BigNum()
        precondition(BN_mod_exp_mont(r.ref, a.ref, e.ref, mont.modulus.ref, ctx.ref, mont.ref) == 1, "BN_mod_exp_mont failed")
        return r
    }

    /// w^e mod m for a machine-word base (public values: the base-2 round of primality tests).
    static func modExp(word w: UInt, _ e: BigNum, _ mont: MontgomeryContext, _ ctx: BNContext) -> BigNum {
        let r = BigNum()
        precondition(BN_mod_exp_mont_word(r.ref, w, e.ref, mont.modulus.ref, ctx.ref, mont.ref) == 1, "BN_mod_exp_mont_word failed")
        return r
    }

    /// a^2 mod m.
    static func modSquare(_ a: BigNum, _ m: BigNum, _ ctx: BNContext) -> BigNum {
        let r = BigNum()
        precondition(BN_mod_sqr(r.ref, a.ref, m.ref, ctx.ref) == 1, "BN_mod_sqr failed")
        return r
    }

    /// Probable-prime test: trial division, then Miller-Rabin with OpenSSL's round count
    /// (64 rounds up to 2048 bits, 128 above), so a composite passes with probability < 2^-128.
    func isProbablePrime(_ ctx: BNContext) -> Bool {
        let r = BN_check_prime(ref, ctx.ref, nil)
        if r < 0 { ERR_clear_error() }
        return r == 1
    }
}

/// A Montgomery context for repeated exponentiation modulo one odd number.
final class MontgomeryContext {
    let ref: OpaquePointer
    let modulus: BigNum

    /// Nil unless m is odd and greater than 1.
    init?(_ m: BigNum, _ ctx: BNContext) {
        guard m.isOdd, !m.isOne, let mont = BN_MONT_CTX_new() else { return nil }
        guard BN_MONT_CTX_set(mont, m.ref, ctx.ref) == 1 else {
            BN_MONT_CTX_free(mont)
            ERR_clear_error()
            return nil
        }
        ref = mont
        modulus = m
    }

    deinit { BN_MONT_CTX_free(ref) }
}

// MARK: - Elliptic curves

/// A curve's EC_GROUP and its parameters. Immutable after creation; OpenSSL only reads a
/// group during arithmetic, so one instance per curve is shared.
final class ECGroup: @unchecked Sendable {
    let ref: OpaquePointer
    let p: BigNum
    let a: BigNum
    let b: BigNum
    let gx: BigNum
    let gy: BigNum
    let order: BigNum
    let cofactor: BigNum

    convenience init(nid: Int32) {
        guard let g = EC_GROUP_new_by_curve_name(nid) else { fatalError("curve \(nid) missing from libcrypto") }
        self.init(owning: g)
    }

    private init(owning g: OpaquePointer) {
        ref = g
        p = BigNum()
        a = BigNum()
        b = BigNum()
        gx = BigNum()
        gy = BigNum()
        let ctx = BNContext()
        precondition(EC_GROUP_get_curve(g, p.ref, a.ref, b.ref, ctx.ref) == 1, "EC_GROUP_get_curve failed")
        guard let gen = EC_GROUP_get0_generator(g), let n = EC_GROUP_get0_order(g), let h = EC_GROUP_get0_cofactor(g),
            let nCopy = BN_dup(n), let hCopy = BN_dup(h)
        else { fatalError("EC_GROUP accessors failed") }
        precondition(EC_POINT_get_affine_coordinates(g, gen, gx.ref, gy.ref, ctx.ref) == 1, "generator coordinates")
        order = BigNum(owning: nCopy)
        cofactor = BigNum(owning: hCopy)
    }

    /// A curve y^2 = x^3 + ax + b over GF(p) that OpenSSL has no name for, from its domain
    /// parameters (big-endian hex). Traps on bad constants: they are compiled in, never input.
    convenience init(p: String, a: String, b: String, gx: String, gy: String, order: String, cofactor: String) {
        let v = [p, a, b, gx, gy, order, cofactor].map { BigNum(hexBytes($0)) }
        let ctx = BNContext()
        guard let g = EC_GROUP_new_curve_GFp(v[0].ref, v[1].ref, v[2].ref, ctx.ref), let gen = EC_POINT_new(g) else {
            fatalError("EC_GROUP_new_curve_GFp failed")
        }
        defer { EC_POINT_free(gen) }
        // The BIGNUMs must outlive the calls: `.ref` is a bare pointer, and an optimized build may
        // free `v` right after its last use — the property read, before the C call (it did: the
        // release build trapped here while debug builds passed).
        withExtendedLifetime((v, ctx)) {
            precondition(EC_POINT_set_affine_coordinates(g, gen, v[3].ref, v[4].ref, ctx.ref) == 1, "generator")
            precondition(EC_GROUP_set_generator(g, gen, v[5].ref, v[6].ref) == 1, "EC_GROUP_set_generator failed")
        }
        self.init(owning: g)
    }

    deinit { EC_GROUP_free(ref) }

    // One group per curve for the whole process (immutable, shared).
    static let p256 = ECGroup(nid: NID_X9_62_prime256v1)
    static let p384 = ECGroup(nid: NID_secp384r1)
    static let p521 = ECGroup(nid: NID_secp521r1)
    // BN-P256 (TPM 2.0 Part 4 / TCG Algorithm Registry, TPM_ECC_BN_P256): y^2 = x^3 + 3, G = (1, 2), h = 1.
    static let bnP256 = ECGroup(
        p: "fffffffffffcf0cd46e5f25eee71a49f0cdc65fb12980a82d3292ddbaed33013", a: "00", b: "03", gx: "01", gy: "02",
        order: "fffffffffffcf0cd46e5f25eee71a49e0cdc65fb1299921af62d536cd10b500d", cofactor: "01")
}

/// An owned EC_POINT on a given group.
final class ECPointRef {
    let ref: OpaquePointer
    let group: ECGroup

    init(_ group: ECGroup) {
        guard let pt = EC_POINT_new(group.ref) else { fatalError("EC_POINT_new: out of memory") }
        ref = pt
        self.group = group
    }

    deinit { EC_POINT_clear_free(ref) }

    /// The point (x, y) if 0 <= x, y < p and it satisfies the curve equation; nil otherwise.
    /// (OpenSSL would silently reduce coordinates >= p, so the range is checked first.)
    static func validated(_ group: ECGroup, x: BigNum, y: BigNum) -> ECPointRef? {
        guard BigNum.compare(x, group.p) < 0, BigNum.compare(y, group.p) < 0 else { return nil }
        let pt = ECPointRef(group)
        let ctx = BNContext()
        guard EC_POINT_set_affine_coordinates(group.ref, pt.ref, x.ref, y.ref, ctx.ref) == 1,
            EC_POINT_is_on_curve(group.ref, pt.ref, ctx.ref) == 1
        else {
            ERR_clear_error()
            return nil
        }
        return pt
    }

    var isAtInfinity: Bool { EC_POINT_is_at_infinity(group.ref, ref) == 1 }

    /// Affine coordinates; nil for the point at infinity.
    func affine() -> (x: BigNum, y: BigNum)? {
        guard !isAtInfinity else { return nil }
        let x = BigNum()
        let y = BigNum()
        let ctx = BNContext()
        guard EC_POINT_get_affine_coordinates(group.ref, ref, x.ref, y.ref, ctx.ref) == 1 else {
            ERR_clear_error()
            return nil
        }
        return (x, y)
    }

    /// [g]G + [m]Q (either term may be absent). With a single term OpenSSL uses its
    /// constant-time Montgomery ladder (or the constant-time P-256 code), so `g` or `m` may be
    /// secret; with both terms (signature verification) the scalars must be public.
    static func multiply(_ group: ECGroup, generatorScalar g: BigNum?, point q: ECPointRef?, scalar m: BigNum?) -> ECPointRef? {
        let r = ECPointRef(group)
        let ctx = BNContext()
        guard EC_POINT_mul(group.ref, r.ref, g?.ref, q?.ref, m?.ref, ctx.ref) == 1 else {
            ERR_clear_error()
            return nil
        }
        return r
    }

    static func add(_ a: ECPointRef, _ b: ECPointRef) -> ECPointRef? {
        let r = ECPointRef(a.group)
        let ctx = BNContext()
        guard EC_POINT_add(a.group.ref, r.ref, a.ref, b.ref, ctx.ref) == 1 else {
            ERR_clear_error()
            return nil
        }
        return r
    }
}

/// OpenSSL's constant-time ECDSA core: s = kinv (e + r d) mod n for the caller's kinv and r,
/// the digest truncated to the order's bit length as FIPS 186-5 requires. Nil when s is zero.
func ecdsaSignatureS(_ group: ECGroup, privateKey d: BigNum, digest: [UInt8], kinv: BigNum, r: BigNum, count: Int) -> [UInt8]? {
    var s = [UInt8](repeating: 0, count: count)
    let ok = digest.withUnsafeBufferPointer { dg in
        s.withUnsafeMutableBufferPointer { out in
            vtpm_ecdsa_sign_given(group.ref, d.ref, dg.baseAddress, dg.count, kinv.ref, r.ref, out.baseAddress, out.count)
        }
    }
    return ok == 1 ? s : nil
}

// MARK: - RSA

/// An RSA key pair inside OpenSSL (EVP_PKEY), for private-key operations: CRT with blinding,
/// constant-time exponentiation, constant-time padding checks. Immutable once built; OpenSSL
/// allows concurrent operations on one EVP_PKEY, each with its own EVP_PKEY_CTX.
final class RSAKeyHandle: @unchecked Sendable {
    private let pkey: OpaquePointer

    /// From the eight components (OpenSSL copies them; the copies are cleared when freed).
    init?(n: BigNum, e: BigNum, d: BigNum, p: BigNum, q: BigNum, dp: BigNum, dq: BigNum, qinv: BigNum) {
        guard let k = vtpm_rsa_keypair(n.ref, e.ref, d.ref, p.ref, q.ref, dp.ref, dq.ref, qinv.ref) else {
            ERR_clear_error()
            return nil
        }
        pkey = k
    }

    deinit { EVP_PKEY_free(pkey) }

    enum Padding {
        case none
        case pkcs1
        case oaep(HashAlgorithm, label: [UInt8])
    }

    /// The private-key operation followed by the padding check (RSADP then EME decoding,
    /// RFC 8017 7.1.2 / 7.2.2). `input` is exactly k octets. Nil on any failure: value out of
    /// range, bad padding, wrong label. With `.none` the result is k octets.
    func decrypt(_ input: [UInt8], padding: Padding) -> [UInt8]? {
        guard let ctx = EVP_PKEY_CTX_new(pkey, nil) else { fatalError("EVP_PKEY_CTX_new: out of memory") }
        defer {
            EVP_PKEY_CTX_free(ctx)
            ERR_clear_error()
        }
        guard EVP_PKEY_decrypt_init(ctx) == 1 else { return nil }
        switch padding {
        case .none:
            guard EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) == 1 else { return nil }
        case .pkcs1:
            guard EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 else { return nil }
            // OpenSSL >= 3.2 would answer bad padding with a random "message" (implicit
            // rejection); the TPM must report the failure, so switch it off where it exists.
            _ = EVP_PKEY_CTX_ctrl_str(ctx, "rsa_pkcs1_implicit_rejection", "0")
        case .oaep(let hash, let label):
            let md = evpMD(hash)
            guard EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1,
                EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) == 1,
                EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1,
                label.withUnsafeBufferPointer({ vtpm_set_oaep_label(ctx, $0.baseAddress, $0.count) }) == 1
            else { return nil }
        }
        var outLen = input.count
        var out = [UInt8](repeating: 0, count: max(outLen, 1))
        let ok = input.withUnsafeBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { o in
                EVP_PKEY_decrypt(ctx, o.baseAddress, &outLen, inp.baseAddress, inp.count)
            }
        }
        guard ok == 1, outLen <= out.count else {
            secureWipe(&out)
            return nil
        }
        let result = Array(out[0..<outLen])
        secureWipe(&out)
        return result
    }
}

private func evpMD(_ h: HashAlgorithm) -> OpaquePointer? {
    switch h {
    case .sha1: return EVP_sha1()
    case .sha256: return EVP_sha256()
    case .sha384: return EVP_sha384()
    case .sha512: return EVP_sha512()
    }
}

// MARK: - AES block function

/// AES-128/192/256 applied block by block (EVP ECB, no padding); the TPM's modes are built on
/// it in AESModes.swift. The key schedules are cleared when the contexts are freed.
final class AESBlockCipher {
    private let enc: OpaquePointer
    private let dec: OpaquePointer

    init?(key: [UInt8]) {
        let cipher: OpaquePointer?
        switch key.count {
        case 16: cipher = EVP_aes_128_ecb()
        case 24: cipher = EVP_aes_192_ecb()
        case 32: cipher = EVP_aes_256_ecb()
        default: return nil
        }
        guard let e = EVP_CIPHER_CTX_new() else { fatalError("EVP_CIPHER_CTX_new: out of memory") }
        guard let d = EVP_CIPHER_CTX_new() else { fatalError("EVP_CIPHER_CTX_new: out of memory") }
        enc = e
        dec = d
        let ok = key.withUnsafeBufferPointer { k in
            EVP_EncryptInit_ex(e, cipher, nil, k.baseAddress, nil) == 1 && EVP_DecryptInit_ex(d, cipher, nil, k.baseAddress, nil) == 1
        }
        guard ok, EVP_CIPHER_CTX_set_padding(e, 0) == 1, EVP_CIPHER_CTX_set_padding(d, 0) == 1 else {
            ERR_clear_error()
            return nil
        }
    }

    deinit {
        EVP_CIPHER_CTX_free(enc)
        EVP_CIPHER_CTX_free(dec)
    }

    /// Encrypts (or decrypts) whole blocks independently; `blocks.count` is a multiple of 16.
    func encrypt(_ blocks: [UInt8]) -> [UInt8] { run(enc, blocks) }
    func decrypt(_ blocks: [UInt8]) -> [UInt8] { run(dec, blocks) }

    private func run(_ ctx: OpaquePointer, _ input: [UInt8]) -> [UInt8] {
        precondition(input.count % 16 == 0 && input.count <= Int(Int32.max) - 16, "AES block input")
        if input.isEmpty { return [] }
        var out = [UInt8](repeating: 0, count: input.count + 16)
        var outLen: Int32 = 0
        let ok = input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                EVP_CipherUpdate(ctx, o.baseAddress, &outLen, i.baseAddress, Int32(i.count))
            }
        }
        precondition(ok == 1 && Int(outLen) == input.count, "EVP_CipherUpdate failed")
        out.removeLast(16)
        return out
    }
}

// MARK: - Wiping

/// Overwrites an array's storage with zeros in a way the optimizer keeps (OPENSSL_cleanse).
/// For secrets held in arrays this module owns (candidate primes, scalars, decrypted blocks).
func secureWipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { b in
        if let base = b.baseAddress { OPENSSL_cleanse(base, b.count) }
    }
}

/// Octets from an even-length hex string of compiled-in constants.
private func hexBytes(_ hex: String) -> [UInt8] {
    let c = Array(hex.utf8)
    precondition(c.count % 2 == 0, "odd hex")
    func nibble(_ x: UInt8) -> UInt8 { x <= 0x39 ? x - 0x30 : (x | 0x20) - 0x57 }
    return stride(from: 0, to: c.count, by: 2).map { nibble(c[$0]) << 4 | nibble(c[$0 + 1]) }
}
