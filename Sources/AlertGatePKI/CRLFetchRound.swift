import Foundation

/// The CRLs one peer's chain needs, fetched at once rather than one after another, within
/// one time limit for them all: a chain that names several slow or silent CRL servers
/// costs the connection `checkTimeout`, not `checkTimeout` per URL.
enum CRLFetchRound {
    /// Distinct CRL locations a peer's chain may name; a chain that names more is refused
    /// (`crl-unreachable`) without fetching any: a CA's chain names one or two per
    /// certificate, and a peer must not be able to make the gateway fetch a list of URLs.
    static let maximumLocations = 4

    /// The outcome per URL. A URL whose fetch has not ended when `within` has passed gets
    /// a "no answer" error; its fetch goes on in the background (each fetch has a time
    /// limit of its own), and its CRL lands in the cache for the next check.
    static func fetch(_ urls: [String], from source: any CRLSource, within limit: Duration) async -> [String: Result<CertificateRevocationList, CRLFetchError>] {
        guard !urls.isEmpty else { return [:] }
        let (stream, continuation) = AsyncStream.makeStream(of: (String, Result<CertificateRevocationList, CRLFetchError>)?.self)
        for url in urls {
            Task {
                do throws(CRLFetchError) {
                    continuation.yield((url, .success(try await source.revocationList(at: url))))
                } catch {
                    continuation.yield((url, .failure(error)))
                }
            }
        }
        let timer = Task {
            try? await Task.sleep(for: limit)
            continuation.yield(nil)  // the time is up
        }
        defer {
            timer.cancel()
            continuation.finish()
        }
        var results: [String: Result<CertificateRevocationList, CRLFetchError>] = [:]
        for await item in stream {
            guard let (url, result) = item else { break }
            results[url] = result
            if results.count == urls.count { break }
        }
        let milliseconds = limit.components.seconds * 1000 + limit.components.attoseconds / 1_000_000_000_000_000
        for url in urls where results[url] == nil {
            results[url] = .failure(CRLFetchError(url: url, reason: "no answer within \(milliseconds) ms (store.crl.timeout bounds the whole check)"))
        }
        return results
    }

    /// The distinct CRL locations the certificates of `chain` name (its self-signed
    /// anchor aside), in order of appearance.
    static func locations(of chain: [X509Certificate]) -> [String] {
        var seen: Set<String> = []
        var urls: [String] = []
        for certificate in chain where !certificate.isSelfSigned {
            for url in certificate.crlDistributionPoints where seen.insert(url).inserted {
                urls.append(url)
            }
        }
        return urls
    }
}
