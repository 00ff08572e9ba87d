"""Starting, probing and killing the TPM under test.

A `TPMUnderTest` is one simulator process (plus, for swtpm behind the mssim transport, the bridge
process) on free loopback ports, with its own state directory. Two implementations:

* ``vtpm``: our binary. Transport "swtpm": ``vtpm swtpm socket --tpm2 --server type=tcp,port=P
  --ctrl type=tcp,port=P+1 --tpmstate dir=D --flags ... --seccomp action=none``; transport "mssim":
  ``vtpm sim --port P --state-dir D`` (command port P, platform port P+1).
* ``swtpm``: /usr/bin/swtpm with the same swtpm command line; behind the mssim transport it runs
  with ``--flags not-need-init`` and harness.mssim_bridge translates.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import wire

HARNESS_DIR = Path(__file__).resolve().parent
READY_TIMEOUT = float(os.environ.get("VTPM_TEST_READY_TIMEOUT", "30"))
TOOL_TIMEOUT = 30


@dataclass(frozen=True)
class Impl:
    name: str          # "vtpm" or "swtpm"
    binary: str        # path of the executable
    argv0_swtpm: bool = False  # start the swtpm command line through a symlink named "swtpm"

    def swtpm_prefix(self, workdir: Path) -> list[str]:
        """argv before `socket ...` for the swtpm command line."""
        if self.name == "swtpm":
            return [self.binary]
        if self.argv0_swtpm:
            link_dir = workdir / "bin"
            link_dir.mkdir(exist_ok=True)
            link = link_dir / "swtpm"
            if not link.exists():
                link.symlink_to(Path(self.binary).resolve())
            return [str(link)]
        return [self.binary, "swtpm"]


def _port_free(port: int) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


# Test servers take ports below the kernel's ephemeral range (32768-60999 by default): there no
# client connection's local port and no bind(0) of another process can take a port between our
# check and the server's bind. Each pytest-xdist worker has its own block, so two workers never
# hand out the same port; within a worker, ports are handed out in turn from a starting point that
# differs between runs.
_WORKER = int(re.sub(r"\D", "", os.environ.get("PYTEST_XDIST_WORKER", "")) or 0) % 4
_PORT_BLOCK = 5000
_PORT_LOW = 10000 + _PORT_BLOCK * _WORKER
_next_pair = (os.getpid() * 7) % (_PORT_BLOCK // 2)


def free_port_pair() -> int:
    """A port P such that P and P+1 are both free on 127.0.0.1 right now, from this worker's block
    below the ephemeral range (see above)."""
    global _next_pair
    for _ in range(_PORT_BLOCK // 2):
        p = _PORT_LOW + 2 * (_next_pair % (_PORT_BLOCK // 2))
        _next_pair += 1
        if _port_free(p) and _port_free(p + 1):
            return p
    raise RuntimeError("no free port pair found")


def free_port() -> int:
    """One free port (the first of a free pair)."""
    return free_port_pair()


def wait_listening(ports: list[int], procs: list[subprocess.Popen], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    pending = list(ports)
    while pending:
        for p in procs:
            if p.poll() is not None:
                raise ServerDied(f"process {p.args[0]} exited with {p.returncode} before listening on "
                                 f"{ports}; log:\n{tail(log)}")
        port = pending[0]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            pending.pop(0)
            continue
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise ServerDied(f"nothing listening on port {port} after {timeout}s; log:\n{tail(log)}")
        time.sleep(0.02)


def tail(path: Path, n: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return "(no log)"


# Timed-out tests per implementation (conftest counts them). A server that stops answering would make
# every later test of that implementation wait for its timeouts; after HANG_LIMIT of them its
# remaining tests fail at once.
HANG_LIMIT = 3
HANGS: dict[str, int] = {}


def check_breaker(impl: "Impl") -> None:
    import pytest
    if HANGS.get(impl.name, 0) >= HANG_LIMIT:
        pytest.fail(f"{impl.name}: {HANGS[impl.name]} earlier tests timed out; not waiting again", pytrace=False)


class ServerDied(RuntimeError):
    pass


class ToolError(AssertionError):
    def __init__(self, args, proc: subprocess.CompletedProcess):
        self.proc = proc
        self.tpm_rc = tpm_rc_from_stderr(proc.stderr)
        super().__init__(f"tpm2 {' '.join(args)} exited {proc.returncode}\nstdout: {proc.stdout}\n"
                         f"stderr: {proc.stderr}")


def tpm_rc_from_stderr(stderr: str) -> int | None:
    """The TPM response code tpm2-tools reports, e.g. 'ERROR: Esys_PCR_Reset(0x907) - ...'."""
    m = re.search(r"ERROR: (?:Esys|Tss2_Sys)_\w+\((0x[0-9A-Fa-f]+)\)", stderr)
    return int(m.group(1), 16) if m else None


class TPMUnderTest:
    def __init__(self, impl: Impl, transport: str, workdir: Path, startup_clear: bool = True,
                 env: dict[str, str] | None = None):
        assert transport in ("swtpm", "mssim")
        self.impl = impl
        self.env = env  # added to the server's environment (the swtpm command line)
        self.transport = transport
        self.workdir = Path(workdir)
        self.state_dir = self.workdir / "state"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen] = []
        self.port = 0          # command/data port
        self.aux_port = 0      # control (swtpm) or platform (mssim) port = port + 1
        self.upstream_port = 0  # swtpm behind the mssim bridge
        self.startup_clear = startup_clear
        self.starts = 0

    def __repr__(self):
        return f"<{self.impl.name}/{self.transport} port {self.port}>"

    @property
    def name(self) -> str:
        return f"{self.impl.name}/{self.transport}"

    @property
    def tcti(self) -> str:
        return f"{self.transport}:host=127.0.0.1,port={self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / f"server-{self.starts}.log"

    # --- lifecycle ---

    def _spawn(self, argv: list[str], env=None) -> subprocess.Popen:
        logf = open(self.log, "ab")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                             cwd=self.workdir, env=env, start_new_session=True)
        logf.close()
        self.procs.append(p)
        return p

    def swtpm_argv(self, port: int, flags: str) -> list[str]:
        return self.impl.swtpm_prefix(self.workdir) + [
            "socket", "--tpm2",
            "--server", f"type=tcp,port={port}",
            "--ctrl", f"type=tcp,port={port + 1}",
            "--tpmstate", f"dir={self.state_dir}",
            "--flags", flags,
            "--seccomp", "action=none",
        ]

    def start(self, startup_clear: bool | None = None) -> "TPMUnderTest":
        """Start the server on fresh ports (retrying if a port was taken meanwhile). With
        startup_clear the TPM is left after Startup(CLEAR); without, it waits for a Startup."""
        if startup_clear is not None:
            self.startup_clear = startup_clear
        last = None
        for _ in range(3):
            self.starts += 1
            try:
                self._start_once()
                return self
            except ServerDied as e:
                last = e
                self.stop()
                if "in use" not in str(e).lower():
                    break
        raise last

    def _start_once(self) -> None:
        self.port = free_port_pair()
        self.aux_port = self.port + 1
        if self.transport == "swtpm":
            flags = "not-need-init,startup-clear" if self.startup_clear else "not-need-init"
            self._spawn(self.swtpm_argv(self.port, flags), env=dict(os.environ, **self.env) if self.env else None)
            wait_listening([self.port, self.aux_port], self.procs, READY_TIMEOUT, self.log)
            return
        if self.impl.name == "vtpm":
            self._spawn([self.impl.binary, "sim", "--port", str(self.port), "--state-dir", str(self.state_dir)])
            wait_listening([self.port, self.aux_port], self.procs, READY_TIMEOUT, self.log)
        else:
            self.upstream_port = free_port_pair()
            self._spawn(self.swtpm_argv(self.upstream_port, "not-need-init"))
            wait_listening([self.upstream_port, self.upstream_port + 1], self.procs, READY_TIMEOUT, self.log)
            env = dict(os.environ, PYTHONPATH=str(HARNESS_DIR.parent))
            self._spawn([sys.executable, "-m", "harness.mssim_bridge", "--port", str(self.port),
                         "--tpm-port", str(self.upstream_port), "--ctrl-port", str(self.upstream_port + 1)],
                        env=env)
            wait_listening([self.port, self.aux_port], self.procs, READY_TIMEOUT, self.log)
        # What the mssim TCTI does on every connect: power on, NV on (harmless when already on).
        for code in (wire.MS_POWER_ON, wire.MS_NV_ON):
            ack = wire.mssim_platform(self.aux_port, code)
            assert ack == 0, f"platform command {code} answered {ack:#x}"
        if self.startup_clear:
            rc = self.startup(wire.SU_CLEAR)
            assert rc in (wire.RC_SUCCESS, wire.RC_INITIALIZE), f"Startup(CLEAR) answered {rc:#x}"

    def alive(self) -> bool:
        return bool(self.procs) and all(p.poll() is None for p in self.procs)

    def stop(self, sig: int = signal.SIGKILL, timeout: float = 10.0) -> list[int | None]:
        """Stop the processes this object started (by their own pids); returns exit codes."""
        codes = []
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    p.send_signal(sig)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            codes.append(p.returncode)
        self.procs = []
        return codes

    def restart(self, startup_clear: bool = False, sig: int = signal.SIGKILL) -> "TPMUnderTest":
        """Kill the process (SIGKILL by default: nothing may depend on an orderly exit) and start a
        new one on the same state directory."""
        self.stop(sig)
        return self.start(startup_clear)

    # --- talking to it ---

    def connect(self):
        """A persistent connection to the command port in this transport's framing."""
        if self.transport == "swtpm":
            return wire.RawConnection(self.port)
        return wire.MssimConnection(self.port)

    def transact(self, cmd: bytes, timeout: float = 10.0, locality: int = 0) -> wire.Response:
        """Send one command on a fresh connection (the servers serve one client at a time, so no
        connection is held open between calls: tpm2-tools may come next)."""
        if self.transport == "swtpm" and locality != 0:
            self.set_locality(locality)
        try:
            with self.connect() as c:
                raw = c.transact(cmd, timeout, locality if self.transport == "mssim" else 0)
        finally:
            if self.transport == "swtpm" and locality != 0:
                self.set_locality(0)
        return wire.Response.parse(raw)

    def cmd(self, name: str, handles: bytes = b"", params: bytes = b"", sessions=None, **kw) -> wire.Response:
        return self.transact(wire.command(wire.CC[name], handles, params, sessions), **kw)

    def set_locality(self, locality: int) -> None:
        assert self.transport == "swtpm"
        res = wire.ctrl_result(self.aux_port, wire.CTRL_SET_LOCALITY, bytes([locality, 0, 0, 0]))
        assert res == 0, f"SET_LOCALITY({locality}) result {res:#x}"

    def startup(self, su: int) -> int:
        return self.cmd("Startup", params=wire.u16(su)).rc

    def shutdown(self, su: int) -> int:
        return self.cmd("Shutdown", params=wire.u16(su)).rc

    def tool(self, *args: str, check: bool = True, input: bytes | None = None, env: dict | None = None,
             text: bool = True) -> subprocess.CompletedProcess:
        """Run `tpm2 ARGS` against this TPM (TPM2TOOLS_TCTI)."""
        e = dict(os.environ, TPM2TOOLS_TCTI=self.tcti)
        e.pop("TSS2_LOG", None)
        if env:
            e.update(env)
        p = subprocess.run(["tpm2", *args], capture_output=True, env=e, cwd=self.workdir,
                           timeout=TOOL_TIMEOUT, input=input, text=text)
        if check and p.returncode != 0:
            raise ToolError(args, p)
        return p

    def tool_error(self, *args: str) -> int | None:
        """Run a tool that must fail; returns the TPM response code it reported."""
        p = self.tool(*args, check=False)
        assert p.returncode != 0, f"tpm2 {' '.join(args)} unexpectedly succeeded: {p.stdout}"
        return tpm_rc_from_stderr(p.stderr)


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"required tool '{name}' is not installed (scripts/test installs it)")
    return path


def power_cycle(tpm: TPMUnderTest) -> None:
    """_TPM_Init without restarting the process: the swtpm control channel's INIT, or the mssim
    platform's POWER_OFF + POWER_ON. The TPM then needs a Startup."""
    if tpm.transport == "swtpm":
        res = wire.ctrl_result(tpm.aux_port, wire.CTRL_INIT, wire.u32(0))
        assert res == 0, f"INIT result {res:#x}"
    else:
        for code in (wire.MS_POWER_OFF, wire.MS_POWER_ON):
            assert wire.mssim_platform(tpm.aux_port, code) == 0
