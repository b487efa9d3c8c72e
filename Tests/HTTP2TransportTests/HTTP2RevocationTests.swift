import AlertGateCore
import AlertGateTesting
import Foundation
import Testing

@testable import HTTP2Transport

/// The http2 sender checks the revocation generation before it posts: once the gateway
/// holds a CRL that revokes the partner, nothing more is posted on the open connection.
@Suite struct HTTP2RevocationTests {
    @Test func nothingIsPostedToAPartnerOnceTheGatewayHoldsACRLThatRevokesIt() async throws {
        let published = FileManager.default.temporaryDirectory.appendingPathComponent("alertgate-crl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: published, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: published) }
        let crlServer = try await FileHTTPServer(directory: published)
        let crlURL = crlServer.url(for: "ca.crl")
        let gateway = try Gateway(partnerCRLURL: crlURL)
        try gateway.pki.writeCRL(to: published.appendingPathComponent("ca.crl"))
        let server = try await NGHTTPD(gateway)
        let (sender, cache) = try await gateway.senderAndCRLCache(.init(endpoint: "https://127.0.0.1:\(server.port)/ingest"))
        #expect(await sender.send(Gateway.alerts(1)).outcome == .delivered)

        try gateway.pki.revoke(gateway.partner)
        try gateway.pki.writeCRL(to: published.appendingPathComponent("ca.crl"))
        try await cache.refresh(crlURL)
        let report = await sender.send(Gateway.alerts(1, from: 2))
        await sender.close()
        guard case .retry(_, let reason) = report.outcome else {
            Issue.record("expected a retry, got \(report.outcome)")
            return
        }
        #expect(reason.check == "revoked")
        #expect(report.accepted == 0)
        #expect(server.output.components(separatedBy: ":method: POST").count - 1 == 1, "\(server.output.suffix(2000))")
        try await crlServer.stop()
    }
}
