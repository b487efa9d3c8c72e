import NIOCore
import NIOHTTP1
import NIOPosix

/// One plain HTTP/1.1 GET on SwiftNIO (`Connection: close`): the answer's status and body,
/// within a size limit and a deadline. The CRL fetcher and `alertgate status` (the admin
/// API) both ask through it; each turns statuses and failures into its own words.
public struct HTTPGet: Sendable {
    public struct Response: Sendable {
        public var status: HTTPResponseStatus
        public var body: [UInt8]
    }

    /// Why no answer came.
    public enum Failure: Error, Sendable {
        /// The TCP connection could not be made (NIO's error, with every address tried).
        case connect(any Error)
        case noAnswer(within: TimeAmount)
        case tooLarge(limit: Int)
        case closedEarly
        case failed(any Error)
    }

    public var group: any EventLoopGroup
    public var connectTimeout: TimeAmount
    /// From the start of the connection to the end of the answer.
    public var timeout: TimeAmount
    public var maximumSize: Int

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, connectTimeout: TimeAmount, timeout: TimeAmount, maximumSize: Int) {
        self.group = group
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.maximumSize = maximumSize
    }

    /// GETs `target` (a path, or a whole URL through a proxy) from `host`:`port`, with
    /// `headers` besides `Connection: close`.
    public func get(host: String, port: Int, target: String, headers: [(String, String)]) async throws(Failure) -> Response {
        try await get(target: target, headers: headers) { bootstrap, _ in bootstrap.connect(host: host, port: port) }
    }

    /// GETs `target` from the first of `addresses` that takes the connection, in order
    /// (addresses resolved and checked beforehand: nothing is resolved again).
    public func get(addresses: [SocketAddress], target: String, headers: [(String, String)]) async throws(Failure) -> Response {
        try await get(target: target, headers: headers) { bootstrap, eventLoop in
            Self.connect(bootstrap, to: addresses[...], on: eventLoop)
        }
    }

    struct NoAddress: Error, CustomStringConvertible {
        var description: String { "no address to connect to" }
    }

    private static func connect(_ bootstrap: ClientBootstrap, to addresses: ArraySlice<SocketAddress>, on eventLoop: any EventLoop) -> EventLoopFuture<any Channel> {
        guard let first = addresses.first else {
            return eventLoop.makeFailedFuture(NoAddress())
        }
        let rest = addresses.dropFirst()
        return bootstrap.connect(to: first).flatMapError { error in
            rest.isEmpty ? eventLoop.makeFailedFuture(error) : connect(bootstrap, to: rest, on: eventLoop)
        }
    }

    private func get(
        target: String, headers: [(String, String)], connect: (ClientBootstrap, any EventLoop) -> EventLoopFuture<any Channel>
    ) async throws(Failure) -> Response {
        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: Response.self)
        let maximumSize = maximumSize
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise, maximumSize: maximumSize))
                }
            }
        let timeout = timeout
        let deadline = eventLoop.scheduleTask(in: timeout) { promise.fail(Failure.noAnswer(within: timeout)) }
        connect(bootstrap, eventLoop).whenComplete { result in
            switch result {
            case .failure(let error):
                promise.fail(Failure.connect(error))
            case .success(let channel):
                var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target)
                for (name, value) in headers {
                    head.headers.add(name: name, value: value)
                }
                head.headers.add(name: "Connection", value: "close")
                channel.write(HTTPClientRequestPart.head(head), promise: nil)
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
            }
        }
        defer { deadline.cancel() }
        do {
            return try await promise.futureResult.get()
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .failed(error)
        }
    }
}

/// Collects one response; a connection that ends first fails it.
private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<HTTPGet.Response>
    private let maximumSize: Int
    private var status: HTTPResponseStatus?
    private var body: [UInt8] = []

    init(promise: EventLoopPromise<HTTPGet.Response>, maximumSize: Int) {
        self.promise = promise
        self.maximumSize = maximumSize
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status
        case .body(let buffer):
            guard body.count + buffer.readableBytes <= maximumSize else {
                promise.fail(HTTPGet.Failure.tooLarge(limit: maximumSize))
                context.close(promise: nil)
                return
            }
            body.append(contentsOf: buffer.readableBytesView)
        case .end:
            if let status {
                promise.succeed(HTTPGet.Response(status: status, body: body))
            } else {
                promise.fail(HTTPGet.Failure.closedEarly)
            }
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(HTTPGet.Failure.failed(error))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(HTTPGet.Failure.closedEarly)
        context.fireChannelInactive()
    }
}
