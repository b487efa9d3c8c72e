import AlertGateConfig
import AlertGateRuntime
import AlertGateTesting
import Foundation
import Logging
import Testing

/// `alertgate status` against an admin server in the test, over a scripted backend.
@Suite struct StatusCommandTests {
    struct FixedBackend: AdminBackend {
        var current: GatewayStatus
        func isReady() async -> Bool { true }
        func status() async -> GatewayStatus { current }
        func reload() async -> ReloadReport { ReloadReport(at: Date(), ok: true, errors: []) }
    }

    static let status = GatewayStatus(
        certificates: [
            .init(name: "sensor-1", cn: "sensor-1.contoso.com", notAfter: "2027-03-01T08:15:30.000Z", state: .valid),
            .init(name: "legacy", cn: "legacy.contoso.com", notAfter: "2025-01-01T00:00:00.000Z", state: .invalid, code: "expired",
                  message: "This SSL certificate has expired and isn't considered valid."),
        ],
        appliances: [.init(name: "sensor-1", kind: "sensor", certificate: "sensor-1", validation: "required")],
        partners: [
            .init(name: "qradar", transport: "syslog-tls", state: .connected, lastError: nil, queued: 0, delivered: 42,
                  connections: [.init(appliance: "sensor-1", state: .connected)]),
            .init(name: "sentinel", transport: "http2", state: .failing,
                  lastError: .init(code: "hostname-mismatch", message: "The certificate does not match the partner's host name."),
                  queued: 7, delivered: 0, connections: []),
        ],
        lastReload: .init(at: "2026-01-02T03:04:05.000Z", ok: false, errors: ["config.yaml:3:3: unknown field validaton"]))

    func withServer(token: String? = nil, _ body: (Int) async throws -> Void) async throws {
        let server = AdminServer(
            address: HostPort(host: "127.0.0.1", port: 0), settings: .init(token: token), backend: FixedBackend(current: Self.status),
            metrics: MetricsExposition(), logger: Logger(label: "test"))
        try await server.start()
        let port = try #require(await server.boundAddress?.port)
        do {
            try await body(port)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// The rows of the output, each split into its columns.
    func rows(_ output: String) -> [[String]] {
        output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
    }

    @Test func printsTheTablesOfTheRunningGateway() async throws {
        try await withServer { port in
            let result = try await ProcessRunner.captureDetached(AlertGateBinary.path, ["status", "--admin", "127.0.0.1:\(port)"])
            #expect(result.status == 0, "\(result.standardError)")
            let output = result.standardOutput
            let lines = rows(output)
            #expect(lines.contains(["CERTIFICATES"]))
            #expect(lines.contains(["sensor-1", "sensor-1.contoso.com", "2027-03-01T08:15:30.000Z", "valid", "-"]))
            #expect(output.contains("legacy"))
            #expect(output.contains("This SSL certificate has expired and isn't considered valid. (expired)"))
            #expect(lines.contains(["sensor-1", "sensor", "sensor-1", "required"]))
            #expect(lines.contains(["qradar", "syslog-tls", "connected", "0", "42", "-"]))
            #expect(lines.contains { $0.starts(with: ["sentinel", "http2", "failing", "7", "0", "The", "certificate"]) })
            #expect(output.contains("The certificate does not match the partner's host name. (hostname-mismatch)"))
            #expect(output.contains("2026-01-02T03:04:05.000Z: failed"))
            #expect(output.contains("config.yaml:3:3: unknown field validaton"))
        }
    }

    @Test func takesTheAddressFromTheConfigsGatewayAdmin() async throws {
        try await withServer { port in
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("status-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let config = folder.appendingPathComponent("config.yaml")
            try "gateway:\n  data_dir: data\n  admin: 127.0.0.1:\(port)\n".write(to: config, atomically: true, encoding: .utf8)
            let result = try await ProcessRunner.captureDetached(AlertGateBinary.path, ["status", "--config", config.path])
            #expect(result.status == 0, "\(result.standardError)")
            #expect(rows(result.standardOutput).contains(["qradar", "syslog-tls", "connected", "0", "42", "-"]))
        }
    }

    @Test func aClosedPortExits1NamingTheAddress() async throws {
        // A port that was just bound and released: nothing listens there.
        var closedPort = 0
        try await withServer { port in closedPort = port }
        let result = try await ProcessRunner.captureDetached(AlertGateBinary.path, ["status", "--admin", "127.0.0.1:\(closedPort)"])
        #expect(result.status == 1)
        #expect(result.standardError.contains("cannot reach the admin API at 127.0.0.1:\(closedPort): connection refused"), "\(result.standardError)")
        #expect(result.standardOutput.isEmpty)
    }

    @Test func anAnswerOtherThan200Exits1NamingTheAddressAndStatus() async throws {
        // A web server that is not the admin API: /v1/status is not there.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("status-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try await FileHTTPServer(directory: folder)
        let result = try await ProcessRunner.captureDetached(AlertGateBinary.path, ["status", "--admin", "127.0.0.1:\(server.port)"])
        try await server.stop()
        #expect(result.status == 1)
        #expect(result.standardError.contains("the admin API at 127.0.0.1:\(server.port) answered 404"), "\(result.standardError)")
    }

    @Test func aConfigWithoutGatewayAdminSaysSo() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("status-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("config.yaml")
        try "gateway:\n  data_dir: data\n".write(to: config, atomically: true, encoding: .utf8)
        let result = try await ProcessRunner.captureDetached(AlertGateBinary.path, ["status", "--config", config.path])
        #expect(result.status == 1)
        #expect(result.standardError.contains("gateway.admin is not set"))
    }

    @Test func aMalformedAdminAddressIsAUsageError() async throws {
        let result = try await ProcessRunner.captureDetached(AlertGateBinary.path, ["status", "--admin", "localhost"])
        #expect(result.status == 2)
        #expect(result.standardError.contains("--admin"))
    }

    @Test func sendsTheAdminTokenFromTheEnvironmentOrTheConfig() async throws {
        let token = "status-token-0123456789"
        try await withServer(token: token) { port in
            let without = try await ProcessRunner.captureDetached(AlertGateBinary.path, ["status", "--admin", "127.0.0.1:\(port)"])
            #expect(without.status == 1)
            #expect(without.standardError.contains("answered 401 Unauthorized to GET /v1/status: it needs a token; set ALERTGATE_ADMIN_TOKEN"), "\(without.standardError)")

            let fromEnvironment = try await ProcessRunner.captureDetached(
                AlertGateBinary.path, ["status", "--admin", "127.0.0.1:\(port)"], environment: ["ALERTGATE_ADMIN_TOKEN": token])
            #expect(fromEnvironment.status == 0, "\(fromEnvironment.standardError)")
            #expect(rows(fromEnvironment.standardOutput).contains(["qradar", "syslog-tls", "connected", "0", "42", "-"]))

            let wrong = try await ProcessRunner.captureDetached(
                AlertGateBinary.path, ["status", "--admin", "127.0.0.1:\(port)"], environment: ["ALERTGATE_ADMIN_TOKEN": token + "x"])
            #expect(wrong.status == 1)
            #expect(wrong.standardError.contains("the token was refused"))

            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("status-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let config = folder.appendingPathComponent("config.yaml")
            try "gateway:\n  data_dir: data\n  admin: 127.0.0.1:\(port)\n  admin_token: ${GW_ADMIN_TOKEN}\n".write(to: config, atomically: true, encoding: .utf8)
            let fromConfig = try await ProcessRunner.captureDetached(
                AlertGateBinary.path, ["status", "--config", config.path], environment: ["GW_ADMIN_TOKEN": token])
            #expect(fromConfig.status == 0, "\(fromConfig.standardError)")
        }
    }
}
