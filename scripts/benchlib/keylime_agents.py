"""N simulated Keylime agents in one asyncio process, for Keylime 7.14's verifier in pull mode.

Each agent listens on its own port on 127.0.0.1 and answers the two requests Keylime's verifier makes
of an agent without mTLS and without V (keylime/cloud_verifier_tornado.py, invoke_get_quote and
update_agent_api_version):

  GET /vX.Y/quotes/integrity?nonce=N&mask=M&partial=P&ima_ml_entry=E
  GET /version

The quote is what a TPM's TPM2_Quote returns, built here in software (TPM 2.0 Part 2: TPMS_ATTEST of type
TPM_ST_ATTEST_QUOTE, the verifier's nonce as extraData, TPML_PCR_SELECTION of sha256 PCRs 10 and 16,
pcrDigest = SHA-256 over the two values, clockInfo with a clock that grows), signed by the agent's own
ECDSA P-256 AK (TPMT_SIGNATURE: ECDSA, SHA-256, r, s), in the string Keylime reads
(keylime/tpm/tpm_main.py _get_quote_parameters, keylime/tpm/tpm_util.py checkquote):
"r" + base64(TPMS_ATTEST) + ":" + base64(TPMT_SIGNATURE) + ":" + base64(PCR blob), the PCR blob being
tpm2-tools' in-memory little-endian TPML_PCR_SELECTION (16 slots) followed by TPML_DIGEST arrays of 8.
PCR 16 holds the binding of the agent's public key (Keylime's TPM_DATA_PCR: sha256(0^32 || sha256(pubkey))),
PCR 10 the replay of the IMA list (ima-ng, sha256 bank): boot_aggregate and the files of the baseline.

Steady state as in the daemon benchmark of our verifier: the verifier asks from the next entry it has
not seen (ima_ml_entry), and the list does not grow, so after the first round the answer has no entries.

Control on standard input, one command a line; answers one JSON line on standard output:
  counts  -> {"counts": [quotes answered per agent], "errors": [..first errors..]}
At start the process prints {"ready": true, "ports": [...], "agents": [{"ak_tpm": b64 TPM2B_PUBLIC}...],
"runtime_policy": {...}} once every port listens.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import socket
import struct
import time
import urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from . import control

IMA_PCR, DATA_PCR = 10, 16  # keylime/config.py IMA_PCR, TPM_DATA_PCR
TPM_ALG_SHA256, TPM_ALG_ECDSA, TPM_ALG_ECC, TPM_ALG_NULL = 0x000B, 0x0018, 0x0023, 0x0010


def b16(b: bytes) -> bytes:
    return struct.pack(">H", len(b)) + b


def ima_ng(path: str, digest: bytes) -> bytes:
    """ima-ng template data: d-ng field ("sha256:" NUL digest) and n-ng field (path NUL), each
    with a little-endian u32 length."""
    d, n = b"sha256:\0" + digest, path.encode() + b"\0"
    return struct.pack("<I", len(d)) + d + struct.pack("<I", len(n)) + n


class MeasurementList:
    """The ASCII list (what /sys/kernel/security/ima/ascii_runtime_measurements shows) and the PCR 10
    value of its sha256 bank, as Keylime replays it with hash_alg sha256."""

    def __init__(self, files: dict[str, bytes]):
        # A machine whose firmware measured nothing: boot_aggregate over PCRs 0-9 all zero.
        entries = [("boot_aggregate", hashlib.sha256(b"\0" * 320).digest())]
        entries += [(p, hashlib.sha256(c).digest()) for p, c in files.items()]
        self.lines: list[str] = []
        pcr = b"\0" * 32
        for path, digest in entries:
            t = ima_ng(path, digest)
            self.lines.append(f"{IMA_PCR} {hashlib.sha1(t).hexdigest()} ima-ng sha256:{digest.hex()} {path}\n")
            pcr = hashlib.sha256(pcr + hashlib.sha256(t).digest()).digest()
        self.pcr10 = pcr
        # Keylime's runtime policy (keylime/ima/ima.py format, version 1): every digest allowed by path.
        self.policy = {"meta": {"version": 1, "generator": 2}, "release": 0, "digests": {p: [d.hex()] for p, d in entries},
                       "excludes": [], "keyrings": {}, "ima": {"ignored_keyrings": [], "log_hash_alg": "sha1",
                                                               "dm_policy": None},
                       "ima-buf": {}, "verification-keys": ""}

    def since(self, first: int) -> str:
        return "".join(self.lines[first:])


class Agent:
    def __init__(self, port: int, ml: MeasurementList, pubkey_pem: str):
        self.port = port
        self.ml = ml
        self.pubkey = pubkey_pem
        self.ak = ec.generate_private_key(ec.SECP256R1())
        q = self.ak.public_key().public_numbers()
        # TPMT_PUBLIC of a restricted ECDSA-SHA256 P-256 signing key (Part 2, 12.2.4): fixedTPM|fixedParent|
        # sensitiveDataOrigin|userWithAuth|restricted|sign, no policy, symmetric NULL, scheme ECDSA/SHA-256,
        # curve NIST P-256, KDF NULL, then the point.
        area = (struct.pack(">HHI", TPM_ALG_ECC, TPM_ALG_SHA256, 0x00050072) + b16(b"")
                + struct.pack(">HHHHH", TPM_ALG_NULL, TPM_ALG_ECDSA, TPM_ALG_SHA256, 0x0003, TPM_ALG_NULL)
                + b16(q.x.to_bytes(32, "big")) + b16(q.y.to_bytes(32, "big")))
        self.ak_tpm = base64.b64encode(b16(area)).decode()
        self.name = struct.pack(">H", TPM_ALG_SHA256) + hashlib.sha256(area).digest()
        pcr16 = hashlib.sha256(b"\0" * 32 + hashlib.sha256(pubkey_pem.encode()).digest()).digest()
        self.values = [ml.pcr10, pcr16]  # in PCR order: 10, 16
        # PCR 10 is bit 2 of octet 1, PCR 16 bit 0 of octet 2 (Part 2, 10.6.1).
        bitmap = bytes([0x00, 0x04, 0x01])
        self.selection = struct.pack(">IHB", 1, TPM_ALG_SHA256, 3) + bitmap
        self.pcr_digest = hashlib.sha256(b"".join(self.values)).digest()
        slots = struct.pack("<HB", TPM_ALG_SHA256, 3) + bitmap + b"\0\0" + (struct.pack("<HB", 0, 0) + b"\0" * 5) * 15
        digests = b"".join(struct.pack("<H", 32) + v + b"\0" * 32 for v in self.values)
        digests += (struct.pack("<H", 0) + b"\0" * 64) * (8 - len(self.values))
        self.pcrblob = base64.b64encode(struct.pack("<I", 1) + slots + struct.pack("<II", 1, len(self.values)) + digests).decode()
        self.boottime = int(time.time()) - 1000
        self.clock0 = time.monotonic()
        self.quotes = 0

    def quote(self, nonce: str) -> str:
        clock = int((time.monotonic() - self.clock0) * 1000) + 1_000_000 + self.quotes  # grows on every quote
        attest = (struct.pack(">IH", 0xFF544347, 0x8018) + b16(self.name) + b16(nonce.encode())
                  + struct.pack(">QIIB", clock, 1, 0, 1) + struct.pack(">Q", 0x2023_0001)
                  + self.selection + b16(self.pcr_digest))
        r, s = decode_dss_signature(self.ak.sign(attest, ec.ECDSA(hashes.SHA256())))
        sig = struct.pack(">HH", TPM_ALG_ECDSA, TPM_ALG_SHA256) + b16(r.to_bytes(32, "big")) + b16(s.to_bytes(32, "big"))
        return "r" + base64.b64encode(attest).decode() + ":" + base64.b64encode(sig).decode() + ":" + self.pcrblob

    def answer(self, method: str, target: str) -> tuple[int, dict]:
        url = urllib.parse.urlsplit(target)
        parts = url.path.strip("/").split("/")
        if method == "GET" and parts == ["version"]:
            return 200, {"supported_version": "2.2", "supported_versions": ["2.1", "2.2"]}
        if method != "GET" or len(parts) != 3 or parts[1:] != ["quotes", "integrity"]:
            return 400, {}
        q = dict(urllib.parse.parse_qsl(url.query))
        nonce, first = q["nonce"], int(q.get("ima_ml_entry", "0"))
        if first > len(self.ml.lines):
            first = 0  # as a real agent: an entry it does not have means "from the start"
        self.quotes += 1
        results = {"quote": self.quote(nonce), "hash_alg": "sha256", "enc_alg": "ecc", "sign_alg": "ecdsa",
                   "boottime": self.boottime, "ima_measurement_list": self.ml.since(first),
                   "ima_measurement_list_entry": first, "mb_measurement_list": None}
        if q.get("partial") == "0":
            results["pubkey"] = self.pubkey
        return 200, results


class Server:
    def __init__(self, agents: list[Agent]):
        self.agents = agents
        self.errors: list[str] = []

    async def handle(self, agent: Agent, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:] if ":" in h)}
                n = int(headers.get("content-length", "0"))
                if n:
                    await reader.readexactly(n)
                try:
                    code, results = agent.answer(method, target)
                except Exception as e:  # a request we cannot read: answer 400 and remember it
                    code, results = 400, {}
                    self.errors.append(f"{agent.port} {target}: {e!r}")
                if code != 200:
                    self.errors.append(f"{agent.port}: {method} {target} -> {code}")
                body = json.dumps({"code": code, "status": "Success" if code == 200 else "Bad Request",
                                   "results": results}).encode()
                keep = headers.get("connection", "").lower() != "close"
                writer.write(f"HTTP/1.1 {code} {'OK' if code == 200 else 'Bad Request'}\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(body)}\r\nConnection: {'keep-alive' if keep else 'close'}\r\n\r\n"
                             .encode() + body)
                await writer.drain()
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def control(self) -> None:
        await control.answer(lambda: [a.quotes for a in self.agents], self.errors)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--first-port", type=int, required=True)
    ap.add_argument("--last-port", type=int, required=True)
    ap.add_argument("-n", type=int, required=True)
    ap.add_argument("--files", required=True, help="JSON {path: content hex} of the list's files")
    a = ap.parse_args()
    files = {p: bytes.fromhex(c) for p, c in json.loads(a.files).items()}
    ml = MeasurementList(files)
    # The agent's key that V would be encrypted to (Keylime binds it into PCR 16); V is not used here.
    pub = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    agents, socks = [], []
    for port in range(a.first_port, a.last_port + 1):
        if len(agents) == a.n:
            break
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))  # the kernel's ephemeral range may cover ours: skip a port in use
        except OSError:
            s.close()
            continue
        s.listen(64)
        agents.append(Agent(port, ml, pem))
        socks.append(s)
    if len(agents) < a.n:
        raise SystemExit(f"only {len(agents)} free ports in {a.first_port}..{a.last_port}")
    srv = Server(agents)
    for ag, s in zip(agents, socks):
        await asyncio.start_server(lambda r, w, ag=ag: srv.handle(ag, r, w), sock=s)
    print(json.dumps({"ready": True, "ports": [ag.port for ag in agents], "agents": [{"ak_tpm": ag.ak_tpm} for ag in agents],
                      "runtime_policy": ml.policy}), flush=True)
    await srv.control()


if __name__ == "__main__":
    asyncio.run(main())
