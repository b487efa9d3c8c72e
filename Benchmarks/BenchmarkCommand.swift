import AlertGateCore
import AlertGatePKI
import AlertGateRuntime
import AlertGateSpool
import AlertGateTLS
import ArgumentParser
import Foundation
import Logging
import HTTP2Transport
import SyslogTLSTransport

/// `alertgate-bench`: the gateway's own outbound path measured against the bench sinks
/// (`Benchmarks/run.sh` starts them and prints the table for docs/performance.md).
@main
struct BenchmarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alertgate-bench",
        abstract: "Measure alerts/s through a transport plugin and TLS handshakes/s.",
        subcommands: [PluginThroughput.self, Handshakes.self, SpoolThroughput.self]
    )
}

/// The connection options every benchmark shares: the sink and the appliance identity.
struct Endpoint: ParsableArguments {
    @Option(help: "The sink's port on 127.0.0.1.") var port: Int
    @Option(help: "The name the sink's certificate must match.") var serverName = "partner.test"
    @Option(help: "Trust anchors for the sink (PEM).") var ca: String
    @Option(help: "The appliance's certificate chain (PEM).") var cert: String
    @Option(help: "The appliance's key (PEM).") var key: String

    func connector(alpn: [String] = []) throws -> LinkConnector {
        let chain = try X509Certificate.certificates(from: Array(Data(contentsOf: URL(fileURLWithPath: cert))))
        let privateKey = try PrivateKey.load(from: Array(Data(contentsOf: URL(fileURLWithPath: key))), passphrase: nil)
        let context = try TLSContext(TLSConfiguration(role: .client, certificate: chain[0], privateKey: privateKey, chain: Array(chain.dropFirst()), applicationProtocols: alpn))
        let anchors = try X509Certificate.certificates(from: Array(Data(contentsOf: URL(fileURLWithPath: ca))))
        let policy = PeerPolicy(
            policy: .required,
            expectation: PeerExpectation(name: serverName, trustAnchors: anchors),
            validator: PeerValidator(crlSource: CRLCache(fetcher: HTTPCRLFetcher(), directory: nil)))
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        return LinkConnector(appliance: "sensor-1", partner: "sink", context: context, policy: policy, serverName: serverName, logger: logger)
    }
}

struct PluginThroughput: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "throughput", abstract: "Alerts/s through a transport plugin on one connection.")

    @OptionGroup var endpoint: Endpoint
    @Option(help: "The plugin: syslog-tls (CEF in RFC 5424 frames) or http2 (NDJSON POSTs).") var transport = "syslog-tls"
    @Option(name: .shortAndLong, help: "Alerts to send.") var count = 1_000_000
    @Option(help: "Alerts per send.") var batch = 500
    @Option(help: "Sends in flight at once (a dispatcher's window).") var window = 4

    func run() async throws {
        let plugin: any TransportPlugin
        let partner: PartnerSettings
        switch transport {
        case "syslog-tls":
            plugin = SyslogTLSTransport()
            partner = PartnerSettings(name: "sink", transport: transport, endpoint: "127.0.0.1:\(endpoint.port)", format: .cef)
        case "http2":
            plugin = HTTP2Transport()
            partner = PartnerSettings(
                name: "sink", transport: transport, endpoint: "https://127.0.0.1:\(endpoint.port)/ingest", format: .json,
                batch: .init(maxAlerts: batch, maxBytes: 64 << 20))
        default:
            throw ValidationError("--transport is syslog-tls or http2, not \(transport)")
        }
        let destination = try plugin.destination(of: partner)
        let connector = try endpoint.connector(alpn: destination.applicationProtocols)
        let formatter = AlertFormatter(format: partner.format, hostname: "bench", productVersion: AlertGateVersion.current)
        let link = TransportLink(
            appliance: "sensor-1", partner: partner, destination: destination,
            connector: connector, formatter: formatter, logger: Logger(label: "bench"))
        let sender = plugin.makeSender(for: link)

        let sample = transport == "http2" ? formatter.payload(Self.alert(1)) : formatter.syslogMessage(Self.alert(1))
        let start = ContinuousClock.now
        let cpuStart = Self.cpuSeconds()
        let batches = stride(from: 0, to: count, by: batch).map { $0..<min($0 + batch, count) }
        let failures = await withTaskGroup(of: DeliveryReport.self) { group in
            var failures: [DeliveryReport.Outcome] = []
            for (index, range) in batches.enumerated() {
                if index >= window, let report = await group.next(), report.outcome != .delivered {
                    failures.append(report.outcome)
                }
                group.addTask { await sender.send(range.map { Self.alert($0 + 1) }) }
            }
            for await report in group where report.outcome != .delivered {
                failures.append(report.outcome)
            }
            return failures
        }
        guard failures.isEmpty else {
            FileHandle.standardError.write(Data("\(failures.count) batches failed, the first: \(failures[0])\n".utf8))
            throw ExitCode(1)
        }
        let elapsed = (ContinuousClock.now - start).seconds
        let cpu = Self.cpuSeconds() - cpuStart
        await sender.close()
        print(#"{"bench":"\#(transport)","alerts":\#(count),"message_bytes":\#(sample.utf8.count),"wall_s":\#(elapsed),"alerts_per_s":\#(Int(Double(count) / elapsed)),"cpu_us_per_alert":\#(cpu / Double(count) * 1e6)}"#)
    }

    /// A Defender-style alert whose CEF syslog message is about 300 bytes, carrying the
    /// `seq=N` token the sinks count.
    static func alert(_ sequence: Int) -> Alert {
        // The id travels in the RFC 5424 structured data, where `seq=N` stays unescaped.
        Alert(
            id: "seq=\(sequence)", receivedAt: Date(), severity: .major, title: "Unauthorized PLC Programming",
            message: "PLC program upload", protocolName: "S7COMM", engine: "policy",
            sourceIP: "10.1.2.3", destinationIP: "10.1.2.40", appliance: "sensor-1")
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}

struct Handshakes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "handshakes", abstract: "Full TLS handshakes/s, each with the partner validated (chain, validity, name).")

    @OptionGroup var endpoint: Endpoint
    @Option(name: .shortAndLong, help: "Handshakes to make, one after another.") var count = 300

    func run() async throws {
        let connector = try endpoint.connector()
        let start = ContinuousClock.now
        let cpuStart = PluginThroughput.cpuSeconds()
        for _ in 0..<count {
            let channel = try await connector.connect(to: Destination(host: "127.0.0.1", port: endpoint.port)) { _ in }
            try await channel.channel.close()
        }
        let elapsed = (ContinuousClock.now - start).seconds
        let cpu = PluginThroughput.cpuSeconds() - cpuStart
        print(#"{"bench":"handshakes","count":\#(count),"wall_s":\#(elapsed),"handshakes_per_s":\#(Double(count) / elapsed),"cpu_ms_per_handshake":\#(cpu / Double(count) * 1e3)}"#)
    }
}

struct SpoolThroughput: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "spool", abstract: "Durable appends/s into a spool queue (group commit), then reads and acknowledgements.")

    @Option(help: "The folder for the queue (its files are deleted after).") var directory = "/tmp/alertgate-spool-bench"
    @Option(help: "Alerts to store.") var count = 300_000
    @Option(help: "Alerts per append (a listener's batch).") var batch = 100
    @Option(help: "Appenders at once (listener connections).") var appenders = 8

    func run() async throws {
        let folder = URL(fileURLWithPath: directory).appendingPathComponent(UUID().uuidString)
        defer { try? FileManager.default.removeItem(at: folder) }
        let queue = try SpoolQueue(name: "bench", directory: folder, quota: 1 << 34)
        let start = ContinuousClock.now
        let batches = count / batch
        await withTaskGroup(of: Void.self) { group in
            for appender in 0..<appenders {
                group.addTask {
                    for index in stride(from: appender, to: batches, by: appenders) {
                        let alerts = (0..<batch).map { PluginThroughput.alert(index * batch + $0 + 1) }
                        _ = try? await queue.append(alerts)
                    }
                }
            }
        }
        let appendSeconds = (ContinuousClock.now - start).seconds
        let readStart = ContinuousClock.now
        var cursor: UInt64 = 0
        while true {
            let entries = try await queue.entries(after: cursor, limit: 1000)
            guard let last = entries.last else { break }
            cursor = last.sequence
            try await queue.acknowledge(through: cursor)
        }
        let readSeconds = (ContinuousClock.now - readStart).seconds
        print(#"{"bench":"spool","alerts":\#(count),"batch":\#(batch),"appenders":\#(appenders),"durable_appends_per_s":\#(Int(Double(count) / appendSeconds)),"read_ack_per_s":\#(Int(Double(count) / readSeconds))}"#)
    }
}
