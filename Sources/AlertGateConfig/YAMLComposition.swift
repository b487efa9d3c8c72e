import Yams

/// Composes the YAML text into Yams nodes, keeping going past duplicate mapping keys.
///
/// Yams' composer throws on the first duplicate key of a mapping (naming the first
/// occurrence only). To report every duplicate where it is, with the rest of the file
/// checked too, the key that Yams names has its first character swapped for a private-use
/// character, a different one each time, and the text is composed again. That keeps every
/// line and column where it was. `KeyRestorer` turns such keys back into what the file says,
/// and the decoder then sees both occurrences and reports the later one.
struct YAMLComposition {
    enum Outcome {
        case document(Node?, KeyRestorer)
        case failure(ConfigDiagnostic)
    }

    /// Enough for any real file; the loop ends sooner when the text has no more duplicates.
    private static let maximumRenames = 1000
    private static let firstPlaceholder: UInt32 = 0xF0000  // Supplementary Private Use Area-A

    static func compose(_ text: String) -> Outcome {
        // Lines as Unicode scalars: libyaml counts columns in scalars, and "\r\n" stays two of them.
        var lines = Array(text.unicodeScalars).split(separator: "\n", omittingEmptySubsequences: false).map(Array.init)
        var restorer = KeyRestorer()
        var working = text
        while true {
            do {
                return .document(try Yams.compose(yaml: working), restorer)
            } catch let YamlError.duplicatedKeysInMapping(duplicates, context) {
                let placeholderValue = firstPlaceholder + UInt32(restorer.count)
                guard restorer.count < maximumRenames,
                      let placeholder = Unicode.Scalar(placeholderValue),
                      let original = replaceKeyCharacter(in: &lines, at: context.mark, with: placeholder)
                else {
                    let names = duplicates.map { quoted($0) }.joined(separator: ", ")
                    return .failure(ConfigDiagnostic(location: SourceLocation(context.mark), message: "duplicate key \(names) in a mapping"))
                }
                restorer.add(placeholder: placeholder, original: original)
                working = lines.map { String(String.UnicodeScalarView($0)) }.joined(separator: "\n")
            } catch let error as YamlError {
                return .failure(diagnostic(for: error, in: working))
            } catch {
                return .failure(ConfigDiagnostic(location: .start, message: "invalid YAML: \(error)"))
            }
        }
    }

    /// Swaps the first character of the key scalar that starts at `mark` (after its opening
    /// quote, if quoted). Returns the character replaced, or nil where that cannot be done
    /// without changing what the text means.
    private static func replaceKeyCharacter(
        in lines: inout [[Unicode.Scalar]], at mark: Mark, with placeholder: Unicode.Scalar
    ) -> Unicode.Scalar? {
        let lineIndex = mark.line - 1
        var column = mark.column - 1
        guard lines.indices.contains(lineIndex), lines[lineIndex].indices.contains(column) else { return nil }
        let first = lines[lineIndex][column]
        if first == "\"" || first == "'" {
            column += 1
            guard lines[lineIndex].indices.contains(column) else { return nil }
            let next = lines[lineIndex][column]
            if next == first || next == "\\" { return nil }
        } else if "[]{}&*!|>?%@`#,:- \t\r".unicodeScalars.contains(first) {
            return nil
        }
        let original = lines[lineIndex][column]
        lines[lineIndex][column] = placeholder
        return original
    }

    private static func diagnostic(for error: YamlError, in text: String) -> ConfigDiagnostic {
        func located(_ problem: String, _ context: YamlError.Context?, _ mark: Mark) -> ConfigDiagnostic {
            var message = "invalid YAML: \(problem)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            return ConfigDiagnostic(location: SourceLocation(mark), message: message)
        }
        switch error {
        case let .scanner(context, problem, mark, _),
             let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            return located(problem, context, mark)
        case let .reader(problem, offset, _, _):
            return ConfigDiagnostic(location: location(ofCharacterOffset: offset, in: text), message: "invalid YAML: \(problem)")
        case let .duplicatedKeysInMapping(duplicates, context):
            return ConfigDiagnostic(location: SourceLocation(context.mark), message: "duplicate key \(duplicates.map { quoted($0) }.joined(separator: ", "))")
        default:
            return ConfigDiagnostic(location: .start, message: "invalid YAML: \(error)")
        }
    }

    private static func location(ofCharacterOffset offset: Int?, in text: String) -> SourceLocation {
        guard let offset, offset >= 0 else { return .start }
        var line = 1
        var column = 1
        for character in text.prefix(offset) {
            if character == "\n" || character == "\r\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return SourceLocation(line: line, column: column)
    }
}

/// Maps keys that `YAMLComposition` renamed back to their text in the file.
struct KeyRestorer {
    private var originals: [Unicode.Scalar: Unicode.Scalar] = [:]

    var count: Int { originals.count }

    mutating func add(placeholder: Unicode.Scalar, original: Unicode.Scalar) {
        originals[placeholder] = original
    }

    func restore(_ key: String) -> String {
        guard let first = key.unicodeScalars.first, let original = originals[first] else { return key }
        var scalars = String.UnicodeScalarView()
        scalars.append(original)
        scalars.append(contentsOf: key.unicodeScalars.dropFirst())
        return String(scalars)
    }
}
