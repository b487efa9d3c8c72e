import AlertGateCore
import AlertGateIngest
import AlertGatePKI
import AlertGateTLS
import Foundation
import NIOCore

/// One syslog-tcp or syslog-tls connection: frames by `SyslogFrameDecoder`, parses each
/// message, and hands the alerts of each read burst to the intake as one batch.
///
/// The sender is attributed once: a plain TCP sender when the connection opens (by
/// address), a TLS sender when the handshake event arrives (by CN, then address). Reading
/// stops while a batch is with the intake (`read()` is held, `IntakeBatcher`); on `.full`
/// the same batch is offered again after the retry-after, still without reading, so the
/// sender's TCP window closes; on `.failed` the connection is closed, as what was not
/// stored must not look acknowledged.
///
/// Input is decoded only while the batch has room (`IntakeBatcher`'s limits in alerts and
/// bytes) and the gateway's `IngestBudget` has some: the rest of a read waits undecoded,
/// and reading stops until it is decoded. A connection thus holds at most one read of
/// undecoded input beside the decoder's partial message (at most `max_message_size`).
final class SyslogStreamHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Replaced by a reload the connection survives (`ConnectionReview`).
    private var environment: ListenerEnvironment
    private let usesTLS: Bool
    private var decoder: SyslogFrameDecoder
    private var batcher = IntakeBatcher()
    private var remote: SocketAddress?
    private var peer = "unknown"
    /// The peer's IP, as alerts carry it.
    private var sourceAddress: String?
    /// The appliance the sender was attributed to.
    private var admitted: ApplianceAttribution.Attributed?
    /// The TLS client's certificate chain (empty without one), checked again on a reload.
    private var clientChain: [X509Certificate] = []
    /// The listener is stopping: read no more, close once the batch in flight is stored.
    private var quiescing = false
    /// The sender closed its side (half-closure is on, so that what a sender sends just
    /// before closing is not lost while its certificate is checked): close once idle.
    private var inputClosed = false
    /// Unattributed, or the intake failed: whatever else arrives is dropped.
    private var dropping = false
    private var isActive = false
    /// Plaintext received and not yet decoded, for want of room (see above).
    private var undecoded: ByteBuffer?
    /// Whether the sender's stream ended, and whether its last message was taken (once
    /// what waited undecoded is decoded).
    private var end = StreamEnd.open
    /// Woken by the ingest budget when it has room again.
    private var waitingForBudget = false

    private enum StreamEnd {
        case open
        case ended
        case finished
    }

    /// The most alerts decoded in one step between checks of the batch's and the budget's room.
    static let alertsPerStep = 64

    init(settings: ListenerSettings) {
        environment = settings.environment
        usesTLS = settings.tls != nil
        decoder = SyslogFrameDecoder(maximumMessageSize: environment.config.maxMessageSize)
    }

    // MARK: Lifecycle

    func channelActive(context: ChannelHandlerContext) {
        isActive = true
        remote = context.channel.remoteAddress
        peer = ListenerEnvironment.describe(remote)
        sourceAddress = remote?.ipAddress
        if !usesTLS {
            attribute(commonName: nil, context: context)
        }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSEvent, case .handshakeCompleted(let tlsPeer, _) = event {
            clientChain = tlsPeer.chain
            attribute(commonName: tlsPeer.chain.first?.commonName, context: context)
        } else if event is ChannelShouldQuiesceEvent {
            quiesce(context: context)
            return
        } else if let event = event as? ListenerReconfigured {
            reconfigure(event, context: context)
            return
        } else if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            endOfInput(context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func endOfInput(context: ChannelHandlerContext) {
        if admitted != nil {
            finishStream()
            submitIfIdle(context: context)
            closeIfIdle(context: context)
        } else if usesTLS, !dropping, let tls = try? context.pipeline.syncOperations.handler(type: TLSHandler.self), tls.peer != nil {
            // The handshake is done and the client's certificate is being checked: what it
            // sent comes after the check (and its close_notify closes the connection).
        } else {
            context.close(promise: nil)
        }
    }

    private func attribute(commonName: String?, context: ChannelHandlerContext) {
        guard let attributed = environment.attribution.appliance(commonName: commonName, address: remote) else {
            let who = commonName.map { "CN=\($0) from \(peer)" } ?? peer
            environment.problem(.unattributed, peer: peer, "closed the connection of \(who): it matches no appliance and the listener has no default_appliance", level: .error)
            dropping = true
            context.close(promise: nil)
            return
        }
        admitted = attributed
    }

    private func quiesce(context: ChannelHandlerContext) {
        quiescing = true
        closeIfIdle(context: context)
    }

    /// A reload replaced the listener's settings: carry on under them, or finish the batch
    /// and close (`ConnectionReview`).
    private func reconfigure(_ event: ListenerReconfigured, context: ChannelHandlerContext) {
        environment = event.settle(clientChain: clientChain, remote: remote, admitted: admitted, current: environment, context: context) {
            self.quiesce(context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        isActive = false
        if admitted != nil, !dropping {
            finishStream()
            // Alerts of a burst the close cut short (a TLS close_notify right after them).
            submitIfIdle(context: context)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case TLSError.peerRefused:
            break  // logged and counted by the peer check
        case TLSError.handshakeFailed(let reason):
            environment.problem(.handshake, peer: peer, "TLS handshake with \(peer) failed: \(reason)")
        case TLSError.closedDuringHandshake:
            environment.problem(.handshake, peer: peer, "\(peer) closed the connection during the TLS handshake", level: .info)
        case TLSError.uncleanShutdown:
            break  // common with syslog senders, and what was received was handled
        default:
            environment.log("connection-error", peer: peer, "connection from \(peer): \(error)", level: .info)
        }
        context.close(promise: nil)
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard admitted != nil, !dropping else { return }
        var buffer = unwrapInboundIn(data)
        if var held = undecoded {
            // The rest of a read burst after the batch filled: kept in order behind the rest.
            undecoded = nil
            held.writeBuffer(&buffer)
            undecoded = held
            return
        }
        decode(&buffer, context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        submitIfIdle(context: context)
        drainUndecoded(context: context)
        closeIfIdle(context: context)
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        guard !quiescing, !dropping else { return }
        if undecoded != nil {
            batcher.holdRead()
        } else if batcher.mayRead() {
            context.read()
        }
    }

    /// Decodes `buffer` while the batch and the ingest budget have room; keeps the rest.
    private func decode(_ buffer: inout ByteBuffer, context: ChannelHandlerContext) {
        while buffer.readableBytes > 0 {
            let budgetHasRoom = environment.ingestMemory.hasRoom
            guard batcher.hasRoom, budgetHasRoom else {
                undecoded = buffer
                if !budgetHasRoom { waitForBudget(context: context) }
                return
            }
            handle(decoder.feed(&buffer, maxEvents: min(batcher.room, Self.alertsPerStep)), receivedAt: Date())
        }
    }

    /// Decodes what waited, as far as there is room now, and hands it over if nothing is in flight.
    private func drainUndecoded(context: ChannelHandlerContext) {
        guard !dropping, var buffer = undecoded else { return }
        undecoded = nil
        decode(&buffer, context: context)
        if case .ended = end { finishStream() }
        submitIfIdle(context: context)
    }

    /// The end of the sender's stream: a last line without its LF is a message, an octet
    /// frame cut short is not. Taken once what waits undecoded is decoded.
    private func finishStream() {
        if case .open = end { end = .ended }
        guard case .ended = end, undecoded == nil else { return }
        end = .finished
        handle(decoder.finish(), receivedAt: Date())
    }

    private func waitForBudget(context: ChannelHandlerContext) {
        guard !waitingForBudget else { return }
        waitingForBudget = true
        let loop = context.eventLoop
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: loop)
        environment.ingestMemory.whenRoom {
            loop.execute {
                let (handler, context) = bound.value
                handler.budgetHasRoom(context: context)
            }
        }
    }

    private func budgetHasRoom(context: ChannelHandlerContext) {
        waitingForBudget = false
        drainUndecoded(context: context)
        resumeReadingIfHeld(context: context)
        closeIfIdle(context: context)
    }

    private func resumeReadingIfHeld(context: ChannelHandlerContext) {
        guard undecoded == nil, !quiescing, !dropping, isActive, batcher.resumeHeldRead() else { return }
        context.read()
    }

    private func handle(_ events: [SyslogFrameDecoder.FrameEvent], receivedAt: Date) {
        guard let appliance = admitted?.appliance else { return }
        var cost = 0
        defer { environment.ingestMemory.take(cost) }
        for event in events {
            switch event {
            case .message(let message):
                let result = environment.parser.parse(message, receivedAt: receivedAt, appliance: appliance, sourceAddress: sourceAddress)
                if result.problems.contains(.invalidUTF8) {
                    environment.problem(.invalidUTF8, peer: peer, "message from \(peer) is not valid UTF-8; forwarded with U+FFFD in place of the bad bytes")
                }
                let alertCost = IngestBudget.cost(messageBytes: message.readableBytes)
                cost += alertCost
                batcher.collect(result.alert, bytes: alertCost)
            case .oversize(let bytes):
                environment.problem(.oversize, peer: peer, "skipped a message of \(bytes) bytes from \(peer): over max_message_size \(environment.config.maxMessageSize)")
            case .brokenFrame(let reason):
                environment.problem(.brokenFrame, peer: peer, "broken octet-counted frame from \(peer): \(reason)")
            }
        }
    }

    // MARK: The intake

    private func submitIfIdle(context: ChannelHandlerContext) {
        if let batch = batcher.batchToSubmit() {
            submit(batch, context: context)
        }
    }

    private func submit(_ batch: [Alert], context: ChannelHandlerContext) {
        let intake = environment.intake
        let listener = environment.name
        // One task per batch, not per alert: the hop off the event loop is paid per read.
        context.eventLoop.makeFutureWithTask { await intake.accept(batch, from: listener) }
            .assumeIsolated()
            .whenSuccess { outcome in
                self.finished(batch, outcome, context: context)
            }
    }

    private func finished(_ batch: [Alert], _ outcome: IntakeOutcome, context: ChannelHandlerContext) {
        switch outcome {
        case .stored:
            environment.metrics.countReceived(batch)
            environment.ingestMemory.give(batcher.inFlightBytes)
            after(batcher.stored(), context: context)
        case .full(let retryAfter):
            // Not reading meanwhile: the sender's TCP window fills and it slows down.
            environment.problem(.spoolFull, peer: peer, "the spool is full: holding \(batch.count) alerts from \(peer) and reading no more; trying again in \(retryAfter)")
            context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(retryAfter)) {
                self.submit(batch, context: context)
            }
        case .failed(let reason):
            environment.metrics.countError(.spoolFailed)
            environment.logger.error(
                "listener \(environment.name): the spool could not store \(batch.count) alerts from \(peer): \(reason); closing the connection",
                metadata: ["listener": "\(environment.name)", "peer": "\(peer)", "reason": "spool-failed"])
            dropping = true
            undecoded = nil
            environment.ingestMemory.give(batcher.dropAll())
            context.close(promise: nil)
        }
    }

    private func after(_ next: IntakeBatcher.AfterStored, context: ChannelHandlerContext) {
        switch next {
        case .submit(let batch):
            submit(batch, context: context)
        case .submitAndResume(let batch):
            submit(batch, context: context)
            batcher.holdRead()  // decided below, once what waited undecoded had its turn
        case .resumeReading:
            batcher.holdRead()
        case .idle:
            break
        }
        drainUndecoded(context: context)
        resumeReadingIfHeld(context: context)
        closeIfIdle(context: context)
    }

    private func closeIfIdle(context: ChannelHandlerContext) {
        if quiescing || inputClosed, isActive, batcher.isIdle, undecoded == nil {
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension SyslogStreamHandler: Sendable {}
