"""Several raw data connections to one `vtpm socket` (swtpm's command line). In a process that
serves one TPM, the thread that accepts a connection serves it while keeping its turn at the
epoll set, and hands the turn on only when something else needs it (docs/servers.md). These
tests pin what a client sees: a second connection is served while the first one idles or sits
on half a command, a connection per command (the swtpm TCTI) works thousands of times without
threads piling up, and an idle connection parks and comes back. swtpm serves one connection at
a time, so the concurrency cases are ours only; the connection-per-command case runs on both."""
from __future__ import annotations

import os
import socket
import time

import pytest

from harness import wire
from harness.servers import Impl

GET_RANDOM_16 = wire.command(wire.CC["GetRandom"], params=wire.u16(16))


def _connect(tpm) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", tpm.port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def _response(s: socket.socket) -> bytes:
    head = b""
    while len(head) < 10:
        chunk = s.recv(10 - len(head))
        assert chunk, "connection closed before a response"
        head += chunk
    size = int.from_bytes(head[2:6], "big")
    body = b""
    while len(body) < size - 10:
        chunk = s.recv(size - 10 - len(body))
        assert chunk, "connection closed mid-response"
        body += chunk
    return head + body


def _get_random(s: socket.socket) -> float:
    """Sends GetRandom(16) and checks the answer; returns the seconds it took."""
    t = time.monotonic()
    s.sendall(GET_RANDOM_16)
    r = _response(s)
    assert r[:10] == bytes.fromhex("80010000001c00000000") and len(r) == 28, r.hex()
    return time.monotonic() - t


@pytest.fixture
def vtpm(vtpm_bin, tpm_factory):
    return tpm_factory(Impl("vtpm", vtpm_bin), "swtpm")


def test_second_connection_served_while_the_first_idles(vtpm):
    a = _connect(vtpm)
    assert _get_random(a) < 5
    # A holds the accepting thread, waiting for its next command; B must not wait for A's idle
    # time (1 s) or A's end.
    with _connect(vtpm) as b:
        assert _get_random(b) < 0.5
        assert _get_random(b) < 0.5
    assert _get_random(a) < 5
    a.close()


def test_half_a_command_holds_up_no_other_connection(vtpm):
    with _connect(vtpm) as a, _connect(vtpm) as b:
        a.sendall(GET_RANDOM_16[:5])  # half a header: the rest may take up to 5 s
        time.sleep(0.05)
        assert _get_random(b) < 0.5
        a.sendall(GET_RANDOM_16[5:])
        r = _response(a)
        assert r[:10] == bytes.fromhex("80010000001c00000000")


def test_idle_connection_parks_and_comes_back(vtpm):
    with _connect(vtpm) as a:
        assert _get_random(a) < 5
        time.sleep(1.5)  # past the idle time: parked in the epoll set
        with _connect(vtpm) as b:
            assert _get_random(b) < 0.5
        assert _get_random(a) < 1
        assert _get_random(a) < 1


def test_connection_per_command_thousands_of_times(impl, tpm_factory):
    tpm = tpm_factory(impl, "swtpm")
    for _ in range(2000):
        with _connect(tpm) as s:
            _get_random(s)
    threads = len(os.listdir(f"/proc/{tpm.procs[0].pid}/task"))
    if impl.name == "vtpm":
        # The accepting thread serves each connection itself: no pool of threads grows.
        assert threads <= 12, f"{threads} threads after 2000 connections"
