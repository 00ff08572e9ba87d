/// An incremental SHA-1/SHA-2 whose whole state can be exported and imported, so a hash
/// sequence survives ContextSave/ContextLoad and an instance's volatile-state export.
/// swift-crypto keeps its state opaque; this is a plain FIPS 180-4 implementation, checked
/// against swift-crypto and NIST vectors in the tests. One-shot hashing uses swift-crypto.
public struct ExportableHasher: Sendable, Equatable {
    public let algorithm: HashAlgorithm
    private var h32: [UInt32] = []
    private var h64: [UInt64] = []
    private var buffer: [UInt8] = []
    private var length: UInt64 = 0  // bytes hashed so far (< 2^61 in any real use)

    public init(_ alg: HashAlgorithm) {
        algorithm = alg
        switch alg {
        case .sha1: h32 = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
        case .sha256:
            h32 = [0x6A09_E667, 0xBB67_AE85, 0x3C6E_F372, 0xA54F_F53A, 0x510E_527F, 0x9B05_688C, 0x1F83_D9AB, 0x5BE0_CD19]
        case .sha384:
            h64 = [
                0xCBBB_9D5D_C105_9ED8, 0x629A_292A_367C_D507, 0x9159_015A_3070_DD17, 0x152F_ECD8_F70E_5939,
                0x6733_2667_FFC0_0B31, 0x8EB4_4A87_6858_1511, 0xDB0C_2E0D_64F9_8FA7, 0x47B5_481D_BEFA_4FA4,
            ]
        case .sha512:
            h64 = [
                0x6A09_E667_F3BC_C908, 0xBB67_AE85_84CA_A73B, 0x3C6E_F372_FE94_F82B, 0xA54F_F53A_5F1D_36F1,
                0x510E_527F_ADE6_82D1, 0x9B05_688C_2B3E_6C1F, 0x1F83_D9AB_FB41_BD6B, 0x5BE0_CD19_137E_2179,
            ]
        }
        buffer.reserveCapacity(alg.blockSize)
    }

    public mutating func update(_ data: [UInt8]) {
        let bs = algorithm.blockSize
        length &+= UInt64(data.count)
        var i = 0
        if !buffer.isEmpty {
            let take = min(bs - buffer.count, data.count)
            buffer += data[0..<take]
            i = take
            if buffer.count == bs {
                compress(buffer, 0)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        while data.count - i >= bs {
            compress(data, i)
            i += bs
        }
        if i < data.count { buffer += data[i...] }
    }

    public func finalize() -> [UInt8] {
        var copy = self
        let bs = algorithm.blockSize
        let lenField = bs == 64 ? 8 : 16
        var pad: [UInt8] = [0x80]
        let used = (buffer.count + 1) % bs
        let zeros = used <= bs - lenField ? bs - lenField - used : bs - used + bs - lenField
        pad += [UInt8](repeating: 0, count: zeros)
        let bits = length << 3
        if lenField == 16 { pad += [UInt8](repeating: 0, count: 8) }
        for s in stride(from: 56, through: 0, by: -8) { pad.append(UInt8(truncatingIfNeeded: bits >> UInt64(s))) }
        let savedLength = copy.length
        copy.update(pad)
        copy.length = savedLength
        var out: [UInt8] = []
        switch algorithm {
        case .sha1, .sha256:
            for w in copy.h32 { for s in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: w >> UInt32(s))) } }
        case .sha384, .sha512:
            for w in copy.h64 { for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: w >> UInt64(s))) } }
        }
        return Array(out.prefix(algorithm.digestSize))
    }

    // MARK: export

    /// alg(2) || length(8) || chaining words || buffered bytes(1 + n).
    public var exportedState: [UInt8] {
        var out: [UInt8] = [UInt8(algorithm.rawValue >> 8), UInt8(truncatingIfNeeded: algorithm.rawValue)]
        for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: length >> UInt64(s))) }
        for w in h32 { for s in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: w >> UInt32(s))) } }
        for w in h64 { for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: w >> UInt64(s))) } }
        out.append(UInt8(buffer.count))
        out += buffer
        return out
    }

    /// Rebuilds a hasher from `exportedState`; nil for anything malformed.
    public init?(exportedState s: [UInt8]) {
        guard s.count >= 2, let alg = HashAlgorithm(rawValue: UInt16(s[0]) << 8 | UInt16(s[1])) else { return nil }
        self.init(alg)
        let words = alg.blockSize == 64 ? (alg == .sha1 ? 5 : 8) : 8
        let wordSize = alg.blockSize == 64 ? 4 : 8
        let fixed = 2 + 8 + words * wordSize
        guard s.count >= fixed + 1 else { return nil }
        length = s[2..<10].reduce(0) { $0 << 8 | UInt64($1) }
        var o = 10
        if wordSize == 4 {
            h32 = (0..<words).map { i in s[o + 4 * i..<o + 4 * i + 4].reduce(0) { $0 << 8 | UInt32($1) } }
        } else {
            h64 = (0..<words).map { i in s[o + 8 * i..<o + 8 * i + 8].reduce(0) { $0 << 8 | UInt64($1) } }
        }
        o = fixed
        let n = Int(s[o])
        guard n < alg.blockSize, s.count == o + 1 + n, UInt64(n) == length % UInt64(alg.blockSize) else { return nil }
        buffer = Array(s[(o + 1)...])
    }

    // MARK: compression functions (FIPS 180-4, 6.1.2, 6.2.2, 6.4.2)

    private mutating func compress(_ d: [UInt8], _ off: Int) {
        switch algorithm {
        case .sha1: sha1Block(d, off)
        case .sha256: sha256Block(d, off)
        case .sha384, .sha512: sha512Block(d, off)
        }
    }

    private mutating func sha1Block(_ d: [UInt8], _ off: Int) {
        var w = [UInt32](repeating: 0, count: 80)
        for t in 0..<16 {
            let b = off + 4 * t
            w[t] = UInt32(d[b]) << 24 | UInt32(d[b + 1]) << 16 | UInt32(d[b + 2]) << 8 | UInt32(d[b + 3])
        }
        for t in 16..<80 { w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1) }
        var a = h32[0]
        var b = h32[1]
        var c = h32[2]
        var dd = h32[3]
        var e = h32[4]
        for t in 0..<80 {
            let f: UInt32
            let k: UInt32
            switch t {
            case 0..<20:
                f = (b & c) | (~b & dd)
                k = 0x5A82_7999
            case 20..<40:
                f = b ^ c ^ dd
                k = 0x6ED9_EBA1
            case 40..<60:
                f = (b & c) | (b & dd) | (c & dd)
                k = 0x8F1B_BCDC
            default:
                f = b ^ c ^ dd
                k = 0xCA62_C1D6
            }
            let tmp = rotl(a, 5) &+ f &+ e &+ k &+ w[t]
            e = dd
            dd = c
            c = rotl(b, 30)
            b = a
            a = tmp
        }
        h32[0] &+= a
        h32[1] &+= b
        h32[2] &+= c
        h32[3] &+= dd
        h32[4] &+= e
    }

    private mutating func sha256Block(_ d: [UInt8], _ off: Int) {
        var w = [UInt32](repeating: 0, count: 64)
        for t in 0..<16 {
            let b = off + 4 * t
            w[t] = UInt32(d[b]) << 24 | UInt32(d[b + 1]) << 16 | UInt32(d[b + 2]) << 8 | UInt32(d[b + 3])
        }
        for t in 16..<64 {
            let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
            let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
            w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
        }
        var a = h32[0]
        var b = h32[1]
        var c = h32[2]
        var dd = h32[3]
        var e = h32[4]
        var f = h32[5]
        var g = h32[6]
        var h = h32[7]
        for t in 0..<64 {
            let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
            let ch = (e & f) ^ (~e & g)
            let t1 = h &+ s1 &+ ch &+ ExportableHasher.k256[t] &+ w[t]
            let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
            let maj = (a & b) ^ (a & c) ^ (b & c)
            let t2 = s0 &+ maj
            h = g
            g = f
            f = e
            e = dd &+ t1
            dd = c
            c = b
            b = a
            a = t1 &+ t2
        }
        h32[0] &+= a
        h32[1] &+= b
        h32[2] &+= c
        h32[3] &+= dd
        h32[4] &+= e
        h32[5] &+= f
        h32[6] &+= g
        h32[7] &+= h
    }

    private mutating func sha512Block(_ d: [UInt8], _ off: Int) {
        var w = [UInt64](repeating: 0, count: 80)
        for t in 0..<16 {
            var v: UInt64 = 0
            for i in 0..<8 { v = v << 8 | UInt64(d[off + 8 * t + i]) }
            w[t] = v
        }
        for t in 16..<80 {
            let s0 = rotr(w[t - 15], 1) ^ rotr(w[t - 15], 8) ^ (w[t - 15] >> 7)
            let s1 = rotr(w[t - 2], 19) ^ rotr(w[t - 2], 61) ^ (w[t - 2] >> 6)
            w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
        }
        var a = h64[0]
        var b = h64[1]
        var c = h64[2]
        var dd = h64[3]
        var e = h64[4]
        var f = h64[5]
        var g = h64[6]
        var h = h64[7]
        for t in 0..<80 {
            let s1 = rotr(e, 14) ^ rotr(e, 18) ^ rotr(e, 41)
            let ch = (e & f) ^ (~e & g)
            let t1 = h &+ s1 &+ ch &+ ExportableHasher.k512[t] &+ w[t]
            let s0 = rotr(a, 28) ^ rotr(a, 34) ^ rotr(a, 39)
            let maj = (a & b) ^ (a & c) ^ (b & c)
            let t2 = s0 &+ maj
            h = g
            g = f
            f = e
            e = dd &+ t1
            dd = c
            c = b
            b = a
            a = t1 &+ t2
        }
        h64[0] &+= a
        h64[1] &+= b
        h64[2] &+= c
        h64[3] &+= dd
        h64[4] &+= e
        h64[5] &+= f
        h64[6] &+= g
        h64[7] &+= h
    }

    private static let k256: [UInt32] = [
        0x428A_2F98, 0x7137_4491, 0xB5C0_FBCF, 0xE9B5_DBA5, 0x3956_C25B, 0x59F1_11F1, 0x923F_82A4, 0xAB1C_5ED5,
        0xD807_AA98, 0x1283_5B01, 0x2431_85BE, 0x550C_7DC3, 0x72BE_5D74, 0x80DE_B1FE, 0x9BDC_06A7, 0xC19B_F174,
        0xE49B_69C1, 0xEFBE_4786, 0x0FC1_9DC6, 0x240C_A1CC, 0x2DE9_2C6F, 0x4A74_84AA, 0x5CB0_A9DC, 0x76F9_88DA,
        0x983E_5152, 0xA831_C66D, 0xB003_27C8, 0xBF59_7FC7, 0xC6E0_0BF3, 0xD5A7_9147, 0x06CA_6351, 0x1429_2967,
        0x27B7_0A85, 0x2E1B_2138, 0x4D2C_6DFC, 0x5338_0D13, 0x650A_7354, 0x766A_0ABB, 0x81C2_C92E, 0x9272_2C85,
        0xA2BF_E8A1, 0xA81A_664B, 0xC24B_8B70, 0xC76C_51A3, 0xD192_E819, 0xD699_0624, 0xF40E_3585, 0x106A_A070,
        0x19A4_C116, 0x1E37_6C08, 0x2748_774C, 0x34B0_BCB5, 0x391C_0CB3, 0x4ED8_AA4A, 0x5B9C_CA4F, 0x682E_6FF3,
        0x748F_82EE, 0x78A5_636F, 0x84C8_7814, 0x8CC7_0208, 0x90BE_FFFA, 0xA450_6CEB, 0xBEF9_A3F7, 0xC671_78F2,
    ]

    private static let k512: [UInt64] = [
        0x428A_2F98_D728_AE22, 0x7137_4491_23EF_65CD, 0xB5C0_FBCF_EC4D_3B2F, 0xE9B5_DBA5_8189_DBBC,
        0x3956_C25B_F348_B538, 0x59F1_11F1_B605_D019, 0x923F_82A4_AF19_4F9B, 0xAB1C_5ED5_DA6D_8118,
        0xD807_AA98_A303_0242, 0x1283_5B01_4570_6FBE, 0x2431_85BE_4EE4_B28C, 0x550C_7DC3_D5FF_B4E2,
        0x72BE_5D74_F27B_896F, 0x80DE_B1FE_3B16_96B1, 0x9BDC_06A7_25C7_1235, 0xC19B_F174_CF69_2694,
        0xE49B_69C1_9EF1_4AD2, 0xEFBE_4786_384F_25E3, 0x0FC1_9DC6_8B8C_D5B5, 0x240C_A1CC_77AC_9C65,
        0x2DE9_2C6F_592B_0275, 0x4A74_84AA_6EA6_E483, 0x5CB0_A9DC_BD41_FBD4, 0x76F9_88DA_8311_53B5,
        0x983E_5152_EE66_DFAB, 0xA831_C66D_2DB4_3210, 0xB003_27C8_98FB_213F, 0xBF59_7FC7_BEEF_0EE4,
        0xC6E0_0BF3_3DA8_8FC2, 0xD5A7_9147_930A_A725, 0x06CA_6351_E003_826F, 0x1429_2967_0A0E_6E70,
        0x27B7_0A85_46D2_2FFC, 0x2E1B_2138_5C26_C926, 0x4D2C_6DFC_5AC4_2AED, 0x5338_0D13_9D95_B3DF,
        0x650A_7354_8BAF_63DE, 0x766A_0ABB_3C77_B2A8, 0x81C2_C92E_47ED_AEE6, 0x9272_2C85_1482_353B,
        0xA2BF_E8A1_4CF1_0364, 0xA81A_664B_BC42_3001, 0xC24B_8B70_D0F8_9791, 0xC76C_51A3_0654_BE30,
        0xD192_E819_D6EF_5218, 0xD699_0624_5565_A910, 0xF40E_3585_5771_202A, 0x106A_A070_32BB_D1B8,
        0x19A4_C116_B8D2_D0C8, 0x1E37_6C08_5141_AB53, 0x2748_774C_DF8E_EB99, 0x34B0_BCB5_E19B_48A8,
        0x391C_0CB3_C5C9_5A63, 0x4ED8_AA4A_E341_8ACB, 0x5B9C_CA4F_7763_E373, 0x682E_6FF3_D6B2_B8A3,
        0x748F_82EE_5DEF_B2FC, 0x78A5_636F_4317_2F60, 0x84C8_7814_A1F0_AB72, 0x8CC7_0208_1A64_39EC,
        0x90BE_FFFA_2363_1E28, 0xA450_6CEB_DE82_BDE9, 0xBEF9_A3F7_B2C6_7915, 0xC671_78F2_E372_532B,
        0xCA27_3ECE_EA26_619C, 0xD186_B8C7_21C0_C207, 0xEADA_7DD6_CDE0_EB1E, 0xF57D_4F7F_EE6E_D178,
        0x06F0_67AA_7217_6FBA, 0x0A63_7DC5_A2C8_98A6, 0x113F_9804_BEF9_0DAE, 0x1B71_0B35_131C_471B,
        0x28DB_77F5_2304_7D84, 0x32CA_AB7B_40C7_2493, 0x3C9E_BE0A_15C9_BEBC, 0x431D_67C4_9C10_0D4C,
        0x4CC5_D4BE_CB3E_42B6, 0x597F_299C_FC65_7E2A, 0x5FCB_6FAB_3AD6_FAEC, 0x6C44_198C_4A47_5817,
    ]
}

@inline(__always) private func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 - n)) }
@inline(__always) private func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
@inline(__always) private func rotr(_ x: UInt64, _ n: UInt64) -> UInt64 { (x >> n) | (x << (64 - n)) }
