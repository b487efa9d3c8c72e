import NIOCore

/// The timeouts of one connection (docs/reference.md §11) as a pure value, driven by what the
/// connection does and asked, when its timer fires, whether a deadline has passed.
/// `ConnectionGuard` is the NIO side: it feeds the events and holds the one timer.
///
/// - TLS: the handshake and the client check together must finish within
///   `handshake_timeout` of the accept.
/// - syslog-tcp/tls: silent for `idle_timeout` while the connection reads closes it.
///   Silence while the connection does not read (its batch is with a full spool) is not
///   the sender's: the clock starts again when reading does.
/// - webhook: the first request head must arrive whole within `header_timeout` of the
///   handshake, later ones within `header_timeout` of their first byte; between requests a
///   kept-alive connection waits `idle_timeout` for that byte, and a body may pause at most
///   as long. A head longer than `maxHeadBytes` is refused (431). Nothing is timed while a
///   request is answered.
struct ConnectionDeadlines {
    enum Style: Equatable {
        case stream
        case http
    }

    enum Phase: Equatable {
        case handshaking(since: NIODeadline)
        /// Reading: silent since `since` (stream; webhook between requests and in a body).
        case reading(since: NIODeadline)
        /// webhook: a request head is coming; `bytes` of it so far.
        case head(since: NIODeadline, bytes: Int)
        /// webhook: its body is coming; silent since `since`.
        case body(since: NIODeadline)
        /// webhook: the request is being answered.
        case answering
    }

    enum Verdict: Equatable {
        /// Look again at this time (nil: nothing is timed now).
        case wait(until: NIODeadline?)
        case close(ConnectionRefusal)
    }

    let style: Style
    let limits: ConnectionLimits
    private(set) var phase: Phase
    /// syslog: a read was asked for and nothing arrived since; silence counts only then.
    /// (A webhook connection always reads between requests and in a body.)
    private var readWanted = false

    init(style: Style, limits: ConnectionLimits, usesTLS: Bool, now: NIODeadline) {
        self.style = style
        self.limits = limits
        if usesTLS {
            phase = .handshaking(since: now)
        } else {
            phase = style == .http ? .head(since: now, bytes: 0) : .reading(since: now)
        }
    }

    /// When the timer should look next (nil: nothing is timed now).
    var deadline: NIODeadline? {
        switch phase {
        case .handshaking(let since): limits.handshakeTimeout.map { since + $0 }
        case .reading(let since), .body(let since): limits.idleTimeout.map { since + $0 }
        case .head(let since, _): limits.headerTimeout.map { since + $0 }
        case .answering: nil
        }
    }

    // MARK: Events

    mutating func handshakeCompleted(now: NIODeadline) {
        guard case .handshaking = phase else { return }
        phase = style == .http ? .head(since: now, bytes: 0) : .reading(since: now)
    }

    /// The handler above asked for a read.
    mutating func readRequested(now: NIODeadline) {
        guard !readWanted else { return }
        readWanted = true
        // Not reading was the gateway's choice: silence counts from now.
        switch phase {
        case .reading: phase = .reading(since: now)
        case .body: phase = .body(since: now)
        case .handshaking, .head, .answering: break
        }
    }

    /// `count` bytes arrived. False: a request head is over `maxHeadBytes` (refuse it).
    mutating func received(_ count: Int, now: NIODeadline) -> Bool {
        readWanted = false
        switch phase {
        case .reading:
            // A kept-alive webhook connection's next request begins: its head is timed
            // from this first byte on.
            phase = style == .http ? .head(since: now, bytes: count) : .reading(since: now)
        case .head(let since, let bytes):
            phase = .head(since: since, bytes: bytes + count)
        case .body:
            phase = .body(since: now)
        case .handshaking, .answering:
            break
        }
        if case .head(_, let bytes) = phase, bytes > limits.maxHeadBytes { return false }
        return true
    }

    /// webhook: the head of a request was decoded.
    mutating func headReceived(now: NIODeadline) {
        phase = .body(since: now)
    }

    /// webhook: the whole request arrived; it is being answered.
    mutating func requestComplete() {
        phase = .answering
    }

    /// webhook: the answer is on its way; the connection waits for the next request.
    mutating func responded(now: NIODeadline) {
        phase = .reading(since: now)
    }

    /// The timer fired: is a deadline past?
    mutating func expire(now: NIODeadline) -> Verdict {
        guard let deadline else { return .wait(until: nil) }
        guard now >= deadline else { return .wait(until: deadline) }
        if style == .stream, case .reading = phase, !readWanted, let idle = limits.idleTimeout {
            // Not reading (a batch is with the intake): look again one timeout from now.
            return .wait(until: now + idle)
        }
        switch phase {
        case .handshaking: return .close(.handshakeTimeout)
        case .head: return .close(.headerTimeout)
        case .reading, .body: return .close(.idle)
        case .answering: return .wait(until: nil)
        }
    }
}
