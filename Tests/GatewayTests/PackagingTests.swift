import AlertGateTesting
import Foundation
import Testing

/// The Debian package as an operator installs it (`make deb`, which `make test` runs
/// before the tests): what it holds, what it depends on, what lintian and systemd say of
/// it, and the installed program checking the installed configuration. Also the
/// dashboard and the alert rules under contrib/, against promtool and a running gateway's
/// metrics.
@Suite(.serialized) struct PackagingTests {
    static let package: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The newest .deb `make deb` left in .build-deb.
    static func builtPackage() throws -> URL {
        let folder = package.appendingPathComponent(".build-deb")
        let debs = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasPrefix("alertgate_") && $0.hasSuffix(".deb") }
        guard let name = debs.sorted().last else {
            throw BenchTool.Failure(description: "no package in \(folder.path): run `make deb` (make test does) before these tests")
        }
        return folder.appendingPathComponent(name)
    }

    /// Runs a tool on a thread of its own (lintian takes seconds: it must not hold one of
    /// Swift concurrency's few threads that other suites' servers need).
    static func run(_ executable: String, _ arguments: [String]) async throws -> ProcessRunner.Result {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw BenchTool.Failure(description: "\(executable) is missing: `make test` installs it (apt-get install lintian prometheus)")
        }
        return try await ProcessRunner.captureDetached(executable, arguments, timeout: 600)
    }

    @Test func thePackageHoldsTheProgramTheUnitTheConfigManPagesAndCompletions() async throws {
        let deb = try Self.builtPackage()
        let info = try await Self.run("/usr/bin/dpkg-deb", ["--info", deb.path])
        #expect(info.status == 0)
        #expect(info.standardOutput.contains("Package: alertgate"))
        #expect(info.standardOutput.contains("Architecture: amd64"))
        // Only runtime libraries: the Swift runtime is linked in.
        let depends = try #require(info.standardOutput.split(separator: "\n").first { $0.contains("Depends:") })
        #expect(depends.contains("libssl3") && depends.contains("libnghttp2-14"), "\(depends)")
        #expect(!depends.lowercased().contains("swift"), "\(depends)")
        for script in ["postinst", "prerm", "postrm", "conffiles", "md5sums"] {
            #expect(info.standardOutput.contains(script), "\(script) missing: \(info.standardOutput)")
        }

        let contents = try await Self.run("/usr/bin/dpkg-deb", ["--contents", deb.path]).standardOutput
        for path in [
            "./usr/bin/alertgate", "./etc/alertgate/config.yaml", "./usr/lib/systemd/system/alertgate.service",
            "./usr/share/man/man1/alertgate.1.gz", "./usr/share/man/man1/alertgate-run.1.gz", "./usr/share/man/man1/alertgate-cert-check.1.gz",
            "./usr/share/bash-completion/completions/alertgate", "./usr/share/zsh/vendor-completions/_alertgate",
            "./usr/share/fish/vendor_completions.d/alertgate.fish", "./usr/share/doc/alertgate/copyright",
            "./usr/share/doc/alertgate/contrib/grafana/alertgate.json",
        ] {
            #expect(contents.contains(path), "\(path) is not in the package")
        }

        let control = FileManager.default.temporaryDirectory.appendingPathComponent("alertgate-control-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: control) }
        #expect(try await Self.run("/usr/bin/dpkg-deb", ["--control", deb.path, control.path]).status == 0)
        #expect(try String(contentsOf: control.appendingPathComponent("conffiles"), encoding: .utf8) == "/etc/alertgate/config.yaml\n")
        let postinst = try String(contentsOf: control.appendingPathComponent("postinst"), encoding: .utf8)
        #expect(postinst.contains("adduser --system") && postinst.contains("chmod 0750 /var/lib/alertgate"))
        let postrm = try String(contentsOf: control.appendingPathComponent("postrm"), encoding: .utf8)
        // Data and configuration go only with a purge.
        #expect(postrm.contains("\"$1\" = \"purge\"") && postrm.contains("rm -rf /var/lib/alertgate /etc/alertgate"))
    }

    @Test func lintianReportsNoError() async throws {
        let deb = try Self.builtPackage()
        let lintian = try await Self.run("/usr/bin/lintian", ["--no-tag-display-limit", deb.path])
        let errors = lintian.standardOutput.split(separator: "\n").filter { $0.hasPrefix("E:") }
        #expect(errors.isEmpty, "\(lintian.standardOutput)")
    }

    @Test func theInstalledProgramRunsAndChecksTheInstalledConfiguration() async throws {
        let deb = try Self.builtPackage()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("alertgate-root-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(try await Self.run("/usr/bin/dpkg-deb", ["-x", deb.path, root.path]).status == 0)
        let program = root.appendingPathComponent("usr/bin/alertgate").path

        // No Swift runtime library outside the package.
        let libraries = try await Self.run("/usr/bin/ldd", [program]).standardOutput
        #expect(!libraries.contains("libswift") && !libraries.contains("libFoundation"), "\(libraries)")
        #expect(!libraries.contains("not found"), "\(libraries)")

        let check = try await Self.run(program, ["check-config", "--config", root.appendingPathComponent("etc/alertgate/config.yaml").path])
        #expect(check.status == 0, "\(check.standardOutput)\(check.standardError)")
        #expect(check.standardOutput.contains("valid"))

        // The unit as systemd reads it, its program path pointed at the unpacked copy:
        // no message at all (an unknown or misspelt key is only a message, exit 0).
        let shipped = try String(contentsOf: root.appendingPathComponent("usr/lib/systemd/system/alertgate.service"), encoding: .utf8)
        let unit = root.appendingPathComponent("alertgate.service")
        try shipped.replacingOccurrences(of: "/usr/bin/alertgate", with: program).write(to: unit, atomically: true, encoding: .utf8)
        let verify = try await Self.run("/usr/bin/systemd-analyze", ["verify", "--man=no", unit.path])
        #expect(verify.status == 0 && (verify.standardOutput + verify.standardError).isEmpty, "\(verify.standardOutput)\(verify.standardError)")
        for directive in ["Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "User=alertgate", "StateDirectory=alertgate", "WatchdogSec=", "ProtectSystem=strict"] {
            #expect(shipped.contains(directive), "\(directive)")
        }
        // docs/install.md gives the score: 1.7 with systemd 252.
        let security = try await Self.run("/usr/bin/systemd-analyze", ["security", "--offline=true", unit.path])
        let score = security.standardOutput.split(separator: "\n").last { $0.contains("Overall exposure level") }
        let value = score.flatMap { line in line.split(separator: " ").compactMap { Double($0) }.last }
        #expect(value.map { $0 <= 2.0 } == true, "\(security.standardOutput.suffix(500))")

        // man alertgate-run renders, and names SIGHUP.
        let manual = try await Self.run("/usr/bin/man", ["-l", "-P", "cat", root.appendingPathComponent("usr/share/man/man1/alertgate-run.1.gz").path])
        #expect(manual.status == 0 && manual.standardOutput.contains("SIGHUP"), "\(manual.standardError)")
    }

    @Test func promtoolAcceptsAndExercisesTheAlertRules() async throws {
        let rules = Self.package.appendingPathComponent("contrib/prometheus")
        let check = try await Self.run("/usr/bin/promtool", ["check", "rules", rules.appendingPathComponent("alertgate-rules.yml").path])
        #expect(check.status == 0, "\(check.standardOutput)\(check.standardError)")
        #expect(check.standardOutput.contains("SUCCESS: 6 rules found"))
        // rule_files are found beside the test file.
        let unit = try await Self.run("/usr/bin/promtool", ["test", "rules", rules.appendingPathComponent("alertgate-rules.test.yml").path])
        #expect(unit.status == 0, "\(unit.standardOutput)\(unit.standardError)")
    }

    /// Every metric the dashboard and the rules query is one a running gateway exposes,
    /// under that name (a renamed metric would leave a panel empty and a rule silent).
    @Test func theDashboardAndTheRulesQueryMetricsTheGatewayExposes() async throws {
        let dashboard = try String(contentsOf: Self.package.appendingPathComponent("contrib/grafana/alertgate.json"), encoding: .utf8)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(dashboard.utf8)) as? [String: Any])
        let panels = try #require(object["panels"] as? [[String: Any]])
        #expect(panels.count >= 10)
        let rules = try String(contentsOf: Self.package.appendingPathComponent("contrib/prometheus/alertgate-rules.yml"), encoding: .utf8)
        let named = Set((dashboard + rules).matches(of: /alertgate_[a-z_]+/).map { String($0.output) })
        #expect(named.count >= 10)

        let harness = try GatewayHarness()
        try harness.writeConfig(partner: harness.syslogPartner)
        let gateway = try await harness.start()
        let metrics = try await harness.admin("/metrics").body
        let exposed = Set(metrics.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.compactMap { $0.split(separator: " ").dropFirst(2).first.map(String.init) })
        #expect(named.subtracting(exposed).isEmpty, "queried but not exposed: \(named.subtracting(exposed).sorted())")
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }
}
