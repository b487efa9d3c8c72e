import AlertGateConfig
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The admin API (docs/reference.md §9) on `gateway.admin`: `GET /healthz`, `GET /readyz`,
/// `GET /metrics`, `GET /v1/status`, `POST /v1/reload`.
///
/// Plain HTTP. Who may ask what is `AdminAccess` (docs/reference.md §11: the bearer token, a loopback
/// `Host`, no web page's reload); what one client can hold is bounded by `Settings`: a
/// connection cap, a deadline for each request, and an idle deadline between requests, so
/// that idle or slow clients cannot keep `/healthz` from answering.
public actor AdminServer {
    /// The bounds on the admin API's connections. Fixed defaults: the admin API serves a
    /// few operators' tools and one scraper, not the traffic of the listeners.
    public struct Settings: Sendable {
        /// `gateway.admin_token`; nil leaves `/metrics`, `/v1/status` and the reload open.
        public var token: String?
        /// Past it, a new connection is closed at once (and counted).
        public var maxConnections: Int
        /// A request (its head and its body) must arrive whole within it.
        public var headerTimeout: TimeAmount
        /// A kept-alive connection with no new request for this long is closed.
        public var idleTimeout: TimeAmount
        /// A request body past this is refused (nothing the admin API takes has one).
        public var maxBodyBytes: Int

        public init(
            token: String? = nil, maxConnections: Int = 64, headerTimeout: TimeAmount = .seconds(10),
            idleTimeout: TimeAmount = .seconds(60), maxBodyBytes: Int = 64 * 1024
        ) {
            self.token = token
            self.maxConnections = maxConnections
            self.headerTimeout = headerTimeout
            self.idleTimeout = idleTimeout
            self.maxBodyBytes = maxBodyBytes
        }
    }

    public let address: HostPort
    public let settings: Settings
    private let backend: any AdminBackend
    private let metrics: MetricsExposition
    private let group: any EventLoopGroup
    private let logger: Logger
    private var channel: (any Channel)?
    /// The open connections, closed by `stop()` (a client may hold one open between
    /// requests), at most `settings.maxConnections`.
    private let connections: AdminConnections

    public init(
        address: HostPort, settings: Settings = Settings(), backend: any AdminBackend, metrics: MetricsExposition,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) {
        self.address = address
        self.settings = settings
        self.connections = AdminConnections(limit: settings.maxConnections)
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
        let access = AdminAccess(token: settings.token, loopbackOnly: address.isLoopback)
        let refusals = AdminRefusals(metrics: metrics, logger: logger)
        let routes = AdminRoutes(backend: backend, metrics: metrics, access: access) { reason, request in refusals.refused(reason, request: request) }
        let settings = settings
        let logger = logger
        let connections = connections
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let slot: AdminConnections.Slot
                        switch connections.admit(channel) {
                        case .refused:
                            refusals.refused(.maxConnections)
                            channel.close(promise: nil)
                            return
                        case .admitted(let admitted, let evicted):
                            slot = admitted
                            if let evicted {
                                refusals.refused(.maxConnections)
                                evicted.close(promise: nil)
                            }
                        }
                        channel.closeFuture.whenComplete { _ in connections.remove(channel) }
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                        try pipeline.addHandler(AdminHandler(routes: routes, settings: settings, slot: slot, refusals: refusals, logger: logger))
                    }
                }
                .bind(host: address.host, port: address.port)
                .get()
        } catch {
            throw AdminServerError(address: address, reason: "\(error)")
        }
    }

    /// Connections open now.
    public var openConnections: Int {
        connections.count
    }

    /// Stops accepting and closes the open connections (an answer being written is cut
    /// off: the admin API holds nothing a client could lose).
    public func stop() async {
        guard let channel else { return }
        self.channel = nil
        try? await channel.close()
        for connection in connections.channels {
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
    var access = AdminAccess(token: nil, loopbackOnly: false)
    /// Told of each request `access` refuses (counted and logged, rate-limited).
    var refused: @Sendable (AdminAccess.Refusal, String) -> Void = { _, _ in }

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

    func answer(method: HTTPMethod, uri: String, headers: HTTPHeaders = HTTPHeaders(), bodyBytes: Int = 0) -> Answer {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        guard let allowed = Self.routes[path] else {
            return .now(.text(.notFound, "not found: \(path) (the admin API serves /healthz, /readyz, /metrics, /v1/status, POST /v1/reload)"))
        }
        guard method == allowed else {
            var response = AdminResponse.text(.methodNotAllowed, "\(method.rawValue) is not allowed on \(path); use \(allowed.rawValue)")
            response.extraHeaders["Allow"] = allowed.rawValue
            return .now(response)
        }
        if let (reason, response) = access.refusal(method: method, path: path, headers: headers, bodyBytes: bodyBytes) {
            refused(reason, "\(method.rawValue) \(path)")
            return .now(response)
        }
        let backend = backend
        switch path {
        case "/healthz":
            return .now(.text(.ok, "ok"))
        case "/metrics":
            // The backend first records what is read at scrape time (the spool's depths).
            let metrics = metrics
            return .backend {
                await backend.updateMetrics()
                return AdminResponse(status: .ok, contentType: MetricsExposition.contentType, body: metrics.render())
            }
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
