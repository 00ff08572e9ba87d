import TPMWire
import XCTest

/// Structures libtpms produced (LibtpmsVectors.swift) decode, mean what the commands that made
/// them asked for, and re-encode to the same octets. Together with the tpm2-tss vectors this pins
/// both directions: what clients send and what a TPM returns.
final class LibtpmsCrossCheckTests: XCTestCase {
    typealias L = LibtpmsVectors

    private func exact<T: Equatable & TPMEncodable>(
        _ hex: String, file: StaticString = #filePath, line: UInt = #line, _ decode: (inout TPMReader) throws -> T
    ) throws -> T {
        let bytes = hexBytes(hex)
        let value = try decodeAll(bytes, decode)
        XCTAssertEqual(value.wireBytes, bytes, file: file, line: line)
        assertEveryTruncationIsInsufficient(bytes, String(hex.prefix(16)), file: file, line: line, decode)
        return value
    }

    func testCreatePrimaryOutputs() throws {
        let outPublic = try exact(L.createPrimaryOutPublic) { try TPM2BPublic(from: &$0, allowNull: false, support: objectSupport) }
        let area = outPublic.publicArea
        XCTAssertEqual(area.nameAlg, .sha256)
        XCTAssertEqual(area.objectAttributes, [.fixedTPM, .fixedParent, .sensitiveDataOrigin, .userWithAuth, .sign])
        XCTAssertEqual(
            area.parameters,
            .ecc(
                TPMSECCParms(
                    symmetric: .null, scheme: TPMTECCScheme(.ecdsa(hashAlg: .sha256)),
                    curveID: .nistP256, kdf: .null)))
        guard case .ecc(let point) = area.unique else { return XCTFail("unique") }
        XCTAssertEqual(point.x.count, 32)
        XCTAssertEqual(point.y.count, 32)

        // The Name libtpms returned is nameAlg || SHA-256 of exactly the octets we marshal.
        let name = try exact(L.createPrimaryName) { try TPM2BName(from: &$0) }
        let computed = area.name { alg, data in
            XCTAssertEqual(alg, .sha256)
            XCTAssertEqual(data, Array(hexBytes(L.createPrimaryOutPublic).dropFirst(2)))
            return Array(name.buffer.dropFirst(2))
        }
        XCTAssertEqual(computed, name)

        // Creation data of a primary object: the parent is the owner hierarchy, whose Name is
        // its handle and which has no nameAlg.
        let creation = try exact(L.createPrimaryCreationData) { try TPM2BCreationData(from: &$0) }.creationData
        XCTAssertEqual(creation.pcrSelect, TPMLPCRSelection([TPMSPCRSelection(hash: .sha256, pcrs: [0, 1, 2])]))
        XCTAssertEqual(creation.pcrDigest.count, 32)
        XCTAssertEqual(creation.parentNameAlg, .null)
        XCTAssertEqual(creation.parentName.buffer, [0x40, 0x00, 0x00, 0x01])
        XCTAssertEqual(creation.parentQualifiedName.buffer, [0x40, 0x00, 0x00, 0x01])
        XCTAssertEqual(creation.outsideInfo.buffer, Array("outside".utf8))

        let ticket = try exact(L.createPrimaryCreationTicket) { try TPMTTKCreation(from: &$0) }
        XCTAssertEqual(ticket.hierarchy, .owner)
        XCTAssertEqual(ticket.tag, .creation)
        _ = try exact(L.createPrimaryCreationHash) { try TPM2BDigest(from: &$0) }
    }

    private func attest(_ hex: String) throws -> TPMSAttest {
        let blob = try exact(hex) { try TPM2BAttest(from: &$0) }
        let value = try blob.attest()
        XCTAssertEqual(value.wireBytes, blob.buffer)
        return value
    }

    func testQuoteCertifyAndTime() throws {
        let name = try TPM2BName(wire: hexBytes(L.createPrimaryName))
        let quote = try attest(L.quoteAttest)
        XCTAssertEqual(quote.type, .attestQuote)
        XCTAssertEqual(quote.extraData.buffer, Array("quote-nonce".utf8))
        guard case .quote(let info) = quote.attested else { return XCTFail("quote") }
        XCTAssertEqual(
            info.pcrSelect,
            TPMLPCRSelection([
                TPMSPCRSelection(hash: .sha256, pcrs: [0, 1, 2]),
                TPMSPCRSelection(hash: .sha1, pcrs: [16]),
            ]))
        XCTAssertEqual(info.pcrDigest.count, 32)

        let certify = try attest(L.certifyAttest)
        guard case .certify(let c) = certify.attested else { return XCTFail("certify") }
        XCTAssertEqual(c.name, name)
        XCTAssertEqual(certify.extraData.buffer, Array("certify".utf8))
        // The signer is the key itself: its Qualified Name is the qualified signer of both.
        XCTAssertEqual(certify.qualifiedSigner, c.qualifiedName)
        XCTAssertEqual(quote.qualifiedSigner, c.qualifiedName)

        let time = try attest(L.timeAttest)
        guard case .time(let t) = time.attested else { return XCTFail("time") }
        XCTAssertEqual(time.extraData.buffer, Array("time".utf8))
        // Clock and firmware values are obfuscated for an owner-hierarchy signer (Part 3, 18.1),
        // so the copies inside and outside TPMS_TIME_ATTEST_INFO need not agree; Time is real.
        XCTAssertGreaterThan(t.time.time, 0)
    }

    func testSignaturesAndVerificationTicket() throws {
        for hex in [L.quoteSignature, L.signSignature] {
            let sig = try exact(hex) { try TPMTSignature(from: &$0, allowNull: false, support: objectSupport) }
            guard case .ecdsa(let s) = sig.signature else { return XCTFail("ecdsa") }
            XCTAssertEqual(s.hash, .sha256)
            XCTAssertLessThanOrEqual(s.signatureR.count, 32)
        }
        let verified = try exact(L.verifiedTicket) { try TPMTTKVerified(from: &$0) }
        XCTAssertEqual(verified.hierarchy, .owner)
    }
}
