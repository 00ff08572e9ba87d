/*
 * The transport floor for scripts/bench: a TCP server that does no TPM work at all. It reads
 * whatever one read() returns and answers with a bare 10-byte success header (TPM_ST_NO_SESSIONS,
 * size 10, TPM_RC_SUCCESS), which bench-client accepts. Its ops/s is the ceiling that ANY server,
 * swtpm and vtpm included, can reach on this machine with one connection and strict
 * command/response alternation: what is left is the kernel's loopback and wake-up cost.
 *
 * Usage: bench-null PORT   (serves connections one after another until killed)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 4) != 0) {
        perror("bench-null: listen");
        return 1;
    }
    static const uint8_t ok[10] = { 0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0 };
    uint8_t buf[4096];
    for (;;) {
        int fd = accept(s, NULL, NULL);
        if (fd < 0) continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        while (read(fd, buf, sizeof buf) > 0)
            if (write(fd, ok, sizeof ok) != (ssize_t)sizeof ok) break;
        close(fd);
    }
}
