import AlertGateTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Hostile TLS senders against `alertgate run` (docs/reference.md §11).
@Suite(.serialized) struct TLSEdgeTests {
    /// A TLS client with a valid certificate whose CRL URL never answers, sending as fast
    /// as `yes` feeds `openssl s_client`: while its certificate is checked (10 s, the CRL
    /// timeout) the gateway reads nothing more from it, so its memory does not follow the
    /// sender. Before, RSS went from 41 MiB to 1.4 GiB during a 2 s check; now it grows by
    /// about 1.3 MiB. The bound asserted, 64 MiB over the RSS before the blast, leaves room
    /// for the allocator's noise; the connection itself holds at most 320 KiB of ciphertext
    /// (64 KiB + one read) and the kernel the rest.
    @Test func aBlastWhileTheClientCertificateIsCheckedKeepsTheGatewaysMemoryBounded() async throws {
        let silent = try SilentPort()
        let harness = try GatewayHarness()
        let blaster = try harness.pki.issue("blaster", commonName: "console-1.contoso.com", crlURL: "http://127.0.0.1:\(silent.port)/never.crl")
        try harness.writeConfig(partner: harness.syslogPartner("siem", port: harness.ports.partner), crlMaxAge: "1h, timeout: 10s")
        let gateway = try await harness.start()
        let pid = gateway.process.processIdentifier
        let before = try residentBytes(of: pid)

        let line = sensorLine("blast", 1).replacingOccurrences(of: "'", with: "")
        let client = [
            "/usr/bin/openssl", "s_client", "-connect", "127.0.0.1:\(harness.ports.tls)", "-CAfile", harness.pki.chainFile.path, "-quiet",
            "-cert", blaster.certificate.path, "-key", blaster.key.path, "-cert_chain", harness.pki.chainFile.path,
        ].joined(separator: " ")
        let sender = try RunningProcess("/bin/sh", ["-c", "yes '\(line)' | \(client)"])

        // Sampled until the check ends: the CRL fetch times out and `required` refuses.
        // Meanwhile the sender fills the gateway's socket: the kernel holds what the
        // gateway does not read (proof that the blast is on, and not read into memory; the
        // receive buffer of a socket nobody reads stays at its first size, 128 KiB by default).
        var peak = before
        var mostUnread = 0
        let refusal = "refused the client certificate CN=console-1.contoso.com"
        let deadline = ContinuousClock.now + .seconds(60)
        while !gateway.standardError.contains(refusal), ContinuousClock.now < deadline {
            peak = max(peak, try residentBytes(of: pid))
            mostUnread = max(mostUnread, try unreadBytes(atLocalPort: harness.ports.tls))
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(mostUnread > 64 << 10, "the gateway's socket never held 64 KiB unread (\(mostUnread) bytes); sender: \(sender.standardError)")
        peak = max(peak, try residentBytes(of: pid))
        #expect(gateway.standardError.contains(refusal), "\(gateway.standardError)")
        #expect(gateway.standardError.contains("CRL"), "\(gateway.standardError)")
        let grown = peak - before
        print("RSS before the blast \(before >> 20) MiB, peak during it \(peak >> 20) MiB (+\(grown >> 10) KiB); \(mostUnread >> 10) KiB left unread in the socket")
        #expect(grown < 64 << 20, "RSS grew by \(grown >> 20) MiB during the blast")
        withExtendedLifetime(sender) {}
        // The harness's in-tls (client_auth: optional) attributes to sensor-1 (required) by
        // source: `run` says so at the start, as check-config does.
        #expect(gateway.standardError.contains("warning: listener in-tls has client_auth: optional and attributes senders to appliance sensor-1"))
        gateway.signal(SIGTERM)
        _ = try await gateway.waitForExit()
    }
}

/// VmRSS of a process, in bytes.
func residentBytes(of pid: Int32) throws -> Int {
    let status = try procFile("/proc/\(pid)/status")
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
        let kilobytes = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap({ Int($0) })
    else {
        throw BenchTool.Failure(description: "no VmRSS in /proc/\(pid)/status")
    }
    return kilobytes * 1024
}

/// A /proc file read to its end: they report a size of 0 and come a page per read().
func procFile(_ path: String) throws -> String {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { throw BenchTool.Failure(description: "cannot open \(path): errno \(errno)") }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { break }
        bytes += chunk[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// The receive queue of the established IPv4 connection whose local port is `port`
/// (`/proc/net/tcp`): what the kernel holds that the process has not read.
func unreadBytes(atLocalPort port: Int) throws -> Int {
    let table = try procFile("/proc/net/tcp")
    let local = String(format: ":%04X", port)
    var most = 0
    for row in table.split(separator: "\n").dropFirst() {
        let fields = row.split(separator: " ", omittingEmptySubsequences: true)
        // sl local_address rem_address st tx_queue:rx_queue …; st 01 is ESTABLISHED.
        guard fields.count > 4, fields[1].hasSuffix(local), fields[3] == "01" else { continue }
        let queues = fields[4].split(separator: ":")
        if queues.count == 2, let unread = Int(queues[1], radix: 16) { most = max(most, unread) }
    }
    return most
}

/// A loopback port whose connections the kernel accepts (into the backlog) and nothing
/// ever answers: a CRL server that hangs.
final class SilentPort: @unchecked Sendable {
    let port: Int
    private let descriptor: Int32

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && listen(descriptor, 64) == 0 && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard bound else {
            close(descriptor)
            throw BenchTool.Failure(description: "cannot listen on a loopback port: errno \(errno)")
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit {
        close(descriptor)
    }
}
