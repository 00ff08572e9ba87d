"""The agent's evidence service (docs/evidence-protocol.md) from a verifier's side, written here
independently of our Swift code: frames built and parsed in Python, the quote's ECDSA signature
checked with python3-cryptography against the AK public area, the quoted PCR digest recomputed
from the PCR values, the list replayed to the quoted PCR, the AK bound to the EK through
`tpm2 makecredential` (tpm2-tools, offline) and the agent's ActivateCredential. Then hostile
peers: oversized and malformed frames, many connections, silent clients, while the agent
keeps measuring.
"""
from __future__ import annotations

import hashlib
import os
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

from harness.servers import free_port as harness_free_port
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from conftest import selected_impls
from test_agent import PCR, Agent, sha256sum

VERSION = 1
CHALLENGE, EVIDENCE, ENROLL_REQ, ENROLL_RESP, ACTIVATE_REQ, ACTIVATE_RESP, ERROR = 1, 2, 3, 4, 5, 6, 0x7F
ALG = {"sha1": 0x0004, "sha256": 0x000B}


def pytest_generate_tests(metafunc):
    if "agent_tpm_spec" in metafunc.fixturenames:
        specs = [(i, "swtpm" if i.name == "swtpm" else "mssim") for i in selected_impls(metafunc.config)]
        metafunc.parametrize("agent_tpm_spec", specs, ids=[f"{i.name}-{t}" for i, t in specs])


def free_port() -> int:
    return harness_free_port()


def has_policy_secret(tpm) -> bool:
    out = tpm.tool("getcap", "commands").stdout
    return "TPM2_CC_PolicySecret" in out


@pytest.fixture
def served(agent_tpm_spec, tpm_factory, tmp_path):
    impl, transport = agent_tpm_spec
    tpm = tpm_factory(impl, transport)
    if not has_policy_secret(tpm):
        # The AK lives under the TCG-template EK, whose policy is PolicySecret(TPM_RH_ENDORSEMENT).
        pytest.xfail(f"{impl.name} does not implement TPM2_PolicySecret yet (issue 4)")
    work = tmp_path / "work"
    work.mkdir()
    a = Agent(tpm, tmp_path / "state", work)
    a.port = free_port()
    a.start("--listen", f"127.0.0.1:{a.port}")
    yield a
    a.cleanup()


# --- framing ---

def frame(mtype: int, body: bytes) -> bytes:
    payload = bytes([VERSION, mtype]) + body
    return struct.pack(">I", len(payload)) + payload


def recv_exact(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out


def exchange(port: int, mtype: int, body: bytes) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(frame(mtype, body))
        return read_message(s)


def read_message(s: socket.socket) -> tuple[int, bytes]:
    (n,) = struct.unpack(">I", recv_exact(s, 4))
    payload = recv_exact(s, n)
    assert payload[0] == VERSION
    return payload[1], payload[2:]


class Cursor:
    def __init__(self, b: bytes):
        self.b, self.i = b, 0

    def take(self, n: int) -> bytes:
        assert self.i + n <= len(self.b), "truncated"
        v = self.b[self.i:self.i + n]
        self.i += n
        return v

    def u8(self): return self.take(1)[0]
    def u16(self): return struct.unpack(">H", self.take(2))[0]
    def u32(self): return struct.unpack(">I", self.take(4))[0]
    def u64(self): return struct.unpack(">Q", self.take(8))[0]
    def blob16(self): return self.take(self.u16())
    def blob32(self): return self.take(self.u32())


def pcr_selection(banks: list[str], pcrs: list[int]) -> bytes:
    out = struct.pack(">I", len(banks))
    for b in banks:
        sel = bytearray(3)
        for p in pcrs:
            sel[p // 8] |= 1 << (p % 8)
        out += struct.pack(">HB", ALG[b], 3) + bytes(sel)
    return out


def challenge(port: int, nonce: bytes, banks=("sha256",), pcrs=(PCR,), first: int = 0):
    body = bytes([len(nonce)]) + nonce + struct.pack(">H", len(sel := pcr_selection(list(banks), list(pcrs)))) + sel
    body += struct.pack(">Q", first)
    return exchange(port, CHALLENGE, body)


def parse_evidence(body: bytes) -> dict:
    c = Cursor(body)
    e = {"attest": c.blob16(), "signature": c.blob16(), "pcrs": {}}
    for _ in range(c.u8()):
        alg, n = c.u16(), c.u8()
        size = {0x0004: 20, 0x000B: 32, 0x000C: 48, 0x000D: 64}[alg]
        e["pcrs"][alg] = {c.u8(): c.take(size) for _ in range(n)}
    e["first"], e["count"] = c.u64(), c.u32()
    e["entries"] = c.blob32()
    e["ak"], e["ek"], e["cert"] = c.blob16(), c.blob16(), c.blob32()
    e["reset"], e["restart"] = c.u32(), c.u32()
    assert c.i == len(body)
    return e


def parse_records(raw: bytes) -> list[tuple[int, bytes, bytes]]:
    """Binary ima-ng records: (pcr, sha1 template hash, template data)."""
    out, i = [], 0
    while i < len(raw):
        pcr, = struct.unpack_from("<I", raw, i)
        th = raw[i + 4:i + 24]
        (nlen,) = struct.unpack_from("<I", raw, i + 24)
        name = raw[i + 28:i + 28 + nlen]
        assert name == b"ima-ng"
        (dlen,) = struct.unpack_from("<I", raw, i + 28 + nlen)
        data = raw[i + 32 + nlen:i + 32 + nlen + dlen]
        out.append((pcr, th, data))
        i += 32 + nlen + dlen
    return out


def ecc_public_key(tpm2b_public: bytes) -> ec.EllipticCurvePublicKey:
    c = Cursor(tpm2b_public)
    area = Cursor(c.blob16())
    assert area.u16() == 0x0023  # TPM_ALG_ECC
    area.u16()  # nameAlg
    attrs = area.u32()
    assert attrs & (1 << 16) and attrs & (1 << 18), "AK must be restricted and sign"
    area.blob16()  # authPolicy
    if area.u16() != 0x0010:  # symmetric
        area.u16()
        area.u16()
    assert area.u16() == 0x0018  # ECDSA
    assert area.u16() == 0x000B  # SHA-256
    assert area.u16() == 0x0003  # NIST P-256
    if area.u16() != 0x0010:  # kdf
        area.u16()
    x, y = area.blob16(), area.blob16()
    return ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()).public_key()


def verify_quote(e: dict, nonce: bytes, bank_alg: int, pcrs: list[int]):
    a = Cursor(e["attest"])
    assert a.u32() == 0xFF544347  # TPM_GENERATED_VALUE
    assert a.u16() == 0x8018  # TPM_ST_ATTEST_QUOTE
    a.blob16()  # qualifiedSigner
    assert a.blob16() == nonce
    a.u64()
    reset, restart, _safe = a.u32(), a.u32(), a.u8()
    assert (reset, restart) == (e["reset"], e["restart"])
    a.u64()  # firmwareVersion
    count = a.u32()
    assert count == 1
    assert a.u16() == bank_alg
    a.take(a.u8())
    digest = a.blob16()
    assert a.i == len(e["attest"])
    values = b"".join(e["pcrs"][bank_alg][p] for p in pcrs)
    assert digest == hashlib.sha256(values).digest(), "pcrDigest is not the hash of the PCR values sent"
    s = Cursor(e["signature"])
    assert s.u16() == 0x0018 and s.u16() == 0x000B
    r, sv = int.from_bytes(s.blob16(), "big"), int.from_bytes(s.blob16(), "big")
    ecc_public_key(e["ak"]).verify(encode_dss_signature(r, sv), e["attest"], ec.ECDSA(hashes.SHA256()))


def test_challenge_evidence_enroll_activate(served, tmp_path):
    a = served
    a.run(["/bin/true"])
    true_path = Path(os.path.realpath("/bin/true"))
    a.wait_for(true_path, sha256sum(true_path))
    a.wait_idle()

    # Enrollment: the AK and EK publics, the AK's Name.
    t, body = exchange(a.port, ENROLL_REQ, b"")
    assert t == ENROLL_RESP, body
    c = Cursor(body)
    ak, ak_name, ek, cert = c.blob16(), c.blob16(), c.blob16(), c.blob32()
    assert ak_name == b"\x00\x0b" + hashlib.sha256(ak[2:]).digest()

    # Credential activation against a blob made by tpm2-tools offline for that EK and AK Name.
    (tmp_path / "ek.pub").write_bytes(ek)
    secret = os.urandom(32)
    (tmp_path / "secret").write_bytes(secret)
    subprocess.run(["tpm2", "makecredential", "-T", "none", "-u", str(tmp_path / "ek.pub"), "-s", str(tmp_path / "secret"),
                    "-n", ak_name.hex(), "-o", str(tmp_path / "cred")], check=True, capture_output=True, timeout=60)
    raw = Cursor((tmp_path / "cred").read_bytes())
    assert raw.u32() == 0xBADCC0DE and raw.u32() == 1
    id_object = raw.blob16()
    enc_secret = raw.blob16()
    body = struct.pack(">H", len(id_object) + 2) + struct.pack(">H", len(id_object)) + id_object
    body += struct.pack(">H", len(enc_secret) + 2) + struct.pack(">H", len(enc_secret)) + enc_secret
    t, resp = exchange(a.port, ACTIVATE_REQ, body)
    assert t == ACTIVATE_RESP, resp
    assert Cursor(resp).blob16() == secret

    # A challenge: quote over the nonce, PCR values, the whole list.
    nonce = os.urandom(20)
    t, body = challenge(a.port, nonce)
    assert t == EVIDENCE, body
    e = parse_evidence(body)
    assert e["ak"] == ak and e["ek"] == ek
    verify_quote(e, nonce, ALG["sha256"], [PCR])
    records = parse_records(e["entries"])
    assert len(records) == e["count"] and e["first"] == 0
    pcr = b"\0" * 32
    for p, th, data in records:
        assert p == PCR and hashlib.sha1(data).digest() == th
        pcr = hashlib.sha256(pcr + hashlib.sha256(data).digest()).digest()
    assert pcr == e["pcrs"][ALG["sha256"]][PCR], "the list does not replay to the quoted PCR"

    # Incremental: from the current end, new entries only.
    script = a.workdir / "later.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    a.run([str(script)])
    a.wait_for(script, sha256sum(script))
    a.wait_idle()
    t, body = challenge(a.port, os.urandom(32), first=len(records))
    e2 = parse_evidence(body)
    new = parse_records(e2["entries"])
    assert e2["first"] == len(records) and len(new) >= 1
    for _, _, data in new:
        pcr = hashlib.sha256(pcr + hashlib.sha256(data).digest()).digest()
    assert pcr == e2["pcrs"][ALG["sha256"]][PCR]

    # firstEntry beyond the list: error 7.
    t, body = challenge(a.port, os.urandom(16), first=10**9)
    assert t == ERROR and Cursor(body).u16() == 7

    # The AK survives a restart of the agent (same Name, loaded from the state directory).
    a.stop()
    a.start("--listen", f"127.0.0.1:{a.port}")
    t, body = exchange(a.port, ENROLL_REQ, b"")
    assert t == ENROLL_RESP and Cursor(body).blob16() == ak
    # And after SIGKILLs, which leave its keys loaded in a TPM without a resource manager (swtpm
    # holds 3 objects): the agent flushes its own leftovers.
    for _ in range(3):
        a.stop(signal.SIGKILL)
        a.start("--listen", f"127.0.0.1:{a.port}")
    t, body = challenge(a.port, os.urandom(16), first=0)
    assert t == EVIDENCE, body
    assert parse_evidence(body)["ak"] == ak


def test_hostile_peers(served):
    a = served
    port = a.port
    # Oversized frame: refused with an error frame, connection closed.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(struct.pack(">I", 0x7FFFFFFF) + b"\x01\x01")
        t, body = read_message(s)
        assert t == ERROR and Cursor(body).u16() == 5
        assert s.recv(1) == b""
    # Unknown version, unknown type, truncated challenge, trailing bytes: error 1/2, closed.
    for payload in (b"\x09\x01", b"\x01\x55", b"\x01\x01\x10" + b"x" * 5, frame(ENROLL_REQ, b"extra")[4:]):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(struct.pack(">I", len(payload)) + payload)
            t, body = read_message(s)
            assert t == ERROR and Cursor(body).u16() in (1, 2), (payload, body)
    # Wrong-direction message: error 3, connection stays usable.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(frame(ACTIVATE_RESP, struct.pack(">H", 0)))
        t, body = read_message(s)
        assert t == ERROR and Cursor(body).u16() == 3
        s.sendall(frame(ENROLL_REQ, b""))
        assert read_message(s)[0] == ENROLL_RESP
    # Many silent connections (more than the agent serves at once) while programs run.
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(40)]
    try:
        script = a.workdir / "during.sh"
        script.write_text("#!/bin/sh\necho during\n")
        script.chmod(0o755)
        a.run([str(script)])
        a.wait_for(script, sha256sum(script))
        busy = 0
        for s in idle[32:]:
            s.settimeout(5)
            try:
                t, body = read_message(s)
                busy += t == ERROR and Cursor(body).u16() == 6
            except (ConnectionError, socket.timeout):
                pass
        assert busy >= 1, "connections past the limit were not refused"
    finally:
        for s in idle:
            s.close()
    # After the storm of connections, the service answers again.
    deadline = time.monotonic() + 10
    while True:
        try:
            t, _ = challenge(port, os.urandom(16))
            if t == EVIDENCE:
                break
        except (ConnectionError, OSError):
            pass
        assert time.monotonic() < deadline, "the evidence service did not recover"
        time.sleep(0.2)
