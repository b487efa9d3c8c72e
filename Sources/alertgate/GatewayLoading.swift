import AlertGateConfig
import AlertGateCore
import AlertGateRuntime
import ArgumentParser
import Logging

/// The partner, appliance and config of `diagnose` and `send-test`.
struct LinkOptions: ParsableArguments {
    @Argument(help: "The partner's name in the config.")
    var partner: String

    @Option(name: .long, help: "The appliance to connect as (default: the first one).")
    var appliance: String?

    @Option(name: .long, help: "The config file.")
    var config = "config.yaml"

    /// The link exactly as `run` would build it, or exit 1 naming what is missing.
    func link() async throws -> (appliance: String, link: TransportLink, plugin: any TransportPlugin) {
        let (appliance, link, plugin, _) = try await linkAndConfig()
        return (appliance, link, plugin)
    }

    /// `link()`, and the config it came from.
    func linkAndConfig() async throws -> (appliance: String, link: TransportLink, plugin: any TransportPlugin, config: GatewayConfig) {
        let loaded = try await loadGateway(configPath: config)
        let factory = loaded.linkFactory(logger: commandLogger())
        guard let applianceName = appliance ?? factory.defaultAppliance else {
            printError("\(config): the config defines no appliance to connect as")
            throw ExitCode(1)
        }
        do {
            let (link, plugin) = try factory.link(appliance: applianceName, partner: partner)
            return (applianceName, link, plugin, loaded.config)
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
    }
}

/// Loads a config and its certificate store for the commands that act as the gateway
/// would (`diagnose`, `send-test`): config errors are printed and end the command.
func loadGateway(configPath: String) async throws -> ConfigValidation.Loaded {
    switch await ConfigValidation(path: configPath, transports: AlertGateCommand.transports).run(selfSigned: .generate) {
    case .failure(let errors):
        for line in errors.rendered(path: configPath) {
            printError(line)
        }
        throw ExitCode(1)
    case .success(let loaded):
        return loaded
    }
}

/// Log lines of one-shot commands go to standard error, warnings and up.
func commandLogger() -> Logger {
    var logger = Logger(label: "alertgate") { label in LineLogHandler(label: label, format: .text, output: .standardError) }
    logger.logLevel = .warning
    return logger
}

extension ConfigValidation.Loaded {
    /// Builds the links of this config with the shipped transports.
    func linkFactory(logger: Logger) -> LinkFactory {
        LinkFactory(config: config, store: store.store, registry: AlertGateCommand.transports, crlSource: loader.crlCache, logger: logger)
    }
}
