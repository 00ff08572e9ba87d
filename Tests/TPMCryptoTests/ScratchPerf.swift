import Foundation
@testable import TPMCrypto
import XCTest

final class ScratchPerf: XCTestCase {
    func testParts() throws {
        var src = KDFaBitSource(hash: .sha256, seed: [UInt8](repeating: 1, count: 64), label: "P", contextU: [], contextV: [])
        var t = DispatchTime.now().uptimeNanoseconds
        var cands: [[UInt8]] = []
        for _ in 0..<1000 { cands.append(src.nextBits(1024)) }
        print("PERF kdfa x1000:", Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6, "ms")
        let ctx = BNContext()
        t = DispatchTime.now().uptimeNanoseconds
        var primes = 0
        let e = BigNum(65537), one = BigNum(1)
        for c in cands {
            let b = BigNum(c); b.setBit(1023); b.setBit(1022); b.setBit(0)
            if BigNum.gcd(b - one, e).isOne && PrimalityTest.isProbablePrime(b, ctx) { primes += 1 }
        }
        print("PERF checks x1000:", Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6, "ms", primes)
        t = DispatchTime.now().uptimeNanoseconds
        var small = 0
        for c in cands {
            let b = BigNum(c); b.setBit(1023); b.setBit(1022); b.setBit(0)
            if !PrimalityTest.hasSmallFactor(b) { small += 1 }
        }
        print("PERF sieve x1000:", Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6, "ms survivors", small)
        t = DispatchTime.now().uptimeNanoseconds
        for c in cands {
            let b = BigNum(c); b.setBit(1023); b.setBit(1022); b.setBit(0)
            _ = BigNum.gcd(b - one, e)
        }
        print("PERF gcd x1000:", Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6, "ms")
    }
}
