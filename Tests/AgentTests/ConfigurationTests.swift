import AgentCore
import Foundation
import TPMClient
import XCTest

final class ConfigurationTests: XCTestCase {
    func testDefaultsAndFile() throws {
        var c = AgentConfiguration()
        XCTAssertEqual(c.pcr, 13)
        XCTAssertEqual(c.tpm, .device(path: "/dev/tpmrm0"))
        try c.load(
            text: """
                # comment
                tpm = mssim:host=127.0.0.1,port=33020   # trailing comment
                state-dir = /var/lib/x
                pcr = 14
                scope = cgroup:/guests/a
                listen = 0.0.0.0:7523
                log-level = debug

                ak-algorithm = rsa
                """, file: "t.conf")
        XCTAssertEqual(c.tpm, .mssim(host: "127.0.0.1", port: 33020))
        XCTAssertEqual(c.stateDirectory, "/var/lib/x")
        XCTAssertEqual(c.pcr, 14)
        XCTAssertEqual(c.scope, .cgroup("/guests/a"))
        XCTAssertEqual(c.listen, "0.0.0.0:7523")
        XCTAssertEqual(c.akAlgorithm, "rsa")
    }

    func testTheShippedConfigurationFileParses() throws {
        // Agent/vtpm-agent.conf documents every setting with its default.
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Agent/vtpm-agent.conf")
        var c = AgentConfiguration()
        try c.load(text: try String(contentsOf: url, encoding: .utf8), file: url.path)
        XCTAssertEqual(c, AgentConfiguration())
        let text = try String(contentsOf: url, encoding: .utf8)
        for key in AgentConfiguration.keys { XCTAssertTrue(text.contains(key), "\(key) is not documented") }
    }

    func testErrorsNameTheLineAndTheFix() {
        func message(_ text: String) -> String {
            var c = AgentConfiguration()
            do {
                try c.load(text: text, file: "a.conf")
                return "ok"
            } catch {
                return error.description
            }
        }
        XCTAssertEqual(message("pcr = 24"), "a.conf:1: bad pcr '24': a PCR index from 0 to 23")
        XCTAssertEqual(
            message("\nfoo = 1"), "a.conf:2: unknown setting 'foo' (settings: \(AgentConfiguration.keys.joined(separator: ", ")))")
        XCTAssertEqual(message("tpm"), "a.conf:1: expected KEY = VALUE")
        XCTAssertTrue(message("tpm = tabrmd").contains("unknown TCTI 'tabrmd'"))
        XCTAssertTrue(message("listen = 7523").contains("expected HOST:PORT"))
        XCTAssertTrue(message("state-dir = relative").contains("absolute"))
    }
}
