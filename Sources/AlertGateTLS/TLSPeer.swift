import AlertGatePKI

/// What the handshake established about the other side.
public struct TLSPeer: Sendable {
    /// The certificates the peer presented, its own first (empty when it sent none).
    public var chain: [X509Certificate]
    /// The ALPN protocol both sides agreed on, if any.
    public var applicationProtocol: String?
    /// `TLSv1.3`, `TLSv1.2`
    public var protocolVersion: String
    public var cipher: String
}

/// Whether the connection goes on after the peer was checked.
public enum PeerDecision: Sendable {
    /// Go on; the verdict (if checks ran) travels with the handshake event, failures and all
    /// (policy `none` lets failed checks through, logged and counted).
    case accept(PeerVerdict?)
    /// Close before any application data moves (policy `required`).
    case refuse(PeerVerdict)
}

/// Fired up the pipeline once the handshake is done and the peer accepted.
public enum TLSEvent: Sendable {
    case handshakeCompleted(TLSPeer, PeerVerdict?)
}
