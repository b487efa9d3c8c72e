import AlertGatePKI

/// Why a TLS connection failed, by the step that failed.
public enum TLSError: Error, Sendable, CustomStringConvertible {
    /// The context could not be built (certificate, key, protocol settings).
    case configuration(String)
    /// The handshake failed: OpenSSL's reason, including alerts the peer sent.
    case handshakeFailed(String)
    /// The handshake completed, but the peer's certificate failed a check the policy requires.
    case peerRefused(PeerVerdict)
    /// The peer sent a fatal alert or broken records after the handshake (a TLS 1.3 server
    /// refusing our client certificate shows up here, at our first read).
    case connectionFailed(String)
    /// The connection closed during the handshake.
    case closedDuringHandshake
    /// The peer closed the TCP connection without close_notify (its data may be truncated).
    case uncleanShutdown
    /// The peer sent more than this many bytes before it was accepted.
    case inputLimitExceeded(Int)

    public var description: String {
        switch self {
        case .configuration(let reason): "TLS setup failed: \(reason)"
        case .handshakeFailed(let reason): "TLS handshake failed: \(reason)"
        case .peerRefused(let verdict):
            if let failure = verdict.firstFailure, let problem = failure.problem {
                "peer certificate refused (\(problem.code.rawValue)): \(problem.message)" + (failure.detail.map { " [\($0)]" } ?? "")
            } else {
                "peer certificate refused"
            }
        case .connectionFailed(let reason): "TLS connection failed: \(reason)"
        case .closedDuringHandshake: "the peer closed the connection during the TLS handshake"
        case .uncleanShutdown: "the peer closed the connection without a TLS close_notify"
        case .inputLimitExceeded(let limit): "the peer sent more than \(limit) bytes before its certificate was accepted"
        }
    }
}
