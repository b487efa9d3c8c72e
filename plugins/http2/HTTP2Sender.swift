import AlertGateCore
import Logging
import NIOCore

/// Sends alerts as batched HTTP/2 POSTs over one validated TLS connection.
///
/// A send cuts its alerts into batches (`batch.max_alerts`, `batch.max_bytes`), submits
/// them all at once as streams of the one connection, and waits for every answer. The
/// report counts the alerts of the batches accepted one after another from the first;
/// the first batch that was not accepted decides the outcome (retry, with the partner's
/// Retry-After, or rejected). The connection is opened on the first send, kept, and
/// opened again after it failed or the partner sent GOAWAY.
actor HTTP2Sender: AlertSender {
    private let link: TransportLink
    private let endpoint: Result<HTTP2Endpoint, TransportError>
    private let maker: HTTP2BatchMaker
    typealias Connection = (secure: any SecureChannel, state: HTTP2ConnectionState)
    private var connection: Connection?
    /// A connection being opened: sends that come meanwhile wait for it rather than open
    /// their own.
    private var connecting: Task<Connection, any Error>?

    /// How much of each answer is kept (the reason of a rejection takes the first KiB).
    private(set) var responseBodyLimit = 64 * 1024
    /// How long the partner may stay silent while requests wait for its answer.
    private(set) var responseTimeout: TimeAmount = .seconds(30)

    // Kept for tests (see the end of the file).
    private var keepsResponses = false
    private(set) var lastResponses: [HTTP2Response] = []
    private(set) var connectionsOpened = 0
    private var latestState: HTTP2ConnectionState?

    init(link: TransportLink) {
        self.link = link
        let endpoint = Result { () throws(TransportError) in try HTTP2Endpoint(link.partner) }
        self.endpoint = endpoint
        let body: HTTP2BatchMaker.Body = (try? endpoint.get())?.isSplunkHEC == true ? .splunkHEC : .ndjson
        self.maker = HTTP2BatchMaker(body: body, formatter: link.formatter, limits: link.partner.batch)
    }

    func send(_ alerts: [Alert]) async -> DeliveryReport {
        guard !alerts.isEmpty else { return DeliveryReport(accepted: 0, outcome: .delivered) }
        let endpoint: HTTP2Endpoint
        switch self.endpoint {
        case .success(let value): endpoint = value
        case .failure(let error): return DeliveryReport(accepted: 0, outcome: .retry(after: nil, reason: error))
        }
        let connection: Connection
        do {
            connection = try await connected()
        } catch {
            return DeliveryReport(accepted: 0, outcome: .retry(after: nil, reason: error))
        }
        // Nothing is written to a partner a CRL the gateway now holds revokes.
        do {
            try await connection.secure.confirmPeer()
        } catch {
            drop(connection)
            return DeliveryReport(accepted: 0, outcome: .retry(after: nil, reason: error))
        }

        let channel = connection.secure.channel
        let batches = maker.batches(alerts, allocator: channel.allocator)
        let authority = endpoint.requestAuthority(serverName: link.partner.serverName)
        let userAgent = "alertgate/\(link.formatter.productVersion)"
        var answers: [EventLoopFuture<HTTP2Response>] = []
        answers.reserveCapacity(batches.count)
        for batch in batches {
            let promise = channel.eventLoop.makePromise(of: HTTP2Response.self)
            let request = HTTP2Request(
                authority: authority,
                path: endpoint.path,
                fields: HTTP2RequestHeaders.fields(
                    partner: link.partner.headers, contentType: maker.contentType(alertCount: batch.alertCount),
                    contentLength: batch.body.readableBytes, userAgent: userAgent),
                body: batch.body,
                response: promise)
            // A write that never reaches the handler (the channel closed) fails the answer too.
            let written = channel.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenFailure { promise.fail(HTTP2ClientError("the connection closed before the request went out: \($0)")) }
            channel.write(request, promise: written)
            answers.append(promise.futureResult)
        }
        channel.flush()

        var outcomes: [BatchOutcome] = []
        var responses: [HTTP2Response] = []
        var connectionFailed = false
        for answer in answers {
            do {
                let response = try await answer.get()
                if keepsResponses { responses.append(response) }
                // 421: this connection reached a server that does not serve this name (a
                // front routed it elsewhere, or a coalesced connection): a new one may not.
                if response.status == 421 { connectionFailed = true }
                outcomes.append(HTTP2Verdict.outcome(of: response, partner: link.partner.name))
            } catch {
                connectionFailed = true
                outcomes.append(.retry(after: nil, reason: "partner \(link.partner.name): \(error)"))
            }
        }
        if keepsResponses { lastResponses = responses }
        if connectionFailed || !connection.state.isUsable {
            drop(connection)
        }
        log(outcomes, batches: batches)
        return HTTP2Verdict.report(alertCounts: batches.map(\.alertCount), outcomes: outcomes)
    }

    func close() async {
        guard let connection else { return }
        self.connection = nil
        try? await connection.secure.channel.close()
    }

    // MARK: Connection

    /// The open connection, or a new one when there is none or it can take no more requests.
    private func connected() async throws(TransportError) -> Connection {
        if let connection, connection.state.isUsable, connection.secure.channel.isActive {
            return connection
        }
        if let connecting {
            return try await Self.value(of: connecting)
        }
        if let connection {
            drop(connection)
        }
        let state = HTTP2ConnectionState()
        let (link, limit, timeout) = (link, responseBodyLimit, responseTimeout)
        let task = Task { () throws -> Connection in
            let secure = try await link.connector.connect(to: link.destination) { channel in
                try channel.pipeline.syncOperations.addHandler(HTTP2ClientHandler(state: state, responseBodyLimit: limit, responseTimeout: timeout))
            }
            return (secure, state)
        }
        connecting = task
        defer { connecting = nil }
        let made = try await Self.value(of: task)
        connection = made
        latestState = state
        connectionsOpened += 1
        link.logger.info("connected", metadata: ["partner": "\(link.partner.name)", "appliance": "\(link.appliance)", "transport": "http2"])
        return made
    }

    private static func value(of task: Task<Connection, any Error>) async throws(TransportError) -> Connection {
        do {
            return try await task.value
        } catch let error as TransportError {
            throw error
        } catch {
            throw TransportError(message: "\(error)")
        }
    }

    /// Closes a connection that is done (requests still in flight on it finish first).
    private func drop(_ old: Connection) {
        if let current = connection, current.state === old.state {
            connection = nil
        }
        old.secure.channel.close(promise: nil)
    }

    private func log(_ outcomes: [BatchOutcome], batches: [HTTP2Batch]) {
        let metadata: Logger.Metadata = ["partner": "\(link.partner.name)", "appliance": "\(link.appliance)", "transport": "http2"]
        for (outcome, batch) in zip(outcomes, batches) {
            switch outcome {
            case .accepted:
                continue
            case .rejected(let reason):
                link.logger.error("batch of \(batch.alertCount) alerts rejected: \(reason)", metadata: metadata)
            case .retry(_, let reason), .deferred(_, let reason):
                link.logger.warning("batch of \(batch.alertCount) alerts to be sent again: \(reason)", metadata: metadata)
            }
        }
    }

    // MARK: Test hooks

    /// The HTTP/2 state of the latest connection.
    var connectionState: HTTP2ConnectionState.Snapshot? { latestState?.snapshot }

    func setResponseTimeout(_ timeout: TimeAmount) {
        responseTimeout = timeout
    }

    /// Keeps the answers of each send in `lastResponses`, bodies up to `limit` bytes.
    func keepResponses(upTo limit: Int) {
        keepsResponses = true
        responseBodyLimit = limit
    }
}
