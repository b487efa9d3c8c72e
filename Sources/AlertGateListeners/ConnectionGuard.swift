import AlertGateTLS
import NIOCore

/// What a `WebhookHandler` tells the `ConnectionGuard` below its HTTP decoder (a user
/// outbound event): where the connection is in its request, for `ConnectionDeadlines`.
enum WebhookProgress: Sendable {
    case headReceived
    case requestComplete
    case responded
}

/// Holds one connection to its listener's timeouts (docs/reference.md §11): the NIO side of
/// `ConnectionDeadlines`. It sits right above the `TLSHandler` (at the front for
/// syslog-tcp), where it sees the end of the handshake and check (`TLSEvent`), the
/// plaintext that arrives, and the reads the handlers above ask for. One timer per
/// connection, moved only when a deadline comes closer: reads just note the time.
///
/// A deadline that passes closes the connection, counted and logged (rate-limited) as a
/// refusal; a webhook head over its size limit is answered 431 and closed.
final class ConnectionGuard: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let environment: ListenerEnvironment
    private var deadlines: ConnectionDeadlines
    private var timer: Scheduled<Void>?
    private var timerAt: NIODeadline?
    private var peer = "unknown"
    /// Refused: whatever else arrives is dropped.
    private var closing = false

    private let usesTLS: Bool

    init(environment: ListenerEnvironment, style: ConnectionDeadlines.Style, usesTLS: Bool) {
        self.environment = environment
        self.usesTLS = usesTLS
        // Started again when added, on the event loop's clock.
        deadlines = ConnectionDeadlines(style: style, limits: environment.limits, usesTLS: usesTLS, now: .distantPast)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        peer = ListenerEnvironment.describe(context.channel.remoteAddress)
        deadlines = ConnectionDeadlines(style: deadlines.style, limits: environment.limits, usesTLS: usesTLS, now: context.eventLoop.now)
        rearm(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSEvent, case .handshakeCompleted = event {
            deadlines.handshakeCompleted(now: context.eventLoop.now)
            rearm(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let count = unwrapInboundIn(data).readableBytes
        let fits = deadlines.received(count, now: context.eventLoop.now)
        context.fireChannelRead(data)
        // The decoder above has had these bytes: if they completed the head, the
        // `WebhookHandler` said so (`.headReceived`) before this line.
        if !fits, case .head = deadlines.phase {
            refuseOversizeHead(context: context)
            return
        }
        rearm(context: context)
    }

    func read(context: ChannelHandlerContext) {
        deadlines.readRequested(now: context.eventLoop.now)
        context.read()
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let progress = event as? WebhookProgress else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        switch progress {
        case .headReceived: deadlines.headReceived(now: context.eventLoop.now)
        case .requestComplete: deadlines.requestComplete()
        case .responded: deadlines.responded(now: context.eventLoop.now)
        }
        rearm(context: context)
        promise?.succeed()
    }

    // MARK: The timer

    /// Schedules the timer for the current deadline if it is sooner than the one set (a
    /// later one is found when the timer fires, `expire`).
    private func rearm(context: ChannelHandlerContext) {
        guard let deadline = deadlines.deadline else { return }
        if let timerAt, timerAt <= deadline { return }
        schedule(at: deadline, context: context)
    }

    private func schedule(at deadline: NIODeadline, context: ChannelHandlerContext) {
        timer?.cancel()
        timerAt = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.expire(context: context)
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
        timerAt = nil
    }

    private func expire(context: ChannelHandlerContext) {
        timer = nil
        timerAt = nil
        guard !closing, context.channel.isActive else { return }
        switch deadlines.expire(now: context.eventLoop.now) {
        case .wait(let until):
            if let until { schedule(at: until, context: context) }
        case .close(let reason):
            closing = true
            environment.refuse(reason, peer: peer)
            context.close(promise: nil)
        }
    }

    // MARK: Refusing

    /// A request head past `maxHeadBytes`: 431 written below the HTTP encoder (the
    /// decoder never finished the head), then closed.
    private func refuseOversizeHead(context: ChannelHandlerContext) {
        closing = true
        cancelTimer()
        let limit = environment.limits.maxHeadBytes
        environment.problem(.oversize, peer: peer, "refused a webhook request head of more than \(limit) bytes from \(peer) (431)")
        let body = "{\"error\": \"the request head is larger than \(limit) bytes\"}\n"
        var response = context.channel.allocator.buffer(capacity: 200)
        response.writeString(
            "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        context.writeAndFlush(wrapOutboundOut(response)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension ConnectionGuard: Sendable {}
