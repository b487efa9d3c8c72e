import Foundation
internal import COpenSSL

/// Runs OpenSSL's `X509_verify_cert` over our owned objects: the chain of trust and CRL
/// status are OpenSSL's verdicts, never re-implemented here.
struct X509Verifier {
    enum Mode {
        /// Chain of trust only. Validity periods are reported by their own checks, so
        /// an expired certificate is not also called "untrusted".
        case chain
        /// Chain plus `X509_V_FLAG_CRL_CHECK` on the leaf against `crls`. The leaf's own
        /// validity period is ignored; the CRL's thisUpdate/nextUpdate are not.
        case revocation([CertificateRevocationList])
    }

    struct Failure: Error, Hashable {
        /// `X509_V_ERR_*`
        var code: Int32
        var depth: Int32
        var reason: String

        var isRevocation: Bool { code == X509_V_ERR_CERT_REVOKED }

        /// Errors that mean no usable CRL was at hand, rather than a broken chain.
        var isCRLUnavailable: Bool {
            [
                X509_V_ERR_UNABLE_TO_GET_CRL, X509_V_ERR_CRL_HAS_EXPIRED, X509_V_ERR_CRL_NOT_YET_VALID,
                X509_V_ERR_CRL_SIGNATURE_FAILURE, X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER,
                X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE, X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD,
                X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD, X509_V_ERR_DIFFERENT_CRL_SCOPE,
                X509_V_ERR_KEYUSAGE_NO_CRL_SIGN,
            ].contains(code)
        }
    }

    var anchors: [X509Certificate]
    var intermediates: [X509Certificate]

    func verify(_ leaf: X509Certificate, mode: Mode) -> Failure? {
        if case .failure(let failure) = build(leaf, mode: mode) { return failure }
        return nil
    }

    /// The chain OpenSSL built from `leaf` to one of `anchors` (leaf first, anchor last),
    /// taking from `intermediates` only the certificates the path needs: anything else a
    /// peer sent along is not part of it.
    func build(_ leaf: X509Certificate, mode: Mode) -> Result<[X509Certificate], Failure> {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        guard let store = X509_STORE_new() else {
            return .failure(Failure(code: X509_V_ERR_OUT_OF_MEM, depth: 0, reason: "out of memory"))
        }
        defer { X509_STORE_free(store) }
        // The store takes its own references to anchors and CRLs.
        for anchor in anchors {
            X509_STORE_add_cert(store, anchor.pointer)
        }
        switch mode {
        case .chain:
            X509_STORE_set_flags(store, UInt(X509_V_FLAG_NO_CHECK_TIME))
        case .revocation(let crls):
            for crl in crls {
                X509_STORE_add_crl(store, crl.pointer)
            }
            X509_STORE_set_flags(store, UInt(X509_V_FLAG_CRL_CHECK))
        }

        // The untrusted stack does not own its certificates: `intermediates` keeps them alive.
        let untrusted = CShims_sk_X509_new_null()
        defer { CShims_sk_X509_free(untrusted) }
        for certificate in intermediates {
            _ = CShims_sk_X509_push(untrusted, certificate.pointer)
        }
        guard let context = X509_STORE_CTX_new() else {
            return .failure(Failure(code: X509_V_ERR_OUT_OF_MEM, depth: 0, reason: "out of memory"))
        }
        defer { X509_STORE_CTX_free(context) }

        return withExtendedLifetime((leaf, intermediates)) {
            guard X509_STORE_CTX_init(context, store, leaf.pointer, untrusted) == 1 else {
                return .failure(Failure(code: X509_V_ERR_UNSPECIFIED, depth: 0, reason: OpenSSLErrorQueue.drain()))
            }
            if case .revocation = mode {
                X509_STORE_CTX_set_verify_cb(context) { ok, context in
                    // The leaf's validity period has checks of its own; a CRL's does not.
                    guard ok == 0, let context else { return ok }
                    let error = X509_STORE_CTX_get_error(context)
                    return error == X509_V_ERR_CERT_HAS_EXPIRED || error == X509_V_ERR_CERT_NOT_YET_VALID ? 1 : ok
                }
            }
            if X509_verify_cert(context) == 1 {
                var chain: [X509Certificate] = []
                if let built = X509_STORE_CTX_get0_chain(context) {
                    for index in 0..<CShims_sk_X509_num(built) {
                        guard let certificate = CShims_sk_X509_value(built, index) else { continue }
                        chain.append(X509Certificate(borrowing: certificate))
                    }
                }
                return .success(chain)
            }
            let code = X509_STORE_CTX_get_error(context)
            return .failure(Failure(
                code: code,
                depth: X509_STORE_CTX_get_error_depth(context),
                reason: String(cString: X509_verify_cert_error_string(Int(code)))
            ))
        }
    }
}
