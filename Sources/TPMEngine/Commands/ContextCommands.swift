import TPMWire

extension TPM {
    func contextSaveCommand(_ c: inout CommandContext) throws { throw TPMError(.commandCode) }  // PENDING(helper)
    func contextLoadCommand(_ c: inout CommandContext) throws { throw TPMError(.commandCode) }  // PENDING(helper)
    func flushContextCommand(_ c: inout CommandContext) throws { throw TPMError(.commandCode) }  // PENDING(helper)
}
