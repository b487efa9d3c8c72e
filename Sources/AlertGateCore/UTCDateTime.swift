import Foundation
import NIOCore

/// A point in time broken down into its UTC calendar fields, to the millisecond.
///
/// Computed with integer arithmetic alone (no calendar, no formatter, no time zone
/// database), so that formatting an alert's timestamps costs a few dozen instructions.
/// The date is rounded to the nearest millisecond: a `Date` holds a binary double, and
/// `…30.123` read from a message is stored as `…30.12299999`; rounding gives back `.123`.
/// Dates outside 0001-01-01 … 9999-12-31 are clamped to that range, which RFC 3339's
/// four-digit year can express.
public struct UTCDateTime: Sendable, Hashable {
    public var year: Int
    /// 1...12
    public var month: Int
    /// 1...31
    public var day: Int
    /// 0...23
    public var hour: Int
    /// 0...59
    public var minute: Int
    /// 0...59 (`Date` has no leap seconds)
    public var second: Int
    /// 0...999
    public var millisecond: Int

    /// Milliseconds from 1970-01-01T00:00:00Z to 0001-01-01T00:00:00Z and to
    /// 9999-12-31T23:59:59.999Z.
    static let minimumMilliseconds: Int64 = -62_135_596_800_000
    static let maximumMilliseconds: Int64 = 253_402_300_799_999

    public init(_ date: Date) {
        // Work from the reference date (2001), the double `Date` actually stores, and add
        // the offset to 1970 exactly, in integers.
        let offset: Int64 = 978_307_200_000
        let sinceReference = (date.timeIntervalSinceReferenceDate * 1000).rounded()
        let clamped = sinceReference.isNaN ? 0 : min(
            max(sinceReference, Double(Self.minimumMilliseconds - offset)),
            Double(Self.maximumMilliseconds - offset)
        )
        self.init(millisecondsSince1970: Int64(clamped) + offset)
    }

    /// `milliseconds` counts from 1970-01-01T00:00:00Z; it must lie within the clamped range.
    init(millisecondsSince1970 milliseconds: Int64) {
        let (days, millisecondOfDay) = Self.floorDivide(milliseconds, 86_400_000)
        let (year, month, day) = Self.civil(daysSince1970: days)
        self.year = year
        self.month = month
        self.day = day
        let ofDay = Int(millisecondOfDay)
        self.hour = ofDay / 3_600_000
        self.minute = ofDay / 60_000 % 60
        self.second = ofDay / 1000 % 60
        self.millisecond = ofDay % 1000
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        var quotient = value / divisor
        var remainder = value % divisor
        if remainder < 0 {
            quotient -= 1
            remainder += divisor
        }
        return (quotient, remainder)
    }

    /// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's
    /// `civil_from_days`: eras of 400 years, years starting on 1 March so that the leap
    /// day falls last).
    static func civil(daysSince1970 days: Int64) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468  // days from 0000-03-01
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097  // 0...146096
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365  // 0...399
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // 0...365, from 1 March
        let shiftedMonth = (5 * dayOfYear + 2) / 153  // 0...11, March = 0
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }
}

/// RFC 3339 timestamps in UTC with milliseconds: `2024-03-01T08:15:30.250Z`, the form the
/// RFC 5424 header (§6.2.3, at most six fractional digits) and the JSON format carry.
public enum RFC3339 {
    /// The length of every timestamp written.
    public static let length = 24

    /// Writes the 24 bytes of `date`'s timestamp.
    public static func write(_ date: Date, into buffer: inout ByteBuffer) {
        let time = UTCDateTime(date)
        buffer.writeDirect(reserving: length) { $0.rfc3339(time) }
    }

    public static func string(from date: Date) -> String {
        var buffer = ByteBufferAllocator().buffer(capacity: length)
        write(date, into: &buffer)
        return String(buffer: buffer)
    }
}

extension ByteWriter {
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`
    @inline(__always)
    mutating func rfc3339(_ time: UTCDateTime) {
        decimal(time.year, width: 4)
        byte(UInt8(ascii: "-"))
        twoDigits(time.month)
        byte(UInt8(ascii: "-"))
        twoDigits(time.day)
        byte(UInt8(ascii: "T"))
        twoDigits(time.hour)
        byte(UInt8(ascii: ":"))
        twoDigits(time.minute)
        byte(UInt8(ascii: ":"))
        twoDigits(time.second)
        byte(UInt8(ascii: "."))
        decimal(time.millisecond, width: 3)
        byte(UInt8(ascii: "Z"))
    }
}
