"""vtpm-agent end to end (issue 6): the agent runs against swtpm (the reference TPM, over swtpm's TCP
protocol) and against our `vtpm sim` (over the mssim protocol), measures programs the test runs,
and its lists are checked with outside tools: `sha256sum` for every file digest, `tpm2 pcrread`
for the PCR values and ima-evm-utils' `evmctl ima_measurement` for the binary list's replay.

The agent is scoped to a cgroup (v2) the test creates, and the programs run inside it, so
executions elsewhere on the machine (other tests, other agents) stay out of these lists.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO, selected_impls
from harness.tools import pcrread

PCR = 13
AGENT_TIMEOUT = 30


def pytest_generate_tests(metafunc):
    # swtpm through its own TCTI, our simulator through mssim (how `vtpm sim` is reached).
    if "agent_tpm_spec" in metafunc.fixturenames:
        specs = []
        for impl in selected_impls(metafunc.config):
            specs.append((impl, "swtpm" if impl.name == "swtpm" else "mssim"))
        metafunc.parametrize("agent_tpm_spec", specs, ids=[f"{i.name}-{t}" for i, t in specs])


def agent_binary() -> str:
    """The newest of the release and debug builds (scripts/test builds release)."""
    built = [p for p in (REPO / ".build" / f / "vtpm-agent" for f in ("release", "debug")) if p.exists()]
    if not built:
        pytest.fail("vtpm-agent is not built (swift build -c release --product vtpm-agent)", pytrace=False)
    return str(max(built, key=lambda p: p.stat().st_mtime))


def cgroup2_root() -> Path:
    for line in Path("/proc/mounts").read_text().splitlines():
        f = line.split()
        if len(f) > 2 and f[2] == "cgroup2":
            return Path(f[1])
    pytest.fail("no cgroup2 mount (the agent tests scope the agent to a cgroup)", pytrace=False)


def sha256sum(path: Path) -> str:
    out = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True).stdout
    return out.split()[0]


class Agent:
    def __init__(self, tpm, state: Path, workdir: Path):
        self.tpm = tpm
        self.state = state
        self.workdir = workdir
        self.cgroup = cgroup2_root() / f"vtpm-agent-test-{os.getpid()}-{workdir.name}"
        self.cgroup.mkdir()
        self.scope = "/" + str(self.cgroup.relative_to(cgroup2_root()))
        self.proc: subprocess.Popen | None = None
        self.log = workdir / "agent.log"
        self.starts = 0

    def start(self, *extra: str):
        self.starts += 1
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [agent_binary(), "run", "--tpm", self.tpm.tcti, "--state-dir", str(self.state), "--pcr", str(PCR),
             "--scope", f"cgroup:{self.scope}", "--log-level", "debug", *extra],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        logf.close()
        deadline = time.monotonic() + AGENT_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"agent exited {self.proc.returncode}:\n{self.log_text()}"
            try:
                st = self.status()
                if st["entries"] >= 1:
                    return st
            except (subprocess.CalledProcessError, json.JSONDecodeError, KeyError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"agent did not come up:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def cli(self, *args: str, check=True) -> subprocess.CompletedProcess:
        return subprocess.run([agent_binary(), *args, "--state-dir", str(self.state)], capture_output=True, text=True,
                              timeout=AGENT_TIMEOUT, check=check)

    def status(self) -> dict:
        return json.loads(self.cli("status", "--json").stdout)

    def run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        """Runs a program inside the agent's cgroup, as the child of a shell that stays a moment: an
        audit record names the pid, and a program that exits at once is placed through its parent
        (as in a container, whose processes descend from one that lives)."""
        procs = self.cgroup / "cgroup.procs"

        def enter():
            procs.write_text(str(os.getpid()))
        wrapper = ["/bin/sh", "-c", '"$0" "$@"; rc=$?; sleep 0.5; exit $rc']
        return subprocess.run(wrapper + argv, preexec_fn=enter, capture_output=True, timeout=300, cwd=self.workdir, **kw)

    def stop(self, sig=signal.SIGTERM) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def cleanup(self):
        rc = self.stop(signal.SIGTERM)
        assert rc in (0, None, -signal.SIGKILL), f"agent exited {rc} on SIGTERM:\n{self.log_text()}"
        try:
            self.cgroup.rmdir()
        except OSError:
            pass

    # --- the list ---

    def ascii_entries(self) -> list[tuple[int, str, str, str]]:
        """(pcr, template hash, d-ng, name) per line of ascii_runtime_measurements."""
        out = []
        for line in (self.state / "ascii_runtime_measurements").read_text(errors="surrogateescape").splitlines():
            pcr, th, template, dng, name = line.split(" ", 4)
            assert template == "ima-ng"
            out.append((int(pcr), th, dng, name))
        return out

    def wait_for(self, path: Path | str, digest: str, timeout=AGENT_TIMEOUT):
        want = (f"sha256:{digest}", str(path))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if want in {(d, n) for _, _, d, n in self.ascii_entries()}:
                return
            time.sleep(0.1)
        raise AssertionError(f"no entry {want} in the list:\n" +
                             (self.state / "ascii_runtime_measurements").read_text()[-3000:] + "\n" + self.log_text())

    def wait_idle(self, timeout=AGENT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status()
            if st["queue"] == 0:
                time.sleep(0.3)
                if self.status()["entries"] == st["entries"]:
                    return st
            time.sleep(0.1)
        raise AssertionError("agent queue did not drain")


@pytest.fixture
def agent(agent_tpm_spec, tpm_factory, tmp_path):
    impl, transport = agent_tpm_spec
    tpm = tpm_factory(impl, transport)
    work = tmp_path / "work"
    work.mkdir()
    a = Agent(tpm, tmp_path / "state", work)
    a.start()
    yield a
    a.cleanup()


def evmctl_validates(agent: Agent, tmp_path: Path) -> str:
    """evmctl ima_measurement with PCR values read by tpm2 pcrread, both banks."""
    evmctl = shutil.which("evmctl")
    assert evmctl, "evmctl missing (Debian ima-evm-utils; scripts/test installs it)"
    args = [evmctl, "ima_measurement", "--ignore-violations"]
    values = pcrread(agent.tpm, "sha1:all+sha256:all")
    for bank in ("sha1", "sha256"):
        lines = [f"PCR-{i:02d}: {values[(bank, i)].hex()}" for i in range(24)]
        f = tmp_path / f"{bank}.pcrs"
        f.write_text("\n".join(lines) + "\n")
        args += ["--pcrs", f"{bank},{f}"]
    r = subprocess.run(args + [str(agent.state / "binary_runtime_measurements")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, f"evmctl refused the list:\n{r.stdout}\n{r.stderr}\n{agent.log_text()}"
    assert "Matched per TPM bank calculated digest(s)" in r.stdout + r.stderr, r.stdout + r.stderr
    return r.stdout + r.stderr


def test_programs_scripts_and_modified_binaries_are_measured(agent, tmp_path):
    work = agent.workdir
    # A program from the system.
    r = agent.run(["/bin/true"])
    assert r.returncode == 0
    true_path = Path(os.path.realpath("/bin/true"))
    agent.wait_for(true_path, sha256sum(true_path))

    # A script written during the test: the script (by path) and its interpreter are measured.
    script = work / "hello.sh"
    script.write_text("#!/bin/sh\necho hello from the script\n")
    script.chmod(0o755)
    r = agent.run([str(script)])
    assert r.stdout == b"hello from the script\n"
    agent.wait_for(script, sha256sum(script))
    sh = Path(os.path.realpath("/bin/sh"))
    agent.wait_for(sh, sha256sum(sh))

    # A binary copied, run, modified (bytes appended: still runs), run again: both versions.
    binary = work / "mytrue"
    shutil.copy(true_path, binary)
    binary.chmod(0o755)
    assert agent.run([str(binary)]).returncode == 0
    first = sha256sum(binary)
    agent.wait_for(binary, first)
    with open(binary, "ab") as f:
        f.write(b"modified during the test\n")
    assert agent.run([str(binary)]).returncode == 0
    second = sha256sum(binary)
    assert second != first
    agent.wait_for(binary, second)

    # Running the same content again adds nothing (measured once per content version).
    before = agent.wait_idle()["entries"]
    for _ in range(5):
        agent.run([str(binary)])
        agent.run(["/bin/true"])
    after = agent.wait_idle()["entries"]
    assert after == before, f"{after - before} entries for re-runs of measured files"

    entries = agent.ascii_entries()
    assert entries[0][3] == "boot_aggregate"
    assert all(e[0] == PCR for e in entries)
    evmctl_validates(agent, tmp_path)


def test_boot_aggregate_and_list_replay_to_the_pcr(agent, tmp_path):
    entries = agent.ascii_entries()
    assert entries[0][3] == "boot_aggregate"
    # IMA's boot_aggregate for the SHA-256 bank: SHA-256 over PCRs 0-9 of that bank.
    values = pcrread(agent.tpm, "sha256:0,1,2,3,4,5,6,7,8,9")
    aggregate = hashlib.sha256(b"".join(values[("sha256", i)] for i in range(10))).hexdigest()
    assert entries[0][2] == f"sha256:{aggregate}"
    # Our own replay of the ASCII list (template data rebuilt from the line) equals the PCR.
    agent.wait_idle()
    replay = {"sha1": b"\0" * 20, "sha256": b"\0" * 32}
    for _, th, dng, name in agent.ascii_entries():
        algo, hexd = dng.split(":")
        d = algo.encode() + b":\0" + bytes.fromhex(hexd)
        n = name.encode("utf-8", "surrogateescape") + b"\0"
        data = len(d).to_bytes(4, "little") + d + len(n).to_bytes(4, "little") + n
        assert hashlib.sha1(data).hexdigest() == th
        for bank in replay:
            replay[bank] = hashlib.new(bank, replay[bank] + hashlib.new(bank, data).digest()).digest()
    pcrs = pcrread(agent.tpm, f"sha1:{PCR}+sha256:{PCR}")
    assert pcrs[("sha1", PCR)] == replay["sha1"]
    assert pcrs[("sha256", PCR)] == replay["sha256"]


def test_measure_command_and_status(agent, tmp_path):
    f = agent.workdir / "config.txt"
    f.write_text("setting = 1\n")
    r = agent.cli("measure", str(f))
    assert r.stdout.split() == [sha256sum(f), str(f)], r.stdout + r.stderr
    agent.wait_for(f, sha256sum(f), timeout=1)  # durable before the answer
    r = agent.cli("measure", str(f))
    assert "(measured before)" in r.stdout
    r = agent.cli("measure", str(agent.workdir / "missing"), check=False)
    assert r.returncode != 0 and "missing" in r.stderr
    st = agent.status()
    assert st["pcr"] == PCR and st["consistent"] is True
    assert st["audit"].startswith("multicast") or st["audit"].startswith("registered")
    text = agent.cli("status").stdout
    assert f"pcr: {PCR}" in text
    evmctl_validates(agent, tmp_path)


def test_cli_errors_are_clear(tmp_path):
    r = subprocess.run([agent_binary(), "run", "--tpm", "tabrmd:x", "--state-dir", str(tmp_path)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0 and "unknown TCTI 'tabrmd'" in r.stderr
    r = subprocess.run([agent_binary(), "run", "--pcr", "24", "--state-dir", str(tmp_path)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0 and "a PCR index from 0 to 23" in r.stderr
    r = subprocess.run([agent_binary(), "status", "--state-dir", str(tmp_path)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode != 0 and "no agent answers" in r.stderr


def test_restart_after_sigkill_replays(agent, tmp_path):
    agent.run(["/bin/true"])
    true_path = Path(os.path.realpath("/bin/true"))
    agent.wait_for(true_path, sha256sum(true_path))
    agent.wait_idle()
    n = len(agent.ascii_entries())
    agent.stop(signal.SIGKILL)
    st = agent.start()
    assert st["consistent"] is True, agent.log_text()
    assert st["entries"] >= n
    script = agent.workdir / "after.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    agent.run([str(script)])
    agent.wait_for(script, sha256sum(script))
    evmctl_validates(agent, tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_exec_storm(agent, tmp_path):
    n = int(os.environ.get("VTPM_AGENT_STORM", "10000"))
    script = agent.workdir / "storm.sh"
    # Each iteration execs /bin/true; every 500th a fresh file, so new content keeps arriving.
    script.write_text(f"""#!/bin/sh
i=0
while [ $i -lt {n} ]; do
  /bin/true
  if [ $((i % 500)) -eq 0 ]; then printf '#!/bin/sh\\n# %s\\n' $i > storm-$i.sh; chmod +x storm-$i.sh; ./storm-$i.sh; fi
  i=$((i + 1))
done
""")
    script.chmod(0o755)
    t0 = time.monotonic()
    r = agent.run([str(script)])
    elapsed = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    st = agent.wait_idle(timeout=300)
    for i in range(0, n, 500):
        f = agent.workdir / f"storm-{i}.sh"
        name_ok = any(name == str(f) for _, _, _, name in agent.ascii_entries())
        assert name_ok or st.get("violations", 0) > 0, f"{f} neither measured nor a violation recorded"
    in_scope = st.get("exec_events", 0) - st.get("out_of_scope", 0)
    assert in_scope >= n or st.get("violations", 0) > 0, st
    print(f"storm: {n} execs in {elapsed:.1f}s; status {st}")
    evmctl_validates(agent, tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_during_storm_then_restart_replays(agent, tmp_path):
    # A storm of fresh scripts (each a new entry: the list grows while the agent is killed).
    script = agent.workdir / "storm.sh"
    script.write_text("""#!/bin/sh
i=0
while [ $i -lt 400 ]; do
  printf '#!/bin/sh\\n# %s\\n' $i > s-$i.sh; chmod +x s-$i.sh; ./s-$i.sh; /bin/true
  i=$((i + 1))
done
""")
    script.chmod(0o755)
    procs = agent.cgroup / "cgroup.procs"
    storm = subprocess.Popen([str(script)], cwd=agent.workdir, preexec_fn=lambda: procs.write_text(str(os.getpid())),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(agent.ascii_entries()) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        agent.stop(signal.SIGKILL)
        st = agent.start()
        assert st["consistent"] is True, agent.log_text()
    finally:
        storm.wait(300)
    agent.wait_idle(timeout=120)
    evmctl_validates(agent, tmp_path)
    # And the restarted agent goes on measuring.
    after = agent.workdir / "after-restart.sh"
    after.write_text("#!/bin/sh\nexit 0\n")
    after.chmod(0o755)
    agent.run([str(after)])
    agent.wait_for(after, sha256sum(after))
    evmctl_validates(agent, tmp_path)


def ima_ng_record(path: str, content: bytes) -> tuple[bytes, bytes]:
    """A binary record and its ASCII line for a file, built here from IMA's layout."""
    digest = hashlib.sha256(content).digest()
    d = b"sha256:\0" + digest
    n = path.encode() + b"\0"
    data = len(d).to_bytes(4, "little") + d + len(n).to_bytes(4, "little") + n
    th = hashlib.sha1(data).digest()
    rec = PCR.to_bytes(4, "little") + th + (6).to_bytes(4, "little") + b"ima-ng" + len(data).to_bytes(4, "little") + data
    return rec, f"{PCR} {th.hex()} ima-ng sha256:{digest.hex()} {path}\n".encode()


def test_reconcile_entry_written_but_not_extended(agent, tmp_path):
    """A crash between the fsync of an entry and its extend: the restarted agent extends it."""
    agent.wait_idle()
    agent.stop()
    rec, _ = ima_ng_record("/pending/extend", b"content")
    with open(agent.state / "binary_runtime_measurements", "ab") as f:
        f.write(rec)
    st = agent.start()
    assert st["consistent"] is True, agent.log_text()
    assert "written but not extended" in agent.log_text()
    assert agent.ascii_entries()[-1][3] == "/pending/extend"  # the ASCII form rebuilt from the binary one
    evmctl_validates(agent, tmp_path)


def test_reconcile_torn_record_is_cut(agent, tmp_path):
    agent.wait_idle()
    agent.stop()
    binlist = agent.state / "binary_runtime_measurements"
    size = binlist.stat().st_size
    rec, _ = ima_ng_record("/torn", b"x")
    with open(binlist, "ab") as f:
        f.write(rec[:len(rec) // 2])
    st = agent.start()
    assert st["consistent"] is True, agent.log_text()
    assert binlist.stat().st_size == size
    evmctl_validates(agent, tmp_path)


def test_new_boot_starts_a_new_list_and_keeps_the_old(agent, tmp_path):
    agent.run(["/bin/true"])
    agent.wait_idle()
    old = (agent.state / "binary_runtime_measurements").read_bytes()
    agent.stop()
    agent.tpm.restart(startup_clear=True)  # a new TPM process on the same state: TPM Reset
    st = agent.start()
    assert st["consistent"] is True, agent.log_text()
    kept = sorted(agent.state.glob("binary_runtime_measurements.*"))
    assert len(kept) == 1 and kept[0].read_bytes() == old
    entries = agent.ascii_entries()
    assert entries[0][3] == "boot_aggregate" and len(entries) == st["entries"]
    evmctl_validates(agent, tmp_path)


@pytest.mark.timeout(600)
def test_overflow_is_recorded_as_violation(agent_tpm_spec, tpm_factory, tmp_path):
    """A tiny queue and audit socket buffer under a storm of new files: events the kernel could not
    deliver become violation entries, never a silent gap; the list still validates."""
    impl, transport = agent_tpm_spec
    tpm = tpm_factory(impl, transport)
    work = tmp_path / "work"
    work.mkdir()
    a = Agent(tpm, tmp_path / "state", work)
    try:
        a.start("--queue-capacity", "16", "--audit-buffer", "16384")
        script = work / "storm.sh"
        script.write_text("""#!/bin/sh
i=0
while [ $i -lt 400 ]; do
  printf '#!/bin/sh\\n# %s\\n' $i > v-$i.sh; /bin/chmod +x v-$i.sh; ./v-$i.sh
  i=$((i + 1))
done
""")
        script.chmod(0o755)
        assert a.run([str(script)]).returncode == 0
        st = a.wait_idle(timeout=300)
        names = {n for _, _, _, n in a.ascii_entries()}
        missing = [i for i in range(400) if str(work / f"v-{i}.sh") not in names]
        violations = [e for e in a.ascii_entries() if set(e[1]) == {"0"}]
        assert len(violations) == st.get("violations", 0)
        assert not missing or violations, f"{len(missing)} scripts missing and no violation recorded: {st}"
        assert st.get("socket_overflows", 0) == 0 or violations
        print(f"overflow test: {len(missing)} of 400 scripts not measured, {len(violations)} violations; {st}")
        evmctl_validates(a, tmp_path)
    finally:
        a.cleanup()
