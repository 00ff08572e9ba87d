"""State encryption with swtpm's options: `--key file=...` (state at rest) and
`--migration-key file=...` (GET/SET_STATEBLOB). Values are read back through tpm2-tools; the
negative cases (no key, wrong key, a plain blob offered to a keyed TPM) must fail cleanly.
"""
from __future__ import annotations

import hashlib
import os
import socket
import struct
import subprocess
from pathlib import Path

import pytest

from harness.servers import free_port_pair, wait_listening


def _serve(binary: str, state: Path, extra: list[str], tmp: Path, pass_fds: tuple[int, ...] = ()) -> tuple[subprocess.Popen, int]:
    port = free_port_pair()
    p = subprocess.Popen([binary, "swtpm", "socket", "--tpm2", "--server", f"type=tcp,port={port}",
                          "--ctrl", f"type=tcp,port={port + 1}", "--tpmstate", f"dir={state}",
                          "--flags", "not-need-init,startup-clear", *extra],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=pass_fds)
    for fd in pass_fds:
        os.close(fd)
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


def _pipe(data: bytes) -> int:
    """A descriptor to read `data` from, as libvirt passes a secret (pwdfd=N)."""
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    return r


def test_passphrase_keys_as_libvirt_passes_them(vtpm_bin, tmp_path):
    """libvirt's encrypted vTPM: `--key pwdfd=N,mode=aes-256-cbc --migration-key pwdfd=M,...`.
    The same passphrase from a file opens the state again; the key is swtpm's documented KDF
    (PBKDF2-HMAC-SHA512, salt "swtpm", 1000 iterations; computed here with hashlib and given as
    a key file, it opens the state too); a wrong passphrase is refused with a clear message."""
    state = tmp_path / "state"
    state.mkdir()
    secret = b"libvirt secret 42"
    r1, r2 = _pipe(secret), _pipe(secret)
    p, port = _serve(vtpm_bin, state, ["--key", f"pwdfd={r1},mode=aes-256-cbc",
                                       "--migration-key", f"pwdfd={r2},mode=aes-256-cbc"], tmp_path, (r1, r2))
    assert _tpm2(port, "nvdefine", "0x1500017", "-C", "o", "-s", "6", "-a", "ownerread|ownerwrite").returncode == 0
    data = tmp_path / "data"
    data.write_bytes(b"sealed")
    assert _tpm2(port, "nvwrite", "0x1500017", "-C", "o", "-i", str(data)).returncode == 0
    with socket.create_connection(("127.0.0.1", port + 1), timeout=10) as c:
        c.sendall(struct.pack(">I", 15))  # GET_CONFIG: file key (1) + migration key (2)
        assert c.recv(64) == struct.pack(">II", 0, 3)
    _stop(p)
    raw = (state / "vtpm-permanent").read_bytes()
    assert raw.startswith(b"VTPMENC1") and b"sealed" not in raw
    pwdfile = tmp_path / "pwd"
    pwdfile.write_bytes(secret)
    keyfile = tmp_path / "derived.key"
    keyfile.write_text(hashlib.pbkdf2_hmac("sha512", secret, b"swtpm", 1000, 32).hex())
    for extra in (["--key", f"pwdfile={pwdfile},mode=aes-256-cbc"], ["--key", f"file={keyfile}"]):
        p, port = _serve(vtpm_bin, state, extra, tmp_path)
        r = _tpm2(port, "nvread", "0x1500017", "-C", "o")
        assert r.returncode == 0 and r.stdout == "sealed", (extra, r.stderr)
        _stop(p)
    # A wrong passphrase, the right one with another KDF or key size: refused, saying why.
    for pw, opts in ((b"wrong secret", "mode=aes-256-cbc"), (secret, "mode=aes-256-cbc,kdf=sha512"), (secret, "")):
        fd = _pipe(pw)
        port = free_port_pair()
        r = subprocess.run([vtpm_bin, "swtpm", "socket", "--tpm2", "--server", f"type=tcp,port={port}",
                            "--ctrl", f"type=tcp,port={port + 1}", "--tpmstate", f"dir={state}",
                            "--flags", "not-need-init,startup-clear", "--key", f"pwdfd={fd},{opts}".rstrip(",")],
                           capture_output=True, text=True, timeout=30, pass_fds=(fd,))
        os.close(fd)
        assert r.returncode != 0 and "wrong key or passphrase" in r.stderr, (opts, r.stderr)


def test_swtpm_setup_with_passphrase_then_swtpm(vtpm_bin, tmp_path):
    """libvirt's encrypted vTPM end to end: `swtpm_setup ... --pwdfile-fd N --cipher aes-256-cbc`
    provisions an encrypted state, `swtpm socket --key pwdfd=M,mode=aes-256-cbc` with the same
    secret serves it (the EK certificate reads back), another secret is refused."""
    state = tmp_path / "tpm2"
    state.mkdir()
    secret = b"0123456789abcdef"
    setup = tmp_path / "swtpm_setup"  # the drop-in runs under that name, as libvirt starts it
    setup.symlink_to(vtpm_bin)
    fd = _pipe(secret)
    r = subprocess.run([str(setup), "--tpm2", "--tpm-state", str(state), "--vmid", "vm:x",
                        "--createek", "--create-ek-cert", "--create-platform-cert", "--lock-nvram", "--not-overwrite",
                        "--pwdfile-fd", str(fd), "--cipher", "aes-256-cbc"], capture_output=True, text=True,
                       timeout=120, pass_fds=(fd,), env=dict(os.environ, VTPM_CA_DIR=str(tmp_path / "ca")))
    os.close(fd)
    assert r.returncode == 0, r.stderr
    assert (state / "vtpm-permanent").read_bytes().startswith(b"VTPMENC1")
    fd = _pipe(secret)
    p, port = _serve(vtpm_bin, state, ["--key", f"pwdfd={fd},mode=aes-256-cbc"], tmp_path, (fd,))
    der = tmp_path / "ek.der"
    r = _tpm2(port, "nvread", "0x01c00002", "-C", "o", "-o", str(der))
    assert r.returncode == 0, r.stderr
    _stop(p)
    assert subprocess.run(["openssl", "x509", "-inform", "DER", "-in", str(der), "-noout"]).returncode == 0
    fd = _pipe(b"another secret")
    port = free_port_pair()
    r = subprocess.run([vtpm_bin, "swtpm", "socket", "--tpm2", "--server", f"type=tcp,port={port}",
                        "--tpmstate", f"dir={state}", "--flags", "not-need-init",
                        "--key", f"pwdfd={fd},mode=aes-256-cbc"],
                       capture_output=True, text=True, timeout=30, pass_fds=(fd,))
    os.close(fd)
    assert r.returncode != 0 and "wrong key or passphrase" in r.stderr, r.stderr
