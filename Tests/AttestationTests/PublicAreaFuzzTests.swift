import Foundation
import XCTest

@testable import Attestation

/// Every single-octet change of the fixtures' public areas parses or is refused; none traps.
final class PublicAreaFuzzTests: XCTestCase {
    func testEverySingleOctetChange() throws {
        let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        for kind in ["rsa-rsassa", "ecc-ecdsa"] {
            for file in ["ak.pub", "ek.pub"] {
                let bytes = Array(try Data(contentsOf: root.appendingPathComponent(kind).appendingPathComponent(file)))
                for i in 0..<bytes.count {
                    for v: UInt8 in [0x00, 0x01, 0x7F, 0x80, 0xFF, bytes[i] ^ 0x01, bytes[i] ^ 0x10] {
                        var b = bytes
                        b[i] = v
                        if let k = try? TPMPublicKey(tpm2bPublic: b) {
                            _ = k.isAttestationKey
                            _ = try? k.verify(signature: [0, 0x14, 0, 0x0B, 0, 1, 0], over: [1])
                        }
                    }
                }
            }
        }
    }
}
