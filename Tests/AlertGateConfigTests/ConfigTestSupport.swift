import AlertGateConfig
import Foundation
import Testing

/// The folder the test configs pretend to live in.
let testBaseDirectory = URL(fileURLWithPath: "/srv/alertgate", isDirectory: true)
let testTransports: Set<String> = ["syslog-tls", "http2"]

func loadConfig(_ yaml: String, environment: [String: String] = [:]) -> Result<GatewayConfig, ConfigErrors> {
    ConfigLoader(knownTransports: testTransports, environment: environment)
        .load(text: yaml, baseDirectory: testBaseDirectory)
}

/// The problems exactly as `check-config --config config.yaml` prints them. Records an issue
/// when the text loads without problems.
func problems(
    in yaml: String,
    environment: [String: String] = [:],
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) -> [String] {
    switch loadConfig(yaml, environment: environment) {
    case .success:
        Issue.record("expected problems, but the config loaded", sourceLocation: sourceLocation)
        return []
    case .failure(let errors):
        return errors.rendered(path: "config.yaml")
    }
}

/// Expects exactly one problem, at `position` ("LINE:COL"), whose message contains `fragment`.
func expectOnlyProblem(
    in yaml: String,
    at position: String,
    _ fragment: String,
    environment: [String: String] = [:],
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    let found = problems(in: yaml, environment: environment, sourceLocation: sourceLocation)
    #expect(found.count == 1, "expected one problem, got \(found)", sourceLocation: sourceLocation)
    expectProblem(found.first, at: position, fragment, sourceLocation: sourceLocation)
}

/// Expects `line` to be `config.yaml:POSITION: …fragment…`.
func expectProblem(
    _ line: String?,
    at position: String,
    _ fragment: String,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    let prefix = "config.yaml:\(position): "
    let matches = line.map { $0.hasPrefix(prefix) && $0.dropFirst(prefix.count).contains(fragment) } ?? false
    #expect(matches, "expected \(prefix)…\(fragment)…, got \(line ?? "nothing")", sourceLocation: sourceLocation)
}

/// Where `needle` first occurs in `text` (1-based line and column).
func position(of needle: String, in text: String) -> AlertGateConfig.SourceLocation? {
    for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        if let range = line.range(of: needle) {
            return AlertGateConfig.SourceLocation(line: index + 1, column: line.distance(from: line.startIndex, to: range.lowerBound) + 1)
        }
    }
    return nil
}
