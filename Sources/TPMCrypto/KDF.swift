internal import COpenSSL

/// KDFa (Part 1, 11.4.10.2): SP 800-108 KDF in counter mode with HMAC as the PRF.
/// K(i) = HMAC(key, [i]32 || label || 0x00 || contextU || contextV || [bits]32); the
/// result is the first `bits` bits, the unused high bits of the first octet cleared.
/// `label` is given without its terminating zero; one 0x00 always follows it (the spec's
/// "if the label is not null-terminated a zero is added").
public func kdfa(
    _ alg: HashAlgorithm, key: [UInt8], label: String, contextU: [UInt8], contextV: [UInt8], bits: Int
) -> [UInt8] {
    guard bits > 0 else { return [] }
    let bytesNeeded = (bits + 7) / 8
    var labelBytes = Array(label.utf8)
    if labelBytes.last != 0 { labelBytes.append(0) }
    var out: [UInt8] = []
    out.reserveCapacity(bytesNeeded + alg.digestSize)
    // The HMAC key is set up once; each block continues from a copy of that state.
    let prf = KeyedPRF(alg, key: key)
    var counter: UInt32 = 1
    let bitsBE = be32(UInt32(bits))
    while out.count < bytesNeeded {
        out += prf.mac([be32(counter), labelBytes, contextU, contextV, bitsBE])
        counter &+= 1
    }
    out.removeLast(out.count - bytesNeeded)
    if bits % 8 != 0 { out[0] &= UInt8((1 << (bits % 8)) - 1) }
    return out
}

@inline(__always) func be32(_ v: UInt32) -> [UInt8] {
    [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
}

/// HMAC (RFC 2104) with a key set up once (the inner and outer pads hashed a single time) for
/// several messages, as KDFa's blocks and the DRBG's steps are. OpenSSL's SHA functions on
/// contexts held in this value (Sources/COpenSSL/shim.h): key derivation calls this for every
/// prime candidate and the engine for every session HMAC, where generic layers and
/// allocations had cost more than the hashing.
struct KeyedPRF {
    private var key = vtpm_hmac_key()
    let algorithm: HashAlgorithm

    init(_ alg: HashAlgorithm, key k: [UInt8]) {
        self = k.withUnsafeBytes { KeyedPRF(alg, key: $0) }
    }

    init(_ alg: HashAlgorithm, key k: UnsafeRawBufferPointer) {
        algorithm = alg
        let ok = vtpm_hmac_key_init(&key, UInt32(alg.rawValue), k.baseAddress?.assumingMemoryBound(to: UInt8.self), k.count)
        precondition(ok == 1, "vtpm_hmac_key_init: every HashAlgorithm is known")
    }

    /// HMAC(key, message).
    func mac(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        var inner = start()
        vtpm_hash_update(&inner, message.baseAddress, message.count)
        return finish(&inner)
    }

    /// HMAC(key, the concatenation of `parts`).
    func mac(_ parts: [[UInt8]]) -> [UInt8] {
        var inner = start()
        for p in parts { p.withUnsafeBytes { vtpm_hash_update(&inner, $0.baseAddress, $0.count) } }
        return finish(&inner)
    }

    /// HMAC(key, message) of an array.
    func mac(_ message: [UInt8]) -> [UInt8] { message.withUnsafeBytes { mac($0) } }

    /// The inner hash with the key's pad absorbed: what `finish` completes.
    func start() -> vtpm_hash_ctx {
        var inner = vtpm_hash_ctx()
        withUnsafePointer(to: key) { vtpm_hmac_start($0, &inner) }
        return inner
    }

    /// buffer = HMAC(key, buffer), for a buffer of the digest's size (HMAC_DRBG's V): no new
    /// array when `buffer` is uniquely held.
    func macInPlace(_ buffer: inout [UInt8]) {
        var inner = start()
        buffer.withUnsafeBytes { vtpm_hash_update(&inner, $0.baseAddress, $0.count) }
        finish(&inner, into: &buffer)
    }

    func finish(_ inner: inout vtpm_hash_ctx, into out: inout [UInt8]) {
        precondition(out.count == algorithm.digestSize)
        out.withUnsafeMutableBytes { o in
            withUnsafePointer(to: key) { vtpm_hmac_finish($0, &inner, o.baseAddress?.assumingMemoryBound(to: UInt8.self)) }
        }
    }

    func finish(_ inner: inout vtpm_hash_ctx) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: algorithm.digestSize) { out, count in
            withUnsafePointer(to: key) { vtpm_hmac_finish($0, &inner, out.baseAddress) }
            count = algorithm.digestSize
        }
    }
}

/// HMAC over a message given in pieces, without building the concatenation (the session
/// HMACs of Part 1, 19.6, are a handful of nonces and digests: arrays of arrays cost more than
/// the hashing).
public struct HMACStream {
    private let prf: KeyedPRF
    private var inner: vtpm_hash_ctx

    public init(_ alg: HashAlgorithm, key: [UInt8]) {
        prf = KeyedPRF(alg, key: key)
        inner = prf.start()
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { vtpm_hash_update(&inner, $0.baseAddress, $0.count) }
    }

    public mutating func update(byte: UInt8) {
        var b = byte
        vtpm_hash_update(&inner, &b, 1)
    }

    /// The MAC; the stream is spent.
    public mutating func finalize() -> [UInt8] { prf.finish(&inner) }

    /// The MAC written over `out` (of the digest's size); the stream is spent.
    mutating func finalize(into out: inout [UInt8]) { prf.finish(&inner, into: &out) }
}
