import AlertGateCore
import AlertGateRuntime
import ArgumentParser
import Foundation
import HTTP2Transport
import SyslogTLSTransport

/// The `alertgate` command line (docs/reference.md §3).
@main
struct AlertGateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alertgate",
        abstract: "Forwards OT security alerts to SIEM partners over validated TLS.",
        version: AlertGateVersion.current,
        subcommands: [
            RunCommand.self, CheckConfigCommand.self, CertCommand.self, DiagnoseCommand.self, SendTestCommand.self, StatusCommand.self,
        ]
    )

    /// The transport plugins this build ships: the one place that names them.
    static let transports = TransportRegistry([SyslogTLSTransport(), HTTP2Transport()])


    /// Parses and runs the command with docs/reference.md §3's exit codes: usage errors exit 2 (the
    /// argument parser's default would be 64).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                let message = fullMessage(for: error)
                FileHandle.standardError.write(Data((message + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
