import CNGHTTP2
import COpenSSL
import Foundation

/// A small HTTP/2 partner made on nghttp2's server API, for the answers nghttpd and the
/// bench's h2sink cannot give: a Retry-After, an explanatory 400, a hang-up in the middle
/// of a request, answers held back until many requests are open at once.
///
/// TLS with ALPN h2 on the system OpenSSL, blocking sockets on 127.0.0.1, a thread per
/// connection. Requests are answered in arrival order by the script, then by `otherwise`.
final class ScriptedHTTP2Server: Sendable {
    enum Action: Sendable {
        case answer(status: Int, headers: [Header] = [], body: String = "")
        /// Closes the TCP connection (no close_notify, no GOAWAY) instead of answering.
        case hangUp
        /// Answers, then sends GOAWAY with this request's stream as the last one processed:
        /// requests on later streams are left unanswered (the client must send them again).
        case answerAndGoAway(status: Int)
    }

    struct Header: Sendable, Hashable {
        var name: String
        var value: String

        init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    struct Request: Sendable {
        var method: String
        var path: String
        var authority: String
        var headers: [String: String]
        var body: String
        var connection: Int
    }

    private let core: Core

    var port: Int { core.port }

    /// - Parameters:
    ///   - maxConcurrentStreams: the SETTINGS_MAX_CONCURRENT_STREAMS it announces.
    ///   - holdUntil: on each connection, the first answers wait until this many requests
    ///     have arrived whole, then all go out.
    ///   - responder: when set, picks the answer from the request (the script is not used).
    init(
        certificateChain: URL, key: URL, script: [Action] = [], otherwise: Action = .answer(status: 200), maxConcurrentStreams: UInt32 = 100,
        holdUntil: Int = 0, responder: (@Sendable (Request) -> Action)? = nil
    ) throws {
        core = try Core(
            certificateChain: certificateChain, key: key, script: script, otherwise: otherwise, maxConcurrentStreams: maxConcurrentStreams,
            holdUntil: holdUntil, responder: responder)
        let core = self.core
        Thread.detachNewThread { core.acceptLoop() }
    }

    deinit {
        core.stop()
    }

    var requests: [Request] { core.locked { $0.requests } }
    var connections: Int { core.locked { $0.connections } }
    /// The most streams open at once (HEADERS in, stream not closed) on one connection.
    var peakOpenStreams: Int { core.locked { $0.peakOpenStreams } }
    /// RST_STREAM frames the clients sent.
    var resetsReceived: Int { core.locked { $0.resetsReceived } }

    /// The shared state. `@unchecked Sendable`: the mutable part is behind `lock`; the
    /// OpenSSL context is only read after `init` (SSL_new is thread-safe on a shared ctx);
    /// sockets are closed under the lock.
    final class Core: @unchecked Sendable {
        struct State {
            var script: [Action]
            var requests: [Request] = []
            var connections = 0
            var peakOpenStreams = 0
            var resetsReceived = 0
            var sockets: Set<Int32> = []
            var stopped = false
        }

        let port: Int
        let otherwise: Action
        let maxConcurrentStreams: UInt32
        let holdUntil: Int
        let responder: (@Sendable (Request) -> Action)?
        private let context: OpaquePointer
        private let listener: Int32
        private let lock = NSLock()
        private var state: State

        init(certificateChain: URL, key: URL, script: [Action], otherwise: Action, maxConcurrentStreams: UInt32, holdUntil: Int, responder: (@Sendable (Request) -> Action)?) throws {
            self.responder = responder
            self.otherwise = otherwise
            self.maxConcurrentStreams = maxConcurrentStreams
            self.holdUntil = holdUntil
            state = State(script: script)
            guard let context = SSL_CTX_new(TLS_server_method()) else { throw Failure("SSL_CTX_new failed") }
            guard SSL_CTX_use_certificate_chain_file(context, certificateChain.path) == 1,
                SSL_CTX_use_PrivateKey_file(context, key.path, SSL_FILETYPE_PEM) == 1
            else {
                SSL_CTX_free(context)
                throw Failure("the server certificate or key cannot be loaded")
            }
            // ALPN: h2 or nothing.
            SSL_CTX_set_alpn_select_cb(context, { _, out, outLength, offered, offeredLength, _ in
                guard let out, let outLength, let offered else { return SSL_TLSEXT_ERR_ALERT_FATAL }
                var index = 0
                while index < Int(offeredLength) {
                    let length = Int(offered[index])
                    if length == 2, index + 2 < Int(offeredLength), offered[index + 1] == UInt8(ascii: "h"), offered[index + 2] == UInt8(ascii: "2") {
                        out.pointee = offered + index + 1
                        outLength.pointee = 2
                        return SSL_TLSEXT_ERR_OK
                    }
                    index += 1 + length
                }
                return SSL_TLSEXT_ERR_ALERT_FATAL
            }, nil)
            self.context = context

            let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var one: Int32 = 1
            setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0, listen(socket, 16) == 0 else {
                close(socket)
                SSL_CTX_free(context)
                throw Failure("cannot listen on 127.0.0.1")
            }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
            }
            port = Int(UInt16(bigEndian: address.sin_port))
            listener = socket
        }

        deinit {
            SSL_CTX_free(context)
        }

        func locked<T>(_ body: (inout State) -> T) -> T {
            lock.lock()
            defer { lock.unlock() }
            return body(&state)
        }

        func stop() {
            locked { state in
                guard !state.stopped else { return }
                state.stopped = true
                // Closed by the accept loop once accept() returns.
                shutdown(listener, Int32(SHUT_RDWR))
                for socket in state.sockets {
                    shutdown(socket, Int32(SHUT_RDWR))
                }
            }
        }

        func acceptLoop() {
            while true {
                let socket = accept(listener, nil, nil)
                guard socket >= 0 else {
                    if errno == EINTR, !locked({ $0.stopped }) { continue }
                    close(listener)
                    return
                }
                let number: Int? = locked { state in
                    guard !state.stopped else { return nil }
                    state.connections += 1
                    state.sockets.insert(socket)
                    return state.connections
                }
                guard let number else {
                    close(socket)
                    close(listener)
                    return
                }
                Thread.detachNewThread {
                    ServerConnection(core: self, socket: socket, number: number).run()
                    self.locked { _ = $0.sockets.remove(socket) }
                    close(socket)
                }
            }
        }

        func nextAction(for request: Request) -> Action {
            if let responder { return responder(request) }
            return locked { state in state.script.isEmpty ? otherwise : state.script.removeFirst() }
        }

        func newSSL() -> OpaquePointer? {
            SSL_new(context)
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String

        init(_ description: String) {
            self.description = description
        }
    }
}

/// One accepted connection, driven on its own thread: SSL_read → nghttp2_session_mem_recv,
/// nghttp2_session_mem_send → SSL_write.
private final class ServerConnection {
    struct Stream {
        var method = ""
        var path = ""
        var authority = ""
        var headers: [String: String] = [:]
        var body: [UInt8] = []
        var answer: [UInt8] = []
        var answerOffset = 0
    }

    let core: ScriptedHTTP2Server.Core
    let socket: Int32
    let number: Int
    var session: OpaquePointer?
    var streams: [Int32: Stream] = [:]
    var openStreams = 0
    var held: [(Int32, ScriptedHTTP2Server.Action)] = []
    var lastStreamBeforeGoAway: Int32?
    var released = false
    var hangUp = false

    init(core: ScriptedHTTP2Server.Core, socket: Int32, number: Int) {
        self.core = core
        self.socket = socket
        self.number = number
        released = core.holdUntil <= 1
    }

    func run() {
        guard let ssl = core.newSSL() else { return }
        defer { SSL_free(ssl) }
        SSL_set_fd(ssl, socket)
        guard SSL_accept(ssl) == 1 else { return }
        guard makeSession() else { return }
        defer { nghttp2_session_del(session) }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        guard send(ssl) else { return }
        while true {
            let count = SSL_read(ssl, &buffer, Int32(buffer.count))
            guard count > 0 else { return }
            let used = nghttp2_session_mem_recv(session, buffer, Int(count))
            guard used >= 0, !hangUp, send(ssl) else { return }
            if nghttp2_session_want_read(session) == 0, nghttp2_session_want_write(session) == 0 {
                SSL_shutdown(ssl)
                return
            }
        }
    }

    private func send(_ ssl: OpaquePointer) -> Bool {
        while true {
            var data: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(session, &data)
            guard count >= 0 else { return false }
            guard count > 0, let data else { return true }
            guard SSL_write(ssl, data, Int32(count)) == Int32(count) else { return false }
        }
    }

    private static func connection(_ userData: UnsafeMutableRawPointer?) -> ServerConnection {
        Unmanaged<ServerConnection>.fromOpaque(userData!).takeUnretainedValue()
    }

    private func makeSession() -> Bool {
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, userData in
            guard let frame, frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue) else { return 0 }
            let connection = ServerConnection.connection(userData)
            connection.streams[frame.pointee.hd.stream_id] = Stream()
            connection.openStreams += 1
            let open = connection.openStreams
            connection.core.locked { $0.peakOpenStreams = max($0.peakOpenStreams, open) }
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, userData in
            guard let frame, let name, let value else { return 0 }
            let connection = ServerConnection.connection(userData)
            let id = frame.pointee.hd.stream_id
            guard connection.streams[id] != nil else { return 0 }
            let key = String(decoding: UnsafeBufferPointer(start: name, count: nameLength), as: UTF8.self)
            let text = String(decoding: UnsafeBufferPointer(start: value, count: valueLength), as: UTF8.self)
            switch key {
            case ":method": connection.streams[id]!.method = text
            case ":path": connection.streams[id]!.path = text
            case ":authority": connection.streams[id]!.authority = text
            default: connection.streams[id]!.headers[key] = text
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, id, data, length, userData in
            guard let data else { return 0 }
            ServerConnection.connection(userData).streams[id]?.body.append(contentsOf: UnsafeBufferPointer(start: data, count: length))
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            guard let frame else { return 0 }
            let connection = ServerConnection.connection(userData)
            let type = frame.pointee.hd.type
            if type == UInt8(NGHTTP2_RST_STREAM.rawValue) {
                connection.core.locked { $0.resetsReceived += 1 }
            }
            if type == UInt8(NGHTTP2_HEADERS.rawValue) || type == UInt8(NGHTTP2_DATA.rawValue),
                frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
            {
                connection.requestComplete(frame.pointee.hd.stream_id)
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, id, _, userData in
            let connection = ServerConnection.connection(userData)
            if connection.streams.removeValue(forKey: id) != nil {
                connection.openStreams -= 1
            }
            return 0
        }
        let created = nghttp2_session_server_new(&session, callbacks, Unmanaged.passUnretained(self).toOpaque())
        guard created == 0 else { return false }
        var settings = [nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: core.maxConcurrentStreams)]
        return nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, 1) == 0
    }

    private func requestComplete(_ id: Int32) {
        guard let stream = streams[id] else { return }
        let request = ScriptedHTTP2Server.Request(
            method: stream.method, path: stream.path, authority: stream.authority, headers: stream.headers,
            body: String(decoding: stream.body, as: UTF8.self), connection: number)
        core.locked { $0.requests.append(request) }
        let action = core.nextAction(for: request)
        if case .hangUp = action {
            hangUp = true
            return
        }
        if released {
            answer(id, action)
            return
        }
        held.append((id, action))
        if held.count >= core.holdUntil {
            released = true
            for (heldID, heldAction) in held.sorted(by: { $0.0 < $1.0 }) {
                answer(heldID, heldAction)
            }
            held = []
        }
    }

    private func answer(_ id: Int32, _ action: ScriptedHTTP2Server.Action) {
        guard streams[id] != nil, id <= lastStreamBeforeGoAway ?? .max else { return }
        let status: Int
        var headers: [ScriptedHTTP2Server.Header] = []
        var body = ""
        switch action {
        case .answer(let code, let fields, let text):
            (status, headers, body) = (code, fields, text)
        case .answerAndGoAway(let code):
            status = code
            lastStreamBeforeGoAway = id
        case .hangUp:
            return
        }
        streams[id]!.answer = Array(body.utf8)
        let fields = [(":status", String(status)), ("content-length", String(body.utf8.count))] + headers.map { ($0.name.lowercased(), $0.value) }
        var bytes: [UInt8] = []
        var spans: [(Range<Int>, Range<Int>)] = []
        for (name, value) in fields {
            let nameStart = bytes.count
            bytes += Array(name.utf8)
            let valueStart = bytes.count
            bytes += Array(value.utf8)
            spans.append((nameStart..<valueStart, valueStart..<bytes.count))
        }
        var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: { _, id, destination, length, flags, _, userData in
            let connection = ServerConnection.connection(userData)
            guard let destination, let flags, let stream = connection.streams[id] else { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
            let count = min(length, stream.answer.count - stream.answerOffset)
            stream.answer.withUnsafeBufferPointer { source in
                destination.update(from: source.baseAddress! + stream.answerOffset, count: count)
            }
            connection.streams[id]!.answerOffset += count
            if stream.answerOffset + count == stream.answer.count {
                flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            }
            return count
        })
        let hasBody = !body.isEmpty
        _ = bytes.withUnsafeMutableBufferPointer { storage in
            let base = storage.baseAddress!
            var nva = spans.map { name, value in
                nghttp2_nv(name: base + name.lowerBound, value: base + value.lowerBound, namelen: name.count, valuelen: value.count, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
            }
            return hasBody
                ? nghttp2_submit_response(session, id, &nva, nva.count, &provider)
                : nghttp2_submit_response(session, id, &nva, nva.count, nil)
        }
        if lastStreamBeforeGoAway == id {
            _ = nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), id, NGHTTP2_NO_ERROR.rawValue, nil, 0)
        }
    }
}
