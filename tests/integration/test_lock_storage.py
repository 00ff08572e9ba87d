"""Shared-storage migration as libvirt sets it up (swtpm 0.8's `--migration
release-lock-outgoing,incoming` and CMD_LOCK_STORAGE): two processes on ONE state directory.
The destination starts while the source holds the directory's lock; the source releases it once
QEMU has fetched its last state blob (savestate); SET_STATEBLOB on the destination takes it; the
source can take it back with LOCK_STORAGE once the destination is gone (QEMU's fall-back after
a failed migration). The PCR value the source extended is read back on the destination and
recomputed with hashlib. swtpm 0.7.1 (the oracle installed here) predates LOCK_STORAGE and
answers it 0x0A; the expected codes are swtpm 0.8's (ctrlchannel.c: 0 locked, 0x09 TPM_FAIL when
another process holds the lock after the retries, 0x03 without the u32 of retries).
"""
from __future__ import annotations

import hashlib
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

GET_CAPABILITY, INIT, STOP, GET_STATEBLOB, SET_STATEBLOB, LOCK_STORAGE = 1, 2, 14, 12, 13, 19


def _start(binary: str, state: Path, name: str, extra: list[str]) -> tuple[subprocess.Popen, Path, Path]:
    ctrl, data = state.parent / f"{name}.ctrl", state.parent / f"{name}.data"
    p = subprocess.Popen([binary, "swtpm", "socket", "--tpm2", "--ctrl", f"type=unixio,path={ctrl}",
                          "--server", f"type=unixio,path={data}", "--tpmstate", f"dir={state}", *extra],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(400):
        if ctrl.exists() and data.exists():
            return p, ctrl, data
        if p.poll() is not None:
            pytest.fail(f"{name} exited: {p.stderr.read().decode()}")
        time.sleep(0.025)
    p.kill()
    pytest.fail(f"{name} did not listen")


def _recv(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        assert chunk, "connection closed"
        out += chunk
    return out


def _ctrl(path: Path, code: int, body: bytes = b"", answer: int = 4) -> bytes:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(20)
        s.connect(str(path))
        s.sendall(struct.pack(">I", code) + body)
        if code == GET_STATEBLOB:
            head = _recv(s, 16)
            return head + _recv(s, struct.unpack(">I", head[12:16])[0])
        return _recv(s, answer)


def _tpm(path: Path, command: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(20)
        s.connect(str(path))
        s.sendall(command)
        head = _recv(s, 10)
        return head + _recv(s, struct.unpack(">I", head[2:6])[0] - 10)


def _rc(r: bytes) -> int:
    return struct.unpack(">I", r[6:10])[0]


PW = struct.pack(">IHBH", 0x40000009, 0, 0, 0)  # password session, empty auth


def _extend(pcr: int, digest: bytes) -> bytes:
    body = struct.pack(">I", pcr) + struct.pack(">I", len(PW)) + PW + struct.pack(">IH", 1, 0x000B) + digest
    return struct.pack(">HII", 0x8002, 10 + len(body), 0x182) + body


def _pcr_read(pcr: int) -> bytes:
    sel = bytes([0, 0, 0])
    sel = bytes(b | (1 << (pcr % 8)) if i == pcr // 8 else b for i, b in enumerate(sel))
    body = struct.pack(">IHB", 1, 0x000B, 3) + sel
    return struct.pack(">HII", 0x8001, 10 + len(body), 0x17E) + body


def test_shared_storage_migration_and_lock_storage(vtpm_bin, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    src, src_ctrl, src_data = _start(vtpm_bin, state, "src", ["--flags", "not-need-init,startup-clear",
                                                              "--migration", "release-lock-outgoing"])
    procs = [src]
    try:
        caps = struct.unpack(">Q", _ctrl(src_ctrl, GET_CAPABILITY, answer=8))[0]
        assert caps & (1 << 16), hex(caps)  # PTM_CAP_LOCK_STORAGE
        assert _ctrl(src_ctrl, LOCK_STORAGE, struct.pack(">I", 0)) == b"\0\0\0\0"  # held already
        assert _ctrl(src_ctrl, LOCK_STORAGE) == struct.pack(">I", 0x03)  # no retries field

        # Without --migration incoming a second process on the directory is refused...
        other = subprocess.run([vtpm_bin, "swtpm", "socket", "--tpm2", "--ctrl", f"type=unixio,path={tmp_path / 'x'}",
                                "--tpmstate", f"dir={state}"], capture_output=True, text=True, timeout=30)
        assert other.returncode != 0 and "in use" in other.stderr, other.stderr
        # ...with it, it starts and waits for the state.
        dst, dst_ctrl, dst_data = _start(vtpm_bin, state, "dst", ["--migration", "release-lock-outgoing,incoming"])
        procs.append(dst)

        digest = hashlib.sha256(b"shared storage").digest()
        assert _rc(_tpm(src_data, _extend(16, digest))) == 0
        expected = hashlib.sha256(b"\0" * 32 + digest).digest()
        assert _ctrl(dst_ctrl, LOCK_STORAGE, struct.pack(">I", 2)) == struct.pack(">I", 0x09)  # the source holds it

        # QEMU on the source: permanent, volatile, then savestate (none for a TPM 2: TPM_RETRY).
        perm = _ctrl(src_ctrl, GET_STATEBLOB, struct.pack(">III", 0, 1, 0))
        vol = _ctrl(src_ctrl, GET_STATEBLOB, struct.pack(">III", 0, 2, 0))
        assert struct.unpack(">I", perm[:4])[0] == 0 and struct.unpack(">I", vol[:4])[0] == 0
        assert struct.unpack(">I", _ctrl(src_ctrl, GET_STATEBLOB, struct.pack(">III", 0, 3, 0))[:4])[0] == 0x800

        # QEMU on the destination: STOP, SET_STATEBLOB x2 (takes the lock the source released), INIT.
        assert _ctrl(dst_ctrl, STOP) == b"\0\0\0\0"
        for blob, kind in ((perm, 1), (vol, 2)):
            flags, data = struct.unpack(">I", blob[4:8])[0], blob[16:]
            assert _ctrl(dst_ctrl, SET_STATEBLOB, struct.pack(">III", flags, kind, len(data)) + data) == b"\0\0\0\0"
        assert _ctrl(dst_ctrl, INIT, struct.pack(">I", 1)) == b"\0\0\0\0"
        r = _tpm(dst_data, _pcr_read(16))
        assert _rc(r) == 0 and r.endswith(expected), r.hex()

        # The source no longer owns the state: it cannot lock it, and its TPM answers TPM_RC_FAILURE.
        t = time.monotonic()
        assert _ctrl(src_ctrl, LOCK_STORAGE, struct.pack(">I", 5)) == struct.pack(">I", 0x09)
        assert time.monotonic() - t >= 0.04  # 5 retries 10 ms apart
        assert _rc(_tpm(src_data, struct.pack(">HIIH", 0x8001, 12, 0x17B, 8))) == 0x101

        # The destination ends (say the migration is rolled back): the source locks it again.
        dst.send_signal(signal.SIGTERM)
        assert dst.wait(timeout=20) == 0
        assert _ctrl(src_ctrl, LOCK_STORAGE, struct.pack(">I", 300)) == b"\0\0\0\0"
        assert _rc(_tpm(src_data, struct.pack(">HIIH", 0x8001, 12, 0x17B, 8))) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
