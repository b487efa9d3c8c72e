import Foundation
internal import COpenSSL

/// An owned OpenSSL `EVP_PKEY` holding a private key.
///
/// Sendable because it is never mutated after loading; OpenSSL 3 keys are safe to use
/// from several threads for signing and for building TLS contexts.
public final class PrivateKey: @unchecked Sendable {
    package let pointer: OpaquePointer

    package init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        EVP_PKEY_free(pointer)
    }

    /// Reads a private key: PEM (PKCS#1 `RSA PRIVATE KEY`, PKCS#8 `PRIVATE KEY`, legacy
    /// `Proc-Type: 4,ENCRYPTED` or `ENCRYPTED PRIVATE KEY`) or DER (PKCS#1, PKCS#8,
    /// encrypted PKCS#8). An encrypted key needs `passphrase`; an unencrypted key ignores it.
    public static func load(from bytes: [UInt8], passphrase: String?) throws(CertificateFileError) -> PrivateKey {
        OpenSSLErrorQueue.clear()
        let encrypted = isEncrypted(bytes)
        // With no callback OpenSSL takes the user-data pointer as the passphrase. An empty
        // one makes an encrypted key fail instead of prompting on the terminal.
        let key: OpaquePointer? = (passphrase ?? "").withCString { secret in
            let userData = UnsafeMutableRawPointer(mutating: secret)
            if PEM.looksLikePEM(bytes) {
                return MemoryBIO(bytes).withPointer { PEM_read_bio_PrivateKey($0, nil, nil, userData) }
            }
            let plain: OpaquePointer? = bytes.withUnsafeBufferPointer { buffer in
                var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
                return d2i_AutoPrivateKey(nil, &cursor, buffer.count)
            }
            return plain ?? MemoryBIO(bytes).withPointer { d2i_PKCS8PrivateKey_bio($0, nil, nil, userData) }
        }
        let detail = OpenSSLErrorQueue.drain()
        if let key { return PrivateKey(taking: key) }
        if encrypted {
            throw .wrongPassphrase(detail: passphrase == nil ? "the key is encrypted and no passphrase was given" : detail)
        }
        throw .notAKey
    }

    /// Whether the bytes are an encrypted key: PEM says so in its header; DER encrypted
    /// PKCS#8 is recognised by the reader failing without a passphrase but succeeding as
    /// an `X509_SIG` (the EncryptedPrivateKeyInfo structure).
    static func isEncrypted(_ bytes: [UInt8]) -> Bool {
        if PEM.looksLikePEM(bytes) {
            let text = String(decoding: bytes, as: UTF8.self)
            return text.contains("ENCRYPTED PRIVATE KEY-----") || text.contains("Proc-Type: 4,ENCRYPTED")
        }
        guard let sig = MemoryBIO(bytes).withPointer({ d2i_PKCS8_bio($0, nil) }) else {
            OpenSSLErrorQueue.clear()
            return false
        }
        X509_SIG_free(sig)
        return true
    }

    public var description: PublicKeyDescription {
        PublicKeyDescription(pointer)
    }

    /// A new RSA key of `bits` bits.
    public static func generateRSA(bits: Int) throws(CertificateGenerationError) -> PrivateKey {
        OpenSSLErrorQueue.clear()
        guard let key = CShims_EVP_RSA_gen(UInt32(bits)) else {
            throw .openSSL(OpenSSLErrorQueue.drain())
        }
        return PrivateKey(taking: key)
    }

    /// The key as unencrypted PKCS#8 PEM.
    public var pemEncoded: String {
        let bio = MemoryBIO()
        bio.withPointer { _ = PEM_write_bio_PrivateKey($0, pointer, nil, nil, 0, nil, nil) }
        return bio.string
    }
}
