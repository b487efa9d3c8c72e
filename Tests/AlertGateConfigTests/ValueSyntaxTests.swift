import AlertGateConfig
import Testing

@Suite("Value syntax shared with the command line")
struct ValueSyntaxTests {
    @Test(arguments: [
        ("127.0.0.1:9180", HostPort(host: "127.0.0.1", port: 9180)),
        ("qradar.example.com:6514", HostPort(host: "qradar.example.com", port: 6514)),
        ("[::1]:9180", HostPort(host: "::1", port: 9180)),
        ("[fd00::10]:1", HostPort(host: "fd00::10", port: 1)),
    ])
    func hostPortParses(text: String, expected: HostPort) throws {
        let parsed = try HostPort(parsing: text)
        #expect(parsed == expected)
        #expect(parsed.description == text)
    }

    @Test(arguments: ["127.0.0.1", "127.0.0.1:0", "host:65536", ":9180", "::1:9180", "[::1]", "[nothost]:80", "h:80x", "a b:1"])
    func hostPortRejects(text: String) {
        #expect(throws: ConfigValueError.self) { try HostPort(parsing: text) }
    }

    @Test func hostPortDefaultPort() throws {
        #expect(try HostPort(parsing: "proxy.local", defaultPort: 80) == HostPort(host: "proxy.local", port: 80))
    }

    @Test(arguments: [
        ("10.1.2.0/24", CIDR(address: "10.1.2.0", prefix: 24)),
        ("0.0.0.0/0", CIDR(address: "0.0.0.0", prefix: 0)),
        ("10.1.2.3", CIDR(address: "10.1.2.3", prefix: 32)),
        ("fd00:1::/64", CIDR(address: "fd00:1::", prefix: 64)),
        ("::1", CIDR(address: "::1", prefix: 128)),
    ])
    func cidrParses(text: String, expected: CIDR) throws {
        #expect(try CIDR(parsing: text) == expected)
    }

    @Test(arguments: ["10.1.2/24", "10.1.2.0/", "10.1.2.0/33", "fd00::/129", "10.1.2.0/-1", "10.1.2.0/24/1", "sensor-1", "300.1.1.1/8"])
    func cidrRejects(text: String) {
        #expect(throws: ConfigValueError.self) { try CIDR(parsing: text) }
    }

    @Test func subjectParsesAndNormalisesKeys() throws {
        let subject = try SubjectAttribute.parseList(" c=US , o=Contoso\\, Inc.,OU=OT,emailaddress=ot@contoso.com")
        #expect(subject == [
            SubjectAttribute(key: "C", value: "US"),
            SubjectAttribute(key: "O", value: "Contoso, Inc."),
            SubjectAttribute(key: "OU", value: "OT"),
            SubjectAttribute(key: "emailAddress", value: "ot@contoso.com"),
        ])
    }

    @Test func subjectRejects() {
        #expect(throws: ConfigValueError("the subject may not set CN: the common name has its own setting")) {
            try SubjectAttribute.parseList("C=US,CN=x")
        }
        #expect(throws: ConfigValueError("unknown subject key \"X\"; expected one of: C, ST, L, O, OU, emailAddress")) {
            try SubjectAttribute.parseList("X=1")
        }
        #expect(throws: ConfigValueError("subject key O has no value")) { try SubjectAttribute.parseList("O=") }
        #expect(throws: ConfigValueError.self) { try SubjectAttribute.parseList("C=US,,O=x") }
    }

    @Test func severalUnsetVariablesInOneScalarAreNamedTogether() {
        expectOnlyProblem(
            in: "gateway: { data_dir: \"${A}/${B}/${C}\" }\n", at: "1:22",
            "gateway.data_dir: environment variables A, C are not set",
            environment: ["B": "b"]
        )
    }

    @Test func variablesWorkInAnyScalar() throws {
        let config = try loadConfig(
            "gateway: { admin: \"${HOST}:${PORT}\", validation: \"${POLICY}\" }\nstore: { watch: \"${WATCH}\" }\n",
            environment: ["HOST": "127.0.0.1", "PORT": "9180", "POLICY": "none", "WATCH": "off"]
        ).get()
        #expect(config.gateway.admin == HostPort(host: "127.0.0.1", port: 9180))
        #expect(config.gateway.validation == .none)
        #expect(config.store.watch == false)
    }
}
