import AgentCore
import XCTest

/// Records as the kernel sends them over NETLINK_AUDIT (the text auditd writes after "type=X msg=").
final class AuditRecordTests: XCTestCase {
    static let syscall = Array(
        """
        audit(1764250000.123:4242): arch=c000003e syscall=59 success=yes exit=0 a0=55d0 a1=55d1 a2=55d2 a3=0 items=2 \
        ppid=100 pid=4321 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="ls" \
        exe="/usr/bin/ls" subj=unconfined key="vtpm-agent-1"
        """.utf8)

    func testSyscallRecord() throws {
        let r = try AuditRecord(type: 1300, text: Self.syscall + [0])
        XCTAssertEqual(r.serial, 4242)
        XCTAssertEqual(r.timestamp, "1764250000.123")
        XCTAssertEqual(r["pid"], "4321")
        XCTAssertEqual(r.string("exe"), "/usr/bin/ls")
        XCTAssertEqual(r.string("comm"), "ls")
        XCTAssertEqual(r.string("key"), "vtpm-agent-1")
        XCTAssertEqual(r.fields.count, 26)
    }

    func testHexEncodedAndNullValues() throws {
        // The kernel hex-encodes names with spaces or quotes: "/tmp/a b" -> 2F746D702F612062.
        let r = try AuditRecord(type: 1302, text: Array("audit(1.002:7): item=0 name=2F746D702F612062 inode=12 nametype=NORMAL".utf8))
        XCTAssertEqual(r.string("name"), "/tmp/a b")
        let n = try AuditRecord(type: 1302, text: Array("audit(1.002:7): item=1 name=(null) inode=13".utf8))
        XCTAssertNil(n.string("name"))
        XCTAssertEqual(n["inode"], "13")
    }

    func testEmptyRecordAndEnrichedPart() throws {
        let eoe = try AuditRecord(type: 1320, text: Array("audit(1.000:9): ".utf8))
        XCTAssertTrue(eoe.fields.isEmpty)
        XCTAssertEqual(eoe.serial, 9)
        let bare = try AuditRecord(type: 1320, text: Array("audit(1.000:10):".utf8))
        XCTAssertEqual(bare.serial, 10)
        // Interpreted fields after a 0x1d separator (log_format=ENRICHED) are fields too.
        let enriched = try AuditRecord(
            type: 1300, text: Array("audit(1.000:11): arch=c000003e pid=5".utf8) + [0x1D] + Array("ARCH=x86_64".utf8))
        XCTAssertEqual(enriched["ARCH"], "x86_64")
    }

    func testMalformedRecordsAreErrorsNeverTraps() {
        let bad: [[UInt8]] = [
            [], Array("hello".utf8), Array("audit(".utf8), Array("audit(1.0)".utf8), Array("audit(1.0:x): a=b".utf8),
            Array("audit(1.0:1): novalue".utf8), Array("audit(1.0:1): a=\"unterminated".utf8), Array("audit(1.0:1) a=b".utf8),
            Array("audit(:1): a=b".utf8), Array("audit(1.0:1): =b".utf8), [UInt8](repeating: 0x41, count: 9000),
        ]
        for b in bad { XCTAssertThrowsError(try AuditRecord(type: 1300, text: b), "\(String(decoding: b.prefix(40), as: UTF8.self))") }
        // Random bytes: either a record or an error.
        var g = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var text = Array("audit(1.1:2): ".utf8)
            for _ in 0..<Int.random(in: 0..<80, using: &g) { text.append(UInt8.random(in: 0...255, using: &g)) }
            _ = try? AuditRecord(type: 1300, text: text)
        }
    }

    func testNetlinkSplit() {
        func msg(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
            let len = UInt32(16 + payload.count)
            var m: [UInt8] = [UInt8(len & 0xFF), UInt8(len >> 8 & 0xFF), 0, 0, UInt8(type & 0xFF), UInt8(type >> 8), 0, 0]
            m += [UInt8](repeating: 0, count: 8) + payload
            while m.count % 4 != 0 { m.append(0) }
            return m
        }
        let d = msg(1300, Array("abc".utf8)) + msg(1320, Array("audit(1.0:1): ".utf8))
        let parts = AuditNetlink.split(d)
        XCTAssertEqual(parts.map(\.0), [1300, 1320])
        XCTAssertEqual(parts[0].1, Array("abc".utf8))
        // A length past the datagram ends the walk without a trap.
        XCTAssertEqual(AuditNetlink.split([200, 0, 0, 0, 0x14, 5] + [UInt8](repeating: 0, count: 20)).count, 0)
        XCTAssertEqual(AuditNetlink.split([1, 2, 3]).count, 0)
    }
}
