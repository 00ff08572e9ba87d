import TPMClient
import XCTest

final class TCTITests: XCTestCase {
    func testForms() throws {
        XCTAssertEqual(try TCTI(parsing: "device:/dev/tpmrm0"), .device(path: "/dev/tpmrm0"))
        XCTAssertEqual(try TCTI(parsing: "device"), .device(path: "/dev/tpmrm0"))
        XCTAssertEqual(try TCTI(parsing: "mssim:host=127.0.0.1,port=2421"), .mssim(host: "127.0.0.1", port: 2421))
        XCTAssertEqual(try TCTI(parsing: "mssim:port=5000"), .mssim(host: "localhost", port: 5000))
        XCTAssertEqual(try TCTI(parsing: "mssim"), .mssim(host: "localhost", port: 2321))
        XCTAssertEqual(try TCTI(parsing: "swtpm:host=tpm.example,port=33001"), .swtpm(host: "tpm.example", port: 33001))
        XCTAssertEqual(try TCTI(parsing: "unix:path=/run/vtpm/a.sock"), .unix(path: "/run/vtpm/a.sock"))
    }

    func testRoundTrip() throws {
        for s in ["device:/dev/tpm0", "mssim:host=h,port=1", "swtpm:host=::1,port=65534", "unix:path=/x"] {
            XCTAssertEqual(try TCTI(parsing: s).description, s)
        }
    }

    func testErrorsSayWhatIsWrong() {
        func message(_ s: String) -> String {
            do {
                _ = try TCTI(parsing: s)
                return "parsed"
            } catch {
                return error.description
            }
        }
        XCTAssertEqual(message("tabrmd:bus=session"), "unknown TCTI 'tabrmd' (expected device, mssim, swtpm or unix)")
        XCTAssertTrue(message("").hasPrefix("empty TCTI string"))
        XCTAssertTrue(message("mssim:host=a,port=70000").contains("port must be a number from 1 to 65534"))
        XCTAssertTrue(message("mssim:port=65535").contains("port must be a number"))
        XCTAssertTrue(message("mssim:port=").contains("port must be a number"))
        XCTAssertTrue(message("swtpm:hostname=a").contains("unknown key 'hostname'"))
        XCTAssertTrue(message("swtpm:host=a,host=b").contains("'host' given twice"))
        XCTAssertTrue(message("swtpm:localhost").contains("is not KEY=VALUE"))
        XCTAssertTrue(message("swtpm:host=").contains("host is empty"))
        XCTAssertTrue(message("unix:").contains("unix needs path=SOCKET"))
        XCTAssertTrue(message("device:dev/tpm0").contains("must be absolute"))
    }
}
