// Linux socket calls Glibc's Swift module leaves out: epoll(7), and accept4(2), which glibc
// declares only under _GNU_SOURCE (defining that here would change shared system types and
// clash with the other C modules), so it is declared by hand. For VTPMHost's raw TPM data
// plane (DataPlane.swift).
#ifndef VTPM_CLINUXSOCKETS_SHIM_H
#define VTPM_CLINUXSOCKETS_SHIM_H
#include <sys/epoll.h>
#include <sys/socket.h>

extern int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);
#endif
