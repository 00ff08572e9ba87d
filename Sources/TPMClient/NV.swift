import TPMWire

/// The NV index of the RSA 2048 EK certificate (TCG EK Credential Profile 2.4, 2.2.1.4) and of
/// the ECC P-256 one.
public enum EKCertificateIndex {
    public static let rsa2048 = TPMHandle(0x01C0_0002)
    public static let eccP256 = TPMHandle(0x01C0_000A)
}

/// The public part of an NV index (TPMS_NV_PUBLIC, Part 2, 13.5) as far as a reader needs it.
public struct NVPublicInfo: Hashable, Sendable {
    public var index: TPMHandle
    public var nameAlg: TPMAlgID
    public var attributes: UInt32
    public var dataSize: Int
    public var name: [UInt8]

    /// TPMA_NV_AUTHREAD (bit 18): the index's own authValue authorizes reads.
    public var authRead: Bool { attributes & (1 << 18) != 0 }
    /// TPMA_NV_OWNERREAD (bit 17).
    public var ownerRead: Bool { attributes & (1 << 17) != 0 }
}

extension TPMClient {
    /// TPM2_NV_ReadPublic (Part 3, 31.6).
    public func nvReadPublic(_ index: TPMHandle) throws(TPMClientError) -> NVPublicInfo {
        let r = try execute(TPMCommand(.nvReadPublic, handles: [index]))
        return try decode(r, .nvReadPublic) { reader in
            var pub = try reader.subReader(Int(try reader.u16()))
            let idx = TPMHandle(try pub.u32())
            let nameAlg = TPMAlgID(try pub.u16())
            let attributes = try pub.u32()
            _ = try pub.sized(max: TPMLimits.maxDigestSize)
            let size = Int(try pub.u16())
            guard pub.isAtEnd else { throw TPMError.size }
            let name = try reader.sized(max: TPMLimits.maxNameSize)
            return NVPublicInfo(index: idx, nameAlg: nameAlg, attributes: attributes, dataSize: size, name: name)
        }
    }

    /// Reads a whole NV index with TPM2_NV_Read (Part 3, 31.13), in chunks of TPM_PT_NV_BUFFER_MAX,
    /// authorized by the index itself (TPMA_NV_AUTHREAD) or else by the owner, empty passwords.
    public func nvReadAll(_ index: TPMHandle, auth: [UInt8] = []) throws(TPMClientError) -> [UInt8] {
        let info = try nvReadPublic(index)
        let authHandle: TPMHandle = info.authRead ? index : .owner
        let chunk = Int(try property(.nvBufferMax) ?? 512)
        guard chunk > 0 else { throw .unsupported("TPM_PT_NV_BUFFER_MAX is 0") }
        var data: [UInt8] = []
        while data.count < info.dataSize {
            let n = min(chunk, info.dataSize - data.count)
            var w = TPMWriter()
            w.u16(UInt16(n))
            w.u16(UInt16(data.count))
            let r = try execute(
                TPMCommand(.nvRead, handles: [authHandle, index], authorizations: [.password(auth)], parameters: w.bytes))
            let part = try decode(r, .nvRead) { try $0.sized(max: chunk) }
            guard part.count == n else { throw .malformedResponse(.nvRead, "asked \(n) octets, got \(part.count)") }
            data += part
        }
        return data
    }
}
