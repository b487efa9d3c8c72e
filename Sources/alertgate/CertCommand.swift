import ArgumentParser

struct CertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert",
        abstract: "Check and make appliance certificates.",
        subcommands: [CertCheckCommand.self, CertSelfSignedCommand.self, CertFetchCommand.self]
    )
}
