import AlertGateConfig
import Testing

/// `store.certificates[].name` becomes a file name (`data_dir/certificates/NAME.crt`).
@Suite struct CertificateNameConfigTests {
    @Test func aNameThatIsNotAPlainFileNameIsAnErrorAtTheName() {
        for name in ["../escaped", "\"/etc/x\"", ".hidden", "\"a b\"", "x/y"] {
            let found = problems(in: """
                store:
                  certificates:
                    - name: \(name)
                      self_signed: { cn: gw.local, acknowledge_insecure: true }
                """)
            #expect(found.count == 1, "\(name): \(found)")
            expectProblem(found.first, at: "3:13", "is not a valid certificate name: use letters, digits, '.', '-' and '_', not starting with '.'")
        }
    }

    @Test func plainNamesAreAccepted() throws {
        let config = try loadConfig("""
            store:
              certificates:
                - name: gateway.local-2_b
                  self_signed: { cn: gw.local, acknowledge_insecure: true }
            """).get()
        #expect(config.store.certificates.map(\.name) == ["gateway.local-2_b"])
    }

    @Test func acknowledgeInsecureIsAKeyOfCertificatesFromFiles() throws {
        let config = try loadConfig("""
            store:
              certificates:
                - name: lab
                  cert: lab.crt
                  key: lab.key
                  acknowledge_insecure: true
            """).get()
        guard case .files(let spec) = config.store.certificates.first?.source else {
            Issue.record("expected a certificate from files")
            return
        }
        #expect(spec.acknowledgeInsecure)
    }
}
