import NIOCore

/// Counts the `read()`s that reach the head of the pipeline (the socket, on a real channel):
/// put first in an `EmbeddedChannel` to see whether the handlers above hold reading.
public final class ReadCounter: ChannelOutboundHandler {
    public typealias OutboundIn = Any
    public private(set) var count = 0

    public init() {}

    public func read(context: ChannelHandlerContext) {
        count += 1
        context.read()
    }
}
