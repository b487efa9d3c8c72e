#if canImport(Glibc)
import Glibc
#endif

extension HostPort {
    /// Whether `host` names this machine only: `localhost`, an address in 127.0.0.0/8, or
    /// `::1` (with or without the IPv4-mapped form). A host name other than `localhost` is
    /// not: what it resolves to can change.
    public var isLoopback: Bool {
        Self.isLoopback(host: host)
    }

    /// `isLoopback` for a bare host (no brackets, no port).
    public static func isLoopback(host: String) -> Bool {
        let lowered = host.lowercased()
        if lowered == "localhost" || lowered == "localhost." { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, lowered, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, lowered, &v6) == 1 {
            let bytes = withUnsafeBytes(of: v6) { Array($0) }
            if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
            // ::ffff:127.x.y.z
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF { return bytes[12] == 127 }
        }
        return false
    }
}
