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
#include <signal.h>
#include <stdlib.h>
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

// Whether field type `f` of an audit rule carries a string in the rule's buf (its value is
// then the string's length): security labels, watch, dir, filter key, exe.
static inline int vtpm_audit_string_field(unsigned int f) {
    return (f >= AUDIT_SUBJ_USER && f <= AUDIT_OBJ_LEV_HIGH) || f == AUDIT_WATCH || f == AUDIT_DIR ||
           f == AUDIT_FILTERKEY || f == AUDIT_EXE;
}

// Deletes exit-list rules whose key is PREFIX followed by the pid of a process that no longer
// exists (rules an agent killed with SIGKILL could not remove). Returns how many were deleted,
// or a negative errno.
static inline int vtpm_audit_agent_rules(int fd, const char *prefix, int remove_stale, int *live_others);

static inline int vtpm_audit_remove_stale_rules(int fd, const char *prefix) {
    int live = 0;
    return vtpm_audit_agent_rules(fd, prefix, 1, &live);
}

// Rules of other agents whose process lives (so audit must stay enabled for them).
static inline int vtpm_audit_live_agent_rules(int fd, const char *prefix) {
    int live = 0;
    int rc = vtpm_audit_agent_rules(fd, prefix, 0, &live);
    return rc < 0 ? rc : live;
}

// Walks the exit-list rules keyed PREFIX<pid>: counts in *live_others those of other living
// processes and, with remove_stale, deletes those of processes that no longer exist.
static inline int vtpm_audit_agent_rules(int fd, const char *prefix, int remove_stale, int *live_others) {
    struct audit_rule_data *stale[64];
    int nstale = 0;
    int rc = audit_request_rules_list_data(fd);
    if (rc < 0) return rc;
    size_t plen = strlen(prefix);
    for (;;) {
        struct audit_reply rep;
        memset(&rep, 0, sizeof rep);
        rc = audit_get_reply(fd, &rep, GET_REPLY_BLOCKING, 0);
        if (rc <= 0) break;
        if (rep.type == NLMSG_DONE) break;
        if (rep.type == NLMSG_ERROR) {
            if (rep.error && rep.error->error) break;
            continue;
        }
        if (rep.type != AUDIT_LIST_RULES || !rep.ruledata) continue;
        struct audit_rule_data *r = rep.ruledata;
        if (r->flags != AUDIT_FILTER_EXIT || r->field_count > AUDIT_MAX_FIELDS) continue;
        unsigned int offset = 0;
        for (unsigned int i = 0; i < r->field_count; i++) {
            if (!vtpm_audit_string_field(r->fields[i])) continue;
            unsigned int len = r->values[i];
            if (offset + len > r->buflen) break;
            if (r->fields[i] == AUDIT_FILTERKEY && len > plen && len < 64 &&
                memcmp(r->buf + offset, prefix, plen) == 0) {
                char digits[64];
                memcpy(digits, r->buf + offset + plen, len - plen);
                digits[len - plen] = 0;
                char *end = NULL;
                long pid = strtol(digits, &end, 10);
                int dead = end && *end == 0 && pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
                if (end && *end == 0 && pid > 0 && !dead && pid != (long)getpid()) (*live_others)++;
                if (dead && remove_stale && nstale < 64) {
                    size_t size = sizeof(*r) + r->buflen;
                    struct audit_rule_data *copy = malloc(size);
                    if (copy) {
                        memcpy(copy, r, size);
                        stale[nstale++] = copy;
                    }
                }
            }
            offset += len;
        }
    }
    int removed = 0;
    for (int i = 0; i < nstale; i++) {
        if (audit_delete_rule_data(fd, stale[i], AUDIT_FILTER_EXIT, AUDIT_ALWAYS) > 0) removed++;
        free(stale[i]);
    }
    return removed;
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
