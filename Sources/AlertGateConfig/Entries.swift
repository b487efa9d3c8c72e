import AlertGateCore
import Foundation
import Yams

extension ConfigDecoder {
    // MARK: appliances

    func decodeAppliance(_ node: Node, _: Int, _ label: String, defaultValidation: ValidationPolicy) -> ApplianceConfig? {
        guard let mapping = mapping(node, path: label, allowedKeys: ConfigKeys.appliance) else { return nil }
        let name = entryName(mapping, defining: .appliance)
        let owner = owner("appliance", name, label: label)
        let kind = required(mapping, "kind").flatMap { enumeration($0, ApplianceKind.self) }

        var certificate: String?
        if let field = mapping.value("certificate"), let value = nonEmptyString(field, expected: "a certificate name") {
            certificate = value
            refer(to: .certificate, value, at: field.value, owner: owner)
            if let first = applianceCertificates[value] {
                report(
                    "\(owner) uses certificate \(quoted(value)), as \(first.name) does (line \(first.line)); each appliance needs its own certificate",
                    at: field.value
                )
            } else {
                applianceCertificates[value] = (owner, field.valueLocation.line)
            }
        }
        var validation = defaultValidation
        if let field = mapping.value("validation"), let policy = enumeration(field, ValidationPolicy.self) {
            validation = policy
        }
        let match = mapping.value("match").flatMap { decodeMatch($0, owner: owner) }

        guard let name, let kind else { return nil }
        return ApplianceConfig(
            name: name, kind: kind, certificate: certificate, validation: validation, match: match,
            location: mapping.location
        )
    }

    private func decodeMatch(_ field: Field, owner: String) -> ApplianceMatch? {
        guard let mapping = mapping(field.value, path: field.path, allowedKeys: ConfigKeys.match) else { return nil }
        let given = mapping.fields.filter { ConfigKeys.match.contains($0.name) }
        guard given.count == 1, let choice = given.first else {
            if given.isEmpty {
                report("\(field.path): needs cn (the client certificate's CN) or source (a network such as 10.1.2.0/24)", at: mapping.location)
            } else {
                report("\(field.path): takes cn or source, not both", at: given[1].keyLocation)
            }
            return nil
        }
        guard !choice.isNull else {
            report("\(choice.path): needs a value", at: choice.valueLocation)
            return nil
        }
        switch choice.name {
        case "cn":
            guard let cn = nonEmptyString(choice, expected: "a common name") else { return nil }
            let key = cn.lowercased()
            if let first = matchedCNs[key] {
                report("\(owner) matches CN \(quoted(cn)), as \(first.name) does (line \(first.line)); each appliance needs a unique CN", at: choice.value)
            } else {
                matchedCNs[key] = (owner, choice.valueLocation.line)
            }
            return .commonName(cn)
        default:
            return value(choice, expected: "a network such as 10.1.2.0/24") { text throws(ConfigValueError) in
                try CIDR(parsing: text)
            }.map { .source($0) }
        }
    }

    // MARK: listeners

    func decodeListener(_ node: Node, _: Int, _ label: String) -> ListenerConfig? {
        guard let mapping = mapping(node, path: label, allowedKeys: ConfigKeys.listener) else { return nil }
        let name = entryName(mapping, defining: .listener)
        let owner = owner("listener", name, label: label)
        let proto = required(mapping, "protocol").flatMap { enumeration($0, ListenerProtocol.self) }
        let listenField = required(mapping, "listen")
        let listen = listenField.flatMap { field in
            value(field, expected: "HOST:PORT") { text throws(ConfigValueError) in try HostPort(parsing: text) }
        }
        let described = proto.map { "\(owner) (\($0.rawValue))" } ?? owner

        var certificate: String?
        if let field = mapping.value("certificate"), let value = nonEmptyString(field, expected: "a certificate name") {
            certificate = value
            refer(to: .certificate, value, at: field.value, owner: owner)
        }
        var clientAuth = ClientAuth.none
        if let field = mapping.value("client_auth"), let value = enumeration(field, ClientAuth.self) {
            clientAuth = value
        }
        if let proto {
            if proto.usesTLS {
                if mapping.value("certificate") == nil {
                    report("\(described) needs a certificate", at: mapping.location)
                }
            } else {
                for key in ["certificate", "client_auth"] {
                    if let field = mapping[key] {
                        report("\(described) takes no \(key): it does not use TLS", at: field.keyLocation)
                    }
                }
            }
        }

        var path = "/"
        if let field = mapping["path"], let proto, proto != .webhook {
            report("\(described) takes no path: path applies to webhook listeners only", at: field.keyLocation)
        } else if let field = mapping.value("path"), let value = nonEmptyString(field, expected: "a path") {
            if value.hasPrefix("/") {
                path = value
            } else {
                report("\(field.path): must start with /, found \(quoted(value))", at: field.value)
            }
        }
        var maxMessageSize = ListenerConfig.defaultMaxMessageSize
        if let field = mapping.value("max_message_size"), let bytes = size(field) {
            maxMessageSize = bytes
        }
        var defaultAppliance: String?
        if let field = mapping.value("default_appliance"), let value = nonEmptyString(field, expected: "an appliance name") {
            defaultAppliance = value
            refer(to: .appliance, value, at: field.value, owner: owner)
        }

        let limits = decodeListenerLimits(mapping, proto: proto, described: described)

        if let proto, let listen, let listenField {
            // UDP and TCP may share a port; two stream listeners (or two UDP ones) may not.
            let socket = "\(proto == .syslogUDP ? "udp" : "tcp") \(listen)"
            if let first = listenAddresses[socket] {
                report("\(owner) listens on \(listen), as \(first.name) does (line \(first.line))", at: listenField.value)
            } else {
                listenAddresses[socket] = (owner, listenField.valueLocation.line)
            }
        }

        guard let name, let proto, let listen else { return nil }
        return ListenerConfig(
            name: name, protocol: proto, listen: listen, certificate: certificate, clientAuth: clientAuth,
            path: path, maxMessageSize: maxMessageSize, defaultAppliance: defaultAppliance,
            maxConnections: limits.maxConnections, maxConnectionsPerSource: limits.maxConnectionsPerSource,
            handshakeTimeout: limits.handshakeTimeout, headerTimeout: limits.headerTimeout, idleTimeout: limits.idleTimeout,
            maxRatePerSource: limits.maxRatePerSource, token: limits.token,
            location: mapping.location
        )
    }

    /// A listener's limits (docs/reference.md §11), each refused where it does not apply: connection
    /// limits and timeouts on syslog-udp (no connections), `handshake_timeout` without TLS,
    /// `header_timeout` and `token` on anything but a webhook, `max_rate_per_source` on
    /// anything but syslog-udp.
    private func decodeListenerLimits(_ mapping: MappingReader, proto: ListenerProtocol?, described: String) -> ListenerLimitKeys {
        var limits = ListenerLimitKeys(idleTimeout: ListenerConfig.defaultIdleTimeout(for: proto ?? .syslogTCP))
        if let proto {
            var misplaced: [(String, String)] = []
            if proto == .syslogUDP {
                for key in ["max_connections", "max_connections_per_source", "handshake_timeout", "header_timeout", "idle_timeout"] {
                    misplaced.append((key, "syslog-udp has no connections"))
                }
            } else {
                misplaced.append(("max_rate_per_source", "it applies to syslog-udp listeners only (TCP senders are limited by max_connections_per_source)"))
            }
            if !proto.usesTLS, proto != .syslogUDP {
                misplaced.append(("handshake_timeout", "it does not use TLS"))
            }
            if proto != .webhook {
                if proto != .syslogUDP { misplaced.append(("header_timeout", "it applies to webhook listeners only")) }
                misplaced.append(("token", "it applies to webhook listeners only"))
            }
            for (key, reason) in misplaced {
                if let field = mapping[key] {
                    report("\(described) takes no \(key): \(reason)", at: field.keyLocation)
                }
            }
        }
        if let field = mapping.value("max_connections"), let value = integer(field, in: 1...1_000_000) {
            limits.maxConnections = value
        }
        if let field = mapping.value("max_connections_per_source"), let value = integer(field, in: 1...1_000_000) {
            limits.maxConnectionsPerSource = value
        }
        if let field = mapping.value("handshake_timeout"), let value = timeout(field) {
            limits.handshakeTimeout = value
        }
        if let field = mapping.value("header_timeout"), let value = timeout(field) {
            limits.headerTimeout = value
        }
        if let field = mapping.value("idle_timeout"), let value = timeout(field) {
            limits.idleTimeout = value
        }
        if let field = mapping.value("max_rate_per_source"), let value = integer(field, in: 0...10_000_000) {
            limits.maxRatePerSource = value
        }
        if let field = mapping.value("token"), let value = nonEmptyString(field, expected: "a token (such as ${WEBHOOK_TOKEN})") {
            limits.token = value
        }
        return limits
    }

    // MARK: partners

    func decodePartner(_ node: Node, _: Int, _ label: String) -> PartnerConfig? {
        guard let mapping = mapping(node, path: label, allowedKeys: ConfigKeys.partner) else { return nil }
        let name = entryName(mapping, defining: .partner)
        let owner = owner("partner", name, label: label)

        var transport: String?
        if let field = required(mapping, "transport"), let value = nonEmptyString(field, expected: "a transport name") {
            if knownTransports.contains(value) {
                transport = value
            } else {
                let known = knownTransports.isEmpty ? "none are registered" : "known transports: \(knownTransports.sorted().joined(separator: ", "))"
                report("\(field.path): unknown transport \(quoted(value)); \(known)", at: field.value)
            }
        }
        let endpoint = required(mapping, "endpoint").flatMap { nonEmptyString($0, expected: "an endpoint") }
        let serverName = mapping.value("server_name").flatMap { nonEmptyString($0, expected: "a host name") }
        var nameCheck = NameCheck.sanThenCN
        if let field = mapping.value("name_check"), let value = enumeration(field, NameCheck.self) {
            nameCheck = value
        }
        var trust: String?
        if let field = mapping.value("trust"), let value = nonEmptyString(field, expected: "a trust entry name") {
            trust = value
            refer(to: .trust, value, at: field.value, owner: owner)
        }
        var format = OutputFormat.json
        if let field = mapping.value("format"), let value = enumeration(field, OutputFormat.self) {
            format = value
        }
        let framing = mapping.value("framing").flatMap { enumeration($0, SyslogFraming.self) }
        let headers = mapping.value("headers").map(decodeHeaders) ?? []
        let batch = decodeBatch(mapping["batch"])
        let retry = decodeRetry(mapping["retry"])

        guard let name, let transport, let endpoint else { return nil }
        return PartnerConfig(
            name: name, transport: transport, endpoint: endpoint, serverName: serverName, nameCheck: nameCheck,
            trust: trust, format: format, framing: framing, headers: headers, batch: batch, retry: retry, location: mapping.location
        )
    }

    private func decodeHeaders(_ field: Field) -> [HeaderField] {
        guard let mapping = mapping(field.value, path: field.path, allowedKeys: nil) else { return [] }
        var headers: [HeaderField] = []
        for header in mapping.fields {
            let valid = !header.name.isEmpty && header.name.unicodeScalars.allSatisfy {
                $0.isASCII && $0.value > 0x20 && $0.value < 0x7F && !"()<>@,;:\\\"/[]?={}".unicodeScalars.contains($0)
            }
            guard valid else {
                report("\(field.path): \(quoted(header.name)) is not a valid HTTP header name", at: header.keyLocation)
                continue
            }
            guard let value = text(header.value, path: header.path, expected: "a header value") else { continue }
            headers.append(HeaderField(name: header.name, value: value))
        }
        return headers
    }

    private func decodeBatch(_ field: Field?) -> BatchConfig {
        var batch = BatchConfig()
        guard let mapping = section(field, allowedKeys: ConfigKeys.batch) else { return batch }
        if let field = mapping.value("max_alerts"), let value = integer(field, in: 1...Int.max) {
            batch.maxAlerts = value
        }
        if let field = mapping.value("max_bytes"), let value = size(field) {
            batch.maxBytes = value
        }
        if let field = mapping.value("max_delay"), let value = duration(field, allowZero: true) {
            batch.maxDelay = value
        }
        return batch
    }

    private func decodeRetry(_ field: Field?) -> RetryConfig {
        var retry = RetryConfig()
        guard let mapping = section(field, allowedKeys: ConfigKeys.retry) else { return retry }
        let initialField = mapping.value("initial")
        let maxField = mapping.value("max")
        let initial = initialField.flatMap { duration($0) }
        let max = maxField.flatMap { duration($0) }
        if let initial { retry.initial = initial }
        if let max { retry.max = max }
        if (initialField == nil || initial != nil), (maxField == nil || max != nil), retry.initial > retry.max {
            let initialText = initialField?.rawText ?? "500ms (the default)"
            let maxText = maxField?.rawText ?? "30s (the default)"
            report(
                "\(mapping.path): initial \(initialText) is longer than max \(maxText)",
                at: initialField?.valueLocation ?? maxField?.valueLocation ?? mapping.location
            )
        }
        return retry
    }

    // MARK: rules

    func decodeRule(_ node: Node, _: Int, _ label: String) -> RuleConfig? {
        guard let mapping = mapping(node, path: label, allowedKeys: ConfigKeys.rule) else { return nil }
        let name = entryName(mapping, defining: .rule)
        let owner = owner("rule", name, label: label)

        var appliances: [String]?
        if let field = mapping.value("appliances"),
           let items = nameList(field, emptyHint: "leave appliances out to take alerts from all appliances") {
            appliances = uniqueNames(items, kind: .appliance, owner: owner)
        }
        let minSeverity = mapping.value("min_severity").flatMap { enumeration($0, Severity.self) }
        let protocols = mapping.value("protocols")
            .flatMap { nameList($0, emptyHint: "leave protocols out to take alerts of any protocol") }
            .map { $0.map { $0.name.lowercased() } }
        var engines: [String]?
        if let field = mapping.value("engines"),
           let items = nameList(field, emptyHint: "leave engines out to take alerts of any engine") {
            engines = []
            for item in items {
                let engine = item.name.lowercased()
                if RuleConfig.knownEngines.contains(engine) {
                    engines?.append(engine)
                } else {
                    report(
                        "\(owner) names engine \(quoted(item.name)); expected one of \(RuleConfig.knownEngines.joined(separator: ", "))",
                        at: item.node
                    )
                }
            }
        }
        var partners: [String]?
        if let field = required(mapping, "partners"),
           let items = nameList(field, emptyHint: "a rule needs at least one partner") {
            partners = uniqueNames(items, kind: .partner, owner: owner)
        }

        guard let name, let partners else { return nil }
        return RuleConfig(
            name: name, appliances: appliances, minSeverity: minSeverity, protocols: protocols, engines: engines,
            partners: partners, location: mapping.location
        )
    }

    /// Records references to `kind` and reports a name listed twice.
    private func uniqueNames(_ items: [(name: String, node: Node)], kind: EntityKind, owner: String) -> [String] {
        var seen: Set<String> = []
        var names: [String] = []
        for item in items {
            guard seen.insert(item.name).inserted else {
                report("\(owner) names \(kind.noun) \(quoted(item.name)) twice", at: item.node)
                continue
            }
            refer(to: kind, item.name, at: item.node, owner: owner)
            names.append(item.name)
        }
        return names
    }
}

/// The limit keys of one listener entry as decoded, with docs/reference.md §11's defaults.
struct ListenerLimitKeys {
    var maxConnections = ListenerConfig.defaultMaxConnections
    var maxConnectionsPerSource = ListenerConfig.defaultMaxConnectionsPerSource
    var handshakeTimeout = ListenerConfig.defaultHandshakeTimeout
    var headerTimeout = ListenerConfig.defaultHeaderTimeout
    var idleTimeout: Duration
    var maxRatePerSource = 0
    var token: String?
}
