"""The verifier's TPM-facing logic against a real TPM (swtpm) driven by tpm2-tools:
MakeCredential done by `vtpm-verifier credential make` is recovered by `tpm2
activatecredential` only for the AK it names, with RSA and ECC EKs.

Also home of the small helpers the other test_verifier*.py files share (a swtpm on free loopback
ports, tpm2-tools with its TCTI)."""
from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from harness.servers import free_port_pair  # the other test_verifier*.py import it from here too

REPO = Path(__file__).resolve().parents[2]


def verifier_bin() -> str:
    for flavour in ("release", "debug"):
        p = REPO / ".build" / flavour / "vtpm-verifier"
        if p.exists():
            return str(p)
    pytest.fail("vtpm-verifier is not built (swift build --product vtpm-verifier)", pytrace=False)


def provision(state: Path, ca: Path) -> None:
    ca.mkdir(parents=True, exist_ok=True)
    (ca / "localca.conf").write_text(
        f"statedir = {ca}\nsigningkey = {ca}/signkey.pem\nissuercert = {ca}/issuercert.pem\ncertserial = {ca}/certserial\n")
    (ca / "setup.conf").write_text(
        f"create_certs_tool= /usr/bin/swtpm_localca\ncreate_certs_tool_config = {ca}/localca.conf\n"
        "create_certs_tool_options = /etc/swtpm-localca.options\nactive_pcr_banks = sha1,sha256\n")
    subprocess.run(["swtpm_setup", "--tpm2", "--tpmstate", str(state), "--create-ek-cert", "--config", str(ca / "setup.conf"),
                    "--overwrite"], check=True, capture_output=True, timeout=120)


def ca_bundle(ca: Path) -> Path:
    """The issuing CA and its root, as --ek-ca takes them."""
    out = ca / "bundle.pem"
    out.write_text((ca / "issuercert.pem").read_text() + (ca / "swtpm-localca-rootca-cert.pem").read_text())
    return out


class Swtpm:
    """One swtpm on TCP (command port P, control P+1), tpm2-tools pointed at it."""

    def __init__(self, workdir: Path, ek_ca: Path | None = None):
        """With `ek_ca` (a directory), the TPM is first manufactured by swtpm_setup with EK
        certificates in NV, issued by swtpm_localca from a CA kept in that directory."""
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "state").mkdir(exist_ok=True)
        if ek_ca is not None:
            provision(self.dir / "state", ek_ca)
        self.port = free_port_pair()
        self.proc = subprocess.Popen(
            ["swtpm", "socket", "--tpm2", "--server", f"type=tcp,port={self.port}", "--ctrl",
             f"type=tcp,port={self.port + 1}", "--tpmstate", f"dir={self.dir / 'state'}", "--flags",
             "not-need-init,startup-clear", "--seccomp", "action=none"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("swtpm did not start")

    @property
    def tcti(self) -> str:
        return f"swtpm:host=127.0.0.1,port={self.port}"

    def tpm2(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = dict(os.environ, TPM2TOOLS_TCTI=self.tcti)
        r = subprocess.run(["tpm2", *args], env=env, capture_output=True, timeout=60, cwd=self.dir)
        if check and r.returncode != 0:
            raise AssertionError(f"tpm2 {' '.join(args)} failed: {r.stderr.decode(errors='replace')}")
        return r

    def make_ek_ak(self, ek_alg: str = "rsa", ak_alg: str = "rsa", scheme: str = "rsassa", prefix: str = "") -> None:
        """ek.ctx/ek.pub and ak.ctx/ak.pub/ak.name (with prefix) in the work dir."""
        self.tpm2("createek", "-c", f"{prefix}ek.ctx", "-G", ek_alg, "-u", f"{prefix}ek.pub")
        self.tpm2("flushcontext", "-t")
        self.tpm2("createak", "-C", f"{prefix}ek.ctx", "-c", f"{prefix}ak.ctx", "-G", ak_alg, "-g", "sha256", "-s", scheme,
                  "-u", f"{prefix}ak.pub", "-n", f"{prefix}ak.name")
        self.tpm2("flushcontext", "-t")

    def activate(self, cred: str, out: str, prefix: str = "", handles: tuple[str, str] | None = None) -> subprocess.CompletedProcess:
        """tpm2 activatecredential with the EK's PolicySecret(endorsement) session."""
        ak, ek = handles or (f"{prefix}ak.ctx", f"{prefix}ek.ctx")
        self.tpm2("startauthsession", "--policy-session", "-S", "session.ctx")
        try:
            self.tpm2("policysecret", "-S", "session.ctx", "-c", "e")
            return self.tpm2("activatecredential", "-c", ak, "-C", ek, "-i", cred, "-o", out,
                             "-P", "session:session.ctx", check=False)
        finally:
            self.tpm2("flushcontext", "session.ctx", check=False)
            self.tpm2("flushcontext", "-t", check=False)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def swtpm_factory(tmp_path):
    made: list[Swtpm] = []

    def make(name: str = "tpm") -> Swtpm:
        t = Swtpm(tmp_path / name)
        made.append(t)
        return t

    yield make
    for t in made:
        t.stop()


@pytest.mark.parametrize("ek_alg,ak_alg,scheme", [("rsa", "rsa", "rsassa"), ("ecc", "ecc", "ecdsa"), ("rsa", "ecc", "ecdsa")])
def test_makecredential_activates_on_swtpm(swtpm_factory, ek_alg, ak_alg, scheme):
    t = swtpm_factory()
    t.make_ek_ak(ek_alg, ak_alg, scheme)
    secret = os.urandom(32).hex()
    subprocess.run([verifier_bin(), "credential", "make", "--ek-pub", str(t.dir / "ek.pub"), "--name", str(t.dir / "ak.name"),
                    "--secret", secret, "--out", str(t.dir / "cred.out")], check=True, timeout=60)
    r = t.activate("cred.out", "act.out")
    assert r.returncode == 0, r.stderr.decode()
    assert (t.dir / "act.out").read_bytes().hex() == secret


def test_makecredential_for_another_name_fails(swtpm_factory):
    """A credential made for another object's Name is refused by the TPM (the AK binding)."""
    t = swtpm_factory()
    t.make_ek_ak()
    t.make_ek_ak(prefix="other-")  # same EK (same seed), a second AK
    subprocess.run([verifier_bin(), "credential", "make", "--ek-pub", str(t.dir / "ek.pub"), "--name",
                    str(t.dir / "other-ak.name"), "--secret", "00" * 16, "--out", str(t.dir / "cred.out")], check=True, timeout=60)
    r = t.activate("cred.out", "act.out")
    assert r.returncode != 0


def test_makecredential_for_another_tpm_fails(swtpm_factory):
    """A credential made to another TPM's EK cannot be activated here."""
    a, b = swtpm_factory("a"), swtpm_factory("b")
    a.make_ek_ak()
    b.make_ek_ak()
    subprocess.run([verifier_bin(), "credential", "make", "--ek-pub", str(b.dir / "ek.pub"), "--name", str(a.dir / "ak.name"),
                    "--secret", "11" * 16, "--out", str(a.dir / "cred.out")], check=True, timeout=60)
    r = a.activate("cred.out", "act.out")
    assert r.returncode != 0
