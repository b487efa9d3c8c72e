import Foundation
import NIOCore
import NIOPosix

/// Addresses a CRL location may not point at. A CRL URL comes from a certificate — a
/// partner's, a sensor's, or one a peer merely sent along — so it is input from the
/// network, and a fetch is a request the gateway makes on its behalf: it must not reach
/// the cloud metadata service and other link-local services (169.254.0.0/16, fe80::/10),
/// the unspecified address (0.0.0.0 and ::, which Linux connects to this host), or the
/// gateway's own admin API (`POST /v1/reload`).
public struct CRLAddressPolicy: Sendable, Hashable {
    /// The admin API's address (`gateway.admin`), when it has one.
    public var adminHost: String?
    public var adminPort: Int?

    public init(adminHost: String? = nil, adminPort: Int? = nil) {
        self.adminHost = adminHost
        self.adminPort = adminPort
    }

    /// Why a fetch from `address` is refused; nil when it may go ahead.
    public func refusal(of address: SocketAddress) -> String? {
        guard let bytes = Self.ipBytes(address) else { return "\(address) is not an IP address" }
        if bytes.count == 4 {
            if bytes[0] == 169, bytes[1] == 254 { return "\(Self.text(bytes)) is a link-local address" }
            if bytes[0] == 0 { return "\(Self.text(bytes)) is the unspecified address (this host)" }
        } else {
            if bytes[0] == 0xfe, bytes[1] & 0xc0 == 0x80 { return "\(address.ipAddress ?? "?") is a link-local address" }
            if bytes.allSatisfy({ $0 == 0 }) { return ":: is the unspecified address (this host)" }
        }
        if let adminPort, address.port == adminPort, isAdmin(bytes) {
            return "\(address.ipAddress ?? "?"):\(adminPort) is the gateway's admin API (gateway.admin)"
        }
        return nil
    }

    /// Whether `bytes` reach the admin API's socket: its own address, or, when it listens
    /// on every address, any address of this host.
    private func isAdmin(_ bytes: [UInt8]) -> Bool {
        guard let adminHost, let adminPort else { return false }
        guard let admin = try? SocketAddress.makeAddressResolvingHost(Self.unbracketed(adminHost), port: adminPort),
            let adminBytes = Self.ipBytes(admin)
        else { return false }
        if adminBytes == bytes { return true }
        guard adminBytes.allSatisfy({ $0 == 0 }) else { return false }
        if Self.isLoopback(bytes) { return true }
        let own = (try? System.enumerateDevices())?.compactMap { $0.address.flatMap(Self.ipBytes) } ?? []
        return own.contains(bytes)
    }

    /// The address's bytes: 4 for IPv4 (and IPv4-mapped IPv6), 16 for IPv6.
    static func ipBytes(_ address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let v4):
            return withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
        case .v6(let v6):
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
                return Array(bytes[12...])
            }
            return bytes
        case .unixDomainSocket:
            return nil
        }
    }

    static func isLoopback(_ bytes: [UInt8]) -> Bool {
        bytes.count == 4 ? bytes[0] == 127 : bytes == [UInt8](repeating: 0, count: 15) + [1]
    }

    static func unbracketed(_ host: String) -> String {
        host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }

    private static func text(_ bytes: [UInt8]) -> String {
        bytes.map(String.init).joined(separator: ".")
    }

    /// Every address `host` resolves to (getaddrinfo, TCP): a fetch connects to these and
    /// nothing else, so what was checked is what is reached.
    static func resolve(_ host: String, port: Int) throws(CRLFetchError) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw CRLFetchError(url: host, reason: "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(first) }
        var addresses: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if let address = info.pointee.ai_addr {
                switch info.pointee.ai_family {
                case AF_INET:
                    address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { addresses.append(SocketAddress($0.pointee, host: host)) }
                case AF_INET6:
                    address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { addresses.append(SocketAddress($0.pointee, host: host)) }
                default:
                    break
                }
            }
            cursor = info.pointee.ai_next
        }
        return addresses
    }
}
