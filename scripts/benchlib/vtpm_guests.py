"""N simulated guests for `vtpm-verifier serve`, in one asyncio process.

A guest is tests/integration/test_verifier_bench.py's SoftGuest (a software TPM in Python: RSA-2048 EK,
ECDSA P-256 AK, TPMS_ATTEST quotes, the baseline IMA list, credential activation for enrollment),
imported as it is: only its accept loop is not started, and one asyncio server per guest serves its
listening socket, so that one process serves every guest without a thread per connection, as the simulated Keylime agents are
served (benchlib/keylime_agents.py). Frames are the evidence protocol's (docs/evidence-protocol.md).

Control on standard input, one command a line, one JSON line answered on standard output:
  counts  -> {"counts": [evidence requests answered per guest], "errors": [...]}
At start: {"ready": true, "ports": [...], "ek_pub": [hex TPM2B_PUBLIC of each EK]}.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import socket
import struct
import sys
import threading
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "integration"))
import test_verifier_bench as tvb  # noqa: E402  (SoftGuest and the frame helpers it uses)

from . import control  # noqa: E402


def free_ports(first: int, last: int):
    """Ports of [first, last] nobody holds now, in order. The kernel's ephemeral range may cover ours, so
    another program's outgoing connection can sit on one of them for a while."""
    for port in range(first, last + 1):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        yield port


class _NoThread:
    """Stands for threading.Thread in SoftGuest's module: its accept loop is not started, the asyncio
    server below serves its listening socket instead."""

    def __init__(self, *args, **kwargs):
        pass

    def start(self) -> None:
        pass


class Guests:
    def __init__(self, first_port: int, last_port: int, n: int):
        ports = free_ports(first_port, last_port)
        tvb.free_port_pair = lambda: next(ports)  # SoftGuest binds the port it is given: ours, in our range
        tvb.threading = types.SimpleNamespace(Lock=threading.Lock, Thread=_NoThread)
        self.guests = [tvb.SoftGuest() for _ in range(n)]
        self.counts = [0] * n
        self.errors: list[str] = []

    async def handle(self, i: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        g = self.guests[i]
        try:
            while True:
                (n,) = struct.unpack(">I", await reader.readexactly(4))
                if n < 2 or n > 64 * 1024:
                    self.errors.append(f"guest {i}: frame length {n}")
                    break
                payload = await reader.readexactly(n)
                if payload[0] != 1:
                    self.errors.append(f"guest {i}: version {payload[0]}")
                    break
                t = payload[1]
                reply = g.answer(t, payload[2:])
                if t == 1:
                    self.counts[i] += 1
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except Exception as e:  # a frame SoftGuest could not answer
            self.errors.append(f"guest {i}: {e!r}")
        finally:
            writer.close()

    async def control(self) -> None:
        await control.answer(lambda: self.counts, self.errors)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--first-port", type=int, required=True)
    ap.add_argument("--last-port", type=int, required=True)
    ap.add_argument("-n", type=int, required=True)
    a = ap.parse_args()
    gs = Guests(a.first_port, a.last_port, a.n)
    for i, g in enumerate(gs.guests):
        await asyncio.start_server(lambda r, w, i=i: gs.handle(i, r, w), sock=g.srv)
    print(json.dumps({"ready": True, "ports": [g.port for g in gs.guests], "ek_pub": [g.ek_pub.hex() for g in gs.guests]}),
          flush=True)
    await gs.control()


if __name__ == "__main__":
    asyncio.run(main())
