import TPMWire

extension TPM {
    func selfTestCommand(_ c: inout CommandContext) throws { throw TPMError(.commandCode) }  // PENDING(helper)
    func incrementalSelfTestCommand(_ c: inout CommandContext) throws { throw TPMError(.commandCode) }  // PENDING(helper)
    func getTestResultCommand(_ c: inout CommandContext) throws { throw TPMError(.commandCode) }  // PENDING(helper)
    func testParmsCommand(_ c: inout CommandContext) throws { throw TPMError(.commandCode) }  // PENDING(helper)
}
