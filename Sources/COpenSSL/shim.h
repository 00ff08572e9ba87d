// The system's OpenSSL libcrypto (libssl-dev), for TPMCrypto and Measurement. Besides the headers, small
// helpers that would need macros, deprecated declarations or pointer walking in Swift, and the hash/HMAC
// contexts below. Imported by TPMCrypto (OpenSSL.swift, Hash.swift, KDF.swift) and Measurement
// (IMAHashAlgorithm.swift).
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
// SHA1_Init/SHA256_Init...: stack contexts, no allocation (vtpm_hash_* below).
#include <openssl/sha.h>
#include <string.h>

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

// MARK: hashes and HMAC on the caller's stack
//
// OpenSSL's low-level SHA functions on contexts the caller holds: no allocation, no algorithm
// fetch, no generic layers. The engine hashes and MACs small messages for every command
// (cpHash, rpHash, session HMACs, the DRBG, KDFa), and Measurement hashes every IMA entry and
// PCR extend, where those costs were most of the work.

/// A hash context for SHA-1, SHA-256, SHA-384 or SHA-512 (`alg` is the TPM_ALG_ID: 0x0004,
/// 0x000B, 0x000C, 0x000D).
typedef struct {
    unsigned int alg;
    union {
        SHA_CTX sha1;
        SHA256_CTX sha256;
        SHA512_CTX sha512;
    } u;
} vtpm_hash_ctx;

/// 1 when `alg` is one of the four; 0 (and nothing set up) otherwise.
static inline int vtpm_hash_init(vtpm_hash_ctx *c, unsigned int alg) {
    c->alg = alg;
    switch (alg) {
    case 0x0004: return SHA1_Init(&c->u.sha1);
    case 0x000B: return SHA256_Init(&c->u.sha256);
    case 0x000C: return SHA384_Init(&c->u.sha512);
    case 0x000D: return SHA512_Init(&c->u.sha512);
    default: return 0;
    }
}

static inline void vtpm_hash_update(vtpm_hash_ctx *c, const void *data, size_t len) {
    if (len == 0) return;
    switch (c->alg) {
    case 0x0004: SHA1_Update(&c->u.sha1, data, len); break;
    case 0x000B: SHA256_Update(&c->u.sha256, data, len); break;
    case 0x000C: SHA384_Update(&c->u.sha512, data, len); break;
    case 0x000D: SHA512_Update(&c->u.sha512, data, len); break;
    }
}

/// Writes the digest (20, 32, 48 or 64 octets) to `out`; the context is spent.
static inline void vtpm_hash_final(vtpm_hash_ctx *c, unsigned char *out) {
    switch (c->alg) {
    case 0x0004: SHA1_Final(out, &c->u.sha1); break;
    case 0x000B: SHA256_Final(out, &c->u.sha256); break;
    case 0x000C: SHA384_Final(out, &c->u.sha512); break;
    case 0x000D: SHA512_Final(out, &c->u.sha512); break;
    }
}

/// Wipes a context (one that held key-dependent state, say).
static inline void vtpm_hash_wipe(vtpm_hash_ctx *c) { OPENSSL_cleanse(c, sizeof *c); }

static inline size_t vtpm_hash_block_size(unsigned int alg) { return alg == 0x000C || alg == 0x000D ? 128 : 64; }

static inline size_t vtpm_hash_digest_size(unsigned int alg) {
    switch (alg) {
    case 0x0004: return 20;
    case 0x000B: return 32;
    case 0x000C: return 48;
    default: return 64;
    }
}

/// An HMAC key set up once (RFC 2104): the hash states after absorbing K xor ipad and K xor
/// opad, K the key zero-padded to the block size (hashed first when longer than a block).
typedef struct {
    vtpm_hash_ctx inner;
    vtpm_hash_ctx outer;
} vtpm_hmac_key;

/// 1 on success; 0 for an unknown `alg`. The padded key is wiped before returning.
static inline int vtpm_hmac_key_init(vtpm_hmac_key *k, unsigned int alg, const unsigned char *key, size_t key_len) {
    unsigned char block[128];
    unsigned char pad[128];
    size_t bs = vtpm_hash_block_size(alg);
    memset(block, 0, sizeof block);
    if (!vtpm_hash_init(&k->inner, alg) || !vtpm_hash_init(&k->outer, alg)) return 0;
    if (key_len > bs) {
        vtpm_hash_ctx h;
        vtpm_hash_init(&h, alg);
        vtpm_hash_update(&h, key, key_len);
        vtpm_hash_final(&h, block);
        OPENSSL_cleanse(&h, sizeof h);
    } else if (key_len > 0) {
        memcpy(block, key, key_len);
    }
    for (size_t i = 0; i < bs; i++) pad[i] = block[i] ^ 0x36;
    vtpm_hash_update(&k->inner, pad, bs);
    for (size_t i = 0; i < bs; i++) pad[i] = block[i] ^ 0x5C;
    vtpm_hash_update(&k->outer, pad, bs);
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
    return 1;
}

/// An HMAC in progress: starts from a copy of the key's inner state.
static inline void vtpm_hmac_start(const vtpm_hmac_key *k, vtpm_hash_ctx *inner) { *inner = k->inner; }

/// Finishes the HMAC whose inner hash is `inner` (spent) with key `k`; writes the MAC (the
/// hash's digest size) to `out`.
static inline void vtpm_hmac_finish(const vtpm_hmac_key *k, vtpm_hash_ctx *inner, unsigned char *out) {
    unsigned char d[64];
    vtpm_hash_ctx o = k->outer;
    vtpm_hash_final(inner, d);
    vtpm_hash_update(&o, d, vtpm_hash_digest_size(k->inner.alg));
    vtpm_hash_final(&o, out);
    OPENSSL_cleanse(d, sizeof d);
    OPENSSL_cleanse(&o, sizeof o);
    OPENSSL_cleanse(inner, sizeof *inner);
}

/// Wipes a key set up by vtpm_hmac_key_init.
static inline void vtpm_hmac_key_wipe(vtpm_hmac_key *k) { OPENSSL_cleanse(k, sizeof *k); }

#endif
