import AlertGateRuntime
import ArgumentParser

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the gateway until SIGTERM or SIGINT (SIGHUP re-checks the certificates)."
    )

    @Option(name: .long, help: "The config file.")
    var config = "config.yaml"

    func run() async throws {
        let status = await GatewayRunner(configPath: config, transports: AlertGateCommand.transports).run()
        if status != 0 { throw ExitCode(status) }
    }
}
