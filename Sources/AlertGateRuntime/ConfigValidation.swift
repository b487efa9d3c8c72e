import AlertGateConfig
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
    }

    public let path: String
    public let knownTransports: Set<String>
    public let environment: [String: String]

    public init(path: String, knownTransports: Set<String>, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.path = path
        self.knownTransports = knownTransports
        self.environment = environment
    }

    /// In `.readOnly` mode nothing is written: no self-signed certificate, no CRL cache file.
    public func run(selfSigned mode: StoreLoader.SelfSignedMode) async -> Result<Loaded, ConfigErrors> {
        switch ConfigLoader(knownTransports: knownTransports, environment: environment).load(path: path) {
        case .failure(let errors):
            return .failure(errors)
        case .success(let config):
            let loader = StoreLoader(config: config, crlCache: StoreLoader.crlCache(for: config, persistent: mode == .generate))
            return .success(Loaded(config: config, loader: loader, store: await loader.load(selfSigned: mode)))
        }
    }
}
