#ifndef VTPM_CAUDIT_SHIM_H
#define VTPM_CAUDIT_SHIM_H
// libaudit (libaudit-dev) for the agent's exec-event source. The few helpers below keep every
// pointer and union of libaudit's API on the C side, so the Swift code sees plain ints.
#include <libaudit.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/time.h>
#include <errno.h>

// The status the kernel reports (AUDIT_GET): enabled flag, auditd pid, backlog, lost counter.
typedef struct {
    unsigned int enabled, pid, backlog_limit, lost, backlog, failure;
} vtpm_audit_status_t;

static inline int vtpm_audit_get_status(int fd, vtpm_audit_status_t *out) {
    int rc = audit_request_status(fd);
    if (rc < 0) return rc;
    for (int tries = 0; tries < 50; tries++) {
        struct audit_reply rep;
        memset(&rep, 0, sizeof rep);
        rc = audit_get_reply(fd, &rep, GET_REPLY_BLOCKING, 0);
        if (rc <= 0) return rc < 0 ? rc : -EIO;
        if (rep.type == AUDIT_GET && rep.status) {
            out->enabled = rep.status->enabled;
            out->pid = rep.status->pid;
            out->backlog_limit = rep.status->backlog_limit;
            out->lost = rep.status->lost;
            out->backlog = rep.status->backlog;
            out->failure = rep.status->failure;
            return 0;
        }
        if (rep.type == NLMSG_ERROR && rep.error && rep.error->error) return rep.error->error;
    }
    return -EIO;
}

// libaudit's parser state, kept by auditctl: a key field is accepted only after a syscall.
extern int _audit_syscalladded;
extern int _audit_archadded;

// Adds (add != 0) or deletes the rule `-a always,exit -F arch=ARCH -S execve -S execveat -F key=KEY`.
// The arch field comes first: it decides how libaudit maps syscall names to numbers.
// Returns >= 0 on success, a negative errno otherwise.
static inline int vtpm_audit_exec_rule(int fd, const char *arch, const char *key, int add) {
    struct audit_rule_data *rule = audit_rule_create_data();
    if (!rule) return -ENOMEM;
    char pair[300];
    snprintf(pair, sizeof pair, "arch=%s", arch);
    int rc = audit_rule_fieldpair_data(&rule, pair, AUDIT_FILTER_EXIT);
    if (rc == 0) rc = audit_rule_syscallbyname_data(rule, "execve");
    if (rc == 0) rc = audit_rule_syscallbyname_data(rule, "execveat");
    if (rc == 0) {
        _audit_syscalladded = 1;
        snprintf(pair, sizeof pair, "key=%s", key);
        rc = audit_rule_fieldpair_data(&rule, pair, AUDIT_FILTER_EXIT);
    }
    _audit_syscalladded = 0;
    _audit_archadded = 0;
    if (rc != 0) {
        audit_rule_free_data(rule);
        return rc > 0 ? -EINVAL : rc;
    }
    rc = add ? audit_add_rule_data(fd, rule, AUDIT_FILTER_EXIT, AUDIT_ALWAYS)
             : audit_delete_rule_data(fd, rule, AUDIT_FILTER_EXIT, AUDIT_ALWAYS);
    audit_rule_free_data(rule);
    return rc;
}

// A raw NETLINK_AUDIT socket bound to the read-only multicast group (AUDIT_NLGRP_READLOG), with
// a large receive buffer. Returns the fd or a negative errno.
static inline int vtpm_audit_open_readlog(int rcvbuf) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
    if (fd < 0) return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_nl addr;
    memset(&addr, 0, sizeof addr);
    addr.nl_family = AF_NETLINK;
    addr.nl_groups = 1u << (AUDIT_NLGRP_READLOG - 1);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static inline int vtpm_set_rcvbuf(int fd, int rcvbuf) {
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
        return setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    return 0;
}

static inline int vtpm_set_rcvtimeo(int fd, int timeout_ms) {
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

// Receives one netlink datagram into buf; returns its length, or a negative errno (-ENOBUFS:
// the kernel dropped messages because the socket buffer was full).
static inline long vtpm_netlink_recv(int fd, unsigned char *buf, unsigned long len) {
    long n = recv(fd, buf, len, 0);
    return n < 0 ? -errno : n;
}
#endif
