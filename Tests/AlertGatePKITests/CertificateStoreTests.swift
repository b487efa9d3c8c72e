import AlertGatePKI
import AlertGateTesting
import Foundation
import Testing

@Suite struct CertificateStoreTests {
    let pki: TestPKI

    init() throws {
        pki = try TestPKI()
    }

    func entry(_ name: String, _ issued: TestPKI.Issued) -> CertificateStore.Entry {
        CertificateStore.Entry(name: name, files: CertificateFiles(certificate: issued.certificate.path, key: issued.key.path))
    }

    @Test func twoEntriesSharingACommonNameAreRefusedWithBothNames() async throws {
        let first = try pki.issue("a", commonName: "sensor.contoso.com")
        let second = try pki.issue("b", commonName: "SENSOR.contoso.com")
        let third = try pki.issue("c", commonName: "console.contoso.com")
        let store = await CertificateStore.load(
            entries: [entry("sensor-a", first), entry("sensor-b", second), entry("console", third)],
            trust: [.init(name: "corp", file: pki.chainFile.path)],
            crlSource: nil)
        #expect(store.item(named: "sensor-a")?.isValid == true)
        #expect(store.item(named: "console")?.isValid == true)
        let duplicate = try #require(store.item(named: "sensor-b"))
        #expect(!duplicate.isValid)
        #expect(duplicate.firstFailure?.code == .duplicateCN)
        #expect(duplicate.firstFailure?.problem?.message == "Each appliance must use a unique CN: sensor-a and sensor-b share CN.")
        #expect(!store.isValid)
    }

    @Test func trustBundlesAnchorCertificatesWithoutAChainFile() async throws {
        let issued = try pki.issue("sensor", commonName: "sensor.contoso.com")
        let anchored = await CertificateStore.load(entries: [entry("sensor", issued)], trust: [.init(name: "corp", file: pki.chainFile.path)], crlSource: nil)
        #expect(anchored.isValid)
        #expect(anchored.trustBundle(named: "corp")?.certificates.count == 2)

        let unanchored = await CertificateStore.load(entries: [entry("sensor", issued)], trust: [], crlSource: nil)
        #expect(unanchored.item(named: "sensor")?.firstFailure?.code == .chain)
    }

    @Test func anUnreadableTrustBundleIsReportedByName() async throws {
        let missing = pki.directory.appendingPathComponent("nope.pem").path
        let store = await CertificateStore.load(entries: [], trust: [.init(name: "corp", file: missing)], crlSource: nil)
        #expect(!store.isValid)
        #expect(store.trustBundle(named: "corp")?.problem?.contains(missing) == true)
    }
}
