"""A real guest: Debian's Linux kernel in QEMU (software emulation) with a busybox initramfs,
its TPM attached the way libvirt attaches swtpm: `swtpm socket --tpm2 --ctrl type=unixio,...`
(our binary under that command line), QEMU's `-tpmdev emulator` on the control socket, the data
channel passed by CMD_SET_DATAFD.

Judges outside our code: the kernel's TPM driver (tpm_tis / tpm_crb) must bring the TPM up,
SeaBIOS or OVMF measure the boot into it, IMA's boot_aggregate (computed by the kernel) must
equal SHA-256 over PCRs 0-9 as the guest reads them back, and with OVMF the UEFI event log the
firmware wrote (TCG2 crypto-agile format, parsed here) must replay to PCRs 0-7. Run against
swtpm as well, which validates the test itself.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

from harness.servers import Impl

GUEST_INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t securityfs securityfs /sys/kernel/security
echo "VTPM-GUEST: begin"
if grep -q vtpm_test=migrate /proc/cmdline; then
  # Migration test: define and write an NV index with raw commands on /dev/tpm0 (one write of
  # the whole command, one read of the whole response), then report PCR 10 (IMA extends it for
  # each new executable) and the index's contents (NV_Read's response) twice a second.
  mount -t devtmpfs devtmpfs /dev
  tpmcmd() {
    printf "$1" > /cmd
    exec 3<>/dev/tpm0
    dd if=/cmd bs=4096 count=1 >&3 2>/dev/null
    dd bs=4096 count=1 <&3 2>/dev/null | od -An -tx1 -v | tr -d ' \n'
    exec 3>&-
  }
  echo "VTPM-GUEST: nvdefine $(tpmcmd '@NV_DEFINE@')"
  echo "VTPM-GUEST: nvwrite $(tpmcmd '@NV_WRITE@')"
  i=0
  while true; do
    i=$((i+1))
    echo "VTPM-GUEST: tick $i $(cat /sys/class/tpm/tpm0/pcr-sha256/10) $(tpmcmd '@NV_READ@')"
    sleep 0.5
  done
fi
echo "VTPM-GUEST: tpm_version_major $(cat /sys/class/tpm/tpm0/tpm_version_major 2>&1)"
for i in 0 1 2 3 4 5 6 7 8 9 10; do
  echo "VTPM-GUEST: pcr-sha256 $i $(cat /sys/class/tpm/tpm0/pcr-sha256/$i 2>&1)"
done
head -1 /sys/kernel/security/ima/ascii_runtime_measurements | sed 's/^/VTPM-GUEST: ima /'
if [ -e /sys/kernel/security/tpm0/binary_bios_measurements ]; then
  od -An -tx1 -v /sys/kernel/security/tpm0/binary_bios_measurements | tr -d ' \n' | sed 's/^/VTPM-GUEST: eventlog /'
  echo
fi
echo "VTPM-GUEST: end"
poweroff -f
"""

def _nv_commands() -> dict[str, bytes]:
    """TPM2_NV_DefineSpace / NV_Write / NV_Read of an 8-byte ordinary index 0x01500020 with owner
    authorization (empty password session), encoded here from Part 3's tables."""
    pw = struct.pack(">IHBH", 0x40000009, 0, 0, 0)

    def cmd(cc: int, handles: list[int], params: bytes) -> bytes:
        body = b"".join(struct.pack(">I", h) for h in handles) + struct.pack(">I", len(pw)) + pw + params
        return struct.pack(">HII", 0x8002, 10 + len(body), cc) + body
    index, owner = 0x01500020, 0x40000001
    # nameAlg SHA-256; OWNERWRITE | OWNERREAD | NO_DA; no policy; 8 bytes.
    public = struct.pack(">IHIHH", index, 0x000B, 0x02020002, 0, 8)
    return {
        "@NV_DEFINE@": cmd(0x12A, [owner], struct.pack(">HH", 0, len(public)) + public),
        "@NV_WRITE@": cmd(0x137, [owner, index], struct.pack(">H", 8) + NV_DATA + struct.pack(">H", 0)),
        "@NV_READ@": cmd(0x14E, [owner, index], struct.pack(">HH", 8, 0)),
    }


NV_DATA = b"VTPMNV01"
for _marker, _command in _nv_commands().items():
    GUEST_INIT = GUEST_INIT.replace(_marker, "".join("\\%03o" % b for b in _command))

OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
BOOT_TIMEOUT = 420
TPM_LOG_LEVEL = int(os.environ.get("VTPM_QEMU_TPM_LOG", "2"))


def _kernel() -> Path:
    kernels = sorted(Path("/boot").glob("vmlinuz-*"))
    if not kernels:
        pytest.fail("no /boot/vmlinuz-* (Debian package linux-image-amd64; scripts/test installs it)", pytrace=False)
    return kernels[-1]


def _cpio_newc(files: dict[str, tuple[int, bytes]]) -> bytes:
    """A newc cpio archive: {path: (mode, content)}; directories have content b""."""
    out = bytearray()
    ino = 1
    for name, (mode, data) in list(files.items()) + [("TRAILER!!!", (0, b""))]:
        name_b = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_b), 0]
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + name_b
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
        ino += 1
    return bytes(out)


@pytest.fixture(scope="module")
def guest(tmp_path_factory) -> tuple[Path, Path]:
    for tool in ("qemu-system-x86_64",):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing (Debian package qemu-system-x86; scripts/test installs it)", pytrace=False)
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        pytest.fail("/bin/busybox missing (Debian package busybox-static)", pytrace=False)
    files = {
        "bin": (0o040755, b""), "proc": (0o040755, b""), "sys": (0o040755, b""), "dev": (0o040755, b""),
        "bin/busybox": (0o100755, busybox.read_bytes()),
        "init": (0o100755, GUEST_INIT.encode()),
    }
    d = tmp_path_factory.mktemp("guest")
    initrd = d / "initrd.gz"
    initrd.write_bytes(gzip.compress(_cpio_newc(files), compresslevel=1))
    return _kernel(), initrd


def _start_tpm(impl: Impl, work: Path, extra: list[str] = ()) -> tuple[subprocess.Popen, Path]:
    state = work / "state"
    state.mkdir()
    ctrl = work / "ctrl.sock"
    argv = [impl.binary, "socket", "--tpm2", "--ctrl", f"type=unixio,path={ctrl},mode=0600",
            "--tpmstate", f"dir={state}", "--terminate", "--log", f"file={work / 'tpm.log'},level={TPM_LOG_LEVEL}",
            *extra]
    if impl.name == "vtpm":
        argv.insert(1, "swtpm")
    else:
        argv += ["--seccomp", "action=none"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(200):
        if ctrl.exists():
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(str(ctrl))
                s.close()
                break
            except OSError:
                pass
        if proc.poll() is not None:
            pytest.fail(f"{impl.name} exited: {proc.stderr.read().decode()}")
        time.sleep(0.05)
    # The probe connection above is closed; QEMU connects next.
    return proc, ctrl


def _boot(impl: Impl | None, guest, work: Path, firmware: str, tpm_args: list[str] | None = None) -> dict:
    """Boots the guest. With `impl`, a TPM process is started with swtpm's command line; with
    `tpm_args` (from `vtpm qemu-args`), QEMU attaches to a running daemon's instance."""
    kernel, initrd = guest
    argv = ["qemu-system-x86_64", "-m", "512", "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
            "-kernel", str(kernel), "-initrd", str(initrd), "-append", "console=ttyS0 quiet panic=-1"]
    proc = None
    if tpm_args is not None:
        argv += tpm_args
    else:
        proc, ctrl = _start_tpm(impl, work)
        argv += ["-chardev", f"socket,id=chrtpm,path={ctrl}", "-tpmdev", "emulator,id=tpm0,chardev=chrtpm"]
    if firmware == "ovmf":
        vars_copy = work / "vars.fd"
        shutil.copy(OVMF_VARS, vars_copy)
        argv += ["-machine", "q35", "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                 "-drive", f"if=pflash,format=raw,file={vars_copy}"]
        if tpm_args is None:
            argv += ["-device", "tpm-crb,tpmdev=tpm0"]
    elif tpm_args is None:
        argv += ["-device", "tpm-tis,tpmdev=tpm0"]
    try:
        out = subprocess.run(argv, capture_output=True, timeout=BOOT_TIMEOUT).stdout.decode(errors="replace")
    finally:
        if proc is not None:
            try:
                proc.wait(timeout=20)  # --terminate: the TPM process ends with the VM
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                pytest.fail(f"{impl.name} did not exit when QEMU closed the data channel")
    lines = [ln.split("VTPM-GUEST: ", 1)[1].strip() for ln in out.splitlines() if "VTPM-GUEST: " in ln]
    assert "end" in lines, f"the guest did not finish; console:\n{out[-3000:]}"
    result: dict = {"pcr": {}}
    for ln in lines:
        key, _, rest = ln.partition(" ")
        if key == "pcr-sha256":
            idx, value = rest.split()
            result["pcr"][int(idx)] = bytes.fromhex(value)
        elif key in ("tpm_version_major", "ima", "eventlog"):
            result[key] = rest
    return result


def _replay_event_log(log: bytes) -> dict[int, bytes]:
    """Replays a TCG2 crypto-agile event log (TCG PC Client PFP, 10.2): the first event is a
    TCG_PCClientPCREvent (SHA-1 format) carrying the Spec ID event with the digest sizes; every
    later event is a TCG_PCR_EVENT2. Returns the SHA-256 bank's PCR values."""
    off = 0
    pcr_index, event_type = struct.unpack_from("<II", log, off)
    off += 8 + 20
    (size,) = struct.unpack_from("<I", log, off)
    off += 4
    spec = log[off:off + size]
    off += size
    assert spec[:16] == b"Spec ID Event03\0", spec[:16]
    (n_algs,) = struct.unpack_from("<I", spec, 24)
    sizes = {}
    for i in range(n_algs):
        alg, dsize = struct.unpack_from("<HH", spec, 28 + 4 * i)
        sizes[alg] = dsize
    pcrs = {i: b"\0" * 32 for i in range(24)}
    while off + 8 <= len(log):
        pcr_index, event_type = struct.unpack_from("<II", log, off)
        off += 8
        (count,) = struct.unpack_from("<I", log, off)
        off += 4
        sha256 = None
        for _ in range(count):
            (alg,) = struct.unpack_from("<H", log, off)
            off += 2
            digest = log[off:off + sizes[alg]]
            off += sizes[alg]
            if alg == 0x000B:
                sha256 = digest
        (size,) = struct.unpack_from("<I", log, off)
        off += 4 + size
        if event_type == 0x00000003:  # EV_NO_ACTION: not extended
            continue
        assert sha256 is not None
        pcrs[pcr_index] = hashlib.sha256(pcrs[pcr_index] + sha256).digest()
    return pcrs


def _check_boot_aggregate(result: dict):
    assert result["tpm_version_major"] == "2"
    # IMA's first entry: "10 <template hash> ima-sig sha256:<boot_aggregate> boot_aggregate".
    fields = result["ima"].split()
    assert fields[0] == "10" and fields[4] == "boot_aggregate", result["ima"]
    alg, value = fields[3].split(":")
    assert alg == "sha256"
    # Linux (ima_calc_boot_aggregate): the bank's hash over PCRs 0-7, and 8-9 for non-SHA-1 banks.
    expected = hashlib.sha256(b"".join(result["pcr"][i] for i in range(10))).hexdigest()
    assert value == expected
    # PCR 10 holds at least the boot_aggregate entry: IMA extended it.
    assert result["pcr"][10] != b"\0" * 32


@pytest.mark.slow
@pytest.mark.timeout(BOOT_TIMEOUT + 60)
def test_linux_guest_seabios_tpm_tis(impl, guest, tmp_path):
    result = _boot(impl, guest, tmp_path, "seabios")
    _check_boot_aggregate(result)
    # SeaBIOS measured something into PCR 0 (its own code): not the reset value.
    assert result["pcr"][0] != b"\0" * 32


@pytest.mark.slow
@pytest.mark.timeout(BOOT_TIMEOUT + 60)
def test_linux_guest_ovmf_tpm_crb_event_log_replays(impl, guest, tmp_path):
    if not OVMF_CODE.exists():
        pytest.fail(f"{OVMF_CODE} missing (Debian package ovmf)", pytrace=False)
    result = _boot(impl, guest, tmp_path, "ovmf")
    _check_boot_aggregate(result)
    assert "eventlog" in result, "the guest kernel found no UEFI event log"
    replayed = _replay_event_log(bytes.fromhex(result["eventlog"]))
    for i in range(8):
        assert replayed[i] == result["pcr"][i], f"PCR {i}: log replays to {replayed[i].hex()}"


@pytest.mark.slow
@pytest.mark.timeout(BOOT_TIMEOUT + 60)
def test_linux_guest_on_vtpm_serve_instance(vtpm_bin, guest, tmp_path):
    """The daemon's way: `vtpm serve`, `vtpm create`, QEMU started with `vtpm qemu-args`; the
    instance survives the VM (a second boot sees the same TPM, with fresh PCRs)."""
    state = tmp_path / "state"
    daemon = subprocess.Popen([vtpm_bin, "serve", "--state-dir", str(state), "--log-level", "1",
                               "--ca-dir", str(tmp_path / "ca")])
    try:
        sock = state / "vtpm.sock"
        for _ in range(200):
            if sock.exists():
                break
            time.sleep(0.05)

        def cli(*args):
            r = subprocess.run([vtpm_bin, *args, "--state-dir", str(state)], capture_output=True, text=True,
                               timeout=60)
            assert r.returncode == 0, r.stderr
            return r.stdout

        cli("create", "guest1", "--pcr-banks", "sha1,sha256")
        tpm_args = cli("qemu-args", "guest1", "--device", "tpm-tis").split()
        assert tpm_args[0] == "-chardev" and tpm_args[-1] == "tpm-tis,tpmdev=tpm0"
        first = _boot(None, guest, tmp_path, "seabios", tpm_args=tpm_args)
        _check_boot_aggregate(first)
        second = _boot(None, guest, tmp_path, "seabios", tpm_args=tpm_args)
        _check_boot_aggregate(second)
        assert second["pcr"][0] == first["pcr"][0]  # same firmware, same measurements, after a new INIT
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0


def _qmp(path: Path, *commands: dict) -> list[dict]:
    """Runs QMP commands on QEMU's monitor socket; returns their answers."""
    import json
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(str(path))
    f = s.makefile("rw")
    json.loads(f.readline())  # greeting
    out = []
    for cmd in ({"execute": "qmp_capabilities"}, *commands):
        f.write(json.dumps(cmd) + "\n")
        f.flush()
        while True:
            msg = json.loads(f.readline())
            if "return" in msg or "error" in msg:
                out.append(msg)
                break
    s.close()
    return out[1:]


@pytest.mark.slow
@pytest.mark.timeout(BOOT_TIMEOUT + 120)
@pytest.mark.parametrize("keyed", [False, True], ids=["plain", "migration-key"])
def test_live_migration_keeps_tpm_state(impl, guest, tmp_path, keyed):
    """A guest measures programs into PCR 10 (IMA, ima_policy=tcb) and defines and writes an NV
    index; QEMU migrates it to a second QEMU process whose TPM is a second process with its own
    state directory (as libvirt does on one host). The TPM state travels through
    GET_STATEBLOB/SET_STATEBLOB: the guest, now on the destination, reads the same PCR 10 and the
    same NV index contents it read on the source, and its TPM keeps answering. With
    `--migration-key` on both sides the blobs travel encrypted."""
    kernel, initrd = guest
    src_dir, dst_dir = tmp_path / "src", tmp_path / "dst"
    src_dir.mkdir()
    dst_dir.mkdir()
    extra: list[str] = []
    if keyed:
        key = tmp_path / "migration.key"
        key.write_text("00112233445566778899aabbccddeeff\n")
        extra = ["--migration-key", f"file={key},mode=aes-cbc"]
    src_tpm, src_ctrl = _start_tpm(impl, src_dir, extra)
    dst_tpm, dst_ctrl = _start_tpm(impl, dst_dir, extra)
    migration = tmp_path / "migrate.sock"
    base = ["qemu-system-x86_64", "-m", "512", "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
            "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", "console=ttyS0 quiet panic=-1 ima_policy=tcb vtpm_test=migrate"]

    def qemu(work: Path, ctrl: Path, extra: list[str]) -> subprocess.Popen:
        return subprocess.Popen(
            base + ["-chardev", f"socket,id=chrtpm,path={ctrl}", "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
                    "-device", "tpm-tis,tpmdev=tpm0", "-qmp", f"unix:{work / 'qmp.sock'},server=on,wait=off"]
            + extra, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    src = qemu(src_dir, src_ctrl, [])
    dst = qemu(dst_dir, dst_ctrl, ["-incoming", f"unix:{migration}"])
    procs = [src, dst, src_tpm, dst_tpm]
    try:
        ticks: list[tuple[int, str]] = []
        nv: dict[str, str] = {}
        # NV_Read's answer: success, parameterSize, TPM2B with the 8 bytes, empty password auth.
        nv_read = (struct.pack(">HII", 0x8002, 10 + 4 + 10 + 5, 0) + struct.pack(">IH", 10, 8) + NV_DATA
                   + b"\0\0\1\0\0").hex()
        deadline = time.monotonic() + BOOT_TIMEOUT
        while len(ticks) < 4:
            line = src.stdout.readline().decode(errors="replace")
            assert line or src.poll() is None, "source QEMU ended before the guest ran"
            if "VTPM-GUEST: nv" in line:
                what, answer = line.split("VTPM-GUEST: ", 1)[1].split()
                nv[what] = answer
            if "VTPM-GUEST: tick " in line:
                _, n, value, stored = line.split("VTPM-GUEST: ", 1)[1].split()
                assert stored == nv_read, stored
                ticks.append((int(n), value))
            assert time.monotonic() < deadline, "the guest did not start ticking"
        # NV_DefineSpace and NV_Write: TPM_RC_SUCCESS with an empty password auth.
        assert set(nv) == {"nvdefine", "nvwrite"}, nv
        for what in ("nvdefine", "nvwrite"):
            assert nv[what] == (struct.pack(">HII", 0x8002, 19, 0) + struct.pack(">I", 0) + b"\0\0\1\0\0").hex(), nv
        before = ticks[-1][1]
        assert before != "0" * 64 and all(v == before for _, v in ticks[1:])  # stable, non-zero
        r = _qmp(src_dir / "qmp.sock", {"execute": "migrate", "arguments": {"uri": f"unix:{migration}"}})
        assert "return" in r[0], r
        for _ in range(600):
            status = _qmp(src_dir / "qmp.sock", {"execute": "query-migrate"})[0]["return"].get("status")
            if status in ("completed", "failed"):
                break
            time.sleep(0.2)
        assert status == "completed"
        after = []
        deadline = time.monotonic() + 120
        while len(after) < 3:
            line = dst.stdout.readline().decode(errors="replace")
            assert line or dst.poll() is None, "destination QEMU ended"
            if "VTPM-GUEST: tick " in line:
                _, n, value, stored = line.split("VTPM-GUEST: ", 1)[1].split()
                assert stored == nv_read, stored  # the NV index, intact on the destination
                after.append((int(n), value))
            assert time.monotonic() < deadline, "the guest did not continue on the destination"
        assert after[0][0] > ticks[-1][0]  # the same guest, continuing
        assert all(v == before for _, v in after), (before, after)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
