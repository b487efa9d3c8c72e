import AlertGateConfig
import Foundation
import NIOCore

/// An IPv4 or IPv6 network parsed once into 128 bits and a mask, so that matching a
/// sender's address is two AND-and-compare operations and no string work.
///
/// IPv4 lives in the IPv4-mapped IPv6 space (`10.1.2.0/24` is `::ffff:10.1.2.0/120`): a
/// client that reaches a dual-stack socket arrives as `::ffff:10.1.2.3`, and must match the
/// IPv4 networks the config names just as it would on an IPv4 socket.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// An address as 128 bits, most significant first; IPv4 as `::ffff:a.b.c.d`.
    public struct Address: Sendable, Hashable {
        public var high: UInt64
        public var low: UInt64

        public init(high: UInt64, low: UInt64) {
            self.high = high
            self.low = low
        }

        /// `10.1.2.3`, `fd00::1`, `::ffff:10.1.2.3`; nil for anything else.
        public init?(_ text: String) {
            var v4 = in_addr()
            if inet_pton(AF_INET, text, &v4) == 1 {
                self = Self(ipv4: v4)
                return
            }
            var v6 = in6_addr()
            if inet_pton(AF_INET6, text, &v6) == 1 {
                self = Self(ipv6: v6)
                return
            }
            return nil
        }

        /// The IP of a socket address; nil for a UNIX domain socket.
        public init?(_ address: SocketAddress) {
            switch address {
            case .v4(let v4): self = Self(ipv4: v4.address.sin_addr)
            case .v6(let v6): self = Self(ipv6: v6.address.sin6_addr)
            case .unixDomainSocket: return nil
            }
        }

        init(ipv4: in_addr) {
            // s_addr holds the bytes in network order.
            high = 0
            low = 0x0000_FFFF_0000_0000 | UInt64(UInt32(bigEndian: ipv4.s_addr))
        }

        init(ipv6: in6_addr) {
            var address = ipv6
            (high, low) = withUnsafeBytes(of: &address) { bytes in
                (UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                 UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
        }

        /// Whether it is an IPv4 (or IPv4-mapped IPv6) address.
        public var isIPv4: Bool {
            high == 0 && low >> 32 == 0xFFFF
        }
    }

    /// The network's first address (host bits cleared).
    public let address: Address
    /// The prefix length in the 128-bit space (an IPv4 `/24` is 120).
    public let prefixLength: Int
    private let maskHigh: UInt64
    private let maskLow: UInt64
    /// As the config wrote it, for logs.
    public let description: String

    /// nil when the address is not an IP literal or the prefix does not fit its family.
    public init?(_ cidr: CIDR) {
        guard let parsed = Address(cidr.address) else { return nil }
        let ipv4Literal = !cidr.address.contains(":")
        let maximum = ipv4Literal ? 32 : 128
        guard (0...maximum).contains(cidr.prefix) else { return nil }
        let length = ipv4Literal ? cidr.prefix + 96 : cidr.prefix
        maskHigh = length >= 64 ? .max : (length == 0 ? 0 : .max << UInt64(64 - length))
        maskLow = length <= 64 ? 0 : (length == 128 ? .max : .max << UInt64(128 - length))
        address = Address(high: parsed.high & maskHigh, low: parsed.low & maskLow)
        prefixLength = length
        description = cidr.description
    }

    /// `10.1.2.0/24`, `fd00::/64`, or a bare address (a host network).
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first else { return nil }
        let address = String(first)
        let prefix: Int
        if parts.count == 2 {
            guard let value = Int(parts[1]) else { return nil }
            prefix = value
        } else {
            prefix = address.contains(":") ? 128 : 32
        }
        self.init(CIDR(address: address, prefix: prefix))
    }

    public func contains(_ candidate: Address) -> Bool {
        candidate.high & maskHigh == address.high && candidate.low & maskLow == address.low
    }
}
