import AlertGateCore
import Foundation

/// The timestamp forms senders write, read by hand from the bytes: no `DateFormatter`,
/// no calendar, no time-zone database.
///
/// - RFC 3339 (the RFC 5424 header, JSON `time`): `2024-03-01T08:15:30.250Z`,
///   `2024-03-01T09:15:30+01:00`; up to nine fractional digits, kept to the microsecond.
/// - RFC 3164 (BSD syslog): `Mar  1 08:15:30`, no year and no zone.
/// - CEF `start=` (and LEEF `devTime=`): `Mar 01 2024 08:15:29.125 UTC`, with or without
///   the year, the milliseconds and the zone (`UTC`, `GMT`, `Z`, `+01:00`); or
///   milliseconds since 1970; or RFC 3339.
///
/// Each gives seconds since 1970 (a `Date` is made only for the alert: `Date` is resilient
/// in Foundation on Linux, and every struct holding one is copied through its value
/// witnesses). A timestamp without a zone is taken as UTC; a named zone other than UTC/GMT (`CET`,
/// `PST`) is not read, since its offset needs a time-zone database. A timestamp without a
/// year takes the year that puts it closest to when the gateway received the message.
enum Timestamp {
    /// An RFC 3339 timestamp filling all of `range`.
    static func rfc3339(_ bytes: Bytes, _ range: Range<Int>) -> TimeInterval? {
        var index = range.lowerBound
        let end = range.upperBound
        guard let year = digits(bytes, &index, end, count: 4), separator(bytes, &index, end, "-"),
            let month = digits(bytes, &index, end, count: 2), separator(bytes, &index, end, "-"),
            let day = digits(bytes, &index, end, count: 2),
            index < end, bytes[index] == UInt8(ascii: "T") || bytes[index] == UInt8(ascii: "t") || bytes[index] == ASCII.space
        else { return nil }
        index += 1
        guard let clock = clock(bytes, &index, end), index < end else { return nil }
        let offset: Int
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
            offset = 0
        default:
            guard let numeric = numericOffset(bytes, &index, end) else { return nil }
            offset = numeric
        }
        guard index == end else { return nil }
        return date(year: year, month: month, day: day, clock, offsetSeconds: offset)
    }

    /// An RFC 3164 timestamp at the start of `range` (`Mmm dd hh:mm:ss`, the day padded
    /// with a space or a zero; an optional year after the day and fraction after the
    /// seconds, as some devices add): the date and where the timestamp ends.
    static func bsd(_ bytes: Bytes, _ range: Range<Int>, receivedAt: Date) -> (time: TimeInterval, end: Int)? {
        var index = range.lowerBound
        guard let (month, day, year) = monthDayYear(bytes, &index, range.upperBound),
            let clock = clock(bytes, &index, range.upperBound)
        else { return nil }
        guard let time = dateInferringYear(year: year, month: month, day: day, clock, offsetSeconds: 0, receivedAt: receivedAt)
        else { return nil }
        return (time, index)
    }

    /// A CEF timestamp filling all of `range` (see the type's summary).
    static func cef(_ bytes: Bytes, _ range: Range<Int>, receivedAt: Date) -> TimeInterval? {
        let range = bytes.trimmed(range)
        guard !range.isEmpty else { return nil }
        if let milliseconds = bytes.decimal(range) {
            return Double(milliseconds) / 1000
        }
        if ASCII.isDigit(bytes[range.lowerBound]) {
            return rfc3339(bytes, range)
        }
        var index = range.lowerBound
        let end = range.upperBound
        guard let (month, day, year) = monthDayYear(bytes, &index, end),
            let clock = clock(bytes, &index, end)
        else { return nil }
        var offset = 0
        if index < end {
            guard bytes[index] == ASCII.space else { return nil }
            index += 1
            guard let zone = zoneOffset(bytes, &index, end), index == end else { return nil }
            offset = zone
        }
        return dateInferringYear(year: year, month: month, day: day, clock, offsetSeconds: offset, receivedAt: receivedAt)
    }

    // MARK: - Pieces

    struct Clock {
        var hour: Int
        var minute: Int
        var second: Int
        var microsecond: Int
    }

    /// `hh:mm:ss` with an optional `.fraction` (or `,fraction`).
    private static func clock(_ bytes: Bytes, _ index: inout Int, _ end: Int) -> Clock? {
        guard let hour = digits(bytes, &index, end, count: 2), separator(bytes, &index, end, ":"),
            let minute = digits(bytes, &index, end, count: 2), separator(bytes, &index, end, ":"),
            let second = digits(bytes, &index, end, count: 2)
        else { return nil }
        var microsecond = 0
        if index < end, bytes[index] == UInt8(ascii: ".") || bytes[index] == UInt8(ascii: ",") {
            index += 1
            var scale = 100_000
            let start = index
            while index < end, ASCII.isDigit(bytes[index]) {
                microsecond += Int(bytes[index] - UInt8(ascii: "0")) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard hour < 24, minute < 60, second <= 60 else { return nil }
        return Clock(hour: hour, minute: minute, second: min(second, 59), microsecond: microsecond)
    }

    /// `Mmm dd ` or `Mmm dd yyyy ` (the day as one or two digits, space-padded or not),
    /// leaving `index` at the clock.
    private static func monthDayYear(_ bytes: Bytes, _ index: inout Int, _ end: Int) -> (month: Int, day: Int, year: Int?)? {
        guard end - index >= 7, let month = month(bytes, index) else { return nil }
        index += 3
        guard separator(bytes, &index, end, " ") else { return nil }
        if index < end, bytes[index] == ASCII.space { index += 1 }
        let dayStart = index
        while index < end, index - dayStart < 2, ASCII.isDigit(bytes[index]) { index += 1 }
        guard let day = bytes.decimal(dayStart..<index), separator(bytes, &index, end, " ") else { return nil }
        var year: Int?
        if end - index >= 5, bytes[index + 4] == ASCII.space, let value = bytes.decimal(index..<index + 4) {
            year = value
            index += 5
        }
        return (month, day, year)
    }

    private static func month(_ bytes: Bytes, _ index: Int) -> Int? {
        let key = (UInt32(ASCII.lowercased(bytes[index])) << 16) | (UInt32(ASCII.lowercased(bytes[index + 1])) << 8)
            | UInt32(ASCII.lowercased(bytes[index + 2]))
        switch key {
        case 0x6A_616E: return 1  // jan
        case 0x66_6562: return 2  // feb
        case 0x6D_6172: return 3  // mar
        case 0x61_7072: return 4  // apr
        case 0x6D_6179: return 5  // may
        case 0x6A_756E: return 6  // jun
        case 0x6A_756C: return 7  // jul
        case 0x61_7567: return 8  // aug
        case 0x73_6570: return 9  // sep
        case 0x6F_6374: return 10  // oct
        case 0x6E_6F76: return 11  // nov
        case 0x64_6563: return 12  // dec
        default: return nil
        }
    }

    /// `UTC`, `GMT`, `Z`, optionally followed by, or else simply, `+hh:mm`/`-hhmm`/`+hh`.
    private static func zoneOffset(_ bytes: Bytes, _ index: inout Int, _ end: Int) -> Int? {
        if bytes.hasPrefix("UTC", at: index, end: end) || bytes.hasPrefix("GMT", at: index, end: end) {
            index += 3
        } else if bytes[index] == UInt8(ascii: "Z") {
            index += 1
        }
        guard index < end else { return 0 }
        return numericOffset(bytes, &index, end)
    }

    /// `+hh:mm`, `-hhmm` or `+hh`, in seconds east of UTC.
    private static func numericOffset(_ bytes: Bytes, _ index: inout Int, _ end: Int) -> Int? {
        guard index < end else { return nil }
        let sign: Int
        switch bytes[index] {
        case UInt8(ascii: "+"): sign = 1
        case UInt8(ascii: "-"): sign = -1
        default: return nil
        }
        index += 1
        guard let hours = digits(bytes, &index, end, count: 2) else { return nil }
        var minutes = 0
        if index < end {
            _ = separator(bytes, &index, end, ":")
            guard let value = digits(bytes, &index, end, count: 2) else { return nil }
            minutes = value
        }
        guard hours < 24, minutes < 60 else { return nil }
        return sign * (hours * 3600 + minutes * 60)
    }

    @inline(__always)
    private static func digits(_ bytes: Bytes, _ index: inout Int, _ end: Int, count: Int) -> Int? {
        guard end - index >= count, let value = bytes.decimal(index..<index + count) else { return nil }
        index += count
        return value
    }

    @inline(__always)
    private static func separator(_ bytes: Bytes, _ index: inout Int, _ end: Int, _ expected: Unicode.Scalar) -> Bool {
        guard index < end, bytes[index] == UInt8(ascii: expected) else { return false }
        index += 1
        return true
    }

    // MARK: - Calendar arithmetic

    static func date(year: Int, month: Int, day: Int, _ clock: Clock, offsetSeconds: Int) -> TimeInterval? {
        guard (1...9999).contains(year), (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year)
        else { return nil }
        let days = daysSince1970(year: year, month: month, day: day)
        let seconds = days * 86_400 + clock.hour * 3600 + clock.minute * 60 + clock.second - offsetSeconds
        return Double(seconds) + Double(clock.microsecond) / 1_000_000
    }

    /// With `year` nil: the year among last, this and next (by `receivedAt`, in UTC) that
    /// puts the date closest to `receivedAt`, so that `Dec 31 23:59:59` read on 1 January
    /// falls in the old year.
    private static func dateInferringYear(
        year: Int?, month: Int, day: Int, _ clock: Clock, offsetSeconds: Int, receivedAt: Date
    ) -> TimeInterval? {
        if let year {
            return date(year: year, month: month, day: day, clock, offsetSeconds: offsetSeconds)
        }
        let current = UTCDateTime(receivedAt).year
        let reference = receivedAt.timeIntervalSince1970
        var best: TimeInterval?
        for candidate in (current - 1)...(current + 1) {
            guard let time = date(year: candidate, month: month, day: day, clock, offsetSeconds: offsetSeconds) else { continue }
            if let chosen = best, abs(chosen - reference) <= abs(time - reference) {
                continue
            }
            best = time
        }
        return best
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Howard Hinnant's `days_from_civil`: the day count from 1970-01-01 of a proleptic
    /// Gregorian date (the inverse of `UTCDateTime.civil`).
    static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
