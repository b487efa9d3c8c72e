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

    @OptionGroup var options: LinkOptions

    func run() async throws {
        let (applianceName, link, plugin) = try await options.link()
        let partner = options.partner
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
        case .retry(_, let reason), .deferred(_, let reason):
            printError("partner \(partner): not delivered: \(reason.message)" + (reason.check.map { " (\($0))" } ?? ""))
            throw ExitCode(1)
        case .rejected(let reason):
            printError("partner \(partner): rejected the alert: \(reason)")
            throw ExitCode(1)
        }
    }
}
