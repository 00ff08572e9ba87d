"""`vtpm serve` and its CLI: many instances in one daemon, managed over DIR/vtpm.sock.

Values are checked through real clients: tpm2-tools over each instance's mssim ports, raw
commands on its data socket, PCR values recomputed with hashlib.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

from harness.servers import free_port_pair


class Daemon:
    def __init__(self, binary: str, state: Path):
        self.binary = binary
        self.state = state
        self.proc: subprocess.Popen | None = None
        self.start_args: list[str] = []

    def start(self):
        self.proc = subprocess.Popen([self.binary, "serve", "--state-dir", str(self.state), "--log-level", "1",
                                      "--ca-dir", str(self.state.parent / "ca"), *self.start_args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        sock = self.state / "vtpm.sock"
        for _ in range(200):
            if sock.exists() and self.cli("ls", "--json").returncode == 0:
                return
            if self.proc.poll() is not None:
                pytest.fail(f"vtpm serve exited: {self.proc.stderr.read().decode()}")
            time.sleep(0.05)
        pytest.fail("vtpm serve did not answer")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                assert self.proc.wait(timeout=30) == 0
            finally:
                if self.proc.poll() is None:
                    self.proc.kill()

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        extra = [] if args[0] == "ca" else ["--state-dir", str(self.state)]
        return subprocess.run([self.binary, *args, *extra], capture_output=True, text=True, timeout=60)

    def ok(self, *args: str) -> str:
        r = self.cli(*args)
        assert r.returncode == 0, r.stderr
        return r.stdout


@pytest.fixture
def daemon(vtpm_bin, tmp_path):
    d = Daemon(vtpm_bin, tmp_path / "state")
    d.start()
    yield d
    d.stop()


def _tpm2(port: int, *args: str) -> str:
    env = dict(os.environ, TPM2TOOLS_TCTI=f"mssim:host=127.0.0.1,port={port}")
    r = subprocess.run(["tpm2", *args], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _pcr(port: int, spec: str) -> bytes:
    out = _tpm2(port, "pcrread", spec)
    return bytes.fromhex(out.strip().splitlines()[-1].split("0x")[1])


def test_create_list_show_destroy(daemon):
    for i in range(20):
        daemon.ok("create", f"vm{i:02d}", "--no-ek")
    listed = json.loads(daemon.ok("ls", "--json"))
    assert [x["name"] for x in listed] == [f"vm{i:02d}" for i in range(20)]
    assert all(x["state"] == "stopped" for x in listed)  # off until QEMU sends INIT
    shown = json.loads(daemon.ok("show", "vm07", "--json"))
    ctrl = Path(shown["controlSocket"])
    assert ctrl.is_absolute() and ctrl.is_socket() and ctrl.stat().st_mode & 0o777 == 0o600
    assert shown["permanentBytes"] > 0 and shown["pcrBanks"] == ["sha256"]
    daemon.ok("destroy", "vm07")
    assert not ctrl.parent.exists()
    assert "vm07" not in [x["name"] for x in json.loads(daemon.ok("ls", "--json"))]


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden", "x" * 65, "a b", "-rf"])
def test_bad_names_refused(daemon, name):
    r = daemon.cli("create", name)
    assert r.returncode != 0
    assert "invalid instance name" in r.stderr or "Error" in r.stderr, r.stderr
    assert not any(p.name not in ("vtpm.sock", ".lock", "instances", "migration.key") for p in daemon.state.iterdir())
    assert list((daemon.state / "instances").iterdir()) == []


def test_socket_path_limit(daemon):
    """A control socket path over 103 bytes (SwiftNIO's portable sockaddr_un limit) is refused
    at create with a message naming the path; one of exactly 103 bytes works."""
    base = len(str(daemon.state.resolve() / "instances")) + len("/") + len("/ctrl.sock")
    fits = 103 - base
    if not 1 <= fits <= 63:
        pytest.fail(f"the test's state directory leaves {fits} bytes for a name", pytrace=False)
    r = daemon.cli("create", "n" * (fits + 1), "--no-ek")
    assert r.returncode == 1 and "too long for a Unix socket" in r.stderr, r.stderr
    assert list((daemon.state / "instances").iterdir()) == []
    daemon.ok("create", "n" * fits, "--no-ek")
    shown = json.loads(daemon.ok("show", "n" * fits, "--json"))
    assert len(shown["controlSocket"]) == 103 and Path(shown["controlSocket"]).is_socket()


def test_duplicate_and_unknown(daemon):
    daemon.ok("create", "a")
    r = daemon.cli("create", "a")
    assert r.returncode == 1 and "already exists" in r.stderr
    for cmd in ("destroy", "show", "suspend", "resume", "qemu-args"):
        r = daemon.cli(cmd, "nosuch")
        assert r.returncode == 1 and "no instance 'nosuch'" in r.stderr, (cmd, r.stderr)
    r = daemon.cli("create", "b", "--pcr-banks", "md5")
    assert r.returncode == 1 and "unknown PCR bank" in r.stderr


def test_second_daemon_refused(daemon, vtpm_bin):
    r = subprocess.run([vtpm_bin, "serve", "--state-dir", str(daemon.state)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1 and "in use by another vtpm daemon" in r.stderr


def test_mssim_instance_extend_suspend_resume(daemon):
    port = free_port_pair()
    daemon.ok("create", "m", "--mssim-port", str(port), "--pcr-banks", "sha1,sha256")
    _tpm2(port, "startup", "-c")
    # Only the banks asked for are allocated (PCR_Allocate at provisioning).
    assert _tpm2(port, "pcrread", "sha384:0").strip() == "sha384:"
    digest = hashlib.sha256(b"suspend me").digest()
    _tpm2(port, "pcrextend", f"16:sha256={digest.hex()}")
    expected = hashlib.sha256(b"\0" * 32 + digest).digest()
    assert _pcr(port, "sha256:16") == expected
    daemon.ok("suspend", "m")
    shown = json.loads(daemon.ok("show", "m", "--json"))
    assert shown["state"] == "suspended" and shown["volatileBytes"] > 0
    daemon.ok("resume", "m")
    assert json.loads(daemon.ok("show", "m", "--json"))["state"] == "running"
    assert _pcr(port, "sha256:16") == expected  # no Startup needed: the TPM continued
    r = daemon.cli("resume", "m")
    assert r.returncode == 1 and "not suspended" in r.stderr


def test_instances_are_independent(daemon):
    p1 = free_port_pair()
    p2 = free_port_pair()
    daemon.ok("create", "one", "--mssim-port", str(p1))
    daemon.ok("create", "two", "--mssim-port", str(p2))
    for p in (p1, p2):
        _tpm2(p, "startup", "-c")
    _tpm2(p1, "pcrextend", "16:sha256=" + "11" * 32)
    assert _pcr(p2, "sha256:16") == b"\0" * 32
    assert _pcr(p1, "sha256:16") == hashlib.sha256(b"\0" * 32 + b"\x11" * 32).digest()
    # Different seeds: the same primary template gives different keys.
    names = [json.loads(daemon.ok("show", n, "--json"))["name"] for n in ("one", "two")]
    assert names == ["one", "two"]


def test_data_socket_takes_raw_commands(daemon):
    daemon.ok("create", "plain", "--no-ek")
    assert "dataSocket" not in json.loads(daemon.ok("show", "plain", "--json"))
    assert not (daemon.state / "instances" / "plain" / "data.sock").exists()
    daemon.ok("create", "raw", "--data-socket")
    shown = json.loads(daemon.ok("show", "raw", "--json"))
    ctrl = socket.socket(socket.AF_UNIX)
    ctrl.connect(shown["controlSocket"])
    ctrl.sendall(struct.pack(">II", 2, 0))  # INIT
    assert ctrl.recv(64) == b"\0\0\0\0"
    data = socket.socket(socket.AF_UNIX)
    data.settimeout(10)
    data.connect(shown["dataSocket"])
    data.sendall(struct.pack(">HIIH", 0x8001, 12, 0x144, 0))  # Startup(CLEAR)
    assert struct.unpack(">HII", data.recv(64)) == (0x8001, 10, 0)
    data.sendall(struct.pack(">HIIH", 0x8001, 12, 0x17B, 8))  # GetRandom(8)
    assert struct.unpack_from(">HIIH", data.recv(64)) == (0x8001, 20, 0, 8)
    assert json.loads(daemon.ok("show", "raw", "--json"))["commands"] == 2


def test_restart_keeps_instances(daemon):
    port = free_port_pair()
    daemon.ok("create", "keep", "--mssim-port", str(port))
    _tpm2(port, "startup", "-c")
    out1 = _tpm2(port, "createprimary", "-C", "o", "-G", "ecc", "-c", "/dev/null")
    daemon.stop()
    daemon.start()
    assert [x["name"] for x in json.loads(daemon.ok("ls", "--json"))] == ["keep"]
    _tpm2(port, "startup", "-c")
    out2 = _tpm2(port, "createprimary", "-C", "o", "-G", "ecc", "-c", "/dev/null")
    # The same seeds after the restart: the same deterministic primary key.
    assert [ln for ln in out1.splitlines() if ln.strip().startswith(("x:", "y:"))] == \
        [ln for ln in out2.splitlines() if ln.strip().startswith(("x:", "y:"))]


def test_created_instance_has_certified_eks(daemon, tmp_path):
    """`vtpm create` provisions as swtpm_setup does: EKs at 0x81010001/0x81010016 whose
    certificates, in NV, verify with openssl against `vtpm ca show`."""
    port = free_port_pair()
    daemon.ok("create", "ek", "--mssim-port", str(port))
    ca = tmp_path / "ca.pem"
    ca.write_text(daemon.ok("ca", "show", "--ca-dir", str(daemon.state.parent / "ca")))
    _tpm2(port, "startup", "-c")
    for index, handle in ((0x01C00002, 0x81010001), (0x01C00016, 0x81010016)):
        der = tmp_path / f"{index:x}.der"
        _tpm2(port, "nvread", "-C", "o", "-o", str(der), hex(index))
        pem = tmp_path / f"{index:x}.pem"
        subprocess.run(["openssl", "x509", "-inform", "DER", "-in", der, "-out", pem], check=True)
        v = subprocess.run(["openssl", "verify", "-CAfile", ca, pem], capture_output=True, text=True)
        assert v.returncode == 0, v.stdout + v.stderr
        pub = tmp_path / f"{handle:x}.pem"
        _tpm2(port, "readpublic", "-c", hex(handle), "-f", "pem", "-o", str(pub))
        cert_pub = subprocess.run(["openssl", "x509", "-noout", "-pubkey", "-in", pem], capture_output=True,
                                  text=True, check=True).stdout
        assert cert_pub.strip() == pub.read_text().strip()
    # --no-ek: nothing there.
    p2 = free_port_pair()
    daemon.ok("create", "noek", "--no-ek", "--mssim-port", str(p2))
    _tpm2(p2, "startup", "-c")
    handles = _tpm2(p2, "getcap", "handles-persistent")
    assert "0x81010001" not in handles.lower()


def test_metrics_endpoint(vtpm_bin, tmp_path):
    """`--metrics`: Prometheus text exposition of commands by code, errors and instances."""
    import urllib.request
    mport = free_port_pair()
    state = tmp_path / "m"
    d = Daemon(vtpm_bin, state)
    d.start_args = ["--metrics", f"127.0.0.1:{mport}"]
    d.start()
    try:
        port = free_port_pair()
        d.ok("create", "m1", "--no-ek", "--mssim-port", str(port))
        _tpm2(port, "startup", "-c")
        for _ in range(3):
            _tpm2(port, "getrandom", "8", "--hex")
        r = subprocess.run(["tpm2", "pcrreset", "0"], capture_output=True, text=True,
                           env=dict(os.environ, TPM2TOOLS_TCTI=f"mssim:host=127.0.0.1,port={port}"))
        assert r.returncode != 0  # PCR 0 cannot be reset at locality 0: one error
        text = urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=10).read().decode()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                values[k] = float(v)
        assert values['vtpm_commands_total{command="TPM2_GetRandom"}'] == 3
        assert values['vtpm_command_errors_total{command="TPM2_PCR_Reset"}'] == 1
        assert values["vtpm_instances"] == 1
        assert values["vtpm_command_duration_seconds_count"] >= 5
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{mport}/other", timeout=10)
            raise AssertionError("expected 404")
        except urllib.error.HTTPError as e:
            assert e.code == 404
    finally:
        d.stop()


def test_idle_eviction_is_transparent(vtpm_bin, tmp_path):
    """`--idle-evict`: an idle instance's engine is written out (its whole volatile state, as
    STORE_VOLATILE) and dropped; the next command brings it back. The client cannot tell: the
    PCR value (recomputed with hashlib), the transient object it loaded (same handle, same name)
    and TPM Time, which kept running meanwhile."""
    import urllib.request
    mport = free_port_pair()
    d = Daemon(vtpm_bin, tmp_path / "state")
    d.start_args = ["--idle-evict", "1.5", "--metrics", f"127.0.0.1:{mport}"]
    d.start()
    try:
        port = free_port_pair()
        d.ok("create", "e", "--no-ek", "--mssim-port", str(port))
        _tpm2(port, "startup", "-c")
        digest = hashlib.sha256(b"evict me").digest()
        _tpm2(port, "pcrextend", f"16:sha256={digest.hex()}")
        expected = hashlib.sha256(b"\0" * 32 + digest).digest()
        _tpm2(port, "createprimary", "-C", "o", "-G", "ecc", "-c", str(tmp_path / "p.ctx"))
        assert "0x80000000" in _tpm2(port, "getcap", "handles-transient")
        name = _tpm2(port, "readpublic", "-c", "0x80000000").split("name: ")[1].split()[0]
        time_before = int(_tpm2(port, "readclock").split("time: ")[1].split()[0])
        t0 = time.monotonic()
        for _ in range(150):
            shown = json.loads(d.ok("show", "e", "--json"))
            if shown["evicted"]:
                break
            time.sleep(0.1)
        assert shown["evicted"] and shown["evictions"] == 1 and shown["state"] == "running", shown
        assert "evicted (reloads at its next command)" in d.ok("show", "e")
        time.sleep(0.3)
        assert _pcr(port, "sha256:16") == expected
        shown = json.loads(d.ok("show", "e", "--json"))
        assert not shown["evicted"] and shown["evictions"] >= 1
        assert "0x80000000" in _tpm2(port, "getcap", "handles-transient")
        assert _tpm2(port, "readpublic", "-c", "0x80000000").split("name: ")[1].split()[0] == name
        time_after = int(_tpm2(port, "readclock").split("time: ")[1].split()[0])
        assert time_after - time_before >= int((time.monotonic() - t0) * 1000) - 50, (time_before, time_after)
        text = urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=10).read().decode()
        values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
        assert float(values["vtpm_evictions_total"]) >= 1 and float(values["vtpm_evicted_reloads_total"]) >= 1, text
    finally:
        d.stop()
