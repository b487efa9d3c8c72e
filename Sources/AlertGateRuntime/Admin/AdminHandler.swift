import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Why the admin server closed a connection it did not want (the `reason` of
/// `alertgate_connections_refused_total{listener="admin"}`, as the listeners count theirs).
enum AdminRefusal: String, Sendable, CaseIterable {
    case maxConnections = "max-connections"
    case headerTimeout = "header-timeout"
    case idle
    case oversize
}

/// Counts what the admin server refuses, and logs it at most once a second per reason:
/// a client that opens connections in a loop must not write a log line for each.
final class AdminRefusals: Sendable {
    private let counters: [AdminRefusal: Counter]
    private let requestCounters: [AdminAccess.Refusal: Counter]
    private let logger: Logger
    private let lastLogged = NIOLockedValueBox<[String: NIODeadline]>([:])

    init(metrics: MetricsExposition, logger: Logger) {
        var counters: [AdminRefusal: Counter] = [:]
        for reason in AdminRefusal.allCases {
            counters[reason] = Counter(
                label: "alertgate_connections_refused_total", dimensions: [("listener", "admin"), ("reason", reason.rawValue)],
                factory: metrics.factory)
        }
        self.counters = counters
        var requestCounters: [AdminAccess.Refusal: Counter] = [:]
        for reason in AdminAccess.Refusal.allCases {
            requestCounters[reason] = Counter(
                label: "alertgate_admin_requests_refused_total", dimensions: [("reason", reason.rawValue)], factory: metrics.factory)
        }
        self.requestCounters = requestCounters
        self.logger = logger
    }

    /// A request `AdminAccess` refused (401, 403, 415): counted, and logged at most once a
    /// second per reason (a scanner or a misconfigured scraper must not flood the log).
    func refused(_ reason: AdminAccess.Refusal, request: String) {
        requestCounters[reason]?.increment()
        if due("request-" + reason.rawValue) {
            logger.warning(
                "admin API: refused \(request) (\(reason.rawValue)); further ones are counted in alertgate_admin_requests_refused_total",
                metadata: ["reason": "\(reason.rawValue)"])
        }
    }

    private func due(_ key: String) -> Bool {
        let now = NIODeadline.now()
        return lastLogged.withLockedValue { last in
            guard last[key].map({ now - $0 >= .seconds(1) }) ?? true else { return false }
            last[key] = now
            return true
        }
    }

    func refused(_ reason: AdminRefusal) {
        counters[reason]?.increment()
        // A kept-alive connection left idle is how HTTP clients end; counted, not logged.
        guard reason != .idle else { return }
        if due(reason.rawValue) {
            logger.warning("admin API: connection closed (\(reason.rawValue)); further ones are counted in alertgate_connections_refused_total{listener=\"admin\"}", metadata: ["reason": "\(reason.rawValue)"])
        }
    }
}

/// One admin connection above NIO's HTTP/1.1 server pipeline (which hands over one
/// request at a time, pipelined ones after the answer to the previous one). Request bodies
/// are counted and dropped.
///
/// One deadline at a time bounds what a client can hold: from the connection's start, and
/// again from each request head, the request must be complete within `headerTimeout`;
/// after an answer on a kept-alive connection, the next request head must come within
/// `idleTimeout`. While the gateway works on an answer (a reload) nothing is timed.
final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Reading a request (or waiting for the first one), with its deadline.
        case reading(head: HTTPRequestHead?, bodyBytes: Int, deadline: Scheduled<Void>?)
        /// The request is complete; its answer is being made.
        case answering
        /// Between requests on a kept-alive connection.
        case idle(deadline: Scheduled<Void>)
        case closed
    }

    private let routes: AdminRoutes
    private let settings: AdminServer.Settings
    /// Marked busy while a request is read and answered: a connection at the limit may then
    /// not be given up for a new one.
    private let slot: AdminConnections.Slot
    private let refusals: AdminRefusals
    private let logger: Logger
    private var state = State.reading(head: nil, bodyBytes: 0, deadline: nil)

    init(routes: AdminRoutes, settings: AdminServer.Settings, slot: AdminConnections.Slot, refusals: AdminRefusals, logger: Logger) {
        self.routes = routes
        self.settings = settings
        self.slot = slot
        self.refusals = refusals
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive {
            state = .reading(head: nil, bodyBytes: 0, deadline: deadline(settings.headerTimeout, .headerTimeout, context: context))
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        if case .reading(nil, 0, nil) = state {
            state = .reading(head: nil, bodyBytes: 0, deadline: deadline(settings.headerTimeout, .headerTimeout, context: context))
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelDeadline()
        state = .closed
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .idle), (.head(let head), .reading):
            // The head is whole: the body must follow within the same time.
            cancelDeadline()
            slot.setBusy(true)
            state = .reading(head: head, bodyBytes: 0, deadline: deadline(settings.headerTimeout, .headerTimeout, context: context))
        case (.body(let chunk), .reading(let head?, let bodyBytes, let deadline)):
            state = .reading(head: head, bodyBytes: bodyBytes + chunk.readableBytes, deadline: deadline)
        case (.end, .reading(let head?, let bodyBytes, _)):
            cancelDeadline()
            state = .answering
            guard bodyBytes <= settings.maxBodyBytes else {
                refusals.refused(.oversize)
                var response = AdminResponse.text(.payloadTooLarge, "the admin API takes no request body over \(settings.maxBodyBytes) bytes")
                response.extraHeaders["Connection"] = "close"
                write(response, for: head, keepAlive: false, context: context)
                return
            }
            switch routes.answer(method: head.method, uri: head.uri, headers: head.headers, bodyBytes: bodyBytes) {
            case .now(let response):
                write(response, for: head, keepAlive: head.isKeepAlive, context: context)
            case .backend(let ask):
                context.eventLoop.makeFutureWithTask(ask)
                    .assumeIsolated()
                    .whenSuccess { response in
                        self.write(response, for: head, keepAlive: head.isKeepAlive, context: context)
                    }
            }
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("admin API connection: \(error)")
        context.close(promise: nil)
    }

    private func deadline(_ timeout: TimeAmount, _ reason: AdminRefusal, context: ChannelHandlerContext) -> Scheduled<Void> {
        context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            self.refusals.refused(reason)
            self.state = .closed
            context.close(promise: nil)
        }
    }

    private func cancelDeadline() {
        switch state {
        case .reading(_, _, let deadline?): deadline.cancel()
        case .idle(let deadline): deadline.cancel()
        default: break
        }
    }

    private func write(_ response: AdminResponse, for request: HTTPRequestHead, keepAlive: Bool, context: ChannelHandlerContext) {
        guard case .answering = state, context.channel.isActive else { return }
        var headers = HTTPHeaders([
            ("Content-Type", response.contentType),
            ("Content-Length", "\(response.body.count)"),
        ])
        for (name, value) in response.extraHeaders.sorted(by: { $0.key < $1.key }) where name != "Connection" {
            headers.add(name: name, value: value)
        }
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        // Idle from now: a pipelined next request may arrive while `.end` is written.
        slot.setBusy(false)
        if keepAlive {
            state = .idle(deadline: deadline(settings.idleTimeout, .idle, context: context))
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: response.status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
        }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension AdminHandler: Sendable {}
