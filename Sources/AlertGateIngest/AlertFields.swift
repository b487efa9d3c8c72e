import AlertGateCore
import Foundation

#if canImport(Synchronization)
import Synchronization
#endif

/// The alert fields one payload gave, before the envelope and the defaults fill the rest.
struct AlertFields {
    var id: String?
    /// Seconds since 1970 (see `Timestamp`).
    var time: TimeInterval?
    var severity: Severity?
    var title: String?
    var message: String?
    var protocolName: String?
    var engine: String?
    var sensor: String?
    var sourceIP: String?
    var destinationIP: String?
    var sourceMAC: String?
    var destinationMAC: String?
    var category: String?
    var raw: String?
    /// CEF extension pairs no field took, as received.
    var extensions: String?
    /// A timestamp field was present but unreadable.
    var unreadableTime = false
}

/// The words senders use for severities and engines.
enum Vocabulary {
    /// A severity word in any case: alertgate's and Defender's `warning`, `minor`, `major`,
    /// `critical`, and the CEF specification's `Low`, `Medium`, `High`, `Very-High` (the
    /// same four bands of 0–10).
    static func severity(word bytes: Bytes, _ range: Range<Int>) -> Severity? {
        let range = bytes.trimmed(range)
        switch range.count {
        case 3: return bytes.equalsIgnoringCase(range, "low") ? .warning : nil
        case 4: return bytes.equalsIgnoringCase(range, "high") ? .major : nil
        case 5:
            if bytes.equalsIgnoringCase(range, "minor") { return .minor }
            if bytes.equalsIgnoringCase(range, "major") { return .major }
            return nil
        case 6: return bytes.equalsIgnoringCase(range, "medium") ? .minor : nil
        case 7: return bytes.equalsIgnoringCase(range, "warning") ? .warning : nil
        case 8: return bytes.equalsIgnoringCase(range, "critical") ? .critical : nil
        case 9:
            if bytes.equalsIgnoringCase(range, "very-high") || bytes.equalsIgnoringCase(range, "very high") {
                return .critical
            }
            return nil
        default: return nil
        }
    }

    /// A number 0–10 (CEF's scale: Defender's 1/4/8/10 included).
    static func severity(number bytes: Bytes, _ range: Range<Int>) -> Severity? {
        guard let value = bytes.decimal(bytes.trimmed(range)) else { return nil }
        return Severity(numeric: value)
    }

    /// A word or a number, the word tried first.
    static func severity(_ bytes: Bytes, _ range: Range<Int>) -> Severity? {
        severity(word: bytes, range) ?? severity(number: bytes, range)
    }

    /// The severity of a syslog PRI (RFC 5424 §6.2.1): 0–2 (Emergency, Alert, Critical) →
    /// critical, 3 (Error) → major, 4 (Warning) → minor, 5–7 (Notice, Informational,
    /// Debug) → warning.
    static func severity(priority: Int) -> Severity {
        switch priority & 7 {
        case 0...2: .critical
        case 3: .major
        case 4: .minor
        default: .warning
        }
    }

    /// An engine as the config names it: Defender's `type=` words turned back (`Policy
    /// Violation` → `policy`, any case), other names as they came.
    static func engine(_ bytes: Bytes, _ range: Range<Int>, _ escaping: Unescaping?) -> String? {
        switch range.count {
        case 7:
            if bytes.equalsIgnoringCase(range, "anomaly") { return "anomaly" }
            if bytes.equalsIgnoringCase(range, "malware") { return "malware" }
        case 11:
            if bytes.equalsIgnoringCase(range, "operational") { return "operational" }
        case 16:
            if bytes.equalsIgnoringCase(range, "policy violation") { return "policy" }
        case 18:
            if bytes.equalsIgnoringCase(range, "protocol violation") { return "protocol" }
        default:
            break
        }
        return bytes.nonEmptyString(range, escaping)
    }
}

/// Ids for alerts that came without one.
///
/// They look like lowercase version-4 UUIDs, as Defender writes its own, but are not drawn
/// from the system's random source each time: Foundation's `UUID()` reads `/dev/urandom`
/// on Linux, about a microsecond and a half an id. Instead, 122 random bits drawn once
/// per process, the low 62 XORed with a process-wide counter: ids are distinct within a
/// process (until 2^62 of them) and, by the random part, across processes and restarts,
/// which a spool that outlives a process needs.
enum AlertID {
    private static let key: (high: UInt64, low: UInt64) = {
        var generator = SystemRandomNumberGenerator()
        return (generator.next(), generator.next())
    }()

    static func make() -> String {
        let high = (key.high & ~0xF000) | 0x4000  // version 4 in bits 12–15
        let low = ((key.low ^ nextSequence()) & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000  // variant 10
        return String(unsafeUninitializedCapacity: 36) { output in
            let hex: StaticString = "0123456789abcdef"
            let digits = hex.utf8Start
            var written = 0
            for index in 0..<16 {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    output[written] = UInt8(ascii: "-")
                    written += 1
                }
                let word = index < 8 ? high : low
                let byte = UInt8(truncatingIfNeeded: word >> (56 - 8 * UInt64(index % 8)))
                output[written] = digits[Int(byte >> 4)]
                output[written + 1] = digits[Int(byte & 0x0F)]
                written += 2
            }
            return written
        }
    }

    private static func nextSequence() -> UInt64 {
        #if canImport(Synchronization)
        if #available(macOS 15, iOS 18, tvOS 18, watchOS 11, visionOS 2, *) {
            return Counter.value.wrappingAdd(1, ordering: .relaxed).oldValue
        }
        #endif
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }
}

#if canImport(Synchronization)
@available(macOS 15, iOS 18, tvOS 18, watchOS 11, visionOS 2, *)
private enum Counter {
    static let value = Atomic<UInt64>(0)
}
#endif
