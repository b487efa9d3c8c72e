import AlertGateTesting
import Foundation
import Testing

/// alertgate against the receivers and senders people run (docs/reference.md §12): each test starts the
/// real program on loopback and asserts what it parsed, field by field, not only that bytes
/// arrived.
@Suite(.serialized) struct InteropTests {
    /// Text that breaks naive formatters: every character CEF, LEEF, JSON and RFC 5424
    /// escape, a line break, and non-ASCII.
    static let trickyTitle = #"Write to C:\PLC|Block=7 "quoted" ]bracket Überwachung 温度"#
    static let trickyMessage = "a=b|c\\d\nsecond line\ttabbed ünïcode"

    /// Webhook alerts `tag-1…count` whose title and message carry the tricky text.
    static func trickyAlerts(_ tag: String, count: Int) -> String {
        let title = jsonString(trickyTitle)
        let message = jsonString(trickyMessage)
        return "[" + (1...count).map { number in
            "{\"id\":\"\(tag)-\(number)\",\"title\":\(title),\"message\":\(message),\"severity\":\"major\",\"protocol\":\"modbus\",\"src_ip\":\"10.1.0.\(number % 250)\"}"
        }.joined(separator: ",") + "]"
    }

    static func jsonString(_ text: String) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: text, options: .fragmentsAllowed), as: UTF8.self)
    }

    /// Partners of one receiver, one per format, all on `port`.
    static func partners(port: Int, formats: [String], framing: String? = nil) -> String {
        formats.map { format in
            let extra = framing.map { ", framing: \($0)" } ?? ""
            return "  - { name: to-\(format), transport: syslog-tls, endpoint: \"127.0.0.1:\(port)\", server_name: partner.test, trust: corp, format: \(format)\(extra), retry: { initial: 200ms, max: 1s } }"
        }.joined(separator: "\n")
    }

    static func rule(_ formats: [String]) -> String {
        "  - name: all\n    partners: [\(formats.map { "to-\($0)" }.joined(separator: ", "))]\n"
    }

    // MARK: alertgate → rsyslog

    @Test(arguments: [Rsyslog.Driver.ossl, .gtls])
    func rsyslogImtcpParsesEveryFormatFieldByField(driver: Rsyslog.Driver) async throws {
        let harness = try GatewayHarness()
        let formats = ["cef", "json", "leef", "rfc5424"]
        try harness.writeConfig(partner: Self.partners(port: harness.ports.partner, formats: formats), rules: Self.rule(formats))
        let receiver = try await Rsyslog.receiver(
            driver: driver, port: harness.ports.partner, certificate: harness.partnerChain, key: harness.partnerKey,
            caFile: harness.pki.chainFile, permittedPeer: "sensor-1.contoso.com", in: harness.folder)
        defer { Task { await receiver.stop() } }
        let gateway = try await harness.start()

        let response = try await harness.post(Self.trickyAlerts("rs", count: 10))
        #expect(response.status == 202, "\(response.body)")
        let lines = try await receiver.lines(count: 40)
        #expect(lines.count == 40)
        let fields = lines.map { $0.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false).map(String.init) }
        #expect(fields.allSatisfy { $0.count == 3 && $0[0] == "alertgate" }, "\(lines.prefix(3))")
        // Structured data as rsyslog parsed it: our SD-ID with the alert's id and appliance.
        #expect(fields.allSatisfy { $0.count == 3 && $0[1].hasPrefix("[alertgate@32473 id=\"rs-") && $0[1].contains("appliance=\"sensor-1\"") })
        #expect(fields.filter { $0.count == 3 && $0[2].hasPrefix("LEEF:1.0|") }.count == 10)
        try Self.expectPayloads(fields.compactMap { $0.count == 3 ? $0[2] : nil }, tag: "rs", count: 10)
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }

    /// Each of the 10 alerts once in CEF, once in JSON and once as text, every field back intact.
    static func expectPayloads(_ messages: [String], tag: String, count: Int, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let cef = messages.filter { $0.hasPrefix("CEF:0|") }.compactMap(CEFRecord.init)
        #expect(cef.count == count, "CEF: \(messages.filter { $0.hasPrefix("CEF") }.prefix(2))", sourceLocation: sourceLocation)
        for record in cef {
            #expect(record.header[1] == "Microsoft Defender for IoT", sourceLocation: sourceLocation)
            // A CEF header may hold no line break: the title's go out as spaces.
            #expect(record.header[5] == trickyTitle, sourceLocation: sourceLocation)
            #expect(record.header[6] == "8", sourceLocation: sourceLocation)
            #expect(record.extensions["msg"] == trickyMessage, "\(record.extensions)", sourceLocation: sourceLocation)
            #expect(record.extensions["protocol"] == "modbus", sourceLocation: sourceLocation)
            #expect(record.extensions["UUID"]?.hasPrefix("\(tag)-") == true, sourceLocation: sourceLocation)
        }
        let json = messages.filter { $0.hasPrefix("{") }.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(json.count == count, sourceLocation: sourceLocation)
        #expect(json.allSatisfy { $0["title"] as? String == trickyTitle && $0["message"] as? String == trickyMessage }, "\(json.first ?? [:])", sourceLocation: sourceLocation)
        #expect(Set(json.compactMap { $0["id"] as? String }) == Set((1...count).map { "\(tag)-\($0)" }), sourceLocation: sourceLocation)
        let text = messages.filter { $0.hasPrefix(trickyTitle) }
        #expect(text.count == count, "text: \(messages.filter { !$0.hasPrefix("{") && !$0.hasPrefix("CEF") }.prefix(2))", sourceLocation: sourceLocation)
        // LEEF as its specification reads: attributes split on TAB, each at its first `=`,
        // no escapes; what a value cannot hold (TAB, line breaks) arrives as a space.
        for leef in messages.filter({ $0.hasPrefix("LEEF:1.0|") }) {
            let attributes = leef.split(separator: "|", maxSplits: 5, omittingEmptySubsequences: false).last ?? ""
            var pairs: [String: String] = [:]
            for attribute in attributes.split(separator: "\t") {
                let parts = attribute.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                if parts.count == 2 { pairs[String(parts[0])] = String(parts[1]) }
            }
            #expect(pairs["title"] == trickyTitle, "\(leef)", sourceLocation: sourceLocation)
            #expect(pairs["msg"] == trickyMessage.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\t", with: " "), "\(leef)", sourceLocation: sourceLocation)
            #expect(pairs["protocol"] == "modbus", sourceLocation: sourceLocation)
        }
    }

    // MARK: alertgate → syslog-ng

    @Test func syslogNGSyslogSourceParsesProgramStructuredDataAndMessage() async throws {
        let harness = try GatewayHarness()
        let formats = ["cef", "json", "rfc5424"]
        try harness.writeConfig(partner: Self.partners(port: harness.ports.partner, formats: formats), rules: Self.rule(formats))
        let receiver = try await SyslogNG.receiver(
            source: "syslog", port: harness.ports.partner, certificate: harness.partnerChain, key: harness.partnerKey,
            caFile: harness.pki.chainFile, in: harness.folder)
        defer { Task { await receiver.stop() } }
        let gateway = try await harness.start()

        #expect(try await harness.post(Self.trickyAlerts("ng", count: 10)).status == 202)
        // The text format's message holds a line break, which syslog-ng keeps in $MSG: count
        // records by their program field instead of lines.
        let text = try await InteropPeers.lines(of: receiver.output, count: 30, process: receiver.process)
        let records = Self.records(text, program: "alertgate")
        #expect(records.count == 30, "\(text.prefix(4))")
        #expect(records.allSatisfy { $0[2] == "sensor-1" }, "\(records.first ?? [])")
        #expect(records.allSatisfy { $0[1].hasPrefix("[alertgate@32473 id=\"ng-") })
        try Self.expectPayloads(records.map { $0[3] }, tag: "ng", count: 10)
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }

    @Test func syslogNGNetworkSourceSplittingOnLFGetsOneMessagePerAlertWithFramingNewline() async throws {
        let harness = try GatewayHarness()
        let formats = ["cef", "json", "rfc5424"]
        try harness.writeConfig(partner: Self.partners(port: harness.ports.partner, formats: formats, framing: "newline"), rules: Self.rule(formats))
        let receiver = try await SyslogNG.receiver(
            source: "network", port: harness.ports.partner, certificate: harness.partnerChain, key: harness.partnerKey,
            caFile: harness.pki.chainFile, in: harness.folder)
        defer { Task { await receiver.stop() } }
        let gateway = try await harness.start()

        #expect(try await harness.post(Self.trickyAlerts("nl", count: 10)).status == 202)
        let lines = try await receiver.lines(count: 30)
        let records = lines.map { $0.split(separator: "\t", maxSplits: 3, omittingEmptySubsequences: false).map(String.init) }
        // One record a line: 30, each parsed (program and structured data found).
        #expect(records.count == 30)
        #expect(records.allSatisfy { $0.count == 4 && $0[0] == "alertgate" && $0[2] == "sensor-1" }, "\(lines.prefix(3))")
        let messages = records.compactMap { $0.count == 4 ? $0[3] : nil }
        // CEF and JSON escape their own line breaks; the text format's is written as \n.
        let cef = messages.filter { $0.hasPrefix("CEF:0|") }.compactMap(CEFRecord.init)
        #expect(cef.count == 10 && cef.allSatisfy { $0.extensions["msg"] == Self.trickyMessage })
        let text = messages.filter { $0.hasPrefix(Self.trickyTitle) }
        #expect(text.count == 10)
        #expect(text.allSatisfy { $0.hasSuffix(Self.trickyMessage.replacingOccurrences(of: "\n", with: "\\n")) }, "\(text.first ?? "")")
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }

    /// syslog-ng's records as `PROGRAM\tSDATA\tappliance\tMSG`, where MSG may run over
    /// several lines: a record starts at a line that begins with `program` and a tab.
    static func records(_ lines: [String], program: String) -> [[String]] {
        var records: [[String]] = []
        for line in lines {
            let fields = line.split(separator: "\t", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            if fields.count == 4, fields[0] == program {
                records.append(fields)
            } else if !records.isEmpty {
                records[records.count - 1][3] += "\n" + line
            }
        }
        return records
    }

    // MARK: alertgate → nginx (HTTP/2)

    @Test func nginxRoutesByServerNameAndTakesNDJSONOverHTTP2WithAClientCertificate() async throws {
        let harness = try GatewayHarness()
        let partner = "  - { name: siem, transport: http2, endpoint: \"https://127.0.0.1:\(harness.ports.partner)/ingest\", server_name: partner.test, trust: corp, format: json, batch: { max_alerts: 10, max_delay: 20ms }, retry: { initial: 200ms, max: 1s } }"
        try harness.writeConfig(partner: partner)
        let nginx = try await Nginx.start(
            port: harness.ports.partner, certificateChain: harness.partnerChain, key: harness.partnerKey, caFile: harness.pki.chainFile, in: harness.folder)
        defer { Task { await nginx.stop() } }
        let gateway = try await harness.start()

        #expect(try await harness.post(Self.trickyAlerts("h2", count: 10)).status == 202)
        #expect(try await harness.post(Self.trickyAlerts("one", count: 1)).status == 202)
        let requests = try await nginx.requests(count: 2)
        // The virtual host the TLS name went to, over HTTP/2, accepted (not 404 or 421).
        #expect(requests.allSatisfy { $0.serverName == "partner.test" && $0.http2 == "h2" && $0.status == 200 }, "\(requests)")
        #expect(requests.allSatisfy { $0.userAgent.hasPrefix("alertgate/") })
        let bodies = requests.map(\.body)
        let several = try #require(requests.first { $0.body.contains("\"h2-1\"") })
        #expect(several.contentType == "application/x-ndjson")
        let single = try #require(requests.first { $0.body.contains("\"one-1\"") })
        #expect(single.contentType == "application/json")
        let objects = bodies.flatMap { $0.split(separator: "\n") }.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(objects.count == 11, "\(bodies)")
        #expect(objects.allSatisfy { $0["title"] as? String == Self.trickyTitle && $0["message"] as? String == Self.trickyMessage })
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }

    // MARK: rsyslog and syslog-ng → alertgate

    @Test(arguments: ["octet-counted", "traditional"])
    func rsyslogOmfwdOverTLSIsAttributedByItsClientCertificate(framing: String) async throws {
        let harness = try GatewayHarness()
        try harness.writeConfig(partner: harness.syslogPartner)
        let sink = try await harness.syslogSink(expect: 20)
        let gateway = try await harness.start()
        let input = try FreePort.find()
        let forwarder = try await Rsyslog.forwarder(
            inputPort: input, gatewayPort: harness.ports.tls, gatewayName: "gateway.test", certificate: harness.console.certificate,
            key: harness.console.key, caFile: harness.pki.chainFile, framing: framing, in: harness.folder)
        defer { Task { await forwarder.stop() } }

        let lines = (1...20).map { sensorLine("omfwd", $0) + "\n" }.joined()
        #expect(try await SocketClient.sendTCP(Array(lines.utf8), port: input) == lines.utf8.count)
        try await Self.expectFromConsole(sink: sink, gateway: gateway, tag: "omfwd", count: 20)
    }

    @Test func syslogNGSyslogDestinationOverTLSIsAttributedByItsClientCertificate() async throws {
        let harness = try GatewayHarness()
        try harness.writeConfig(partner: harness.syslogPartner)
        let sink = try await harness.syslogSink(expect: 20)
        let gateway = try await harness.start()
        let input = try FreePort.find()
        let forwarder = try await SyslogNG.forwarder(
            inputPort: input, gatewayPort: harness.ports.tls, certificate: harness.console.certificate, key: harness.console.key,
            caFile: harness.pki.chainFile, in: harness.folder)
        defer { Task { await forwarder.stop() } }

        let lines = (1...20).map { sensorLine("sng", $0) + "\n" }.joined()
        #expect(try await SocketClient.sendTCP(Array(lines.utf8), port: input) == lines.utf8.count)
        try await Self.expectFromConsole(sink: sink, gateway: gateway, tag: "sng", count: 20)
    }

    /// Every alert arrived once at the partner, as CEF that names console-1 (attributed by
    /// the forwarder's client certificate, not by its address, which is sensor-1's).
    static func expectFromConsole(sink: BenchSink, gateway: RunningProcess, tag: String, count: Int) async throws {
        let summary = try await sink.summary(gateway: gateway)
        #expect(summary["seq_distinct"] as? Int == count, "\(summary)\n\(gateway.standardError.suffix(3000))")
        let messages = sink.messages
        #expect(messages.count == count)
        for number in 1...count {
            let message = messages.first { $0.contains("\(tag) alert \(number)|") } ?? ""
            #expect(message.contains("appliance=\"console-1\""), "alert \(number): \(message)")
            // The sensor's CEF, re-formatted: its name, message and extra extension intact.
            let record = message.range(of: "CEF:0|").flatMap { CEFRecord(String(message[$0.lowerBound...])) }
            #expect(record?.header[5] == "\(tag) alert \(number)", "\(message)")
            #expect(record?.extensions["msg"] == "Unauthorized write")
            #expect(record?.extensions["seq"] == "\(number)")
        }
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }
}

/// A CEF record as a SIEM's parser reads it (CEF specification: header fields split on
/// unescaped `|`, with `\|` and `\\`; extension `key=value` pairs split where an unescaped
/// `=` follows a key, with `\=`, `\\`, `\n`, `\r` in values).
struct CEFRecord {
    var header: [String]
    var extensions: [String: String]

    init?(_ text: String) {
        var header: [String] = []
        var field = ""
        var index = text.startIndex
        while index < text.endIndex, header.count < 7 {
            let character = text[index]
            if character == "\\", text.index(after: index) < text.endIndex {
                index = text.index(after: index)
                field.append(text[index])
            } else if character == "|" {
                header.append(field)
                field = ""
            } else {
                field.append(character)
            }
            index = text.index(after: index)
        }
        guard header.count == 7 else { return nil }
        self.header = header
        self.extensions = Self.extensions(String(text[index...]))
    }

    static func extensions(_ text: String) -> [String: String] {
        // Where each key starts: a run of key characters right before an unescaped `=`,
        // at the start or after a space.
        let characters = Array(text)
        var keys: [(key: String, valueStart: Int, keyStart: Int)] = []
        var index = 0
        while index < characters.count {
            if characters[index] == "\\" {
                index += 2
                continue
            }
            if characters[index] == "=" {
                var start = index
                while start > 0, characters[start - 1].isLetter || characters[start - 1].isNumber || characters[start - 1] == "_" || characters[start - 1] == "." {
                    start -= 1
                }
                if start < index, start == 0 || characters[start - 1] == " " {
                    keys.append((String(characters[start..<index]), index + 1, start))
                }
            }
            index += 1
        }
        var result: [String: String] = [:]
        for (position, key) in keys.enumerated() {
            let end = position + 1 < keys.count ? keys[position + 1].keyStart - 1 : characters.count
            result[key.key] = unescape(characters[key.valueStart..<max(key.valueStart, end)])
        }
        return result
    }

    static func unescape(_ value: ArraySlice<Character>) -> String {
        var result = ""
        var index = value.startIndex
        while index < value.endIndex {
            if value[index] == "\\", index + 1 < value.endIndex {
                switch value[index + 1] {
                case "n": result.append("\n")
                case "r": result.append("\r")
                default: result.append(value[index + 1])
                }
                index += 2
            } else {
                result.append(value[index])
                index += 1
            }
        }
        return result
    }
}
