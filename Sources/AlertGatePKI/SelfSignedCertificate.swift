import AlertGateCore
import Foundation
internal import COpenSSL

public enum CertificateGenerationError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalidParameter(String)
    case openSSL(String)

    public var description: String {
        switch self {
        case .invalidParameter(let reason): reason
        case .openSSL(let reason): "OpenSSL: \(reason)"
        }
    }
}

/// Makes a self-signed certificate that passes the section-5 checks: RSA 2048 or 4096,
/// sha256WithRSAEncryption, the CN also as DNS SAN (RFC 6125 clients ignore the CN when a
/// SAN is present), usable for TLS server and client authentication.
public enum SelfSignedCertificate {
    public static let allowedKeySizes = [2048, 4096]

    public static func generate(
        commonName: String,
        bits: Int = 2048,
        days: Int = 365,
        subject: [DistinguishedName.Attribute] = [],
        now: Date = Date()
    ) throws(CertificateGenerationError) -> (certificate: X509Certificate, key: PrivateKey) {
        guard allowedKeySizes.contains(bits) else {
            throw .invalidParameter("the key size must be 2048 or 4096 bits, not \(bits)")
        }
        guard days > 0 else { throw .invalidParameter("the validity must be at least one day, not \(days)") }
        guard !commonName.isEmpty, !commonName.contains("*") else {
            throw .invalidParameter("the CN must name one host, not \"\(commonName)\"")
        }
        let key = try PrivateKey.generateRSA(bits: bits)
        OpenSSLErrorQueue.clear()
        guard let x509 = X509_new() else { throw .openSSL(OpenSSLErrorQueue.drain()) }
        let certificate = X509Certificate(taking: x509)

        X509_set_version(x509, 2)  // v3
        try setRandomSerial(x509)
        var start = time_t(now.timeIntervalSince1970)
        X509_time_adj_ex(X509_getm_notBefore(x509), 0, -300, &start)  // 5 min of clock skew
        X509_time_adj_ex(X509_getm_notAfter(x509), Int32(days), 0, &start)
        X509_set_pubkey(x509, key.pointer)

        let name = X509_get_subject_name(x509)
        for attribute in subject.filter({ $0.key != "CN" }) + [DistinguishedName.Attribute(key: "CN", value: commonName)] {
            let added = X509_NAME_add_entry_by_txt(name, attribute.key, MBSTRING_UTF8, attribute.value, -1, -1, 0)
            guard added == 1 else {
                throw .invalidParameter("the subject field \(attribute.key)=\(attribute.value) is not valid: \(OpenSSLErrorQueue.drain())")
            }
        }
        X509_set_issuer_name(x509, name)

        let san = IPAddressLiteral.isIP(commonName) ? "IP:\(commonName)" : "DNS:\(commonName)"
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, x509, x509, nil, nil, 0)
        for (nid, value) in [
            (NID_basic_constraints, "critical,CA:FALSE"),
            (NID_key_usage, "critical,digitalSignature,keyEncipherment"),
            (NID_ext_key_usage, "serverAuth,clientAuth"),
            (NID_subject_key_identifier, "hash"),
            (NID_subject_alt_name, san),
        ] {
            guard let ext = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
                throw .openSSL(OpenSSLErrorQueue.drain())
            }
            X509_add_ext(x509, ext, -1)
            X509_EXTENSION_free(ext)
        }
        guard X509_sign(x509, key.pointer, EVP_sha256()) > 0 else {
            throw .openSSL(OpenSSLErrorQueue.drain())
        }
        return (certificate, key)
    }

    private static func setRandomSerial(_ x509: OpaquePointer) throws(CertificateGenerationError) {
        guard let serial = BN_new() else { throw .openSSL(OpenSSLErrorQueue.drain()) }
        defer { BN_free(serial) }
        // 127 random bits: positive, and unique enough that two gateways never collide.
        guard BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1,
            BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x509)) != nil
        else { throw .openSSL(OpenSSLErrorQueue.drain()) }
    }

    /// Writes `NAME.crt` and `NAME.key` into `directory`. The key is created with mode 0600
    /// under a temporary name (`O_CREAT|O_EXCL`: never another file, never readable by
    /// others for a moment) and renamed into place; so is the certificate (mode 0644).
    /// `name` must be a `SafeFileName`: nothing is written outside `directory`.
    public static func write(
        _ pair: (certificate: X509Certificate, key: PrivateKey),
        name: String,
        to directory: URL
    ) throws -> (certificate: URL, key: URL) {
        guard SafeFileName.isValid(name) else {
            throw CertificateGenerationError.invalidParameter("\"\(name)\" cannot be a file name (\(SafeFileName.rule))")
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificateURL = directory.appendingPathComponent("\(name).crt")
        let keyURL = directory.appendingPathComponent("\(name).key")
        try PrivateFile.write(Array(pair.key.pemEncoded.utf8), to: keyURL, mode: 0o600)
        try PrivateFile.write(Array(pair.certificate.pemEncoded.utf8), to: certificateURL, mode: 0o644)
        return (certificateURL, keyURL)
    }
}
