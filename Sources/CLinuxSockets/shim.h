// Linux calls Glibc's Swift module leaves out: epoll(7), and accept4(2), which glibc declares
// only under _GNU_SOURCE (defining that here, or including <sys/socket.h>, would give this
// module its own copies of shared system types and clash with Glibc's), so it is declared by
// hand (socklen_t is a 32-bit unsigned integer). For VTPMHost's raw TPM data plane
// (DataPlane.swift).
#ifndef VTPM_CLINUXSOCKETS_SHIM_H
#define VTPM_CLINUXSOCKETS_SHIM_H
#include <sys/epoll.h>

struct sockaddr;
extern int accept4(int fd, struct sockaddr *addr, unsigned int *addrlen, int flags);
#endif
