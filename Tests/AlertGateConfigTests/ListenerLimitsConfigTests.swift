import AlertGateConfig
import Foundation
import Testing

/// docs/reference.md §11: every listener's limits, with their defaults, and where each does not apply.
@Suite struct ListenerLimitsConfigTests {
    static let store = """
        store:
          dir: certs
          certificates:
            - name: gw
              self_signed: { cn: gw.local, acknowledge_insecure: true }

        """

    @Test func defaultsAreSpecSection11s() throws {
        let config = try loadConfig(Self.store + """
            listeners:
              - { name: tcp, protocol: syslog-tcp, listen: 0.0.0.0:514 }
              - { name: hooks, protocol: webhook, listen: 0.0.0.0:8443, certificate: gw }
              - { name: udp, protocol: syslog-udp, listen: 0.0.0.0:514 }
            """).get()
        let tcp = try #require(config.listener(named: "tcp"))
        #expect(tcp.maxConnections == 1024)
        #expect(tcp.maxConnectionsPerSource == 64)
        #expect(tcp.handshakeTimeout == .seconds(10))
        #expect(tcp.idleTimeout == .seconds(600))
        let hooks = try #require(config.listener(named: "hooks"))
        #expect(hooks.headerTimeout == .seconds(10))
        #expect(hooks.idleTimeout == .seconds(60))
        #expect(hooks.token == nil)
        #expect(try #require(config.listener(named: "udp")).maxRatePerSource == 0)
    }

    @Test func everyKeyIsReadAndZeroTurnsATimeoutOff() throws {
        let config = try loadConfig(Self.store + """
            listeners:
              - name: hooks
                protocol: webhook
                listen: 0.0.0.0:8443
                certificate: gw
                max_connections: 200
                max_connections_per_source: 8
                handshake_timeout: 0
                header_timeout: 2s
                idle_timeout: 0s
                token: ${HOOK_TOKEN}
              - { name: udp, protocol: syslog-udp, listen: 0.0.0.0:514, max_rate_per_source: 5000 }
            """, environment: ["HOOK_TOKEN": "s3cret-token"]).get()
        let hooks = try #require(config.listener(named: "hooks"))
        #expect(hooks.maxConnections == 200)
        #expect(hooks.maxConnectionsPerSource == 8)
        #expect(hooks.handshakeTimeout == .zero)
        #expect(hooks.headerTimeout == .seconds(2))
        #expect(hooks.idleTimeout == .zero)
        #expect(hooks.token == "s3cret-token")
        #expect(try #require(config.listener(named: "udp")).maxRatePerSource == 5000)
    }

    @Test func aKeyWhereItDoesNotApplyOrABadValueIsReportedAtIt() {
        let found = problems(in: Self.store + """
            listeners:
              - name: udp
                protocol: syslog-udp
                listen: 0.0.0.0:514
                max_connections: 10
              - name: tcp
                protocol: syslog-tcp
                listen: 0.0.0.0:514
                handshake_timeout: 5s
                token: abc
                max_rate_per_source: 10
                max_connections_per_source: 0
                idle_timeout: soon
            """)
        #expect(found.count == 6, "\(found)")
        guard found.count == 6 else { return }
        expectProblem(found[0], at: "10:5", "listener udp (syslog-udp) takes no max_connections: syslog-udp has no connections")
        expectProblem(found[1], at: "14:5", "listener tcp (syslog-tcp) takes no handshake_timeout: it does not use TLS")
        expectProblem(found[2], at: "15:5", "listener tcp (syslog-tcp) takes no token: it applies to webhook listeners only")
        expectProblem(found[3], at: "16:5", "listener tcp (syslog-tcp) takes no max_rate_per_source: it applies to syslog-udp listeners only")
        expectProblem(found[4], at: "17:33", "listeners[1] (tcp).max_connections_per_source: must be between 1 and 1000000, found 0")
        expectProblem(found[5], at: "18:19", #"listeners[1] (tcp).idle_timeout: expected a duration such as 5s, 500ms, 1m or 2h, found "soon""#)
    }
}
