import AgentCore
import Foundation
import Logging
import XCTest

/// The kernel's audit subsystem, live (needs root and CONFIG_AUDIT, as on these machines and CI):
/// the agent's rules go in, an exec arrives as a joined event, the rules come out again.
final class AuditLiveTests: XCTestCase {
    func testExecOfAChildArrivesAndRulesAreRemoved() throws {
        guard getuid() == 0 else { throw XCTSkip("needs root") }
        let audit = AuditNetlink(logger: Logger(label: "test"), ruleKey: "vtpm-agent-test-\(getpid())")
        try audit.start()
        defer { audit.stop() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        var assembler = ExecEventAssembler()
        var found: ExecEvent?
        let deadline = Date().addingTimeInterval(10)
        while found == nil, Date() < deadline {
            switch try audit.receive() {
            case .messages(let ms):
                for (t, payload) in ms where t >= 1300 && t < 1400 {
                    guard let r = try? AuditRecord(type: t, text: payload) else { continue }
                    for case .success(let e) in assembler.add(r) where e.pid == p.processIdentifier { found = e }
                }
            case .idle:
                for case .success(let e) in assembler.flush() where e.pid == p.processIdentifier { found = e }
            case .overflow:
                break
            }
        }
        let e = try XCTUnwrap(found, "no exec event for pid \(p.processIdentifier) via \(audit.mode.rawValue)")
        XCTAssertEqual(e.ppid, getpid())
        XCTAssertTrue(String(decoding: e.exe ?? [], as: UTF8.self).hasSuffix("true"))
    }
}
