"""libvirt-style provisioning: `swtpm_setup` exactly as libvirt calls it, then `swtpm socket`, then
the EK certificates read back through tpm2-tools and checked with openssl against the local CA.

Run against swtpm's own swtpm_setup + swtpm (Debian's swtpm-tools; its CA in
/var/lib/swtpm-localca, root + intermediate), which validates the test, and against vtpm under
both names (its CA in $VTPM_CA_DIR, one root).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness.servers import Impl, free_port_pair, wait_listening

LIBVIRT_ARGS = ["--tpm2", "--vmid", "guest1:6b3e0a2c-4c46-4d64-9e0e-1c2d3e4f5a6b", "--createek", "--create-ek-cert",
                "--create-platform-cert", "--lock-nvram", "--not-overwrite"]


def _bin_dir(impl: Impl, tmp: Path) -> Path:
    d = tmp / "bin"
    d.mkdir()
    if impl.name == "vtpm":
        for name in ("swtpm", "swtpm_setup"):
            (d / name).symlink_to(Path(impl.binary).resolve())
    else:
        (d / "swtpm").symlink_to("/usr/bin/swtpm")
        (d / "swtpm_setup").symlink_to("/usr/bin/swtpm_setup")
    return d


def _ca_files(impl: Impl, tmp: Path) -> tuple[Path, list[str]]:
    """The root to trust and openssl's extra arguments for intermediates."""
    if impl.name == "vtpm":
        return tmp / "ca" / "ca-cert.pem", []
    return Path("/var/lib/swtpm-localca/swtpm-localca-rootca-cert.pem"), \
        ["-untrusted", "/var/lib/swtpm-localca/issuercert.pem"]


def _run(*args, env=None, ok=True) -> subprocess.CompletedProcess:
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, timeout=120)
    if ok:
        assert r.returncode == 0, f"{args}: {r.stdout}\n{r.stderr}"
    return r


def test_libvirt_provisioning_and_ek_certificates(impl, tmp_path):
    bins = _bin_dir(impl, tmp_path)
    env = dict(os.environ, PATH=f"{bins}:{os.environ['PATH']}", VTPM_CA_DIR=str(tmp_path / "ca"))
    state = tmp_path / "tpm2"
    state.mkdir()
    _run(bins / "swtpm_setup", *LIBVIRT_ARGS, "--tpm-state", state, "--logfile", tmp_path / "setup.log", env=env)
    permanent = sorted(p for p in state.iterdir() if not p.name.startswith("."))
    assert permanent, "no state written"
    before = {p.name: p.read_bytes() for p in permanent}
    # libvirt runs it at every VM start: --not-overwrite leaves the state alone and succeeds.
    _run(bins / "swtpm_setup", *LIBVIRT_ARGS, "--tpm-state", state, env=env)
    assert {p.name: p.read_bytes() for p in sorted(p for p in state.iterdir() if not p.name.startswith("."))} == before
    # Neither flag: refused.
    r = _run(bins / "swtpm_setup", "--tpm2", "--tpm-state", state, "--createek", env=env, ok=False)
    assert r.returncode != 0

    port = free_port_pair()
    proc = subprocess.Popen([bins / "swtpm", "socket", "--tpm2", "--server", f"type=tcp,port={port}",
                             "--ctrl", f"type=tcp,port={port + 1}", "--tpmstate", f"dir={state}",
                             "--flags", "not-need-init,startup-clear", "--seccomp", "action=none"]
                            if impl.name == "swtpm" else
                            [bins / "swtpm", "socket", "--tpm2", "--server", f"type=tcp,port={port}",
                             "--ctrl", f"type=tcp,port={port + 1}", "--tpmstate", f"dir={state}",
                             "--flags", "not-need-init,startup-clear"], env=env)
    try:
        wait_listening([port, port + 1], [proc], 20, tmp_path / "swtpm.log")
        tenv = dict(env, TPM2TOOLS_TCTI=f"swtpm:host=127.0.0.1,port={port}")
        root, extra = _ca_files(impl, tmp_path)
        for index, handle, kind in ((0x01C00002, 0x81010001, "rsa"), (0x01C00016, 0x81010016, "ecc")):
            der = tmp_path / f"ek-{kind}.der"
            _run("tpm2", "nvread", "-C", "o", "-o", der, hex(index), env=tenv)
            pem = tmp_path / f"ek-{kind}.pem"
            _run("openssl", "x509", "-inform", "DER", "-in", der, "-out", pem)
            v = _run("openssl", "verify", "-CAfile", root, *extra, pem)
            assert v.stdout.strip().endswith(": OK")
            text = _run("openssl", "x509", "-noout", "-text", "-in", pem).stdout
            assert "2.23.133.8.1" in text or "Endorsement Key Certificate" in text  # tcg-kp-EKCertificate
            # The certificate holds the persistent EK's public key.
            ek_pub = tmp_path / f"ek-{kind}-tpm.pem"
            _run("tpm2", "readpublic", "-c", hex(handle), "-f", "pem", "-o", ek_pub, env=tenv)
            cert_pub = _run("openssl", "x509", "-noout", "-pubkey", "-in", pem).stdout
            assert cert_pub.strip() == ek_pub.read_text().strip()
        # tpm2-tools' own EK certificate reader finds the RSA one.
        out = tmp_path / "getek.crt"
        _run("tpm2", "getekcertificate", "-o", out, env=tenv)
        assert out.read_bytes() == (tmp_path / "ek-rsa.der").read_bytes()
        # The platform certificate verifies too.
        plat = tmp_path / "platform.der"
        _run("tpm2", "nvread", "-C", "o", "-o", plat, "0x01c08000", env=tenv)
        _run("openssl", "x509", "-inform", "DER", "-in", plat, "-out", tmp_path / "platform.pem")
        _run("openssl", "verify", "-CAfile", root, *extra, tmp_path / "platform.pem")
        # --lock-nvram: the certificate cannot be overwritten.
        junk = tmp_path / "junk"
        junk.write_bytes(b"x")
        r = _run("tpm2", "nvwrite", "-C", "p", "-i", junk, "0x01c00002", env=tenv, ok=False)
        assert r.returncode != 0 and "0x148" in (r.stderr + r.stdout).lower()  # TPM_RC_NV_LOCKED
    finally:
        proc.terminate()
        proc.wait(timeout=20)
