import AlertGateCore
import AlertGateRuntime
import ArgumentParser
import Foundation

struct SendTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send-test",
        abstract: "Send one test alert to a partner through the real path.",
        discussion: "Exits 0 once the partner accepted it, 1 with the reason otherwise."
    )

    @Argument(help: "The partner's name in the config.")
    var partner: String

    @Option(name: .long, help: "The appliance to send as (default: the first one).")
    var appliance: String?

    @Option(name: .long, help: "The config file.")
    var config = "config.yaml"

    func run() async throws {
        let loaded = try await loadGateway(configPath: config)
        let factory = loaded.linkFactory(logger: commandLogger())
        guard let applianceName = appliance ?? factory.defaultAppliance else {
            printError("\(config): send-test needs an appliance, and the config defines none")
            throw ExitCode(1)
        }
        let (link, plugin) = try makeLink(factory, appliance: applianceName, partner: partner)
        let alert = Alert(
            id: UUID().uuidString.lowercased(),
            receivedAt: Date(),
            time: Date(),
            severity: .minor,
            title: "alertgate test alert",
            message: "A test alert sent by alertgate send-test to check the path to \(partner).",
            protocolName: "test",
            engine: "operational",
            sensor: applianceName,
            category: "Test",
            appliance: applianceName)
        let sender = plugin.makeSender(for: link)
        let report = await sender.send([alert])
        await sender.close()
        switch report.outcome {
        case .delivered:
            print("delivered test alert \(alert.id) to \(partner) as \(applianceName) (\(link.partner.format.rawValue) over \(link.partner.transport))")
        case .retry(_, let reason):
            printError("partner \(partner): not delivered: \(reason.message)" + (reason.check.map { " (\($0))" } ?? ""))
            throw ExitCode(1)
        case .rejected(let reason):
            printError("partner \(partner): rejected the alert: \(reason)")
            throw ExitCode(1)
        }
    }
}

func makeLink(_ factory: LinkFactory, appliance: String, partner: String) throws -> (TransportLink, any TransportPlugin) {
    do {
        return try factory.link(appliance: appliance, partner: partner)
    } catch {
        printError(error.description)
        throw ExitCode(1)
    }
}
