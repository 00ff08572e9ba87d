import TPMWire

extension TPM {
    /// TPM2_SelfTest (Part 3, 10.2). The tests run before the response (option b of the
    /// general description, what the PC Client profile asks for fullTest = YES), so this TPM
    /// never answers TPM_RC_TESTING. fullTest = YES retests everything; NO tests only what has
    /// not been tested. A failing test: failure mode and TPM_RC_FAILURE.
    func selfTestCommand(_ c: inout CommandContext) throws {
        let fullTest = try c.param(TPMIYesNo.self).value
        try c.finish()
        if fullTest { volatile.testedAlgorithms.removeAll() }
        try runSelfTests(TPM.testableAlgorithms)
    }

    /// TPM2_IncrementalSelfTest (Part 3, 10.3). Every algorithm in toTest must be implemented
    /// (TPM_RC_VALUE + P1, as the reference code has it); those not yet tested are tested
    /// now, then toDoList lists what remains untested.
    func incrementalSelfTestCommand(_ c: inout CommandContext) throws {
        let toTest = try c.param(TPMLAlg.self)
        try c.finish()
        for alg in toTest.items where TPM.algorithmIndex[alg] == nil { throw TPMError.value.parameter(1) }
        try runSelfTests(toTest.items)
        TPMLAlg(Array(untestedAlgorithms.prefix(TPMLimits.maxAlgListSize))).encode(to: &c.response)
    }

    /// TPM2_GetTestResult (Part 3, 10.4). testResult: TPM_RC_FAILURE in failure mode, where
    /// outData carries the failure code (see `selfTestFailurePrefix`); otherwise every test
    /// that has run has passed and the result is TPM_RC_SUCCESS, as in the reference code and
    /// libtpms. (Which algorithms remain untested is IncrementalSelfTest's answer; tpm2-tools
    /// reads any testResult but SUCCESS, TESTING or NEEDS_TEST masked by 0x90A as an error.)
    /// The command itself succeeds in every case.
    func getTestResultCommand(_ c: inout CommandContext) throws {
        try c.finish()
        let outData: [UInt8]
        let testResult: TPMRC
        if volatile.failureMode {
            var w = TPMWriter(capacity: 4)
            w.u32(volatile.failureCode)
            outData = w.bytes
            testResult = .failure
        } else {
            outData = []
            testResult = .success
        }
        TPM2BMaxBuffer(outData).encode(to: &c.response)
        c.response.u32(testResult.rawValue)
    }

    /// TPM2_TestParms (Part 3, 30.3): the parameters are valid exactly when they unmarshal,
    /// against this TPM's algorithm table; each error is the unmarshalling code + P1.
    func testParmsCommand(_ c: inout CommandContext) throws {
        _ = try c.param { try TPMTPublicParms(from: &$0, support: TPM.algorithmSupport) }
        try c.finish()
    }
}
