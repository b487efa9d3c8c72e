import AlertGateCore
import Foundation
import Synchronization

/// Where certificate checks get the CRL of a distribution point.
public protocol CRLSource: Sendable {
    /// The CRL published at `url`, current per the source's freshness rules.
    func revocationList(at url: String) async throws(CRLFetchError) -> CertificateRevocationList

    /// The revocation generation: it grows whenever a CRL the source holds changes. A
    /// connection notes the generation its peer's chain was checked at; a different one
    /// now means the chain must be checked again before anything more is sent on it.
    var generation: UInt64 { get }

    /// How long one peer's revocation check may take in all, its CRLs fetched in parallel
    /// (`store.crl.timeout`).
    var checkTimeout: Duration { get }
}

extension CRLSource {
    /// A source whose CRLs never change (tests' fixed CRLs).
    public var generation: UInt64 { 0 }
    public var checkTimeout: Duration { .seconds(5) }
}

extension CRLSource {
    /// The CRL of the first of `urls` that answers: a CA may publish at several points,
    /// and one current CRL is enough. Throws the reasons of all when none does.
    public func firstRevocationList(of urls: [String]) async throws(CRLFetchError) -> CertificateRevocationList {
        var errors: [String] = []
        for url in urls {
            do {
                return try await revocationList(at: url)
            } catch {
                errors.append(error.description)
            }
        }
        throw CRLFetchError(url: urls.first ?? "", reason: errors.isEmpty ? "no CRL distribution point" : errors.joined(separator: "; "))
    }
}

/// CRLs by distribution point: kept in memory and on disk (under the data directory, so a
/// restart does not depend on the CA's web server), and fetched again when the CRL's
/// nextUpdate has passed or it is older than `maxAge`, whichever comes first.
///
/// A fetch that fails while the cached CRL is still before its nextUpdate keeps the cached
/// one: it is still the CA's current word. Past nextUpdate there is no current CRL, and the
/// caller reports `crl-unreachable`.
public actor CRLCache: CRLSource {
    struct Entry {
        var crl: CertificateRevocationList
        var fetchedAt: Date
    }

    private let fetcher: any CRLFetching
    private let directory: URL?
    private let maxAge: Duration
    public nonisolated let checkTimeout: Duration
    private nonisolated let changes = Atomic<UInt64>(0)
    private let now: @Sendable () -> Date
    private var entries: [String: Entry] = [:]
    private var inFlight: [String: Task<Entry, any Error>] = [:]

    /// - Parameters:
    ///   - directory: where fetched CRLs are kept across restarts; nil keeps them in memory.
    ///   - maxAge: the longest a CRL is used before it is fetched again.
    ///   - checkTimeout: how long one peer's revocation check may take in all.
    public init(
        fetcher: any CRLFetching, directory: URL?, maxAge: Duration = .seconds(3600), checkTimeout: Duration = .seconds(5),
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.fetcher = fetcher
        self.directory = directory
        self.maxAge = maxAge
        self.checkTimeout = checkTimeout
        self.now = now
    }

    /// Grows by one each time a fetch brings a CRL that differs from the one held: read
    /// without waiting for the actor, before every send on a partner connection.
    public nonisolated var generation: UInt64 {
        changes.load(ordering: .acquiring)
    }

    public func revocationList(at url: String) async throws(CRLFetchError) -> CertificateRevocationList {
        if entries[url] == nil, let stored = loadFromDisk(url) {
            entries[url] = stored
        }
        if let entry = entries[url], isFresh(entry) {
            return entry.crl
        }
        do {
            let entry = try await refetch(url)
            return entry.crl
        } catch {
            if let entry = entries[url], let nextUpdate = entry.crl.nextUpdate, now() < nextUpdate {
                return entry.crl
            }
            throw error
        }
    }

    /// Fetches `url` again now, whatever the cached copy's age (the CRL refresh schedule).
    @discardableResult
    public func refresh(_ url: String) async throws(CRLFetchError) -> CertificateRevocationList {
        try await refetch(url).crl
    }

    /// When the cached CRL of `url` is due to be fetched again; nil if none is cached.
    public func refreshDate(for url: String) -> Date? {
        entries[url].map(dueDate)
    }

    /// The distribution points that have a CRL in memory.
    public var cachedURLs: [String] {
        Array(entries.keys).sorted()
    }

    // MARK: Internals

    private func dueDate(_ entry: Entry) -> Date {
        let byAge = entry.fetchedAt.addingTimeInterval(maxAge.seconds)
        guard let nextUpdate = entry.crl.nextUpdate else { return byAge }
        return min(byAge, nextUpdate)
    }

    private func isFresh(_ entry: Entry) -> Bool {
        now() < dueDate(entry)
    }

    /// One fetch per URL at a time: concurrent callers share it.
    private func refetch(_ url: String) async throws(CRLFetchError) -> Entry {
        let task: Task<Entry, any Error>
        if let running = inFlight[url] {
            task = running
        } else {
            let fetcher = self.fetcher
            let fetchedAt = now()
            task = Task {
                let bytes = try await fetcher.fetch(url)
                do {
                    return Entry(crl: try CertificateRevocationList(bytes: bytes), fetchedAt: fetchedAt)
                } catch {
                    throw CRLFetchError(url: url, reason: "the answer is not a CRL in DER or PEM form")
                }
            }
            inFlight[url] = task
        }
        defer { inFlight[url] = nil }
        do {
            let entry = try await task.value
            let changed = entries[url].map { $0.crl.derEncoded != entry.crl.derEncoded } ?? true
            entries[url] = entry
            saveToDisk(url, entry.crl)
            if changed {
                // After the entry is in place: whoever sees the new generation gets the new CRL.
                changes.add(1, ordering: .releasing)
            }
            return entry
        } catch let error as CRLFetchError {
            throw error
        } catch {
            throw CRLFetchError(url: url, reason: "\(error)")
        }
    }

    private func file(for url: String) -> URL? {
        directory?.appendingPathComponent(Self.fileName(for: url))
    }

    /// A readable, collision-safe file name: the URL's letters and digits, then a hash.
    static func fileName(for url: String) -> String {
        let readable = String(url.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" }.suffix(80))
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a: stable across runs, unlike Hasher
        for byte in url.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return "\(readable)-\(String(hash, radix: 16)).crl"
    }

    private func loadFromDisk(_ url: String) -> Entry? {
        guard let file = file(for: url),
            let data = try? Data(contentsOf: file),
            let crl = try? CertificateRevocationList(bytes: Array(data)),
            let modified = try? FileManager.default.attributesOfItem(atPath: file.path)[.modificationDate] as? Date
        else { return nil }
        return Entry(crl: crl, fetchedAt: modified)
    }

    private func saveToDisk(_ url: String, _ crl: CertificateRevocationList) {
        guard let file = file(for: url) else { return }
        // A cache: failing to write it costs a refetch after restart, nothing more.
        try? FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? Data(crl.derEncoded).write(to: file, options: .atomic)
    }
}
