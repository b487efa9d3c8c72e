import AlertGatePKI
import NIOCore
import NIOPosix

/// Opens TLS connections: TCP, handshake, the peer judged by a `PeerPolicy`, and only then
/// hands the channel to the caller, with the caller's handlers above TLS.
public struct TLSConnector: Sendable {
    public struct Connection: Sendable {
        public var channel: any Channel
        public var peer: TLSPeer
        /// The checks' results; with policy `none` it may hold failures that were let through.
        public var verdict: PeerVerdict?
    }

    /// Why a connection could not be opened, by step.
    public enum Failure: Error, Sendable, CustomStringConvertible {
        case tcp(host: String, port: Int, reason: String)
        case tls(TLSError)

        public var description: String {
            switch self {
            case .tcp(let host, let port, let reason): "cannot connect to \(host):\(port): \(reason)"
            case .tls(let error): error.description
            }
        }
    }

    public let context: TLSContext
    public let group: any EventLoopGroup
    public let connectTimeout: TimeAmount

    public init(context: TLSContext, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, connectTimeout: TimeAmount = .seconds(10)) {
        self.context = context
        self.group = group
        self.connectTimeout = connectTimeout
    }

    /// - Parameters:
    ///   - serverName: SNI, and the name the policy expects unless it says otherwise.
    ///   - configure: adds the transport's handlers above TLS, on the channel's event loop.
    public func connect(
        host: String,
        port: Int,
        serverName: String?,
        policy: PeerPolicy?,
        configure: @escaping @Sendable (any Channel) throws -> Void = { _ in }
    ) async throws(Failure) -> Connection {
        let tlsContext = context
        var peerCheck: TLSHandler.PeerCheck?
        if let policy {
            peerCheck = { peer in await policy.decide(peer) }
        }
        let channel: any Channel
        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: (TLSPeer, PeerVerdict?).self)
        do {
            let check = peerCheck
            let initializer: @Sendable (any Channel) -> EventLoopFuture<Void> = { channel in
                channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    try operations.addHandler(TLSHandler(context: tlsContext, serverName: serverName, peerCheck: check))
                    try operations.addHandler(HandshakeWaiter(promise: promise))
                    try configure(channel)
                }
            }
            channel = try await ClientBootstrap(group: eventLoop)
                .connectTimeout(connectTimeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer(initializer)
                .connect(host: host, port: port)
                .get()
        } catch {
            promise.fail(error)  // no channel, so no handler will complete it
            throw .tcp(host: host, port: port, reason: "\(error)")
        }
        do {
            let (peer, verdict) = try await promise.futureResult.get()
            return Connection(channel: channel, peer: peer, verdict: verdict)
        } catch let error as TLSError {
            throw .tls(error)
        } catch {
            throw .tls(.handshakeFailed("\(error)"))
        }
    }
}

/// Completes a promise when the handshake and the peer check are done (or fail), then
/// steps out of the pipeline.
final class HandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let promise: EventLoopPromise<(TLSPeer, PeerVerdict?)>

    init(promise: EventLoopPromise<(TLSPeer, PeerVerdict?)>) {
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSEvent, case .handshakeCompleted(let peer, let verdict) = event {
            promise.succeed((peer, verdict))
            context.fireUserInboundEventTriggered(event)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(TLSError.closedDuringHandshake)
        context.fireChannelInactive()
    }
}
