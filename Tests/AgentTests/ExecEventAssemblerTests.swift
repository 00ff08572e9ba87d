import AgentCore
import XCTest

final class ExecEventAssemblerTests: XCTestCase {
    func record(_ type: UInt16, _ serial: UInt64, _ body: String) throws -> AuditRecord {
        try AuditRecord(type: type, text: Array("audit(1764250000.500:\(serial)): \(body)".utf8))
    }

    /// A script run as ./s.sh from /tmp: SYSCALL, EXECVE, CWD, PATH 0 (the script), PATH 1 (the
    /// interpreter), PROCTITLE, EOE.
    func testScriptExecIsJoinedAtEOE() throws {
        var a = ExecEventAssembler()
        XCTAssertTrue(
            a.add(
                try record(
                    1300, 77,
                    "arch=c000003e syscall=59 success=yes exit=0 items=3 ppid=10 pid=11 comm=\"s.sh\" exe=\"/usr/bin/bash\" key=\"k\"")
            ).isEmpty)
        XCTAssertTrue(a.add(try record(1309, 77, "argc=2 a0=\"/bin/sh\" a1=\"./s.sh\"")).isEmpty)
        XCTAssertTrue(a.add(try record(1307, 77, "cwd=\"/tmp\"")).isEmpty)
        XCTAssertTrue(a.add(try record(1302, 77, "item=0 name=\"./s.sh\" inode=500 dev=fd:01 nametype=NORMAL")).isEmpty)
        XCTAssertTrue(a.add(try record(1302, 77, "item=1 name=\"/bin/sh\" inode=600 dev=fd:01 nametype=NORMAL")).isEmpty)
        XCTAssertTrue(a.add(try record(1327, 77, "proctitle=2F62696E2F7368002E2F732E7368")).isEmpty)
        let out = a.add(try record(1320, 77, ""))
        XCTAssertEqual(out.count, 1)
        let e = try out[0].get()
        XCTAssertEqual(e.pid, 11)
        XCTAssertEqual(e.ppid, 10)
        XCTAssertEqual(e.exe, Array("/usr/bin/bash".utf8))
        XCTAssertEqual(e.argv, [Array("/bin/sh".utf8), Array("./s.sh".utf8)])
        XCTAssertEqual(e.paths.map(\.item), [0, 1])
        XCTAssertEqual(e.executedPath, Array("/tmp/./s.sh".utf8))
        XCTAssertEqual(a.pendingCount, 0)
    }

    func testInterleavedEventsAndNonExecSyscalls() throws {
        var a = ExecEventAssembler()
        _ = a.add(try record(1300, 1, "arch=c000003e syscall=59 success=yes ppid=1 pid=2 exe=\"/a\""))
        _ = a.add(try record(1300, 2, "arch=c000003e syscall=2 success=yes ppid=1 pid=3 exe=\"/b\""))  // open(2)
        _ = a.add(try record(1300, 3, "arch=40000003 syscall=11 success=yes ppid=1 pid=4 exe=\"/c32\""))  // i386 execve
        _ = a.add(try record(1300, 4, "arch=c000003e syscall=322 success=no ppid=1 pid=5 exe=\"/d\""))  // failed execveat
        XCTAssertEqual(try a.add(try record(1320, 3, "")).map { try $0.get().pid }, [4])
        XCTAssertTrue(a.add(try record(1320, 2, "")).isEmpty)
        XCTAssertTrue(a.add(try record(1320, 4, "")).isEmpty)
        XCTAssertEqual(try a.flush().map { try $0.get().pid }, [2])
    }

    func testMissingPIDIsReportedAndBoundsHold() throws {
        var a = ExecEventAssembler()
        _ = a.add(try record(1300, 9, "arch=c000003e syscall=59 success=yes exe=\"/x\""))
        let r = a.add(try record(1320, 9, ""))
        XCTAssertEqual(r.count, 1)
        XCTAssertThrowsError(try r[0].get())
        XCTAssertEqual(a.malformed, 1)
        // More pending events than the bound: the oldest complete without their EOE.
        var completed = 0
        for s in 0..<UInt64(AuditLimits.maxPendingEvents + 10) {
            completed += a.add(try record(1300, 1000 + s, "arch=c000003e syscall=59 success=yes ppid=1 pid=\(s + 2)")).count
        }
        XCTAssertEqual(completed, 10)
        XCTAssertEqual(a.pendingCount, AuditLimits.maxPendingEvents)
    }
}
