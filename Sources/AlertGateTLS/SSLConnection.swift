import AlertGatePKI
internal import COpenSSL
import NIOCore

/// One OpenSSL `SSL` over two memory BIOs: ciphertext goes in through `feed`, comes out
/// through `drainOutput`; no socket is involved. Owned by one `TLSHandler` and used on its
/// event loop only.
final class SSLConnection {
    enum Step {
        case done
        /// OpenSSL needs more bytes from the peer.
        case wantRead
        /// The peer sent close_notify.
        case closed
        case failed(String)
    }

    private let ssl: OpaquePointer
    private let input: OpaquePointer
    private let output: OpaquePointer
    /// Keeps the SSL_CTX alive as long as the SSL that points into it.
    private let context: TLSContext

    init(context: TLSContext, serverName: String?) throws(TLSError) {
        OpenSSLErrorQueue.clear()
        // Each pointer is owned from the moment it exists: a BIO by an `OwnedBIO` until the
        // SSL takes it, the SSL by this object. A failure at any step frees what came before.
        let input = try OwnedBIO()
        let output = try OwnedBIO()
        guard let ssl = SSL_new(context.pointer) else {
            throw .configuration(OpenSSLErrorQueue.drain())
        }
        self.ssl = ssl
        self.input = input.pointer
        self.output = output.pointer
        self.context = context
        // SSL_set_bio hands both BIOs to the SSL; SSL_free frees them.
        SSL_set_bio(ssl, input.handOver(), output.handOver())
        // An empty input BIO means "wait for more" rather than end of file.
        _ = CShims_BIO_set_mem_eof_return(self.input, -1)
        switch context.configuration.role {
        case .client:
            SSL_set_connect_state(ssl)
            // SNI carries host names only (RFC 6066 §3).
            if let serverName, !IPAddressLiteral.isIP(serverName) {
                _ = CShims_SSL_set_tlsext_host_name(ssl, serverName)
            }
        case .server:
            SSL_set_accept_state(ssl)
        }
    }

    deinit {
        SSL_free(ssl)
    }

    /// Ciphertext fed and not yet consumed by OpenSSL.
    var bufferedInput: Int {
        Int(BIO_ctrl_pending(input))
    }

    /// Hands ciphertext from the network to OpenSSL.
    func feed(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { bytes in
            _ = BIO_write(input, bytes.baseAddress, Int32(bytes.count))
        }
    }

    func handshake() -> Step {
        OpenSSLErrorQueue.clear()
        let result = SSL_do_handshake(ssl)
        return result == 1 ? .done : step(after: result)
    }

    /// Decrypts everything available into `buffer`. `.wantRead` means "no more for now";
    /// on `.closed` or `.failed`, what was decrypted before is in `buffer` all the same.
    func read(into buffer: inout ByteBuffer) -> Step {
        OpenSSLErrorQueue.clear()
        while true {
            var result: Int32 = 0
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 16 * 1024) { bytes in
                result = SSL_read(ssl, bytes.baseAddress, Int32(bytes.count))
                return Int(max(0, result))
            }
            if result <= 0 { return step(after: result) }
        }
    }

    /// Encrypts `buffer`; memory BIOs never block, so it is all taken at once.
    func write(_ buffer: ByteBuffer) -> Step {
        OpenSSLErrorQueue.clear()
        guard buffer.readableBytes > 0 else { return .done }
        let result = buffer.withUnsafeReadableBytes { bytes in
            SSL_write(ssl, bytes.baseAddress, Int32(bytes.count))
        }
        return result > 0 ? .done : step(after: result)
    }

    /// Queues close_notify.
    func shutdown() {
        OpenSSLErrorQueue.clear()
        _ = SSL_shutdown(ssl)
        OpenSSLErrorQueue.clear()
    }

    /// The ciphertext OpenSSL has produced since the last call, or nil.
    func drainOutput(allocator: ByteBufferAllocator) -> ByteBuffer? {
        let pending = BIO_ctrl_pending(output)
        guard pending > 0 else { return nil }
        var buffer = allocator.buffer(capacity: pending)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { bytes in
            Int(max(0, BIO_read(output, bytes.baseAddress, Int32(pending))))
        }
        return buffer
    }

    // MARK: Results of the handshake

    /// The certificates the peer presented, its own first.
    var peerChain: [X509Certificate] {
        var chain: [X509Certificate] = []
        if let leaf = SSL_get0_peer_certificate(ssl) {
            chain.append(X509Certificate(borrowing: leaf))
        }
        if let stack = SSL_get_peer_cert_chain(ssl) {
            for index in 0..<CShims_sk_X509_num(stack) {
                guard let certificate = CShims_sk_X509_value(stack, index) else { continue }
                // A client's view of the chain includes the leaf; a server's does not.
                if index == 0, let leaf = chain.first, X509_cmp(leaf.pointer, certificate) == 0 { continue }
                chain.append(X509Certificate(borrowing: certificate))
            }
        }
        return chain
    }

    var negotiatedProtocol: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    var protocolVersion: String {
        String(cString: SSL_get_version(ssl))
    }

    var cipher: String {
        SSL_get_current_cipher(ssl).map { String(cString: SSL_CIPHER_get_name($0)) } ?? ""
    }

    // MARK: Errors

    private func step(after result: Int32) -> Step {
        step(afterError: SSL_get_error(ssl, result))
    }

    private func step(afterError error: Int32) -> Step {
        switch error {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .wantRead
        case SSL_ERROR_ZERO_RETURN:
            return .closed
        case SSL_ERROR_NONE:
            return .done
        default:
            let reason = OpenSSLErrorQueue.drain()
            return .failed(reason.isEmpty ? "SSL error \(error)" : reason)
        }
    }
}

/// A memory BIO owned until it is handed to an `SSL` (which then frees it): dropped
/// before that, it is freed.
private struct OwnedBIO: ~Copyable {
    let pointer: OpaquePointer

    init() throws(TLSError) {
        guard let pointer = BIO_new(BIO_s_mem()) else {
            throw .configuration("cannot allocate a memory BIO: \(OpenSSLErrorQueue.drain())")
        }
        self.pointer = pointer
    }

    /// Gives up ownership: the caller's `SSL_set_bio` takes it.
    consuming func handOver() -> OpaquePointer {
        let pointer = self.pointer
        discard self
        return pointer
    }

    deinit {
        BIO_free(pointer)
    }
}
