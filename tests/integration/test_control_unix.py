"""swtpm's control channel on a Unix socket, as QEMU and libvirt use it: the data channel is a
socket passed with SCM_RIGHTS by CMD_SET_DATAFD. Every answer is compared with swtpm's (the
same test runs against both): capability bit 12, the result codes of SET_DATAFD with and without
a descriptor and while one is attached, commands over the passed socket, and a new socket
attached after the first one hung up (without --terminate the process goes on, as swtpm 0.7's).
"""
from __future__ import annotations

import array
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

from harness.servers import Impl

SET_DATAFD = 16


def _start(impl: Impl, work: Path) -> tuple[subprocess.Popen, socket.socket]:
    state = work / "state"
    state.mkdir()
    ctrl = work / "ctrl.sock"
    argv = [impl.binary, "socket", "--tpm2", "--ctrl", f"type=unixio,path={ctrl},mode=0600",
            "--tpmstate", f"dir={state}", "--flags", "not-need-init,startup-clear"]
    if impl.name == "vtpm":
        argv.insert(1, "swtpm")
    else:
        argv += ["--seccomp", "action=none"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(10)
            s.connect(str(ctrl))
            assert ctrl.stat().st_mode & 0o777 == 0o600
            return proc, s
        except (FileNotFoundError, ConnectionRefusedError):
            time.sleep(0.05)
    proc.kill()
    pytest.fail(f"{impl.name} did not listen on {ctrl}")


def _pass_fd(ctrl: socket.socket, fd: int | None) -> bytes:
    ancillary = [] if fd is None else [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))]
    ctrl.sendmsg([struct.pack(">I", SET_DATAFD)], ancillary)
    return ctrl.recv(64)


def test_set_datafd(impl, tmp_path):
    proc, ctrl = _start(impl, tmp_path)
    try:
        ctrl.sendall(struct.pack(">I", 1))
        caps = struct.unpack(">Q", ctrl.recv(64))[0]
        assert caps & (1 << 12), hex(caps)
        assert _pass_fd(ctrl, None) == struct.pack(">I", 0x03)  # TPM_BAD_PARAMETER: no descriptor
        ours, theirs = socket.socketpair()
        assert _pass_fd(ctrl, theirs.fileno()) == struct.pack(">I", 0)
        theirs.close()
        ours.settimeout(10)
        ours.sendall(struct.pack(">HIIH", 0x8001, 12, 0x17B, 16))  # GetRandom(16)
        r = ours.recv(4096)
        tag, size, rc, n = struct.unpack_from(">HIIH", r)
        assert (tag, size, rc, n) == (0x8001, 28, 0, 16)
        other, other_peer = socket.socketpair()
        assert _pass_fd(ctrl, other_peer.fileno()) == struct.pack(">I", 0x1F)  # TPM_IOERROR: one attached
        # The TPM still answers on the first socket.
        ours.sendall(struct.pack(">HIIH", 0x8001, 12, 0x17B, 16))
        assert struct.unpack_from(">I", ours.recv(4096), 6)[0] == 0
        ours.close()
        time.sleep(0.5)
        assert proc.poll() is None
        again, again_peer = socket.socketpair()
        assert _pass_fd(ctrl, again_peer.fileno()) == struct.pack(">I", 0)
        again_peer.close()
        again.settimeout(10)
        again.sendall(struct.pack(">HIIH", 0x8001, 12, 0x17B, 16))
        assert struct.unpack_from(">HIIH", again.recv(4096)) == (0x8001, 28, 0, 16)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
