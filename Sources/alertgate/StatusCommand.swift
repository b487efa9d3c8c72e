import AlertGateConfig
import AlertGateCore
import AlertGatePKI
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
        discussion: """
            The admin address is --admin, else the config's gateway.admin. The bearer token (gateway.admin_token) \
            is the environment variable ALERTGATE_ADMIN_TOKEN when set, else the config's gateway.admin_token \
            (read when --admin is not given). Exits 0, or 1 when the gateway cannot be asked.
            """
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

    /// The environment variable that holds the admin token (it wins over the config's).
    static let tokenVariable = "ALERTGATE_ADMIN_TOKEN"

    func run() async throws {
        let (address, configToken) = try adminAddress()
        let token = ProcessInfo.processInfo.environment[Self.tokenVariable].flatMap { $0.isEmpty ? nil : $0 } ?? configToken
        let response: AdminHTTPClient.Response
        do {
            response = try await AdminHTTPClient.get(path: "/v1/status", from: address, token: token)
        } catch {
            printError("cannot reach the admin API at \(address): \(AdminHTTPClient.describe(error)) (is the gateway running, with gateway.admin set to this address?)")
            throw ExitCode(1)
        }
        if response.status == .unauthorized {
            printError(
                "the admin API at \(address) answered 401 Unauthorized to GET /v1/status: \(token == nil ? "it needs a token" : "the token was refused"); "
                    + "set \(Self.tokenVariable), or run with the --config whose gateway.admin_token the gateway uses")
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

    /// `--admin`, else `gateway.admin` from the config (loaded only: no certificate work),
    /// and the config's `gateway.admin_token` when it was read.
    private func adminAddress() throws -> (HostPort, token: String?) {
        if let admin {
            return (try HostPort(parsing: admin), nil)
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
            return (address, loaded.gateway.adminToken)
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

/// GET on the admin API (plain HTTP, through the PKI's `HTTPGet`), and its failures in a
/// few words.
enum AdminHTTPClient {
    typealias Response = HTTPGet.Response

    /// A failure in a few words: `connection refused` rather than NIO's description of
    /// every address it tried.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let failure as HTTPGet.Failure:
            switch failure {
            case .connect(let cause), .failed(let cause): return describe(cause)
            case .noAnswer(let within): return "no answer within \(within.nanoseconds / 1_000_000_000) s"
            case .tooLarge(let limit): return "the answer is larger than \(limit) bytes"
            case .closedEarly: return "the connection closed before a complete answer"
            }
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

    static func get(path: String, from address: HostPort, token: String? = nil, timeout: TimeAmount = .seconds(30)) async throws -> Response {
        let get = HTTPGet(connectTimeout: .seconds(5), timeout: timeout, maximumSize: 16 << 20)
        var headers = [("Host", "\(address)"), ("Accept", "application/json"), ("User-Agent", "alertgate-status")]
        if let token {
            headers.append(("Authorization", "Bearer \(token)"))
        }
        return try await get.get(host: address.host, port: address.port, target: path, headers: headers)
    }
}

extension HTTPGet.Response {
    /// The body as trimmed text, for messages.
    var text: String { String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
}
