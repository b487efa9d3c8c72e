import AlertGateCore
import Foundation

/// Alerts the format tests share, with the text each field should become.
enum Fixtures {
    /// 2024-03-01T08:15:30.250Z
    static let receivedAt = Date(timeIntervalSince1970: 1_709_280_930.250)
    /// 2024-03-01T08:15:29.125Z
    static let detectedAt = Date(timeIntervalSince1970: 1_709_280_929.125)

    /// A parsed Defender alert with every field the formats carry.
    static let full = Alert(
        id: "5f1c2e9a-0b7d-4c1e-9a53-2f8e4d6b7a10",
        receivedAt: receivedAt,
        time: detectedAt,
        severity: .major,
        title: "Unauthorized PLC Programming",
        message: "The source device 10.1.0.5 programmed PLC 10.1.0.20 outside a maintenance window",
        protocolName: "s7comm",
        engine: "policy",
        sensor: "sensor-1",
        sourceIP: "10.1.0.5",
        destinationIP: "10.1.0.20",
        sourceMAC: "00:1a:2b:3c:4d:5e",
        destinationMAC: "00:1a:2b:3c:4d:5f",
        category: "Programming",
        appliance: "plant-a-sensor"
    )

    /// Only what every alert has.
    static let minimal = Alert(
        id: "a1",
        receivedAt: receivedAt,
        severity: .warning,
        title: "Sensor Traffic Stopped",
        appliance: "sensor-2"
    )

    /// A message no parser understood, forwarded as it came.
    static let unparsed = Alert(
        id: "u-7",
        receivedAt: receivedAt,
        severity: .warning,
        title: "",
        appliance: "plc-gw",
        raw: "<13>Mar  1 08:15:30 plc-gw kernel: eth1 link down"
    )

    static func formatter(_ format: AlertFormat, hostname: String = "gw01.plant.example", version: String = "1.2.0") -> AlertFormatter {
        AlertFormatter(format: format, hostname: hostname, productVersion: version)
    }

    static func with(_ alert: Alert, _ change: (inout Alert) -> Void) -> Alert {
        var copy = alert
        change(&copy)
        return copy
    }
}

/// What a SIEM's CEF parser recovers from an extension: each `key=value` with the value
/// unescaped (`\\`, `\=`, `\n`, `\r`). A key starts after a space and ends at an unescaped
/// `=`; a value runs to the next such key.
func parseCEFExtension(_ text: String) -> [(key: String, value: String)] {
    let scalars = Array(text.unicodeScalars)
    // The positions of the unescaped `=` that end a key.
    var separators: [Int] = []
    var index = 0
    while index < scalars.count {
        if scalars[index] == "\\" {
            index += 2
            continue
        }
        if scalars[index] == "=" { separators.append(index) }
        index += 1
    }
    var pairs: [(key: String, value: String)] = []
    var keyStart = 0
    for (number, separator) in separators.enumerated() {
        let key = String(String.UnicodeScalarView(scalars[keyStart..<separator]))
        var valueEnd = scalars.count
        if number + 1 < separators.count {
            // The next key is the word before the next separator.
            var start = separators[number + 1]
            while start > separator + 1, scalars[start - 1] != " " { start -= 1 }
            valueEnd = start - 1
            keyStart = start
        }
        let raw = String(String.UnicodeScalarView(scalars[(separator + 1)..<max(separator + 1, valueEnd)]))
        pairs.append((key, unescape(raw, ["\\": "\\", "=": "=", "n": "\n", "r": "\r"])))
    }
    return pairs
}

/// LEEF 1.0 attributes: TAB-separated, the key ending at the first `=`, values unescaped.
func parseLEEFAttributes(_ text: String) -> [(key: String, value: String)] {
    var pairs: [(key: String, value: String)] = []
    for attribute in text.split(separator: "\t", omittingEmptySubsequences: false) {
        let parts = attribute.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let value = parts.count > 1 ? String(parts[1]) : ""
        // LEEF defines no escapes in values: the value is everything after the first `=`.
        pairs.append((String(parts[0]), value))
    }
    return pairs
}

/// The header fields of a CEF or LEEF payload (split at unescaped `|`, unescaped), and
/// what follows the last one.
func splitHeader(_ text: String, fields: Int) -> (fields: [String], rest: String) {
    var result: [String] = []
    var current = ""
    var scalars = text.unicodeScalars[...]
    while result.count < fields, let scalar = scalars.popFirst() {
        if scalar == "\\", let next = scalars.popFirst() {
            current.unicodeScalars.append(next)
        } else if scalar == "|" {
            result.append(current)
            current = ""
        } else {
            current.unicodeScalars.append(scalar)
        }
    }
    return (result, String(scalars))
}

private func unescape(_ text: String, _ escapes: [Character: Character]) -> String {
    var result = ""
    var iterator = text.makeIterator()
    while let character = iterator.next() {
        if character == "\\", let next = iterator.next() {
            result.append(escapes[next] ?? next)
        } else {
            result.append(character)
        }
    }
    return result
}
