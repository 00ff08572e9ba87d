import FuzzSupport

// Command execution on a freshly manufactured TPM after Startup(CLEAR).
nonisolated(unsafe) let fuzzer = EngineFuzzer(setup: Setups.started)

public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzer.run(fuzzInput(data, size))
    return 0
}
