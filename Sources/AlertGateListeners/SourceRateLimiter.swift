import NIOCore

/// `max_rate_per_source` of a syslog-udp listener: a token bucket per source address, so
/// that one source flooding datagrams cannot take the spool and the intake from the
/// others (docs/reference.md §11). Each source may send `rate` datagrams a second on average and a
/// burst of one second's worth; past that its datagrams are dropped (and counted).
///
/// Pure: the caller passes the time. The table of sources is bounded: when it grows past
/// `maximumSources`, sources whose bucket has refilled (idle ones) are forgotten.
struct SourceRateLimiter {
    private struct Bucket {
        var tokens: Double
        var updated: NIODeadline
    }

    let rate: Int
    let maximumSources: Int
    private var buckets: [String: Bucket] = [:]

    init(rate: Int, maximumSources: Int = 10_000) {
        self.rate = rate
        self.maximumSources = maximumSources
    }

    var sourceCount: Int { buckets.count }

    /// Whether a datagram from `source` may be taken now; takes a token if so.
    mutating func admit(_ source: String, now: NIODeadline) -> Bool {
        let capacity = Double(rate)
        var bucket = buckets[source] ?? Bucket(tokens: capacity, updated: now)
        let elapsed = Double((now - bucket.updated).nanoseconds) / 1e9
        bucket.tokens = min(capacity, bucket.tokens + max(0, elapsed) * capacity)
        bucket.updated = now
        let admitted = bucket.tokens >= 1
        if admitted { bucket.tokens -= 1 }
        if buckets[source] == nil, buckets.count >= maximumSources {
            forgetIdle(now: now)
        }
        buckets[source] = bucket
        return admitted
    }

    /// Forgets the sources whose bucket is full again; if none is, all of them (a flood
    /// from many addresses: each starts again with a full bucket).
    private mutating func forgetIdle(now: NIODeadline) {
        let capacity = Double(rate)
        buckets = buckets.filter { _, bucket in
            bucket.tokens + Double((now - bucket.updated).nanoseconds) / 1e9 * capacity < capacity
        }
        if buckets.count >= maximumSources {
            buckets.removeAll(keepingCapacity: true)
        }
    }
}
