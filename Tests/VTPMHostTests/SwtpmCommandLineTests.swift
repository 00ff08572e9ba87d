import XCTest

@testable import VTPMHost

final class SwtpmCommandLineTests: XCTestCase {
    private func config(_ args: [String], env: [String: String] = [:]) throws -> SwtpmConfiguration {
        guard case .run(let c) = try SwtpmCommandLine.parse(args, environment: env) else {
            XCTFail("not a run")
            return SwtpmConfiguration()
        }
        return c
    }

    private func error(_ args: [String]) -> String? {
        do {
            _ = try SwtpmCommandLine.parse(args)
            return nil
        } catch {
            return error.message
        }
    }

    /// What tpm2-tools' integration harness (test/integration/helpers.sh, 5.4) runs.
    func testTPM2ToolsHarness() throws {
        let c = try config([
            "socket", "--tpm2", "--server", "port=2321", "--ctrl", "type=tcp,port=2322", "--seccomp", "action=none",
            "--flags", "not-need-init", "--tpmstate", "dir=/tmp/x",
        ])
        XCTAssertEqual(c.server, .tcp(host: "127.0.0.1", port: 2321))
        XCTAssertEqual(c.control, .tcp(host: "127.0.0.1", port: 2322))
        XCTAssertEqual(c.stateDirectory, "/tmp/x")
        XCTAssertTrue(c.notNeedInit)
        XCTAssertNil(c.startup)
        XCTAssertFalse(c.disconnect)
    }

    func testFullForms() throws {
        let c = try config([
            "socket", "--tpm2", "--server=type=tcp,port=2400,bindaddr=::1,disconnect", "--ctrl=type=unixio,path=/run/c.sock,mode=0600",
            "--tpmstate", "dir=/s,mode=0600", "--flags", "not-need-init,startup-clear", "--pid", "file=/run/p", "--log",
            "file=/l,level=20,prefix=x,truncate", "-d", "-t", "--locality", "reject-locality-4",
        ])
        XCTAssertEqual(c.server, .tcp(host: "::1", port: 2400))
        XCTAssertTrue(c.disconnect)
        XCTAssertEqual(c.control, .unix(path: "/run/c.sock", mode: 0o600))
        XCTAssertEqual(c.stateFileMode, 0o600)
        XCTAssertEqual(c.startup, .clear)
        XCTAssertEqual(c.pid, .file("/run/p"))
        XCTAssertEqual(c.log, .file("/l"))
        XCTAssertEqual(c.logLevel, 20)
        XCTAssertEqual(c.logPrefix, "x")
        XCTAssertTrue(c.logTruncate && c.daemon && c.terminate && c.rejectLocality4)
    }

    /// getopt_long accepts unique prefixes; `-p` is swtpm's old form of a disconnecting TCP server.
    func testAbbreviationsAndShortOptions() throws {
        let c = try config(["socket", "--tpm2", "--tpms", "dir=/s", "-p", "2500", "--ctr", "type=unixio,path=/c"])
        XCTAssertEqual(c.stateDirectory, "/s")
        XCTAssertEqual(c.server, .tcp(host: "127.0.0.1", port: 2500))
        XCTAssertTrue(c.disconnect)
        XCTAssertEqual(c.control, .unix(path: "/c", mode: 0o770))
        XCTAssertEqual(error(["socket", "--p", "1"]), "option '--p' is ambiguous")
    }

    func testEnvironment() throws {
        let c = try config(["socket", "--tpm2", "--server", "type=tcp"], env: ["TPM_PATH": "/e", "TPM_PORT": "2600"])
        XCTAssertEqual(c.stateDirectory, "/e")
        XCTAssertEqual(c.server, .tcp(host: "127.0.0.1", port: 2600))
    }

    /// The messages follow swtpm's own (checked against /usr/bin/swtpm 0.7.1).
    func testErrors() {
        XCTAssertEqual(error([]), "Missing TPM interface type.")
        XCTAssertEqual(error(["foo"]), "Unsupported TPM interface type 'foo'.")
        XCTAssertEqual(error(["socket", "--bogus"]), "unrecognized option '--bogus'")
        XCTAssertEqual(error(["socket", "--tpm2", "extra"]), "Unknown parameter 'extra'")
        XCTAssertEqual(error(["socket", "--flags", "bogus"]), "Error parsing flags options: Unknown option 'bogus'")
        XCTAssertEqual(error(["socket", "--server", "port=abc"]), "Error parsing server options: invalid number 'abc'")
        XCTAssertEqual(error(["socket", "--tpmstate", "dir=/x,mode=999"]), "Error parsing tpmstate options: invalid mode type '999'")
        XCTAssertEqual(error(["socket", "--ctrl", "type=tcp"]), "Missing port and fd options for TCP control channel")
        XCTAssertEqual(error(["socket", "--pid"]), "option '--pid' requires an argument")
        XCTAssertEqual(error(["socket", "--server", "port=70000"]), "TCP socket port outside valid range")
        XCTAssertEqual(error(["socket", "--server", "port=1", "--tpmstate", "dir=/x"]), "vtpm implements TPM 2.0 only: add --tpm2")
        XCTAssertNotNil(error(["socket", "--tpm2", "--server", "port=1"]), "no state directory")
        XCTAssertEqual(
            error(["socket", "--tpm2", "--key", "mode=aes-cbc", "--server", "port=1", "--tpmstate", "dir=/x"]),
            "Either file=, fd=, pwdfile=, or pwdfd= is required for key option")
        XCTAssertEqual(error(["socket", "--key", "pwdfd=3,kdf=md5"]), "Unknown kdf 'md5'.")
        XCTAssertEqual(error(["socket", "--migration", "outgoing"]), "Error parsing migration options: Unknown option 'outgoing'")
        XCTAssertEqual(
            error(["socket", "--tpm2", "--migration-key", "file=/k,format=base64", "--tpmstate", "dir=/x"]),
            "--migration-key: unknown format 'base64' (hex, binary)")
        XCTAssertNotNil(error(["socket", "-x"]))
    }

    /// libvirt's encrypted vTPM (qemu_tpm.c): passphrases on descriptors for both keys; and its
    /// shared-storage migration options.
    func testLibvirtKeysAndMigration() throws {
        let c = try config([
            "socket", "--tpm2", "--ctrl", "type=unixio,path=/run/x.sock,mode=0600", "--tpmstate", "dir=/x,mode=0600",
            "--key", "pwdfd=21,mode=aes-256-cbc", "--migration-key", "pwdfd=22,mode=aes-256-cbc",
            "--migration", "release-lock-outgoing,incoming", "--terminate",
        ])
        XCTAssertEqual(c.stateKey?.source, .passphraseFD(21))
        XCTAssertEqual(c.stateKey?.bits, 256)
        XCTAssertEqual(c.stateKey?.kdf, .pbkdf2)
        XCTAssertEqual(c.migrationKey?.source, .passphraseFD(22))
        XCTAssertTrue(c.incomingMigration)
        XCTAssertTrue(c.releaseLockOutgoing)
        let d = try config([
            "socket", "--tpm2", "--ctrl", "type=tcp,port=1", "--tpmstate", "dir=/x", "--key", "pwdfile=/p,kdf=sha512,remove",
        ])
        XCTAssertEqual(d.stateKey?.source, .passphraseFile("/p"))
        XCTAssertEqual(d.stateKey?.kdf, .sha512)
        XCTAssertEqual(d.stateKey?.remove, true)
        XCTAssertNil(d.stateKey?.bits)
        XCTAssertFalse(d.incomingMigration)
        let e = try config(["socket", "--tpm2", "--ctrl", "type=tcp,port=1", "--tpmstate", "dir=/x", "--key", "fd=5,format=binary"])
        XCTAssertEqual(e.stateKey?.source, .fd(5))
        XCTAssertEqual(e.stateKey?.format, "binary")
        let f = try config(["socket", "--tpm2", "--ctrl", "type=tcp,port=1", "--tpmstate", "dir=/x", "--migration", "incoming=false"])
        XCTAssertFalse(f.incomingMigration)
        XCTAssertTrue(SwtpmCommandLine.capabilitiesJSON.contains(#""cmdarg-pwd-fd""#))
        XCTAssertTrue(SwtpmCommandLine.capabilitiesJSON.contains(#""cmdarg-migration""#))
    }

    func testInformationalInvocations() throws {
        XCTAssertEqual(try SwtpmCommandLine.parse(["--version"]), .version)
        XCTAssertEqual(try SwtpmCommandLine.parse(["-v"]), .version)
        XCTAssertEqual(try SwtpmCommandLine.parse(["--help"]), .overview)
        XCTAssertEqual(try SwtpmCommandLine.parse(["socket", "--help"]), .help)
        XCTAssertTrue(try config(["socket", "--print-capabilities"]).printCapabilities)
    }
}
