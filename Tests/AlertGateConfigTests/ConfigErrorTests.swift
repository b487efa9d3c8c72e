import AlertGateConfig
import AlertGateCore
import Foundation
import Testing

// Each test feeds a small config.yaml and checks what `check-config` would print:
// `config.yaml:LINE:COL: message`, at the node the problem concerns.

@Suite("config.yaml problems, each at its line and column")
struct ConfigErrorTests {
    @Test func unknownKeyIsReportedAtTheKey() {
        let yaml = """
            partners:
              - name: qradar
                transport: syslog-tls
                endpoint: qradar.example.com:6514
              - name: splunk
                transport: http2
                endpoint: https://splunk.example.com:8088
                retries: 3
            """
        expectOnlyProblem(
            in: yaml, at: "8:5",
            #"unknown key "retries" in partners[1] (splunk); expected one of: name, transport, endpoint, server_name, name_check, trust, format, framing, headers, batch, retry"#
        )
    }

    @Test func framingIsOctetCountingOrNewline() {
        expectOnlyProblem(in: """
            partners:
              - name: qradar
                transport: syslog-tls
                endpoint: qradar.example.com:6514
                framing: lf
            """, at: "5:14", #"partners[0] (qradar).framing: expected one of octet-counting, newline, found "lf""#)
        let config = try? loadConfig("""
            partners:
              - { name: ng, transport: syslog-tls, endpoint: "ng.example.com:514", framing: newline }
              - { name: rs, transport: syslog-tls, endpoint: "rs.example.com:6514" }
            """).get()
        #expect(config?.partners.map(\.framing) == [.newline, nil])
    }

    @Test func unknownTopLevelKeyAndUnknownNestedKey() {
        let found = problems(in: """
            gateway:
              log: { format: text, colour: red }
            stores: {}
            """)
        #expect(found.count == 2)
        expectProblem(found.first, at: "2:24", #"unknown key "colour" in gateway.log; expected one of: format, file"#)
        expectProblem(found.last, at: "3:1", #"unknown key "stores" at the top level; expected one of: gateway, store, appliances"#)
    }

    @Test func wrongTypeIsReportedAtTheValue() {
        expectOnlyProblem(in: """
            store:
              dir: certs
              watch: yes please
            """, at: "3:10", #"store.watch: expected true or false, found "yes please""#)
    }

    @Test func trustCRLMustBeAFilePath() {
        let found = problems(in: """
            store:
              trust:
                - name: corp
                  file: ca/corp-chain.pem
                  crl: [ca/a.crl, ca/b.crl]
                - name: lab
                  file: ca/lab.pem
                  crl: ""
                  crls: ca/lab.crl
            """)
        #expect(found.count == 3, "\(found)")
        expectProblem(found[0], at: "5:12", "store.trust[0] (corp).crl: expected a file path, found a list")
        expectProblem(found[1], at: "8:12", "store.trust[1] (lab).crl: must not be empty")
        expectProblem(found[2], at: "9:7", #"unknown key "crls" in store.trust[1] (lab); expected one of: name, file, crl"#)
    }

    @Test func listWhereAMappingBelongsAndTheOtherWayRound() {
        let found = problems(in: """
            gateway: [data]
            rules: { name: all, partners: [x] }
            """)
        #expect(found.count == 2)
        expectProblem(found.first, at: "1:10", "gateway: expected a mapping, found a list")
        expectProblem(found.last, at: "2:8", "rules: expected a list, found a mapping")
    }

    @Test func missingRequiredKeyIsReportedAtTheEnclosingMapping() {
        expectOnlyProblem(in: """
            listeners:
              - name: sensors-tcp
                protocol: syslog-tcp
            """, at: "2:5", #"listeners[0] (sensors-tcp): missing required key "listen""#)
    }

    @Test func missingNameIsReportedWithTheEntryIndex() {
        expectOnlyProblem(in: """
            partners:
              - transport: http2
                endpoint: https://h.example.com
            """, at: "2:5", #"partners[0]: missing required key "name""#)
    }

    @Test func everyKindOfDanglingReferenceIsReportedAtTheName() {
        let yaml = """
            store:
              trust:
                - name: corp
                  file: corp.pem
              certificates:
                - name: gateway
                  self_signed: { cn: gw.local, acknowledge_insecure: true }
            appliances:
              - name: sensor-1
                kind: sensor
                certificate: sensor-one
            listeners:
              - name: tls
                protocol: syslog-tls
                listen: 0.0.0.0:6514
                certificate: gw
                default_appliance: sensor-2
            partners:
              - name: qradar
                transport: syslog-tls
                endpoint: qradar.example.com:6514
                trust: corporate
            rules:
              - name: major-and-up
                appliances: [sensor-1, sensor-9]
                partners: [qradar, splnk]
            """
        let found = problems(in: yaml)
        #expect(found.count == 6, "\(found)")
        guard found.count == 6 else { return }
        expectProblem(found[0], at: "11:18", #"appliance sensor-1 names certificate "sensor-one", which is not defined (defined in store.certificates: gateway)"#)
        expectProblem(found[1], at: "16:18", #"listener tls names certificate "gw", which is not defined"#)
        expectProblem(found[2], at: "17:24", #"listener tls names appliance "sensor-2", which is not defined (defined in appliances: sensor-1)"#)
        expectProblem(found[3], at: "22:12", #"partner qradar names trust entry "corporate", which is not defined (defined in store.trust: corp)"#)
        expectProblem(found[4], at: "25:28", #"rule major-and-up names appliance "sensor-9", which is not defined"#)
        expectProblem(found[5], at: "26:24", #"rule major-and-up names partner "splnk", which is not defined (defined in partners: qradar)"#)
    }

    @Test func referenceToASectionWithNoEntriesSaysSo() {
        expectOnlyProblem(in: """
            rules:
              - name: all
                partners: [splunk]
            """, at: "3:16", #"rule all names partner "splunk", which is not defined (no partners are defined in partners)"#)
    }

    @Test func duplicateNamesAreReportedAtTheSecond() {
        let found = problems(in: """
            store:
              certificates:
                - name: gw
                  self_signed: { cn: a.local, acknowledge_insecure: true }
                - name: gw
                  self_signed: { cn: b.local, acknowledge_insecure: true }
            partners:
              - name: qradar
                transport: syslog-tls
                endpoint: a.example.com:6514
              - name: qradar
                transport: syslog-tls
                endpoint: b.example.com:6514
            """)
        #expect(found.count == 2, "\(found)")
        expectProblem(found.first, at: "5:13", #"duplicate certificate name "gw" (first at line 3)"#)
        expectProblem(found.last, at: "11:11", #"duplicate partner name "qradar" (first at line 8)"#)
    }

    @Test func duplicateYAMLKeysAreEachReportedAndTheRestIsStillChecked() {
        let found = problems(in: """
            gateway:
              admin: 127.0.0.1:9180
              validation: none
              admin: 127.0.0.1:9181
            store: { watch: maybe, dir: a, "dir": b }
            gateway: {}
            """)
        #expect(found.count == 4, "\(found)")
        guard found.count == 4 else { return }
        expectProblem(found[0], at: "4:3", #"duplicate key "admin" in gateway (first at line 2)"#)
        expectProblem(found[1], at: "5:17", #"store.watch: expected true or false, found "maybe""#)
        expectProblem(found[2], at: "5:32", #"duplicate key "dir" in store (first at line 5, column 24)"#)
        expectProblem(found[3], at: "6:1", #"duplicate key "gateway" at the top level (first at line 1)"#)
    }

    @Test func unsetEnvironmentVariableIsReportedAtTheScalar() {
        let yaml = """
            partners:
              - name: splunk
                transport: http2
                endpoint: https://splunk.example.com:8088
                headers:
                  Authorization: "Splunk ${SPLUNK_TOKEN}"
            """
        expectOnlyProblem(
            in: yaml, at: "6:22",
            "partners[0] (splunk).headers.Authorization: environment variable SPLUNK_TOKEN is not set",
            environment: ["SPLUNK_TOKN": "typo"]
        )
        // With the variable set, the same text loads.
        let config = try? loadConfig(yaml, environment: ["SPLUNK_TOKEN": "t"]).get()
        #expect(config?.partners.first?.headers == [HeaderField(name: "Authorization", value: "Splunk t")])
    }

    @Test func malformedVariableReference() {
        expectOnlyProblem(in: """
            store:
              certificates:
                - name: s
                  cert: s.crt
                  passphrase: "${SENSOR1_PASS"
            """, at: "5:19", "unterminated ${")
    }

    @Test func badDurations() {
        let found = problems(in: """
            store:
              crl:
                timeout: 5
                max_age: 1 day
            """)
        #expect(found.count == 2)
        expectProblem(found.first, at: "3:14", #"store.crl.timeout: expected a duration such as 5s, found "5""#)
        expectProblem(found.last, at: "4:14", #"store.crl.max_age: expected a duration such as 5s"#)
    }

    @Test func badSize() {
        expectOnlyProblem(in: """
            gateway:
              spool:
                max_size: 1GB
            """, at: "3:15", #"gateway.spool.max_size: expected a size such as 64KiB, 1MiB, 1GiB or a number of bytes, found "1GB""#)
    }

    @Test func aSpoolTooSmallForOneReadIsRefused() {
        expectOnlyProblem(in: """
            gateway:
              spool:
                max_size: 64KiB
            """, at: "3:15", "gateway.spool.max_size must be at least 1MiB")
        expectOnlyProblem(in: """
            gateway:
              spool:
                max_size_per_appliance: 100KiB
            """, at: "3:29", "gateway.spool.max_size_per_appliance must be at least 1MiB")
    }

    @Test func badEnumValueListsTheAllowedOnes() {
        expectOnlyProblem(in: """
            partners:
              - name: qradar
                transport: syslog-tls
                endpoint: qradar.example.com:6514
                format: xml
            """, at: "5:13", #"partners[0] (qradar).format: expected one of cef, leef, json, rfc5424, found "xml""#)
    }

    @Test func unknownTransportListsTheRegisteredOnes() {
        expectOnlyProblem(in: """
            partners:
              - name: q
                transport: syslog
                endpoint: q.example.com:6514
            """, at: "3:16", #"partners[0] (q).transport: unknown transport "syslog"; known transports: http2, syslog-tls"#)
    }

    @Test func selfSignedWithoutAcknowledgement() {
        expectOnlyProblem(
            in: """
                store:
                  certificates:
                    - name: gateway
                      self_signed: { cn: gateway.local }
                """,
            at: "4:20",
            "self-signed certificate gateway needs acknowledge_insecure: true. " + SelfSignedAdvice.warning
        )
        expectOnlyProblem(in: """
            store:
              certificates:
                - name: gateway
                  self_signed:
                    cn: gateway.local
                    acknowledge_insecure: false
            """, at: "6:31", "self-signed certificate gateway needs acknowledge_insecure: true. Self-signed certificates are not recommended")
    }

    @Test func yamlSyntaxErrorIsOneProblemAtYamlsMark() {
        let found = problems(in: """
            gateway:
              admin: 127.0.0.1:9180
             data_dir: x
            store: { watch: nope }
            """)
        #expect(found == ["config.yaml:3:2: invalid YAML: did not find expected key (while parsing a block mapping at line 1, column 1)"])
        expectOnlyProblem(in: "rules: [a, b\n", at: "2:1", "invalid YAML: did not find expected ',' or ']'")
    }

    @Test func severalProblemsAreAllReportedInLineOrder() {
        let found = problems(in: """
            rules:
              - name: r
                partners: [nowhere]
            gateway:
              validation: sometimes
              colour: blue
            store:
              watch: 2
            """)
        #expect(found.map { $0.prefix { $0 != " " } } == [
            "config.yaml:3:16:", "config.yaml:5:15:", "config.yaml:6:3:", "config.yaml:8:10:",
        ])
        guard found.count == 4 else { return }
        expectProblem(found[0], at: "3:16", #"rule r names partner "nowhere", which is not defined"#)
        expectProblem(found[1], at: "5:15", #"gateway.validation: expected one of required, none, found "sometimes""#)
        expectProblem(found[2], at: "6:3", #"unknown key "colour" in gateway"#)
        expectProblem(found[3], at: "8:10", #"store.watch: expected true or false, found "2""#)
    }

    @Test func unreadableFileIsOneProblemAtTheTop() {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-\(UUID().uuidString)/config.yaml")
        let loader = ConfigLoader(knownTransports: [], environment: [:])
        guard case .failure(let errors) = loader.load(path: missing.path) else {
            Issue.record("a missing file loaded")
            return
        }
        #expect(errors.rendered(path: "etc/config.yaml") == ["etc/config.yaml:1:1: cannot read the config file: No such file or directory"])

        guard case .failure(let directoryErrors) = loader.load(path: FileManager.default.temporaryDirectory.path) else {
            Issue.record("a directory loaded")
            return
        }
        #expect(directoryErrors.rendered(path: "x") == ["x:1:1: cannot read the config file: it is a directory"])
    }
}

@Suite("Rules between entries")
struct ConsistencyErrorTests {
    @Test func tlsListenersNeedACertificateAndPlainOnesTakeNone() {
        let found = problems(in: """
            store:
              certificates:
                - name: gw
                  self_signed: { cn: gw.local, acknowledge_insecure: true }
            listeners:
              - name: sensors-tls
                protocol: syslog-tls
                listen: 0.0.0.0:6514
              - name: plain
                protocol: syslog-udp
                listen: 0.0.0.0:514
                certificate: gw
                client_auth: none
                path: /x
            """)
        #expect(found.count == 4, "\(found)")
        guard found.count == 4 else { return }
        expectProblem(found[0], at: "6:5", "listener sensors-tls (syslog-tls) needs a certificate")
        expectProblem(found[1], at: "12:5", "listener plain (syslog-udp) takes no certificate")
        expectProblem(found[2], at: "13:5", "listener plain (syslog-udp) takes no client_auth")
        expectProblem(found[3], at: "14:5", "listener plain (syslog-udp) takes no path: path applies to webhook listeners only")
    }

    @Test func webhookPathMustStartWithSlash() {
        expectOnlyProblem(in: """
            store: { certificates: [{ name: gw, self_signed: { cn: gw.local, acknowledge_insecure: true } }] }
            listeners:
              - { name: hooks, protocol: webhook, listen: 127.0.0.1:8443, certificate: gw, path: alerts }
            """, at: "3:86", #"listeners[0] (hooks).path: must start with /, found "alerts""#)
    }

    @Test func twoListenersOnOneSocket() {
        expectOnlyProblem(in: """
            listeners:
              - { name: a, protocol: syslog-tcp, listen: 0.0.0.0:514 }
              - { name: b, protocol: syslog-udp, listen: 0.0.0.0:514 }
              - { name: c, protocol: syslog-tcp, listen: 0.0.0.0:514 }
            """, at: "4:46", "listener c listens on 0.0.0.0:514, as listener a does (line 2)")
    }

    @Test func certificateNeedsExactlyOneSource() {
        let found = problems(in: """
            store:
              certificates:
                - name: both
                  cert: a.crt
                  self_signed: { cn: a.local, acknowledge_insecure: true }
                - name: neither
                  key: a.key
                - name: mixed
                  self_signed: { cn: m.local, acknowledge_insecure: true }
                  use_crl: true
            """)
        #expect(found.count == 3, "\(found)")
        guard found.count == 3 else { return }
        expectProblem(found[0], at: "5:7", "store.certificates[0] (both): has both cert and self_signed; use one of them")
        expectProblem(found[1], at: "6:7", "store.certificates[1] (neither): needs either cert (with key, chain, passphrase, use_crl) or self_signed")
        expectProblem(found[2], at: "10:7", "store.certificates[2] (mixed).use_crl: applies to certificates from files (cert), not to self_signed")
    }

    @Test func selfSignedParameters() {
        let found = problems(in: """
            store:
              certificates:
                - name: a
                  self_signed: { cn: a.local, acknowledge_insecure: true, bits: 1024, days: 0, subject: "C=USA,O=x" }
                - name: b
                  self_signed: { cn: "*.contoso.com", acknowledge_insecure: true }
                - name: c
                  self_signed: { cn: A.local, acknowledge_insecure: true }
            """)
        #expect(found.count == 5, "\(found)")
        guard found.count == 5 else { return }
        expectProblem(found[0], at: "4:69", "store.certificates[0] (a).self_signed.bits: expected 2048 or 4096, found 1024")
        expectProblem(found[1], at: "4:81", "store.certificates[0] (a).self_signed.days: must be between 1 and 36500, found 0")
        expectProblem(found[2], at: "4:93", #"store.certificates[0] (a).self_signed.subject: subject C must be a two-letter country code, found "USA""#)
        expectProblem(found[3], at: "6:26", "wildcard certificates are not supported")
        expectProblem(found[4], at: "8:26", #"self-signed certificates a and c share CN "A.local" (first at line 4)"#)
    }

    @Test func applianceMatchAndCertificateAreUnique() {
        let found = problems(in: """
            store:
              certificates:
                - { name: s1, self_signed: { cn: s1.local, acknowledge_insecure: true } }
            appliances:
              - { name: a, kind: sensor, certificate: s1, match: { cn: sensor.contoso.com } }
              - { name: b, kind: sensor, certificate: s1, match: { cn: SENSOR.contoso.com } }
              - { name: c, kind: sensor, match: { source: 10.1.2.0/33 } }
              - { name: d, kind: robot, match: { cn: d, source: 10.0.0.0/8 } }
              - { name: e, kind: ha, match: {} }
            """)
        #expect(found.count == 6, "\(found)")
        guard found.count == 6 else { return }
        expectProblem(found[0], at: "6:43", #"appliance b uses certificate "s1", as appliance a does (line 5); each appliance needs its own certificate"#)
        expectProblem(found[1], at: "6:60", #"appliance b matches CN "SENSOR.contoso.com", as appliance a does (line 5)"#)
        expectProblem(found[2], at: "7:47", "appliances[2] (c).match.source: prefix length in \"10.1.2.0/33\" must be 0-32")
        expectProblem(found[3], at: "8:22", #"appliances[3] (d).kind: expected one of sensor, console, ha, found "robot""#)
        expectProblem(found[4], at: "8:45", "appliances[3] (d).match: takes cn or source, not both")
        expectProblem(found[5], at: "9:33", "appliances[4] (e).match: needs cn (the client certificate's CN) or source")
    }

    @Test func addressesAndProxy() {
        let found = problems(in: """
            gateway:
              admin: 127.0.0.1:70000
            store:
              crl: { proxy: "https://proxy.local:3128" }
            listeners:
              - { name: a, protocol: syslog-tcp, listen: "::1:514" }
              - { name: b, protocol: syslog-tcp, listen: "localhost" }
            """)
        #expect(found.count == 4, "\(found)")
        guard found.count == 4 else { return }
        expectProblem(found[0], at: "2:10", #"gateway.admin: port 70000 in "127.0.0.1:70000" is out of range (1-65535)"#)
        expectProblem(found[1], at: "4:17", "store.crl.proxy: expected an http:// URL such as http://proxy.local:3128")
        expectProblem(found[2], at: "6:46", "an IPv6 address needs brackets, as in [::1]:9180")
        expectProblem(found[3], at: "7:46", #"listeners[1] (b).listen: expected HOST:PORT such as 127.0.0.1:9180 or [::1]:9180, found "localhost""#)
    }

    @Test func retryAndBatchLimits() {
        let found = problems(in: """
            partners:
              - name: p
                transport: http2
                endpoint: https://p.example.com
                batch: { max_alerts: 0, max_bytes: 0, max_delay: 0ms }
                retry: { initial: 1m }
            """)
        #expect(found.count == 3, "\(found)")
        guard found.count == 3 else { return }
        expectProblem(found[0], at: "5:26", "partners[0] (p).batch.max_alerts: must be at least 1, found 0")
        expectProblem(found[1], at: "5:40", "partners[0] (p).batch.max_bytes: must be more than 0 bytes")
        expectProblem(found[2], at: "6:23", "partners[0] (p).retry: initial 1m is longer than max 30s (the default)")
    }

    @Test func ruleLists() {
        let found = problems(in: """
            partners:
              - { name: p, transport: http2, endpoint: https://p.example.com }
            rules:
              - name: r1
                engines: [Policy, heuristics]
                protocols: []
                partners: [p, p]
              - name: r2
                min_severity: Critical
              - name: r3
                min_severity: fatal
                partners: []
            """)
        #expect(found.count == 6, "\(found)")
        guard found.count == 6 else { return }
        expectProblem(found[0], at: "5:23", #"rule r1 names engine "heuristics"; expected one of policy, anomaly, protocol, malware, operational"#)
        expectProblem(found[1], at: "6:16", "rules[0] (r1).protocols: is empty; leave protocols out")
        expectProblem(found[2], at: "7:19", #"rule r1 names partner "p" twice"#)
        expectProblem(found[3], at: "8:5", #"rules[1] (r2): missing required key "partners""#)
        expectProblem(found[4], at: "11:19", #"rules[2] (r3).min_severity: expected one of warning, minor, major, critical, found "fatal""#)
        expectProblem(found[5], at: "12:15", "rules[2] (r3).partners: is empty; a rule needs at least one partner")
    }

    @Test func topLevelMustBeAMapping() {
        expectOnlyProblem(in: "- gateway\n", at: "1:1", "expected a mapping of sections (gateway, store, appliances, listeners, partners, rules) at the top level, found a list")
    }
}
