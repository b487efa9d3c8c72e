import AlertGateCore
import AlertGateIngest
import Foundation
import NIOCore

enum Fixtures {
    /// 2024-03-01T08:15:30.250Z: when the gateway received every message of these tests.
    static let receivedAt = Date(timeIntervalSince1970: 1_709_280_930.250)

    static func date(_ text: String) -> Date {
        // Test-side reference, deliberately not the code under test.
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)!
    }

    /// Parses one syslog message as the listener for appliance `plant-a` would.
    static func parse(_ text: String, sourceAddress: String? = "10.9.9.9") -> ParseResult {
        AlertParser().parse(ByteBuffer(string: text), receivedAt: receivedAt, appliance: "plant-a", sourceAddress: sourceAddress)
    }

    static func parse(bytes: [UInt8]) -> ParseResult {
        AlertParser().parse(bytes, receivedAt: receivedAt, appliance: "plant-a", sourceAddress: nil)
    }

    static func webhook(_ body: String) -> Result<[Alert], WebhookError> {
        AlertParser().parseWebhookBody(Array(body.utf8), receivedAt: receivedAt, appliance: "hooks")
    }

    /// Whether `id` looks like a lowercase version-4 UUID.
    static func isGeneratedID(_ id: String) -> Bool {
        guard let uuid = UUID(uuidString: id) else { return false }
        return id == id.lowercased() && uuid.uuidString.lowercased() == id && Array(id)[14] == "4"
    }
}
