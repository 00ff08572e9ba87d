// The system's OpenSSL libcrypto (libssl-dev), for TPMCrypto (and Measurement's SHA contexts). Besides the headers, three
// small helpers that would need macros, deprecated declarations or pointer walking in Swift.
// TPMCrypto's OpenSSL.swift is the only Swift file that imports this module.
#ifndef VTPM_COPENSSL_SHIM_H
#define VTPM_COPENSSL_SHIM_H

// ECDSA with a caller-chosen nonce has no EVP interface in OpenSSL 3: the EC_KEY function
// ECDSA_do_sign_ex() (deprecated, still present) is the only way to reach OpenSSL's
// constant-time s = k^-1 (e + r d) with our own (k^-1, r). Silence its deprecation here.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
// SHA1_Init/SHA256_Init...: stack contexts, no allocation (Measurement's per-entry hashes).
#include <openssl/sha.h>

/// An RSA key pair (EVP_PKEY) from its eight components; NULL on failure. The parameter array
/// that carries copies of the private values is wiped before it is freed.
static inline EVP_PKEY *vtpm_rsa_keypair(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d,
                                         const BIGNUM *p, const BIGNUM *q, const BIGNUM *dp,
                                         const BIGNUM *dq, const BIGNUM *qinv) {
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (bld == NULL) goto done;
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qinv))
        goto done;
    params = OSSL_PARAM_BLD_to_param(bld);
    if (params == NULL) goto done;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) <= 0) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
done:
    if (params != NULL) {
        for (OSSL_PARAM *p = params; p->key != NULL; p++) OPENSSL_cleanse(p->data, p->data_size);
        OSSL_PARAM_free(params);
    }
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/// Sets the OAEP label (the context takes ownership of an OpenSSL-allocated copy).
static inline int vtpm_set_oaep_label(EVP_PKEY_CTX *ctx, const unsigned char *label, size_t len) {
    if (len == 0) return 1;
    if (len > 0x7fffffff) return 0;
    void *copy = OPENSSL_memdup(label, len);
    if (copy == NULL) return 0;
    if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, copy, (int)len) <= 0) {
        OPENSSL_free(copy);
        return 0;
    }
    return 1;
}

/// s = kinv (e + r d) mod n through OpenSSL's constant-time ECDSA core, with the caller's
/// (kinv, r). Writes s (big-endian, padded to out_len) and returns 1; 0 when s would be zero or
/// on failure.
static inline int vtpm_ecdsa_sign_given(const EC_GROUP *group, const BIGNUM *d,
                                        const unsigned char *digest, size_t digest_len,
                                        const BIGNUM *kinv, const BIGNUM *r,
                                        unsigned char *out_s, size_t out_len) {
    int ok = 0;
    ECDSA_SIG *sig = NULL;
    EC_KEY *key = EC_KEY_new();
    if (key == NULL || digest_len > 0x7fffffff || out_len > 0x7fffffff) goto done;
    if (!EC_KEY_set_group(key, group) || !EC_KEY_set_private_key(key, d)) goto done;
    sig = ECDSA_do_sign_ex(digest, (int)digest_len, kinv, r, key);
    if (sig == NULL) goto done;
    const BIGNUM *s = ECDSA_SIG_get0_s(sig);
    if (s == NULL || BN_is_zero(s) || BN_bn2binpad(s, out_s, (int)out_len) < 0) goto done;
    ok = 1;
done:
    ECDSA_SIG_free(sig);
    EC_KEY_free(key);
    ERR_clear_error();
    return ok;
}

#endif
