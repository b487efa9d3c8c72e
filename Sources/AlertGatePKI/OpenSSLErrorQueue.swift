internal import COpenSSL

/// OpenSSL reports failures on a per-thread error queue. An event-loop thread serves many
/// channels, so every caller clears the queue before a call whose failure it reports and
/// drains it afterwards; otherwise one connection's stale error shows up in another's.
package enum OpenSSLErrorQueue {
    package static func clear() {
        ERR_clear_error()
    }

    /// Every queued error as one line (`"reason; reason"`), emptying the queue.
    package static func drain() -> String {
        var reasons: [String] = []
        var buffer = [CChar](repeating: 0, count: 256)
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            ERR_error_string_n(code, &buffer, buffer.count)
            let text = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            reasons.append(String(decoding: text, as: UTF8.self))
        }
        return reasons.joined(separator: "; ")
    }
}
