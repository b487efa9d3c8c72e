import AlertGateCore
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Sends alerts as RFC 5425 frames over one validated TLS connection.
///
/// Syslog has no application acknowledgement, and a forwarder that counts an alert as sent
/// once it is written into a socket loses whatever the kernel still held when the
/// connection died. Here an alert counts as accepted only when the partner's TCP stack has
/// acknowledged every byte of the TLS records that carried it; after a failure the rest of
/// the batch is handed back to be sent again (at least once, never lost).
///
/// Several sends may be in flight at once (a dispatcher keeps a window of batches): each
/// writes its frames in one go on the event loop, so batches never interleave, and each
/// waits for the acknowledgement of its own last byte.
actor SyslogTLSSender: AlertSender {
    private let link: TransportLink
    private var connection: (any SecureChannel)?
    private var watcher: ConnectionWatcher?
    /// The connection being opened, shared by sends that arrive meanwhile.
    private var connecting: Task<(any SecureChannel, ConnectionWatcher), any Error>?

    /// How long the partner may take to acknowledge what it was sent before the
    /// connection is given up (a partner that stops reading holds TCP's window shut).
    static let acknowledgementTimeout: Duration = .seconds(30)

    init(link: TransportLink) {
        self.link = link
    }

    func send(_ alerts: [Alert]) async -> DeliveryReport {
        guard !alerts.isEmpty else { return DeliveryReport(accepted: 0, outcome: .delivered) }
        let secure: any SecureChannel
        let watcher: ConnectionWatcher
        do {
            (secure, watcher) = try await connected()
        } catch {
            return DeliveryReport(accepted: 0, outcome: .retry(after: nil, reason: error))
        }
        // Nothing is written to a partner a CRL the gateway now holds revokes.
        do {
            try await secure.confirmPeer()
        } catch {
            _ = fail(accepted: 0, reason: error.message)
            return DeliveryReport(accepted: 0, outcome: .retry(after: nil, reason: error))
        }

        // Write every chunk and note where its records end in the TCP stream.
        let channel = secure.channel
        let formatter = link.formatter
        let framing = link.partner.framing ?? .octetCounting
        let written: [(end: Int, alertsThrough: Int)]
        do {
            written = try await channel.eventLoop.submit {
                let frames = SyslogFrames(alerts, formatter: formatter, framing: framing, allocator: channel.allocator)
                var ends: [(end: Int, alertsThrough: Int)] = []
                for chunk in frames.chunks {
                    channel.writeAndFlush(chunk.bytes, promise: nil)
                    ends.append((secure.ciphertextBytesWritten(), chunk.alertsThrough))
                }
                return ends
            }.get()
        } catch {
            return fail(accepted: 0, reason: "cannot write to the partner: \(error)")
        }

        // Wait until the partner's TCP stack acknowledged the last byte. Acknowledgements are
        // read all along (not only once the kernel took the last write): after the
        // connection dies they can no longer be asked for, and the head the partner did
        // acknowledge must count as delivered.
        var acknowledged: UInt64 = 0
        let target = UInt64(written.last?.end ?? 0)
        let deadline = ContinuousClock.now + Self.acknowledgementTimeout
        var pause: Duration = .microseconds(50)
        while true {
            if let ack = try? await secure.acknowledgedBytes().get() {
                acknowledged = max(acknowledged, ack)
            }
            if acknowledged >= target { break }
            let accepted = written.last { UInt64($0.end) <= acknowledged }?.alertsThrough ?? 0
            if watcher.isClosed {
                return fail(accepted: accepted, reason: watcher.failure ?? "the partner closed the connection")
            }
            if ContinuousClock.now > deadline {
                return fail(accepted: accepted, reason: "the partner acknowledged nothing for \(Self.acknowledgementTimeout)")
            }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(20))
        }
        return DeliveryReport(accepted: alerts.count, outcome: .delivered)
    }

    func close() async {
        guard let connection else { return }
        self.connection = nil
        try? await connection.channel.close()
    }

    // MARK: Connection

    private func connected() async throws(TransportError) -> (any SecureChannel, ConnectionWatcher) {
        if let connection, let watcher, !watcher.isClosed, connection.channel.isActive {
            return (connection, watcher)
        }
        let task: Task<(any SecureChannel, ConnectionWatcher), any Error>
        if let connecting {
            task = connecting
        } else {
            let link = self.link
            task = Task {
                let watcher = ConnectionWatcher()
                let secure = try await link.connector.connect(to: link.destination) { channel in
                    try channel.pipeline.syncOperations.addHandler(watcher)
                }
                return (secure, watcher)
            }
            connecting = task
        }
        defer { connecting = nil }
        do {
            let (secure, watcher) = try await task.value
            if connection?.channel !== secure.channel {
                connection = secure
                self.watcher = watcher
                link.logger.info("connected", metadata: ["partner": "\(link.partner.name)", "appliance": "\(link.appliance)", "transport": "syslog-tls"])
            }
            return (secure, watcher)
        } catch let error as TransportError {
            throw error
        } catch {
            throw TransportError(message: "\(error)")
        }
    }

    private func fail(accepted: Int, reason: String) -> DeliveryReport {
        let channel = connection?.channel
        connection = nil
        watcher = nil
        channel?.close(promise: nil)
        return DeliveryReport(accepted: accepted, outcome: .retry(after: nil, reason: TransportError(message: reason)))
    }
}

/// Notes that the connection closed or failed, and drops anything the partner sends (a
/// syslog receiver has nothing to say).
final class ConnectionWatcher: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    private let state = NIOLockedValueBox<(closed: Bool, failure: String?)>((false, nil))

    var isClosed: Bool { state.withLockedValue { $0.closed } }
    var failure: String? { state.withLockedValue { $0.failure } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        state.withLockedValue { $0.failure = $0.failure ?? "\(error)" }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        state.withLockedValue { $0.closed = true }
        context.fireChannelInactive()
    }
}
