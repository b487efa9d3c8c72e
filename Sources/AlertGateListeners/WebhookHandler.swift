import AlertGateCore
import AlertGateIngest
import AlertGatePKI
import AlertGateTLS
import Foundation
import NIOCore
import NIOHTTP1

/// One HTTPS connection of a webhook listener, above TLS and NIO's HTTP/1.1 server
/// pipeline (which holds back pipelined requests until each response is written, so this
/// handles one request at a time).
///
/// `POST` on the configured path with one JSON alert or an array of them. The answer comes
/// after the intake's: `202 {"accepted": N}` once stored, `503` with `Retry-After` when
/// the spool is full, `500` when it failed; `400` names what is wrong with the body; `403`
/// when the sender matches no appliance; `401` without the listener's bearer token (when
/// it has one); `404`, `405`; `413` over the body limit. It tells the `ConnectionGuard`
/// below the HTTP decoder where each request is (`WebhookProgress`), for the timeouts.
final class WebhookHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case receiving(HTTPRequestHead, ByteBuffer)
        /// Over the limit: the rest of the request is ignored and the connection closes
        /// after the 413.
        case discarding
        case answering
    }

    /// Replaced by a reload the connection survives (`ConnectionReview`).
    private var environment: ListenerEnvironment
    /// The most a request body may hold.
    private let bodyLimit: Int
    private var state = State.idle
    /// nil: the listener takes requests without a token.
    private let token: BearerToken?
    private var peer = "unknown"
    private var remote: SocketAddress?
    private var attributed: ApplianceAttribution.Attributed?
    /// The client's certificate chain (empty without one), checked again on a reload.
    private var clientChain: [X509Certificate] = []

    init(settings: ListenerSettings) {
        environment = settings.environment
        bodyLimit = WebhookListener.bodyLimit(maxMessageSize: environment.config.maxMessageSize)
        token = environment.config.token.map(BearerToken.init)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        remote = context.channel.remoteAddress
        peer = ListenerEnvironment.describe(remote)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSEvent, case .handshakeCompleted(let tlsPeer, _) = event {
            clientChain = tlsPeer.chain
            attributed = environment.attribution.appliance(commonName: tlsPeer.chain.first?.commonName, address: remote)
        } else if let event = event as? ListenerReconfigured {
            reconfigure(event, context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// A reload replaced the listener's settings: carry on under them, or close once the
    /// request being answered is answered (`ConnectionReview`; NIO's HTTP server pipeline
    /// does that on `ChannelShouldQuiesceEvent`, which `QuiesceOnceHandler` lets through once).
    private func reconfigure(_ event: ListenerReconfigured, context: ChannelHandlerContext) {
        environment = event.settle(clientChain: clientChain, remote: remote, admitted: attributed, current: environment, context: context) {
            context.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case TLSError.peerRefused, TLSError.uncleanShutdown:
            break
        case TLSError.handshakeFailed(let reason):
            environment.problem(.handshake, peer: peer, "TLS handshake with \(peer) failed: \(reason)")
        default:
            environment.log("connection-error", peer: peer, "connection from \(peer): \(error)", level: .info)
        }
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .idle):
            context.triggerUserOutboundEvent(WebhookProgress.headReceived, promise: nil)
            // A head the decoder finished in the read that took it past the limit
            // (`ConnectionGuard` refuses one that never finishes).
            let headBytes = Self.size(of: head)
            if headBytes > environment.limits.maxHeadBytes {
                refuseOversizeHead(headBytes, head: head, context: context)
                return
            }
            if let token, !token.admits(head.headers.first(name: "authorization")) {
                refuseUnauthorized(head: head, context: context)
                return
            }
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > bodyLimit {
                refuseOversize(length, head: head, context: context)
                return
            }
            state = .receiving(head, context.channel.allocator.buffer(capacity: 0))
            if head.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                // The client waits for this before it sends the body (curl does for large ones).
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            }
        case (.body(var chunk), .receiving(let head, var body)):
            guard body.readableBytes + chunk.readableBytes <= bodyLimit else {
                refuseOversize(body.readableBytes + chunk.readableBytes, head: head, context: context)
                return
            }
            state = .idle  // drop the reference so that the write below does not copy
            body.writeBuffer(&chunk)
            state = .receiving(head, body)
        case (.end, .receiving(let head, let body)):
            state = .answering
            context.triggerUserOutboundEvent(WebhookProgress.requestComplete, promise: nil)
            handle(head, body: body, context: context)
        case (_, .discarding):
            break
        default:
            // HTTPServerPipelineHandler delivers one request at a time; nothing else comes.
            break
        }
    }

    // MARK: Requests

    private func handle(_ head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? head.uri
        guard path == environment.config.path else {
            respond(.notFound, .error("no webhook at \(path); POST alerts to \(environment.config.path)"), head: head, context: context)
            return
        }
        guard head.method == .POST else {
            respond(.methodNotAllowed, .error("\(head.method.rawValue) is not allowed here; POST alerts to \(environment.config.path)"), head: head, extraHeaders: [("Allow", "POST")], context: context)
            return
        }
        guard let attributed else {
            environment.problem(.unattributed, peer: peer, "refused a webhook request from \(peer): it matches no appliance and the listener has no default_appliance")
            respond(.forbidden, .error("the sender matches no appliance: present a client certificate whose CN an appliance matches, or send from an address one matches"), head: head, context: context)
            return
        }
        let alerts: [Alert]
        switch environment.parser.parseWebhookBody(Array(body.readableBytesView), receivedAt: Date(), appliance: attributed.appliance) {
        case .success(let parsed):
            alerts = parsed
        case .failure(let error):
            environment.problem(.badRequest, peer: peer, "refused a webhook body from \(peer): \(error)")
            respond(.badRequest, .error(error.description), head: head, context: context)
            return
        }
        guard !alerts.isEmpty else {
            respond(.accepted, .accepted(0), head: head, context: context)
            return
        }
        let intake = environment.intake
        let listener = environment.name
        context.eventLoop.makeFutureWithTask { await intake.accept(alerts, from: listener) }
            .assumeIsolated()
            .whenSuccess { outcome in
                self.answer(outcome, alerts: alerts, head: head, context: context)
            }
    }

    private func answer(_ outcome: IntakeOutcome, alerts: [Alert], head: HTTPRequestHead, context: ChannelHandlerContext) {
        switch outcome {
        case .stored:
            environment.metrics.countReceived(alerts)
            respond(.accepted, .accepted(alerts.count), head: head, context: context)
        case .full(let retryAfter):
            let seconds = max(1, Int(retryAfter.seconds.rounded(.up)))
            environment.problem(.spoolFull, peer: peer, "the spool is full: answered 503 to \(peer) for \(alerts.count) alerts, retry after \(seconds) s")
            respond(.serviceUnavailable, .error("the gateway's spool is full; retry after \(seconds) s"), head: head, extraHeaders: [("Retry-After", "\(seconds)")], context: context)
        case .failed(let reason):
            environment.metrics.countError(.spoolFailed)
            environment.logger.error(
                "listener \(environment.name): the spool could not store \(alerts.count) alerts from \(peer): \(reason); answered 500",
                metadata: ["listener": "\(environment.name)", "peer": "\(peer)", "reason": "spool-failed"])
            respond(.internalServerError, .error("the gateway could not store the alerts: \(reason)"), head: head, context: context)
        }
    }

    /// The bytes of `head` as sent, near enough: request line and header lines.
    static func size(of head: HTTPRequestHead) -> Int {
        head.headers.reduce(head.method.rawValue.utf8.count + head.uri.utf8.count + 12) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 } + 2
    }

    private func refuseOversizeHead(_ bytes: Int, head: HTTPRequestHead, context: ChannelHandlerContext) {
        state = .discarding
        let limit = environment.limits.maxHeadBytes
        environment.problem(.oversize, peer: peer, "refused a webhook request head of \(bytes) bytes from \(peer): over the limit of \(limit) bytes (431)")
        writeResponse(.requestHeaderFieldsTooLarge, .error("the request head is larger than \(limit) bytes"), keepAlive: false, version: head.version, extraHeaders: [], context: context)
    }

    /// Without the token: 401 and close, before its body is read.
    private func refuseUnauthorized(head: HTTPRequestHead, context: ChannelHandlerContext) {
        state = .discarding
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? head.uri
        environment.problem(.unauthorized, peer: peer, "refused a webhook request for \(path) from \(peer): no valid bearer token (401)")
        writeResponse(
            .unauthorized, .error("this webhook needs Authorization: Bearer TOKEN"), keepAlive: false, version: head.version,
            extraHeaders: [("WWW-Authenticate", "Bearer")], context: context)
    }

    private func refuseOversize(_ bytes: Int, head: HTTPRequestHead, context: ChannelHandlerContext) {
        state = .discarding
        environment.problem(.oversize, peer: peer, "refused a webhook body of \(bytes) bytes or more from \(peer): over the limit of \(bodyLimit) bytes")
        writeResponse(.payloadTooLarge, .error("the body is larger than \(bodyLimit) bytes"), keepAlive: false, version: head.version, extraHeaders: [], context: context)
    }

    /// The two shapes of response body: `{"accepted": N}` and `{"error": "..."}`.
    enum ResponseBody: Equatable {
        case accepted(Int)
        case error(String)

        var json: String {
            switch self {
            case .accepted(let count): "{\"accepted\": \(count)}\n"
            case .error(let message): "{\"error\": \(JSONValue.quote(message))}\n"
            }
        }
    }

    private func respond(_ status: HTTPResponseStatus, _ body: ResponseBody, head: HTTPRequestHead, extraHeaders: [(String, String)] = [], context: ChannelHandlerContext) {
        state = .idle
        writeResponse(status, body, keepAlive: head.isKeepAlive, version: head.version, extraHeaders: extraHeaders, context: context)
    }

    private func writeResponse(_ status: HTTPResponseStatus, _ body: ResponseBody, keepAlive: Bool, version: HTTPVersion, extraHeaders: [(String, String)], context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 128)
        buffer.writeString(body.json)
        var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "\(buffer.readableBytes)")])
        headers.add(contentsOf: extraHeaders)
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        // Before the end is written: NIO's pipeline handler may hand on a pipelined
        // request as soon as it is, and that one's head comes after this. A connection
        // that closes after this answer waits for nothing more (the rest of a refused
        // body is not a next request's head).
        context.triggerUserOutboundEvent(keepAlive ? WebhookProgress.responded : .requestComplete, promise: nil)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension WebhookHandler: Sendable {}
