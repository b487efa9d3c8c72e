import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A plain HTTP/1.1 server on 127.0.0.1 that serves the files of one folder, as a CA's CRL
/// distribution point does. It counts the requests per path, so tests can tell a cached
/// CRL from a fetched one.
public final class FileHTTPServer: Sendable {
    public let directory: URL
    public let port: Int
    private let channel: any Channel
    private let counter: RequestCounter

    public init(directory: URL, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        self.directory = directory
        let counter = RequestCounter()
        self.counter = counter
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(FileHandler(directory: directory, counter: counter))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        port = channel.localAddress?.port ?? 0
    }

    /// `http://127.0.0.1:PORT/NAME`
    public func url(for name: String) -> String {
        "http://127.0.0.1:\(port)/\(name)"
    }

    public func requests(for name: String) -> Int {
        counter.count(for: "/" + name)
    }

    /// Requests of any path so far.
    public var totalRequests: Int {
        counter.total
    }

    public func stop() async throws {
        try await channel.close()
    }
}

private final class RequestCounter: Sendable {
    private let counts = NIOLockedValueBox<[String: Int]>([:])

    func record(_ path: String) {
        counts.withLockedValue { $0[path, default: 0] += 1 }
    }

    func count(for path: String) -> Int {
        counts.withLockedValue { $0[path] ?? 0 }
    }

    var total: Int {
        counts.withLockedValue { $0.values.reduce(0, +) }
    }
}

private final class FileHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let directory: URL
    private let counter: RequestCounter
    private var path: String?

    init(directory: URL, counter: RequestCounter) {
        self.directory = directory
        self.counter = counter
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            // A proxied request carries the absolute URL; serve its path the same way.
            let target = head.uri.hasPrefix("http://") ? (URLComponents(string: head.uri)?.path ?? head.uri) : head.uri
            path = target
        case .body:
            break
        case .end:
            guard let path else { return }
            counter.record(path)
            let file = directory.appendingPathComponent(String(path.drop { $0 == "/" }))
            let body = try? Data(contentsOf: file)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: "\(body?.count ?? 0)")
            headers.add(name: "Content-Type", value: "application/pkix-crl")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: body == nil ? .notFound : .ok, headers: headers))), promise: nil)
            if let body {
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            self.path = nil
        }
    }
}
