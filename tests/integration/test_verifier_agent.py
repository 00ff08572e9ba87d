"""The verifier with the real agent (issue 6's vtpm-agent): several agents, each scoped to its own
"guest" (a cgroup made by the test) with its own TPM, one verifier. All TRUSTED against a
baseline policy; an unknown program run in one guest turns that guest UNTRUSTED, naming the
file, while the other stays TRUSTED; the audit log verifies."""
from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import selected_impls
from harness.servers import power_cycle
from test_agent import PCR, Agent, sha256sum
from test_verifier_e2e import Verifier
from test_verifier_tpm import free_port_pair, verifier_bin


def pytest_generate_tests(metafunc):
    if "agent_tpm_spec" in metafunc.fixturenames:
        # Each guest's TPM: swtpm over its TCP protocol, our vtpm over mssim (as test_agent_evidence).
        specs = [(i, "swtpm" if i.name == "swtpm" else "mssim") for i in selected_impls(metafunc.config)]
        metafunc.parametrize("agent_tpm_spec", specs, ids=[f"{i.name}-{t}" for i, t in specs])


@pytest.fixture
def guests(agent_tpm_spec, tpm_factory, tmp_path):
    impl, transport = agent_tpm_spec
    made: list[Agent] = []

    def make(name: str) -> Agent:
        tpm = tpm_factory(impl, transport, name=f"tpm-{name}")
        # The agent's cgroup is named after its work directory: unique per test.
        work = tmp_path / f"{tmp_path.name}-{name}"
        work.mkdir()
        a = Agent(tpm, tmp_path / f"state-{name}", work)
        made.append(a)
        # The agent's own TPM connections take ephemeral ports, which overlap this range; a port
        # taken between the check and the agent's bind is tried again with another.
        for attempt in range(5):
            a.port = free_port_pair()
            try:
                a.start("--listen", f"127.0.0.1:{a.port}")
                break
            except AssertionError as e:
                if "Address already in use" not in str(e) or attempt == 4:
                    raise
        # The EK public key as an operator would pin it: derived here by tpm2-tools from the
        # same TPM (the TCG template), not taken from the agent.
        tpm.tool("createek", "-c", "ek.ctx", "-G", "ecc", "-u", str(work / "ek.pub"))  # the agent default: ECC EK and AK
        tpm.tool("flushcontext", "-t")
        return a

    yield make
    for a in made:
        a.cleanup()


def test_real_agents_trusted_then_one_untrusted(guests, tmp_path):
    g1, g2 = guests("g1"), guests("g2")
    for g in (g1, g2):
        g.wait_idle()
    # The baseline: what the guests have run so far (their lists), as `policy from-list` builds it.
    v = Verifier(tmp_path / "verifier", "--interval", "3600")
    try:
        allow: dict[str, set[str]] = {}
        for g in (g1, g2):
            out = subprocess.run([verifier_bin(), "policy", "from-list", str(g.state / "binary_runtime_measurements")],
                                 capture_output=True, text=True, check=True, timeout=60).stdout
            for path, digests in json.loads(out)["allow"].items():
                allow.setdefault(path, set()).update(digests)
        # A program both guests will run, known to the policy.
        known = tmp_path / "known.sh"
        known.write_text("#!/bin/sh\nexit 0\n")
        known.chmod(0o755)
        allow[str(known)] = {"sha256:" + sha256sum(known)}
        policy = tmp_path / "baseline.json"
        policy.write_text(json.dumps({"vtpm-policy": 1, "mode": "enforce", "allow": {p: sorted(d) for p, d in allow.items()},
                                      # the shell and sleep of the test's wrapper (test_agent.Agent.run)
                                      "allow-anywhere": ["sha256:" + sha256sum(Path(shutil.which(t)).resolve())
                                                         for t in ("sh", "sleep")]}))
        v.cli("policy", "set", str(policy))
        for name, g in (("g1", g1), ("g2", g2)):
            v.cli("enroll", name, "--agent", f"127.0.0.1:{g.port}", "--ek-pub", str(g.workdir / "ek.pub"), "--pcr", str(PCR))
        for name, g in (("g1", g1), ("g2", g2)):
            g.run([str(known)])
            g.wait_for(known.resolve(), sha256sum(known))
            r = v.cli("attest", name, check=False)
            assert "TRUSTED" in r.stdout and "UNTRUSTED" not in r.stdout, r.stdout + r.stderr
        # An unknown program in g1 only.
        evil = tmp_path / "evil.sh"
        evil.write_text("#!/bin/sh\necho unknown\n")
        evil.chmod(0o755)
        g1.run([str(evil)])
        g1.wait_for(evil.resolve(), sha256sum(evil))
        r = v.cli("attest", "g1", check=False)
        assert r.returncode == 1 and "UNTRUSTED" in r.stdout and str(evil.resolve()) in r.stdout, r.stdout + r.stderr
        r = v.cli("attest", "g2", check=False)
        assert "TRUSTED" in r.stdout and "UNTRUSTED" not in r.stdout, r.stdout + r.stderr
        st = {g["name"]: g for g in json.loads(v.cli("status", "--json").stdout)}
        assert st["g1"]["verdict"] == "UNTRUSTED" and st["g2"]["verdict"] == "TRUSTED"
        assert "intact" in v.cli("audit", "verify").stdout
    finally:
        v.stop()


def baseline(guest_list: list, tmp_path: Path) -> Path:
    """The guests' lists so far as `policy from-list` builds them, plus the test wrapper's shell and sleep."""
    allow: dict[str, set[str]] = {}
    for g in guest_list:
        out = subprocess.run([verifier_bin(), "policy", "from-list", str(g.state / "binary_runtime_measurements")],
                             capture_output=True, text=True, check=True, timeout=60).stdout
        for path, digests in json.loads(out)["allow"].items():
            allow.setdefault(path, set()).update(digests)
    policy = tmp_path / "baseline.json"
    policy.write_text(json.dumps({"vtpm-policy": 1, "mode": "enforce", "allow": {p: sorted(d) for p, d in allow.items()},
                                  "allow-anywhere": ["sha256:" + sha256sum(Path(shutil.which(t)).resolve())
                                                     for t in ("sh", "sleep")]}))
    return policy


def records(binlist: Path) -> list[tuple[int, bytes, bytes]]:
    """(pcr, stored SHA-1 template hash, template data) per record of a binary list (little-endian)."""
    raw, off, out = binlist.read_bytes(), 0, []
    while off < len(raw):
        pcr, = struct.unpack_from("<I", raw, off)
        th = raw[off + 4:off + 24]
        (nlen,) = struct.unpack_from("<I", raw, off + 24)
        (dlen,) = struct.unpack_from("<I", raw, off + 28 + nlen)
        data = raw[off + 32 + nlen:off + 32 + nlen + dlen]
        out.append((pcr, th, data))
        off += 32 + nlen + dlen
    return out


def test_real_agent_forgeries(guests, tmp_path):
    """Forgeries done to a real agent's guest, each caught as TAMPERED with its check: an entry of the
    list edited on disk (its SHA-1 template hash recomputed, as a forger would) and the agent restarted
    on it; the TPM reset under the running agent and the PCR re-extended with the old list (a hidden
    reset). Each guest is TRUSTED before its forgery."""
    g1, g2 = guests("g1"), guests("g2")
    for g in (g1, g2):
        g.wait_idle()
    v = Verifier(tmp_path / "verifier", "--interval", "3600")
    try:
        v.cli("policy", "set", str(baseline([g1, g2], tmp_path)))
        for name, g in (("g1", g1), ("g2", g2)):
            v.cli("enroll", name, "--agent", f"127.0.0.1:{g.port}", "--ek-pub", str(g.workdir / "ek.pub"), "--pcr", str(PCR))
            r = v.cli("attest", name, check=False)
            assert "TRUSTED" in r.stdout and "UNTRUSTED" not in r.stdout, r.stdout + r.stderr

        # g1: a program runs (a new entry, not yet verified); the list is edited on disk to show
        # another digest, with a matching SHA-1 template hash; the agent is restarted on it.
        prog = tmp_path / "prog.sh"
        prog.write_text("#!/bin/sh\nexit 0\n")
        prog.chmod(0o755)
        g1.run([str(prog)])
        g1.wait_for(prog.resolve(), sha256sum(prog))
        g1.wait_idle()
        g1.stop()
        binlist = g1.state / "binary_runtime_measurements"
        raw = bytearray(binlist.read_bytes())
        pcr, th, data = records(binlist)[-1]
        at = len(raw) - len(data)
        digest_at = at + data.index(b":\0") + 2  # d-ng: u32 length, "sha256:\0", digest
        raw[digest_at:digest_at + 32] = hashlib.sha256(b"what the forger wants seen").digest()
        # ... | SHA-1 (20) | u32 name length | "ima-ng" | u32 data length | data
        raw[at - 34:at - 14] = hashlib.sha1(bytes(raw[at:])).digest()
        binlist.write_bytes(bytes(raw))
        g1.start("--listen", f"127.0.0.1:{g1.port}")
        r = v.cli("attest", "g1", check=False)
        assert r.returncode != 0 and "TAMPERED" in r.stdout and "[replay]" in r.stdout, r.stdout + r.stderr

        # g2: TPM Reset under the running agent (it learns of resets only when it starts), Startup,
        # then the old list extended again so that the PCR matches it.
        power_cycle(g2.tpm)
        assert g2.tpm.startup(0x0000) == 0
        for pcr, th, data in records(g2.state / "binary_runtime_measurements"):
            # every bank the agent extends (its list's banks are all the TPM's)
            g2.tpm.tool("pcrextend", f"{pcr}:sha1={th.hex()},sha256={hashlib.sha256(data).hexdigest()},"
                                     f"sha384={hashlib.sha384(data).hexdigest()},sha512={hashlib.sha512(data).hexdigest()}")
        r = v.cli("attest", "g2", check=False)
        assert r.returncode != 0 and "TAMPERED" in r.stdout and "[counters]" in r.stdout and "hidden" in r.stdout, \
            r.stdout + r.stderr
        st = {g["name"]: g for g in json.loads(v.cli("status", "--json").stdout)}
        assert st["g1"]["verdict"] == "TAMPERED" and st["g2"]["verdict"] == "TAMPERED"
        assert "intact" in v.cli("audit", "verify").stdout
    finally:
        v.stop()
