import AlertGatePKI
import NIOCore

/// TLS for one channel on OpenSSL: ciphertext below, plaintext `ByteBuffer`s above. It
/// knows nothing of syslog, HTTP or alerts; transports add their handlers above it.
///
/// After the handshake the peer is judged by `peerCheck` (the connection's validation
/// policy) before any plaintext is written or delivered. In the server role nothing more
/// is read from the socket while that check runs (a hostile client could otherwise send
/// gigabytes while its CRL is fetched): `read()` is held until the peer is accepted. What
/// arrived with the end of the handshake waits, still encrypted, in OpenSSL's input, and
/// the handler never holds more than `maxBufferedInput` there before the peer is accepted
/// (more closes the connection). Once active, each read is decrypted and passed on at
/// once; handlers above push back by holding `read()`. Closing sends close_notify and
/// keeps reading until the peer closes or `closeTimeout` passes: closing a socket with
/// unread bytes in it makes the kernel send RST, and the peer would lose the stream's tail.
public final class TLSHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// Judges the peer after the handshake; runs off the event loop (CRL fetches).
    public typealias PeerCheck = @Sendable (TLSPeer) async -> PeerDecision

    private enum State {
        case idle
        case handshaking
        case checkingPeer
        case active
        case closing
        case closed
    }

    private let tlsContext: TLSContext
    private let serverName: String?
    private let peerCheck: PeerCheck?
    private let closeTimeout: TimeAmount
    /// The most ciphertext kept in OpenSSL's input before the peer is accepted.
    private let maxBufferedInput: Int
    private var state: State = .idle
    /// A `read()` held while the peer is checked (server role), passed on once it is accepted.
    private var readHeld = false
    private var connection: SSLConnection?
    /// Plaintext written before the peer was accepted, and whether a flush followed.
    private var pendingWrites: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var pendingFlush = false
    /// Promises of plaintext encrypted since the last ciphertext write.
    private var unflushedPromises: [EventLoopPromise<Void>] = []
    private var closePromise: EventLoopPromise<Void>?
    /// The peer closed its side while it was being checked (a channel that allows half
    /// closure): the handlers above hear of it only after its records were delivered.
    private var inputEnded = false
    private var scheduledClose: Scheduled<Void>?

    /// Ciphertext bytes handed to the channel so far. Right after a flush it is where the
    /// TLS records of everything written so far end in the TCP stream, which lets a
    /// transport match the peer's TCP acknowledgements to what it wrote.
    public private(set) var ciphertextBytesWritten = 0

    /// The peer, once the handshake is done.
    public private(set) var peer: TLSPeer?

    /// What a NIO socket channel reads in one burst at its defaults (`maxMessagesPerRead`
    /// 4 × the adaptive allocator's 64 KiB): after a `read()` is held, at most this much
    /// still arrives.
    public static let oneRead = 4 * 64 * 1024

    /// - Parameters:
    ///   - serverName: the SNI host name (client role; IP literals send no SNI).
    ///   - peerCheck: nil accepts any peer (the context then checks nothing).
    ///   - maxBufferedInput: the most ciphertext held before the peer is accepted; past it the
    ///     connection fails with `TLSError.inputLimitExceeded`. At least `oneRead`, as the
    ///     rest of the read burst that completed the handshake is held too.
    public init(
        context: TLSContext, serverName: String? = nil, peerCheck: PeerCheck? = nil, closeTimeout: TimeAmount = .seconds(5),
        maxBufferedInput: Int = 64 * 1024 + TLSHandler.oneRead
    ) {
        self.tlsContext = context
        self.serverName = serverName
        self.peerCheck = peerCheck
        self.closeTimeout = closeTimeout
        self.maxBufferedInput = maxBufferedInput
    }

    /// Ciphertext received and not yet decrypted (held while the peer is checked).
    public var bufferedInputBytes: Int {
        connection?.bufferedInput ?? 0
    }

    // MARK: Lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive {
            start(context: context)
        }
    }

    public func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard case .idle = state else { return }
        do {
            connection = try SSLConnection(context: tlsContext, serverName: serverName)
        } catch {
            fail(context: context, error)
            return
        }
        state = .handshaking
        if case .client = tlsContext.configuration.role {
            driveHandshake(context: context)
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        let previous = state
        state = .closed
        scheduledClose?.cancel()
        // A close we started is done once the channel is: the peer closed first.
        closePromise?.succeed()
        closePromise = nil
        failPendingWrites(ChannelError.ioOnClosedChannel)
        switch previous {
        case .checkingPeer:
            // A TLS 1.3 server that refuses our certificate sends its alert after our side
            // finished; it waits in OpenSSL's input while the peer was being checked.
            var discard = context.channel.allocator.buffer(capacity: 0)
            if let connection, case .failed(let reason) = connection.read(into: &discard) {
                context.fireErrorCaught(TLSError.handshakeFailed(reason))
            } else {
                context.fireErrorCaught(TLSError.closedDuringHandshake)
            }
        case .handshaking:
            context.fireErrorCaught(TLSError.closedDuringHandshake)
        case .active:
            // TCP closed without close_notify: what came before may be cut short.
            context.fireErrorCaught(TLSError.uncleanShutdown)
        case .idle, .closing, .closed:
            break
        }
        context.fireChannelInactive()
    }

    // MARK: Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let connection else { return }
        connection.feed(unwrapInboundIn(data))
        switch state {
        case .handshaking:
            driveHandshake(context: context)
        case .active, .closing:
            readRecords(context: context)
        case .checkingPeer:
            // Kept in OpenSSL's input until the peer is accepted.
            break
        case .idle, .closed:
            break
        }
        switch state {
        case .handshaking, .checkingPeer:
            // Reads are held (server role) or the peer has no business sending this much
            // before it is accepted: either way the connection is not worth the memory.
            if connection.bufferedInput > maxBufferedInput {
                fail(context: context, TLSError.inputLimitExceeded(maxBufferedInput))
            }
        case .idle, .active, .closing, .closed:
            break
        }
    }

    public func read(context: ChannelHandlerContext) {
        if case .checkingPeer = state, case .server = tlsContext.configuration.role {
            // Nothing more from a client until it is accepted. (The client role reads on:
            // a TLS 1.3 server's refusal of our certificate arrives during our check.)
            readHeld = true
            return
        }
        context.read()
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        if case .active = state {
            context.fireChannelReadComplete()
        }
    }

    private func driveHandshake(context: ChannelHandlerContext) {
        guard let connection else { return }
        switch connection.handshake() {
        case .done:
            flushCiphertext(context: context)
            let peer = TLSPeer(
                chain: connection.peerChain,
                applicationProtocol: connection.negotiatedProtocol,
                protocolVersion: connection.protocolVersion,
                cipher: connection.cipher)
            self.peer = peer
            checkPeer(peer, context: context)
        case .wantRead:
            flushCiphertext(context: context)
        case .closed:
            fail(context: context, TLSError.closedDuringHandshake)
        case .failed(let reason):
            fail(context: context, TLSError.handshakeFailed(reason))
        }
    }

    private func checkPeer(_ peer: TLSPeer, context: ChannelHandlerContext) {
        guard let peerCheck else {
            becomeActive(peer, verdict: nil, context: context)
            return
        }
        state = .checkingPeer
        context.eventLoop.makeFutureWithTask { await peerCheck(peer) }
            .assumeIsolated()
            .whenSuccess { decision in
                guard case .checkingPeer = self.state else { return }
                switch decision {
                case .accept(let verdict):
                    self.becomeActive(peer, verdict: verdict, context: context)
                case .refuse(let verdict):
                    self.fail(context: context, TLSError.peerRefused(verdict))
                }
            }
    }

    private func becomeActive(_ peer: TLSPeer, verdict: PeerVerdict?, context: ChannelHandlerContext) {
        state = .active
        context.fireUserInboundEventTriggered(TLSEvent.handshakeCompleted(peer, verdict))
        let writes = pendingWrites
        pendingWrites = []
        for (buffer, promise) in writes {
            encrypt(buffer, promise: promise, context: context)
        }
        if pendingFlush {
            pendingFlush = false
            flushCiphertext(context: context)
        }
        // Records that arrived while the peer was being checked. They come outside a read
        // burst of the channel, so the burst's end is signalled here: handlers that batch
        // per burst (the syslog listeners) would otherwise wait for a read that may never come.
        readRecords(context: context)
        if case .active = state {
            context.fireChannelReadComplete()
        }
        if inputEnded {
            inputEnded = false
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        if readHeld, case .active = state {
            readHeld = false
            // From the tail: the handlers above decide afresh whether they want more now.
            context.channel.read()
        }
    }

    /// A one-shot sender (send, then close) may finish before its certificate is checked:
    /// with half closure allowed, what it sent waits in OpenSSL's input for the verdict,
    /// and the end of its input is passed on after it.
    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            switch state {
            case .checkingPeer:
                inputEnded = true
                return
            case .handshaking:
                // Everything it sent was fed to the handshake, which still wants more.
                fail(context: context, TLSError.closedDuringHandshake)
                return
            case .idle, .active, .closing, .closed:
                break
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func readRecords(context: ChannelHandlerContext) {
        guard let connection else { return }
        var plaintext = context.channel.allocator.buffer(capacity: 0)
        let step = connection.read(into: &plaintext)
        if plaintext.readableBytes > 0, case .active = state {
            context.fireChannelRead(wrapInboundOut(plaintext))
        }
        flushCiphertext(context: context)  // key updates and alerts produce output too
        switch step {
        case .done, .wantRead:
            break
        case .closed:
            // The peer sent close_notify: answer with ours and close.
            if case .active = state {
                state = .closing
                connection.shutdown()
                flushCiphertext(context: context)
            }
            context.close(promise: closePromise)
            closePromise = nil
        case .failed(let reason):
            fail(context: context, TLSError.connectionFailed(reason))
        }
    }

    // MARK: Outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        switch state {
        case .active:
            encrypt(buffer, promise: promise, context: context)
        case .idle, .handshaking, .checkingPeer:
            pendingWrites.append((buffer, promise))
        case .closing, .closed:
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    public func flush(context: ChannelHandlerContext) {
        switch state {
        case .active:
            flushCiphertext(context: context)
        case .idle, .handshaking, .checkingPeer:
            pendingFlush = true
        case .closing, .closed:
            break
        }
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all, case .active = state, let connection else {
            if mode == .all { state = .closed }
            context.close(mode: mode, promise: promise)
            return
        }
        state = .closing
        closePromise = promise
        connection.shutdown()
        flushCiphertext(context: context)
        scheduledClose = context.eventLoop.assumeIsolated().scheduleTask(in: closeTimeout) {
            context.close(promise: self.closePromise)
            self.closePromise = nil
        }
    }

    private func encrypt(_ buffer: ByteBuffer, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        guard let connection else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        switch connection.write(buffer) {
        case .done, .wantRead:
            if let promise { unflushedPromises.append(promise) }
        case .closed:
            promise?.fail(ChannelError.outputClosed)
        case .failed(let reason):
            promise?.fail(TLSError.connectionFailed(reason))
        }
    }

    /// Writes what OpenSSL produced to the channel; plaintext promises complete with it.
    private func flushCiphertext(context: ChannelHandlerContext) {
        guard let connection else { return }
        let promises = unflushedPromises
        unflushedPromises = []
        guard let ciphertext = connection.drainOutput(allocator: context.channel.allocator) else {
            promises.forEach { $0.succeed() }
            return
        }
        ciphertextBytesWritten += ciphertext.readableBytes
        if promises.isEmpty {
            context.writeAndFlush(wrapOutboundOut(ciphertext), promise: nil)
        } else {
            let written = context.eventLoop.makePromise(of: Void.self)
            for promise in promises {
                written.futureResult.cascade(to: promise)
            }
            context.writeAndFlush(wrapOutboundOut(ciphertext), promise: written)
        }
    }

    // MARK: Failure

    private func fail(context: ChannelHandlerContext, _ error: any Error) {
        guard !isClosed else { return }
        state = .closed
        flushCiphertext(context: context)  // the alert OpenSSL queued, if any
        failPendingWrites(error)
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }

    private var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    private func failPendingWrites(_ error: any Error) {
        let writes = pendingWrites
        pendingWrites = []
        writes.forEach { $0.1?.fail(error) }
        let promises = unflushedPromises
        unflushedPromises = []
        promises.forEach { $0.fail(error) }
    }
}

@available(*, unavailable)
extension TLSHandler: Sendable {}
