import Crypto
import TPMEngine
import TPMWire
import XCTest

final class PCRTests: XCTestCase {
    func testExtendThenReadMatchesIndependentHash() throws {
        let tpm = startedTPM()
        let digest = [UInt8](repeating: 0xAB, count: 32)
        var p = TPMWriter()
        TPMLDigestValues([TPMTHA(hashAlg: .sha256, digest: digest)]).encode(to: &p)
        let r = tpm.execute(command: command(.pcrExtend, tag: .sessions, withPassword(handles: [TPMHandle(1)], params: p.bytes)))
        XCTAssertEqual(r, [0x80, 0x02, 0, 0, 0, 19, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0])

        var q = TPMWriter()
        TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: [1])]).encode(to: &q)
        let rr = tpm.execute(command: command(.pcrRead, q.bytes))
        XCTAssertEqual(responseCode(rr), 0)
        let expected = Array(SHA256.hash(data: [UInt8](repeating: 0, count: 32) + digest))
        XCTAssertEqual(Array(rr.suffix(32)), expected)
    }

    func testExtendAtWrongLocalityIsLocality() {
        let tpm = startedTPM()
        var p = TPMWriter()
        TPMLDigestValues([TPMTHA(hashAlg: .sha256, digest: [UInt8](repeating: 0, count: 32))]).encode(to: &p)
        let r = tpm.execute(locality: 0, command: command(.pcrExtend, tag: .sessions, withPassword(handles: [TPMHandle(17)], params: p.bytes)))
        XCTAssertEqual(responseCode(r), 0x907)
    }
}
