import Foundation
internal import COpenSSL

/// An owned OpenSSL `X509`.
///
/// Sendable because it is never mutated after it is created: every property reads through
/// OpenSSL's getters, which are safe to call concurrently on a finished certificate.
public final class X509Certificate: @unchecked Sendable {
    package let pointer: OpaquePointer

    /// Takes ownership of `pointer` (one reference).
    package init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// Shares a certificate OpenSSL owns elsewhere, taking a reference of its own.
    package init(borrowing pointer: OpaquePointer) {
        X509_up_ref(pointer)
        self.pointer = pointer
    }

    deinit {
        X509_free(pointer)
    }

    // MARK: Reading

    /// Every certificate in a PEM file (text around the blocks, such as "Bag Attributes"
    /// lines from a PKCS#12 export, is skipped), or the one certificate of a DER file.
    /// Throws when the bytes hold no certificate.
    public static func certificates(from bytes: [UInt8]) throws(CertificateFileError) -> [X509Certificate] {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        if PEM.looksLikePEM(bytes) {
            var certificates: [X509Certificate] = []
            MemoryBIO(bytes).withPointer { bio in
                while let x509 = PEM_read_bio_X509(bio, nil, nil, nil) {
                    certificates.append(X509Certificate(taking: x509))
                }
            }
            guard !certificates.isEmpty else { throw .notACertificate }
            return certificates
        }
        let certificate: OpaquePointer? = bytes.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_X509(nil, &cursor, buffer.count)
        }
        guard let certificate else { throw .notACertificate }
        return [X509Certificate(taking: certificate)]
    }

    // MARK: Fields

    public var subject: DistinguishedName {
        DistinguishedName(X509_get_subject_name(pointer))
    }

    public var issuer: DistinguishedName {
        DistinguishedName(X509_get_issuer_name(pointer))
    }

    public var commonName: String? {
        subject.commonName
    }

    public var notBefore: Date {
        Date(asn1Time: X509_get0_notBefore(pointer))
    }

    public var notAfter: Date {
        Date(asn1Time: X509_get0_notAfter(pointer))
    }

    /// The serial number in upper-case hex, as CRLs and `openssl x509 -serial` print it.
    public var serialNumber: String {
        guard let bignum = ASN1_INTEGER_to_BN(X509_get0_serialNumber(pointer), nil) else { return "" }
        defer { BN_free(bignum) }
        guard let hex = BN_bn2hex(bignum) else { return "" }
        defer { CShims_OPENSSL_free(hex) }
        return String(cString: hex)
    }

    /// The public key's algorithm and size.
    public var publicKey: PublicKeyDescription {
        guard let key = X509_get0_pubkey(pointer) else {
            return PublicKeyDescription(algorithm: "unknown", bits: 0)
        }
        return PublicKeyDescription(key)
    }

    /// OpenSSL's long name of the signature algorithm, e.g. `sha256WithRSAEncryption`.
    public var signatureAlgorithm: String {
        String(cString: OBJ_nid2ln(X509_get_signature_nid(pointer)))
    }

    var isSignedWithSHA256RSA: Bool {
        X509_get_signature_nid(pointer) == NID_sha256WithRSAEncryption
    }

    /// The subjectAltName entries as `DNS:name`, `IP:address`, `email:…`, `URI:…`.
    public var subjectAlternativeNames: [String] {
        let bio = MemoryBIO()
        bio.withPointer { _ = CShims_X509_subject_alt_names(pointer, $0) }
        return bio.lines
    }

    /// The URLs of the certificate's CRL distribution points.
    public var crlDistributionPoints: [String] {
        let bio = MemoryBIO()
        bio.withPointer { _ = CShims_X509_crl_urls(pointer, $0) }
        return bio.lines
    }

    /// Whether the certificate names itself as issuer and its own key verifies it:
    /// a root CA or a self-signed end-entity certificate. (`X509_check_issued` would also
    /// demand keyCertSign, which a self-signed end-entity certificate rightly lacks.)
    public var isSelfSigned: Bool {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        return X509_self_signed(pointer, 1) == 1
    }

    /// Whether this certificate's key matches `key`.
    public func matches(_ key: PrivateKey) -> Bool {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        return X509_check_private_key(pointer, key.pointer) == 1
    }

    /// The certificate in PEM form.
    public var pemEncoded: String {
        let bio = MemoryBIO()
        bio.withPointer { _ = PEM_write_bio_X509($0, pointer) }
        return bio.string
    }

    /// The certificate in DER form.
    public var derEncoded: [UInt8] {
        let bio = MemoryBIO()
        bio.withPointer { _ = i2d_X509_bio($0, pointer) }
        return bio.bytes
    }

    /// SHA-256 of the DER encoding, as colon-separated hex.
    public var sha256Fingerprint: String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        X509_digest(pointer, EVP_sha256(), &digest, &length)
        return digest.prefix(Int(length)).map { String(format: "%02X", $0) }.joined(separator: ":")
    }
}

/// The algorithm and size of a public or private key.
public struct PublicKeyDescription: Sendable, Hashable, CustomStringConvertible {
    public var algorithm: String
    public var bits: Int

    init(algorithm: String, bits: Int) {
        self.algorithm = algorithm
        self.bits = bits
    }

    init(_ key: OpaquePointer) {
        let id = EVP_PKEY_get_base_id(key)
        algorithm = id == EVP_PKEY_RSA ? "RSA" : String(cString: OBJ_nid2sn(id))
        bits = Int(EVP_PKEY_get_bits(key))
    }

    public var isRSA: Bool { algorithm == "RSA" }

    /// `RSA 2048`
    public var description: String { "\(algorithm) \(bits)" }
}

enum PEM {
    /// PEM is text with a `-----BEGIN` line; DER starts with an ASN.1 SEQUENCE byte.
    static func looksLikePEM(_ bytes: [UInt8]) -> Bool {
        let marker = Array("-----BEGIN ".utf8)
        guard bytes.count >= marker.count else { return false }
        for start in 0...(bytes.count - marker.count) where bytes[start] == marker[0] {
            if Array(bytes[start..<start + marker.count]) == marker { return true }
        }
        return false
    }
}

extension DistinguishedName {
    init(_ name: OpaquePointer?) {
        var attributes: [Attribute] = []
        guard let name else {
            self.init(attributes: [])
            return
        }
        for index in 0..<X509_NAME_entry_count(name) {
            guard let entry = X509_NAME_get_entry(name, index) else { continue }
            let nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry))
            let key = String(cString: OBJ_nid2sn(nid))
            var utf8: UnsafeMutablePointer<UInt8>?
            let length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry))
            guard length >= 0, let utf8 else { continue }
            let value = String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
            CShims_OPENSSL_free(utf8)
            attributes.append(Attribute(key: key, value: value))
        }
        self.init(attributes: attributes)
    }
}

extension Date {
    /// An ASN1_TIME as a Date (UTC).
    init(asn1Time: UnsafePointer<ASN1_TIME>?) {
        var parts = tm()
        guard let asn1Time, ASN1_TIME_to_tm(asn1Time, &parts) == 1 else {
            self = .distantPast
            return
        }
        self = Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }
}
