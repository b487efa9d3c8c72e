import AlertGateConfig
import AlertGateCore
import Foundation
import Testing

/// docs/reference.md section 4's sample, made self-consistent and extended to show every key.
private let sampleConfig = """
    gateway:
      data_dir: data                    # spool, CRL cache, generated certificates
      admin: 127.0.0.1:9180
      validation: none                  # default policy for appliances that set none
      log: { format: json, file: logs/alertgate.log }
      spool:
        max_size: 512 MiB

    store:
      dir: certs
      watch: false
      crl:
        proxy: http://proxy.local:3128
        timeout: 5s
        max_age: 1h
      trust:
        - name: corp
          file: ca/corp-chain.pem
          crl: ca/corp.crl.pem              # CRLs of the bundle's CAs, for air-gapped networks
        - name: pinned
          file: /etc/ssl/pinned.pem
      certificates:
        - name: sensor-1
          cert: sensor-1.crt
          key: sensor-1.key
          chain: ../shared/sensor-1-chain.pem
          passphrase: ${SENSOR1_PASS}
          use_crl: true
        - name: gateway
          self_signed: { cn: gateway.local, acknowledge_insecure: true }
        - name: console
          self_signed:
            cn: console.local
            acknowledge_insecure: true
            bits: 4096
            days: 30
            subject: "C=US, O=Contoso,OU=OT"

    appliances:
      - name: sensor-1
        kind: sensor
        certificate: sensor-1
        validation: required
        match: { cn: sensor-1.contoso.com }
      - name: console-1
        kind: console
        certificate: console
        match: { source: 10.1.2.0/24 }
      - name: ha-1
        kind: ha
        match: { source: "fd00:1::/64" }

    listeners:
      - name: sensors-tls
        protocol: syslog-tls
        listen: 0.0.0.0:6514
        certificate: gateway
        client_auth: required
        default_appliance: sensor-1
      - name: hooks
        protocol: webhook
        listen: "[::1]:8443"
        path: /alerts
        certificate: gateway
        max_message_size: 1MiB
      - name: legacy-udp
        protocol: syslog-udp
        listen: 0.0.0.0:514

    partners:
      - name: qradar
        transport: syslog-tls
        endpoint: qradar.example.com:6514
        server_name: qradar.example.com
        name_check: san-then-cn
        trust: corp
        format: leef
      - name: splunk
        transport: http2
        endpoint: https://splunk.example.com:8088/services/collector/event
        name_check: san
        trust: corp
        format: json
        headers: { Authorization: "Splunk ${SPLUNK_TOKEN}", X-Channel: "$${literal}-${CHANNEL}" }
        batch: { max_alerts: 250, max_bytes: 1MiB, max_delay: 200ms }
        retry: { initial: 500ms, max: 2m }
      - name: archive
        transport: syslog-tls
        endpoint: archive.example.com:6514

    rules:
      - name: major-and-up
        appliances: [sensor-1]
        min_severity: major
        protocols: [Modbus, s7comm]
        engines: [Policy, anomaly, protocol, malware, operational]
        partners: [qradar, splunk]
      - name: everything-archived
        partners: [archive]
    """

private let sampleEnvironment = ["SENSOR1_PASS": "s3cret", "SPLUNK_TOKEN": "tok-123", "CHANNEL": "blue"]

@Suite("A valid config.yaml")
struct GoodConfigTests {
    let config: GatewayConfig

    init() throws {
        let result = loadConfig(sampleConfig, environment: sampleEnvironment)
        if case .failure(let errors) = result {
            Issue.record("the sample did not load:\n\(errors.rendered(path: "config.yaml").joined(separator: "\n"))")
        }
        config = try result.get()
    }

    @Test func gatewaySection() {
        let gateway = config.gateway
        #expect(gateway.dataDir == URL(fileURLWithPath: "/srv/alertgate/data", isDirectory: true))
        #expect(gateway.dataDir.path == "/srv/alertgate/data")
        #expect(gateway.admin == HostPort(host: "127.0.0.1", port: 9180))
        #expect(gateway.admin?.description == "127.0.0.1:9180")
        #expect(gateway.validation == .none)
        #expect(gateway.log == LogSection(format: .json, file: "/srv/alertgate/logs/alertgate.log"))
        #expect(gateway.spool.maxSize == 512 * 1024 * 1024)

    }

    @Test func storeSection() {
        let store = config.store
        #expect(store.dir.path == "/srv/alertgate/certs")
        #expect(store.watch == false)
        #expect(store.crl.proxy == HostPort(host: "proxy.local", port: 3128))
        #expect(store.crl.timeout == .seconds(5))
        #expect(store.crl.maxAge == .seconds(3600))
        #expect(store.trust.map(\.name) == ["corp", "pinned"])
        // Relative to store.dir; absolute paths stay as they are.
        #expect(store.trust.map(\.file) == ["/srv/alertgate/certs/ca/corp-chain.pem", "/etc/ssl/pinned.pem"])
        #expect(store.trust[0].location == position(of: "name: corp", in: sampleConfig))
        #expect(store.trust[0].fileLocation == position(of: "ca/corp-chain.pem", in: sampleConfig))
        // crl: is relative to store.dir like file:, and optional.
        #expect(store.trust.map(\.crl) == ["/srv/alertgate/certs/ca/corp.crl.pem", nil])
        #expect(store.trust[0].crlLocation == position(of: "ca/corp.crl.pem", in: sampleConfig))
        #expect(store.trust[1].crlLocation == nil)
    }

    @Test func certificateFromFiles() throws {
        let entry = try #require(config.certificate(named: "sensor-1"))
        #expect(entry.location == AlertGateConfig.SourceLocation(line: 23, column: 7))  // its mapping: `name:` after "- "
        guard case .files(let files) = entry.source else {
            Issue.record("sensor-1 should come from files, got \(entry.source)")
            return
        }
        #expect(files.cert == "/srv/alertgate/certs/sensor-1.crt")
        #expect(files.key == "/srv/alertgate/certs/sensor-1.key")
        #expect(files.chain == "/srv/alertgate/shared/sensor-1-chain.pem")
        #expect(files.passphrase == "s3cret")
        #expect(files.useCRL)
        #expect(files.certLocation == position(of: "sensor-1.crt", in: sampleConfig))
        #expect(files.keyLocation == position(of: "sensor-1.key", in: sampleConfig))
    }

    @Test func selfSignedCertificates() throws {
        let gateway = try #require(config.certificate(named: "gateway"))
        #expect(gateway.source == .selfSigned(SelfSignedSpec(cn: "gateway.local", acknowledgeInsecure: true, bits: 2048, days: 365, subject: [])))
        let console = try #require(config.certificate(named: "console"))
        #expect(console.source == .selfSigned(SelfSignedSpec(
            cn: "console.local", acknowledgeInsecure: true, bits: 4096, days: 30,
            subject: [
                SubjectAttribute(key: "C", value: "US"),
                SubjectAttribute(key: "O", value: "Contoso"),
                SubjectAttribute(key: "OU", value: "OT"),
            ]
        )))
        #expect(config.certificate(named: "nope") == nil)
    }

    @Test func appliancesInheritTheGatewayPolicy() throws {
        #expect(config.appliances.map(\.name) == ["sensor-1", "console-1", "ha-1"])
        let sensor = try #require(config.appliance(named: "sensor-1"))
        #expect(sensor.kind == .sensor)
        #expect(sensor.certificate == "sensor-1")
        #expect(sensor.validation == .required)  // its own
        #expect(sensor.match == .commonName("sensor-1.contoso.com"))
        let console = try #require(config.appliance(named: "console-1"))
        #expect(console.kind == .console)
        #expect(console.validation == .none)  // gateway.validation
        #expect(console.match == .source(CIDR(address: "10.1.2.0", prefix: 24)))
        let ha = try #require(config.appliance(named: "ha-1"))
        #expect(ha.kind == .ha)
        #expect(ha.certificate == nil)
        #expect(ha.validation == .none)
        #expect(ha.match == .source(CIDR(address: "fd00:1::", prefix: 64)))
        #expect(ha.location == position(of: "name: ha-1", in: sampleConfig))
    }

    @Test func listeners() throws {
        let tls = try #require(config.listener(named: "sensors-tls"))
        #expect(tls.protocol == .syslogTLS)
        #expect(tls.listen == HostPort(host: "0.0.0.0", port: 6514))
        #expect(tls.certificate == "gateway")
        #expect(tls.clientAuth == .required)
        #expect(tls.path == "/")
        #expect(tls.maxMessageSize == 64 * 1024)
        #expect(tls.defaultAppliance == "sensor-1")

        let hooks = try #require(config.listener(named: "hooks"))
        #expect(hooks.protocol == .webhook)
        #expect(hooks.listen == HostPort(host: "::1", port: 8443))
        #expect(hooks.listen.description == "[::1]:8443")
        #expect(hooks.path == "/alerts")
        #expect(hooks.clientAuth == .none)
        #expect(hooks.maxMessageSize == 1024 * 1024)

        let udp = try #require(config.listener(named: "legacy-udp"))
        #expect(udp.protocol == .syslogUDP)
        #expect(udp.certificate == nil)
        #expect(udp.defaultAppliance == nil)
    }

    @Test func partners() throws {
        let qradar = try #require(config.partner(named: "qradar"))
        #expect(qradar.transport == "syslog-tls")
        #expect(qradar.endpoint == "qradar.example.com:6514")
        #expect(qradar.serverName == "qradar.example.com")
        #expect(qradar.nameCheck == .sanThenCN)
        #expect(qradar.trust == "corp")
        #expect(qradar.format == .leef)

        let splunk = try #require(config.partner(named: "splunk"))
        #expect(splunk.nameCheck == .san)
        #expect(splunk.serverName == nil)
        #expect(splunk.expectedServerName == "splunk.example.com")
        #expect(splunk.headers == [
            HeaderField(name: "Authorization", value: "Splunk tok-123"),
            HeaderField(name: "X-Channel", value: "${literal}-blue"),
        ])
        #expect(splunk.batch == BatchConfig(maxAlerts: 250, maxBytes: 1 << 20, maxDelay: .milliseconds(200)))
        #expect(splunk.retry == RetryConfig(initial: .milliseconds(500), max: .seconds(120)))

        let archive = try #require(config.partner(named: "archive"))
        #expect(archive.format == .json)
        #expect(archive.nameCheck == .sanThenCN)
        #expect(archive.trust == nil)
        #expect(archive.headers.isEmpty)
        #expect(archive.batch == BatchConfig(maxAlerts: 500, maxBytes: 1 << 20, maxDelay: .milliseconds(200)))
        #expect(archive.retry == RetryConfig(initial: .milliseconds(500), max: .seconds(30)))
        #expect(archive.expectedServerName == "archive.example.com")
        #expect(config.partner(named: "Splunk") == nil)
    }

    @Test func rules() {
        #expect(config.rules.count == 2)
        let major = config.rules[0]
        #expect(major.name == "major-and-up")
        #expect(major.appliances == ["sensor-1"])
        #expect(major.minSeverity == .major)
        #expect(major.protocols == ["modbus", "s7comm"])
        #expect(major.engines == ["policy", "anomaly", "protocol", "malware", "operational"])
        #expect(major.partners == ["qradar", "splunk"])
        let all = config.rules[1]
        #expect(all.appliances == nil)
        #expect(all.minSeverity == nil)
        #expect(all.protocols == nil)
        #expect(all.engines == nil)
        #expect(all.partners == ["archive"])
        #expect(all.location == position(of: "name: everything-archived", in: sampleConfig))
    }
}

@Suite("Defaults and files")
struct DefaultsTests {
    @Test func emptyFileGivesDefaults() throws {
        for text in ["", "# only a comment\n", "---\n"] {
            let config = try loadConfig(text).get()
            #expect(config == GatewayConfig.defaults(baseDirectory: testBaseDirectory))
            #expect(config.gateway.dataDir.path == "/srv/alertgate/data")
            #expect(config.gateway.admin == nil)
            #expect(config.gateway.validation == .required)
            #expect(config.gateway.log == LogSection(format: .text, file: nil))
            #expect(config.gateway.spool.maxSize == 1 << 30)
            #expect(config.gateway.spool.maxSizePerAppliance == nil)
            // Unset, each appliance gets an equal share of max_size, at least 1 MiB.
            #expect(config.gateway.spool.applianceShare(appliances: 4) == 256 << 20)
            #expect(config.gateway.spool.applianceShare(appliances: 0) == 1 << 30)
            #expect(config.gateway.spool.applianceShare(appliances: 10_000) == 1 << 20)
            #expect(config.store.dir.path == "/srv/alertgate/certs")
            #expect(config.store.watch)
            #expect(config.store.crl == CRLSection(proxy: nil, timeout: .seconds(5), maxAge: .seconds(3600)))
            #expect(config.appliances.isEmpty && config.listeners.isEmpty && config.partners.isEmpty && config.rules.isEmpty)
        }
    }

    @Test func sizesDurationsAndAddressesInEveryForm() throws {
        let config = try loadConfig("""
            gateway:
              admin: "[::1]:9180"
              spool: { max_size: 1048576, max_size_per_appliance: 1MiB }
            store:
              crl: { proxy: "http://[fd00::1]", timeout: 1500ms, max_age: 2 h }
            """).get()
        #expect(config.gateway.admin == HostPort(host: "::1", port: 9180))
        #expect(config.gateway.spool.maxSize == 1_048_576)
        #expect(config.gateway.spool.maxSizePerAppliance == 1_048_576)
        #expect(config.store.crl.proxy == HostPort(host: "fd00::1", port: 80))
        #expect(config.store.crl.timeout == .milliseconds(1500))
        #expect(config.store.crl.maxAge == .seconds(7200))
    }

    @Test func loadsAFileAndResolvesPathsAgainstItsFolder() throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("alertgate-config-\(UUID().uuidString)/etc", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let file = folder.appendingPathComponent("config.yaml")
        try """
            gateway: { data_dir: ../var/data }
            store:
              dir: /opt/certs
              trust: [{ name: corp, file: ./ca/../ca/corp.pem }]
            """.write(to: file, atomically: true, encoding: .utf8)

        let config = try ConfigLoader(knownTransports: [], environment: [:]).load(path: file.path).get()
        let root = folder.deletingLastPathComponent().standardizedFileURL.path
        #expect(config.gateway.dataDir.path == "\(root)/var/data")
        #expect(config.store.dir.path == "/opt/certs")
        #expect(config.store.trust.first?.file == "/opt/certs/ca/corp.pem")
    }
}
