import ArgumentParser

struct VerifierCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vtpm-verifier",
        abstract: "Attest guests: enroll their TPMs, challenge them, judge their measurement lists against a policy.",
        subcommands: [ListCommand.self, CredentialCommand.self])
}
