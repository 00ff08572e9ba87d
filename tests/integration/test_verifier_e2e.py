"""End to end: `vtpm-verifier serve` enrolls and attests guests over the evidence protocol.

Until the real agent lands, each guest is a small Python agent written here from
docs/evidence-protocol.md alone (an independent implementation of the protocol), backed by its
own swtpm through tpm2-tools: its list is built with IMA's layout in Python and extended with
`tpm2 pcrextend`, its quotes are `tpm2 quote`, enrollment runs `tpm2 activatecredential`.
The agent can be told to forge its answers; each forgery must come out TAMPERED with the check
that catches it."""
from __future__ import annotations

import hashlib
import json
import os
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from test_verifier_tpm import Swtpm, ca_bundle, free_port_pair, verifier_bin

PCR = 14
AK_HANDLE = "0x81010002"
EK_HANDLE = "0x81010001"


# ---- IMA list, as the kernel lays it out ----

def template_data(algo: str, digest: bytes, name: str) -> bytes:
    d = algo.encode() + b":\0" + digest
    n = name.replace(" ", "_").encode() + b"\0"
    return struct.pack("<I", len(d)) + d + struct.pack("<I", len(n)) + n


class Entry:
    def __init__(self, path: str, content: bytes | None = None, digest: bytes | None = None):
        self.path = path
        self.digest = digest if digest is not None else hashlib.sha256(content or b"").digest()
        self.data = template_data("sha256", self.digest, path)
        self.sha1 = hashlib.sha1(self.data).digest()

    def record(self, pcr: int = PCR) -> bytes:
        return struct.pack("<I", pcr) + self.sha1 + struct.pack("<I", 6) + b"ima-ng" + struct.pack("<I", len(self.data)) + self.data


# ---- the evidence protocol, from docs/evidence-protocol.md ----

def frame(msg_type: int, body: bytes) -> bytes:
    payload = bytes([1, msg_type]) + body
    return struct.pack(">I", len(payload)) + payload


def b16(b: bytes) -> bytes:
    return struct.pack(">H", len(b)) + b


def b32(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def read_frame(sock: socket.socket) -> tuple[int, bytes] | None:
    head = recv_exact(sock, 4)
    if head is None:
        return None
    (n,) = struct.unpack(">I", head)
    if n > 64 * 1024 or n < 2:
        raise ValueError("bad frame length")
    payload = recv_exact(sock, n)
    if payload is None or payload[0] != 1:
        raise ValueError("bad payload")
    return payload[1], payload[2:]


def recv_exact(sock: socket.socket, n: int) -> bytes | None:
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            return None
        out += chunk
    return out


def parse_selection(sel: bytes) -> str:
    """TPML_PCR_SELECTION -> tpm2-tools' "sha1:14+sha256:14"."""
    names = {0x0004: "sha1", 0x000B: "sha256", 0x000C: "sha384", 0x000D: "sha512"}
    (count,) = struct.unpack_from(">I", sel, 0)
    off, parts = 4, []
    for _ in range(count):
        alg, size = struct.unpack_from(">HB", sel, off)
        bits = sel[off + 3:off + 3 + size]
        off += 3 + size
        pcrs = [i for i in range(size * 8) if bits[i // 8] & (1 << (i % 8))]
        parts.append((alg, pcrs))
    return parts


def clock_info(attest: bytes) -> tuple[int, int]:
    """resetCount, restartCount from TPMS_ATTEST."""
    off = 6
    (n,) = struct.unpack_from(">H", attest, off)
    off += 2 + n
    (n,) = struct.unpack_from(">H", attest, off)
    off += 2 + n
    _clock, reset, restart = struct.unpack_from(">QII", attest, off)
    return reset, restart


class FakeAgent:
    """One guest: a swtpm, a list, an evidence server on a TCP port."""

    def __init__(self, tpm: Swtpm, ek_cert: bool = False):
        self.tpm = tpm
        self.ek_cert = b""
        if ek_cert:
            # swtpm_setup left the EK certificate in NV 0x01c00002 and the EK at 0x81010001.
            tpm.tpm2("nvread", "0x01c00002", "-o", "ek.crt")
            self.ek_cert = (tpm.dir / "ek.crt").read_bytes()
            tpm.tpm2("evictcontrol", "-C", "o", "-c", EK_HANDLE)
        tpm.tpm2("createek", "-c", "ek.ctx", "-G", "rsa", "-u", "ek.pub")
        tpm.tpm2("flushcontext", "-t")
        tpm.tpm2("createak", "-C", "ek.ctx", "-c", "ak.ctx", "-G", "rsa", "-g", "sha256", "-s", "rsassa", "-u", "ak.pub", "-n", "ak.name")
        tpm.tpm2("flushcontext", "-t")
        tpm.tpm2("evictcontrol", "-c", "ek.ctx", EK_HANDLE)
        tpm.tpm2("flushcontext", "-t")
        tpm.tpm2("evictcontrol", "-c", "ak.ctx", AK_HANDLE)
        tpm.tpm2("flushcontext", "-t")
        self.ak_pub = (tpm.dir / "ak.pub").read_bytes()
        self.ak_name = (tpm.dir / "ak.name").read_bytes()
        self.ek_pub = (tpm.dir / "ek.pub").read_bytes()
        self.entries: list[Entry] = []
        self.forge: str | None = None
        self.last_evidence: bytes | None = None
        self.other: FakeAgent | None = None  # another guest, for cross-TPM forgeries
        self.lock = threading.Lock()
        self.add(Entry("boot_aggregate", digest=hashlib.sha256(b"\0" * 32 * 10).digest()))
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = free_port_pair()
        self.srv.bind(("127.0.0.1", self.port))
        self.srv.listen(16)
        threading.Thread(target=self.serve, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def add(self, e: Entry, extend: bool = True) -> None:
        with self.lock:
            self.entries.append(e)
            if extend:
                self.tpm.tpm2("pcrextend", f"{PCR}:sha1={e.sha1.hex()},sha256={hashlib.sha256(e.data).hexdigest()}")

    def run(self, path: str, content: bytes) -> None:
        """The guest executes a file: measured and extended."""
        self.add(Entry(path, content))

    def serve(self) -> None:
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(c,), daemon=True).start()

    def session(self, c: socket.socket) -> None:
        with c:
            while True:
                try:
                    f = read_frame(c)
                except (ValueError, OSError):
                    return
                if f is None:
                    return
                t, body = f
                with self.lock:
                    try:
                        reply = self.answer(t, body)
                    except (AssertionError, OSError, subprocess.SubprocessError) as e:  # the TPM went away
                        reply = frame(0x7F, struct.pack(">H", 4) + b16(str(e).encode()[:1000]))
                try:
                    c.sendall(reply)
                except OSError:
                    return

    def answer(self, t: int, body: bytes) -> bytes:
        if t == 3:  # EnrollRequest
            return frame(4, b16(self.ak_pub) + b16(self.ak_name) + b16(self.ek_pub) + b32(self.ek_cert))
        if t == 5:  # ActivateRequest
            (n,) = struct.unpack_from(">H", body, 0)
            blob = body[2:2 + n]
            secret = body[2 + n + 2:]
            (self.tpm.dir / "cred.in").write_bytes(bytes.fromhex("badcc0de00000001") + blob + secret)
            r = self.tpm.activate("cred.in", "cred.out", handles=(AK_HANDLE, EK_HANDLE))
            if r.returncode != 0:
                msg = b"ActivateCredential failed"
                return frame(0x7F, struct.pack(">H", 4) + b16(msg))
            return frame(6, b16((self.tpm.dir / "cred.out").read_bytes()))
        if t == 1:  # Challenge
            nlen = body[0]
            nonce = body[1:1 + nlen]
            (slen,) = struct.unpack_from(">H", body, 1 + nlen)
            sel = body[3 + nlen:3 + nlen + slen]
            (first,) = struct.unpack_from(">Q", body, 3 + nlen + slen)
            if self.forge == "replay" and self.last_evidence is not None:
                return self.last_evidence
            if first > len(self.entries):
                return frame(0x7F, struct.pack(">H", 7) + b16(b"first entry beyond the list"))
            ev = self.evidence(nonce, sel, first)
            self.last_evidence = ev
            return ev
        return frame(0x7F, struct.pack(">H", 3) + b16(b"unexpected message"))

    def evidence(self, nonce: bytes, sel: bytes, first: int) -> bytes:
        if self.forge in ("other_tpm", "swap_ak"):
            # The other guest's TPM and files: its own sessions (the verifier's scheduler
            # may be attesting it right now) write the same q.msg/q.sig/pcrs.out under its
            # lock, so take that lock too (always self's first, then other's: no cycle).
            with self.other.lock:
                return self.quote_evidence(self.other, nonce, sel, first)
        return self.quote_evidence(self, nonce, sel, first)

    def quote_evidence(self, quoter: "FakeAgent", nonce: bytes, sel: bytes, first: int) -> bytes:
        banks = parse_selection(sel)
        names = {0x0004: "sha1", 0x000B: "sha256"}
        spec = "+".join(f"{names[a]}:{','.join(map(str, p))}" for a, p in banks)
        quoter.tpm.tpm2("quote", "-c", AK_HANDLE, "-l", spec, "-q", nonce.hex(), "-m", "q.msg", "-s", "q.sig", "-g", "sha256")
        attest = (quoter.tpm.dir / "q.msg").read_bytes()
        sig = (quoter.tpm.dir / "q.sig").read_bytes()
        pcr_body = bytes([len(banks)])
        for alg, pcrs in banks:
            quoter.tpm.tpm2("pcrread", f"{names[alg]}:{','.join(map(str, pcrs))}", "-o", "pcrs.out")
            raw = (quoter.tpm.dir / "pcrs.out").read_bytes()
            size = 20 if alg == 4 else 32
            pcr_body += struct.pack(">HB", alg, len(pcrs))
            for i, p in enumerate(pcrs):
                pcr_body += bytes([p]) + raw[i * size:(i + 1) * size]
        entries = list(self.entries[first:])
        if self.forge == "edit" and entries:
            victim = entries[-1]
            edited = Entry(victim.path, b"something else")
            edited.sha1 = victim.sha1  # keep the stored template hash
            entries[-1] = edited
        if self.forge == "delete" and len(entries) > 1:
            del entries[-2]
        records = b"".join(e.record() for e in entries)
        reset, restart = clock_info(attest)
        if self.forge == "hide_reset_counters":
            reset -= 1
        ak_pub = self.other.ak_pub if self.forge == "swap_ak" else self.ak_pub
        body = (b16(attest) + b16(sig) + pcr_body + struct.pack(">QI", first, len(entries)) + b32(records) + b16(ak_pub)
                + b16(self.ek_pub) + b32(self.ek_cert) + struct.pack(">II", reset, restart))
        return frame(2, body)

    def reset_tpm_and_reextend(self) -> None:
        """A TPM Reset (power cycle through swtpm's control channel), then the old list extended
        again so the PCR matches: the reset a forger would hide."""
        subprocess.run(["swtpm_ioctl", "--tcp", f"127.0.0.1:{self.tpm.port + 1}", "-i"], check=True, timeout=30)
        self.tpm.tpm2("startup", "-c")
        with self.lock:
            for e in self.entries:
                self.tpm.tpm2("pcrextend", f"{PCR}:sha1={e.sha1.hex()},sha256={hashlib.sha256(e.data).hexdigest()}")

    def reboot(self) -> None:
        """An honest reboot: TPM Reset and a new list."""
        subprocess.run(["swtpm_ioctl", "--tcp", f"127.0.0.1:{self.tpm.port + 1}", "-i"], check=True, timeout=30)
        self.tpm.tpm2("startup", "-c")
        with self.lock:
            self.entries = []
        self.add(Entry("boot_aggregate", digest=hashlib.sha256(b"\0" * 32 * 10).digest()))

    def close(self) -> None:
        # shutdown wakes the accept() blocked in the server thread; close alone may not.
        try:
            self.srv.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.srv.close()


class Verifier:
    def __init__(self, state: Path, *args: str):
        self.state = state
        (state / "verifier.sock").unlink(missing_ok=True)  # a previous daemon's
        self.proc = subprocess.Popen([verifier_bin(), "serve", "--state-dir", str(state), "--pcr", str(PCR), *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        while not (state / "verifier.sock").exists():
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("verifier did not start: " + (self.proc.stderr.read().decode() if self.proc.poll() is not None else ""))
            time.sleep(0.05)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run([verifier_bin(), *args, "--state-dir", str(self.state)], capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError(f"vtpm-verifier {' '.join(args)}: {r.returncode} {r.stdout} {r.stderr}")
        return r

    def status(self) -> dict:
        return {g["name"]: g for g in json.loads(self.cli("status", "--json").stdout)}

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def baseline_policy(path: Path, files: dict[str, bytes]) -> Path:
    path.write_text(json.dumps({"vtpm-policy": 1, "mode": "enforce",
                                "allow": {p: ["sha256:" + hashlib.sha256(c).hexdigest()] for p, c in files.items()}}))
    return path


BASELINE = {"/usr/bin/ls": b"ls binary", "/usr/bin/cat": b"cat binary", "/bin/sh": b"shell"}


@pytest.fixture
def world(tmp_path):
    made = {"tpms": [], "agents": [], "verifiers": []}

    def agent(name: str, ek_ca: Path | None = None) -> FakeAgent:
        t = Swtpm(tmp_path / f"tpm-{name}", ek_ca=ek_ca)
        made["tpms"].append(t)
        a = FakeAgent(t, ek_cert=ek_ca is not None)
        made["agents"].append(a)
        for p, c in BASELINE.items():
            a.run(p, c)
        return a

    def verifier(*args: str) -> Verifier:
        v = Verifier(tmp_path / "verifier", "--policy", str(baseline_policy(tmp_path / "policy.json", BASELINE)), *args)
        made["verifiers"].append(v)
        return v

    yield agent, verifier
    for v in made["verifiers"]:
        v.stop()
    for a in made["agents"]:
        a.close()
    for t in made["tpms"]:
        t.stop()


def enroll(v: Verifier, name: str, a: FakeAgent) -> None:
    v.cli("enroll", name, "--agent", a.address, "--ek-pub", str(a.tpm.dir / "ek.pub"))


def test_trusted_then_untrusted_naming_the_file(world, tmp_path):
    agent, verifier = world
    g1, g2 = agent("g1"), agent("g2")
    v = verifier("--interval", "3600")
    enroll(v, "g1", g1)
    enroll(v, "g2", g2)
    for name in ("g1", "g2"):
        r = v.cli("attest", name)
        assert "TRUSTED" in r.stdout, r.stdout
    # An unknown binary runs in g1 only.
    g1.run("/tmp/evil", b"not in the policy")
    r = v.cli("attest", "g1", check=False)
    assert r.returncode == 1 and "UNTRUSTED" in r.stdout and "/tmp/evil" in r.stdout, r.stdout + r.stderr
    assert "TRUSTED" in v.cli("attest", "g2").stdout
    st = v.status()
    assert st["g1"]["verdict"] == "UNTRUSTED" and any("/tmp/evil" in f for f in st["g1"]["findings"])
    assert st["g2"]["verdict"] == "TRUSTED"
    # Incremental: a known binary later keeps g2 trusted, entry count grows by one.
    before = st["g2"]["entries"]
    g2.run("/usr/bin/ls", b"ls binary")
    assert "TRUSTED" in v.cli("attest", "g2").stdout
    assert v.status()["g2"]["entries"] == before + 1
    # The audit log holds every enrollment and round, and verifies.
    log = v.cli("audit", "--agent", "g1", "--json").stdout.splitlines()
    kinds = [json.loads(line)["kind"] for line in log]
    assert kinds.count("enroll") == 1 and kinds.count("attest") >= 2
    assert "UNTRUSTED" in v.cli("audit", "--verdict", "UNTRUSTED").stdout
    assert "intact" in v.cli("audit", "verify").stdout


def test_scheduled_rounds_and_on_change_hook(world, tmp_path):
    agent, verifier = world
    g = agent("g")
    hook_log = tmp_path / "hook.log"
    v = verifier("--interval", "0.5", "--on-change", f'echo "$VTPM_AGENT $VTPM_PREVIOUS $VTPM_VERDICT" >> {hook_log}')
    enroll(v, "g", g)
    deadline = time.time() + 30
    while time.time() < deadline and v.status()["g"]["verdict"] != "TRUSTED":
        time.sleep(0.2)
    assert v.status()["g"]["verdict"] == "TRUSTED"
    g.run("/opt/unknown", b"x")
    while time.time() < deadline and v.status()["g"]["verdict"] != "UNTRUSTED":
        time.sleep(0.2)
    assert v.status()["g"]["verdict"] == "UNTRUSTED"
    time.sleep(0.5)
    lines = hook_log.read_text().splitlines()
    assert "g  TRUSTED" in lines and "g TRUSTED UNTRUSTED" in lines, lines


FORGERIES = {
    # mode: (check named, how to set it up)
    "edit": "replay",
    "delete": "replay",
    "append_no_extend": "replay",
    "replay": "nonce",
    "other_tpm": "signature",
    "swap_ak": "attestation-key",
    "hide_reset": "counters",
    "hide_reset_counters": "counters",
}


@pytest.mark.parametrize("mode", list(FORGERIES))
def test_forgery_is_tampered(world, mode):
    agent, verifier = world
    g, other = agent("g"), agent("other")
    v = verifier("--interval", "3600")
    enroll(v, "g", g)
    enroll(v, "other", other)
    assert "TRUSTED" in v.cli("attest", "g").stdout
    g.run("/usr/bin/cat", b"cat binary")
    g.run("/usr/bin/ls", b"ls binary")
    g.other = other
    if mode == "append_no_extend":
        g.add(Entry("/usr/bin/ls", b"ls binary"), extend=False)
    elif mode == "replay":
        assert "TRUSTED" in v.cli("attest", "g").stdout  # the response that will be replayed
        g.run("/usr/bin/cat", b"cat binary")
        g.forge = mode
    elif mode == "hide_reset":
        g.reset_tpm_and_reextend()
    else:
        g.forge = mode
    r = v.cli("attest", "g", check=False)
    assert r.returncode == 1 and "TAMPERED" in r.stdout and f"[{FORGERIES[mode]}]" in r.stdout, r.stdout + r.stderr
    st = v.status()
    assert st["g"]["verdict"] == "TAMPERED" and st["g"]["check"] == FORGERIES[mode]
    assert st["other"]["verdict"] != "TAMPERED"


def test_boot_aggregate_against_quoted_pcrs(world):
    """The list's boot_aggregate must be SHA-256 over the quoted PCRs 0-9 (IMA's
    ima_calc_boot_aggregate for a non-SHA-1 bank): after firmware extends PCR 0 behind a list made
    over zero PCRs, the list is TAMPERED [boot-aggregate]; a boot whose list carries the right
    aggregate is TRUSTED."""
    agent, verifier = world
    g = agent("g")
    v = verifier("--interval", "3600")
    measurement = hashlib.sha256(b"firmware").digest()
    g.tpm.tpm2("pcrextend", f"0:sha256={measurement.hex()}")
    pcr0 = hashlib.sha256(b"\0" * 32 + measurement).digest()
    enroll(v, "g", g)
    r = v.cli("attest", "g", check=False)
    assert r.returncode == 1 and "TAMPERED" in r.stdout and "[boot-aggregate]" in r.stdout, r.stdout + r.stderr
    assert hashlib.sha256(pcr0 + b"\0" * 32 * 9).hexdigest() in r.stdout, r.stdout
    # A new boot: firmware measures into PCR 0, then IMA's list starts with the matching aggregate.
    subprocess.run(["swtpm_ioctl", "--tcp", f"127.0.0.1:{g.tpm.port + 1}", "-i"], check=True, timeout=30)
    g.tpm.tpm2("startup", "-c")
    g.tpm.tpm2("pcrextend", f"0:sha256={measurement.hex()}")
    with g.lock:
        g.entries = []
    g.add(Entry("boot_aggregate", digest=hashlib.sha256(pcr0 + b"\0" * 32 * 9).digest()))
    for p, c in BASELINE.items():
        g.run(p, c)
    r = v.cli("attest", "g", check=False)
    assert "TRUSTED" in r.stdout and "UNTRUSTED" not in r.stdout, r.stdout + r.stderr


def test_honest_reboot_is_verified_from_the_start(world):
    agent, verifier = world
    g = agent("g")
    v = verifier("--interval", "3600")
    enroll(v, "g", g)
    assert "TRUSTED" in v.cli("attest", "g").stdout
    g.reboot()
    g.run("/usr/bin/ls", b"ls binary")
    r = v.cli("attest", "g")
    assert "TRUSTED" in r.stdout, r.stdout
    assert v.status()["g"]["entries"] == 2


def test_enrollment_refusals(world, tmp_path):
    agent, verifier = world
    g, other = agent("g"), agent("other")
    v = verifier()
    # Another TPM's EK pinned: refused.
    r = v.cli("enroll", "g", "--agent", g.address, "--ek-pub", str(other.tpm.dir / "ek.pub"), check=False)
    assert r.returncode != 0 and "pinned" in r.stderr
    # No agent there: refused, nothing enrolled.
    r = v.cli("enroll", "g", "--agent", f"127.0.0.1:{free_port_pair()}", "--ek-pub", str(g.tpm.dir / "ek.pub"), check=False)
    assert r.returncode != 0
    assert v.status() == {}
    # A bad name.
    r = v.cli("enroll", "../x", "--agent", g.address, "--ek-pub", str(g.tpm.dir / "ek.pub"), check=False)
    assert r.returncode != 0


def test_unreachable(world):
    agent, verifier = world
    g = agent("g")
    v = verifier("--interval", "3600", "--timeout", "2")
    enroll(v, "g", g)
    g.close()
    r = v.cli("attest", "g", check=False)
    assert r.returncode == 1 and "UNREACHABLE" in r.stdout


def test_audit_verify_names_altered_record(world):
    agent, verifier = world
    g = agent("g")
    v = verifier("--interval", "3600")
    enroll(v, "g", g)
    for _ in range(3):
        v.cli("attest", "g")
    v.stop()
    log = v.state / "audit.log"
    lines = log.read_text().splitlines(keepends=True)
    assert len(lines) >= 6
    # Record 4's verdict changed on disk, hash and signature left as they were.
    lines[3] = lines[3].replace('"verdict":"TRUSTED"', '"verdict":"UNTRUSTED"', 1)
    assert '"UNTRUSTED"' in lines[3]
    log.write_text("".join(lines))
    r = subprocess.run([verifier_bin(), "audit", "verify", "--state-dir", str(v.state)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "record 4" in r.stderr, r.stdout + r.stderr


def test_enrollment_with_ek_certificate(world, tmp_path):
    """EK certificates from swtpm_setup + swtpm_localca: enrollment with --ek-ca accepts the
    issuing CA's chain and refuses another CA's, and refuses a TPM without a certificate."""
    agent, verifier = world
    ca, other_ca = tmp_path / "ca", tmp_path / "other-ca"
    g = agent("g", ek_ca=ca)
    stranger = agent("stranger", ek_ca=other_ca)
    plain = agent("plain")
    v = verifier("--interval", "3600")
    r = v.cli("enroll", "g", "--agent", g.address, "--ek-ca", str(ca_bundle(ca)))
    assert "certificate" in r.stdout
    assert v.status()["g"]["enrollment"] == "certificate"
    assert "TRUSTED" in v.cli("attest", "g").stdout
    # The issuing CA alone is enough (every certificate in --ek-ca is a trust anchor).
    (tmp_path / "issuer.pem").write_text((ca / "issuercert.pem").read_text())
    r = v.cli("enroll", "g-again", "--agent", g.address, "--ek-ca", str(tmp_path / "issuer.pem"))
    assert r.returncode == 0
    # A certificate from another CA.
    r = v.cli("enroll", "s", "--agent", stranger.address, "--ek-ca", str(ca_bundle(ca)), check=False)
    assert r.returncode != 0 and "does not chain" in r.stderr, r.stderr
    # No certificate at all.
    r = v.cli("enroll", "p", "--agent", plain.address, "--ek-ca", str(ca_bundle(ca)), check=False)
    assert r.returncode != 0 and "no EK certificate" in r.stderr, r.stderr
    assert set(v.status()) == {"g", "g-again"}


def test_policy_change_rejudges_the_whole_list(world, tmp_path):
    agent, verifier = world
    g = agent("g")
    v = verifier("--interval", "3600")
    enroll(v, "g", g)
    assert "TRUSTED" in v.cli("attest", "g").stdout
    # A policy without /bin/sh: the entry measured long ago is judged again.
    narrower = {p: c for p, c in BASELINE.items() if p != "/bin/sh"}
    v.cli("policy", "set", str(baseline_policy(tmp_path / "narrow.json", narrower)))
    r = v.cli("attest", "g", check=False)
    assert "UNTRUSTED" in r.stdout and "/bin/sh" in r.stdout, r.stdout
    # Back to the baseline: TRUSTED again; the same policy twice is no change.
    v.cli("policy", "set", str(tmp_path / "policy.json"))
    assert "unchanged" in v.cli("policy", "set", str(tmp_path / "policy.json")).stdout
    assert "TRUSTED" in v.cli("attest", "g").stdout
    assert len([l for l in v.cli("audit", "--json").stdout.splitlines() if json.loads(l)["kind"] == "policy"]) == 3


class HostileAgent:
    """Answers every request with the same bytes (an oversized frame, garbage, silence)."""

    def __init__(self, reply: bytes | None):
        self.reply = reply
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = free_port_pair()
        self.srv.bind(("127.0.0.1", self.port))
        self.srv.listen(8)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self.answer, args=(c,), daemon=True).start()

    def answer(self, c: socket.socket) -> None:
        try:
            c.recv(65536)
            if self.reply is not None:
                c.sendall(self.reply)
            time.sleep(3)
        except OSError:
            pass
        finally:
            c.close()

    def close(self) -> None:
        try:
            self.srv.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.srv.close()


@pytest.mark.parametrize("reply,verdict", [
    (struct.pack(">I", 0xFFFFFFFF), "TAMPERED"),            # a 4 GiB frame announced: refused before reading it
    (struct.pack(">I", 5) + bytes([9, 2, 0, 0, 0]), "TAMPERED"),  # protocol version 9
    (frame(2, b"\x00\x05abc"), "TAMPERED"),                  # an Evidence cut short
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "TAMPERED"),        # not our protocol at all
    (None, "UNREACHABLE"),                                   # silence until the timeout
])
def test_hostile_agent_answers(world, tmp_path, reply, verdict):
    """After enrollment the agent's address answers with garbage: a verdict, never a crash."""
    agent, verifier = world
    g = agent("g")
    v = verifier("--interval", "3600", "--timeout", "2")
    enroll(v, "g", g)
    record = v.state / "guests" / "g.json"
    data = json.loads(record.read_text())
    hostile = HostileAgent(reply)
    try:
        v.stop()
        data["guest"]["address"] = f"127.0.0.1:{hostile.port}"
        record.write_text(json.dumps(data))
        v2 = Verifier(v.state, "--interval", "3600", "--timeout", "2")
        try:
            r = v2.cli("attest", "g", check=False)
            assert verdict in r.stdout, r.stdout + r.stderr
            assert v2.proc.poll() is None  # still serving
            assert v2.status()["g"]["verdict"] == verdict
        finally:
            v2.stop()
    finally:
        hostile.close()
