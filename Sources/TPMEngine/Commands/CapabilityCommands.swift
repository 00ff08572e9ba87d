import TPMWire

extension TPM {
    func getCapabilityCommand(_ c: inout CommandContext) throws { throw TPMError(.commandCode) }  // PENDING(helper)
}
