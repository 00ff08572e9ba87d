import TPMWire
import XCTest

// Helpers shared by the object-structure tests (Public, Sensitive, Signature, Attest...).

/// Hex (whitespace ignored) to octets.
func hexBytes(_ s: String) -> [UInt8] {
    let d = Array(s.filter { !$0.isWhitespace }.utf8)
    return stride(from: 0, to: d.count - 1, by: 2).map { UInt8(String(decoding: d[$0...$0 + 1], as: UTF8.self), radix: 16)! }
}

/// The engine's algorithm profile (restated: TPMWire cannot see the engine's table).
let objectSupport = TPMAlgorithmSupport(
    algorithms: [
        .rsa, .sha1, .hmac, .aes, .mgf1, .keyedHash, .xor, .sha256, .sha384, .sha512, .rsassa, .rsaes, .rsapss, .oaep,
        .ecdsa, .ecdh, .ecschnorr, .kdf1SP800_56A, .kdf1SP800_108, .ecc, .symCipher, .ctr, .ofb, .cbc, .cfb, .ecb,
    ],
    rsaKeyBits: [1024, 2048, 3072, 4096], aesKeyBits: [128, 192, 256], eccCurves: [.nistP256, .nistP384, .nistP521])

/// The same profile with ECDAA and SM2 added, for vectors that use them.
let objectSupportWithECDAA: TPMAlgorithmSupport = {
    var s = objectSupport
    s.algorithms.formUnion([.ecdaa, .sm2])
    return s
}()

/// Decodes all of `bytes` with `decode`; octets left over are TPM_RC_SIZE.
func decodeAll<T>(_ bytes: [UInt8], _ decode: (inout TPMReader) throws -> T) throws -> T {
    var r = TPMReader(bytes)
    let v = try decode(&r)
    guard r.isAtEnd else { throw TPMError.size }
    return v
}

/// The code `body` throws; nil when it succeeds; 0xFFFFFFFF for an error that is not a TPMError.
func thrownRC(_ body: () throws -> Void) -> TPMRC? {
    do {
        try body()
        return nil
    } catch let e as TPMError {
        return e.rc
    } catch {
        return TPMRC(0xFFFF_FFFF)
    }
}

/// The code decoding `bytes` exactly gives.
func decodeRC<T>(_ bytes: [UInt8], _ decode: (inout TPMReader) throws -> T) -> TPMRC? {
    thrownRC { _ = try decodeAll(bytes, decode) }
}

/// Asserts every proper prefix of `bytes` fails with TPM_RC_INSUFFICIENT.
func assertEveryTruncationIsInsufficient<T>(
    _ bytes: [UInt8], _ what: String, file: StaticString = #filePath, line: UInt = #line,
    _ decode: (inout TPMReader) throws -> T
) {
    for n in 0..<bytes.count {
        let rc = decodeRC(Array(bytes.prefix(n)), decode)
        if rc != .insufficient {
            XCTFail("\(what): cut at \(n) of \(bytes.count) gave \(String(describing: rc))", file: file, line: line)
            return
        }
    }
}

/// SplitMix64: a seeded generator, so a failing property case can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
