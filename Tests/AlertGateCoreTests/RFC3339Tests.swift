import AlertGateCore
import Foundation
import NIOCore
import Testing

@Suite("RFC 3339 timestamps")
struct RFC3339Tests {
    @Test(
        "known instants",
        arguments: [
            (0.0, "1970-01-01T00:00:00.000Z"),
            (0.001, "1970-01-01T00:00:00.001Z"),
            (946_684_799, "1999-12-31T23:59:59.000Z"),
            (951_782_400, "2000-02-29T00:00:00.000Z"),  // leap day of a century divisible by 400
            (951_868_799.999, "2000-02-29T23:59:59.999Z"),
            (978_220_800, "2000-12-31T00:00:00.000Z"),  // day 366 of a leap year
            (1_709_164_800.5, "2024-02-29T00:00:00.500Z"),
            (1_709_280_929.125, "2024-03-01T08:15:29.125Z"),
            (1_740_787_200, "2025-03-01T00:00:00.000Z"),  // the day after 28 February of a common year
            (4_107_456_000, "2100-02-28T00:00:00.000Z"),
            (4_107_542_400, "2100-03-01T00:00:00.000Z"),  // 2100 is not a leap year
            (2_147_483_648, "2038-01-19T03:14:08.000Z"),  // past 32-bit time_t
        ]
    )
    func known(seconds: Double, text: String) {
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: seconds)) == text)
    }

    @Test("agrees with Foundation's ISO 8601 formatter from 1970 to 2400")
    func matchesFoundation() {
        let foundation = ISO8601DateFormatter()
        foundation.timeZone = TimeZone(identifier: "UTC")
        foundation.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var mismatches: [String] = []
        // Every 997,501 seconds (~11.5 days, drifting through the hours) plus an odd
        // millisecond, and half a millisecond more so that a truncating and a rounding
        // formatter both land on the same millisecond.
        var seconds: Int64 = 0
        var step = 0
        while seconds < 13_569_465_600 {  // 2400-01-01
            let milliseconds = Int64(step * 37 % 1000)
            let date = Date(timeIntervalSince1970: Double(seconds) + Double(milliseconds) / 1000 + 0.0004)
            let ours = RFC3339.string(from: date)
            let theirs = foundation.string(from: date)
            if ours != theirs { mismatches.append("\(seconds): \(ours) != \(theirs)") }
            seconds += 997_501
            step += 1
        }
        #expect(step > 13_000)
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test("every 29 February and 1 March from 1972 to 2400 agrees with Foundation")
    func leapDays() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        let foundation = ISO8601DateFormatter()
        foundation.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for year in 1972...2400 {
            let isLeap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
            let marchFirst = try #require(calendar.date(from: DateComponents(year: year, month: 3, day: 1)))
            let dayBefore = marchFirst.addingTimeInterval(-86_400 + 3_600 * 13.5)
            #expect(RFC3339.string(from: dayBefore) == foundation.string(from: dayBefore))
            #expect(RFC3339.string(from: dayBefore).hasPrefix(String(format: "%04d-02-%02dT13:30:00.000Z", year, isLeap ? 29 : 28)))
            #expect(RFC3339.string(from: marchFirst) == String(format: "%04d-03-01T00:00:00.000Z", year))
        }
    }

    @Test("rounds to the nearest millisecond, carrying into the next second, day and year")
    func rounding() throws {
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: 1_735_689_599.9996)) == "2025-01-01T00:00:00.000Z")
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: 1_735_689_599.9994)) == "2024-12-31T23:59:59.999Z")
        // A timestamp read from text is a binary double just below .123: still .123.
        let parsed = ISO8601DateFormatter()
        parsed.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let date = try #require(parsed.date(from: "2024-03-01T08:15:30.123Z"))
        #expect(RFC3339.string(from: date) == "2024-03-01T08:15:30.123Z")
        #expect(RFC3339.string(from: Date(timeIntervalSinceReferenceDate: 0.1)) == "2001-01-01T00:00:00.100Z")
    }

    @Test("the calendar fields and the extremes of Date")
    func fields() {
        let time = UTCDateTime(Date(timeIntervalSince1970: 1_709_280_929.125))
        #expect([time.year, time.month, time.day, time.hour, time.minute, time.second, time.millisecond] as [Int] == [2024, 3, 1, 8, 15, 29, 125])
        #expect(RFC3339.string(from: .distantFuture) == "4001-01-01T00:00:00.000Z")
        #expect(RFC3339.string(from: .distantPast) == "0001-01-01T00:00:00.000Z")
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: 1e15)) == "9999-12-31T23:59:59.999Z")
    }

    @Test("writes 24 bytes into the buffer, after what it holds")
    func writesIntoBuffer() {
        var buffer = ByteBufferAllocator().buffer(capacity: 0)
        buffer.writeString("t=")
        RFC3339.write(Date(timeIntervalSince1970: 0), into: &buffer)
        #expect(buffer.readableBytes == 26)
        #expect(String(buffer: buffer) == "t=1970-01-01T00:00:00.000Z")
    }
}
