import AlertGateConfig
import AlertGateCore
import AlertGateListeners
import AlertGatePKI
import AlertGateTesting
import Foundation
import Logging
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// An intake that records every batch offered to it and answers from a script (then
/// `.stored`): the spool is tested on its own; here what matters is what listeners hand over.
actor RecordingIntake: AlertIntake {
    /// Every batch offered, in order, whatever the answer.
    private(set) var offered: [[Alert]] = []
    /// The alerts of the batches answered `.stored`.
    private(set) var stored: [Alert] = []
    private var answers: [IntakeOutcome]

    init(answers: [IntakeOutcome] = []) {
        self.answers = answers
    }

    func accept(_ alerts: [Alert], from listener: String) async -> IntakeOutcome {
        offered.append(alerts)
        let outcome = answers.isEmpty ? .stored : answers.removeFirst()
        if outcome == .stored { stored += alerts }
        return outcome
    }

    func answer(_ outcomes: [IntakeOutcome]) {
        answers = outcomes
    }

    /// Waits until at least `count` alerts are stored (generous: the machine may be loaded).
    func waitForStored(_ count: Int, timeout: Duration = .seconds(60)) async throws -> [Alert] {
        let deadline = ContinuousClock.now + timeout
        while stored.count < count {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting for \(count) stored alerts; have \(stored.count): \(stored.map(\.title))")
                return stored
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return stored
    }
}

/// No CRLs: the test certificates name no distribution point.
struct NoCRLs: CRLSource {
    func revocationList(at url: String) async throws(CRLFetchError) -> CertificateRevocationList {
        throw CRLFetchError(url: url, reason: "no CRLs in these tests")
    }
}

/// A gateway with listeners on 127.0.0.1 port 0, a test PKI, a recording intake and
/// `TestMetrics`.
final class ListenerHarness: Sendable {
    let pki: TestPKI
    let intake: RecordingIntake
    let metrics = TestMetrics()
    /// Every line the listeners logged.
    let logs = LogRecorder()
    let listeners: ListenerSet
    /// The store the listeners started with.
    let store: CertificateStore

    static func appliance(_ name: String, cn: String? = nil, source: String? = nil, validation: ValidationPolicy = .required) -> ApplianceConfig {
        var match: ApplianceMatch?
        if let cn { match = .commonName(cn) }
        if let source {
            let parts = source.split(separator: "/")
            match = .source(CIDR(address: String(parts[0]), prefix: Int(parts[1])!))
        }
        return ApplianceConfig(name: name, kind: .sensor, validation: validation, match: match, location: .start)
    }

    static func listener(
        _ name: String, _ kind: ListenerProtocol, clientAuth: ClientAuth = .none, path: String = "/", maxMessageSize: Int = 64 * 1024,
        defaultAppliance: String? = nil
    ) -> ListenerConfig {
        ListenerConfig(
            name: name, protocol: kind, listen: HostPort(host: "127.0.0.1", port: 0), certificate: kind.usesTLS ? "gateway" : nil,
            clientAuth: clientAuth, path: path, maxMessageSize: maxMessageSize, defaultAppliance: defaultAppliance, location: .start)
    }

    init(
        listeners: [ListenerConfig], appliances: [ApplianceConfig], answers: [IntakeOutcome] = [], pki: TestPKI? = nil, store: CertificateStore? = nil,
        budget: ConnectionBudget? = nil
    ) async throws {
        let pki = try pki ?? TestPKI()
        self.pki = pki
        let store = if let store { store } else { try await Self.store(pki: pki, serverName: "gateway.contoso.com") }
        self.store = store
        let config = Self.config(pki: pki, listeners: listeners, appliances: appliances)
        intake = RecordingIntake(answers: answers)
        let logs = logs
        var logger = Logger(label: "listeners-test") { label in
            MultiplexLogHandler([StreamLogHandler.standardOutput(label: label), RecordingLogHandler(recorder: logs)])
        }
        logger.logLevel = .debug
        self.listeners = try ListenerSet(config: config, store: store, crlSource: NoCRLs(), intake: intake, logger: logger, metrics: metrics, budget: budget)
        try await self.listeners.start()
    }

    static func config(pki: TestPKI, listeners: [ListenerConfig], appliances: [ApplianceConfig]) -> GatewayConfig {
        GatewayConfig(
            gateway: GatewaySection(dataDir: pki.directory.appendingPathComponent("data")), store: StoreSection(dir: pki.directory),
            appliances: appliances, listeners: listeners)
    }

    /// Reloads the listeners with a new config (and store: by default the first).
    func reload(listeners: [ListenerConfig], appliances: [ApplianceConfig], store: CertificateStore? = nil, recheck: Bool = false) async throws {
        try await self.listeners.reload(
            config: Self.config(pki: pki, listeners: listeners, appliances: appliances), store: store ?? self.store, crlSource: NoCRLs(), recheck: recheck)
    }

    /// A store whose certificate `gateway` (the listeners' certificate) has CN `serverName`,
    /// and whose trust is the PKI's chain (with `crl`, a local CRL file, if given).
    static func store(pki: TestPKI, serverName: String, crl: URL? = nil) async throws -> CertificateStore {
        let gateway = try pki.issue(serverName, commonName: serverName)
        return await CertificateStore.load(
            entries: [.init(name: "gateway", files: CertificateFiles(certificate: gateway.certificate.path, key: gateway.key.path, chain: pki.chainFile.path))],
            trust: [.init(name: "corp", file: pki.chainFile.path, crl: crl?.path)],
            crlSource: nil)
    }

    func port(_ listener: String) -> Int {
        listeners.address(of: listener)!.port!
    }

    func counter(_ label: String, _ dimensions: [(String, String)]) -> Int64 {
        (try? metrics.expectCounter(label, dimensions).totalValue) ?? 0
    }

    /// Waits until a counter reaches `value` (it is bumped on an event loop, maybe after the
    /// client is gone).
    func waitForCounter(_ label: String, _ dimensions: [(String, String)], atLeast value: Int64, timeout: Duration = .seconds(60)) async throws -> Int64 {
        let deadline = ContinuousClock.now + timeout
        while counter(label, dimensions) < value, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        return counter(label, dimensions)
    }
}

/// The lines a logger wrote, for tests of what is logged (and how often).
final class LogRecorder: Sendable {
    private let lines = NIOLockedValueBox<[String]>([])

    func append(_ line: String) {
        lines.withLockedValue { $0.append(line) }
    }

    var all: [String] {
        lines.withLockedValue { $0 }
    }

    func containing(_ fragment: String) -> [String] {
        all.filter { $0.contains(fragment) }
    }
}

struct RecordingLogHandler: LogHandler {
    let recorder: LogRecorder
    var logLevel: Logger.Level = .debug
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        recorder.append("\(event.level) \(event.message)")
    }
}

/// Plain TCP and UDP senders on NIO (in-process, asynchronous: they never block the
/// cooperative pool the in-process server also runs on).
enum Sender {
    static func tcp(_ bytes: [UInt8], port: Int) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
        // The gateway may have closed first (a sender it refused); what was sent is sent.
        try? await channel.close()
    }

    static func tcp(_ text: String, port: Int) async throws {
        try await tcp(Array(text.utf8), port: port)
    }

    static func udp(_ datagrams: [String], port: Int) async throws {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        for datagram in datagrams {
            try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(string: datagram)))
        }
        try await channel.close()
    }

    /// RFC 6587 octet counting.
    static func octetCounted(_ messages: [String]) -> String {
        messages.map { "\($0.utf8.count) \($0)" }.joined()
    }
}
