import TPMWire

extension TPM {
    func hashCommand(_ c: inout CommandContext) throws { throw TPMError(.commandCode) }  // PENDING(helper)
    func hashSequenceStartCommand(_ c: inout CommandContext) throws { throw TPMError(.commandCode) }  // PENDING(helper)
    func sequenceUpdateCommand(_ c: inout CommandContext) throws { throw TPMError(.commandCode) }  // PENDING(helper)
    func sequenceCompleteCommand(_ c: inout CommandContext) throws { throw TPMError(.commandCode) }  // PENDING(helper)
    func eventSequenceCompleteCommand(_ c: inout CommandContext) throws { throw TPMError(.commandCode) }  // PENDING(helper)
}
