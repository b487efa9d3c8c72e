import AlertGateRuntime
import ArgumentParser

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the gateway until SIGTERM or SIGINT; SIGHUP reloads it.",
        discussion: """
            A reload (SIGHUP, POST /v1/reload, or a file change with store.watch: true) reads config.yaml and every \
            certificate, key, chain, trust and CRL file again, checks them all, and only then puts them in use: \
            certificates, partners, appliances, listeners (added, removed, moved, re-configured), forwarding rules \
            and store.watch itself. An invalid new state changes nothing and is logged. Exits 0 on a clean stop, \
            1 when the config or a required certificate is invalid or an address cannot be bound at start.
            """
    )

    @Option(name: .long, help: "The config file.")
    var config = "config.yaml"

    func run() async throws {
        let status = await GatewayRunner(configPath: config, transports: AlertGateCommand.transports).run()
        if status != 0 { throw ExitCode(status) }
    }
}
