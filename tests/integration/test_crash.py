"""Crash test: nothing acknowledged is lost. A client increments an NV counter in a loop over the
mssim protocol while the `vtpm serve` daemon is killed with SIGKILL at random moments; after each
restart the counter holds at least every increment the client saw acknowledged (and at most one
more: the one in flight when the daemon died may have been written before its response), and
every instance of the daemon loads and answers.
"""
from __future__ import annotations

import json
import random
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

from harness.servers import free_port_pair

NV_INDEX = 0x01500000
PW = struct.pack(">IHBH", 0x40000009, 0, 0, 0)  # an empty password session


def _cmd(cc: int, handles: list[int], params: bytes, sessions: bool = True) -> bytes:
    body = b"".join(struct.pack(">I", h) for h in handles)
    if sessions:
        body += struct.pack(">I", len(PW)) + PW
    body += params
    return struct.pack(">HII", 0x8002 if sessions else 0x8001, 10 + len(body), cc) + body


class MSSim:
    def __init__(self, port: int):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)

    def send(self, command: bytes) -> tuple[int, bytes]:
        self.s.sendall(struct.pack(">IBI", 8, 0, len(command)) + command)
        n = struct.unpack(">I", self._recv(4))[0]
        resp = self._recv(n)
        self._recv(4)
        return struct.unpack(">I", resp[6:10])[0], resp

    def _recv(self, n: int) -> bytes:
        b = b""
        while len(b) < n:
            chunk = self.s.recv(n - len(b))
            if not chunk:
                raise ConnectionError("closed")
            b += chunk
        return b

    def close(self):
        self.s.close()


def _read_counter(t: MSSim) -> int:
    rc, r = t.send(_cmd(0x14E, [NV_INDEX, NV_INDEX], struct.pack(">HH", 8, 0)))
    assert rc == 0, hex(rc)
    return struct.unpack(">Q", r[16:24])[0]


def _start(binary: str, state: Path) -> subprocess.Popen:
    p = subprocess.Popen([binary, "serve", "--state-dir", str(state), "--log-level", "1",
                          "--ca-dir", str(state.parent / "ca")])
    for _ in range(400):
        r = subprocess.run([binary, "ls", "--json", "--state-dir", str(state)], capture_output=True, text=True)
        if r.returncode == 0:
            return p
        time.sleep(0.05)
    p.kill()
    pytest.fail("daemon did not come up")


@pytest.mark.timeout(600)
def test_nv_counter_survives_sigkill(vtpm_bin, tmp_path):
    state = tmp_path / "state"
    port, idle_port = free_port_pair(), None
    daemon = _start(vtpm_bin, state)
    idle_port = free_port_pair()
    for name, p in (("counter", port), ("idle", idle_port)):
        r = subprocess.run([vtpm_bin, "create", name, "--no-ek", "--mssim-port", str(p), "--state-dir", str(state)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    t = MSSim(port)
    assert t.send(struct.pack(">HIIH", 0x8001, 12, 0x144, 0))[0] == 0  # Startup(CLEAR)
    # A counter Index (TPM_NT_COUNTER) written and read with its own (empty) authValue, NO_DA:
    # every SIGKILL is a non-orderly shutdown, which counts as a dictionary-attack failure for
    # DA-protected authorizations (Part 1, 19.8.4; libtpms does the same), and the loop would
    # soon meet TPM_RC_LOCKOUT.
    attrs = (1 << 4) | (1 << 2) | (1 << 18) | (1 << 25)
    nv_public = struct.pack(">IHIHH", NV_INDEX, 0x000B, attrs, 0, 8)
    rc, _ = t.send(_cmd(0x12A, [0x40000001], struct.pack(">H", 0) + struct.pack(">H", len(nv_public)) + nv_public))
    assert rc == 0, hex(rc)
    acknowledged = 0
    rng = random.Random(20261127)
    for round_ in range(12):
        kill_at = time.monotonic() + rng.uniform(0.1, 0.8)
        # Increment until the daemon is killed under us.
        import threading
        killer = threading.Timer(max(0.0, kill_at - time.monotonic()), lambda: daemon.send_signal(signal.SIGKILL))
        killer.start()
        try:
            while True:
                rc, _ = t.send(_cmd(0x134, [NV_INDEX, NV_INDEX], b""))
                assert rc == 0, hex(rc)
                acknowledged += 1
        except (ConnectionError, OSError):
            pass
        killer.join()
        daemon.wait(timeout=30)
        t.close()
        daemon = _start(vtpm_bin, state)
        t = MSSim(port)
        assert t.send(struct.pack(">HIIH", 0x8001, 12, 0x144, 0))[0] == 0
        value = _read_counter(t)
        assert acknowledged <= value <= acknowledged + 1, (round_, acknowledged, value)
        acknowledged = value
        listed = json.loads(subprocess.run([vtpm_bin, "ls", "--json", "--state-dir", str(state)],
                                           capture_output=True, text=True, check=True).stdout)
        assert sorted(x["name"] for x in listed) == ["counter", "idle"]
        idle = MSSim(idle_port)
        rc, _ = idle.send(struct.pack(">HIIH", 0x8001, 12, 0x144, 0))
        assert rc in (0, 0x100)  # started now, or already (TPM_RC_INITIALIZE)
        assert idle.send(struct.pack(">HIIH", 0x8001, 12, 0x17B, 8))[0] == 0
        idle.close()
    assert acknowledged > 12  # the loop really ran
    t.close()
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0
