import ArgumentParser

struct VerifierCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vtpm-verifier",
        abstract: "Attest guests: enroll their TPMs, challenge them, judge their measurement lists against a policy.",
        subcommands: [
            Serve.self, Enroll.self, Attest.self, Status.self, Audit.self, PolicyCommand.self, ListCommand.self, CredentialCommand.self,
            BenchCommand.self,
        ])
}
