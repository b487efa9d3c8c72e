import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Fetches the bytes at a CRL distribution point.
public protocol CRLFetching: Sendable {
    func fetch(_ url: String) async throws(CRLFetchError) -> [UInt8]
}

/// Why a CRL could not be fetched; `description` is the operator's detail next to the
/// `crl-unreachable` message.
public struct CRLFetchError: Error, Sendable, Hashable, CustomStringConvertible {
    public var url: String
    public var reason: String

    public init(url: String, reason: String) {
        self.url = url
        self.reason = reason
    }

    public var description: String { "\(url): \(reason)" }
}

/// Plain HTTP/1.1 GET on SwiftNIO, straight or through a forward proxy. CRLs are signed, so
/// they are fetched over `http://` only (RFC 5280 §4.2.1.13); `https://` would make
/// revocation checking depend on the very TLS validation it is part of.
public struct HTTPCRLFetcher: CRLFetching {
    public struct Proxy: Sendable, Hashable {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    /// Larger answers are refused: a CRL of millions of entries is not what an
    /// appliance's issuing CA publishes, and memory is not the place to find out.
    public static let maximumSize = 32 * 1024 * 1024

    private let group: any EventLoopGroup
    private let proxy: Proxy?
    private let timeout: TimeAmount
    private let refusing: CRLAddressPolicy

    /// - Parameter refusing: addresses no CRL is fetched from (link-local, unspecified,
    ///   the admin API). Through a proxy, which resolves names itself, only IP literals
    ///   and `localhost` are checked.
    public init(
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, proxy: Proxy? = nil, timeout: Duration = .seconds(5),
        refusing: CRLAddressPolicy = CRLAddressPolicy()
    ) {
        self.group = group
        self.proxy = proxy
        self.timeout = TimeAmount(timeout)
        self.refusing = refusing
    }

    public func fetch(_ url: String) async throws(CRLFetchError) -> [UInt8] {
        guard let components = URLComponents(string: url), components.scheme?.lowercased() == "http",
            let host = components.host, !host.isEmpty
        else {
            throw CRLFetchError(url: url, reason: "only http:// CRL locations can be fetched")
        }
        let port = components.port ?? 80
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        let target = (proxy == nil) ? path + (components.percentEncodedQuery.map { "?" + $0 } ?? "") : url
        let hostHeader = components.port.map { "\(host):\($0)" } ?? host
        let bareHost = CRLAddressPolicy.unbracketed(host)
        let addresses: [SocketAddress]
        do {
            addresses = try await checkedAddresses(of: bareHost, port: port)
        } catch {
            throw CRLFetchError(url: url, reason: error.reason)
        }

        let get = HTTPGet(group: group, connectTimeout: timeout, timeout: timeout, maximumSize: Self.maximumSize)
        let headers = [("Host", hostHeader), ("User-Agent", "alertgate"), ("Accept", "application/pkix-crl, */*")]
        let response: HTTPGet.Response
        let connectHost = proxy?.host ?? bareHost
        let connectPort = proxy?.port ?? port
        do {
            if let proxy {
                response = try await get.get(host: proxy.host, port: proxy.port, target: target, headers: headers)
            } else {
                response = try await get.get(addresses: addresses, target: target, headers: headers)
            }
        } catch {
            let reason: String
            switch error {
            case .connect(let cause):
                let via = proxy.map { " (through proxy \($0.host):\($0.port))" } ?? ""
                reason = "cannot connect to \(connectHost):\(connectPort)\(via): \(cause)"
            case .noAnswer(let within):
                reason = "no answer within \(within.nanoseconds / 1_000_000) ms"
            case .tooLarge(let limit):
                reason = "the answer is larger than \(limit) bytes"
            case .closedEarly:
                reason = "the server closed the connection before the answer was complete"
            case .failed(let cause):
                reason = "\(cause)"
            }
            throw CRLFetchError(url: url, reason: reason)
        }
        guard response.status == .ok else {
            throw CRLFetchError(url: url, reason: "HTTP status \(response.status.code) \(response.status.reasonPhrase)")
        }
        return response.body
    }

    /// The addresses a fetch from `host` connects to, each checked against `refusing`;
    /// through a proxy, none (the proxy connects) unless `host` is an IP literal or
    /// `localhost`, which are checked all the same. Resolution blocks, so it runs on
    /// NIO's thread pool.
    private func checkedAddresses(of host: String, port: Int) async throws(CRLFetchError) -> [SocketAddress] {
        let policy = refusing
        let literal = IPAddressLiteral.isIP(host) || host.lowercased() == "localhost"
        if proxy != nil, !literal { return [] }
        let outcome: Result<[SocketAddress], CRLFetchError>
        do {
            outcome = try await NIOThreadPool.singleton.runIfActive { () -> Result<[SocketAddress], CRLFetchError> in
                do throws(CRLFetchError) {
                    let addresses = try CRLAddressPolicy.resolve(host, port: port)
                    // One refused address refuses the name: it could be the one connected to.
                    if let refusal = addresses.lazy.compactMap(policy.refusal).first {
                        return .failure(CRLFetchError(url: host, reason: "refused: \(refusal); no CRL is fetched from there"))
                    }
                    return .success(addresses)
                } catch {
                    return .failure(error)
                }
            }
        } catch {
            throw CRLFetchError(url: host, reason: "cannot resolve \(host): \(error)")
        }
        let addresses = try outcome.get()
        return proxy == nil ? addresses : []
    }
}
