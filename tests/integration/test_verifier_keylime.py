"""Cross-check with Keylime (PyPI `keylime`, the anchor verifier): for the same measurement list
and the same runtime policy (in Keylime's format), Keylime's IMA validation and ours agree entry
by entry, and both replay the list to the same PCR value. Also measures entries verified per
second by each (printed; the README reports it).

Keylime is installed with pip into .build/keylime-venv on first use (or VTPM_KEYLIME_PYTHON
names a Python that has it)."""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_verifier_tpm import verifier_bin

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".build" / "keylime-venv"

# Run by Keylime's Python: validates each ASCII line as Keylime's verifier does
# (keylime.ima.ima._process_measurement_list's validator, per entry), prints one JSON object.
DRIVER = r'''
import functools, json, sys, time, types
# keylime.signing imports the gpg bindings (not on PyPI); the IMA code never uses them.
sys.modules.setdefault("gpg", types.ModuleType("gpg"))
from keylime.ima import ast, ima
from keylime.common import algorithms, validators
lines = open(sys.argv[1]).read().splitlines()
policy = json.load(open(sys.argv[2]))
ex, err = validators.valid_exclude_list(policy.get("excludes"))
v = ast.Validator({
    ast.ImaNg: functools.partial(ima._validate_ima_ng, ex, policy),
    ast.ImaSig: functools.partial(ima._validate_ima_sig, ex, None, policy),
    ast.Ima: functools.partial(ima._validate_ima_ng, ex, policy),
})
ok = []
for line in lines:
    e = ast.Entry(line, v, ima_hash_alg=algorithms.Hash.SHA1, pcr_hash_alg=algorithms.Hash.SHA1)
    ok.append(not e.invalid())
t0, c0 = time.perf_counter(), time.process_time()
pcr, failure = ima.process_measurement_list(None, [l + "\n" for l in lines], policy, hash_alg=algorithms.Hash.SHA256)
elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"ok": ok, "sha256_pcr": pcr, "elapsed": elapsed, "cpu": cpu}))
'''


def keylime_python() -> str:
    explicit = os.environ.get("VTPM_KEYLIME_PYTHON")
    if explicit:
        return explicit
    py = VENV / "bin" / "python"
    probe = ("import sys, types; sys.modules['gpg'] = types.ModuleType('gpg'); import keylime.ima.ima; "
             "import keylime.tpm.tpm_main")
    VENV.parent.mkdir(parents=True, exist_ok=True)
    # Parallel test workers share the venv: one of them makes it while the others wait (without
    # the lock a worker could run pip in a venv another had only half made).
    with open(VENV.parent / "keylime-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if py.exists() and subprocess.run([str(py), "-c", probe], capture_output=True).returncode == 0:
            return str(py)
        if not py.exists() or subprocess.run([str(py), "-m", "pip", "--version"], capture_output=True).returncode != 0:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True, timeout=300)
        # keylime's PyPI metadata declares none of what its IMA code imports.
        subprocess.run([str(py), "-m", "pip", "install", "-q", "keylime==7.14.*", "pyyaml", "jsonschema", "cryptography", "lark",
                        "packaging", "pyasn1", "pyasn1-modules"], check=True, timeout=1200)
    return str(py)


def make_list(tmp_path: Path, files: dict[str, bytes]) -> tuple[Path, Path]:
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    binlist, asciilist = tmp_path / "bin", tmp_path / "ascii"
    # Keylime checks entries against its IMA PCR, 10.
    subprocess.run([verifier_bin(), "list", "make", "--pcr", "10", "--binary", str(binlist), "--ascii", str(asciilist),
                    *[str(tmp_path / n) for n in files]], check=True, timeout=120)
    return binlist, asciilist


def run_keylime(asciilist: Path, policy: Path, tmp_path: Path) -> dict:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    r = subprocess.run([keylime_python(), str(driver), str(asciilist), str(policy)], capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.splitlines()[-1])


def run_ours(asciilist: Path, policy: Path, per_entry: bool = True) -> tuple[list[bool], float, float, str]:
    """Per entry (--json), or only the refused ones (the timing run). Returns the results, the whole
    process's time, the in-process time of reading, parsing, replaying (SHA-256 bank, as Keylime's run)
    and judging, and the replayed SHA-256 PCR."""
    t0 = time.perf_counter()
    r = subprocess.run([verifier_bin(), "policy", "check", "--ascii", "--timing", "--bank", "sha256",
                        *(["--json"] if per_entry else []), "--policy", str(policy), str(asciilist)],
                       capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - t0
    assert r.returncode in (0, 1), r.stderr
    m = re.search(r"timing: (\d+) entries in ([0-9.e-]+) s, cpu ([0-9.e-]+) s; sha256 PCR \d+ ([0-9a-f]{64})", r.stderr)
    assert m, r.stderr
    inner, cpu, pcr = float(m.group(2)), float(m.group(3)), m.group(4)
    if not per_entry:
        return ([] if r.returncode else [True]), elapsed, (inner, cpu), pcr
    return [json.loads(line)["ok"] for line in r.stdout.splitlines()], elapsed, (inner, cpu), pcr


def test_keylime_and_we_agree_entry_by_entry(tmp_path):
    files = {f"allowed{i}": f"allowed {i}".encode() for i in range(5)}
    files |= {"wrong-digest": b"new version", "unknown": b"never seen", "excluded-x": b"anything", "with space": b"sp"}
    binlist, asciilist = make_list(tmp_path, files)
    digests = {str(tmp_path / n): [hashlib.sha256(c).hexdigest()] for n, c in files.items()
               if n.startswith("allowed")}
    digests[str(tmp_path / "wrong-digest")] = [hashlib.sha256(b"old version").hexdigest()]
    digests[str(tmp_path / "with_space")] = [hashlib.sha256(b"sp").hexdigest()]
    agg = hashlib.sha256(b"\0" * 320).hexdigest()
    digests["boot_aggregate"] = [agg]
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({
        "meta": {"version": 1}, "release": 0, "digests": digests, "excludes": [str(tmp_path / "excluded-") + ".*"],
        "keyrings": {}, "ima": {"ignored_keyrings": [], "log_hash_alg": "sha1", "dm_policy": None}, "ima-buf": {},
        "verification-keys": ""}))
    kl = run_keylime(asciilist, policy, tmp_path)
    ours, _, _, pcr = run_ours(asciilist, policy)
    assert ours == kl["ok"], (ours, kl["ok"])
    assert pcr == kl["sha256_pcr"]
    # Both refuse exactly the unknown file and the wrong digest (boot_aggregate + 9 files).
    names = [line.split(" ", 4)[4] for line in asciilist.read_text().splitlines()]
    assert sorted(n for n, ok in zip(names, ours) if not ok) == sorted([str(tmp_path / "unknown"), str(tmp_path / "wrong-digest")])
    # The same replay: Keylime's running SHA-256 PCR equals ours.
    out = subprocess.run([verifier_bin(), "list", "replay", "--bank", "sha256", str(binlist)], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert f"sha256 PCR-10: {kl['sha256_pcr']}" in out


def test_entries_per_second_against_keylime(tmp_path):
    """100,000 entries, 1,000 distinct files, every entry allowed: the same verification by both."""
    n_files, n_entries = 1000, 100_000
    contents = [f"file {i}".encode() for i in range(n_files)]
    lines, digests = [], {}
    agg = hashlib.sha256(b"\0" * 320).digest()
    def entry(path: str, digest: bytes) -> str:
        d = b"sha256:\0" + digest
        nm = path.encode() + b"\0"
        data = len(d).to_bytes(4, "little") + d + len(nm).to_bytes(4, "little") + nm
        return f"10 {hashlib.sha1(data).hexdigest()} ima-ng sha256:{digest.hex()} {path}"
    lines.append(entry("boot_aggregate", agg))
    digests["boot_aggregate"] = [agg.hex()]
    for i in range(n_entries - 1):
        path = f"/usr/bin/prog{i % n_files}"
        d = hashlib.sha256(contents[i % n_files]).digest()
        digests[path] = [d.hex()]
        lines.append(entry(path, d))
    asciilist = tmp_path / "ascii"
    asciilist.write_text("\n".join(lines) + "\n")
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"meta": {"version": 1}, "digests": digests, "excludes": [], "keyrings": {},
                                  "ima": {"ignored_keyrings": [], "log_hash_alg": "sha1", "dm_policy": None}}))
    kl = run_keylime(asciilist, policy, tmp_path)
    ours, elapsed, inner, pcr = run_ours(asciilist, policy, per_entry=False)
    assert ours == [True] and all(kl["ok"])
    # The same work: SHA-1 template-hash check, SHA-256 template hash and PCR extend, policy lookup.
    assert pcr == kl["sha256_pcr"]
    wall, cpu = inner
    k, kc = n_entries / kl["elapsed"], n_entries / kl["cpu"]
    print(f"\nentries/s: Keylime {k:,.0f} wall / {kc:,.0f} CPU (process_measurement_list, in process); "
          f"ours {n_entries / wall:,.0f} wall / {n_entries / cpu:,.0f} CPU in process ({n_entries / wall / k:.1f}x wall, "
          f"{n_entries / cpu / kc:.1f}x CPU: read, parse, template-hash check, SHA-256 replay, policy), "
          f"{n_entries / elapsed:,.0f} whole process wall ({n_entries / elapsed / k:.1f}x: also start-up and policy load)")
