/*
 * The floor for scripts/bench-sessions' HMAC-session PCR_Extend loop: a TCP server that does the
 * least any TPM must do to satisfy scripts/bench-sessions-client.c's `hmac-extend` mode, and no
 * more. It answers
 *   TPM2_StartAuthSession with a session handle and a 16-octet nonceTPM (the command is not read),
 *   TPM2_PCR_Extend with an empty parameter area and one response authorization: a new nonceTPM,
 *     the caller's sessionAttributes, and HMAC-SHA256 with the empty key (an unbound, unsalted
 *     session and PCR 16's empty authValue) over rpHash || nonceTPM || nonceCaller || attributes,
 *     rpHash = SHA-256(responseCode || commandCode) (Part 1, 19.6.6),
 *   TPM2_FlushContext with success,
 * and nothing else (TPM_RC_COMMAND_CODE). It checks no command HMAC and extends no PCR: the rate
 * the client reaches against it shows what the client's own work and the loopback round trip cost
 * with no TPM behind them. Not a strict bound: this server sleeps in read(2) between commands, and a
 * server that polls instead (vtpm, docs/servers.md) can beat it in some runs.
 *
 * Usage: bench-null-session PORT      (serves connections one after another until killed)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "bench-wire.h"

/* A nonce that differs every time (its value does not matter to the floor). */
static void next_nonce(uint8_t nonce[16]) {
    static uint64_t counter;
    counter++;
    memset(nonce, 0xA5, 16);
    memcpy(nonce, &counter, sizeof counter);
}

/* Answers one command in cmd (len octets, header included) into resp; returns the response size. */
static size_t answer(const uint8_t *cmd, size_t len, uint8_t *resp, const uint8_t rp_hash[32]) {
    uint32_t cc = get32(cmd + 6);
    size_t n = 10;
    if (cc == 0x176) {                          /* StartAuthSession */
        put32(resp + n, 0x02000000); n += 4;
        put16(resp + n, 16); n += 2;
        next_nonce(resp + n); n += 16;
        put16(resp, 0x8001);
    } else if (cc == 0x182 && len >= 10 + 4 + 4 + 4 + 2) {   /* PCR_Extend with one session */
        const uint8_t *p = cmd + 10 + 4 + 4 + 4;              /* handle, authorizationSize, session */
        size_t left = len - (10 + 4 + 4 + 4);
        size_t caller_len = (size_t)p[0] << 8 | p[1];
        if (caller_len > 64 || left < 2 + caller_len + 1) goto unsupported;
        const uint8_t *caller = p + 2;
        uint8_t attrs = p[2 + caller_len];
        put32(resp + n, 0); n += 4;               /* parameterSize */
        put16(resp + n, 16); n += 2;
        uint8_t *nonce = resp + n;
        next_nonce(nonce); n += 16;
        resp[n++] = attrs;
        uint8_t msg[32 + 16 + 64 + 1];
        size_t m = 0;
        memcpy(msg + m, rp_hash, 32); m += 32;
        memcpy(msg + m, nonce, 16); m += 16;
        memcpy(msg + m, caller, caller_len); m += caller_len;
        msg[m++] = attrs;
        unsigned int maclen = 32;
        static const uint8_t empty_key[1];
        put16(resp + n, 32); n += 2;
        if (!HMAC(EVP_sha256(), empty_key, 0, msg, m, resp + n, &maclen)) goto unsupported;
        n += 32;
        put16(resp, 0x8002);
    } else if (cc == 0x165) {                   /* FlushContext */
        put16(resp, 0x8001);
    } else {
    unsupported:
        put16(resp, 0x8001); put32(resp + 2, 10); put32(resp + 6, 0x143);
        return 10;
    }
    put32(resp + 2, (uint32_t)n);
    put32(resp + 6, 0);
    return n;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s PORT\n", argv[0]); return 2; }
    uint8_t head[8], rp_hash[32];
    put32(head, 0); put32(head + 4, 0x182);      /* responseCode || commandCode */
    unsigned int hl = 32;
    if (!EVP_Digest(head, sizeof head, rp_hash, &hl, EVP_sha256(), NULL)) return 1;
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0) { perror("bind/listen"); return 1; }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        uint8_t cmd[4096], resp[256];
        while (read_full(c, cmd, 10) == 0) {
            uint32_t size = get32(cmd + 2);
            if (size < 10 || size > sizeof cmd || read_full(c, cmd + 10, size - 10) != 0) break;
            size_t n = answer(cmd, size, resp, rp_hash);
            if (write(c, resp, n) != (ssize_t)n) break;
        }
        close(c);
    }
}
