import FuzzSupport

// Command execution on a TPM with a primary key (also persistent), a loaded signing key, an
// HMAC and a policy session, two NV indices and an extended PCR (Setups.loaded).
nonisolated(unsafe) let fuzzer = EngineFuzzer(setup: Setups.loaded)

public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzer.run(fuzzInput(data, size))
    return 0
}
