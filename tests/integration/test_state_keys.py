"""State encryption with swtpm's options: `--key file=...` (state at rest) and
`--migration-key file=...` (GET/SET_STATEBLOB). Values are read back through tpm2-tools; the
negative cases (no key, wrong key, a plain blob offered to a keyed TPM) must fail cleanly.
"""
from __future__ import annotations

import os
import socket
import struct
import subprocess
from pathlib import Path

import pytest

from harness.servers import free_port_pair, wait_listening


def _serve(binary: str, state: Path, extra: list[str], tmp: Path) -> tuple[subprocess.Popen, int]:
    port = free_port_pair()
    p = subprocess.Popen([binary, "swtpm", "socket", "--tpm2", "--server", f"type=tcp,port={port}",
                          "--ctrl", f"type=tcp,port={port + 1}", "--tpmstate", f"dir={state}",
                          "--flags", "not-need-init,startup-clear", *extra],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_listening([port, port + 1], [p], 20, tmp / "log")
    return p, port


def _tpm2(port: int, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TPM2TOOLS_TCTI=f"swtpm:host=127.0.0.1,port={port}")
    return subprocess.run(["tpm2", *args], capture_output=True, text=True, env=env, timeout=60)


def _stop(p: subprocess.Popen):
    p.terminate()
    p.wait(timeout=20)


def test_state_key_at_rest(vtpm_bin, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    key = tmp_path / "key"
    key.write_text("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n")
    p, port = _serve(vtpm_bin, state, ["--key", f"file={key},mode=aes-256-cbc"], tmp_path)
    assert _tpm2(port, "nvdefine", "0x1500016", "-C", "o", "-s", "11", "-a", "ownerread|ownerwrite").returncode == 0
    data = tmp_path / "data"
    data.write_bytes(b"hello world")
    assert _tpm2(port, "nvwrite", "0x1500016", "-C", "o", "-i", str(data)).returncode == 0
    _stop(p)
    raw = (state / "vtpm-permanent").read_bytes()
    assert raw.startswith(b"VTPMENC1") and b"hello world" not in raw
    # The same key: the NV Index is back.
    p, port = _serve(vtpm_bin, state, ["--key", f"file={key}"], tmp_path)
    r = _tpm2(port, "nvread", "0x1500016", "-C", "o")
    assert r.returncode == 0 and r.stdout == "hello world"
    _stop(p)
    # No key, a wrong key, a key of the wrong size for the mode: refused with a message.
    wrong = tmp_path / "wrong"
    wrong.write_text("ff" * 32)
    for extra, words in (([], "encrypted"), (["--key", f"file={wrong}"], "does not decrypt"),
                         (["--key", f"file={key},mode=aes-cbc"], "bits")):
        port = free_port_pair()
        r = subprocess.run([vtpm_bin, "swtpm", "socket", "--tpm2", "--server", f"type=tcp,port={port}",
                            "--ctrl", f"type=tcp,port={port + 1}", "--tpmstate", f"dir={state}",
                            "--flags", "not-need-init,startup-clear", *extra], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode != 0 and words in r.stderr, (extra, r.stderr)


def _ctrl(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port + 1), timeout=10) as s:
        s.sendall(payload)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            if len(out) >= 16 and len(out) >= 16 + struct.unpack(">I", out[12:16])[0]:
                break
            if len(out) == 4:
                break
        return out


def test_migration_key_blobs(vtpm_bin, tmp_path):
    key, other = tmp_path / "k", tmp_path / "o"
    key.write_text("00112233445566778899aabbccddeeff")
    other.write_text("ffeeddccbbaa99887766554433221100")
    src_state, dst_state, bad_state = (tmp_path / n for n in ("src", "dst", "bad"))
    for d in (src_state, dst_state, bad_state):
        d.mkdir()
    src, sp = _serve(vtpm_bin, src_state, ["--migration-key", f"file={key}"], tmp_path)
    blob = _ctrl(sp, struct.pack(">IIII", 12, 0, 1, 0))  # GET_STATEBLOB permanent
    result, flags, total, length = struct.unpack(">IIII", blob[:16])
    assert (result, flags) == (0, 2) and blob[16:24] == b"VTPMENC1"  # PTM_STATE_FLAG_ENCRYPTED
    _stop(src)
    data = blob[16:16 + length]
    for state, extra, expect in ((dst_state, ["--migration-key", f"file={key}"], 0),
                                 (bad_state, ["--migration-key", f"file={other}"], 3),
                                 (bad_state, [], 3)):
        p, port = _serve(vtpm_bin, state, extra, tmp_path)
        assert _ctrl(port, struct.pack(">I", 14)) == b"\0\0\0\0"  # STOP
        r = _ctrl(port, struct.pack(">IIII", 13, 2, 1, len(data)) + data)
        assert struct.unpack(">I", r[:4])[0] == expect, (extra, r.hex())
        _stop(p)
    # A plain blob offered to a TPM that has a migration key: refused (no downgrade).
    p, port = _serve(vtpm_bin, bad_state, ["--migration-key", f"file={other}"], tmp_path)
    _ctrl(port, struct.pack(">I", 14))
    r = _ctrl(port, struct.pack(">IIII", 13, 0, 1, 5) + b"abcde")
    assert struct.unpack(">I", r[:4])[0] == 3
    _stop(p)
