import AlertGatePKI
internal import COpenSSL

/// An owned OpenSSL `SSL_CTX` made from a `TLSConfiguration`.
///
/// Sendable because it is never changed after `init`: a new certificate or policy means a
/// new context (hot rotation swaps whole contexts; open connections keep theirs).
public final class TLSContext: @unchecked Sendable {
    let pointer: OpaquePointer
    public let configuration: TLSConfiguration
    /// Client contexts: the CertificateRequests their connections received.
    public let certificateRequests = CertificateRequests()

    public init(_ configuration: TLSConfiguration) throws(TLSError) {
        OpenSSLErrorQueue.clear()
        let method = configuration.role == .client ? TLS_client_method() : TLS_server_method()
        guard let context = SSL_CTX_new(method) else {
            throw .configuration(OpenSSLErrorQueue.drain())
        }
        pointer = context
        self.configuration = configuration

        // TLS 1.2 and 1.3 only; no renegotiation, compression or session resumption: every
        // connection makes a full handshake, so every connection's peer is checked.
        _ = CShims_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION)
        _ = CShims_SSL_CTX_set_max_proto_version(context, TLS1_3_VERSION)
        SSL_CTX_set_options(context, CShims_SSL_OP_NO_RENEGOTIATION() | CShims_SSL_OP_NO_COMPRESSION() | CShims_SSL_OP_NO_TICKET())
        _ = CShims_SSL_CTX_set_session_cache_mode(context, Int(SSL_SESS_CACHE_OFF))
        _ = CShims_SSL_CTX_set_mode(context, Int(SSL_MODE_RELEASE_BUFFERS))
        // TLS 1.2 with forward-secret AEAD suites only (the system default still offers
        // static-RSA suites such as AES128-SHA); TLS 1.3's suites are all of that kind.
        guard SSL_CTX_set_cipher_list(context, Self.tls12Ciphers) == 1 else {
            throw .configuration("the TLS 1.2 cipher list is not usable: \(OpenSSLErrorQueue.drain())")
        }
        // DHE suites need parameters; let OpenSSL pick ones to match the key.
        _ = SSL_CTX_ctrl(context, SSL_CTRL_SET_DH_AUTO, 1, nil)

        // OpenSSL's own verification only collects the peer's chain here; the peer is
        // judged after the handshake by PeerValidator, per the connection's policy.
        let acceptAll: @convention(c) (Int32, OpaquePointer?) -> Int32 = { _, _ in 1 }
        switch configuration.role {
        case .client:
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, acceptAll)
            // Run by a client only when the server sent a CertificateRequest. The counter
            // lives as long as this context, which every connection made from it holds.
            SSL_CTX_set_cert_cb(context, { _, argument in
                if let argument { Unmanaged<CertificateRequests>.fromOpaque(argument).takeUnretainedValue().note() }
                return 1
            }, Unmanaged.passUnretained(certificateRequests).toOpaque())
        case .server(.required):
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, acceptAll)
        case .server(.optional):
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, acceptAll)
        case .server(.none):
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        }

        if let certificate = configuration.certificate {
            guard SSL_CTX_use_certificate(context, certificate.pointer) == 1 else {
                throw .configuration("the certificate is not usable: \(OpenSSLErrorQueue.drain())")
            }
            for intermediate in configuration.chain where !intermediate.isSelfSigned {
                // add1 takes a reference of its own.
                guard CShims_SSL_CTX_add1_chain_cert(context, intermediate.pointer) == 1 else {
                    throw .configuration("the chain certificate \(intermediate.subject.description) is not usable: \(OpenSSLErrorQueue.drain())")
                }
            }
        }
        if let key = configuration.privateKey {
            guard SSL_CTX_use_PrivateKey(context, key.pointer) == 1, SSL_CTX_check_private_key(context) == 1 else {
                throw .configuration("the private key does not match the certificate: \(OpenSSLErrorQueue.drain())")
            }
        }
        if configuration.role == .client, !configuration.applicationProtocols.isEmpty {
            let wire = Self.alpnWireFormat(configuration.applicationProtocols)
            // Returns 0 on success, unlike most of OpenSSL.
            guard SSL_CTX_set_alpn_protos(context, wire, UInt32(wire.count)) == 0 else {
                throw .configuration("invalid ALPN protocol list \(configuration.applicationProtocols)")
            }
        }
    }

    deinit {
        SSL_CTX_free(pointer)
    }

    /// The TLS 1.2 suites both roles offer: ECDHE or DHE key exchange, AES-GCM or ChaCha20.
    public static let tls12Ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL"

    /// `["h2", "http/1.1"]` as `\x02h2\x08http/1.1`.
    static func alpnWireFormat(_ protocols: [String]) -> [UInt8] {
        protocols.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
    }
}
