/*
 * Session benchmark client for scripts/bench-sessions: the same lean client for vtpm and swtpm, so
 * that the servers' difference is what the figures show (a tpm2-pytss client spends milliseconds of
 * its own CPU per command). It speaks the swtpm-style raw data channel, over TCP or a Unix socket (a command, then its
 * response; no pipelining) and does the session arithmetic itself with libcrypto:
 *
 *   hmac-extend ADDRESS N [--reconnect]
 *       StartAuthSession(tpmKey = bind = TPM_RH_NULL, no salt, TPM_SE_HMAC, AES-128-CFB, SHA-256)
 *       once, then N x TPM2_PCR_Extend(16, one SHA-256 digest) authorized by that session with
 *       continueSession set; every command HMAC computed and every response HMAC verified.
 *   salted-unseal ADDRESS N SALTFILE PRIMARY ITEM ITEM_NAME_HEX SECRET_HEX [--reconnect]
 *       N x { StartAuthSession(tpmKey = PRIMARY (ECC P-256), bind = NULL, encryptedSalt = an
 *       ephemeral point from SALTFILE, TPM_SE_HMAC, AES-128-CFB, SHA-256); TPM2_Unseal(ITEM) with
 *       that session (encrypt set, continueSession clear: the TPM ends it) }: the response HMAC is
 *       verified, outData decrypted and compared with SECRET.
 *       SALTFILE has one line per iteration, "Qe.x Qe.y salt" in hex, computed beforehand by the
 *       driver (the ECDH of the salt is the client's business and stays out of the timed loop; the
 *       server's ECDH is part of what is compared). Lines are reused in turn if N exceeds them.
 *
 * --reconnect opens a new TCP connection for every command (what the swtpm TCTI does); without it
 * one connection carries everything. Any error, response code != 0 or HMAC mismatch exits 1.
 * Output, as bench-client's: <name> <iterations> <wall seconds> <client cpu seconds>
 *
 * Spec references are to TPM 2.0 Library rev 1.59: Part 1 19.6 (session HMACs, session key),
 * 21 (parameter encryption), 11.4.9 / 11.4.10 (KDFa / KDFe); Part 3 11.1 (StartAuthSession),
 * 22.2 (PCR_Extend), 12.7 (Unseal).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "bench-wire.h"

#define ST_NO_SESSIONS 0x8001
#define ST_SESSIONS 0x8002
#define CC_START_AUTH_SESSION 0x176
#define CC_PCR_EXTEND 0x182
#define CC_UNSEAL 0x15E
#define CC_FLUSH_CONTEXT 0x165
#define RH_NULL 0x40000007u
#define ALG_SHA256 0x000B
#define ALG_AES 0x0006
#define ALG_CFB 0x0043
#define SE_HMAC 0x00
#define ATTR_CONTINUE 0x01
#define ATTR_ENCRYPT 0x40
#define DIGEST 32
#define NONCE_CALLER 16
#define MAX_NONCE 64

/* ---------- bytes ---------- */

static size_t put8(uint8_t *p, uint8_t v) { p[0] = v; return 1; }
static size_t putb(uint8_t *p, const uint8_t *b, size_t n) { memcpy(p, b, n); return n; }
static size_t put2b(uint8_t *p, const uint8_t *b, size_t n) { put16(p, (uint16_t)n); memcpy(p + 2, b, n); return 2 + n; }

static void die(const char *what, long i) {
    fprintf(stderr, "bench-sessions-client: %s (iteration %ld)\n", what, i);
    exit(1);
}

/* A bounded reader over a response: every read checks the remaining length. */
struct rd { const uint8_t *p; size_t left; };
static int rd_u8(struct rd *r, uint8_t *v) { if (r->left < 1) return -1; *v = r->p[0]; r->p++; r->left--; return 0; }
static int rd_u32(struct rd *r, uint32_t *v) { if (r->left < 4) return -1; *v = get32(r->p); r->p += 4; r->left -= 4; return 0; }
/* A TPM2B: its bytes (pointer into the buffer) and size, at most max. */
static int rd_2b(struct rd *r, const uint8_t **b, size_t *n, size_t max) {
    if (r->left < 2) return -1;
    size_t s = get16(r->p);
    if (s > max || r->left - 2 < s) return -1;
    *b = r->p + 2; *n = s; r->p += 2 + s; r->left -= 2 + s;
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Hex string (even length) into out; returns the byte count or -1. */
static long unhex(const char *s, size_t len, uint8_t *out, size_t cap) {
    if (len % 2 || len / 2 > cap) return -1;
    for (size_t i = 0; i < len / 2; i++) {
        int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
        if (h < 0 || l < 0) return -1;
        out[i] = (uint8_t)(h << 4 | l);
    }
    return (long)(len / 2);
}

/* ---------- crypto ---------- */

static EVP_MAC_CTX *mac_ctx;
static EVP_MD_CTX *md_ctx;
static EVP_CIPHER_CTX *cipher_ctx;
static EVP_MD *sha256;
static EVP_CIPHER *aes128cfb;

static void crypto_init(void) {
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    aes128cfb = EVP_CIPHER_fetch(NULL, "AES-128-CFB", NULL);
    md_ctx = EVP_MD_CTX_new();
    cipher_ctx = EVP_CIPHER_CTX_new();
    if (!mac || !sha256 || !aes128cfb || !md_ctx || !cipher_ctx) die("libcrypto setup failed", -1);
    mac_ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0), OSSL_PARAM_construct_end() };
    if (!mac_ctx || !EVP_MAC_CTX_set_params(mac_ctx, params)) die("HMAC setup failed", -1);
}

/* SHA-256 over up to three pieces. */
static void sha(const uint8_t *a, size_t an, const uint8_t *b, size_t bn, const uint8_t *c, size_t cn, uint8_t out[DIGEST]) {
    if (!EVP_DigestInit_ex(md_ctx, sha256, NULL) || !EVP_DigestUpdate(md_ctx, a, an) || (bn && !EVP_DigestUpdate(md_ctx, b, bn))
        || (cn && !EVP_DigestUpdate(md_ctx, c, cn)) || !EVP_DigestFinal_ex(md_ctx, out, NULL))
        die("SHA-256 failed", -1);
}

/* HMAC-SHA256(key, the concatenation of n pieces). An empty key is legal (an unbound, unsalted session
 * with an empty authValue has one); libcrypto wants a non-NULL pointer for it. */
struct piece { const uint8_t *p; size_t n; };
static void hmac(const uint8_t *key, size_t keylen, const struct piece *pieces, int n, uint8_t out[DIGEST]) {
    static const uint8_t none[1];
    size_t outlen;
    if (!EVP_MAC_init(mac_ctx, keylen ? key : none, keylen, NULL)) die("HMAC init failed", -1);
    for (int i = 0; i < n; i++)
        if (pieces[i].n && !EVP_MAC_update(mac_ctx, pieces[i].p, pieces[i].n)) die("HMAC failed", -1);
    if (!EVP_MAC_final(mac_ctx, out, &outlen, DIGEST) || outlen != DIGEST) die("HMAC final failed", -1);
}

/* KDFa with SHA-256 for 256 bits (one counter block): HMAC(key, [1]32 || label || 00 || u || v || [256]32).
 * Part 1 11.4.10.2. */
static void kdfa256(const uint8_t *key, size_t keylen, const char *label, const uint8_t *u, size_t un,
                    const uint8_t *v, size_t vn, uint8_t out[DIGEST]) {
    uint8_t counter[4], bits[4];
    put32(counter, 1);
    put32(bits, 256);
    struct piece p[] = { { counter, 4 }, { (const uint8_t *)label, strlen(label) + 1 }, { u, un }, { v, vn }, { bits, 4 } };
    hmac(key, keylen, p, 5, out);
}

/* AES-128-CFB (full-block feedback) decryption in place; Part 1 21.4. */
static void cfb_decrypt(const uint8_t key[16], const uint8_t iv[16], uint8_t *buf, size_t n) {
    int outl = 0, fin = 0;
    if (!EVP_DecryptInit_ex(cipher_ctx, aes128cfb, NULL, key, iv) || !EVP_DecryptUpdate(cipher_ctx, buf, &outl, buf, (int)n)
        || !EVP_DecryptFinal_ex(cipher_ctx, buf + outl, &fin) || (size_t)(outl + fin) != n)
        die("AES-128-CFB failed", -1);
}

/* ---------- transport ---------- */

struct conn { int fd; const char *address; int reconnect; };

/* ADDRESS: a TCP port on 127.0.0.1, or the path of a Unix stream socket (anything with a '/'). */
static int dial(const char *address) {
    int fd;
    if (strchr(address, '/')) {
        struct sockaddr_un u = { .sun_family = AF_UNIX };
        if (strlen(address) >= sizeof u.sun_path) { fprintf(stderr, "socket path too long\n"); exit(1); }
        strcpy(u.sun_path, address);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&u, sizeof u) != 0) { perror("connect"); exit(1); }
        return fd;
    }
    fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(address)) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); exit(1); }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}


/* Sends the command (its size field is filled in here) and reads the whole response; returns its
 * length. A response code other than success is fatal. */
static size_t transact(struct conn *c, uint8_t *cmd, size_t len, uint8_t *resp, size_t cap, const char *what, long i) {
    put32(cmd + 2, (uint32_t)len);
    if (c->reconnect || c->fd < 0) c->fd = dial(c->address);
    if (write(c->fd, cmd, len) != (ssize_t)len) die("write failed", i);
    if (read_full(c->fd, resp, 10) != 0) die("connection closed", i);
    uint32_t size = get32(resp + 2), rc = get32(resp + 6);
    if (size < 10 || size > cap || read_full(c->fd, resp + 10, size - 10) != 0) die("bad response size", i);
    if (c->reconnect) { close(c->fd); c->fd = -1; }
    if (rc != 0) {
        fprintf(stderr, "bench-sessions-client: %s answered rc 0x%x (iteration %ld)\n", what, rc, i);
        exit(1);
    }
    return size;
}

/* ---------- sessions ---------- */

struct session {
    uint32_t handle;
    uint8_t key[DIGEST]; size_t keylen;           /* sessionKey (empty when unbound and unsalted) */
    uint8_t nonce_tpm[MAX_NONCE]; size_t ntpm;    /* the TPM's latest nonce */
    uint8_t nonce_caller[NONCE_CALLER];           /* the nonce of the command in flight */
};

/* TPM2_StartAuthSession(tpmKey, TPM_RH_NULL, nonceCaller, encryptedSalt, HMAC, AES-128-CFB, SHA-256).
 * salt (32 bytes) is the secret behind the encrypted salt, or NULL for an unsalted session. */
static void start_session(struct conn *c, struct session *s, uint32_t tpm_key, const uint8_t *enc_salt, size_t enc_len,
                          const uint8_t *salt, long i) {
    uint8_t cmd[256], resp[256];
    size_t n = 0;
    uint8_t nonce[NONCE_CALLER];
    if (RAND_bytes(nonce, sizeof nonce) != 1) die("RAND_bytes failed", i);
    n += put16(cmd + n, ST_NO_SESSIONS); n += 4; n += put32(cmd + n, CC_START_AUTH_SESSION);
    n += put32(cmd + n, tpm_key); n += put32(cmd + n, RH_NULL);
    n += put2b(cmd + n, nonce, sizeof nonce);
    n += put2b(cmd + n, enc_salt, enc_len);
    n += put8(cmd + n, SE_HMAC);
    n += put16(cmd + n, ALG_AES); n += put16(cmd + n, 128); n += put16(cmd + n, ALG_CFB);
    n += put16(cmd + n, ALG_SHA256);
    size_t len = transact(c, cmd, n, resp, sizeof resp, "StartAuthSession", i);
    struct rd r = { resp + 10, len - 10 };
    const uint8_t *nt;
    if (rd_u32(&r, &s->handle) != 0 || rd_2b(&r, &nt, &s->ntpm, MAX_NONCE) != 0 || r.left != 0)
        die("malformed StartAuthSession response", i);
    memcpy(s->nonce_tpm, nt, s->ntpm);
    /* sessionKey = KDFa(SHA-256, bind.authValue || salt, "ATH", nonceTPM, nonceCaller, 256), Part 1 19.6.8;
     * empty when there is neither a bind entity nor a salt. */
    if (salt) {
        kdfa256(salt, DIGEST, "ATH", s->nonce_tpm, s->ntpm, nonce, sizeof nonce, s->key);
        s->keylen = DIGEST;
    } else {
        s->keylen = 0;
    }
}

/* Appends the authorization area for one session to cmd at *n (authorizationSize first). cpHash is
 * over commandCode || the handles' names || parameters (Part 1 19.6.5); the HMAC key is sessionKey ||
 * authValue, and every authValue here is empty (PCR 16, the sealed object created without one). */
static void put_auth(uint8_t *cmd, size_t *n, struct session *s, const uint8_t cp_hash[DIGEST], uint8_t attrs, long i) {
    if (RAND_bytes(s->nonce_caller, NONCE_CALLER) != 1) die("RAND_bytes failed", i);
    uint8_t mac[DIGEST];
    /* HMAC(sessionKey || authValue, cpHash || nonceNewer (caller) || nonceOlder (TPM) || sessionAttributes) */
    struct piece p[] = { { cp_hash, DIGEST }, { s->nonce_caller, NONCE_CALLER }, { s->nonce_tpm, s->ntpm }, { &attrs, 1 } };
    hmac(s->key, s->keylen, p, 4, mac);
    *n += put32(cmd + *n, 4 + 2 + NONCE_CALLER + 1 + 2 + DIGEST);
    *n += put32(cmd + *n, s->handle);
    *n += put2b(cmd + *n, s->nonce_caller, NONCE_CALLER);
    *n += put8(cmd + *n, attrs);
    *n += put2b(cmd + *n, mac, DIGEST);
}

/* Checks a response's single authorization: HMAC(sessionKey || authValue, rpHash || nonceTPM (new) ||
 * nonceCaller || sessionAttributes), rpHash = H(responseCode || commandCode || parameters) (Part 1 19.6.6).
 * r is positioned just after the parameters; the TPM's new nonce becomes the session's. */
static void check_auth(struct rd *r, struct session *s, uint32_t cc, const uint8_t *params, size_t plen, long i) {
    const uint8_t *nt, *mac;
    size_t ntn, macn;
    uint8_t attrs;
    if (rd_2b(r, &nt, &ntn, MAX_NONCE) != 0 || rd_u8(r, &attrs) != 0 || rd_2b(r, &mac, &macn, DIGEST) != 0 || r->left != 0)
        die("malformed response authorization area", i);
    uint8_t head[8], rp_hash[DIGEST], expect[DIGEST];
    put32(head, 0); put32(head + 4, cc);
    sha(head, 8, params, plen, NULL, 0, rp_hash);
    struct piece p[] = { { rp_hash, DIGEST }, { nt, ntn }, { s->nonce_caller, NONCE_CALLER }, { &attrs, 1 } };
    hmac(s->key, s->keylen, p, 4, expect);
    if (macn != DIGEST || CRYPTO_memcmp(mac, expect, DIGEST) != 0) die("response HMAC mismatch", i);
    memcpy(s->nonce_tpm, nt, ntn);
    s->ntpm = ntn;
}

/* Reads a sessions response's parameterSize and returns the parameters' start and length. */
static void split_params(struct rd *r, const uint8_t **params, size_t *plen, long i) {
    uint32_t ps;
    if (rd_u32(r, &ps) != 0 || ps > r->left) die("malformed response parameter area", i);
    *params = r->p; *plen = ps;
    r->p += ps; r->left -= ps;
}

/* ---------- the two loops ---------- */


/* The clock runs from after the session starts (*t0, *c0) to before it is flushed (*t1, *c1). */
static void hmac_extend(struct conn *c, long iterations, double *t0, double *c0, double *t1, double *c1) {
    struct session s;
    start_session(c, &s, RH_NULL, NULL, 0, NULL, -1);
    /* Parameters: TPML_DIGEST_VALUES with one SHA-256 digest. */
    uint8_t params[4 + 2 + DIGEST];
    size_t pn = 0;
    pn += put32(params + pn, 1); pn += put16(params + pn, ALG_SHA256);
    for (int k = 0; k < DIGEST; k++) params[pn++] = (uint8_t)(k * 3);
    /* cpHash = H(TPM_CC_PCR_Extend || name of PCR 16 (its handle) || parameters); the same every time. */
    uint8_t head[8], cp_hash[DIGEST];
    put32(head, CC_PCR_EXTEND); put32(head + 4, 16);
    sha(head, 8, params, pn, NULL, 0, cp_hash);
    uint8_t cmd[256], resp[256];
    *t0 = now(); *c0 = cpu();
    for (long i = 0; i < iterations; i++) {
        size_t n = 0;
        n += put16(cmd + n, ST_SESSIONS); n += 4; n += put32(cmd + n, CC_PCR_EXTEND);
        n += put32(cmd + n, 16);
        put_auth(cmd, &n, &s, cp_hash, ATTR_CONTINUE, i);
        n += putb(cmd + n, params, pn);
        size_t len = transact(c, cmd, n, resp, sizeof resp, "PCR_Extend", i);
        struct rd r = { resp + 10, len - 10 };
        const uint8_t *rp;
        size_t rpn;
        split_params(&r, &rp, &rpn, i);
        if (rpn != 0) die("PCR_Extend returned parameters", i);
        check_auth(&r, &s, CC_PCR_EXTEND, rp, rpn, i);
    }
    *t1 = now(); *c1 = cpu();
    /* TPM2_FlushContext(session): the next run starts its own (session slots are few). */
    size_t n = 0;
    n += put16(cmd + n, ST_NO_SESSIONS); n += 4; n += put32(cmd + n, CC_FLUSH_CONTEXT);
    n += put32(cmd + n, s.handle);
    transact(c, cmd, n, resp, sizeof resp, "FlushContext", iterations);
}

struct salt_line { uint8_t x[32], y[32], salt[DIGEST]; };

static struct salt_line *read_salts(const char *path, long *count) {
    FILE *f = fopen(path, "r");
    if (!f) { perror(path); exit(1); }
    long cap = 1024, n = 0;
    struct salt_line *v = malloc(sizeof *v * cap);
    char line[512], hx[3][130];
    while (v && fgets(line, sizeof line, f)) {
        if (sscanf(line, "%129s %129s %129s", hx[0], hx[1], hx[2]) != 3) continue;
        if (n == cap) { cap *= 2; v = realloc(v, sizeof *v * cap); if (!v) break; }
        if (unhex(hx[0], strlen(hx[0]), v[n].x, 32) != 32 || unhex(hx[1], strlen(hx[1]), v[n].y, 32) != 32
            || unhex(hx[2], strlen(hx[2]), v[n].salt, DIGEST) != DIGEST)
            die("bad line in the salt file", n);
        n++;
    }
    fclose(f);
    if (!v || n == 0) die("empty salt file", -1);
    *count = n;
    return v;
}

static void salted_unseal(struct conn *c, long iterations, const struct salt_line *salts, long nsalts, uint32_t primary,
                          uint32_t item, const uint8_t *item_name, size_t name_len, const uint8_t *secret, size_t secret_len) {
    /* cpHash of Unseal = H(TPM_CC_Unseal || name of the item); it has no parameters. */
    uint8_t head[4], cp_hash[DIGEST];
    put32(head, CC_UNSEAL);
    sha(head, 4, item_name, name_len, NULL, 0, cp_hash);
    uint8_t cmd[256], resp[512];
    for (long i = 0; i < iterations; i++) {
        const struct salt_line *sl = &salts[i % nsalts];
        /* encryptedSalt of an ECC key: the ephemeral point Qe as a marshaled TPMS_ECC_POINT. */
        uint8_t point[2 + 32 + 2 + 32];
        size_t pn = 0;
        pn += put2b(point + pn, sl->x, 32); pn += put2b(point + pn, sl->y, 32);
        struct session s;
        start_session(c, &s, primary, point, pn, sl->salt, i);
        size_t n = 0;
        n += put16(cmd + n, ST_SESSIONS); n += 4; n += put32(cmd + n, CC_UNSEAL);
        n += put32(cmd + n, item);
        put_auth(cmd, &n, &s, cp_hash, ATTR_ENCRYPT, i);   /* continueSession clear: the TPM ends it */
        size_t len = transact(c, cmd, n, resp, sizeof resp, "Unseal", i);
        struct rd r = { resp + 10, len - 10 };
        const uint8_t *rp;
        size_t rpn;
        split_params(&r, &rp, &rpn, i);
        /* The HMAC covers the parameters as sent, i.e. encrypted (Part 1 21.1). */
        check_auth(&r, &s, CC_UNSEAL, rp, rpn, i);
        struct rd pr = { rp, rpn };
        const uint8_t *enc;
        size_t encn;
        if (rd_2b(&pr, &enc, &encn, 128) != 0 || pr.left != 0) die("malformed Unseal parameters", i);
        /* Response encryption: KDFa(SHA-256, sessionKey || authValue, "CFB", nonceNewer = the TPM's new
         * nonce, nonceOlder = nonceCaller, 256): 128 key bits, then 128 IV bits (Part 1 21.4). */
        uint8_t kiv[DIGEST], data[128];
        kdfa256(s.key, s.keylen, "CFB", s.nonce_tpm, s.ntpm, s.nonce_caller, NONCE_CALLER, kiv);
        memcpy(data, enc, encn);
        cfb_decrypt(kiv, kiv + 16, data, encn);
        if (encn != secret_len || memcmp(data, secret, secret_len) != 0) die("unsealed data differs from the secret", i);
    }
}

/* ---------- main ---------- */


static void usage(const char *argv0) {
    fprintf(stderr, "usage: %s hmac-extend ADDRESS N [--reconnect]\n"
                    "       %s salted-unseal ADDRESS N SALTFILE PRIMARY ITEM ITEM_NAME_HEX SECRET_HEX [--reconnect]\n",
            argv0, argv0);
    exit(2);
}

int main(int argc, char **argv) {
    int reconnect = 0;
    if (argc > 1 && strcmp(argv[argc - 1], "--reconnect") == 0) { reconnect = 1; argc--; }
    if (argc < 4) usage(argv[0]);
    const char *mode = argv[1];
    struct conn c = { .fd = -1, .address = argv[2], .reconnect = reconnect };
    long iterations = atol(argv[3]);
    if ((!strchr(c.address, '/') && atoi(c.address) <= 0) || iterations <= 0) usage(argv[0]);
    crypto_init();
    double t0, c0, t1 = 0, c1 = 0;
    if (strcmp(mode, "hmac-extend") == 0 && argc == 4) {
        hmac_extend(&c, iterations, &t0, &c0, &t1, &c1);
    } else if (strcmp(mode, "salted-unseal") == 0 && argc == 9) {
        long nsalts;
        struct salt_line *salts = read_salts(argv[4], &nsalts);
        uint32_t primary = (uint32_t)strtoul(argv[5], NULL, 0), item = (uint32_t)strtoul(argv[6], NULL, 0);
        uint8_t name[2 + 64], secret[128];
        long name_len = unhex(argv[7], strlen(argv[7]), name, sizeof name);
        long secret_len = unhex(argv[8], strlen(argv[8]), secret, sizeof secret);
        if (name_len < 0 || secret_len < 0) usage(argv[0]);
        t0 = now(); c0 = cpu();
        salted_unseal(&c, iterations, salts, nsalts, primary, item, name, (size_t)name_len, secret, (size_t)secret_len);
        t1 = now(); c1 = cpu();
        free(salts);
    } else {
        usage(argv[0]);
    }
    double wall = t1 - t0, client = c1 - c0;
    printf("%s%s %ld %.6f %.6f\n", mode, reconnect ? "-reconnect" : "", iterations, wall, client);
    if (c.fd >= 0) close(c.fd);
    return 0;
}
