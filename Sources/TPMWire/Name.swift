// Names (Part 1, 16; TPM2B_NAME in Part 2, 10.5.3). An object's Name is its nameAlg followed by
// the nameAlg digest of its marshalled TPMT_PUBLIC; its Qualified Name chains the parent's
// Qualified Name the same way. TPMWire has no crypto: the caller supplies the hash.

public enum NameBound: TPM2BBound { public static var maxSize: Int { TPMLimits.maxNameSize } }

/// TPM2B_NAME: at most sizeof(TPMU_NAME) octets (a TPMT_HA or a handle).
public typealias TPM2BName = TPM2B<NameBound>

/// Computes the digest of `data` with the hash algorithm `alg`.
public typealias TPMHashFunction = (_ alg: TPMAlgID, _ data: [UInt8]) throws -> [UInt8]

extension TPMTPublic {
    /// What the Name digests: the canonical marshalling of this public area. Decoding is exact,
    /// so for a decoded public area these are the octets that arrived.
    public var nameDigestInput: [UInt8] { wireBytes }

    /// The object's Name: nameAlg || H_nameAlg(TPMT_PUBLIC). An object whose nameAlg is
    /// TPM_ALG_NULL has no Name: the Empty Buffer (what the reference implementation returns
    /// for a public key loaded with a NULL nameAlg).
    public func name(hash: TPMHashFunction) rethrows -> TPM2BName {
        guard nameAlg != .null else { return TPM2BName() }
        var w = TPMWriter()
        w.u16(nameAlg.rawValue)
        w.bytes(try hash(nameAlg, nameDigestInput))
        return TPM2BName(w.bytes)
    }
}

/// A Qualified Name (Part 1, 16): nameAlg || H_nameAlg(parent's Qualified Name || Name),
/// where `nameAlg` is the object's. A hierarchy's Qualified Name is its handle's Name.
public func qualifiedName(parent: TPM2BName, name: TPM2BName, nameAlg: TPMAlgID, hash: TPMHashFunction) rethrows -> TPM2BName {
    var w = TPMWriter()
    w.u16(nameAlg.rawValue)
    w.bytes(try hash(nameAlg, parent.buffer + name.buffer))
    return TPM2BName(w.bytes)
}
