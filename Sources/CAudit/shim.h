#ifndef VTPM_CAUDIT_SHIM_H
#define VTPM_CAUDIT_SHIM_H
// libaudit (libaudit-dev) for the agent's exec-event source, plus the netlink constants the
// agent needs to read the audit multicast group directly.
#include <libaudit.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#endif
