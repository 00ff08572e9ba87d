import TPMWire

extension TPMClient {
    /// TPM2_GetCapability (Part 3, 30.2). Returns moreData and the TPMU_CAPABILITIES bytes after
    /// the capability selector (which is checked to be the one asked for).
    public func getCapability(_ capability: TPMCap, property: UInt32, count: UInt32) throws(TPMClientError) -> (
        moreData: Bool, data: [UInt8]
    ) {
        var w = TPMWriter()
        w.u32(capability.rawValue)
        w.u32(property)
        w.u32(count)
        let r = try execute(TPMCommand(.getCapability, parameters: w.bytes))
        var reader = TPMReader(r.parameters)
        do {
            let more = try reader.u8()
            let cap = try reader.u32()
            guard cap == capability.rawValue, more <= 1 else {
                throw TPMClientError.malformedResponse(.getCapability, "capability \(cap), moreData \(more)")
            }
            return (more == 1, reader.rest())
        } catch let e as TPMClientError {
            throw e
        } catch {
            throw .malformedResponse(.getCapability, "truncated")
        }
    }

    /// One TPM property (TPM_CAP_TPM_PROPERTIES), nil when the TPM does not report it.
    public func property(_ pt: TPMPT) throws(TPMClientError) -> UInt32? {
        let (_, data) = try getCapability(.tpmProperties, property: pt.rawValue, count: 1)
        return try decode(TPMResponse(parameters: data, sessions: []), .getCapability) { r in
            let n = try r.u32()
            var found: UInt32?
            for _ in 0..<min(n, 256) {
                let p = try r.u32()
                let v = try r.u32()
                if p == pt.rawValue { found = v }
            }
            return found
        }
    }
}
