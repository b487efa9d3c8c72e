import AlertGateCore
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A connection made by `TLSConnector`, with what transports need of it: the channel,
/// the agreed ALPN protocol, where the ciphertext written so far ends, and how much of it
/// the peer's TCP stack has acknowledged. (The runtime's `PartnerConnection` adds the
/// revocation state and is what transports see as their `SecureChannel`.)
public struct TLSSecureChannel: Sendable {
    public let channel: any Channel
    public let applicationProtocol: String?
    private let handler: NIOLoopBound<TLSHandler>

    /// Finds the TLS handler of `connection`'s pipeline (on its event loop).
    public init(_ connection: TLSConnector.Connection) async throws {
        let channel = connection.channel
        channel.eventLoop.preconditionNotInEventLoop()
        self.channel = channel
        self.applicationProtocol = connection.peer.applicationProtocol
        self.handler = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: TLSHandler.self), eventLoop: channel.eventLoop)
        }.get()
    }

    public func ciphertextBytesWritten() -> Int {
        handler.value.ciphertextBytesWritten
    }

    /// `tcpi_bytes_acked` of the socket's TCP_INFO (Linux 4.1+): the payload bytes the
    /// peer acknowledged, counted from the first byte of the TLS handshake.
    public func acknowledgedBytes() -> EventLoopFuture<UInt64> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        let info: EventLoopFuture<LinuxTCPInfo> = provider.unsafeGetSocketOption(
            level: .tcp, name: NIOBSDSocket.Option(rawValue: CInt(TCP_INFO)))
        return info.map { $0.bytesAcked }
    }
}

/// The head of Linux's `struct tcp_info` (linux/tcp.h) up to `tcpi_bytes_acked`, which
/// glibc's copy of the struct lacks. The kernel copies as many bytes as asked for; the
/// layout (8 bytes, 24 × u32, then u64s from offset 104) is the kernel's ABI.
struct LinuxTCPInfo {
    var state: UInt8 = 0, congestionState: UInt8 = 0, retransmits: UInt8 = 0, probes: UInt8 = 0
    var backoff: UInt8 = 0, options: UInt8 = 0, windowScales: UInt8 = 0, flags: UInt8 = 0
    var counters: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
                   UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var pacingRate: UInt64 = 0
    var maxPacingRate: UInt64 = 0
    var bytesAcked: UInt64 = 0
}

