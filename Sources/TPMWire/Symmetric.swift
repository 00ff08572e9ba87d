// Symmetric-algorithm interface types and buffers (Part 2, 11.1): the mode a
// TPM2_EncryptDecrypt asks for, the IV and key buffers, and TPMT_SYM_DEF, the symmetric
// definition of an authorization session (which, unlike TPMT_SYM_DEF_OBJECT, may be XOR).

public enum IVBound: TPM2BBound { public static var maxSize: Int { TPMLimits.maxSymBlockSize } }
public enum SymKeyBound: TPM2BBound { public static var maxSize: Int { TPMLimits.maxSymKeyBytes } }

/// TPM2B_IV (Part 2): at most MAX_SYM_BLOCK_SIZE octets.
public typealias TPM2BIV = TPM2B<IVBound>
/// TPM2B_SYM_KEY (Part 2): at most MAX_SYM_KEY_BYTES octets.
public typealias TPM2BSymKey = TPM2B<SymKeyBound>

extension TPMAlgorithmSupport {
    /// TPMI_ALG_SYM (Part 2, 9): the block ciphers and XOR; TPM_RC_SYMMETRIC.
    public static let symAlgorithms: [TPMAlgID] = symObjects + [.xor]
}

/// TPMI_ALG_SYM_MODE (Part 2, 9): an implemented block-cipher mode, or TPM_ALG_NULL where the
/// "+" form is used (TPM2_EncryptDecrypt's mode: NULL takes the key's mode). Anything else is
/// TPM_RC_MODE.
public struct TPMIAlgSymMode: Hashable, Sendable, TPMEncodable {
    public var alg: TPMAlgID
    public init(_ alg: TPMAlgID) { self.alg = alg }
    public init(from r: inout TPMReader, allowNull: Bool, support: TPMAlgorithmSupport) throws {
        alg = try support.algorithm(from: &r, members: TPMAlgorithmSupport.symModes, allowNull: allowNull, error: .mode)
    }
    public func encode(to w: inout TPMWriter) { w.u16(alg.rawValue) }
}

/// TPMT_SYM_DEF (11.1): TPMI_ALG_SYM (TPM_RC_SYMMETRIC), then TPMU_SYM_KEY_BITS and
/// TPMU_SYM_MODE as the algorithm selects. For AES the key size is a TPMI_AES_KEY_BITS
/// (TPM_RC_VALUE) and the mode a TPMI_ALG_SYM_MODE+; for XOR the "key bits" member is a
/// TPMI_ALG_HASH without NULL (TPM_RC_HASH) and there is no mode; NULL has neither.
public enum TPMTSymDef: Hashable, Sendable, TPMEncodable {
    case null
    case aes(keyBits: UInt16, mode: TPMAlgID)
    case xor(hashAlg: TPMAlgID)

    public var algorithm: TPMAlgID {
        switch self {
        case .null: return .null
        case .aes: return .aes
        case .xor: return .xor
        }
    }

    public init(from r: inout TPMReader, allowNull: Bool, support: TPMAlgorithmSupport) throws {
        let alg = try support.algorithm(
            from: &r, members: TPMAlgorithmSupport.symAlgorithms, allowNull: allowNull, error: .symmetric)
        switch alg {
        case .null: self = .null
        case .xor: self = .xor(hashAlg: try TPMIAlgHash(from: &r, allowNull: false).alg)
        case .aes:
            let bits = try r.u16()
            guard support.aesKeyBits.contains(bits) else { throw TPMError.value }
            self = .aes(keyBits: bits, mode: try TPMIAlgSymMode(from: &r, allowNull: true, support: support).alg)
        default:
            // An implemented TPMI_ALG_SYM member without a union member here.
            throw TPMError(.selector)
        }
    }

    public func encode(to w: inout TPMWriter) {
        w.u16(algorithm.rawValue)
        switch self {
        case .null: break
        case .aes(let bits, let mode):
            w.u16(bits)
            w.u16(mode.rawValue)
        case .xor(let h): w.u16(h.rawValue)
        }
    }
}
