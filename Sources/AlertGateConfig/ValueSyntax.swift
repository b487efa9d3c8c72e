import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The syntax of single values: durations, sizes, addresses, subjects, `${VAR}`. Pure
// functions; the decoder adds the key and the line/column.

func quoted(_ text: String) -> String {
    "\"\(text)\""
}

enum ValueSyntax {
    /// `500ms`, `5s`, `1m`, `2h` (a space between number and unit is allowed).
    static func duration(_ text: String) throws(ConfigValueError) -> Duration {
        let (number, unit) = try splitNumberAndUnit(text) { ConfigValueError("expected a duration such as 5s, 500ms, 1m or 2h, found \(quoted(text))") }
        let perUnit: (multiplier: Int, toDuration: (Int) -> Duration)
        switch unit {
        case "ms": perUnit = (1, { .milliseconds($0) })
        case "s": perUnit = (1, { .seconds($0) })
        case "m": perUnit = (60, { .seconds($0) })
        case "h": perUnit = (3600, { .seconds($0) })
        case "":
            throw ConfigValueError("expected a duration such as 5s, found \(quoted(text)) (the unit ms, s, m or h is required)")
        default:
            throw ConfigValueError("expected a duration such as 5s, found \(quoted(text)) (units: ms, s, m, h)")
        }
        let (value, overflow) = number.multipliedReportingOverflow(by: perUnit.multiplier)
        guard !overflow else { throw ConfigValueError("duration \(quoted(text)) is too large") }
        return perUnit.toDuration(value)
    }

    /// `512KiB`, `1MiB`, `1GiB`, or a plain number of bytes (`65536`, `100B`).
    static func size(_ text: String) throws(ConfigValueError) -> Int {
        let (number, unit) = try splitNumberAndUnit(text) { ConfigValueError("expected a size such as 64KiB, 1MiB, 1GiB or a number of bytes, found \(quoted(text))") }
        let multiplier: Int
        switch unit.lowercased() {
        case "", "b": multiplier = 1
        case "kib": multiplier = 1 << 10
        case "mib": multiplier = 1 << 20
        case "gib": multiplier = 1 << 30
        default:
            throw ConfigValueError("expected a size such as 64KiB, 1MiB, 1GiB or a number of bytes, found \(quoted(text)) (units: KiB, MiB, GiB)")
        }
        let (value, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { throw ConfigValueError("size \(quoted(text)) is too large") }
        return value
    }

    /// A whole decimal number.
    static func integer(_ text: String) throws(ConfigValueError) -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-") }),
              let value = Int(trimmed)
        else {
            throw ConfigValueError("expected a whole number, found \(quoted(text))")
        }
        return value
    }

    /// Digits, optional spaces, then a unit made of letters.
    private static func splitNumberAndUnit(
        _ text: String, syntaxError: () -> ConfigValueError
    ) throws(ConfigValueError) -> (Int, String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        let unit = trimmed.dropFirst(digits.count).drop { $0 == " " }
        guard !digits.isEmpty, unit.allSatisfy({ $0.isASCII && $0.isLetter }) else {
            throw syntaxError()
        }
        guard let number = Int(digits) else {
            throw ConfigValueError("\(quoted(text)) is too large")
        }
        return (number, String(unit))
    }
}

// MARK: - addresses

enum IPAddress {
    static func isIPv4(_ text: String) -> Bool {
        var storage = in_addr()
        return inet_pton(AF_INET, text, &storage) == 1
    }

    static func isIPv6(_ text: String) -> Bool {
        var storage = in6_addr()
        return inet_pton(AF_INET6, text, &storage) == 1
    }
}

extension HostPort {
    /// Parses `host:port`, `1.2.3.4:port` or `[v6-address]:port`; with `defaultPort`, the
    /// port may be left out.
    public init(parsing text: String, defaultPort: Int? = nil) throws(ConfigValueError) {
        let syntax = ConfigValueError("expected HOST:PORT such as 127.0.0.1:9180 or [::1]:9180, found \(quoted(text))")
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw syntax }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if rest.hasPrefix(":") {
                portText = rest.dropFirst()
            } else if !rest.isEmpty {
                throw syntax
            }
            guard IPAddress.isIPv6(String(host)) else {
                throw ConfigValueError("\(quoted(String(host))) in \(quoted(text)) is not an IPv6 address")
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") {
                throw ConfigValueError("an IPv6 address needs brackets, as in [::1]:9180; found \(quoted(text))")
            }
        } else {
            host = Substring(text)
        }
        guard !host.isEmpty, !host.contains(where: { $0.isWhitespace || "/@?#".contains($0) }) else {
            throw syntax
        }
        let port: Int
        if let portText {
            guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(portText) else {
                throw syntax
            }
            port = value
        } else if let defaultPort {
            port = defaultPort
        } else {
            throw syntax
        }
        guard (1...65535).contains(port) else {
            throw ConfigValueError("port \(port) in \(quoted(text)) is out of range (1-65535)")
        }
        self.init(host: String(host), port: port)
    }

    /// An `http://host[:port][/]` proxy URL (port 80 when left out).
    static func parsingHTTPProxy(_ text: String) throws(ConfigValueError) -> HostPort {
        let scheme = "http://"
        guard text.lowercased().hasPrefix(scheme) else {
            throw ConfigValueError("expected an http:// URL such as http://proxy.local:3128, found \(quoted(text)) (CRLs are fetched over http:// only)")
        }
        var authority = text.dropFirst(scheme.count)
        if authority.hasSuffix("/") { authority = authority.dropLast() }
        guard !authority.contains("/"), !authority.contains("@") else {
            throw ConfigValueError("expected an http:// URL with only a host and port, such as http://proxy.local:3128, found \(quoted(text))")
        }
        return try HostPort(parsing: String(authority), defaultPort: 80)
    }
}

extension CIDR {
    /// Parses `10.1.2.0/24` or `fd00::/64`; a bare address is a host network.
    public init(parsing text: String) throws(ConfigValueError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else {
            throw ConfigValueError("expected a network such as 10.1.2.0/24 or fd00::/64, found \(quoted(text))")
        }
        let address = String(parts[0])
        let maxPrefix: Int
        if IPAddress.isIPv4(address) {
            maxPrefix = 32
        } else if IPAddress.isIPv6(address) {
            maxPrefix = 128
        } else {
            throw ConfigValueError("expected a network such as 10.1.2.0/24 or fd00::/64, found \(quoted(text)): \(quoted(address)) is not an IP address")
        }
        var prefix = maxPrefix
        if parts.count == 2 {
            let prefixText = parts[1]
            guard !prefixText.isEmpty, prefixText.count <= 3, prefixText.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = Int(prefixText), value <= maxPrefix
            else {
                throw ConfigValueError("prefix length in \(quoted(text)) must be 0-\(maxPrefix)")
            }
            prefix = value
        }
        self.init(address: address, prefix: prefix)
    }
}

// MARK: - subjects

extension SubjectAttribute {
    /// The keys a subject string may set (the CN has its own field), in the order the
    /// spelling is normalised to.
    public static let allowedKeys: [String] = ["C", "ST", "L", "O", "OU", "emailAddress"]

    /// Parses `C=US,O=Contoso,OU=OT` (spaces around items are ignored; `\,` is a literal comma).
    public static func parseList(_ text: String) throws(ConfigValueError) -> [SubjectAttribute] {
        var items: [String] = []
        var current = ""
        var escaping = false
        for character in text {
            if escaping {
                current.append(character)
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else if character == "," {
                items.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        items.append(current)

        var attributes: [SubjectAttribute] = []
        for item in items {
            let trimmed = item.trimmingCharacters(in: .whitespaces)
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw ConfigValueError("expected KEY=value items such as C=US,O=Contoso,OU=OT, found \(quoted(trimmed))")
            }
            let key = trimmed[..<equals].trimmingCharacters(in: .whitespaces)
            let value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if key.uppercased() == "CN" {
                throw ConfigValueError("the subject may not set CN: the common name has its own setting")
            }
            guard let canonical = allowedKeys.first(where: { $0.lowercased() == key.lowercased() }) else {
                throw ConfigValueError("unknown subject key \(quoted(key)); expected one of: \(allowedKeys.joined(separator: ", "))")
            }
            guard !value.isEmpty else {
                throw ConfigValueError("subject key \(canonical) has no value")
            }
            if canonical == "C", !(value.count == 2 && value.allSatisfy({ $0.isASCII && $0.isLetter })) {
                throw ConfigValueError("subject C must be a two-letter country code, found \(quoted(value))")
            }
            attributes.append(SubjectAttribute(key: canonical, value: value))
        }
        return attributes
    }
}

// MARK: - ${VAR}

enum EnvironmentSubstitution {
    /// Replaces each `${NAME}` by the variable's value; `$${` is a literal `${`.
    static func apply(to text: String, environment: [String: String]) throws(ConfigValueError) -> String {
        guard text.contains("${") else { return text }
        var result = ""
        var missing: [String] = []
        var index = text.startIndex
        while index < text.endIndex {
            let rest = text[index...]
            if rest.hasPrefix("$${") {
                result += "${"
                index = text.index(index, offsetBy: 3)
            } else if rest.hasPrefix("${") {
                let nameStart = text.index(index, offsetBy: 2)
                guard let close = text[nameStart...].firstIndex(of: "}") else {
                    throw ConfigValueError("unterminated ${ in \(quoted(text)) (write $${ for a literal ${)")
                }
                let name = String(text[nameStart..<close])
                guard isVariableName(name) else {
                    throw ConfigValueError("\(quoted("${" + name + "}")) is not a valid environment variable reference (write $${ for a literal ${)")
                }
                if let value = environment[name] {
                    result += value
                } else if !missing.contains(name) {
                    missing.append(name)
                }
                index = text.index(after: close)
            } else {
                result.append(text[index])
                index = text.index(after: index)
            }
        }
        switch missing.count {
        case 0: return result
        case 1: throw ConfigValueError("environment variable \(missing[0]) is not set")
        default: throw ConfigValueError("environment variables \(missing.joined(separator: ", ")) are not set")
        }
    }

    private static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else {
            return false
        }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }
}

// MARK: - paths

enum PathResolution {
    /// `path` if absolute, else `base/path`, with `.` and `..` removed.
    static func resolve(_ path: String, against base: String) -> String {
        let joined = path.hasPrefix("/") ? path : base + "/" + path
        var components: [Substring] = []
        for component in joined.split(separator: "/") {
            switch component {
            case ".": continue
            case "..": _ = components.popLast()
            default: components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }

    static func directoryURL(_ path: String, against base: String) -> URL {
        URL(fileURLWithPath: resolve(path, against: base), isDirectory: true)
    }

    /// The absolute, normalised path of a file URL (relative URLs are taken against the
    /// current directory).
    static func absolutePath(of url: URL) -> String {
        let path = url.standardizedFileURL.path
        return resolve(path, against: FileManager.default.currentDirectoryPath)
    }
}
