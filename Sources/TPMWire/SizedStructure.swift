// Size-prefixed structures (Part 2, 4.7 "TPM2B" with a structure inside): TPM2B_PUBLIC,
// TPM2B_SENSITIVE, TPM2B_SENSITIVE_CREATE, TPM2B_ECC_POINT, TPM2B_CREATION_DATA. The size says
// how many octets the structure occupies; the structure is decoded where it stands and must use
// exactly `size` octets, else TPM_RC_SIZE. As in the reference unmarshalling code the structure
// is read from the enclosing buffer (not from a buffer cut at `size`), so a structure that runs
// past its size gets TPM_RC_SIZE, or the code of the first field that is wrong, rather than
// TPM_RC_INSUFFICIENT. A size of zero means "no structure"; the types whose size is marked "="
// in Part 2 refuse it with TPM_RC_SIZE.

extension TPMReader {
    /// Reads the UINT16 size and then the structure; nil when the size is zero.
    mutating func sizedStructure<T>(_ decode: (inout TPMReader) throws -> T) throws -> T? {
        let size = Int(try u16())
        guard size != 0 else { return nil }
        let start = offset
        let value = try decode(&self)
        guard offset - start == size else { throw TPMError.size }
        return value
    }

    /// A structure whose size may not be zero (an "=" size in Part 2).
    mutating func nonEmptySizedStructure<T>(_ decode: (inout TPMReader) throws -> T) throws -> T {
        guard let value = try sizedStructure(decode) else { throw TPMError.size }
        return value
    }
}

extension TPMWriter {
    /// Writes `body` preceded by its length as a UINT16.
    mutating func sizedStructure(_ body: (inout TPMWriter) -> Void) {
        let at = count
        u16(0)
        body(&self)
        patchU16(at: at, UInt16(clamping: count - at - 2))
    }
}
