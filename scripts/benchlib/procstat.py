"""CPU time of a process and its descendants, from /proc/PID/stat (proc(5): fields 14 utime, 15 stime,
in clock ticks; field 4 is the parent's PID)."""
from __future__ import annotations

import os

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent PID, user+system seconds) of a live process, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after its last ')'.
    rest = s[s.rindex(")") + 2:].split()
    return int(rest[1]), (int(rest[11]) + int(rest[12])) / TICK


def tree(root: int) -> dict[int, float]:
    """CPU seconds of `root` and every live descendant, by PID."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st is not None:
                parents[int(name)], cpu[int(name)] = st
    out: dict[int, float] = {}
    for pid in cpu:
        p = pid
        while p and p != root and p in parents:
            p = parents[p]
        if p == root:
            out[pid] = cpu[pid]
    return out


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU spent between two `tree` snapshots by processes alive at the second one (a process started in
    between counts from zero; one that ended in between is lost, which the caller checks does not happen)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())
