import ArgumentParser
import Attestation
import Foundation
import Measurement

/// `vtpm-verifier credential make`: TPM2_MakeCredential in software, written in tpm2-tools'
/// file format (so `tpm2 activatecredential -i FILE` reads it): u32 0xBADCC0DE, u32 version 1,
/// TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET.
struct CredentialCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credential", abstract: "Make a credential for an EK and an object Name (as tpm2 makecredential).",
        subcommands: [Make.self])

    struct Make: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Encrypt a secret to an EK, bound to an object's Name.")

        @Option(name: .customLong("ek-pub"), help: "The EK's TPM2B_PUBLIC (tpm2 createek -u).") var ekPub: String
        @Option(help: "The object's Name (tpm2 createak -n), binary.") var name: String
        @Option(help: "The secret, hex (at most the EK nameAlg's digest size).") var secret: String
        @Option(help: "Where to write the credential (tpm2-tools format).") var out: String

        func run() throws {
            guard let s = bytesFromHex(secret), !s.isEmpty else { throw ValidationError("--secret must be hex") }
            let ek = try TPMPublicKey(tpm2bPublic: try readFile(ekPub, max: 4096))
            let c = try MakeCredential.make(ek: ek, objectName: try readFile(name, max: 256), credential: s)
            let header: [UInt8] = [0xBA, 0xDC, 0xC0, 0xDE, 0, 0, 0, 1]
            try Data(header + c.credentialBlob + c.secret).write(to: URL(fileURLWithPath: out))
        }
    }
}
