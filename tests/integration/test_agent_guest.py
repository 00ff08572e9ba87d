"""The agent in a real guest (issue 6): Debian's kernel under QEMU (KVM when /dev/kvm is usable,
else TCG) with a busybox initramfs holding the static `vtpm-agent`; the guest's TPM is our `vtpm`
(or swtpm, which validates the test itself) attached through the control socket as libvirt does
(test_qemu.py's harness). The agent reads the guest kernel's audit events through netlink, measures
into the guest's /dev/tpmrm0, and serves evidence on the guest's port 7523, forwarded to the host by
QEMU's user network (e1000, its module loaded from the initramfs).

The guest's init runs a few programs: busybox applets, a script it writes, a binary it writes (a
copy of busybox with bytes appended). Then the host, as a verifier: it sends a Challenge over the
forwarded port, `tpm2 checkquote` (tpm2-tools, OpenSSL) verifies the quote against the AK public,
the nonce and the PCR values; the list replays (hashlib) to the quoted PCR; every entry's file
digest equals SHA-256 the host computes over the very bytes it put into the guest (or told the guest
to write); boot_aggregate equals SHA-256 over the quoted PCRs 0-9.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest

from harness.servers import Impl
from test_agent import agent_binary
from test_agent_evidence import (ALG, CHALLENGE, ERROR, EVIDENCE, Cursor, exchange, free_port, parse_evidence,
                                 parse_records, pcr_selection)
from test_qemu import _cpio_newc, _kernel, _start_tpm

AGENT_PCR = 13
GUEST_PORT = 7523
QUOTED = list(range(10)) + [AGENT_PCR]
GUEST_TIMEOUT = 300  # generous: TCG on 2 shared cores; a healthy run takes 20-40 s
# KVM when asked for: this machine's /dev/kvm (nested) opens, so QEMU's "-accel kvm -accel tcg"
# fallback does not apply, but a guest kernel hangs under it; TCG is the default.
ACCEL = ["-accel", "kvm", "-accel", "tcg"] if os.environ.get("VTPM_QEMU_KVM") == "1" else ["-accel", "tcg"]
MODIFIED_SUFFIX = b"\nappended by the guest\n"
SCRIPT = "#!/bin/sh\necho VTPM-GUEST: script says hello\n"

GUEST_INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /var/lib
echo "VTPM-GUEST: begin"
insmod /lib/e1000.ko
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
/sbin/vtpm-agent run --tpm device:/dev/tpmrm0 --state-dir /var/lib/vtpm-agent --listen 0.0.0.0:@PORT@ \
  --pcr @PCR@ --log-level info &
agent=$!
until /sbin/vtpm-agent status --state-dir /var/lib/vtpm-agent --json 2>/dev/null | grep -q '"entries" *: *[1-9]'; do
  if ! kill -0 $agent; then echo "VTPM-GUEST: agent-failed"; poweroff -f; fi
  sleep 0.2
done
echo "VTPM-GUEST: agent-up"
# Programs: a busybox applet, a script written now, a binary written now.
true
printf '@SCRIPT@' > /tmp/hello.sh
chmod 755 /tmp/hello.sh
/tmp/hello.sh
cp /bin/busybox /tmp/true
printf '@SUFFIX@' >> /tmp/true
/tmp/true
echo "VTPM-GUEST: ran"
while true; do sleep 1; done
"""


def _printf_escape(b: bytes) -> str:
    return "".join(f"\\{c:03o}" for c in b)


def _e1000_module(kernel: Path) -> Path:
    version = kernel.name.removeprefix("vmlinuz-")
    for base in (Path("/lib/modules"), Path("/usr/lib/modules")):
        ko = base / version / "kernel/drivers/net/ethernet/intel/e1000/e1000.ko"
        if ko.exists():
            return ko
    pytest.fail(f"e1000.ko for {version} missing (Debian package linux-image-amd64 ships it)", pytrace=False)


def _static_agent(work: Path) -> Path:
    """The agent binary, checked to be static (no program interpreter) and stripped for the
    initramfs (the debug information is most of its size)."""
    src = Path(agent_binary())
    info = subprocess.run(["file", "-L", str(src)], capture_output=True, text=True).stdout
    assert "statically linked" in info or "static-pie linked" in info, f"vtpm-agent is not static: {info}"
    out = work / "vtpm-agent"
    subprocess.run(["strip", "-o", str(out), str(src)], check=True, capture_output=True, timeout=60)
    return out


@pytest.fixture(scope="module")
def agent_guest(tmp_path_factory):
    if shutil.which("qemu-system-x86_64") is None:
        pytest.fail("qemu-system-x86_64 missing (Debian package qemu-system-x86)", pytrace=False)
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        pytest.fail("/bin/busybox missing (Debian package busybox-static)", pytrace=False)
    d = tmp_path_factory.mktemp("agent-guest")
    kernel = _kernel()
    agent = _static_agent(d)
    init = (GUEST_INIT.replace("@PORT@", str(GUEST_PORT)).replace("@PCR@", str(AGENT_PCR))
            .replace("@SCRIPT@", _printf_escape(SCRIPT.encode())).replace("@SUFFIX@", _printf_escape(MODIFIED_SUFFIX)))
    files = {
        "bin": (0o040755, b""), "sbin": (0o040755, b""), "lib": (0o040755, b""), "proc": (0o040755, b""),
        "sys": (0o040755, b""), "dev": (0o040755, b""), "run": (0o040755, b""), "tmp": (0o041777, b""),
        "var": (0o040755, b""),
        "bin/busybox": (0o100755, busybox.read_bytes()),
        "sbin/vtpm-agent": (0o100755, agent.read_bytes()),
        "lib/e1000.ko": (0o100644, _e1000_module(kernel).read_bytes()),
        "init": (0o100755, init.encode()),
    }
    # Uncompressed: under TCG the guest kernel unpacks ~70 MB faster than it would gunzip it.
    initrd = d / "initrd.cpio"
    initrd.write_bytes(_cpio_newc(files))
    busybox_bytes = busybox.read_bytes()
    # What the host expects in the list: name -> SHA-256 of the same bytes.
    expected = {
        "/bin/busybox": hashlib.sha256(busybox_bytes).hexdigest(),
        "/sbin/vtpm-agent": hashlib.sha256(agent.read_bytes()).hexdigest(),
        "/tmp/hello.sh": hashlib.sha256(SCRIPT.encode()).hexdigest(),
        "/tmp/true": hashlib.sha256(busybox_bytes + MODIFIED_SUFFIX).hexdigest(),
    }
    return kernel, initrd, expected


def _wait_console(log: Path, qemu: subprocess.Popen, marker: str, deadline: float) -> str:
    while True:
        text = log.read_text(errors="replace")
        if f"VTPM-GUEST: {marker}" in text:
            return text
        assert "VTPM-GUEST: agent-failed" not in text, f"the agent did not come up in the guest:\n{text[-6000:]}"
        assert qemu.poll() is None, f"QEMU exited {qemu.returncode}:\n{text[-6000:]}"
        assert time.monotonic() < deadline, f"no '{marker}' from the guest:\n{text[-6000:]}"
        time.sleep(0.1)


def _challenge(port: int, nonce: bytes) -> tuple[int, bytes]:
    sel = pcr_selection(["sha256"], QUOTED)
    body = bytes([len(nonce)]) + nonce + len(sel).to_bytes(2, "big") + sel + (0).to_bytes(8, "big")
    return exchange(port, CHALLENGE, body)


def _entries(e: dict) -> list[tuple[str, str, bytes]]:
    """(name, file digest hex, template data) per record of an Evidence's list."""
    out = []
    for pcr, th, data in parse_records(e["entries"]):
        assert pcr == AGENT_PCR and hashlib.sha1(data).digest() == th
        c = Cursor(data)
        dng = c.take(int.from_bytes(c.take(4), "little"))
        name = c.take(int.from_bytes(c.take(4), "little"))
        assert c.i == len(data) and dng.startswith(b"sha256:\0") and name.endswith(b"\0")
        out.append((name[:-1].decode(), dng[8:].hex(), data))
    return out


def _tpm2_tools_pcrs_file(alg: int, values: dict[int, bytes]) -> bytes:
    """PCR values as `tpm2 quote -o` writes them (tpm2-tools' "serialized" form: the C structures
    TPML_PCR_SELECTION and tpm2_pcrs, little-endian, padded). The other form, raw digests with
    `-l`, loses the 8th digest of a list in tpm2-tools 5.4 (parse_selection_data_from_selection_string
    moves to the next TPML_DIGEST without counting it), so it cannot check 11 PCRs."""
    select = bytearray(4)
    for i in values:
        select[i // 8] |= 1 << (i % 8)
    # TPML_PCR_SELECTION: u32 count, 16 x TPMS_PCR_SELECTION {u16 hash, u8 sizeofSelect, u8[4], pad}.
    out = struct.pack("<I", 1) + struct.pack("<HB4sx", alg, 3, bytes(select)) + bytes(8 * 15)
    digests = [values[i] for i in sorted(values)]
    lists = [digests[k:k + 8] for k in range(0, len(digests), 8)]
    out += struct.pack("<I", len(lists))  # tpm2_pcrs.count (read as 4 bytes)
    for chunk in lists:  # TPML_DIGEST: u32 count, 8 x TPM2B_DIGEST {u16 size, u8[64]}
        out += struct.pack("<I", len(chunk))
        out += b"".join(struct.pack("<H", len(d)) + d.ljust(64, b"\0") for d in chunk) + bytes(66 * (8 - len(chunk)))
    return out


@pytest.mark.slow
@pytest.mark.timeout(GUEST_TIMEOUT + 60)
def test_agent_in_guest_quote_and_list_verify_on_host(impl: Impl, agent_guest, tmp_path):
    kernel, initrd, expected = agent_guest
    tpm, ctrl = _start_tpm(impl, tmp_path)
    port = free_port()
    console = tmp_path / "console.log"
    argv = ["qemu-system-x86_64", *ACCEL, "-m", "512", "-nographic", "-no-reboot",
            "-nodefaults", "-serial", "stdio", "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", "console=ttyS0 quiet panic=-1",
            "-chardev", f"socket,id=chrtpm,path={ctrl}", "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
            "-device", "tpm-tis,tpmdev=tpm0",
            "-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:{GUEST_PORT}",
            "-device", "e1000,netdev=n0"]
    with open(console, "wb") as out:
        qemu = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + GUEST_TIMEOUT
        text = _wait_console(console, qemu, "ran", deadline)
        assert "VTPM-GUEST: script says hello" in text
        # The guest kernel's audit records reach the agent through the read-only multicast group.
        assert "audit events from multicast (AUDIT_NLGRP_READLOG)" in text, text[-6000:]

        # The verifier's side: challenge until every program the guest ran is in the list (the
        # agent measures asynchronously), then check the last Evidence.
        while True:
            nonce = os.urandom(32)
            try:
                t, body = _challenge(port, nonce)
            except (ConnectionError, OSError):
                t, body = ERROR, b""
            if t == EVIDENCE:
                e = parse_evidence(body)
                entries = _entries(e)
                if set(expected) <= {n for n, _, _ in entries}:
                    break
            assert qemu.poll() is None, console.read_text(errors="replace")[-6000:]
            assert time.monotonic() < deadline, f"list incomplete ({t}):\n{console.read_text(errors='replace')[-6000:]}"
            time.sleep(0.3)

        # tpm2 checkquote: signature by the AK, nonce, PCR digest over the values sent.
        (tmp_path / "ak.pub").write_bytes(e["ak"])
        (tmp_path / "quote.msg").write_bytes(e["attest"])
        (tmp_path / "quote.sig").write_bytes(e["signature"])
        values = e["pcrs"][ALG["sha256"]]
        assert sorted(values) == QUOTED
        (tmp_path / "pcrs.bin").write_bytes(_tpm2_tools_pcrs_file(ALG["sha256"], values))
        r = subprocess.run(["tpm2", "checkquote", "-u", str(tmp_path / "ak.pub"), "-m", str(tmp_path / "quote.msg"),
                            "-s", str(tmp_path / "quote.sig"), "-f", str(tmp_path / "pcrs.bin"),
                            "-g", "sha256", "-q", nonce.hex()],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"tpm2 checkquote refused the guest's quote:\n{r.stdout}\n{r.stderr}"
        # Negative control: another nonce must be refused, or the check above proves nothing.
        r = subprocess.run(["tpm2", "checkquote", "-u", str(tmp_path / "ak.pub"), "-m", str(tmp_path / "quote.msg"),
                            "-s", str(tmp_path / "quote.sig"), "-g", "sha256", "-q", os.urandom(32).hex()],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0, "tpm2 checkquote accepted a quote over another nonce"

        # The list replays to the quoted PCR; boot_aggregate is SHA-256 over the quoted PCRs 0-9.
        pcr = b"\0" * 32
        for _, _, data in entries:
            pcr = hashlib.sha256(pcr + hashlib.sha256(data).digest()).digest()
        assert pcr == values[AGENT_PCR], "the guest's list does not replay to the quoted PCR"
        assert entries[0][0] == "boot_aggregate"
        assert entries[0][1] == hashlib.sha256(b"".join(values[i] for i in range(10))).hexdigest()
        assert values[0] != b"\0" * 32  # SeaBIOS measured itself into the guest's TPM

        # Every program entry is a file the host knows, with the digest the host computes.
        for name, digest, _ in entries[1:]:
            assert name in expected, f"unexpected entry {name} in the guest's list"
            assert digest == expected[name], f"{name}: guest measured {digest}, host computes {expected[name]}"
        names = [n for n, _, _ in entries[1:]]
        assert len(names) == len(set(names)), f"a file content measured twice: {names}"
    finally:
        qemu.kill()
        qemu.wait()
        try:
            tpm.wait(timeout=20)  # --terminate: the TPM process ends with the VM
        except subprocess.TimeoutExpired:
            tpm.kill()
            tpm.wait()
