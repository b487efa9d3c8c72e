import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Fetches the bytes at a CRL distribution point.
public protocol CRLFetching: Sendable {
    func fetch(_ url: String) async throws(CRLFetchError) -> [UInt8]
}

/// Why a CRL could not be fetched; `description` is the operator's detail next to the
/// `crl-unreachable` message.
public struct CRLFetchError: Error, Sendable, Hashable, CustomStringConvertible {
    public var url: String
    public var reason: String

    public init(url: String, reason: String) {
        self.url = url
        self.reason = reason
    }

    public var description: String { "\(url): \(reason)" }
}

/// Plain HTTP/1.1 GET on SwiftNIO, straight or through a forward proxy. CRLs are signed, so
/// they are fetched over `http://` only (RFC 5280 §4.2.1.13); `https://` would make
/// revocation checking depend on the very TLS validation it is part of.
public struct HTTPCRLFetcher: CRLFetching {
    public struct Proxy: Sendable, Hashable {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    /// Larger answers are refused: a CRL of millions of entries is not what an
    /// appliance's issuing CA publishes, and memory is not the place to find out.
    public static let maximumSize = 32 * 1024 * 1024

    private let group: any EventLoopGroup
    private let proxy: Proxy?
    private let timeout: TimeAmount

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, proxy: Proxy? = nil, timeout: Duration = .seconds(5)) {
        self.group = group
        self.proxy = proxy
        self.timeout = TimeAmount(timeout)
    }

    public func fetch(_ url: String) async throws(CRLFetchError) -> [UInt8] {
        guard let components = URLComponents(string: url), components.scheme?.lowercased() == "http",
            let host = components.host, !host.isEmpty
        else {
            throw CRLFetchError(url: url, reason: "only http:// CRL locations can be fetched")
        }
        let port = components.port ?? 80
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        let target = (proxy == nil) ? path + (components.percentEncodedQuery.map { "?" + $0 } ?? "") : url
        let connectHost = proxy?.host ?? host
        let connectPort = proxy?.port ?? port
        let hostHeader = components.port.map { "\(host):\($0)" } ?? host

        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: [UInt8].self)
        let timeout = self.timeout
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
                }
            }
        let deadline = eventLoop.scheduleTask(in: timeout) {
            promise.fail(CRLFetchError(url: url, reason: "no answer within \(timeout.nanoseconds / 1_000_000) ms"))
        }
        bootstrap.connect(host: connectHost, port: connectPort).whenComplete { result in
            switch result {
            case .failure(let error):
                let via = proxy.map { " (through proxy \($0.host):\($0.port))" } ?? ""
                promise.fail(CRLFetchError(url: url, reason: "cannot connect to \(connectHost):\(connectPort)\(via): \(error)"))
            case .success(let channel):
                var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target)
                head.headers.add(name: "Host", value: hostHeader)
                head.headers.add(name: "User-Agent", value: "alertgate")
                head.headers.add(name: "Accept", value: "application/pkix-crl, */*")
                head.headers.add(name: "Connection", value: "close")
                channel.write(HTTPClientRequestPart.head(head), promise: nil)
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
            }
        }
        do {
            let body = try await promise.futureResult.get()
            deadline.cancel()
            return body
        } catch let error as CRLFetchError {
            throw error
        } catch {
            throw CRLFetchError(url: url, reason: "\(error)")
        }
    }
}

/// Collects one HTTP response and completes the promise with its body, or fails it with
/// a reason naming the status.
private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<[UInt8]>
    private var status: HTTPResponseStatus?
    private var body: [UInt8] = []

    init(promise: EventLoopPromise<[UInt8]>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status
        case .body(let buffer):
            guard body.count + buffer.readableBytes <= HTTPCRLFetcher.maximumSize else {
                promise.fail(FetchFailure("the answer is larger than \(HTTPCRLFetcher.maximumSize) bytes"))
                context.close(promise: nil)
                return
            }
            body.append(contentsOf: buffer.readableBytesView)
        case .end:
            if status == .ok {
                promise.succeed(body)
            } else {
                promise.fail(FetchFailure("HTTP status \(status.map { "\($0.code) \($0.reasonPhrase)" } ?? "missing")"))
            }
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(FetchFailure("\(error)"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(FetchFailure("the server closed the connection before the answer was complete"))
    }
}

private struct FetchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
