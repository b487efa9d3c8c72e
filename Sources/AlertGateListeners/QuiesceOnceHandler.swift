import NIOCore

/// Passes `ChannelShouldQuiesceEvent` on only once. A connection can be told to finish more
/// than once (a reload closes it, then a stop or another reload comes before it has), and
/// NIO's HTTP/1.1 server pipeline asserts that it hears the event once.
final class QuiesceOnceHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var quiesced = false

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            guard !quiesced else { return }
            quiesced = true
        }
        context.fireUserInboundEventTriggered(event)
    }
}

@available(*, unavailable)
extension QuiesceOnceHandler: Sendable {}
