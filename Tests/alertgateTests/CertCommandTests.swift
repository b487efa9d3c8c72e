import AlertGateTesting
import Foundation
import Testing

/// `alertgate cert …` as an operator runs it: the real binary, real files.
@Suite struct CertCommandTests {
    let pki: TestPKI

    init() throws {
        pki = try TestPKI()
    }

    @Test func checkPrintsTheReportWithSubjectFieldsInOperatorOrder() throws {
        let issued = try pki.issue("sensor-1", commonName: "sensor-1.contoso.com")
        let result = try AlertGateBinary.run(["cert", "check", "--cert", issued.certificate.path, "--key", issued.key.path, "--chain", pki.chainFile.path])
        #expect(result.status == 0, "\(result.standardError)")
        let lines = result.standardOutput.split(separator: "\n").map { String($0) }
        let subjectKeys = lines.drop { $0 != "Subject:" }.dropFirst().prefix { $0.hasPrefix("  ") }.map { $0.split(separator: " ")[0] }
        #expect(subjectKeys == ["C", "ST", "L", "O", "OU", "CN", "emailAddress"])
        #expect(lines.contains("  CN            sensor-1.contoso.com"))
        #expect(lines.contains { $0.hasPrefix("Issuer:") && $0.hasSuffix("CN=Test Issuing CA") })
        #expect(lines.contains("Key:          RSA 2048"))
        #expect(lines.contains("Signature:    sha256WithRSAEncryption"))
        #expect(lines.contains("SAN:          DNS:sensor-1.contoso.com"))
        #expect(lines.contains { $0.hasPrefix("Valid until:") })
        #expect(lines.contains { $0.hasPrefix("  PASS  chain") })
        #expect(lines.contains { $0.hasPrefix("  SKIP  revoked") })
        #expect(lines.last == "Result: valid")
    }

    @Test func checkOfAnExpiredCertificateExitsOneWithTheMessage() throws {
        var options = TestPKI.Options(commonName: "old.contoso.com")
        options.startDate = TestPKI.caDate(daysFromNow: -100)
        options.endDate = TestPKI.caDate(daysFromNow: -1)
        let issued = try pki.issue("old", options)
        let result = try AlertGateBinary.run(["cert", "check", "--cert", issued.certificate.path, "--chain", pki.chainFile.path])
        #expect(result.status == 1)
        #expect(result.standardOutput.contains("  FAIL  expired         This SSL certificate has expired and isn't considered valid."))
        #expect(result.standardOutput.contains("Result: invalid (1 check failed)"))
    }

    @Test func checkJSONCarriesCodesAndTheSubjectInOrder() throws {
        var options = TestPKI.Options(commonName: "weak.contoso.com")
        options.keyType = .rsa(bits: 1024)
        let issued = try pki.issue("weak", options)
        let result = try AlertGateBinary.run(["cert", "check", "--cert", issued.certificate.path, "--key", issued.key.path, "--chain", pki.chainFile.path, "--json"])
        #expect(result.status == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        #expect(object["valid"] as? Bool == false)
        #expect(object["key"] as? String == "RSA 1024")
        #expect(object["signature"] as? String == "sha256WithRSAEncryption")
        #expect(object["san"] as? [String] == ["DNS:weak.contoso.com"])
        #expect(object["crl_urls"] as? [String] == [])
        #expect(object["not_after"] is String)
        let checks = try #require(object["checks"] as? [[String: Any]])
        let weak = try #require(checks.first { $0["code"] as? String == "weak-key" })
        #expect(weak["ok"] as? Bool == false)
        #expect(weak["message"] as? String == "The public key must be RSA 2048 bits or more.")
        #expect(checks.filter { $0["ok"] as? Bool == false }.count == 1)
        // The subject object keeps the operators' order.
        let text = result.standardOutput
        let positions = ["\"C\"", "\"ST\"", "\"L\"", "\"O\"", "\"OU\"", "\"CN\"", "\"emailAddress\""].compactMap { text.range(of: $0)?.lowerBound }
        #expect(positions.count == 7)
        #expect(positions == positions.sorted())
    }

    @Test func passphraseFromEnvironmentOrFile() throws {
        var options = TestPKI.Options(commonName: "locked.contoso.com")
        options.keyFormat = .pkcs8Encrypted(passphrase: "correct horse")
        let issued = try pki.issue("locked", options)
        let base = ["cert", "check", "--cert", issued.certificate.path, "--key", issued.key.path, "--chain", pki.chainFile.path]

        let fromEnvironment = try AlertGateBinary.run(base + ["--passphrase-env", "SENSOR_PASS"], environment: ["SENSOR_PASS": "correct horse"])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.standardOutput)")

        let file = pki.directory.appendingPathComponent("pass.txt")
        try "correct horse\n".write(to: file, atomically: true, encoding: .utf8)
        let fromFile = try AlertGateBinary.run(base + ["--passphrase-file", file.path])
        #expect(fromFile.status == 0, "\(fromFile.standardOutput)")

        let wrong = try AlertGateBinary.run(base + ["--passphrase-env", "SENSOR_PASS"], environment: ["SENSOR_PASS": "battery staple"])
        #expect(wrong.status == 1)
        #expect(wrong.standardOutput.contains("FAIL  passphrase      Passphrase does not match to the key"))

        let unset = try AlertGateBinary.run(base + ["--passphrase-env", "ALERTGATE_TEST_UNSET_VARIABLE"])
        #expect(unset.status == 1)
        #expect(unset.standardError.contains("ALERTGATE_TEST_UNSET_VARIABLE is not set"))
    }

    @Test func usageErrorsExitTwo() throws {
        let missing = try AlertGateBinary.run(["cert", "check"])
        #expect(missing.status == 2)
        #expect(missing.standardError.contains("--cert"))
        let both = try AlertGateBinary.run(["cert", "check", "--cert", "x", "--passphrase-env", "A", "--passphrase-file", "B"])
        #expect(both.status == 2)
        let unknown = try AlertGateBinary.run(["frobnicate"])
        #expect(unknown.status == 2)
    }

    @Test func selfSignedRefusesWithoutTheAcknowledgement() throws {
        let out = pki.directory.appendingPathComponent("self")
        let result = try AlertGateBinary.run(["cert", "self-signed", "--cn", "lab.local", "--out", out.path])
        #expect(result.status == 1)
        #expect(result.standardError.contains("Self-signed certificates are not recommended"))
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test func selfSignedWritesACertificateThatPassesTheChecks() throws {
        let out = pki.directory.appendingPathComponent("self")
        let result = try AlertGateBinary.run([
            "cert", "self-signed", "--cn", "lab.local", "--out", out.path, "--bits", "4096", "--days", "30",
            "--subject", "C=US,ST=Washington,O=Contoso,OU=OT", "--i-understand-this-is-insecure",
        ])
        #expect(result.status == 0, "\(result.standardError)")
        let certificate = out.appendingPathComponent("lab.local.crt").path
        let key = out.appendingPathComponent("lab.local.key").path
        let mode = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // The openssl CLI reads what we wrote: the subject, the key size and the digest.
        let text = try OpenSSLCLI.run(["x509", "-in", certificate, "-noout", "-subject", "-text"])
        #expect(text.contains("subject=C = US, ST = Washington, O = Contoso, OU = OT, CN = lab.local"))
        #expect(text.contains("Public-Key: (4096 bit)"))
        #expect(text.contains("Signature Algorithm: sha256WithRSAEncryption"))
        #expect(text.contains("DNS:lab.local"))

        // Accepted as its own root only when acknowledged.
        let check = try AlertGateBinary.run(["cert", "check", "--cert", certificate, "--key", key, "--acknowledge-insecure", "--json"])
        #expect(check.status == 0, "\(check.standardOutput)")
        #expect(check.standardOutput.contains("self-signed, accepted as its own root"))
        let unacknowledged = try AlertGateBinary.run(["cert", "check", "--cert", certificate, "--key", key])
        #expect(unacknowledged.status == 1)
        #expect(unacknowledged.standardOutput.contains("FAIL  chain           Cannot validate chain of trust. The provided Certificate and Root CA don't match."))
    }

    @Test func aSelfSignedCertificateFailsChainAgainstAnUnrelatedChain() throws {
        let out = pki.directory.appendingPathComponent("self")
        let made = try AlertGateBinary.run(["cert", "self-signed", "--cn", "lab.local", "--out", out.path, "--i-understand-this-is-insecure"])
        #expect(made.status == 0, "\(made.standardError)")
        let certificate = out.appendingPathComponent("lab.local.crt").path
        let result = try AlertGateBinary.run(["cert", "check", "--cert", certificate, "--chain", pki.chainFile.path, "--json"])
        #expect(result.status == 1, "\(result.standardOutput)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        let checks = try #require(object["checks"] as? [[String: Any]])
        let chain = try #require(checks.first { $0["code"] as? String == "chain" })
        #expect(chain["ok"] as? Bool == false)
        #expect(chain["message"] as? String == "Cannot validate chain of trust. The provided Certificate and Root CA don't match.")
        // A chain file that holds the certificate itself vouches for it.
        let own = try AlertGateBinary.run(["cert", "check", "--cert", certificate, "--chain", certificate])
        #expect(own.status == 0, "\(own.standardOutput)")
    }

    @Test func selfSignedRejectsAnUnsupportedKeySize() throws {
        let result = try AlertGateBinary.run(["cert", "self-signed", "--cn", "x.local", "--out", pki.directory.path, "--bits", "1024", "--i-understand-this-is-insecure"])
        #expect(result.status == 2)
        #expect(result.standardError.contains("2048 or 4096"))
    }
}

extension CertCommandTests {
    @Test func selfSignedRefusesACNThatIsNotAFileName() throws {
        let out = pki.directory.appendingPathComponent("self")
        for cn in ["../escaped", "/tmp/x", ".hidden", "a/b"] {
            let result = try AlertGateBinary.run(["cert", "self-signed", "--cn", cn, "--out", out.path, "--i-understand-this-is-insecure"])
            #expect(result.status == 2, "\(cn): \(result.standardError)")
            #expect(result.standardError.contains("cannot name the files"))
        }
        #expect(!FileManager.default.fileExists(atPath: pki.directory.appendingPathComponent("escaped.crt").path))
        #expect(!FileManager.default.fileExists(atPath: pki.directory.appendingPathComponent("escaped.key").path))
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test func theKeyIsCreatedPrivateWhateverTheUmask() throws {
        // Under umask 000 a file created 0666 and chmod-ed later would be world-readable
        // until then; the key is created 0600 and the folder holds nothing else.
        let out = pki.directory.appendingPathComponent("umask")
        let result = try ProcessRunner.capture("/bin/sh", [
            "-c", "umask 000 && exec \"$0\" cert self-signed --cn lab.local --out \"$1\" --i-understand-this-is-insecure", AlertGateBinary.path, out.path,
        ])
        #expect(result.status == 0, "\(result.standardError)")
        let key = out.appendingPathComponent("lab.local.key").path
        #expect(try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int == 0o600)
        // Each file gets its mode from its creation, not from the umask (Data.write made the certificate 0666).
        let certificate = out.appendingPathComponent("lab.local.crt").path
        #expect(try FileManager.default.attributesOfItem(atPath: certificate)[.posixPermissions] as? Int == 0o644)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() == ["lab.local.crt", "lab.local.key"])
    }
}
