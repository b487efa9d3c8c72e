import AlertGateConfig
import Testing

/// `gateway.admin_token` and the rule that an admin API off loopback needs one (docs/reference.md §11).
@Suite struct AdminTokenConfigTests {
    @Test func anAdminAddressOffLoopbackWithoutATokenIsAnErrorAtTheAddress() {
        for address in ["0.0.0.0:9180", "\"[::]:9180\"", "10.1.2.3:9180", "gw.example.com:9180"] {
            expectOnlyProblem(in: """
                gateway:
                  admin: \(address)
                """, at: "2:10", "is not a loopback address, so the admin API needs gateway.admin_token")
        }
    }

    @Test func aLoopbackAdminAddressNeedsNoToken() throws {
        for address in ["127.0.0.1:9180", "\"[::1]:9180\"", "localhost:9180", "127.0.0.2:1"] {
            let config = try loadConfig("gateway:\n  admin: \(address)\n").get()
            #expect(config.gateway.admin != nil)
            #expect(config.gateway.adminToken == nil)
        }
    }

    @Test func theTokenComesFromTheEnvironmentAndOpensAnyAddress() throws {
        let config = try loadConfig("""
            gateway:
              admin: 0.0.0.0:9180
              admin_token: ${ADMIN_TOKEN}
            """, environment: ["ADMIN_TOKEN": "s3cret-s3cret-s3cret"]).get()
        #expect(config.gateway.adminToken == "s3cret-s3cret-s3cret")
        #expect(config.gateway.admin == HostPort(host: "0.0.0.0", port: 9180))
    }

    @Test func anUnsetShortOrUnprintableTokenIsAnError() {
        expectOnlyProblem(in: """
            gateway:
              admin: 127.0.0.1:9180
              admin_token: ${ADMIN_TOKEN}
            """, at: "3:16", "environment variable ADMIN_TOKEN is not set")
        expectOnlyProblem(in: """
            gateway:
              admin_token: short
            """, at: "2:16", "gateway.admin_token: must be at least 16 characters")
        expectOnlyProblem(in: """
            gateway:
              admin_token: "a token with spaces in it"
            """, at: "2:16", "must be printable ASCII without spaces")
    }
}
