import TPMWire

/// A public area as the TPM returned it: the exact TPMT_PUBLIC octets (what the Name digests and
/// what evidence carries) and their decoding.
public struct PublicArea: Hashable, Sendable {
    public var bytes: [UInt8]
    public var publicArea: TPMTPublic

    public init(bytes: [UInt8]) throws {
        var r = TPMReader(bytes)
        publicArea = try TPMTPublic(from: &r, allowNull: false, support: .client)
        guard r.isAtEnd else { throw TPMError.size }
        self.bytes = bytes
    }

    public init(_ publicArea: TPMTPublic) {
        self.publicArea = publicArea
        bytes = publicArea.wireBytes
    }

    /// As a TPM2B_PUBLIC.
    public var sized: [UInt8] { u16Bytes(bytes.count) + bytes }

    static func read(_ r: inout TPMReader) throws -> PublicArea {
        try PublicArea(bytes: try r.sized(max: TPMLimits.maxPublicAreaSize))
    }
}

func u16Bytes(_ n: Int) -> [UInt8] { [UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)] }

/// What TPM2_CreatePrimary returns (the creation data and ticket are not kept).
public struct CreatedPrimary: Sendable {
    public var handle: TPMHandle
    public var outPublic: PublicArea
    public var name: [UInt8]
}

/// What TPM2_Create returns: the blobs to load the object later.
public struct CreatedObject: Hashable, Sendable {
    /// TPM2B_PRIVATE contents.
    public var outPrivate: [UInt8]
    public var outPublic: PublicArea

    public init(outPrivate: [UInt8], outPublic: PublicArea) {
        self.outPrivate = outPrivate
        self.outPublic = outPublic
    }
}

extension TPMClient {
    /// TPM2_CreatePrimary (Part 3, 24.1) with an empty sensitive area (no authValue, no data).
    public func createPrimary(
        hierarchy: TPMHandle, template: TPMTPublic, hierarchyAuth: Authorization = .emptyPassword
    ) throws(TPMClientError) -> CreatedPrimary {
        var w = TPMWriter()
        w.u16(4)  // TPM2B_SENSITIVE_CREATE: userAuth (empty) and data (empty)
        w.u16(0)
        w.u16(0)
        w.sized(template.wireBytes)
        w.u16(0)  // outsideInfo
        w.u32(0)  // creationPCR: an empty TPML_PCR_SELECTION
        let r = try execute(
            TPMCommand(.createPrimary, handles: [hierarchy], authorizations: [hierarchyAuth], parameters: w.bytes),
            returnsHandle: true)
        guard let handle = r.handle else { throw .malformedResponse(.createPrimary, "no handle") }
        return try decode(r, .createPrimary) { reader in
            let pub = try PublicArea.read(&reader)
            _ = try reader.sized(max: 1 << 12)  // creationData
            _ = try reader.sized(max: TPMLimits.maxDigestSize)  // creationHash
            _ = try TPMTTKCreation(from: &reader)
            let name = try reader.sized(max: TPMLimits.maxNameSize)
            return CreatedPrimary(handle: handle, outPublic: pub, name: name)
        }
    }

    /// TPM2_Create (Part 3, 12.1) of an ordinary object under `parent`, empty sensitive area.
    public func create(parent: TPMHandle, parentAuth: Authorization, template: TPMTPublic) throws(TPMClientError) -> CreatedObject {
        var w = TPMWriter()
        w.u16(4)
        w.u16(0)
        w.u16(0)
        w.sized(template.wireBytes)
        w.u16(0)
        w.u32(0)
        let r = try execute(TPMCommand(.create, handles: [parent], authorizations: [parentAuth], parameters: w.bytes))
        return try decode(r, .create) { reader in
            let priv = try reader.sized(max: TPMLimits.maxPrivateSize)
            let pub = try PublicArea.read(&reader)
            _ = try reader.sized(max: 1 << 12)
            _ = try reader.sized(max: TPMLimits.maxDigestSize)
            _ = try TPMTTKCreation(from: &reader)
            return CreatedObject(outPrivate: priv, outPublic: pub)
        }
    }

    /// TPM2_Load (Part 3, 12.2): returns the loaded object's handle and Name.
    public func load(parent: TPMHandle, parentAuth: Authorization, object: CreatedObject) throws(TPMClientError) -> (TPMHandle, [UInt8]) {
        var w = TPMWriter()
        w.sized(object.outPrivate)
        w.bytes(object.outPublic.sized)
        let r = try execute(
            TPMCommand(.load, handles: [parent], authorizations: [parentAuth], parameters: w.bytes), returnsHandle: true)
        guard let handle = r.handle else { throw .malformedResponse(.load, "no handle") }
        let name = try decode(r, .load) { try $0.sized(max: TPMLimits.maxNameSize) }
        return (handle, name)
    }

    /// TPM2_ReadPublic (Part 3, 12.4): public area, Name and Qualified Name.
    public func readPublic(_ handle: TPMHandle) throws(TPMClientError) -> (PublicArea, name: [UInt8], qualifiedName: [UInt8]) {
        let r = try execute(TPMCommand(.readPublic, handles: [handle]))
        return try decode(r, .readPublic) { reader in
            (try PublicArea.read(&reader), try reader.sized(max: TPMLimits.maxNameSize), try reader.sized(max: TPMLimits.maxNameSize))
        }
    }

    /// TPM2_FlushContext (Part 3, 28.4): the handle is a parameter, not in the handle area.
    public func flushContext(_ handle: TPMHandle) throws(TPMClientError) {
        try execute(TPMCommand(.flushContext, parameters: u32Bytes(handle.rawValue)))
    }

    /// TPM2_ContextSave (Part 3, 28.2): the TPMS_CONTEXT octets, as the TPM marshalled them.
    public func contextSave(_ handle: TPMHandle) throws(TPMClientError) -> [UInt8] {
        let r = try execute(TPMCommand(.contextSave, handles: [handle]))
        // Checked against the structure; the blob's size bound is the client's response limit.
        return try decode(r, .contextSave) { reader in
            let start = reader.offset
            _ = try reader.u64()
            _ = try reader.u32()
            _ = try reader.u32()
            _ = try reader.sized(max: TransportLimits.maxResponseSize)
            return reader.consumed(from: start)
        }
    }

    /// TPM2_ContextLoad (Part 3, 28.3) of octets `contextSave` returned.
    public func contextLoad(_ context: [UInt8]) throws(TPMClientError) -> TPMHandle {
        let r = try execute(TPMCommand(.contextLoad, parameters: context), returnsHandle: true)
        guard let handle = r.handle, r.parameters.isEmpty else { throw .malformedResponse(.contextLoad, "no handle") }
        return handle
    }
}
