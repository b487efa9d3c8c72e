import AlertGatePKI
import AlertGateTesting
import Foundation
import Testing

/// A self-signed certificate is its own root only when the operator acknowledged it; an
/// unrelated chain or trust bundle does not make it valid.
@Suite struct SelfSignedAcknowledgementTests {
    let pki: TestPKI
    let files: (certificate: URL, key: URL)

    init() throws {
        pki = try TestPKI()
        let pair = try SelfSignedCertificate.generate(commonName: "lab.local", bits: 2048, days: 30, subject: [])
        files = try SelfSignedCertificate.write(pair, name: "lab.local", to: pki.directory.appendingPathComponent("self"))
    }

    func load(acknowledged: Bool, chain: String? = nil) async -> CertificateStore.Item? {
        let entry = CertificateStore.Entry(name: "lab", files: CertificateFiles(
            certificate: files.certificate.path, key: files.key.path, chain: chain, acknowledgeSelfSigned: acknowledged))
        return await CertificateStore.load(entries: [entry], trust: [.init(name: "corp", file: pki.chainFile.path)], crlSource: nil).item(named: "lab")
    }

    @Test func unacknowledgedItFailsChainAgainstAnUnrelatedChainAndTrust() async throws {
        let item = try #require(await load(acknowledged: false, chain: pki.chainFile.path))
        #expect(!item.isValid)
        #expect(item.firstFailure?.code == .chain)
        #expect(item.firstFailure?.problem?.message == "Cannot validate chain of trust. The provided Certificate and Root CA don't match.")
        #expect(item.firstFailure?.detail?.contains("acknowledge_insecure: true") == true)
    }

    @Test func acknowledgedOrListedInItsOwnChainItPasses() async throws {
        #expect(await load(acknowledged: true)?.isValid == true)
        #expect(await load(acknowledged: false, chain: files.certificate.path)?.isValid == true)
    }

    @Test func theKeyFileIsPrivateAndNoTemporaryFileIsLeft() throws {
        let mode = try FileManager.default.attributesOfItem(atPath: files.key.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let names = try FileManager.default.contentsOfDirectory(atPath: files.key.deletingLastPathComponent().path)
        #expect(names.sorted() == ["lab.local.crt", "lab.local.key"])
        #expect(throws: CertificateGenerationError.self) {
            _ = try SelfSignedCertificate.write(
                try SelfSignedCertificate.generate(commonName: "x.local", bits: 2048, days: 1, subject: []), name: "../x", to: pki.directory)
        }
    }
}
