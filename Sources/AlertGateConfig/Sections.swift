import AlertGateCore
import Foundation
import Yams

/// The keys each mapping of `config.yaml` accepts, in the order the messages list them.
enum ConfigKeys {
    static let top = ["gateway", "store", "appliances", "listeners", "partners", "rules"]
    static let gateway = ["data_dir", "admin", "admin_token", "validation", "log", "spool"]
    static let log = ["format", "file"]
    static let spool = ["max_size", "max_size_per_appliance"]
    static let store = ["dir", "watch", "crl", "trust", "certificates"]
    static let crl = ["proxy", "timeout", "max_age"]
    static let trust = ["name", "file", "crl"]
    static let certificate = ["name", "cert", "key", "chain", "passphrase", "use_crl", "acknowledge_insecure", "self_signed"]
    static let certificateFileOnly = ["key", "chain", "passphrase", "use_crl", "acknowledge_insecure"]
    static let selfSigned = ["cn", "acknowledge_insecure", "bits", "days", "subject"]
    static let appliance = ["name", "kind", "certificate", "validation", "match"]
    static let match = ["cn", "source"]
    static let listener = [
        "name", "protocol", "listen", "certificate", "client_auth", "path", "max_message_size", "default_appliance",
        "max_connections", "max_connections_per_source", "handshake_timeout", "header_timeout", "idle_timeout", "max_rate_per_source", "token",
    ]
    static let partner = ["name", "transport", "endpoint", "server_name", "name_check", "trust", "format", "framing", "headers", "batch", "retry"]
    static let batch = ["max_alerts", "max_bytes", "max_delay"]
    static let retry = ["initial", "max"]
    static let rule = ["name", "appliances", "min_severity", "protocols", "engines", "partners"]
}

extension ConfigDecoder {
    /// Decodes the whole document; the result is meaningful only when no problem was reported.
    func decodeDocument(_ root: Node?) -> GatewayConfig {
        var config = GatewayConfig.defaults(baseDirectory: URL(fileURLWithPath: baseDirectory, isDirectory: true))
        guard let root, root.null == nil else { return config }
        guard let top = mapping(root, path: "", allowedKeys: ConfigKeys.top) else { return config }

        config.gateway = decodeGateway(top["gateway"])
        config.store = decodeStore(top["store"])
        config.appliances = entries(top.value("appliances")) { decodeAppliance($0, $1, $2, defaultValidation: config.gateway.validation) }
        config.listeners = entries(top.value("listeners"), decodeListener)
        config.partners = entries(top.value("partners"), decodePartner)
        config.rules = entries(top.value("rules"), decodeRule)
        checkReferences()
        return config
    }

    /// Decodes each item of a list of entries; `decode` gets the item, its index and its label.
    func entries<T>(_ field: Field?, _ decode: (Node, Int, String) -> T?) -> [T] {
        guard let field, let items = sequence(field) else { return [] }
        return items.enumerated().compactMap { index, item in
            decode(item, index, entryLabel(list: field.path, index: index, node: item))
        }
    }

    /// Reads `name` and records it as a definition of `kind`.
    func entryName(_ mapping: MappingReader, defining kind: EntityKind) -> String? {
        guard let field = required(mapping, "name"), let name = nonEmptyString(field, expected: "a name") else { return nil }
        define(kind, name, at: field)
        return name
    }

    /// `appliance sensor-1`, or the entry's label when it has no usable name.
    func owner(_ noun: String, _ name: String?, label: String) -> String {
        name.map { "\(noun) \($0)" } ?? label
    }

    // MARK: gateway

    func decodeGateway(_ field: Field?) -> GatewaySection {
        var gateway = GatewaySection(dataDir: PathResolution.directoryURL("data", against: baseDirectory))
        guard let mapping = section(field, allowedKeys: ConfigKeys.gateway) else { return gateway }

        if let field = mapping.value("data_dir"), let path = nonEmptyString(field, expected: "a folder") {
            gateway.dataDir = PathResolution.directoryURL(path, against: baseDirectory)
        }
        if let field = mapping.value("admin") {
            gateway.admin = value(field, expected: "HOST:PORT") { text throws(ConfigValueError) in try HostPort(parsing: text) }
        }
        decodeAdminToken(mapping, into: &gateway)
        if let field = mapping.value("validation"), let policy = enumeration(field, ValidationPolicy.self) {
            gateway.validation = policy
        }
        if let log = section(mapping["log"], allowedKeys: ConfigKeys.log) {
            if let field = log.value("format"), let format = enumeration(field, LogFormat.self) {
                gateway.log.format = format
            }
            if let field = log.value("file"), let path = nonEmptyString(field, expected: "a file path") {
                gateway.log.file = PathResolution.resolve(path, against: baseDirectory)
            }
        }
        if let spool = section(mapping["spool"], allowedKeys: ConfigKeys.spool) {
            if let field = spool.value("max_size"), let bytes = size(field) {
                if bytes < SpoolSection.minimumSize {
                    // One read burst of a syslog connection is stored whole: it must fit.
                    report("gateway.spool.max_size must be at least 1MiB (a listener stores up to a read's worth of alerts at once)", at: field.valueLocation)
                } else {
                    gateway.spool.maxSize = bytes
                }
            }
            if let field = spool.value("max_size_per_appliance"), let bytes = size(field) {
                if bytes < SpoolSection.minimumSize {
                    report("gateway.spool.max_size_per_appliance must be at least 1MiB (a listener stores up to a read's worth of alerts at once)", at: field.valueLocation)
                } else {
                    gateway.spool.maxSizePerAppliance = bytes
                }
            }
        }
        return gateway
    }

    /// `admin_token` (docs/reference.md §11): at least `AdminTokenRule.minimumLength` characters, and
    /// required when `admin` is not a loopback address (the admin API can reload the
    /// gateway and shows every partner's state).
    func decodeAdminToken(_ mapping: MappingReader, into gateway: inout GatewaySection) {
        if let field = mapping.value("admin_token"), let token = nonEmptyString(field, expected: "a token such as ${ALERTGATE_ADMIN_TOKEN}") {
            if token.count < AdminTokenRule.minimumLength {
                report("gateway.admin_token: must be at least \(AdminTokenRule.minimumLength) characters (for example the output of `openssl rand -hex 32`)", at: field.value)
            } else if token.contains(where: { $0.isWhitespace || !$0.isASCII || $0.asciiValue.map { $0 < 0x21 || $0 == 0x7F } == true }) {
                report("gateway.admin_token: must be printable ASCII without spaces (it is sent in an HTTP header)", at: field.value)
            } else {
                gateway.adminToken = token
            }
        }
        if let address = gateway.admin, !address.isLoopback, mapping["admin_token"] == nil, let field = mapping["admin"] {
            report(
                "gateway.admin: \(address) is not a loopback address, so the admin API needs gateway.admin_token (for example admin_token: ${ALERTGATE_ADMIN_TOKEN}); or bind it to 127.0.0.1",
                at: field.valueLocation)
        }
    }

    // MARK: store

    func decodeStore(_ field: Field?) -> StoreSection {
        var store = StoreSection(dir: PathResolution.directoryURL("certs", against: baseDirectory))
        guard let mapping = section(field, allowedKeys: ConfigKeys.store) else { return store }

        if let field = mapping.value("dir"), let path = nonEmptyString(field, expected: "a folder") {
            store.dir = PathResolution.directoryURL(path, against: baseDirectory)
        }
        let storeDirectory = PathResolution.resolve(store.dir.path, against: baseDirectory)
        if let field = mapping.value("watch"), let watch = bool(field) {
            store.watch = watch
        }
        if let crl = section(mapping["crl"], allowedKeys: ConfigKeys.crl) {
            if let field = crl.value("proxy") {
                store.crl.proxy = value(field, expected: "an http:// URL", HostPort.parsingHTTPProxy)
            }
            if let field = crl.value("timeout"), let timeout = duration(field) {
                store.crl.timeout = timeout
            }
            if let field = crl.value("max_age"), let maxAge = duration(field) {
                store.crl.maxAge = maxAge
            }
        }
        store.trust = entries(mapping.value("trust")) { node, _, label in
            decodeTrust(node, label: label, storeDirectory: storeDirectory)
        }
        var selfSignedCNs: [String: (name: String, line: Int)] = [:]
        store.certificates = entries(mapping.value("certificates")) { node, _, label in
            decodeCertificate(node, label: label, storeDirectory: storeDirectory, selfSignedCNs: &selfSignedCNs)
        }
        return store
    }

    func decodeTrust(_ node: Node, label: String, storeDirectory: String) -> TrustEntry? {
        guard let mapping = mapping(node, path: label, allowedKeys: ConfigKeys.trust) else { return nil }
        let name = entryName(mapping, defining: .trust)
        let fileField = required(mapping, "file")
        let file = fileField.flatMap { nonEmptyString($0, expected: "a file path") }
        let crlField = mapping.value("crl")
        let crl = crlField.flatMap { nonEmptyString($0, expected: "a file path") }
        guard let name, let fileField, let file else { return nil }
        return TrustEntry(
            name: name,
            file: PathResolution.resolve(file, against: storeDirectory),
            location: mapping.location,
            fileLocation: fileField.valueLocation,
            crl: crl.map { PathResolution.resolve($0, against: storeDirectory) },
            crlLocation: crl == nil ? nil : crlField?.valueLocation
        )
    }

    func decodeCertificate(
        _ node: Node, label: String, storeDirectory: String,
        selfSignedCNs: inout [String: (name: String, line: Int)]
    ) -> CertificateEntry? {
        guard let mapping = mapping(node, path: label, allowedKeys: ConfigKeys.certificate) else { return nil }
        var name = entryName(mapping, defining: .certificate)
        if let given = name, let field = mapping["name"], let problem = CertificateNameRule.problem(with: given) {
            // The name becomes the file name of a generated certificate and key.
            report("\(label).name: \(problem)", at: field.valueLocation)
            name = nil
        }
        let certField = mapping["cert"]
        let selfSignedField = mapping["self_signed"]

        let source: CertificateEntry.Source?
        switch (certField, selfSignedField) {
        case (.some, .some(let selfSigned)):
            report("\(label): has both cert and self_signed; use one of them", at: selfSigned.keyLocation)
            source = nil
        case (.none, .none):
            report("\(label): needs either cert (with key, chain, passphrase, use_crl) or self_signed", at: mapping.location)
            source = nil
        case (.some, .none):
            source = decodeCertificateFiles(mapping, storeDirectory: storeDirectory).map { .files($0) }
        case (.none, .some(let selfSigned)):
            for key in ConfigKeys.certificateFileOnly {
                if let field = mapping[key] {
                    report("\(field.path): applies to certificates from files (cert), not to self_signed", at: field.keyLocation)
                }
            }
            let decoded = decodeSelfSigned(selfSigned, certificateName: name ?? label)
            if let (spec, cnLocation) = decoded {
                let key = spec.cn.lowercased()
                if let first = selfSignedCNs[key] {
                    report(
                        "self-signed certificates \(first.name) and \(name ?? label) share CN \(quoted(spec.cn)) (first at line \(first.line)); each certificate needs a unique CN",
                        at: cnLocation
                    )
                } else {
                    selfSignedCNs[key] = (name ?? label, cnLocation.line)
                }
            }
            source = decoded.map { .selfSigned($0.spec) }
        }
        guard let name, let source else { return nil }
        return CertificateEntry(name: name, location: mapping.location, source: source)
    }

    func decodeCertificateFiles(_ mapping: MappingReader, storeDirectory: String) -> CertificateFileSpec? {
        func path(_ key: String) -> (path: String, location: SourceLocation)? {
            guard let field = mapping.value(key), let path = nonEmptyString(field, expected: "a file path") else { return nil }
            return (PathResolution.resolve(path, against: storeDirectory), field.valueLocation)
        }
        guard let certField = required(mapping, "cert") else { return nil }
        let cert = path("cert")
        let key = path("key")
        let chain = path("chain")
        var passphrase: String?
        if let field = mapping.value("passphrase") {
            passphrase = string(field)
        }
        var useCRL = false
        if let field = mapping.value("use_crl"), let value = bool(field) {
            useCRL = value
        }
        var acknowledgeInsecure = false
        if let field = mapping.value("acknowledge_insecure"), let value = bool(field) {
            acknowledgeInsecure = value
        }
        guard let cert else { return nil }
        var spec = CertificateFileSpec(
            cert: cert.path,
            key: key?.path,
            chain: chain?.path,
            passphrase: passphrase,
            useCRL: useCRL,
            certLocation: certField.valueLocation,
            keyLocation: key?.location,
            chainLocation: chain?.location
        )
        spec.acknowledgeInsecure = acknowledgeInsecure
        return spec
    }

    /// The spec and where its `cn` is written; nil without a usable cn. Other problems are
    /// reported and leave that field at its default.
    func decodeSelfSigned(_ field: Field, certificateName: String) -> (spec: SelfSignedSpec, cnLocation: SourceLocation)? {
        guard let mapping = mapping(field.value, path: field.path, allowedKeys: ConfigKeys.selfSigned) else { return nil }
        var cn: (value: String, location: SourceLocation)?
        if let cnField = required(mapping, "cn"), let value = nonEmptyString(cnField, expected: "a common name") {
            if value.hasPrefix("*") {
                report("\(cnField.path): wildcard certificates are not supported; each appliance needs a certificate for its own name", at: cnField.value)
            } else {
                cn = (value, cnField.valueLocation)
            }
        }
        let acknowledgeField = mapping.value("acknowledge_insecure")
        let acknowledged = acknowledgeField.flatMap { bool($0) }
        if acknowledged != true {
            report(
                "self-signed certificate \(certificateName) needs acknowledge_insecure: true. " + SelfSignedAdvice.warning,
                at: acknowledgeField?.valueLocation ?? mapping.location
            )
        }
        var spec = SelfSignedSpec(cn: cn?.value ?? "", acknowledgeInsecure: acknowledged == true)
        if let bitsField = mapping.value("bits"), let bits = integer(bitsField, in: 0...Int.max) {
            if SelfSignedSpec.allowedBits.contains(bits) {
                spec.bits = bits
            } else {
                report("\(bitsField.path): expected 2048 or 4096, found \(bits)", at: bitsField.value)
            }
        }
        if let daysField = mapping.value("days"), let days = integer(daysField, in: 1...36500) {
            spec.days = days
        }
        if let subjectField = mapping.value("subject"),
           let subject = value(subjectField, expected: "a subject such as C=US,O=Contoso,OU=OT", SubjectAttribute.parseList) {
            spec.subject = subject
        }
        guard let cn else { return nil }
        return (spec, cn.location)
    }
}
