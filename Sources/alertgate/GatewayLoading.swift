import AlertGateConfig
import AlertGateRuntime
import ArgumentParser
import Logging

/// Loads a config and its certificate store for the commands that act as the gateway
/// would (`diagnose`, `send-test`): config errors are printed and end the command.
func loadGateway(configPath: String) async throws -> ConfigValidation.Loaded {
    switch await ConfigValidation(path: configPath, knownTransports: AlertGateCommand.shippedTransports).run(selfSigned: .generate) {
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
