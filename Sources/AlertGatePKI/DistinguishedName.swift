/// A certificate subject or issuer as attribute/value pairs, in the certificate's order.
public struct DistinguishedName: Sendable, Hashable {
    public struct Attribute: Sendable, Hashable {
        /// OpenSSL's short name: `C`, `ST`, `L`, `O`, `OU`, `CN`, `emailAddress`, …
        public var key: String
        public var value: String

        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    public var attributes: [Attribute]

    public init(attributes: [Attribute]) {
        self.attributes = attributes
    }

    /// The order operators know from appliance certificate reports.
    public static let displayOrder = ["C", "ST", "L", "O", "OU", "CN", "emailAddress"]

    /// The attributes in `displayOrder`, then any others in certificate order.
    public var displayAttributes: [Attribute] {
        let known = Self.displayOrder.flatMap { key in attributes.filter { $0.key == key } }
        let others = attributes.filter { !Self.displayOrder.contains($0.key) }
        return known + others
    }

    public var commonName: String? {
        attributes.last { $0.key == "CN" }?.value
    }

    /// `C=US, O=Contoso, CN=sensor-1.contoso.com`, in display order.
    public var description: String {
        displayAttributes.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
    }
}
