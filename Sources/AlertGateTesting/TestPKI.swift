import Foundation

/// A throw-away PKI made with the `openssl` CLI at test time: a root CA, an intermediate CA
/// that issues appliance and partner certificates (with `openssl ca`, which also sets past
/// and future validity dates, revokes and publishes CRLs), and a folder to hold it all.
/// Nothing it makes is committed, so nothing expires in the repository.
/// Sendable: its paths are constants, and the CA database is changed under `lock` only.
public final class TestPKI: @unchecked Sendable {
    public let directory: URL
    /// The root CA certificate (self-signed).
    public let rootCertificate: URL
    /// The intermediate CA certificate, signed by the root.
    public let intermediateCertificate: URL
    /// Intermediate then root, as an appliance's chain file.
    public let chainFile: URL
    private let caConfig: URL
    private let lock = NSLock()

    public enum KeyFormat: Sendable {
        /// `PRIVATE KEY` (unencrypted PKCS#8).
        case pkcs8
        /// `RSA PRIVATE KEY` (unencrypted PKCS#1).
        case pkcs1
        /// `ENCRYPTED PRIVATE KEY` (PKCS#8 with AES-256-CBC).
        case pkcs8Encrypted(passphrase: String)
        /// `RSA PRIVATE KEY` with `Proc-Type: 4,ENCRYPTED` (legacy PEM encryption).
        case legacyEncrypted(passphrase: String)
        /// Unencrypted PKCS#8 in DER.
        case der
    }

    public enum KeyType: Sendable {
        case rsa(bits: Int)
        case ecP256
    }

    public struct Options: Sendable {
        public var commonName: String
        public var subject: String
        public var keyType: KeyType = .rsa(bits: 2048)
        public var keyFormat: KeyFormat = .pkcs8
        public var digest: String = "sha256"
        /// DNS and IP SAN entries ("DNS:x", "IP:1.2.3.4"); nil puts the CN as DNS SAN; [] none.
        public var subjectAlternativeNames: [String]?
        /// Written as the CRL distribution point.
        public var crlURL: String?
        /// Further distribution points, after `crlURL`.
        public var moreCRLURLs: [String] = []
        /// `openssl ca` dates, `YYYYMMDDHHMMSSZ`.
        public var startDate: String?
        public var endDate: String?
        public var derCertificate = false
        /// The subject as the `[dn]` section of an `openssl req` config (`CN = x\\ny`),
        /// used instead of `subject`: it can write what `-subj` cannot, such as a line
        /// break in the CN (a hostile peer's certificate).
        public var subjectConfig: String?

        public init(commonName: String, subject: String? = nil) {
            self.commonName = commonName
            self.subject = subject ?? "/C=US/ST=Washington/L=Redmond/O=Contoso/OU=OT Security/CN=\(commonName)/emailAddress=ot@contoso.com"
        }
    }

    public struct Issued: Sendable {
        public var certificate: URL
        public var key: URL
        public var commonName: String
    }

    /// Makes the root and intermediate CAs in a new temporary folder.
    public init(name: String = "Test") throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("alertgate-pki-\(UUID().uuidString)")
        let ca = directory.appendingPathComponent("ca")
        try FileManager.default.createDirectory(at: ca.appendingPathComponent("newcerts"), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: ca.appendingPathComponent("index.txt").path, contents: nil)
        try "1000\n".write(to: ca.appendingPathComponent("serial"), atomically: true, encoding: .utf8)
        try "1000\n".write(to: ca.appendingPathComponent("crlnumber"), atomically: true, encoding: .utf8)

        rootCertificate = directory.appendingPathComponent("root.crt")
        intermediateCertificate = directory.appendingPathComponent("intermediate.crt")
        chainFile = directory.appendingPathComponent("chain.pem")
        caConfig = directory.appendingPathComponent("ca.cnf")

        let rootKey = directory.appendingPathComponent("root.key").path
        try OpenSSLCLI.run([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", rootKey, "-out", rootCertificate.path,
            "-subj", "/C=US/O=\(name) PKI/CN=\(name) Root CA", "-days", "3650", "-sha256",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        let intermediateKey = directory.appendingPathComponent("intermediate.key").path
        let intermediateRequest = directory.appendingPathComponent("intermediate.csr").path
        try OpenSSLCLI.run([
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", intermediateKey, "-out", intermediateRequest,
            "-subj", "/C=US/O=\(name) PKI/CN=\(name) Issuing CA",
        ])
        let caExtensions = directory.appendingPathComponent("ca-ext.cnf")
        try "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
            .write(to: caExtensions, atomically: true, encoding: .utf8)
        try OpenSSLCLI.run([
            "x509", "-req", "-in", intermediateRequest, "-CA", rootCertificate.path, "-CAkey", rootKey,
            "-CAcreateserial", "-days", "3650", "-sha256", "-extfile", caExtensions.path, "-out", intermediateCertificate.path,
        ])
        let chain = try String(contentsOf: intermediateCertificate, encoding: .utf8) + String(contentsOf: rootCertificate, encoding: .utf8)
        try chain.write(to: chainFile, atomically: true, encoding: .utf8)

        try """
            [ ca ]
            default_ca = issuing
            [ issuing ]
            dir = \(ca.path)
            database = $dir/index.txt
            new_certs_dir = $dir/newcerts
            serial = $dir/serial
            crlnumber = $dir/crlnumber
            certificate = \(intermediateCertificate.path)
            private_key = \(intermediateKey)
            default_md = sha256
            default_days = 365
            default_crl_days = 7
            policy = any
            unique_subject = no
            copy_extensions = none
            email_in_dn = yes
            [ any ]
            countryName = optional
            stateOrProvinceName = optional
            localityName = optional
            organizationName = optional
            organizationalUnitName = optional
            commonName = supplied
            emailAddress = optional

            """.write(to: caConfig, atomically: true, encoding: .utf8)
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Issues a certificate from the intermediate CA; files are named after `name`.
    public func issue(_ name: String, _ options: Options) throws -> Issued {
        try lock.withLock {
            let plainKey = directory.appendingPathComponent("\(name).plain.key").path
            switch options.keyType {
            case .rsa(let bits):
                try OpenSSLCLI.run(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:\(bits)", "-out", plainKey])
            case .ecP256:
                try OpenSSLCLI.run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", plainKey])
            }
            let request = directory.appendingPathComponent("\(name).csr").path
            if let subjectConfig = options.subjectConfig {
                let config = directory.appendingPathComponent("\(name).req.cnf")
                try "[req]\nprompt = no\ndistinguished_name = dn\nstring_mask = utf8only\n[dn]\n\(subjectConfig)\n".write(to: config, atomically: true, encoding: .utf8)
                try OpenSSLCLI.run(["req", "-new", "-key", plainKey, "-config", config.path, "-out", request])
            } else {
                try OpenSSLCLI.run(["req", "-new", "-key", plainKey, "-subj", options.subject, "-out", request])
            }

            var extensions = [
                "basicConstraints=CA:FALSE",
                "keyUsage=critical,digitalSignature,keyEncipherment",
                "extendedKeyUsage=serverAuth,clientAuth",
            ]
            let names = options.subjectAlternativeNames ?? ["DNS:\(options.commonName)"]
            if !names.isEmpty { extensions.append("subjectAltName=\(names.joined(separator: ","))") }
            let crlURLs = (options.crlURL.map { [$0] } ?? []) + options.moreCRLURLs
            if !crlURLs.isEmpty { extensions.append("crlDistributionPoints=" + crlURLs.map { "URI:\($0)" }.joined(separator: ",")) }
            let extensionFile = directory.appendingPathComponent("\(name).ext")
            try (extensions.joined(separator: "\n") + "\n").write(to: extensionFile, atomically: true, encoding: .utf8)

            let pemCertificate = directory.appendingPathComponent("\(name).pem.crt")
            var arguments = [
                "ca", "-batch", "-config", caConfig.path, "-in", request, "-out", pemCertificate.path,
                "-extfile", extensionFile.path, "-md", options.digest, "-notext",
            ]
            if let start = options.startDate { arguments += ["-startdate", start] }
            if let end = options.endDate { arguments += ["-enddate", end] }
            try OpenSSLCLI.run(arguments)

            var certificate = pemCertificate
            if options.derCertificate {
                certificate = directory.appendingPathComponent("\(name).der.crt")
                try OpenSSLCLI.run(["x509", "-in", pemCertificate.path, "-outform", "DER", "-out", certificate.path])
            }
            let key = try writeKey(plainKey, name: name, format: options.keyFormat)
            return Issued(certificate: certificate, key: key, commonName: options.commonName)
        }
    }

    /// Shorthand: an RSA 2048 certificate for `commonName` with default options.
    public func issue(_ name: String, commonName: String, crlURL: String? = nil) throws -> Issued {
        var options = Options(commonName: commonName)
        options.crlURL = crlURL
        return try issue(name, options)
    }

    private func writeKey(_ plainKey: String, name: String, format: KeyFormat) throws -> URL {
        let key = directory.appendingPathComponent("\(name).key")
        switch format {
        case .pkcs8:
            try FileManager.default.copyItem(atPath: plainKey, toPath: key.path)
        case .pkcs1:
            try OpenSSLCLI.run(["rsa", "-in", plainKey, "-traditional", "-out", key.path])
        case .pkcs8Encrypted(let passphrase):
            try OpenSSLCLI.run(["pkcs8", "-topk8", "-in", plainKey, "-v2", "aes-256-cbc", "-passout", "pass:\(passphrase)", "-out", key.path])
        case .legacyEncrypted(let passphrase):
            try OpenSSLCLI.run(["rsa", "-in", plainKey, "-traditional", "-aes256", "-passout", "pass:\(passphrase)", "-out", key.path])
        case .der:
            try OpenSSLCLI.run(["pkey", "-in", plainKey, "-outform", "DER", "-out", key.path])
        }
        return key
    }

    /// Marks a certificate revoked in the CA's database (the next CRL lists it).
    public func revoke(_ issued: Issued) throws {
        try lock.withLock {
            var certificate = issued.certificate
            if certificate.lastPathComponent.hasSuffix(".der.crt") {
                certificate = certificate.deletingLastPathComponent().appendingPathComponent(
                    certificate.lastPathComponent.replacingOccurrences(of: ".der.crt", with: ".pem.crt"))
            }
            try OpenSSLCLI.run(["ca", "-config", caConfig.path, "-revoke", certificate.path])
        }
    }

    public enum CRLFormat: Sendable {
        /// As CAs publish at a distribution point.
        case der
        /// As `openssl ca -gencrl` writes it; a trust bundle's `crl:` file may hold several.
        case pem
    }

    /// Publishes the intermediate's CRL at `url` (DER unless told), valid for `hours`.
    public func writeCRL(to url: URL, hours: Int = 24, format: CRLFormat = .der) throws {
        try lock.withLock {
            let pem = directory.appendingPathComponent("crl.pem").path
            try OpenSSLCLI.run(["ca", "-config", caConfig.path, "-gencrl", "-crlhours", "\(hours)", "-out", pem])
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            switch format {
            case .der: try OpenSSLCLI.run(["crl", "-in", pem, "-outform", "DER", "-out", url.path])
            case .pem: try OpenSSLCLI.run(["crl", "-in", pem, "-outform", "PEM", "-out", url.path])
            }
        }
    }

    /// `YYYYMMDDHHMMSSZ` for `openssl ca`, `days` from now (negative: in the past).
    public static func caDate(daysFromNow days: Int) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMddHHmmss'Z'"
        return formatter.string(from: Date().addingTimeInterval(TimeInterval(days) * 86_400))
    }
}

extension TestPKI {
    /// A gateway folder inside this PKI's folder: `certs/` holds the appliance sensor-1's
    /// certificate and key (CN `sensor-1.contoso.com`) and the CA chain as `chain.pem`,
    /// the files a test config.yaml names.
    public func gatewayFolder() throws -> URL {
        let folder = directory.appendingPathComponent("gateway")
        let certs = folder.appendingPathComponent("certs")
        try FileManager.default.createDirectory(at: certs, withIntermediateDirectories: true)
        let appliance = try issue("sensor-1", commonName: "sensor-1.contoso.com")
        try FileManager.default.copyItem(at: appliance.certificate, to: certs.appendingPathComponent("sensor-1.crt"))
        try FileManager.default.copyItem(at: appliance.key, to: certs.appendingPathComponent("sensor-1.key"))
        try FileManager.default.copyItem(at: chainFile, to: certs.appendingPathComponent("chain.pem"))
        return folder
    }

    /// config.yaml for a `gatewayFolder()`: the store (trust bundle `corp`, certificate
    /// `sensor-1`), the appliance sensor-1 with `validation`, then `partners` (list items
    /// written at two spaces, as under a top-level key).
    public static func gatewayConfig(validation: String = "required", partners: String) -> String {
        """
        gateway:
          data_dir: data
        store:
          dir: certs
          trust:
            - name: corp
              file: chain.pem
          certificates:
            - name: sensor-1
              cert: sensor-1.crt
              key: sensor-1.key
              chain: chain.pem
        appliances:
          - name: sensor-1
            kind: sensor
            certificate: sensor-1
            validation: \(validation)
        partners:

        """ + partners
    }
}
