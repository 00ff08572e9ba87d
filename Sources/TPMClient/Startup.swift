import TPMWire

extension TPMClient {
    /// TPM2_Startup (Part 3, 9.3). `alreadyStartedIsSuccess`: a TPM that is already started answers
    /// TPM_RC_INITIALIZE, which a client attaching to a running TPM treats as success.
    public func startup(_ type: TPMSU = .clear, alreadyStartedIsSuccess: Bool = true) throws(TPMClientError) {
        var w = TPMWriter()
        w.u16(type.rawValue)
        do {
            try execute(TPMCommand(.startup, parameters: w.bytes))
        } catch .tpm(.initialize, _) where alreadyStartedIsSuccess {
            return
        }
    }

    /// TPM2_ReadClock (Part 3, 29.1): the TPMS_TIME_INFO, whose clockInfo carries resetCount
    /// and restartCount (a new boot of the TPM changes resetCount).
    public func readClock() throws(TPMClientError) -> TPMSTimeInfo {
        let r = try execute(TPMCommand(.readClock))
        return try decode(r, .readClock) { try TPMSTimeInfo(from: &$0) }
    }
}
