import Foundation
import NIOCore
import Testing

@testable import AlertGateCore

/// Content larger than the formatter's estimate (issue 10: a CEF alert whose unknown
/// extension keys total more than ~650 bytes crashed the gateway): every format writes it
/// whole, and nothing traps.
@Suite struct LargeContentFormatTests {
    /// Real vendor CEF carries cs1…cs6 with their labels, and more.
    static let vendorExtensions: String = (1...6).map { index in
        "cs\(index)Label=Custom string \(index) of the vendor's rule engine cs\(index)=" + String(repeating: "value-\(index) ", count: 12)
    }.joined(separator: " ") + " deviceExternalId=PLC-7 act=blocked requestClientApplication=engineering-workstation"

    static let alert = Alert(
        id: "5f1c2e9a-0b7d-4c1e-9a53-2f8e4d6b7a10", receivedAt: Date(timeIntervalSince1970: 1_709_280_930.25),
        time: Date(timeIntervalSince1970: 1_709_280_929.125), severity: .major, title: "Unauthorized PLC Programming",
        message: "programmed outside a maintenance window", protocolName: "s7comm", engine: "policy", sensor: "sensor-1",
        sourceIP: "10.1.0.5", destinationIP: "10.1.0.20", appliance: "plant-a-sensor", extensions: vendorExtensions)

    @Test func theExtensionsAreLongerThanTheOldEstimateLeftRoomFor() {
        #expect(Self.vendorExtensions.utf8.count > 1_000)
    }

    @Test(arguments: [AlertFormat.cef, .leef, .json, .rfc5424])
    func aLargeExtensionAlertIsFormattedWhole(format: AlertFormat) throws {
        let formatter = AlertFormatter(format: format, hostname: "gw01", productVersion: "1.2.0")
        let payload = formatter.payload(Self.alert)
        let message = formatter.syslogMessage(Self.alert)
        #expect(message.hasSuffix(" " + payload))
        switch format {
        case .cef:
            #expect(payload.hasSuffix(" protocol=s7comm severity=Major type=Policy Violation UUID=5f1c2e9a-0b7d-4c1e-9a53-2f8e4d6b7a10 start=Mar 01 2024 08:15:29.125 UTC src_ip=10.1.0.5 dst_ip=10.1.0.20 " + Self.vendorExtensions))
            #expect(payload.hasPrefix("CEF:0|Microsoft Defender for IoT|sensor-1|"))
        case .json:
            let object = try #require(try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any])
            #expect(object["extensions"] as? String == Self.vendorExtensions)
            #expect(object["title"] as? String == "Unauthorized PLC Programming")
        case .leef:
            #expect(payload.hasPrefix("LEEF:1.0|Microsoft Defender for IoT|sensor-1|1.2.0|Microsoft Defender for IoT Alert|title=Unauthorized PLC Programming\t"))
        case .rfc5424:
            #expect(payload == "Unauthorized PLC Programming: programmed outside a maintenance window")
        }
    }

    @Test func extensionsOfControlCharactersExpandSixfoldInJSONAndStillFit() throws {
        var alert = Self.alert
        alert.extensions = String(repeating: "\u{01}\"\\", count: 4_000)
        let payload = AlertFormatter(format: .json, hostname: "gw01", productVersion: "1.2.0").payload(alert)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any])
        #expect(object["extensions"] as? String == alert.extensions)
    }

    @Test func everyFieldAtOnceFarBeyondAnyEstimate() throws {
        let big = String(repeating: "é|=\\\n\t\"<>", count: 20_000)
        let alert = Alert(
            id: big, receivedAt: Date(), time: Date(timeIntervalSince1970: -1e300), severity: .critical, title: big, message: big,
            protocolName: big, engine: big, sensor: big, sourceIP: big, destinationIP: big, sourceMAC: big, destinationMAC: big,
            category: big, appliance: big, raw: big, extensions: big)
        for format in [AlertFormat.cef, .leef, .json, .rfc5424] {
            let formatter = AlertFormatter(format: format, hostname: big, productVersion: big)
            #expect(formatter.syslogMessage(alert).utf8.count > 100_000)
        }
        let json = AlertFormatter(format: .json, hostname: "gw01", productVersion: "1").payload(alert)
        #expect(try JSONSerialization.jsonObject(with: Data(json.utf8)) is [String: Any])
    }

    /// The writer itself: a reservation far too small is written again at the size counted.
    @Test func aWriterPastItsReservationCountsAndIsWrittenAgain() {
        var buffer = ByteBufferAllocator().buffer(capacity: 0)
        buffer.writeString("kept|")
        var passes = 0
        buffer.writeDirect(reserving: 4) { writer in
            passes += 1
            writer.string(String(repeating: "x", count: 10_000))
            writer.decimal(42, width: 5)
            writer.twoDigits(7)
            writer.escaped("a|b", .cefHeader)
        }
        #expect(passes == 2)
        #expect(String(buffer: buffer) == "kept|" + String(repeating: "x", count: 10_000) + "0004207a\\|b")
    }
}
