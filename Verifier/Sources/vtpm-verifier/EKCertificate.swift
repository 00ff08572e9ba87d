import Attestation
import CX509
import TPMWire

/// The EK certificate check of enrollment (issue 7, 3): the certificate must chain to one of the
/// configured roots (a PEM bundle; every certificate in it is a trust anchor, so an issuing CA
/// may be given alone) and certify exactly the EK the agent presented. OpenSSL does the path
/// validation (signatures, validity, basic constraints, critical extensions it knows, such as
/// the TCG profile's critical subjectAltName).
enum EKCertificate {
    static let maxSize = 16 * 1024

    static func verify(certificateDER der: [UInt8], trustPEM: [UInt8], ek: TPMPublicKey) throws {
        guard !der.isEmpty, der.count <= maxSize else { throw CLIError("EK certificate: \(der.count) bytes") }
        ERR_clear_error()
        defer { ERR_clear_error() }
        let cert: OpaquePointer? = der.withUnsafeBufferPointer { buf in
            var p: UnsafePointer<UInt8>? = buf.baseAddress
            return d2i_X509(nil, &p, buf.count)
        }
        guard let cert else { throw CLIError("EK certificate: not DER X.509") }
        defer { X509_free(cert) }

        guard let store = X509_STORE_new() else { throw CLIError("out of memory") }
        defer { X509_STORE_free(store) }
        var anchors = 0
        try trustPEM.withUnsafeBufferPointer { buf in
            guard let bio = BIO_new_mem_buf(buf.baseAddress, Int32(buf.count)) else { throw CLIError("out of memory") }
            defer { BIO_free(bio) }
            while let x = PEM_read_bio_X509(bio, nil, nil, nil) {
                X509_STORE_add_cert(store, x)
                X509_free(x)
                anchors += 1
            }
        }
        ERR_clear_error()
        guard anchors > 0 else { throw CLIError("--ek-ca: no PEM certificate in the file") }

        guard let ctx = X509_STORE_CTX_new() else { throw CLIError("out of memory") }
        defer { X509_STORE_CTX_free(ctx) }
        guard X509_STORE_CTX_init(ctx, store, cert, nil) == 1 else { throw CLIError("X509_STORE_CTX_init failed") }
        X509_STORE_CTX_set_flags(ctx, UInt(X509_V_FLAG_PARTIAL_CHAIN))
        guard X509_verify_cert(ctx) == 1 else {
            let e = X509_STORE_CTX_get_error(ctx)
            throw CLIError("EK certificate does not chain to --ek-ca: \(String(cString: X509_verify_cert_error_string(Int(e))))")
        }

        guard let pkey = X509_get0_pubkey(cert) else { throw CLIError("EK certificate: no public key") }
        switch ek.publicArea.unique {
        case .rsa(let n):
            guard case .rsa(let parms) = ek.publicArea.parameters else { throw CLIError("EK: RSA key without RSA parameters") }
            let certN = try bignumParam(pkey, "n")
            let certE = try bignumParam(pkey, "e")
            let e = parms.exponent == 0 ? 65537 : parms.exponent
            guard stripZeros(certN) == stripZeros(n.buffer), stripZeros(certE) == stripZeros(be32Bytes(e)) else {
                throw CLIError("the EK certificate certifies another key than the agent's EK")
            }
        case .ecc(let q):
            var buf = [UInt8](repeating: 0, count: 1 + 2 * 66)
            var len = 0
            guard EVP_PKEY_get_octet_string_param(pkey, "encoded-pub-key", &buf, buf.count, &len) == 1, len > 1, buf[0] == 4 else {
                throw CLIError("the EK certificate's key is not an uncompressed EC point")
            }
            let size = (len - 1) / 2
            func pad(_ b: [UInt8]) -> [UInt8] { [UInt8](repeating: 0, count: max(0, size - b.count)) + b }
            guard Array(buf[1..<(1 + size)]) == pad(q.x.buffer), Array(buf[(1 + size)..<len]) == pad(q.y.buffer) else {
                throw CLIError("the EK certificate certifies another key than the agent's EK")
            }
        default:
            throw CLIError("EK type not supported")
        }
    }

    private static func bignumParam(_ pkey: OpaquePointer, _ name: String) throws -> [UInt8] {
        var bn: OpaquePointer?
        guard EVP_PKEY_get_bn_param(pkey, name, &bn) == 1, let bn else { throw CLIError("the EK certificate's key is not RSA") }
        defer { BN_free(bn) }
        var out = [UInt8](repeating: 0, count: Int((BN_num_bits(bn) + 7) / 8))
        _ = BN_bn2bin(bn, &out)
        return out
    }

    private static func stripZeros(_ b: [UInt8]) -> ArraySlice<UInt8> { b.drop { $0 == 0 } }
    private static func be32Bytes(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }
}
