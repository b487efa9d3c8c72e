#ifndef ALERTGATE_COPENSSL_SHIM_H
#define ALERTGATE_COPENSSL_SHIM_H

// The system OpenSSL 3 headers, plus static inline wrappers for the macros Swift cannot
// import (ctrl macros, safestack accessors, variadic helpers). Only what the gateway
// calls is wrapped; every wrapper is prefixed CShims_.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>
#include <openssl/pem.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/bn.h>
#include <openssl/pkcs12.h>

// MARK: memory

static inline void CShims_OPENSSL_free(void *p) { OPENSSL_free(p); }

static inline long CShims_BIO_get_mem_data(BIO *bio, char **data) {
    return BIO_get_mem_data(bio, data);
}

static inline int CShims_BIO_set_mem_eof_return(BIO *bio, int value) {
    return (int)BIO_set_mem_eof_return(bio, value);
}

// MARK: stacks

static inline STACK_OF(X509) *CShims_sk_X509_new_null(void) { return sk_X509_new_null(); }
static inline int CShims_sk_X509_push(STACK_OF(X509) *sk, X509 *x) { return sk_X509_push(sk, x); }
static inline int CShims_sk_X509_num(const STACK_OF(X509) *sk) { return sk_X509_num(sk); }
static inline X509 *CShims_sk_X509_value(const STACK_OF(X509) *sk, int i) { return sk_X509_value(sk, i); }
/// Frees the stack only; the certificates in it stay owned by their Swift wrappers.
static inline void CShims_sk_X509_free(STACK_OF(X509) *sk) { sk_X509_free(sk); }

static inline STACK_OF(X509_CRL) *CShims_sk_X509_CRL_new_null(void) { return sk_X509_CRL_new_null(); }
static inline int CShims_sk_X509_CRL_push(STACK_OF(X509_CRL) *sk, X509_CRL *c) { return sk_X509_CRL_push(sk, c); }
static inline void CShims_sk_X509_CRL_free(STACK_OF(X509_CRL) *sk) { sk_X509_CRL_free(sk); }

// MARK: extensions

/// The DNS names and IP addresses of a certificate's subjectAltName, written as
/// "DNS:name" / "IP:addr" into `out` separated by '\n'. Returns the number of entries.
static inline int CShims_X509_subject_alt_names(X509 *cert, BIO *out) {
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (names == NULL) return 0;
    int count = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
        if (name->type == GEN_DNS) {
            const ASN1_IA5STRING *s = name->d.dNSName;
            BIO_printf(out, "DNS:%.*s\n", ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
            count++;
        } else if (name->type == GEN_IPADD) {
            const ASN1_OCTET_STRING *s = name->d.iPAddress;
            const unsigned char *p = ASN1_STRING_get0_data(s);
            int len = ASN1_STRING_length(s);
            if (len == 4) {
                BIO_printf(out, "IP:%d.%d.%d.%d\n", p[0], p[1], p[2], p[3]);
                count++;
            } else if (len == 16) {
                BIO_printf(out, "IP:");
                for (int j = 0; j < 16; j += 2) {
                    BIO_printf(out, "%s%x", j ? ":" : "", (p[j] << 8) | p[j + 1]);
                }
                BIO_printf(out, "\n");
                count++;
            }
        } else if (name->type == GEN_EMAIL) {
            const ASN1_IA5STRING *s = name->d.rfc822Name;
            BIO_printf(out, "email:%.*s\n", ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
            count++;
        } else if (name->type == GEN_URI) {
            const ASN1_IA5STRING *s = name->d.uniformResourceIdentifier;
            BIO_printf(out, "URI:%.*s\n", ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
            count++;
        }
    }
    GENERAL_NAMES_free(names);
    return count;
}

/// The URIs of a certificate's CRL distribution points (full names only), one per line.
static inline int CShims_X509_crl_urls(X509 *cert, BIO *out) {
    CRL_DIST_POINTS *points = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
    if (points == NULL) return 0;
    int count = 0;
    for (int i = 0; i < sk_DIST_POINT_num(points); i++) {
        const DIST_POINT *point = sk_DIST_POINT_value(points, i);
        if (point->distpoint == NULL || point->distpoint->type != 0) continue;
        const GENERAL_NAMES *names = point->distpoint->name.fullname;
        for (int j = 0; j < sk_GENERAL_NAME_num(names); j++) {
            const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, j);
            if (name->type != GEN_URI) continue;
            const ASN1_IA5STRING *s = name->d.uniformResourceIdentifier;
            BIO_printf(out, "%.*s\n", ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
            count++;
        }
    }
    CRL_DIST_POINTS_free(points);
    return count;
}

// MARK: keys

static inline EVP_PKEY *CShims_EVP_RSA_gen(unsigned int bits) { return EVP_RSA_gen(bits); }

// MARK: TLS (ctrl macros)

static inline int CShims_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
static inline int CShims_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}
static inline long CShims_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static inline long CShims_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}
static inline int CShims_SSL_CTX_add1_chain_cert(SSL_CTX *ctx, X509 *x) {
    return (int)SSL_CTX_add1_chain_cert(ctx, x);
}
static inline int CShims_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}
static inline uint64_t CShims_SSL_OP_NO_RENEGOTIATION(void) { return SSL_OP_NO_RENEGOTIATION; }
static inline uint64_t CShims_SSL_OP_NO_COMPRESSION(void) { return SSL_OP_NO_COMPRESSION; }
static inline uint64_t CShims_SSL_OP_NO_TICKET(void) { return SSL_OP_NO_TICKET; }
static inline uint64_t CShims_SSL_OP_CIPHER_SERVER_PREFERENCE(void) { return SSL_OP_CIPHER_SERVER_PREFERENCE; }

#endif
