/// What a transport needs to know of a partner, from its `partners` entry.
public struct PartnerSettings: Sendable, Hashable {
    public struct HeaderField: Sendable, Hashable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// How many alerts one send may carry, and how long a partial batch waits.
    public struct BatchLimits: Sendable, Hashable {
        public var maxAlerts: Int
        public var maxBytes: Int
        public var maxDelay: Duration

        public init(maxAlerts: Int = 500, maxBytes: Int = 1 << 20, maxDelay: Duration = .milliseconds(200)) {
            self.maxAlerts = maxAlerts
            self.maxBytes = maxBytes
            self.maxDelay = maxDelay
        }
    }

    public var name: String
    public var transport: String
    public var endpoint: String
    /// The name the partner's certificate must match; nil means the endpoint's host.
    public var serverName: String?
    public var format: AlertFormat
    public var headers: [HeaderField]
    public var batch: BatchLimits
    public var retry: Backoff
    /// `framing`, as the config gave it (nil: the transport's default). Stream transports
    /// take it; others refuse it in `validate`.
    public var framing: SyslogFraming?

    public init(
        name: String, transport: String, endpoint: String, serverName: String? = nil, format: AlertFormat, headers: [HeaderField] = [],
        batch: BatchLimits = .init(), retry: Backoff = .init(), framing: SyslogFraming? = nil
    ) {
        self.name = name
        self.transport = transport
        self.endpoint = endpoint
        self.serverName = serverName
        self.format = format
        self.headers = headers
        self.batch = batch
        self.retry = retry
        self.framing = framing
    }
}
