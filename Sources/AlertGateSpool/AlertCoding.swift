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
        bytes.withUnsafeBytes { raw in
            var reader = Reader(bytes: raw)
            guard let recordVersion = reader.byte(), recordVersion == 1 || recordVersion == version,
                let received = reader.uint64(), let time = reader.uint64(), let severityIndex = reader.byte(),
                Int(severityIndex) < Severity.allCases.count,
                case let id?? = reader.string(), case let title?? = reader.string(), case let appliance?? = reader.string(),
                case let message? = reader.string(), case let protocolName? = reader.string(), case let engine? = reader.string(),
                case let sensor? = reader.string(), case let sourceIP? = reader.string(), case let destinationIP? = reader.string(),
                case let sourceMAC? = reader.string(), case let destinationMAC? = reader.string(), case let category? = reader.string(),
                case let raw? = reader.string()
            else { return nil }
            var extensions: String?
            if recordVersion >= 2 {
                guard case let value? = reader.string() else { return nil }
                extensions = value
            }
            return Alert(
                id: id,
                receivedAt: Date(timeIntervalSince1970: TimeInterval(Int64(bitPattern: received)) / 1000),
                time: time == UInt64.max ? nil : Date(timeIntervalSince1970: TimeInterval(Int64(bitPattern: time)) / 1000),
                severity: Severity.allCases[Int(severityIndex)],
                title: title, message: message, protocolName: protocolName, engine: engine, sensor: sensor,
                sourceIP: sourceIP, destinationIP: destinationIP, sourceMAC: sourceMAC, destinationMAC: destinationMAC,
                category: category, appliance: appliance, raw: raw, extensions: extensions)
        }
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

    /// Reads fields in place from the record's bytes.
    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var position = 0

        init(bytes: UnsafeRawBufferPointer) {
            self.bytes = bytes
        }

        mutating func byte() -> UInt8? {
            guard position < bytes.count else { return nil }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func uint64() -> UInt64? {
            guard bytes.count - position >= 8 else { return nil }
            defer { position += 8 }
            return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
        }

        /// nil: malformed; .some(nil): absent.
        mutating func string() -> String?? {
            guard bytes.count - position >= 4 else { return nil }
            let length = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self))
            position += 4
            if length == AlertCoding.absent { return .some(nil) }
            guard bytes.count - position >= Int(length) else { return nil }
            defer { position += Int(length) }
            return .some(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<(position + Int(length))]), as: UTF8.self))
        }
    }
}
