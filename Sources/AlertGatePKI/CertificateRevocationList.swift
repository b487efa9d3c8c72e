import Foundation
internal import COpenSSL

/// An owned OpenSSL `X509_CRL`.
///
/// Sendable because it is never mutated after parsing; OpenSSL reads CRLs concurrently
/// when several verifications share one.
public final class CertificateRevocationList: @unchecked Sendable {
    package let pointer: OpaquePointer
    /// The file the CRL was read from (a trust bundle's `crl:`); nil for a CRL fetched from
    /// a distribution point, which its URL names.
    public let file: String?

    package init(taking pointer: OpaquePointer, file: String? = nil) {
        self.pointer = pointer
        self.file = file
    }

    deinit {
        X509_CRL_free(pointer)
    }

    /// Parses a CRL in PEM or DER form (CAs publish DER at their distribution points).
    public convenience init(bytes: [UInt8]) throws(CertificateFileError) {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        let crl: OpaquePointer?
        if PEM.looksLikePEM(bytes) {
            crl = MemoryBIO(bytes).withPointer { PEM_read_bio_X509_CRL($0, nil, nil, nil) }
        } else {
            crl = Self.readDER(bytes)
        }
        guard let crl else { throw .notACRL }
        self.init(taking: crl)
    }

    /// Every CRL of a PEM file (text around the blocks is skipped), or the one CRL of a DER
    /// file, each remembering `file`. Throws when the bytes hold no CRL.
    public static func revocationLists(from bytes: [UInt8], file: String? = nil) throws(CertificateFileError) -> [CertificateRevocationList] {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        var lists: [CertificateRevocationList] = []
        if PEM.looksLikePEM(bytes) {
            MemoryBIO(bytes).withPointer { bio in
                while let crl = PEM_read_bio_X509_CRL(bio, nil, nil, nil) {
                    lists.append(CertificateRevocationList(taking: crl, file: file))
                }
            }
        } else if let crl = readDER(bytes) {
            lists.append(CertificateRevocationList(taking: crl, file: file))
        }
        guard !lists.isEmpty else { throw .notACRL }
        return lists
    }

    /// The CRLs of the file at `path` (PEM, one or several; or one DER).
    public static func revocationLists(inFile path: String) throws(CertificateFileError) -> [CertificateRevocationList] {
        try revocationLists(from: try CertificateFiles.read(path), file: path)
    }

    private static func readDER(_ bytes: [UInt8]) -> OpaquePointer? {
        bytes.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_X509_CRL(nil, &cursor, buffer.count)
        }
    }

    public var issuer: DistinguishedName {
        DistinguishedName(X509_CRL_get_issuer(pointer))
    }

    public var lastUpdate: Date {
        Date(asn1Time: X509_CRL_get0_lastUpdate(pointer))
    }

    /// When the issuer promises the next CRL; nil when the CRL names none.
    public var nextUpdate: Date? {
        guard let next = X509_CRL_get0_nextUpdate(pointer) else { return nil }
        return Date(asn1Time: next)
    }

    /// Whether the CRL is past its nextUpdate at `now`: the CA's word is no longer current.
    public func isOutOfDate(at now: Date) -> Bool {
        nextUpdate.map { now > $0 } ?? false
    }

    /// Whether `certificate` names this CRL's issuer as its subject and its key verifies the
    /// CRL's signature.
    public func isSigned(by certificate: X509Certificate) -> Bool {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        return withExtendedLifetime(certificate) {
            guard X509_NAME_cmp(X509_CRL_get_issuer(pointer), X509_get_subject_name(certificate.pointer)) == 0,
                let key = X509_get0_pubkey(certificate.pointer)
            else { return false }
            return X509_CRL_verify(pointer, key) == 1
        }
    }

    /// Whether this CRL is issued by the issuer of `certificate` (by name; the signature is
    /// checked when the CRL is used).
    func covers(_ certificate: X509Certificate) -> Bool {
        withExtendedLifetime(certificate) {
            X509_NAME_cmp(X509_CRL_get_issuer(pointer), X509_get_issuer_name(certificate.pointer)) == 0
        }
    }

    /// Of `lists`, the newest CRL (latest lastUpdate) issued by `certificate`'s issuer; nil
    /// when none is.
    public static func newest(coveringIssuerOf certificate: X509Certificate, in lists: [CertificateRevocationList]) -> CertificateRevocationList? {
        lists.filter { $0.covers(certificate) }.max { $0.lastUpdate < $1.lastUpdate }
    }
}

extension CertificateRevocationList {
    /// The CRL in DER form, as CAs publish it.
    public var derEncoded: [UInt8] {
        let bio = MemoryBIO()
        bio.withPointer { _ = i2d_X509_CRL_bio($0, pointer) }
        return bio.bytes
    }
}
