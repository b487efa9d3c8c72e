import Yams

/// A position in `config.yaml`: 1-based line and column, columns counted in Unicode scalars
/// (as libyaml counts them).
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// The top of the file, for problems that belong to no particular node.
    public static let start = SourceLocation(line: 1, column: 1)

    init(_ mark: Mark?) {
        if let mark, mark.line >= 1, mark.column >= 1 {
            self.init(line: mark.line, column: mark.column)
        } else {
            self = .start
        }
    }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }

    public var description: String { "\(line):\(column)" }
}

/// One problem in a configuration file, at the node it concerns.
public struct ConfigDiagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public init(location: SourceLocation, message: String) {
        self.location = location
        self.message = message
    }

    /// `PATH:LINE:COL: message`, the form `check-config` prints (PATH as the user gave it).
    public func rendered(path: String) -> String {
        "\(path):\(location.line):\(location.column): \(message)"
    }

    public var description: String { "\(location): \(message)" }
}

/// Every problem found in a configuration file, sorted by line and column.
public struct ConfigErrors: Error, Sendable, Hashable, CustomStringConvertible {
    public var diagnostics: [ConfigDiagnostic]

    public init(diagnostics: [ConfigDiagnostic]) {
        // Stable sort: problems at the same position keep the order they were found in.
        var seen = Set<ConfigDiagnostic>()
        self.diagnostics = diagnostics.enumerated()
            .sorted { ($0.element.location, $0.offset) < ($1.element.location, $1.offset) }
            .map(\.element)
            .filter { seen.insert($0).inserted }
    }

    /// One `PATH:LINE:COL: message` line per problem.
    public func rendered(path: String) -> [String] {
        diagnostics.map { $0.rendered(path: path) }
    }

    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}

/// A value that does not have the expected syntax; `message` says what was expected and
/// what was found, without the key (the caller adds that).
public struct ConfigValueError: Error, Sendable, Hashable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }
}
