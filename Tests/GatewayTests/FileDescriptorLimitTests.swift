import AlertGateTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// docs/reference.md §11: at a low `ulimit -n`, idle senders cannot take the descriptors the admin API
/// and the partner link need (before: 700 idle connections at `ulimit -n 512` stopped
/// `/healthz` and failed the partner with "Too many open files").
@Suite(.serialized) struct FileDescriptorLimitTests {
    /// A plain TCP connection to 127.0.0.1:`port`, left open; -1 if it failed.
    static func connect(port: Int) -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return -1 }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(socket)
            return -1
        }
        return socket
    }

    @Test func sevenHundredIdleSendersAtUlimit512LeaveTheAdminAPIAndThePartnerServed() async throws {
        let harness = try GatewayHarness()
        // All from 127.0.0.1: max_connections_per_source must not be what refuses them.
        let listeners = harness.defaultListeners.replacingOccurrences(
            of: #"listen: "127.0.0.1:\#(harness.ports.tcp)" }"#, with: #"listen: "127.0.0.1:\#(harness.ports.tcp)", max_connections_per_source: 1000 }"#)
        try harness.writeConfig(partner: harness.syslogPartner, listeners: listeners)
        let sink = try await harness.syslogSink(expect: 1)
        // `ulimit -n` in sh sets the hard limit too: the gateway cannot raise past 512.
        let gateway = try RunningProcess("/bin/sh", ["-c", "ulimit -n 512 && exec \"$0\" run --config \"$1\"", AlertGateBinary.path, harness.configFile.path])
        try await gateway.waitForOutput(containing: "alertgate running", timeout: .seconds(60))
        #expect(gateway.standardError.contains("max_connections is cut to in-tcp 128, in-tls 128, hooks 128"), "\(gateway.standardError)")

        let sockets = await Task.detached { (0..<700).map { _ in Self.connect(port: harness.ports.tcp) } }.value
        defer { for socket in sockets where socket >= 0 { close(socket) } }
        #expect(sockets.filter { $0 >= 0 }.count > 600)
        // The refused ones were counted (metrics come through the admin API, which still answers).
        let key = #"alertgate_connections_refused_total{listener="in-tcp",reason="max-connections"} "#
        var refused = 0
        var metrics = ""
        _ = await eventually {
            metrics = (try? await harness.admin("/metrics"))?.body ?? ""
            refused = metrics.split(separator: "\n").first { $0.hasPrefix(key) }.flatMap { Int($0.dropFirst(key.count)) } ?? 0
            return refused >= 500
        }
        // 128 admitted (the cut max_connections), the rest refused at once.
        #expect(refused >= 500, "refused \(refused): \(metrics.split(separator: "\n").filter { $0.contains("refused") })")
        let health = try await harness.admin("/healthz")
        #expect(health.status == 200)
        let posted = try await harness.post("[" + webhookAlert("fd", 1) + "]")
        #expect(posted.status == 202)
        let summary = try await sink.summary(timeout: .seconds(60))
        #expect(summary["seq_distinct"] as? Int == 1, "\(summary)\n\(gateway.standardError.suffix(2000))")
        #expect(!gateway.standardError.contains("Too many open files"))
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }
}
