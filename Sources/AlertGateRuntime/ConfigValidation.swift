import AlertGateConfig
import AlertGateCore
import AlertGatePKI
import Foundation

/// What `check-config` and the start of `run` do: parse the config, then load and check
/// every certificate it names. Config errors stop there; certificate problems come back
/// with the loaded store, at the config lines of their entries.
public struct ConfigValidation: Sendable {
    public struct Loaded: Sendable {
        public var config: GatewayConfig
        public var loader: StoreLoader
        public var store: StoreLoader.Outcome

        /// Certificates that appliances present or listeners serve: `run` refuses to start
        /// when one of these is invalid.
        public var requiredCertificates: Set<String> {
            Set(config.appliances.compactMap(\.certificate) + config.listeners.compactMap(\.certificate))
        }

        /// What is valid but likely not what was meant (`ConfigValidation.warnings`).
        public var warnings: [ConfigDiagnostic] {
            ConfigValidation.warnings(config)
        }
    }

    public let path: String
    public let knownTransports: Set<String>
    public let environment: [String: String]
    /// When set, each partner is also checked by its plugin (endpoint syntax, headers).
    public let transports: TransportRegistry?

    public init(path: String, knownTransports: Set<String>, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.path = path
        self.knownTransports = knownTransports
        self.environment = environment
        self.transports = nil
    }

    public init(path: String, transports: TransportRegistry, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.path = path
        self.knownTransports = transports.names
        self.environment = environment
        self.transports = transports
    }

    /// In `.readOnly` mode nothing is written: no self-signed certificate, no CRL cache file.
    public func run(selfSigned mode: StoreLoader.SelfSignedMode) async -> Result<Loaded, ConfigErrors> {
        switch ConfigLoader(knownTransports: knownTransports, environment: environment).load(path: path) {
        case .failure(let errors):
            return .failure(errors)
        case .success(let config):
            let problems = transportProblems(config)
            guard problems.isEmpty else { return .failure(ConfigErrors(diagnostics: problems)) }
            let loader = StoreLoader(config: config, crlCache: StoreLoader.crlCache(for: config, persistent: mode == .generate))
            return .success(Loaded(config: config, loader: loader, store: await loader.load(selfSigned: mode)))
        }
    }

    /// What each partner's plugin finds wrong with its settings, at the partner's line.
    func transportProblems(_ config: GatewayConfig) -> [ConfigDiagnostic] {
        guard let transports else { return [] }
        return config.partners.flatMap { partner in
            (transports.plugin(named: partner.transport)?.validate(LinkFactory.settings(partner)) ?? [])
                .map { ConfigDiagnostic(location: partner.location, message: $0) }
        }
    }

    /// Settings that are valid but likely not what was meant, at their entries' lines
    /// (each message starts with `warning:`).
    ///
    /// A TLS listener that does not require a client certificate (`client_auth: optional`
    /// or `none`) but attributes senders to an appliance under `validation: required` by
    /// source address or as its `default_appliance`: such an appliance admits no client
    /// without a certificate (docs/reference.md §11), so those senders are all refused.
    public static func warnings(_ config: GatewayConfig) -> [ConfigDiagnostic] {
        var warnings: [ConfigDiagnostic] = []
        for listener in config.listeners where listener.protocol.usesTLS && listener.clientAuth != .required {
            var reachable: [(appliance: String, how: String)] = []
            for appliance in config.appliances where appliance.validation == .required {
                if case .source(let cidr) = appliance.match {
                    reachable.append((appliance.name, "by its source \(cidr)"))
                } else if appliance.name == listener.defaultAppliance {
                    reachable.append((appliance.name, "as the listener's default_appliance"))
                }
            }
            for (appliance, how) in reachable {
                warnings.append(ConfigDiagnostic(
                    location: listener.location,
                    message: "warning: listener \(listener.name) has client_auth: \(listener.clientAuth.rawValue) and attributes senders to appliance \(appliance) (validation: required) \(how): a client without a certificate is refused there; set client_auth: required, or give the appliance validation: none"))
            }
        }
        return warnings
    }
}
