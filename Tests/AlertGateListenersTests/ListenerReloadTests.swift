import AlertGateConfig
import AlertGateCore
@testable import AlertGateListeners
import AlertGatePKI
import AlertGateTesting
import Foundation
import NIOCore
import NIOPosix
import Testing

/// A reload of a running listener set (docs/reference.md §8): listeners added, removed and moved while
/// the others serve, open connections reviewed against the new appliances, a bind failure
/// refusing the whole reload, and a sensor revoked while connected.
@Suite struct ListenerReloadTests {
    typealias H = ListenerHarness

    /// By address, so under `none`: clients without a certificate (s_client to the webhook)
    /// are admitted only there.
    static let plant = [H.appliance("plant", source: "127.0.0.0/8", validation: .none)]

    /// A plain TCP sender that stays connected; `isOpen` turns false when the gateway
    /// closes the connection.
    struct OpenConnection {
        let channel: any Channel

        init(port: Int, host: String = "127.0.0.1") async throws {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: host, port: port).get()
        }

        func send(_ line: String) async throws {
            try await channel.writeAndFlush(ByteBuffer(string: line + "\n"))
        }

        var isOpen: Bool { channel.isActive }

        /// Whether the gateway closed it within `timeout`.
        func closedByTheGateway(within timeout: Duration = .seconds(30)) async throws -> Bool {
            let deadline = ContinuousClock.now + timeout
            while isOpen, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            return !isOpen
        }
    }

    /// An HTTP/1.1 request head for the webhook (keep-alive, HTTP/1.1's default).
    static func postHead(contentLength: Int) -> String {
        "POST /alerts HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: \(contentLength)\r\n\r\n"
    }

    static func cef(_ title: String) -> String {
        SyslogListenerTests.cef(title)
    }

    @Test func aReloadAddsRemovesAndMovesListenersWhileTheOthersServe() async throws {
        let harness = try await H(
            listeners: [H.listener("stays", .syslogTCP), H.listener("goes", .syslogTCP), H.listener("moves", .syslogTCP)], appliances: Self.plant)
        let (goesPort, movesPort) = (harness.port("goes"), harness.port("moves"))
        let kept = try await OpenConnection(port: harness.port("stays"))
        try await kept.send(Self.cef("Before the reload"))
        _ = try await harness.intake.waitForStored(1)

        var moved = H.listener("moves", .syslogTCP)
        moved.listen = HostPort(host: "127.0.0.2", port: 0)
        try await harness.reload(listeners: [H.listener("stays", .syslogTCP), moved, H.listener("added", .syslogUDP)], appliances: Self.plant)

        #expect(harness.listeners.listening.map(\.name) == ["stays", "moves", "added"])
        #expect(harness.listeners.address(of: "moves")?.ipAddress == "127.0.0.2")
        await #expect(throws: (any Error).self, "the removed listener's port still accepts") { try await Sender.tcp("x", port: goesPort) }
        await #expect(throws: (any Error).self, "the moved listener's old address still accepts") { try await Sender.tcp("x", port: movesPort) }

        try await kept.send(Self.cef("Through the kept connection"))
        let atNewAddress = try await OpenConnection(port: harness.port("moves"), host: "127.0.0.2")
        try await atNewAddress.send(Self.cef("At the moved address"))
        try await Sender.udp([Self.cef("To the added listener")], port: harness.port("added"))
        let stored = try await harness.intake.waitForStored(4)
        #expect(Set(stored.map(\.title)) == ["Before the reload", "Through the kept connection", "At the moved address", "To the added listener"])
        #expect(kept.isOpen, "a connection the reload does not concern was closed")
        await harness.listeners.stop()
    }

    @Test func anOpenConnectionIsClosedWhenAReloadAttributesItsSenderElsewhere() async throws {
        let listeners = [H.listener("tcp", .syslogTCP)]
        let harness = try await H(listeners: listeners, appliances: Self.plant)
        let first = try await OpenConnection(port: harness.port("tcp"))
        try await first.send(Self.cef("As plant"))
        _ = try await harness.intake.waitForStored(1)

        // 127.0.0.1 is now the lab's: the open connection (plant's) finishes and closes,
        // and the sender's next connection is the lab's.
        let rematched = [H.appliance("plant", source: "10.0.0.0/8"), H.appliance("lab", source: "127.0.0.1/32")]
        try await harness.reload(listeners: listeners, appliances: rematched)
        #expect(try await first.closedByTheGateway())
        let second = try await OpenConnection(port: harness.port("tcp"))
        try await second.send(Self.cef("As lab"))
        _ = try await harness.intake.waitForStored(2)

        // An appliance added elsewhere concerns no open connection: it stays.
        try await harness.reload(listeners: listeners, appliances: rematched + [H.appliance("office", source: "192.168.0.0/16")])
        try await second.send(Self.cef("Still lab"))
        let stored = try await harness.intake.waitForStored(3)
        #expect(second.isOpen, "a reload that does not concern the connection closed it")
        #expect(stored.map { "\($0.title) \($0.appliance)" }.sorted() == ["As lab lab", "As plant plant", "Still lab lab"])

        // A change to the listener's own entry closes its connections; senders reconnect.
        try await harness.reload(listeners: [H.listener("tcp", .syslogTCP, maxMessageSize: 8 * 1024)], appliances: rematched)
        #expect(try await second.closedByTheGateway())
        await harness.listeners.stop()
    }

    @Test func aKeptAliveWebhookConnectionIsClosedWhenAReloadAttributesItsSenderElsewhere() async throws {
        let listeners = [H.listener("hooks", .webhook, path: "/alerts")]
        let harness = try await H(listeners: listeners, appliances: Self.plant)
        // HTTP/1.1 keep-alive over s_client: the connection stays open after the 202.
        let client = try TLSListenerTests.connect(port: harness.port("hooks"), pki: harness.pki)
        let body = #"{"title": "Before the reload", "severity": "major"}"#
        try client.write(Self.postHead(contentLength: body.utf8.count) + body)
        try await client.waitForOutput(containing: #""accepted": 1"#)

        try await harness.reload(listeners: listeners, appliances: [H.appliance("lab", source: "127.0.0.1/32")])
        #expect(try await client.waitForExit(timeout: .seconds(30)) == 0)
        #expect(await harness.intake.stored.map { "\($0.title) \($0.appliance)" } == ["Before the reload plant"])
        await harness.listeners.stop()
    }

    @Test func aWebhookConnectionToldToFinishByAReloadAndThenAStopIsClosedOnce() async throws {
        let listeners = [H.listener("hooks", .webhook, path: "/alerts")]
        let harness = try await H(listeners: listeners, appliances: Self.plant)
        let client = try TLSListenerTests.connect(port: harness.port("hooks"), pki: harness.pki)
        // Half a request: the reload tells the connection to finish after it, the stop tells
        // it again (NIO's HTTP server asserts on a second notice: this would crash a debug build).
        try client.write(Self.postHead(contentLength: 100) + #"{"title": "#)
        try await Task.sleep(for: .milliseconds(300))
        try await harness.reload(listeners: listeners, appliances: [H.appliance("lab", source: "127.0.0.1/32")])
        await harness.listeners.stop(gracePeriod: .seconds(1))
        #expect(try await client.waitForExit(timeout: .seconds(30)) == 0)
        #expect(await harness.intake.stored.isEmpty)
    }

    @Test func anAddressInUseRefusesTheWholeReload() async throws {
        let blocker = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let taken = blocker.localAddress!.port!
        let harness = try await H(listeners: [H.listener("a", .syslogTCP), H.listener("b", .syslogTCP)], appliances: Self.plant)
        let bPort = harness.port("b")

        var clash = H.listener("c", .syslogTCP)
        clash.listen = HostPort(host: "127.0.0.1", port: taken)
        // b would go and c come: c cannot bind, so b stays where it was.
        await #expect {
            try await harness.reload(listeners: [H.listener("a", .syslogTCP), clash], appliances: Self.plant)
        } throws: { error in
            "\(error)" == "listener c: cannot listen on 127.0.0.1:\(taken): \(Self.reason(of: error))"
        }
        #expect(harness.listeners.listening.map(\.name) == ["a", "b"])
        #expect(harness.port("b") == bPort)
        try await Sender.tcp(Self.cef("Through b") + "\n", port: bPort)
        try await Sender.tcp(Self.cef("Through a") + "\n", port: harness.port("a"))
        let stored = try await harness.intake.waitForStored(2)
        #expect(Set(stored.map(\.title)) == ["Through a", "Through b"])
        await harness.listeners.stop()
        try await blocker.close()
    }

    static func reason(of error: any Error) -> String {
        guard case ListenerError.bind(_, _, let reason) = error else { return "not a bind error" }
        return reason
    }

    @Test func aSensorRevokedWhileConnectedIsCutOffWhenACRLRefreshChecksTheStoreAgain() async throws {
        let pki = try TestPKI()
        let crl = pki.directory.appendingPathComponent("bundle/corp.crl.pem")
        try pki.writeCRL(to: crl, format: .pem)
        let sensor = try pki.issue("sensor-7", commonName: "sensor-7.contoso.com")
        let listeners = [H.listener("tls", .syslogTLS, clientAuth: .required)]
        let appliances = [TLSListenerTests.sensor]
        let harness = try await H(
            listeners: listeners, appliances: appliances, pki: pki, store: try await H.store(pki: pki, serverName: "gateway.contoso.com", crl: crl))
        let client = try TLSListenerTests.connect(port: harness.port("tls"), pki: pki, certificate: sensor)
        try client.write(Self.cef("While valid") + "\n")
        _ = try await harness.intake.waitForStored(1)

        // The CA revokes the sensor; a CRL refresh checks the store again with the new CRL
        // (and finds the listener's own certificate gone, which must not hold the CRL
        // back: the listener keeps serving it): the open connection is closed.
        try pki.revoke(sensor)
        try pki.writeCRL(to: crl, format: .pem)
        let withoutTheListenersCertificate = await CertificateStore.load(
            entries: [], trust: [.init(name: "corp", file: pki.chainFile.path, crl: crl.path)], crlSource: nil)
        try await harness.reload(listeners: listeners, appliances: appliances, store: withoutTheListenersCertificate, recheck: true)
        _ = try await client.waitForExit(timeout: .seconds(30))
        let refused = [("appliance", "sensor-7"), ("partner", "listener:tls"), ("check", "revoked")]
        #expect(try await harness.waitForCounter("alertgate_handshake_failures_total", refused, atLeast: 1) == 1)

        // And it cannot come back.
        _ = try await TLSListenerTests.send([Self.cef("After the revocation")], port: harness.port("tls"), pki: pki, certificate: sensor)
        #expect(try await harness.waitForCounter("alertgate_handshake_failures_total", refused, atLeast: 2) == 2)
        #expect(await harness.intake.stored.map(\.title) == ["While valid"])
        await harness.listeners.stop()
    }
}

/// The decision each open connection makes on a reload (`ConnectionReview`).
@Suite struct ConnectionReviewTests {
    typealias H = ListenerHarness

    static let remote = try! SocketAddress(ipAddress: "10.1.2.3", port: 50_000)
    static let plant = ApplianceAttribution.Attributed(appliance: "plant", validation: .required, matchedBy: .defaultAppliance)

    func review(
        _ appliances: [ApplianceConfig], entryChanged: Bool = false, tls: Bool = true, commonName: String? = nil,
        admitted: ApplianceAttribution.Attributed? = Self.plant, certificate: Bool = false
    ) throws -> ConnectionReview {
        ConnectionReview.review(
            entryChanged: entryChanged, attribution: try ApplianceAttribution(appliances: appliances, defaultAppliance: nil), checksCertificates: tls,
            commonName: commonName, remote: Self.remote, admitted: admitted, hasClientCertificate: certificate)
    }

    @Test func theSameApplianceAndPolicyKeepTheConnection() throws {
        #expect(try review([H.appliance("plant", source: "10.0.0.0/8")]) == .keep)
        #expect(try review([H.appliance("plant", source: "10.0.0.0/8"), H.appliance("lab", source: "192.168.0.0/16")], tls: false) == .keep)
    }

    @Test func aClientCertificateUnderRequiredIsCheckedAgain() throws {
        let byCN = [H.appliance("plant", cn: "plant.contoso.com")]
        #expect(try review(byCN, commonName: "plant.contoso.com", certificate: true) == .recheck)
        let lenient = ApplianceAttribution.Attributed(appliance: "plant", validation: .none, matchedBy: .defaultAppliance)
        #expect(try review([H.appliance("plant", cn: "plant.contoso.com", validation: .none)], commonName: "plant.contoso.com", admitted: lenient, certificate: true) == .keep)
    }

    @Test func anotherApplianceNoneOrAnotherPolicyCloseIt() throws {
        #expect(try review([H.appliance("lab", source: "10.1.2.3/32"), H.appliance("plant", source: "10.0.0.0/8")])
            == .close(reason: "it now matches appliance lab (was plant)"))
        #expect(try review([H.appliance("plant", source: "172.16.0.0/12")]) == .close(reason: "it no longer matches any appliance (was plant)"))
        #expect(try review([H.appliance("plant", source: "10.0.0.0/8", validation: .none)])
            == .close(reason: "appliance plant's validation changed to none"))
        #expect(try review([H.appliance("plant", source: "10.0.0.0/8")], entryChanged: true) == .close(reason: "the listener's entry changed"))
    }

    @Test func aTLSConnectionStillInItsHandshakeStartsAgainUnderTheNewSettings() throws {
        #expect(try review([H.appliance("lab", source: "10.0.0.0/8")], admitted: nil)
            == .close(reason: "its TLS handshake was checked under the previous settings"))
        #expect(try review([H.appliance("lab", source: "10.0.0.0/8")], tls: false, admitted: nil) == .keep)
    }
}
