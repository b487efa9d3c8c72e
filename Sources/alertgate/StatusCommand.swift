import AlertGateConfig
import AlertGateCore
import AlertGateRuntime
import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Print the running gateway's status (from its admin API) as tables.",
        discussion: "The admin address is --admin, else the config's gateway.admin. Exits 0, or 1 when the gateway cannot be asked."
    )

    @Option(name: .long, help: ArgumentHelp("The admin API's address.", valueName: "HOST:PORT"))
    var admin: String?

    @Option(name: .long, help: "The config file whose gateway.admin names the address (when --admin is not given).")
    var config = "config.yaml"

    func validate() throws {
        if let admin {
            do {
                _ = try HostPort(parsing: admin)
            } catch {
                throw ValidationError("--admin: \(error.message)")
            }
        }
    }

    func run() async throws {
        let address = try adminAddress()
        let response: AdminHTTPClient.Response
        do {
            response = try await AdminHTTPClient.get(path: "/v1/status", from: address)
        } catch {
            printError("cannot reach the admin API at \(address): \(AdminHTTPClient.describe(error)) (is the gateway running, with gateway.admin set to this address?)")
            throw ExitCode(1)
        }
        guard response.status == .ok else {
            printError("the admin API at \(address) answered \(response.status.code) \(response.status.reasonPhrase) to GET /v1/status: \(response.text)")
            throw ExitCode(1)
        }
        let status: GatewayStatus
        do {
            status = try JSONDecoder().decode(GatewayStatus.self, from: Data(response.body))
        } catch {
            printError("the admin API at \(address) answered GET /v1/status with a body that is not a gateway status: \(error)")
            throw ExitCode(1)
        }
        print(StatusRenderer.render(status), terminator: "")
    }

    /// `--admin`, else `gateway.admin` from the config (loaded only: no certificate work).
    private func adminAddress() throws -> HostPort {
        if let admin {
            return try HostPort(parsing: admin)
        }
        switch ConfigLoader(knownTransports: AlertGateCommand.transports.names).load(path: config) {
        case .failure(let errors):
            for line in errors.rendered(path: config) {
                printError(line)
            }
            throw ExitCode(1)
        case .success(let loaded):
            guard let address = loaded.gateway.admin else {
                printError("\(config): gateway.admin is not set, so the gateway has no admin API to ask; set it, or pass --admin HOST:PORT")
                throw ExitCode(1)
            }
            return address
        }
    }
}

/// `alertgate status`'s tables.
enum StatusRenderer {
    static func render(_ status: GatewayStatus) -> String {
        var out = "CERTIFICATES\n"
        out += table(
            ["NAME", "CN", "NOT AFTER", "STATE", "PROBLEM"],
            status.certificates.map { certificate in
                let problem = [certificate.message, certificate.code.map { "(\($0))" }].compactMap { $0 }
                return [certificate.name, certificate.cn, certificate.notAfter, certificate.state.rawValue, problem.isEmpty ? "-" : problem.joined(separator: " ")]
            })
        out += "\nAPPLIANCES\n"
        out += table(
            ["NAME", "KIND", "CERTIFICATE", "VALIDATION"],
            status.appliances.map { [$0.name, $0.kind, $0.certificate ?? "-", $0.validation] })
        out += "\nPARTNERS\n"
        out += table(
            ["NAME", "TRANSPORT", "STATE", "QUEUED", "DELIVERED", "LAST ERROR"],
            status.partners.map { partner in
                [
                    partner.name, partner.transport, partner.state.rawValue, "\(partner.queued)", "\(partner.delivered)",
                    partner.lastError.map { "\($0.message) (\($0.code))" } ?? "-",
                ]
            })
        let connections = status.partners.flatMap { partner in partner.connections.map { [partner.name, $0.appliance, $0.state.rawValue] } }
        if !connections.isEmpty {
            out += "\nCONNECTIONS\n"
            out += table(["PARTNER", "APPLIANCE", "STATE"], connections)
        }
        out += "\nLAST RELOAD\n"
        if let reload = status.lastReload {
            out += "\(reload.at): \(reload.ok ? "ok" : "failed")\n"
            for error in reload.errors {
                out += "  \(error)\n"
            }
        } else {
            out += "none since the gateway started\n"
        }
        return out
    }

    /// Left-aligned columns two spaces apart; `(none)` for no rows. The last column is
    /// not padded (it holds the long messages).
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        guard !rows.isEmpty else { return "(none)\n" }
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.indices.map { column in
                column == row.count - 1 ? row[column] : row[column].padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }
            .joined(separator: "  ")
        }
        .joined(separator: "\n") + "\n"
    }
}

/// A one-request HTTP/1.1 client for the admin API (plain HTTP, `Connection: close`).
enum AdminHTTPClient {
    struct Response: Sendable {
        var status: HTTPResponseStatus
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// A connection failure in a few words: `connection refused` rather than NIO's
    /// description of every address it tried.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as NIOConnectionError:
            return error.connectionErrors.first.map { describe($0.error) } ?? "no address to connect to"
        case let error as IOError:
            return String(cString: strerror(error.errnoCode)).lowercased()
        case is ChannelError:
            if case ChannelError.connectTimeout = error { return "no connection within 5 s" }
            return "\(error)"
        default:
            return "\(error)"
        }
    }

    static func get(path: String, from address: HostPort, timeout: TimeAmount = .seconds(30)) async throws -> Response {
        let group = MultiThreadedEventLoopGroup.singleton
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                }
            }
            .connect(host: address.host, port: address.port)
            .get()
        let promise = channel.eventLoop.makePromise(of: Response.self)
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            promise.fail(Failure(description: "no answer within \(timeout.nanoseconds / 1_000_000_000) s"))
        }
        defer {
            timer.cancel()
            channel.close(promise: nil)
        }
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
            var headers = HTTPHeaders([("Host", "\(address)"), ("Accept", "application/json"), ("Connection", "close")])
            headers.add(name: "User-Agent", value: "alertgate-status")
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        }.get()
        return try await promise.futureResult.get()
    }

    /// Collects one response and completes the promise with it; a connection that ends
    /// first fails it.
    private final class ResponseCollector: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart

        private let promise: EventLoopPromise<Response>
        private var status: HTTPResponseStatus?
        private var body: [UInt8] = []

        init(promise: EventLoopPromise<Response>) {
            self.promise = promise
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                status = head.status
            case .body(let buffer):
                body += buffer.readableBytesView
            case .end:
                if let status { promise.succeed(Response(status: status, body: body)) }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(Failure(description: "the connection closed before a complete answer"))
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }
    }
}
