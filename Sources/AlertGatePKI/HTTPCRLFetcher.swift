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

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, proxy: Proxy? = nil, timeout: Duration = .seconds(5)) {
        self.group = group
        self.proxy = proxy
        self.timeout = TimeAmount(timeout)
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
        let connectHost = proxy?.host ?? host
        let connectPort = proxy?.port ?? port
        let hostHeader = components.port.map { "\(host):\($0)" } ?? host

        let get = HTTPGet(group: group, connectTimeout: timeout, timeout: timeout, maximumSize: Self.maximumSize)
        let headers = [("Host", hostHeader), ("User-Agent", "alertgate"), ("Accept", "application/pkix-crl, */*")]
        let response: HTTPGet.Response
        do {
            response = try await get.get(host: connectHost, port: connectPort, target: target, headers: headers)
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
}
