import AlertGateConfig
import AlertGatePKI
import Foundation

/// `diagnose`'s own fetch of the CRL distribution points a partner's chain names, made
/// as the gateway's cache would (its proxy and timeout) but past the cache: the checks may
/// have passed on a cached CRL while the distribution point does not answer, and an
/// operator must hear of that before the cached copy's nextUpdate.
struct CRLReachability {
    /// At most this many distribution points are fetched (a chain names one or two).
    static let maximumURLs = 4

    struct Fetch {
        enum Outcome {
            case fetched(String)
            case failed(String)
        }

        var url: String
        var outcome: Outcome
    }

    let settings: CRLSection

    func fetch(_ chain: [X509Certificate]) async -> [Fetch] {
        var urls: [String] = []
        for certificate in chain where !certificate.isSelfSigned {
            for url in certificate.crlDistributionPoints where !urls.contains(url) {
                urls.append(url)
            }
        }
        let fetcher = HTTPCRLFetcher(proxy: settings.proxy.map { .init(host: $0.host, port: $0.port) }, timeout: settings.timeout)
        var fetches: [Fetch] = []
        for url in urls.prefix(Self.maximumURLs) {
            do {
                let crl = try CertificateRevocationList(bytes: try await fetcher.fetch(url))
                let next = crl.nextUpdate.map { "next update \(CertificateReportRenderer.format($0))" } ?? "no nextUpdate"
                fetches.append(Fetch(url: url, outcome: .fetched("a CRL of \(crl.issuer.description), \(next)")))
            } catch let error as CRLFetchError {
                fetches.append(Fetch(url: url, outcome: .failed(error.reason)))
            } catch {
                fetches.append(Fetch(url: url, outcome: .failed("the answer is not a CRL in DER or PEM form")))
            }
        }
        return fetches
    }
}
