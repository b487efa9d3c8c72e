import AlertGatePKI
import NIOCore
import Testing

/// Which addresses a CRL location may not point at: link-local, unspecified, and the
/// gateway's admin API (its own address, or any address of this host when it listens on
/// all of them).
@Suite struct CRLAddressPolicyTests {
    func address(_ ip: String, _ port: Int) throws -> SocketAddress {
        try SocketAddress(ipAddress: ip, port: port)
    }

    @Test(arguments: [
        ("169.254.169.254", "is a link-local address"),
        ("169.254.0.1", "is a link-local address"),
        ("fe80::1", "is a link-local address"),
        ("febf::1", "is a link-local address"),
        ("::ffff:169.254.1.1", "is a link-local address"),
        ("0.0.0.0", "is the unspecified address"),
        ("::", "is the unspecified address"),
    ])
    func refusedWhateverTheAdminAddress(ip: String, reason: String) throws {
        let refusal = CRLAddressPolicy().refusal(of: try address(ip, 80))
        #expect(refusal?.contains(reason) == true, "\(ip): \(refusal ?? "allowed")")
    }

    @Test(arguments: ["10.0.0.1", "127.0.0.1", "192.0.2.10", "fec0::1", "2001:db8::1", "169.255.0.1"])
    func otherAddressesAreAllowed(ip: String) throws {
        #expect(CRLAddressPolicy(adminHost: "127.0.0.1", adminPort: 9180).refusal(of: try address(ip, 80)) == nil)
    }

    @Test func theAdminAddressIsRefusedOnItsPortOnly() throws {
        let policy = CRLAddressPolicy(adminHost: "127.0.0.1", adminPort: 9180)
        #expect(policy.refusal(of: try address("127.0.0.1", 9180))?.contains("is the gateway's admin API") == true)
        #expect(policy.refusal(of: try address("::ffff:127.0.0.1", 9180))?.contains("is the gateway's admin API") == true)
        #expect(policy.refusal(of: try address("127.0.0.1", 9181)) == nil)
        #expect(policy.refusal(of: try address("127.0.0.2", 9180)) == nil)
    }

    @Test func anAdminAPIOnEveryAddressRefusesLoopbackOnItsPort() throws {
        let policy = CRLAddressPolicy(adminHost: "0.0.0.0", adminPort: 9180)
        #expect(policy.refusal(of: try address("127.0.0.1", 9180))?.contains("is the gateway's admin API") == true)
        #expect(policy.refusal(of: try address("127.0.0.9", 9180))?.contains("is the gateway's admin API") == true)
        #expect(policy.refusal(of: try address("::1", 9180))?.contains("is the gateway's admin API") == true)
        #expect(policy.refusal(of: try address("127.0.0.1", 80)) == nil)
    }
}
