import AlertGateTesting
import Foundation
import Testing

/// `diagnose` says what happened, not what it assumed: a partner that never asked for a
/// client certificate, and a CRL check that passed on a cached copy.
extension OutboundCommandTests {
    func lines(_ output: String) -> [String] {
        output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    @Test func diagnoseSaysWhenThePartnerDidNotAskForAClientCertificate() async throws {
        // openssl s_server without -verify sends no CertificateRequest.
        let issued = try pki.issue("siem-norequest", commonName: "siem.contoso.com")
        let server = try await OpenSSLServer(certificate: issued.certificate, key: issued.key, chain: pki.chainFile, mode: .sink)
        let config = try writeConfig(port: server.port)
        let result = try AlertGateBinary.run(["diagnose", "qradar", "--config", config])
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        let clientCert = lines(result.standardOutput).first { $0.hasPrefix("client cert") }
        #expect(clientCert?.contains("SKIP") == true, "\(result.standardOutput)")
        #expect(clientCert?.contains("not requested by the partner") == true)
        #expect(!result.standardOutput.contains("accepted"))

        // One that asks says so.
        let asking = try await receiver()
        let askingConfig = try writeConfig(port: asking.port)
        let asked = try AlertGateBinary.run(["diagnose", "qradar", "--config", askingConfig])
        #expect(asked.status == 0, "\(asked.standardOutput)")
        let askedLine = lines(asked.standardOutput).first { $0.hasPrefix("client cert") }
        #expect(askedLine?.contains("PASS") == true && askedLine?.contains("requested and sent") == true, "\(asked.standardOutput)")
    }

    @Test func diagnoseSaysWhenTheCRLCheckUsedACachedCopyBecauseTheFetchFailed() async throws {
        let www = pki.directory.appendingPathComponent("www")
        try pki.writeCRL(to: www.appendingPathComponent("issuing.crl"))
        let crlServer = try await FileHTTPServer(directory: www)
        var options = TestPKI.Options(commonName: "siem.contoso.com")
        options.crlURL = crlServer.url(for: "issuing.crl")
        let issued = try pki.issue("siem-crl", options)
        let partner = try await OpenSSLServer(certificate: issued.certificate, key: issued.key, chain: pki.chainFile, clientCA: pki.rootCertificate, mode: .sink)
        let config = try writeConfig(port: partner.port)

        // The first run fetches the CRL (and keeps it under data_dir/crl).
        let first = try AlertGateBinary.run(["diagnose", "qradar", "--config", config])
        #expect(first.status == 0, "\(first.standardOutput)")
        #expect(lines(first.standardOutput).contains { $0.hasPrefix("CRL fetch") && $0.contains("PASS") })

        // The distribution point stops answering: the check passes on the cached copy, and
        // diagnose says the fetch failed.
        try await crlServer.stop()
        let second = try AlertGateBinary.run(["diagnose", "qradar", "--config", config])
        #expect(second.status == 1, "\(second.standardOutput)")
        let output = lines(second.standardOutput)
        #expect(output.contains { $0.hasPrefix("CRL fetch") && $0.contains("WARN") && $0.contains(options.crlURL ?? "?") }, "\(second.standardOutput)")
        let crlLine = output.first { $0.hasPrefix("crl-unreachable") }
        #expect(crlLine?.contains("WARN") == true && crlLine?.contains("cached CRL") == true, "\(second.standardOutput)")
        #expect(!output.contains { $0.hasPrefix("crl-unreachable") && $0.contains("PASS") })
        #expect(second.standardOutput.contains("result: the connection would be made on a cached CRL"))
    }
}
