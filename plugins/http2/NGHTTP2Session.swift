import CNGHTTP2

/// Owns an nghttp2 client session (`nghttp2_session*`) and frees it in `deinit`.
///
/// nghttp2 calls back into the `HTTP2ClientHandler` whose unretained pointer is the
/// session's `user_data`; the callbacks run synchronously inside `mem_recv`/`mem_send`,
/// which only the handler calls, on its event loop, while it holds this owner. So the
/// pointer never outlives the handler and no state is touched from another thread.
final class NGHTTP2Session {
    let pointer: OpaquePointer

    /// Our receive windows: responses are small, but a partner that echoes or explains at
    /// length should not be throttled by the 64 KiB default.
    static let streamWindow: UInt32 = 1 << 20
    static let connectionWindow: Int32 = 16 << 20

    convenience init(handler: HTTP2ClientHandler) throws(HTTP2ClientError) {
        try self.init(userData: Unmanaged.passUnretained(handler).toOpaque())
    }

    /// Creates and configures the session, then takes ownership of it as the last step: a
    /// failure before frees the session once, here, and `deinit` (which runs only for an
    /// object whose every property is set) never sees it.
    ///
    /// - Parameter initialWindow: `SETTINGS_INITIAL_WINDOW_SIZE` (tests pass an invalid one
    ///   to take the failure path).
    init(userData: UnsafeMutableRawPointer?, initialWindow: UInt32 = NGHTTP2Session.streamWindow) throws(HTTP2ClientError) {
        pointer = try Self.makeSession(userData: userData, initialWindow: initialWindow)
    }

    private static func makeSession(userData: UnsafeMutableRawPointer?, initialWindow: UInt32) throws(HTTP2ClientError) -> OpaquePointer {
        var callbacks: OpaquePointer?
        guard nghttp2_session_callbacks_new(&callbacks) == 0, let callbacks else {
            throw HTTP2ClientError("nghttp2: out of memory")
        }
        defer { nghttp2_session_callbacks_del(callbacks) }
        install(callbacks)

        var option: OpaquePointer?
        guard nghttp2_option_new(&option) == 0, let option else {
            throw HTTP2ClientError("nghttp2: out of memory")
        }
        defer { nghttp2_option_del(option) }
        // Until the partner's SETTINGS arrive, one request at a time: then requests go out up
        // to its SETTINGS_MAX_CONCURRENT_STREAMS and nghttp2 holds the rest back in its queue
        // until streams close. Without this, nghttp2 assumes 100 and a partner that allows
        // fewer would refuse the surplus.
        nghttp2_option_set_peer_max_concurrent_streams(option, 1)

        var session: OpaquePointer?
        let created = nghttp2_session_client_new2(&session, callbacks, userData, option)
        guard created == 0, let session else {
            throw HTTP2ClientError("nghttp2: cannot create a session: \(describe(created))")
        }
        var settings = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: initialWindow),
        ]
        let submitted = nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
        guard submitted == 0 else {
            // Not owned by any NGHTTP2Session yet: freed here, and only here.
            nghttp2_session_del(session)
            throw HTTP2ClientError("nghttp2: cannot submit SETTINGS: \(describe(submitted))")
        }
        _ = nghttp2_session_set_local_window_size(
            session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, min(connectionWindow, CNGHTTP2_MAX_WINDOW_SIZE()))
        return session
    }

    deinit {
        nghttp2_session_del(pointer)
    }

    static func describe(_ code: Int32) -> String {
        String(cString: nghttp2_strerror(code))
    }

    static func describe(errorCode: UInt32) -> String {
        String(cString: nghttp2_http2_strerror(errorCode))
    }

    private static func handler(_ userData: UnsafeMutableRawPointer?) -> HTTP2ClientHandler {
        Unmanaged<HTTP2ClientHandler>.fromOpaque(userData!).takeUnretainedValue()
    }

    /// The callbacks: literal closures (a C function pointer cannot capture), each handing
    /// the event to the handler found through `user_data`.
    private static func install(_ callbacks: OpaquePointer) {
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, userData in
            guard let frame, let name, let value, frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue) else { return 0 }
            NGHTTP2Session.handler(userData).receivedHeader(
                stream: frame.pointee.hd.stream_id,
                name: UnsafeRawBufferPointer(start: name, count: nameLength),
                value: UnsafeRawBufferPointer(start: value, count: valueLength))
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, userData in
            guard let data else { return 0 }
            NGHTTP2Session.handler(userData).receivedData(stream: streamID, bytes: UnsafeRawBufferPointer(start: data, count: length))
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            guard let frame else { return 0 }
            NGHTTP2Session.handler(userData).receivedFrame(frame.pointee)
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks) { _, frame, userData in
            guard let frame else { return 0 }
            NGHTTP2Session.handler(userData).sentFrame(frame.pointee)
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_not_send_callback(callbacks) { _, frame, libraryError, userData in
            guard let frame else { return 0 }
            NGHTTP2Session.handler(userData).frameNotSent(frame.pointee, error: libraryError)
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, userData in
            NGHTTP2Session.handler(userData).streamClosed(stream: streamID, errorCode: errorCode)
            return 0
        }
    }

    /// The data provider of every request body: the handler copies from the stream's body
    /// and sets EOF with the last byte.
    static func bodyProvider() -> nghttp2_data_provider {
        nghttp2_data_provider(
        source: nghttp2_data_source(ptr: nil),
        read_callback: { _, streamID, destination, length, flags, _, userData in
            guard let destination, let flags else { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
            return NGHTTP2Session.handler(userData).readBody(
                stream: streamID, into: UnsafeMutableRawBufferPointer(start: destination, count: length), flags: flags)
        })
    }
}
