import AlertGateConfig
import AlertGateCore
import AlertGateIngest
import Foundation
import NIOCore

/// The syslog-udp listener's one channel: each datagram is one message, attributed by its
/// source address. The alerts of one read burst go to the intake as one batch, and the
/// socket is not read while a batch is in flight (`IntakeBatcher`): with UDP that cannot
/// slow the sender, the kernel drops what overflows its buffer, as UDP syslog always has.
/// On `.failed` the batch is dropped and logged; there is no connection to close.
///
/// Log lines are rate-limited per listener (there is no connection), a few a second.
final class SyslogDatagramHandler: ChannelDuplexHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    /// Replaced by each reload: the next datagram is attributed with the new appliances.
    private var environment: ListenerEnvironment
    private var batcher = IntakeBatcher()
    private var stopping = false
    /// `max_rate_per_source`; nil when the listener sets none.
    private var rateLimiter: SourceRateLimiter?

    init(environment: ListenerEnvironment) {
        self.environment = environment
        rateLimiter = Self.rateLimiter(environment.config)
    }

    private static func rateLimiter(_ config: ListenerConfig) -> SourceRateLimiter? {
        config.maxRatePerSource > 0 ? SourceRateLimiter(rate: config.maxRatePerSource) : nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        var message = envelope.data
        let peer = ListenerEnvironment.describe(envelope.remoteAddress)
        if rateLimiter?.admit(envelope.remoteAddress.ipAddress ?? peer, now: .now()) == false {
            environment.problem(
                .rateLimited, peer: peer, "dropped a datagram from \(peer): over max_rate_per_source \(environment.config.maxRatePerSource) a second")
            return
        }
        guard let attributed = environment.attribution.appliance(commonName: nil, address: envelope.remoteAddress) else {
            environment.problem(.unattributed, peer: peer, "dropped a datagram from \(peer): it matches no appliance and the listener has no default_appliance")
            return
        }
        let bufferSize = SyslogDatagramListener.bufferSize(maxMessageSize: environment.config.maxMessageSize)
        guard message.readableBytes < bufferSize || bufferSize == SyslogDatagramListener.maximumDatagram else {
            // It filled its buffer: the kernel cut it.
            environment.problem(.oversize, peer: peer, "skipped a datagram from \(peer) over max_message_size \(environment.config.maxMessageSize)")
            return
        }
        // Senders often end a datagram with LF (or NUL); it is not part of the message.
        while message.readableBytes > 0, let last = message.getInteger(at: message.writerIndex - 1, as: UInt8.self),
            last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") || last == 0
        {
            message.moveWriterIndex(to: message.writerIndex - 1)
        }
        guard message.readableBytes > 0 else { return }
        guard message.readableBytes <= environment.config.maxMessageSize else {
            environment.problem(.oversize, peer: peer, "skipped a datagram from \(peer) over max_message_size \(environment.config.maxMessageSize)")
            return
        }
        let result = environment.parser.parse(message, receivedAt: Date(), appliance: attributed.appliance, sourceAddress: envelope.remoteAddress.ipAddress)
        if result.problems.contains(.invalidUTF8) {
            environment.problem(.invalidUTF8, peer: peer, "message from \(peer) is not valid UTF-8; forwarded with U+FFFD in place of the bad bytes")
        }
        batcher.collect(result.alert)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if let batch = batcher.batchToSubmit() {
            submit(batch, context: context)
        }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        guard !stopping else { return }
        if batcher.mayRead() {
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            stopping = true
            closeIfIdle(context: context)
            return
        }
        if let event = event as? ListenerReconfigured {
            // No connection to review: each datagram is attributed on its own.
            environment = event.settings.environment
            if environment.config.maxRatePerSource != rateLimiter?.rate ?? 0 {
                rateLimiter = Self.rateLimiter(environment.config)
            }
            let bufferSize = SyslogDatagramListener.bufferSize(maxMessageSize: environment.config.maxMessageSize)
            _ = context.channel.setOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: bufferSize))
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func submit(_ batch: [Alert], context: ChannelHandlerContext) {
        let intake = environment.intake
        let listener = environment.name
        context.eventLoop.makeFutureWithTask { await intake.accept(batch, from: listener) }
            .assumeIsolated()
            .whenSuccess { outcome in
                self.finished(batch, outcome, context: context)
            }
    }

    private func finished(_ batch: [Alert], _ outcome: IntakeOutcome, context: ChannelHandlerContext) {
        let next: IntakeBatcher.AfterStored
        switch outcome {
        case .stored:
            environment.metrics.countReceived(batch)
            next = batcher.stored()
        case .full(let retryAfter):
            environment.problem(.spoolFull, peer: "-", "the spool is full: holding \(batch.count) alerts and reading no datagrams; trying again in \(retryAfter)")
            context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(retryAfter)) {
                self.submit(batch, context: context)
            }
            return
        case .failed(let reason):
            environment.metrics.countError(.spoolFailed)
            environment.logger.error(
                "listener \(environment.name): the spool could not store \(batch.count) alerts: \(reason); they are dropped",
                metadata: ["listener": "\(environment.name)", "reason": "spool-failed"])
            next = batcher.dropped()
        }
        switch next {
        case .submit(let batch):
            submit(batch, context: context)
        case .submitAndResume(let batch):
            submit(batch, context: context)
            if !stopping { context.read() }
        case .resumeReading:
            if !stopping { context.read() }
        case .idle:
            break
        }
        closeIfIdle(context: context)
    }

    private func closeIfIdle(context: ChannelHandlerContext) {
        if stopping, batcher.isIdle, context.channel.isActive {
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension SyslogDatagramHandler: Sendable {}
