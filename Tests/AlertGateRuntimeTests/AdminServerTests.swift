import AlertGateConfig
import AlertGateRuntime
import AlertGateTesting
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Metrics
import NIOCore
import Testing

/// The admin API (docs/reference.md §9) on a loopback port, asked with curl, over a scripted backend.
@Suite struct AdminServerTests {
    /// A backend whose answers the test sets.
    actor ScriptedBackend: AdminBackend {
        var ready = false
        var current: GatewayStatus
        var nextReload: ReloadReport
        var reloads = 0

        init(status: GatewayStatus, reload: ReloadReport) {
            current = status
            nextReload = reload
        }

        func setReady(_ value: Bool) { ready = value }
        func setReload(_ report: ReloadReport) { nextReload = report }

        func isReady() async -> Bool { ready }
        func status() async -> GatewayStatus { current }
        func reload() async -> ReloadReport {
            reloads += 1
            return nextReload
        }
    }

    static let sampleStatus = GatewayStatus(
        certificates: [
            .init(name: "sensor-1", cn: "sensor-1.contoso.com", notAfter: "2027-03-01T08:15:30.000Z", state: .valid),
            .init(name: "old", cn: "old.contoso.com", notAfter: "2025-01-01T00:00:00.000Z", state: .invalid, code: "expired",
                  message: "This SSL certificate has expired and isn't considered valid."),
        ],
        appliances: [
            .init(name: "sensor-1", kind: "sensor", certificate: "sensor-1", validation: "required"),
            .init(name: "cm", kind: "central-manager", certificate: nil, validation: "none"),
        ],
        partners: [
            .init(name: "qradar", transport: "syslog-tls", state: .connected, lastError: nil, queued: 0, delivered: 42,
                  connections: [.init(appliance: "sensor-1", state: .connected)]),
            .init(name: "sentinel", transport: "http2", state: .failing,
                  lastError: .init(code: "hostname-mismatch", message: "The certificate does not match the partner's host name."),
                  queued: 7, delivered: 0, connections: []),
        ],
        lastReload: nil)

    struct Served {
        let server: AdminServer
        let backend: ScriptedBackend
        let base: String
    }

    /// Runs `body` against a server on 127.0.0.1:0, stopping it afterwards.
    func withServer(
        metrics: MetricsExposition = MetricsExposition(),
        settings: AdminServer.Settings = AdminServer.Settings(),
        reload: ReloadReport = ReloadReport(at: Date(), ok: true, errors: []),
        _ body: (Served) async throws -> Void
    ) async throws {
        let backend = ScriptedBackend(status: Self.sampleStatus, reload: reload)
        let server = AdminServer(
            address: HostPort(host: "127.0.0.1", port: 0), settings: settings, backend: backend, metrics: metrics, logger: Logger(label: "test"))
        try await server.start()
        let port = try #require(await server.boundAddress?.port)
        do {
            try await body(Served(server: server, backend: backend, base: "http://127.0.0.1:\(port)"))
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    struct Answer {
        var status: Int
        var contentType: String
        var body: String
    }

    /// One request by curl: the status, the content type and the body.
    func curl(_ url: String, method: String = "GET", headers: [String] = [], data: String? = nil) async throws -> Answer {
        let result = try await ProcessRunner.captureDetached("/usr/bin/curl", [
            "-sS", "-X", method, "--max-time", "60", "-o", "-",
            "-w", "\n%{http_code}\n%{content_type}", url,
        ] + headers.flatMap { ["-H", $0] } + (data.map { ["--data-binary", $0] } ?? []))
        #expect(result.status == 0, "curl: \(result.standardError)")
        var lines = result.standardOutput.components(separatedBy: "\n")
        let contentType = lines.removeLast()
        let status = Int(lines.removeLast()) ?? -1
        return Answer(status: status, contentType: contentType, body: lines.joined(separator: "\n"))
    }

    func jsonObject(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    // MARK: Probes

    @Test func healthzIsAlwaysOKAndReadyzFollowsTheBackend() async throws {
        try await withServer { served in
            let health = try await curl(served.base + "/healthz")
            #expect(health.status == 200)
            #expect(health.body.trimmingCharacters(in: .whitespacesAndNewlines) == "ok")

            let notReady = try await curl(served.base + "/readyz")
            #expect(notReady.status == 503)
            #expect(notReady.body.trimmingCharacters(in: .whitespacesAndNewlines) == "not ready")

            await served.backend.setReady(true)
            let ready = try await curl(served.base + "/readyz")
            #expect(ready.status == 200)
            #expect(ready.body.trimmingCharacters(in: .whitespacesAndNewlines) == "ready")
        }
    }

    @Test func unknownPathsAre404AndWrongMethods405() async throws {
        try await withServer { served in
            let unknown = try await curl(served.base + "/nope")
            #expect(unknown.status == 404)
            #expect(unknown.body.contains("/nope"))
            let reloadByGet = try await curl(served.base + "/v1/reload")
            #expect(reloadByGet.status == 405)
            #expect(reloadByGet.body.contains("use POST"))
            let statusByPost = try await curl(served.base + "/v1/status", method: "POST")
            #expect(statusByPost.status == 405)
            let healthByDelete = try await curl(served.base + "/healthz", method: "DELETE")
            #expect(healthByDelete.status == 405)
            #expect(await served.backend.reloads == 0)
        }
    }

    // MARK: /v1/status

    @Test func statusHasExactlySPECsFieldsWithNullsPresent() async throws {
        try await withServer { served in
            let answer = try await curl(served.base + "/v1/status")
            #expect(answer.status == 200)
            #expect(answer.contentType.hasPrefix("application/json"))
            let object = try jsonObject(answer.body)
            #expect(Set(object.keys) == ["certificates", "appliances", "partners", "last_reload"])
            #expect(object["last_reload"] is NSNull)

            let certificates = try #require(object["certificates"] as? [[String: Any]])
            #expect(certificates.count == 2)
            for certificate in certificates {
                #expect(Set(certificate.keys) == ["name", "cn", "not_after", "state", "code", "message"])
            }
            #expect(certificates[0]["state"] as? String == "valid")
            #expect(certificates[0]["code"] is NSNull)
            #expect(certificates[0]["message"] is NSNull)
            #expect(certificates[0]["not_after"] as? String == "2027-03-01T08:15:30.000Z")
            #expect(certificates[1]["state"] as? String == "invalid")
            #expect(certificates[1]["code"] as? String == "expired")

            let appliances = try #require(object["appliances"] as? [[String: Any]])
            for appliance in appliances {
                #expect(Set(appliance.keys) == ["name", "kind", "certificate", "validation"])
            }
            #expect(appliances[1]["certificate"] is NSNull)

            let partners = try #require(object["partners"] as? [[String: Any]])
            for partner in partners {
                #expect(Set(partner.keys) == ["name", "transport", "state", "last_error", "queued", "delivered", "connections"])
            }
            #expect(partners[0]["last_error"] is NSNull)
            #expect(partners[0]["delivered"] as? Int == 42)
            let connections = try #require(partners[0]["connections"] as? [[String: Any]])
            #expect(connections.map { Set($0.keys) } == [["appliance", "state"]])
            #expect(connections.first?["state"] as? String == "connected")
            let lastError = try #require(partners[1]["last_error"] as? [String: Any])
            #expect(Set(lastError.keys) == ["code", "message"])
            #expect(lastError["code"] as? String == "hostname-mismatch")
            #expect(partners[1]["state"] as? String == "failing")

            // And it reads back as the same value.
            #expect(try JSONDecoder().decode(GatewayStatus.self, from: Data(answer.body.utf8)) == Self.sampleStatus)
        }
    }

    @Test func lastReloadIsAnObjectOnceAReloadRan() throws {
        var status = Self.sampleStatus
        status.lastReload = .init(ReloadReport(at: Date(timeIntervalSince1970: 1_700_000_000), ok: false, errors: ["config.yaml:3:3: bad"]))
        let data = try JSONEncoder().encode(status)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let reload = try #require(object["last_reload"] as? [String: Any])
        #expect(Set(reload.keys) == ["at", "ok", "errors"])
        #expect(reload["at"] as? String == "2023-11-14T22:13:20.000Z")
        #expect(reload["ok"] as? Bool == false)
        #expect(reload["errors"] as? [String] == ["config.yaml:3:3: bad"])
    }

    // MARK: /v1/reload

    @Test func reloadAnswers200WhenItWorkedAnd422WithTheErrorsWhenNot() async throws {
        try await withServer { served in
            let good = try await curl(served.base + "/v1/reload", method: "POST")
            #expect(good.status == 200)
            let goodObject = try jsonObject(good.body)
            #expect(goodObject["ok"] as? Bool == true)
            #expect(Set(goodObject.keys) == ["ok"])

            await served.backend.setReload(ReloadReport(at: Date(), ok: false, errors: ["certificate sensor-1: This SSL certificate has expired and isn't considered valid. (expired)"]))
            let bad = try await curl(served.base + "/v1/reload", method: "POST")
            #expect(bad.status == 422)
            let badObject = try jsonObject(bad.body)
            #expect(badObject["ok"] as? Bool == false)
            #expect(badObject["errors"] as? [String] == ["certificate sensor-1: This SSL certificate has expired and isn't considered valid. (expired)"])
            #expect(await served.backend.reloads == 2)
        }
    }

    // MARK: /metrics

    @Test func metricsExposeCountersRecordedThroughTheFactory() async throws {
        let metrics = MetricsExposition()
        Counter(label: "alertgate_alerts_forwarded_total", dimensions: [("partner", "qradar")], factory: metrics.factory).increment(by: 3)
        Counter(label: "alertgate_alerts_forwarded_total", dimensions: [("partner", "sentinel")], factory: metrics.factory).increment()
        // The same labels in another order count into the same series.
        Counter(label: "alertgate_handshake_failures_total", dimensions: [("appliance", "s1"), ("partner", "qradar"), ("check", "expired")], factory: metrics.factory).increment()
        Counter(label: "alertgate_handshake_failures_total", dimensions: [("partner", "qradar"), ("check", "expired"), ("appliance", "s1")], factory: metrics.factory).increment()
        Counter(label: "alertgate_alerts_unmatched_total", factory: metrics.factory).increment(by: 2)
        Gauge(label: "alertgate_spool_depth", dimensions: [("partner", "qradar")], factory: metrics.factory).record(5)

        try await withServer(metrics: metrics) { served in
            let answer = try await curl(served.base + "/metrics")
            #expect(answer.status == 200)
            #expect(answer.contentType == "text/plain; version=0.0.4")
            let lines = Set(answer.body.split(separator: "\n").map(String.init))
            #expect(lines.contains("# TYPE alertgate_alerts_forwarded_total counter"))
            #expect(lines.contains(#"alertgate_alerts_forwarded_total{partner="qradar"} 3"#))
            #expect(lines.contains(#"alertgate_alerts_forwarded_total{partner="sentinel"} 1"#))
            #expect(lines.contains(#"alertgate_handshake_failures_total{appliance="s1",check="expired",partner="qradar"} 2"#))
            #expect(lines.contains("alertgate_alerts_unmatched_total 2"))
            #expect(lines.contains(#"alertgate_spool_depth{partner="qradar"} 5.0"#), "\(lines)")

            // Counted after the server started: /metrics renders the registry as it is now.
            Counter(label: "alertgate_alerts_forwarded_total", dimensions: [("partner", "qradar")], factory: metrics.factory).increment()
            let again = try await curl(served.base + "/metrics")
            #expect(again.body.contains(#"alertgate_alerts_forwarded_total{partner="qradar"} 4"#))
        }
    }

    @Test func bootstrapInstallsOneExpositionPerProcess() {
        let first = MetricsExposition.bootstrap()
        let second = MetricsExposition.bootstrap()
        #expect(first.registry === second.registry)
        // Code that counts through the global factory lands in it.
        Counter(label: "alertgate_admin_bootstrap_test_total").increment()
        #expect(String(decoding: first.render(), as: UTF8.self).contains("alertgate_admin_bootstrap_test_total 1"))
    }

    #if canImport(Glibc)
    @Test func stopClosesConnectionsKeptOpenBetweenRequests() async throws {
        let backend = ScriptedBackend(status: Self.sampleStatus, reload: ReloadReport(at: Date(), ok: true, errors: []))
        // Deadlines far off (a loaded machine may take seconds between connect and send): only stop() closes.
        let server = AdminServer(
            address: HostPort(host: "127.0.0.1", port: 0), settings: .init(headerTimeout: .seconds(120), idleTimeout: .seconds(120)),
            backend: backend, metrics: MetricsExposition(), logger: Logger(label: "test"))
        try await server.start()
        let port = try #require(await server.boundAddress?.port)
        let connection = try await KeptOpen.connect(port: port)
        defer { close(connection.socket) }
        #expect(try await connection.exchange("GET /healthz HTTP/1.1\r\nHost: admin\r\n\r\n").hasPrefix("HTTP/1.1 200 OK"))
        await server.stop()
        // The server closed its end: the next read ends the stream.
        #expect(try await connection.exchange(nil) == "")
    }

    /// A raw keep-alive connection; the blocking socket calls run on a thread of their own.
    struct KeptOpen: Sendable {
        let socket: Int32

        static func connect(port: Int) async throws -> KeptOpen {
            try await onThread {
                let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                guard fd >= 0 else { throw SocketFailure(step: "socket") }
                var timeout = timeval(tv_sec: 20, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                guard connected == 0 else {
                    close(fd)
                    throw SocketFailure(step: "connect")
                }
                return KeptOpen(socket: fd)
            }
        }

        /// Sends `request` (if any) and returns what one read brings ("" at the end of the stream).
        func exchange(_ request: String?) async throws -> String {
            let fd = socket
            return try await Self.onThread {
                if let request {
                    let bytes = Array(request.utf8)
                    guard send(fd, bytes, bytes.count, 0) == bytes.count else { throw SocketFailure(step: "send") }
                }
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = recv(fd, &buffer, buffer.count, 0)
                guard count >= 0 else { throw SocketFailure(step: "recv") }
                return String(decoding: buffer[..<count], as: UTF8.self)
            }
        }

        struct SocketFailure: Error {
            var step: String
        }

        private static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
            try await withCheckedThrowingContinuation { continuation in
                Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
            }
        }
    }
    #endif

    @Test func aBusyAddressIsAnErrorNamingIt() async throws {
        try await withServer { served in
            let port = try #require(await served.server.boundAddress?.port)
            let second = AdminServer(
                address: HostPort(host: "127.0.0.1", port: port), backend: served.backend, metrics: MetricsExposition(), logger: Logger(label: "test"))
            await #expect(throws: AdminServerError.self) { try await second.start() }
            do {
                try await second.start()
            } catch {
                #expect("\(error)".contains("127.0.0.1:\(port)"))
            }
        }
    }
}
