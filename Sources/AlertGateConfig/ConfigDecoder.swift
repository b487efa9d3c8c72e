import Foundation
import Yams

/// A key of a mapping with its value, and the dotted path that names it in messages
/// (`partners[1] (splunk).retry.initial`).
struct Field {
    let name: String
    let key: Node
    let value: Node
    let path: String

    var keyLocation: SourceLocation { SourceLocation(key.mark) }
    var valueLocation: SourceLocation { SourceLocation(value.mark) }
    /// `key:` with nothing after it, `~` or `null`.
    var isNull: Bool { value.null != nil }
    /// The value as written in the file (for messages).
    var rawText: String { value.scalar?.string ?? "" }
}

/// A mapping whose keys have been checked (known, not repeated).
struct MappingReader {
    let path: String
    let location: SourceLocation
    /// Keys in file order.
    let fields: [Field]

    /// The key's field, also when its value is null.
    subscript(_ key: String) -> Field? {
        fields.first { $0.name == key }
    }

    /// The key's field when it has a value (absent and null both mean "not set").
    func value(_ key: String) -> Field? {
        guard let field = self[key], !field.isNull else { return nil }
        return field
    }
}

/// Names that entries define and other entries refer to.
enum EntityKind: String, CaseIterable {
    case certificate
    case trust
    case appliance
    case listener
    case partner
    case rule

    /// What one entry is called in messages.
    var noun: String {
        self == .trust ? "trust entry" : rawValue
    }

    var plural: String {
        switch self {
        case .certificate: "certificates"
        case .trust: "trust entries"
        case .appliance: "appliances"
        case .listener: "listeners"
        case .partner: "partners"
        case .rule: "rules"
        }
    }

    /// Where these entries are written.
    var section: String {
        switch self {
        case .certificate: "store.certificates"
        case .trust: "store.trust"
        case .appliance: "appliances"
        case .listener: "listeners"
        case .partner: "partners"
        case .rule: "rules"
        }
    }
}

/// A name used by one entry that must be defined by another, checked once all are read.
struct PendingReference {
    let kind: EntityKind
    let name: String
    let location: SourceLocation
    /// Who refers, e.g. `rule major-and-up`.
    let owner: String
}

/// Walks the composed nodes, collecting every problem rather than stopping at the first.
final class ConfigDecoder {
    let environment: [String: String]
    let knownTransports: Set<String>
    /// The config file's folder, absolute.
    let baseDirectory: String
    let restorer: KeyRestorer

    private(set) var diagnostics: [ConfigDiagnostic] = []
    /// Defined names per kind, with the line of the definition.
    var definitions: [EntityKind: [String: Int]] = [:]
    /// Defined names per kind, in file order (for hints).
    var definitionOrder: [EntityKind: [String]] = [:]
    var references: [PendingReference] = []
    /// Values that must be unique across entries, with who used them first and where.
    var applianceCertificates: [String: (name: String, line: Int)] = [:]
    var matchedCNs: [String: (name: String, line: Int)] = [:]
    var listenAddresses: [String: (name: String, line: Int)] = [:]

    init(environment: [String: String], knownTransports: Set<String>, baseDirectory: String, restorer: KeyRestorer) {
        self.environment = environment
        self.knownTransports = knownTransports
        self.baseDirectory = baseDirectory
        self.restorer = restorer
    }

    // MARK: Reporting

    func report(_ message: String, at location: SourceLocation) {
        diagnostics.append(ConfigDiagnostic(location: location, message: message))
    }

    func report(_ message: String, at node: Node) {
        report(message, at: SourceLocation(node.mark))
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar):
            node.null != nil && scalar.string.isEmpty ? "nothing" : quoted(scalar.string)
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    // MARK: Mappings

    static func childPath(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    /// Checks that `node` is a mapping whose keys are among `allowedKeys` (any key when nil)
    /// and not repeated; reports every unknown or repeated key.
    func mapping(_ node: Node, path: String, allowedKeys: [String]?) -> MappingReader? {
        guard case .mapping(let mapping) = node else {
            if path.isEmpty {
                report("expected a mapping of sections (\(ConfigKeys.top.joined(separator: ", "))) at the top level, found \(describe(node))", at: node)
            } else {
                report("\(path): expected a mapping, found \(describe(node))", at: node)
            }
            return nil
        }
        let place = path.isEmpty ? "at the top level" : "in \(path)"
        var fields: [Field] = []
        var firstLocations: [String: SourceLocation] = [:]
        for (keyNode, value) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                report("\(place): expected a key name, found \(describe(keyNode))", at: keyNode)
                continue
            }
            let name = restorer.restore(keyScalar.string)
            let keyLocation = SourceLocation(keyNode.mark)
            if let first = firstLocations[name] {
                let position = first.line == keyLocation.line ? "line \(first.line), column \(first.column)" : "line \(first.line)"
                report("duplicate key \(quoted(name)) \(place) (first at \(position))", at: keyLocation)
                continue
            }
            firstLocations[name] = keyLocation
            if let allowedKeys, !allowedKeys.contains(name) {
                report("unknown key \(quoted(name)) \(place); expected one of: \(allowedKeys.joined(separator: ", "))", at: keyLocation)
                continue
            }
            fields.append(Field(name: name, key: keyNode, value: value, path: Self.childPath(path, name)))
        }
        return MappingReader(path: path, location: SourceLocation(node.mark), fields: fields)
    }

    /// A section such as `gateway:` or `store.crl:`; nil when absent, null or not a mapping.
    func section(_ field: Field?, allowedKeys: [String]) -> MappingReader? {
        guard let field, !field.isNull else { return nil }
        return mapping(field.value, path: field.path, allowedKeys: allowedKeys)
    }

    /// The key's field, or a "missing required key" problem at the mapping.
    func required(_ mapping: MappingReader, _ key: String) -> Field? {
        guard let field = mapping[key] else {
            report("\(mapping.path): missing required key \(quoted(key))", at: mapping.location)
            return nil
        }
        guard !field.isNull else {
            report("\(field.path): needs a value", at: field.valueLocation)
            return nil
        }
        return field
    }

    /// `partners[1] (splunk)`: the list and index, and the entry's name when it has a plain one.
    func entryLabel(list: String, index: Int, node: Node) -> String {
        let base = "\(list)[\(index)]"
        guard case .mapping(let mapping) = node else { return base }
        for (key, value) in mapping where key.scalar.map({ restorer.restore($0.string) }) == "name" {
            if let text = value.scalar?.string, value.null == nil,
               let name = try? EnvironmentSubstitution.apply(to: text, environment: environment), !name.isEmpty {
                return "\(base) (\(name))"
            }
            break
        }
        return base
    }

    // MARK: Scalars

    /// The scalar's text with `${VAR}` replaced; reports non-scalars and unset variables.
    func text(_ node: Node, path: String, expected: String) -> String? {
        guard case .scalar(let scalar) = node else {
            report("\(path): expected \(expected), found \(describe(node))", at: node)
            return nil
        }
        do {
            return try EnvironmentSubstitution.apply(to: scalar.string, environment: environment)
        } catch {
            report("\(path): \(error.message)", at: node)
            return nil
        }
    }

    func string(_ field: Field) -> String? {
        text(field.value, path: field.path, expected: "a string")
    }

    func nonEmptyString(_ field: Field, expected: String = "a string") -> String? {
        guard let value = text(field.value, path: field.path, expected: expected) else { return nil }
        guard !value.trimmingCharacters(in: .whitespaces).isEmpty else {
            report("\(field.path): must not be empty", at: field.value)
            return nil
        }
        return value
    }

    func bool(_ field: Field) -> Bool? {
        guard let value = text(field.value, path: field.path, expected: "true or false"),
              case .scalar(let scalar) = field.value
        else { return nil }
        // YAML's booleans (true/false, also yes/no/on/off); a quoted "true" is a string.
        let candidate = value == scalar.string ? scalar : Node.Scalar(value)
        guard let result = Bool.construct(from: candidate) else {
            report("\(field.path): expected true or false, found \(quoted(scalar.string))", at: field.value)
            return nil
        }
        return result
    }

    /// Parses the scalar with `parse`; its error message follows the key's path.
    func value<T>(_ field: Field, expected: String, _ parse: (String) throws(ConfigValueError) -> T) -> T? {
        guard let text = text(field.value, path: field.path, expected: expected) else { return nil }
        do {
            return try parse(text)
        } catch {
            report("\(field.path): \(error.message)", at: field.value)
            return nil
        }
    }

    func integer(_ field: Field, in range: ClosedRange<Int>) -> Int? {
        guard let number = value(field, expected: "a whole number", ValueSyntax.integer) else { return nil }
        guard range.contains(number) else {
            let bounds = range.upperBound == Int.max ? "at least \(range.lowerBound)" : "between \(range.lowerBound) and \(range.upperBound)"
            report("\(field.path): must be \(bounds), found \(number)", at: field.value)
            return nil
        }
        return number
    }

    func size(_ field: Field) -> Int? {
        guard let bytes = value(field, expected: "a size such as 1MiB", ValueSyntax.size) else { return nil }
        guard bytes > 0 else {
            report("\(field.path): must be more than 0 bytes", at: field.value)
            return nil
        }
        return bytes
    }

    func duration(_ field: Field, allowZero: Bool = false) -> Duration? {
        guard let duration = value(field, expected: "a duration such as 5s", ValueSyntax.duration) else { return nil }
        guard allowZero || duration > .zero else {
            report("\(field.path): must be longer than 0", at: field.value)
            return nil
        }
        return duration
    }

    /// A timeout: a duration, or `0` (with or without a unit) for none.
    func timeout(_ field: Field) -> Duration? {
        if case .scalar(let scalar) = field.value, scalar.string.trimmingCharacters(in: .whitespaces) == "0" {
            return .zero
        }
        return duration(field, allowZero: true)
    }

    func enumeration<E: RawRepresentable & CaseIterable>(_ field: Field, _: E.Type) -> E? where E.RawValue == String {
        let allowed = E.allCases.map(\.rawValue)
        let expected = "one of \(allowed.joined(separator: ", "))"
        guard let text = text(field.value, path: field.path, expected: expected) else { return nil }
        guard let value = E(rawValue: text.lowercased()) else {
            report("\(field.path): expected \(expected), found \(quoted(text))", at: field.value)
            return nil
        }
        return value
    }

    // MARK: Lists

    func sequence(_ field: Field) -> [Node]? {
        guard case .sequence(let sequence) = field.value else {
            report("\(field.path): expected a list, found \(describe(field.value))", at: field.value)
            return nil
        }
        return Array(sequence)
    }

    /// A list of names such as `[qradar, splunk]`; an empty list is reported with `emptyHint`.
    func nameList(_ field: Field, emptyHint: String) -> [(name: String, node: Node)]? {
        guard let items = sequence(field) else { return nil }
        guard !items.isEmpty else {
            report("\(field.path): is empty; \(emptyHint)", at: field.value)
            return nil
        }
        var names: [(name: String, node: Node)] = []
        var valid = true
        for (index, item) in items.enumerated() {
            let path = "\(field.path)[\(index)]"
            guard let name = text(item, path: path, expected: "a name") else {
                valid = false
                continue
            }
            guard !name.trimmingCharacters(in: .whitespaces).isEmpty else {
                report("\(path): must not be empty", at: item)
                valid = false
                continue
            }
            names.append((name, item))
        }
        return valid ? names : nil
    }

    // MARK: Names and references

    /// Records a defined name; a second definition of the same name is a problem.
    func define(_ kind: EntityKind, _ name: String, at field: Field) {
        let location = field.valueLocation
        if let firstLine = definitions[kind]?[name] {
            report("duplicate \(kind.noun) name \(quoted(name)) (first at line \(firstLine))", at: location)
            return
        }
        definitions[kind, default: [:]][name] = location.line
        definitionOrder[kind, default: []].append(name)
    }

    func refer(to kind: EntityKind, _ name: String, at node: Node, owner: String) {
        references.append(PendingReference(kind: kind, name: name, location: SourceLocation(node.mark), owner: owner))
    }

    /// Reports every reference to a name no entry defines.
    func checkReferences() {
        for reference in references where definitions[reference.kind]?[reference.name] == nil {
            let defined = definitionOrder[reference.kind] ?? []
            let hint = defined.isEmpty
                ? "no \(reference.kind.plural) are defined in \(reference.kind.section)"
                : "defined in \(reference.kind.section): \(defined.joined(separator: ", "))"
            report(
                "\(reference.owner) names \(reference.kind.noun) \(quoted(reference.name)), which is not defined (\(hint))",
                at: reference.location
            )
        }
    }
}
