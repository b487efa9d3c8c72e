import Foundation

/// One security alert, as every listener produces it and every partner format renders it.
/// Fields follow the webhook schema of docs/reference.md §4 and Defender for IoT's alert fields.
public struct Alert: Sendable, Hashable {
    /// A stable identifier: the sender's (`id`, CEF `UUID=`), or one the gateway assigns.
    public var id: String
    /// When the gateway accepted it.
    public var receivedAt: Date
    /// When the appliance says it happened; nil when the message did not say.
    public var time: Date?
    public var severity: Severity
    public var title: String
    public var message: String?
    /// The industrial protocol concerned (`modbus`, `s7comm`, …), as the sender wrote it.
    public var protocolName: String?
    /// The detection engine: policy, anomaly, protocol, malware, operational.
    public var engine: String?
    /// The sensor that raised it, as the sender named it.
    public var sensor: String?
    public var sourceIP: String?
    public var destinationIP: String?
    public var sourceMAC: String?
    public var destinationMAC: String?
    /// The alert group (Defender's `cat=`).
    public var category: String?
    /// The appliance the gateway attributed it to (config `appliances[].name`).
    public var appliance: String
    /// The message as received, when no known format parsed it (it is forwarded anyway).
    public var raw: String?
    /// The CEF extension pairs of the sender's payload that no field above took
    /// (`cs1Label=zone cs1=cell-7 spt=502`), as received and space-separated: vendor fields
    /// reach CEF partners as they were sent, and JSON partners as one string.
    public var extensions: String?

    public init(
        id: String,
        receivedAt: Date,
        time: Date? = nil,
        severity: Severity,
        title: String,
        message: String? = nil,
        protocolName: String? = nil,
        engine: String? = nil,
        sensor: String? = nil,
        sourceIP: String? = nil,
        destinationIP: String? = nil,
        sourceMAC: String? = nil,
        destinationMAC: String? = nil,
        category: String? = nil,
        appliance: String,
        raw: String? = nil,
        extensions: String? = nil
    ) {
        self.id = id
        self.receivedAt = receivedAt
        self.time = time
        self.severity = severity
        self.title = title
        self.message = message
        self.protocolName = protocolName
        self.engine = engine
        self.sensor = sensor
        self.sourceIP = sourceIP
        self.destinationIP = destinationIP
        self.sourceMAC = sourceMAC
        self.destinationMAC = destinationMAC
        self.category = category
        self.appliance = appliance
        self.raw = raw
        self.extensions = extensions
    }
}
