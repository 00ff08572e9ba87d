// libFuzzer's entry point for this target alone (the SwiftPM build). scripts/fuzz's fast build
// leaves this file out and links every target into one binary with a dispatcher instead
// (tests/fuzz/fastbuild.py).
@_cdecl("LLVMFuzzerTestOneInput")
public func llvmFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    testOneInput(data, size)
}
