import AlertGateConfig
import AlertGateCore
import AlertGatePKI
import AlertGateRuntime
import AlertGateTesting
import Foundation
import Logging
import NIOCore
import NIOPosix

@testable import HTTP2Transport

/// A gateway folder with a test PKI: the appliance `sensor-1` (its certificate from the
/// test CA) and a partner certificate for `siem.contoso.com`; links to an http2 partner
/// are built from a config.yaml exactly as `run` builds them.
final class Gateway: Sendable {
    let pki: TestPKI
    let folder: URL
    /// The partner's certificate followed by the issuing CA (what servers present).
    let partnerChain: URL
    let partnerKey: URL
    let partner: TestPKI.Issued

    /// - Parameter partnerCRLURL: the partner certificate's CRL distribution point, if any.
    init(partnerCRLURL: String? = nil) throws {
        pki = try TestPKI()
        folder = try pki.gatewayFolder()

        let partner = try pki.issue("siem", commonName: "siem.contoso.com", crlURL: partnerCRLURL)
        self.partner = partner
        partnerChain = pki.directory.appendingPathComponent("siem-chain.pem")
        try (String(contentsOf: partner.certificate, encoding: .utf8) + String(contentsOf: pki.intermediateCertificate, encoding: .utf8))
            .write(to: partnerChain, atomically: true, encoding: .utf8)
        partnerKey = partner.key
    }

    struct Partner {
        var endpoint: String
        var format = "json"
        var maxAlerts = 500
        var headers: [String: String] = [:]
    }

    /// Writes config.yaml with one http2 partner, loads it as `run` does, and returns the
    /// plugin's sender for (sensor-1, partner).
    func sender(_ partner: Partner, environment: [String: String] = [:]) async throws -> HTTP2Sender {
        try await senderAndCRLCache(partner, environment: environment).0
    }

    /// The sender, and the CRL cache its checks use (as a CRL refresh finds it).
    func senderAndCRLCache(_ partner: Partner, environment: [String: String] = [:]) async throws -> (HTTP2Sender, CRLCache) {
        let headers = partner.headers.isEmpty ? "" : "\n    headers:\n" + partner.headers.sorted { $0.key < $1.key }
            .map { "      \($0.key): \"\($0.value)\"" }.joined(separator: "\n")
        let path = folder.appendingPathComponent("config.yaml")
        try TestPKI.gatewayConfig(partners: """
              - name: splunk
                transport: http2
                endpoint: \(partner.endpoint)
                server_name: siem.contoso.com
                trust: corp
                format: \(partner.format)\(headers)
                batch: { max_alerts: \(partner.maxAlerts) }

            """).write(to: path, atomically: true, encoding: .utf8)

        let registry = TransportRegistry([HTTP2Transport()])
        let loaded: ConfigValidation.Loaded
        switch await ConfigValidation(path: path.path, knownTransports: registry.names, environment: environment).run(selfSigned: .generate) {
        case .success(let value): loaded = value
        case .failure(let errors): throw Failure(description: errors.rendered(path: "config.yaml").joined(separator: "\n"))
        }
        var logger = Logger(label: "http2-tests")
        logger.logLevel = .warning
        let factory = LinkFactory(config: loaded.config, store: loaded.store.store, registry: registry, crlSource: loaded.loader.crlCache, logger: logger)
        let (link, plugin) = try factory.link(appliance: "sensor-1", partner: "splunk")
        guard let sender = plugin.makeSender(for: link) as? HTTP2Sender else {
            throw Failure(description: "the http2 plugin made no HTTP2Sender")
        }
        return (sender, loaded.loader.crlCache)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// `count` JSON-formattable alerts with ids `alert-N` and `seq=N` in their titles
    /// (which the bench's h2sink counts).
    static func alerts(_ count: Int, from first: Int = 1) -> [Alert] {
        (first..<(first + count)).map { index in
            Alert(
                id: "alert-\(index)", receivedAt: Date(), time: Date(timeIntervalSince1970: 1_709_280_929), severity: .critical,
                title: "PLC program download seq=\(index)", message: "Firmware change on PLC-\(index % 7)", protocolName: "s7comm",
                engine: "policy", sensor: "sensor-a", sourceIP: "10.0.0.\(index % 250)", destinationIP: "10.0.1.1", appliance: "sensor-1")
        }
    }
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
func waitForListener(port: Int, process: RunningProcess? = nil, timeout: Duration = .seconds(90)) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get() {
            try? await channel.close()
            return
        }
        if let process, !process.process.isRunning {
            throw Gateway.Failure(description: "the server exited: \(process.standardError)\(process.standardOutput)")
        }
        if ContinuousClock.now > deadline {
            throw Gateway.Failure(description: "nothing listens on 127.0.0.1:\(port)")
        }
        try await Task.sleep(for: .milliseconds(50))
    }
}
