import AlertGateConfig
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The admin API (SPEC §9) on `gateway.admin`: `GET /healthz`, `GET /readyz`,
/// `GET /metrics`, `GET /v1/status`, `POST /v1/reload`.
///
/// Plain HTTP without authentication: keeping it on a loopback or management address is
/// the operator's job (the shipped config binds 127.0.0.1).
public actor AdminServer {
    public let address: HostPort
    private let backend: any AdminBackend
    private let metrics: MetricsExposition
    private let group: any EventLoopGroup
    private let logger: Logger
    private var channel: (any Channel)?
    /// The open connections, closed by `stop()` (a client may hold one open between requests).
    private let connections = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])

    public init(
        address: HostPort, backend: any AdminBackend, metrics: MetricsExposition,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) {
        self.address = address
        self.backend = backend
        self.metrics = metrics
        self.group = group
        self.logger = logger
    }

    /// The address bound by `start()` (its port when `address` asks for port 0).
    public var boundAddress: SocketAddress? {
        channel?.localAddress
    }

    /// Binds and serves; throws when the address cannot be bound.
    public func start() async throws {
        guard channel == nil else { return }
        let routes = AdminRoutes(backend: backend, metrics: metrics)
        let logger = logger
        let connections = connections
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let id = ObjectIdentifier(channel)
                        connections.withLockedValue { $0[id] = channel }
                        channel.closeFuture.whenComplete { _ in connections.withLockedValue { _ = $0.removeValue(forKey: id) } }
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                        try pipeline.addHandler(AdminHandler(routes: routes, logger: logger))
                    }
                }
                .bind(host: address.host, port: address.port)
                .get()
        } catch {
            throw AdminServerError(address: address, reason: "\(error)")
        }
    }

    /// Stops accepting and closes the open connections (an answer being written is cut
    /// off: the admin API holds nothing a client could lose).
    public func stop() async {
        guard let channel else { return }
        self.channel = nil
        try? await channel.close()
        for connection in connections.withLockedValue({ Array($0.values) }) {
            try? await connection.close()
        }
    }
}

/// The admin address could not be bound.
public struct AdminServerError: Error, CustomStringConvertible {
    public var address: HostPort
    public var reason: String
    public var description: String { "gateway.admin: cannot listen on \(address): \(reason)" }
}

/// The admin server under swift-service-lifecycle: serves until graceful shutdown.
final class AdminService: Service {
    private let server: AdminServer
    private let logger: Logger

    init(server: AdminServer, logger: Logger) {
        self.server = server
        self.logger = logger
    }

    func run() async throws {
        try await server.start()
        let bound = await server.boundAddress.map { "\($0)" } ?? "\(server.address)"
        logger.info("admin API listening on \(bound)", metadata: ["admin": "\(bound)"])
        try? await gracefulShutdown()
        await server.stop()
    }
}

// MARK: - Routing

/// One response: its status, content type and body.
struct AdminResponse: Sendable, Equatable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: [UInt8]
    var extraHeaders: [String: String] = [:]

    static func text(_ status: HTTPResponseStatus, _ text: String) -> AdminResponse {
        AdminResponse(status: status, contentType: "text/plain; charset=utf-8", body: Array((text + "\n").utf8))
    }

    static func json<Value: Encodable>(_ status: HTTPResponseStatus, _ value: Value) -> AdminResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(value)).map { Array($0) + [UInt8(ascii: "\n")] } ?? Array("{}\n".utf8)
        return AdminResponse(status: status, contentType: "application/json", body: body)
    }
}

/// Maps a request to its answer, with nothing of NIO's channel in it.
struct AdminRoutes: Sendable {
    let backend: any AdminBackend
    let metrics: MetricsExposition

    private struct ReloadAnswer: Encodable {
        var ok: Bool
        var errors: [String]?
    }

    /// Each path and the one method it answers.
    static let routes: [String: HTTPMethod] = [
        "/healthz": .GET, "/readyz": .GET, "/metrics": .GET, "/v1/status": .GET, "/v1/reload": .POST,
    ]

    /// How a request is answered: at once on the event loop (the probes of the process
    /// itself, `/metrics`, errors), or by asking the backend.
    enum Answer: Sendable {
        case now(AdminResponse)
        case backend(@Sendable () async -> AdminResponse)
    }

    func answer(method: HTTPMethod, uri: String) -> Answer {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        guard let allowed = Self.routes[path] else {
            return .now(.text(.notFound, "not found: \(path) (the admin API serves /healthz, /readyz, /metrics, /v1/status, POST /v1/reload)"))
        }
        guard method == allowed else {
            var response = AdminResponse.text(.methodNotAllowed, "\(method.rawValue) is not allowed on \(path); use \(allowed.rawValue)")
            response.extraHeaders["Allow"] = allowed.rawValue
            return .now(response)
        }
        let backend = backend
        switch path {
        case "/healthz":
            return .now(.text(.ok, "ok"))
        case "/metrics":
            return .now(AdminResponse(status: .ok, contentType: MetricsExposition.contentType, body: metrics.render()))
        case "/readyz":
            return .backend { await backend.isReady() ? .text(.ok, "ready") : .text(.serviceUnavailable, "not ready") }
        case "/v1/status":
            return .backend { .json(.ok, await backend.status()) }
        default:  // "/v1/reload"
            return .backend {
                let report = await backend.reload()
                return report.ok
                    ? .json(.ok, ReloadAnswer(ok: true, errors: nil))
                    : .json(.unprocessableEntity, ReloadAnswer(ok: false, errors: report.errors))
            }
        }
    }
}

// MARK: - The connection handler

/// One admin connection above NIO's HTTP/1.1 server pipeline (which hands over one
/// request at a time). Request bodies are read and ignored.
final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let routes: AdminRoutes
    private let logger: Logger
    private var head: HTTPRequestHead?

    init(routes: AdminRoutes, logger: Logger) {
        self.routes = routes
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            switch routes.answer(method: head.method, uri: head.uri) {
            case .now(let response):
                write(response, for: head, context: context)
            case .backend(let ask):
                context.eventLoop.makeFutureWithTask(ask)
                    .assumeIsolated()
                    .whenSuccess { response in
                        self.write(response, for: head, context: context)
                    }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("admin API connection: \(error)")
        context.close(promise: nil)
    }

    private func write(_ response: AdminResponse, for request: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders([
            ("Content-Type", response.contentType),
            ("Content-Length", "\(response.body.count)"),
            ("Connection", request.isKeepAlive ? "keep-alive" : "close"),
        ])
        for (name, value) in response.extraHeaders.sorted(by: { $0.key < $1.key }) {
            headers.add(name: name, value: value)
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: response.status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
        }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !request.isKeepAlive {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension AdminHandler: Sendable {}
