import Crypto
import Foundation
import XCTest
import _CryptoExtras

@testable import VTPMHost

/// The local CA's certificates, judged by OpenSSL: the EK certificate must verify against the
/// root with `openssl verify`, carry the TCG EK profile's fields, and hold exactly the key given.
final class LocalCATests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "vtpm-ca-\(UUID().uuidString)"
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func openssl(_ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: out, as: UTF8.self))
    }

    func write(_ text: String, _ name: String) throws -> String {
        let path = dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testCAIsCreatedOnceAndReloaded() throws {
        let a = try LocalCA(directory: dir)
        let b = try LocalCA(directory: dir)
        XCTAssertEqual(a.certificatePEM, b.certificatePEM)
        var st = stat()
        XCTAssertEqual(stat(dir + "/ca-key.pem", &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        let (rc, text) = try openssl(["x509", "-noout", "-text", "-in", dir + "/ca-cert.pem"])
        XCTAssertEqual(rc, 0, text)
        XCTAssertTrue(text.contains("CA:TRUE"), text)
        XCTAssertTrue(text.contains("Certificate Sign"), text)
    }

    func testRSAEndorsementCertificateVerifiesWithOpenSSL() throws {
        let ca = try LocalCA(directory: dir)
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let der = key.publicKey.derRepresentation
        // The modulus from the key's own PKCS#1 encoding via OpenSSL, not from our code.
        let pubPath = try write(key.publicKey.pemRepresentation, "ek-pub.pem")
        let (_, modText) = try openssl(["rsa", "-pubin", "-in", pubPath, "-noout", "-modulus"])
        let modulusHex = modText.split(separator: "=")[1].trimmingCharacters(in: .whitespacesAndNewlines)
        let modulus = stride(from: 0, to: modulusHex.count, by: 2).map {
            UInt8(modulusHex[modulusHex.index(modulusHex.startIndex, offsetBy: $0)...].prefix(2), radix: 16)!
        }
        XCTAssertFalse(der.isEmpty)
        let cert = try ca.issueEKCertificate(
            for: .rsa(modulus: modulus, exponent: 0),
            identity: .init(manufacturer: 0x5654_504D, model: "vtpm", firmwareVersion: 0x0002_0000))
        let certPath = try write(try cert.serializeAsPEM().pemString, "ek.pem")
        let (rc, out) = try openssl(["verify", "-CAfile", dir + "/ca-cert.pem", certPath])
        XCTAssertEqual(rc, 0, out)
        let (_, text) = try openssl(["x509", "-noout", "-text", "-in", certPath])
        XCTAssertTrue(text.contains("Key Encipherment"), text)
        XCTAssertTrue(text.contains("CA:FALSE"), text)
        XCTAssertTrue(text.contains("2.23.133.8.1"), text)  // tcg-kp-EKCertificate
        XCTAssertTrue(text.contains("2.23.133.2.1=id:5654504D"), text)
        XCTAssertTrue(text.contains("2.23.133.2.3=id:00020000"), text)
        // The certified key is the one given.
        let (_, certMod) = try openssl(["x509", "-noout", "-modulus", "-in", certPath])
        XCTAssertEqual(certMod.trimmingCharacters(in: .whitespacesAndNewlines), modText.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func testECCEndorsementCertificateVerifiesWithOpenSSL() throws {
        let ca = try LocalCA(directory: dir)
        let key = P384.KeyAgreement.PrivateKey()
        let raw = Array(key.publicKey.rawRepresentation)
        let cert = try ca.issueEKCertificate(
            for: .ecc(bits: 384, x: Array(raw[0..<48]), y: Array(raw[48...])),
            identity: .init(manufacturer: 0x5654_504D, model: "vtpm", firmwareVersion: 1))
        let certPath = try write(try cert.serializeAsPEM().pemString, "ek-ecc.pem")
        let (rc, out) = try openssl(["verify", "-CAfile", dir + "/ca-cert.pem", certPath])
        XCTAssertEqual(rc, 0, out)
        let (_, text) = try openssl(["x509", "-noout", "-text", "-in", certPath])
        XCTAssertTrue(text.contains("Key Agreement"), text)
        let (_, pub) = try openssl(["x509", "-noout", "-pubkey", "-in", certPath])
        XCTAssertEqual(try P384.KeyAgreement.PublicKey(pemRepresentation: pub).rawRepresentation, key.publicKey.rawRepresentation)
    }

    func testAnotherCARejects() throws {
        let ca = try LocalCA(directory: dir)
        let other = try LocalCA(directory: dir + "/other")
        let key = P256.KeyAgreement.PrivateKey()
        let raw = Array(key.publicKey.rawRepresentation)
        let cert = try other.issueEKCertificate(
            for: .ecc(bits: 256, x: Array(raw[0..<32]), y: Array(raw[32...])),
            identity: .init(manufacturer: 1, model: "m", firmwareVersion: 1))
        let certPath = try write(try cert.serializeAsPEM().pemString, "foreign.pem")
        let (rc, _) = try openssl(["verify", "-CAfile", ca.directory + "/ca-cert.pem", certPath])
        XCTAssertNotEqual(rc, 0)
    }
}
