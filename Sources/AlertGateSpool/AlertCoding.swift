import AlertGateCore
import Foundation

/// The spool's binary form of an alert: a version byte, then each field as a tag-free,
/// length-prefixed UTF-8 string in a fixed order (absent optionals as length 0xFFFF_FFFF),
/// times as milliseconds since 1970. Compact and fast; a new field means a new version.
extension Severity {
    /// The severity's byte in a record: its place in `allCases`.
    var codingIndex: UInt8 {
        switch self {
        case .warning: 0
        case .minor: 1
        case .major: 2
        case .critical: 3
        }
    }
}

enum AlertCoding {
    /// 2 added `extensions`; records of version 1 are still read.
    static let version: UInt8 = 2
    private static let absent = UInt32.max

    /// Field by field, without arrays of fields or byte-by-byte copies: every alert a
    /// listener accepts is encoded once per partner, on the ingest path.
    static func encode(_ alert: Alert, into bytes: inout [UInt8]) {
        bytes.append(version)
        append(UInt64(bitPattern: Int64((alert.receivedAt.timeIntervalSince1970 * 1000).rounded())), to: &bytes)
        append(alert.time.map { UInt64(bitPattern: Int64(($0.timeIntervalSince1970 * 1000).rounded())) } ?? UInt64.max, to: &bytes)
        bytes.append(alert.severity.codingIndex)
        append(alert.id, to: &bytes)
        append(alert.title, to: &bytes)
        append(alert.appliance, to: &bytes)
        append(alert.message, to: &bytes)
        append(alert.protocolName, to: &bytes)
        append(alert.engine, to: &bytes)
        append(alert.sensor, to: &bytes)
        append(alert.sourceIP, to: &bytes)
        append(alert.destinationIP, to: &bytes)
        append(alert.sourceMAC, to: &bytes)
        append(alert.destinationMAC, to: &bytes)
        append(alert.category, to: &bytes)
        append(alert.raw, to: &bytes)
        append(alert.extensions, to: &bytes)
    }

    static func decode(_ bytes: ArraySlice<UInt8>) -> Alert? {
        var reader = Reader(bytes: bytes)
        guard let recordVersion = reader.byte(), recordVersion == 1 || recordVersion == version,
            let received = reader.uint64(), let time = reader.uint64(), let severityIndex = reader.byte(),
            Int(severityIndex) < Severity.allCases.count,
            case let id?? = reader.string(), case let title?? = reader.string(), case let appliance?? = reader.string()
        else { return nil }
        var optionals: [String?] = []
        for _ in 0..<(recordVersion == 1 ? 10 : 11) {
            guard let field = reader.string() else { return nil }
            optionals.append(field)
        }
        return Alert(
            id: id,
            receivedAt: Date(timeIntervalSince1970: TimeInterval(Int64(bitPattern: received)) / 1000),
            time: time == UInt64.max ? nil : Date(timeIntervalSince1970: TimeInterval(Int64(bitPattern: time)) / 1000),
            severity: Severity.allCases[Int(severityIndex)],
            title: title,
            message: optionals[0], protocolName: optionals[1], engine: optionals[2], sensor: optionals[3],
            sourceIP: optionals[4], destinationIP: optionals[5], sourceMAC: optionals[6], destinationMAC: optionals[7],
            category: optionals[8], appliance: appliance, raw: optionals[9], extensions: optionals.count > 10 ? optionals[10] : nil)
    }

    private static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private static func append(_ value: String?, to bytes: inout [UInt8]) {
        guard let value else {
            withUnsafeBytes(of: absent.littleEndian) { bytes.append(contentsOf: $0) }
            return
        }
        let utf8 = value.utf8
        withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        // One memcpy for a native string; element by element only for a bridged one.
        if utf8.withContiguousStorageIfAvailable({ bytes.append(contentsOf: $0) }) == nil {
            bytes.append(contentsOf: utf8)
        }
    }

    private struct Reader {
        var bytes: ArraySlice<UInt8>

        mutating func byte() -> UInt8? {
            bytes.popFirst()
        }

        mutating func uint64() -> UInt64? {
            guard bytes.count >= 8 else { return nil }
            let value = bytes.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            bytes = bytes.dropFirst(8)
            return value
        }

        /// nil: malformed; .some(nil): absent.
        mutating func string() -> String?? {
            guard bytes.count >= 4 else { return nil }
            let length = bytes.prefix(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            bytes = bytes.dropFirst(4)
            if length == AlertCoding.absent { return .some(nil) }
            guard bytes.count >= Int(length) else { return nil }
            let text = String(decoding: bytes.prefix(Int(length)), as: UTF8.self)
            bytes = bytes.dropFirst(Int(length))
            return .some(text)
        }
    }
}
