import Foundation
internal import COpenSSL

/// An owned OpenSSL `X509_CRL`.
///
/// Sendable because it is never mutated after parsing; OpenSSL reads CRLs concurrently
/// when several verifications share one.
public final class CertificateRevocationList: @unchecked Sendable {
    package let pointer: OpaquePointer

    package init(taking pointer: OpaquePointer) {
        self.pointer = pointer
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
            crl = bytes.withUnsafeBufferPointer { buffer in
                var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
                return d2i_X509_CRL(nil, &cursor, buffer.count)
            }
        }
        guard let crl else { throw .notACRL }
        self.init(taking: crl)
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
}

extension CertificateRevocationList {
    /// The CRL in DER form, as CAs publish it.
    public var derEncoded: [UInt8] {
        let bio = MemoryBIO()
        bio.withPointer { _ = i2d_X509_CRL_bio($0, pointer) }
        return bio.bytes
    }
}
