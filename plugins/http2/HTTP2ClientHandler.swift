import AlertGateCore
import CNGHTTP2
import NIOConcurrencyHelpers
import NIOCore

/// Why the HTTP/2 side of a connection could not deliver a request.
struct HTTP2ClientError: Error, Sendable, CustomStringConvertible {
    var message: String

    init(_ message: String) {
        self.message = message
    }

    var description: String { message }
}

/// A POST for `HTTP2ClientHandler`: written to the channel by the sender, answered
/// through `response` (a failure means it may be sent again).
struct HTTP2Request: Sendable {
    var authority: String
    var path: String
    /// The fields after the pseudo-headers, lowercase names (see `HTTP2RequestHeaders`).
    var fields: [PartnerSettings.HeaderField]
    var body: ByteBuffer
    var response: EventLoopPromise<HTTP2Response>
}

/// What the sender, on another thread, may know of a connection's HTTP/2 side.
final class HTTP2ConnectionState: Sendable {
    struct Snapshot: Sendable, Hashable {
        var closed = false
        /// The partner sent GOAWAY, or we did: no new requests on this connection.
        var goingAway = false
        var failure: String?
        /// Requests whose HEADERS went out and whose streams are not closed yet.
        var openStreams = 0
        var peakOpenStreams = 0
        var streamsOpened = 0
    }

    private let box = NIOLockedValueBox(Snapshot())

    var snapshot: Snapshot {
        box.withLockedValue { $0 }
    }

    /// New requests may still go out on the connection.
    var isUsable: Bool {
        box.withLockedValue { !$0.closed && !$0.goingAway && $0.failure == nil }
    }

    func update(_ body: (inout Snapshot) -> Void) {
        box.withLockedValue(body)
    }
}

/// An HTTP/2 client session (nghttp2) above the TLS handler: requests in as
/// `HTTP2Request`s, each answered through its promise; many at once, as streams of this
/// one connection.
///
/// Inbound bytes go to `nghttp2_session_mem_recv`; after every call into nghttp2 its output
/// is drained with `nghttp2_session_mem_send` into one buffer, written and flushed. Nothing
/// is written before the first request or the first byte from the partner, so a partner
/// that turns out not to speak HTTP/2 (the connector refuses it) never sees a preface.
///
/// Requests beyond the partner's SETTINGS_MAX_CONCURRENT_STREAMS wait in nghttp2's queue
/// until streams close. Every stream ends the ordinary way, with END_STREAM both ways:
/// the handler never resets one (a partner with nghttp2's rapid-reset limit drops clients
/// that do). Flow control is nghttp2's, with larger receive windows than the default.
///
/// The partner must keep answering: when it sends nothing for `responseTimeout` while
/// requests wait, the connection is given up and they fail. `close()` with requests in
/// flight sends GOAWAY, lets them finish (up to `closeTimeout`), then closes.
final class HTTP2ClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Never
    typealias OutboundIn = HTTP2Request
    typealias OutboundOut = ByteBuffer

    private struct Stream {
        let response: EventLoopPromise<HTTP2Response>
        /// What is left to send of the request body.
        var requestBody: ByteBuffer
        var status: Int?
        var headers: [PartnerSettings.HeaderField] = []
        var responseBody = ByteBuffer()
        var truncated = false
        /// The partner's END_STREAM arrived: the answer is whole.
        var complete = false
        /// Our HEADERS went out.
        var opened = false
    }

    private let state: HTTP2ConnectionState
    private let responseBodyLimit: Int
    private let responseTimeout: TimeAmount
    private let closeTimeout: TimeAmount

    private var session: NGHTTP2Session?
    private var context: ChannelHandlerContext?
    private var streams: [Int32: Stream] = [:]
    /// Promises to complete once the current call into nghttp2 has returned.
    private var finished: [(EventLoopPromise<HTTP2Response>, Result<HTTP2Response, any Error>)] = []
    private var started = false
    private var inSessionCall = false
    private var failure: HTTP2ClientError?
    private var closeWanted = false
    private var closeIssued = false
    private var gracefulClose: (wanted: Bool, promise: EventLoopPromise<Void>?) = (false, nil)
    private var lastActivity = NIODeadline.now()
    private var watchdog: Scheduled<Void>?
    private var forcedClose: Scheduled<Void>?

    init(state: HTTP2ConnectionState, responseBodyLimit: Int = 64 * 1024, responseTimeout: TimeAmount = .seconds(30), closeTimeout: TimeAmount = .seconds(10)) {
        self.state = state
        self.responseBodyLimit = responseBodyLimit
        self.responseTimeout = responseTimeout
        self.closeTimeout = closeTimeout
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        do {
            session = try NGHTTP2Session(handler: self)
        } catch {
            failure = error
            state.update { $0.failure = error.message }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        watchdog?.cancel()
        forcedClose?.cancel()
        failStreams(failure ?? HTTP2ClientError("the connection was closed"))
        deliver()
        // Freed here, while the handler that is its user_data is still alive.
        session = nil
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        state.update { $0.closed = true }
        fail(failure ?? HTTP2ClientError("the partner closed the connection"))
        closeIssued = true
        deliver()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(HTTP2ClientError("the connection failed: \(error)"))
        afterSessionCall(context: context)
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        lastActivity = .now()
        guard let session, failure == nil, bytes.readableBytes > 0 else { return }
        started = true
        inSessionCall = true
        let result = bytes.withUnsafeReadableBytes { raw in
            nghttp2_session_mem_recv(session.pointer, raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count)
        }
        inSessionCall = false
        if result < 0 {
            // nghttp2 may have queued a GOAWAY saying why: it goes out before the close.
            flushOutput(context: context)
            fail(HTTP2ClientError("the partner broke the HTTP/2 protocol: \(NGHTTP2Session.describe(Int32(result)))"))
        }
        afterSessionCall(context: context)
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let refusal = failure ?? (gracefulClose.wanted || closeWanted ? HTTP2ClientError("the connection is closing") : nil) {
            promise?.fail(refusal)
            request.response.fail(refusal)
            return
        }
        guard let session else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            request.response.fail(HTTP2ClientError("the connection was closed"))
            return
        }
        started = true
        if streams.isEmpty {
            lastActivity = .now()
        }
        submit(request, session: session)
        promise?.succeed()
        armWatchdog()
    }

    func flush(context: ChannelHandlerContext) {
        afterSessionCall(context: context)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all, !closeIssued, failure == nil, let session else {
            context.close(mode: mode, promise: promise)
            return
        }
        state.update { $0.goingAway = true }
        if started {
            // GOAWAY(NO_ERROR): the streams already open still finish.
            _ = nghttp2_submit_goaway(
                session.pointer, UInt8(NGHTTP2_FLAG_NONE.rawValue), nghttp2_session_get_last_proc_stream_id(session.pointer),
                NGHTTP2_NO_ERROR.rawValue, nil, 0)
        }
        if streams.isEmpty {
            flushOutput(context: context)
            closeIssued = true
            context.close(mode: .all, promise: promise)
            return
        }
        if gracefulClose.wanted {
            // A second close while waiting: both complete with the one close.
            if let promise {
                if let pending = gracefulClose.promise {
                    pending.futureResult.cascade(to: promise)
                } else {
                    gracefulClose.promise = promise
                }
            }
            return
        }
        gracefulClose = (true, promise)
        forcedClose = context.eventLoop.assumeIsolated().scheduleTask(in: closeTimeout) {
            self.fail(HTTP2ClientError("the connection was closed while \(self.streams.count) requests waited for an answer"))
            self.afterSessionCall(context: context)
        }
        afterSessionCall(context: context)
    }

    // MARK: Requests

    private func submit(_ request: HTTP2Request, session: NGHTTP2Session) {
        let pseudo: [(String, String)] = [(":method", "POST"), (":scheme", "https"), (":authority", request.authority), (":path", request.path)]
        let fields = pseudo + request.fields.map { ($0.name, $0.value) }
        // Every name and value in one array; the nv entries point into it. nghttp2 copies
        // them during the call.
        var bytes: [UInt8] = []
        var spans: [(name: Range<Int>, value: Range<Int>, flags: UInt8)] = []
        for (name, value) in fields {
            let nameStart = bytes.count
            bytes.append(contentsOf: name.utf8)
            let valueStart = bytes.count
            bytes.append(contentsOf: value.utf8)
            // Credentials never enter the HPACK tables (RFC 7541 §7.1.3).
            let flags = Self.isSensitive(name) ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE
            spans.append((nameStart..<valueStart, valueStart..<bytes.count, UInt8(flags.rawValue)))
        }
        var provider = NGHTTP2Session.bodyProvider()
        inSessionCall = true
        let streamID = bytes.withUnsafeMutableBufferPointer { storage -> Int32 in
            let base = storage.baseAddress!
            var nva = spans.map { span in
                nghttp2_nv(
                    name: base + span.name.lowerBound, value: base + span.value.lowerBound,
                    namelen: span.name.count, valuelen: span.value.count, flags: span.flags)
            }
            return nghttp2_submit_request(session.pointer, nil, &nva, nva.count, &provider, nil)
        }
        inSessionCall = false
        guard streamID > 0 else {
            finished.append((request.response, .failure(HTTP2ClientError("the request could not be submitted: \(NGHTTP2Session.describe(streamID))"))))
            return
        }
        streams[streamID] = Stream(response: request.response, requestBody: request.body)
    }

    /// Fields that carry credentials.
    static func isSensitive(_ name: String) -> Bool {
        name == "authorization" || name == "proxy-authorization" || name == "cookie"
            || ["token", "secret", "password", "api-key", "apikey"].contains { name.contains($0) }
    }

    // MARK: nghttp2 callbacks (inside mem_recv/mem_send, on the event loop)

    func readBody(stream id: Int32, into destination: UnsafeMutableRawBufferPointer, flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard streams[id] != nil else {
            return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
        }
        let copied = streams[id]!.requestBody.readWithUnsafeReadableBytes { source in
            let count = min(source.count, destination.count)
            destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[..<count]))
            return count
        }
        if streams[id]!.requestBody.readableBytes == 0 {
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            streams[id]!.requestBody = ByteBuffer()  // sent: let its memory go
        }
        return copied
    }

    func receivedHeader(stream id: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        guard streams[id] != nil else { return }
        let name = String(decoding: name, as: UTF8.self)
        let value = String(decoding: value, as: UTF8.self)
        if name == ":status" {
            // A 1xx answer comes first; the final status replaces it.
            streams[id]!.status = Int(value)
        } else if !name.hasPrefix(":"), streams[id]!.headers.count < 128 {
            streams[id]!.headers.append(.init(name: name, value: value))
        }
    }

    func receivedData(stream id: Int32, bytes: UnsafeRawBufferPointer) {
        guard let kept = streams[id]?.responseBody.readableBytes else { return }
        let room = max(0, responseBodyLimit - kept)
        if bytes.count <= room {
            streams[id]!.responseBody.writeBytes(bytes)
        } else {
            streams[id]!.responseBody.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[..<room]))
            streams[id]!.truncated = true
        }
    }

    func receivedFrame(_ frame: nghttp2_frame) {
        let type = frame.hd.type
        if type == UInt8(NGHTTP2_DATA.rawValue) || type == UInt8(NGHTTP2_HEADERS.rawValue),
            frame.hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        {
            streams[frame.hd.stream_id]?.complete = true
        } else if type == UInt8(NGHTTP2_GOAWAY.rawValue) {
            // Streams above its last stream id close as refused, and are sent again.
            state.update { $0.goingAway = true }
        }
    }

    func sentFrame(_ frame: nghttp2_frame) {
        let id = frame.hd.stream_id
        guard frame.hd.type == UInt8(NGHTTP2_HEADERS.rawValue), streams[id]?.opened == false else { return }
        streams[id]!.opened = true
        state.update {
            $0.openStreams += 1
            $0.streamsOpened += 1
            $0.peakOpenStreams = max($0.peakOpenStreams, $0.openStreams)
        }
    }

    func frameNotSent(_ frame: nghttp2_frame, error: Int32) {
        let id = frame.hd.stream_id
        guard frame.hd.type == UInt8(NGHTTP2_HEADERS.rawValue), let stream = streams[id], !stream.opened else { return }
        streams[id] = nil
        let why = error == NGHTTP2_ERR_START_STREAM_NOT_ALLOWED.rawValue
            ? "the partner is closing the connection (GOAWAY)" : NGHTTP2Session.describe(error)
        finished.append((stream.response, .failure(HTTP2ClientError("the request could not be sent: \(why)"))))
    }

    func streamClosed(stream id: Int32, errorCode: UInt32) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        if stream.opened {
            state.update { $0.openStreams -= 1 }
        }
        if stream.complete, let status = stream.status {
            let response = HTTP2Response(status: status, headers: stream.headers, body: stream.responseBody, bodyTruncated: stream.truncated)
            finished.append((stream.response, .success(response)))
            return
        }
        let why: String
        if errorCode == NGHTTP2_REFUSED_STREAM.rawValue {
            why = "the partner refused the request unprocessed (REFUSED_STREAM)"
        } else if errorCode != NGHTTP2_NO_ERROR.rawValue {
            why = "the partner reset the request: \(NGHTTP2Session.describe(errorCode: errorCode))"
        } else {
            why = "the request ended before the partner's answer was complete"
        }
        finished.append((stream.response, .failure(HTTP2ClientError(why))))
    }

    // MARK: Driving nghttp2

    /// After every call into nghttp2: its output out, the session's end noticed, answered
    /// requests completed, a wanted close done.
    private func afterSessionCall(context: ChannelHandlerContext) {
        guard !inSessionCall else { return }
        flushOutput(context: context)
        if let session, failure == nil, started,
            nghttp2_session_want_read(session.pointer) == 0, nghttp2_session_want_write(session.pointer) == 0
        {
            // GOAWAY both ways and no stream left: the session is over.
            fail(HTTP2ClientError("the HTTP/2 session ended (GOAWAY)"))
        }
        deliver()
        guard !closeIssued else { return }
        if closeWanted || (gracefulClose.wanted && streams.isEmpty) {
            closeIssued = true
            forcedClose?.cancel()
            context.close(mode: .all, promise: gracefulClose.promise)
        } else {
            armWatchdog()
        }
    }

    /// Writes what nghttp2 has to send. Nothing once the connection failed: its streams
    /// are gone, and nghttp2 would reset those whose bodies were still going out.
    private func flushOutput(context: ChannelHandlerContext) {
        guard started, !inSessionCall, failure == nil, let session else { return }
        inSessionCall = true
        var output: ByteBuffer?
        var error: Int?
        while true {
            var data: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(session.pointer, &data)
            if count < 0 {
                error = count
                break
            }
            guard count > 0, let data else { break }
            // Valid only until the next call: copied at once.
            if output == nil {
                output = context.channel.allocator.buffer(capacity: max(count, 16 * 1024))
            }
            output!.writeBytes(UnsafeRawBufferPointer(start: data, count: count))
        }
        inSessionCall = false
        if let output {
            context.writeAndFlush(wrapOutboundOut(output), promise: nil)
        }
        if let error {
            fail(HTTP2ClientError("nghttp2 failed: \(NGHTTP2Session.describe(Int32(error)))"))
        }
    }

    /// The connection is done: every request in flight fails with `error`, and the
    /// channel closes after the current call.
    private func fail(_ error: HTTP2ClientError) {
        if failure == nil {
            failure = error
        }
        failStreams(failure!)
        state.update { $0.failure = $0.failure ?? error.message }
        closeWanted = true
    }

    private func failStreams(_ error: HTTP2ClientError) {
        for stream in streams.values {
            finished.append((stream.response, .failure(error)))
        }
        streams.removeAll()
        state.update { $0.openStreams = 0 }
    }

    private func deliver() {
        while !finished.isEmpty {
            let done = finished
            finished = []
            for (promise, result) in done {
                promise.completeWith(result)
            }
        }
    }

    /// While requests wait, checks that the partner keeps sending something.
    private func armWatchdog() {
        guard watchdog == nil, !streams.isEmpty, !closeIssued, let context else { return }
        watchdog = context.eventLoop.assumeIsolated().scheduleTask(deadline: lastActivity + responseTimeout) {
            self.watchdog = nil
            guard !self.streams.isEmpty else { return }
            if NIODeadline.now() >= self.lastActivity + self.responseTimeout {
                let seconds = self.responseTimeout.nanoseconds / 1_000_000_000
                self.fail(HTTP2ClientError("the partner sent nothing for \(seconds) s while \(self.streams.count) requests waited for an answer"))
            }
            self.afterSessionCall(context: context)
        }
    }
}

@available(*, unavailable)
extension HTTP2ClientHandler: Sendable {}
