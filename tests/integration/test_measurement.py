"""The measurement list our code writes is IMA's own format: ima-evm-utils' `evmctl
ima_measurement` (Debian ima-evm-utils) validates it against PCR values computed here in
Python from the files' contents alone (hashlib; the kernel's ima-ng layout written out by
hand), and the ASCII list matches the kernel's line format."""
from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PCR = 10


def verifier_bin() -> str:
    for flavour in ("release", "debug"):
        p = REPO / ".build" / flavour / "vtpm-verifier"
        if p.exists():
            return str(p)
    pytest.fail("vtpm-verifier is not built (swift build --product vtpm-verifier)", pytrace=False)


def template_data(algo: str, digest: bytes, name: str) -> bytes:
    d = algo.encode() + b":\0" + digest
    n = name.replace(" ", "_").encode() + b"\0"
    return struct.pack("<I", len(d)) + d + struct.pack("<I", len(n)) + n


def expected_entries(files: list[Path], violations: list[str]) -> list[tuple[bytes, bool, str]]:
    """(template data, is_violation, name) in list order: boot_aggregate over zero PCRs 0-9."""
    agg = hashlib.sha256(b"\0" * 32 * 10).digest()
    out = [(template_data("sha256", agg, "boot_aggregate"), False, "boot_aggregate")]
    for f in files:
        out.append((template_data("sha256", hashlib.sha256(f.read_bytes()).digest(), str(f)), False, str(f)))
    for v in violations:
        out.append((template_data("sha256", b"\0" * 32, v), True, v))
    return out


def replay(entries, algo: str) -> bytes:
    size = hashlib.new(algo).digest_size
    pcr = b"\0" * size
    for data, violation, _ in entries:
        value = b"\xff" * size if violation else hashlib.new(algo, data).digest()
        pcr = hashlib.new(algo, pcr + value).digest()
    return pcr


def pcr_file(path: Path, value: bytes) -> Path:
    """The sysfs-style file evmctl --pcrs reads: PCR-00 ... PCR-23, one per line."""
    lines = [f"PCR-{i:02d}: " + (value.hex() if i == PCR else "00" * len(value)) for i in range(24)]
    path.write_text("\n".join(lines) + "\n")
    return path


def make_files(tmp_path: Path) -> list[Path]:
    files = []
    for i, content in enumerate([b"#!/bin/sh\necho hi\n", b"\x7fELF" + bytes(range(256)) * 7, b""]):
        p = tmp_path / f"prog {i}" if i == 1 else tmp_path / f"prog{i}"
        p.write_bytes(content)
        files.append(p)
    return files


@pytest.fixture
def evmctl() -> str:
    e = shutil.which("evmctl")
    if e is None:
        pytest.fail("evmctl missing (Debian ima-evm-utils; scripts/test installs it)", pytrace=False)
    return e


def run_evmctl(evmctl: str, tmp_path: Path, binlist: Path, sha1: bytes, sha256: bytes, *extra: str):
    return subprocess.run(
        [evmctl, "ima_measurement", *extra, "--pcrs", f"sha1,{pcr_file(tmp_path / 'sha1.pcrs', sha1)}",
         "--pcrs", f"sha256,{pcr_file(tmp_path / 'sha256.pcrs', sha256)}", str(binlist)],
        capture_output=True, text=True, timeout=60)


def test_evmctl_accepts_our_list(tmp_path, evmctl):
    files = make_files(tmp_path)
    binlist, asciilist = tmp_path / "binary_runtime_measurements", tmp_path / "ascii_runtime_measurements"
    subprocess.run([verifier_bin(), "list", "make", "--pcr", str(PCR), "--binary", str(binlist), "--ascii", str(asciilist),
                    *map(str, files)], check=True, timeout=60)
    entries = expected_entries(files, [])
    sha1, sha256 = replay(entries, "sha1"), replay(entries, "sha256")
    r = run_evmctl(evmctl, tmp_path, binlist, sha1, sha256)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Matched per TPM bank calculated digest(s)" in r.stdout + r.stderr

    # Our replay agrees with Python's.
    out = subprocess.run([verifier_bin(), "list", "replay", str(binlist)], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split("\n")
    assert f"sha1 PCR-{PCR}: {sha1.hex()}" in out
    assert f"sha256 PCR-{PCR}: {sha256.hex()}" in out

    # The ASCII list is the kernel's line format.
    expected_lines = []
    for data, _, name in entries:
        digest = data[4 + len(b"sha256:\0"):4 + len(b"sha256:\0") + 32]
        expected_lines.append(f"{PCR} {hashlib.sha1(data).hexdigest()} ima-ng sha256:{digest.hex()} {name.replace(' ', '_')}")
    assert asciilist.read_text().splitlines() == expected_lines

    # ASCII -> binary conversion gives back the same bytes.
    conv = subprocess.run([verifier_bin(), "list", "convert", "--to", "binary", str(asciilist)], capture_output=True,
                          check=True, timeout=60).stdout
    assert conv == binlist.read_bytes()


def test_evmctl_refuses_wrong_pcr_and_edited_list(tmp_path, evmctl):
    files = make_files(tmp_path)
    binlist = tmp_path / "bin"
    subprocess.run([verifier_bin(), "list", "make", "--binary", str(binlist), *map(str, files)], check=True, timeout=60)
    entries = expected_entries(files, [])
    sha1, sha256 = replay(entries, "sha1"), replay(entries, "sha256")
    # A PCR value that is not the replay of the list (one more entry extended).
    r = run_evmctl(evmctl, tmp_path, binlist, hashlib.sha1(sha1 + b"\1" * 20).digest(),
                   hashlib.sha256(sha256 + b"\1" * 32).digest())
    assert r.returncode != 0, r.stdout
    # A list whose second entry's file digest was edited (template hash kept).
    raw = bytearray(binlist.read_bytes())
    first_len = 4 + 20 + 4 + 6 + 4 + struct.unpack_from("<I", raw, 34)[0]
    raw[first_len + 34 + 4 + 8] ^= 1  # first byte of the second entry's file digest
    edited = tmp_path / "edited"
    edited.write_bytes(bytes(raw))
    r = run_evmctl(evmctl, tmp_path, edited, sha1, sha256)
    assert r.returncode != 0, r.stdout
    # Our replay refuses it too, naming the entry.
    r = subprocess.run([verifier_bin(), "list", "replay", str(edited)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "entry 1" in r.stderr, r.stderr


def test_evmctl_violations(tmp_path, evmctl):
    files = make_files(tmp_path)
    binlist = tmp_path / "bin"
    subprocess.run([verifier_bin(), "list", "make", "--binary", str(binlist), *map(str, files), "violation:/tmp/lost"],
                   check=True, timeout=60)
    entries = expected_entries(files, ["/tmp/lost"])
    sha1, sha256 = replay(entries, "sha1"), replay(entries, "sha256")
    # IMA extends a violation as all-ones; evmctl models that with --ignore-violations.
    r = run_evmctl(evmctl, tmp_path, binlist, sha1, sha256, "--ignore-violations")
    assert r.returncode == 0, r.stdout + r.stderr
    out = subprocess.run([verifier_bin(), "list", "replay", str(binlist)], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert f"sha256 PCR-{PCR}: {sha256.hex()}" in out
