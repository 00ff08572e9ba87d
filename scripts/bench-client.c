/*
 * Benchmark client for scripts/bench: sends one TPM command N times over ONE persistent TCP
 * connection to a swtpm-style raw data port (command, then its response, strictly alternating:
 * the protocol has no pipelining), checks every response (size field, tag, rc == 0), and prints
 *   <name> <iterations> <wall seconds> <client cpu seconds>
 * The client's own CPU time is reported so that the reader can see it is not the bottleneck.
 *
 * Usage: bench-client PORT ITERATIONS COMMAND   (COMMAND: getrandom | pcrextend | pcrread | hash)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "bench-wire.h"


/* Builds the command; returns its length. */
static size_t build(const char *name, uint8_t *c) {
    size_t n = 0;
    if (strcmp(name, "getrandom") == 0) {            /* TPM2_GetRandom(32) */
        n += put16(c + n, 0x8001); n += 4; n += put32(c + n, 0x17B);
        n += put16(c + n, 32);
    } else if (strcmp(name, "pcrextend") == 0) {     /* TPM2_PCR_Extend(16, sha256), password session */
        n += put16(c + n, 0x8002); n += 4; n += put32(c + n, 0x182);
        n += put32(c + n, 16);
        n += put32(c + n, 9);                         /* authorizationSize */
        n += put32(c + n, 0x40000009); n += put16(c + n, 0); c[n++] = 1; n += put16(c + n, 0);
        n += put32(c + n, 1); n += put16(c + n, 0x000B);
        for (int i = 0; i < 32; i++) c[n++] = (uint8_t)i;
    } else if (strcmp(name, "pcrread") == 0) {       /* TPM2_PCR_Read(sha256: 0-7) */
        n += put16(c + n, 0x8001); n += 4; n += put32(c + n, 0x17E);
        n += put32(c + n, 1); n += put16(c + n, 0x000B); c[n++] = 3; c[n++] = 0xFF; c[n++] = 0; c[n++] = 0;
    } else if (strcmp(name, "hash") == 0) {          /* TPM2_Hash(64 bytes, sha256, TPM_RH_NULL) */
        n += put16(c + n, 0x8001); n += 4; n += put32(c + n, 0x17D);
        n += put16(c + n, 64);
        for (int i = 0; i < 64; i++) c[n++] = (uint8_t)(i * 7);
        n += put16(c + n, 0x000B); n += put32(c + n, 0x40000007);
    } else {
        return 0;
    }
    put32(c + 2, (uint32_t)n);
    return n;
}



int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s PORT ITERATIONS getrandom|pcrextend|pcrread|hash\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    long iterations = atol(argv[2]);
    uint8_t cmd[512], resp[4096];
    size_t len = build(argv[3], cmd);
    if (len == 0) { fprintf(stderr, "unknown command %s\n", argv[3]); return 2; }

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); return 1; }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    double t0 = now(), c0 = cpu();
    for (long i = 0; i < iterations; i++) {
        if (write(fd, cmd, len) != (ssize_t)len) { perror("write"); return 1; }
        if (read_full(fd, resp, 10) != 0) { fprintf(stderr, "connection closed at %ld\n", i); return 1; }
        uint32_t size = get32(resp + 2), rc = get32(resp + 6);
        if (size < 10 || size > sizeof resp || read_full(fd, resp + 10, size - 10) != 0) {
            fprintf(stderr, "bad response size %u at %ld\n", size, i);
            return 1;
        }
        if (rc != 0) { fprintf(stderr, "%s: rc 0x%x at iteration %ld\n", argv[3], rc, i); return 1; }
    }
    double wall = now() - t0, client = cpu() - c0;
    printf("%s %ld %.6f %.6f\n", argv[3], iterations, wall, client);
    close(fd);
    return 0;
}
