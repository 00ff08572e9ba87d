"""Attestation rounds per second: one `vtpm-verifier serve` against 100 simulated guests.

A simulated guest is a software TPM written here in Python from the TPM 2.0 specification
(Part 2 structures, Part 1 section 24 credential activation) with `cryptography`: an RSA-2048 EK
and an ECC P-256 AK, software PCRs, TPMS_ATTEST quotes signed with ECDSA. It speaks the
evidence protocol like the agents of test_verifier_e2e.py. Being independent of our Swift
code, it also checks that the verifier reads structures built by someone else.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
import struct
import subprocess
import threading
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from test_verifier_e2e import BASELINE, Entry, Verifier, b16, b32, baseline_policy, frame, read_frame
from test_verifier_tpm import free_port_pair

PCR = 14


def kdfa(key: bytes, label: bytes, u: bytes, v: bytes, bits: int) -> bytes:
    """Part 1, 11.4.10.2, HMAC-SHA256 in counter mode."""
    out, i = b"", 1
    while len(out) * 8 < bits:
        out += hmac.new(key, struct.pack(">I", i) + label + b"\0" + u + v + struct.pack(">I", bits), hashlib.sha256).digest()
        i += 1
    return out[:bits // 8]


class SoftGuest:
    def __init__(self):
        self.ek = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ak = ec.generate_private_key(ec.SECP256R1())
        n = self.ek.public_key().public_numbers().n.to_bytes(256, "big")
        ek_policy = bytes.fromhex("837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa")
        # TPMT_PUBLIC (Part 2, 12.2.4): RSA EK, TCG template attributes, AES-128-CFB, scheme NULL.
        ek_area = (struct.pack(">HHI", 0x0001, 0x000B, 0x000300B2) + b16(ek_policy)
                   + struct.pack(">HHHHHI", 0x0006, 128, 0x0043, 0x0010, 2048, 0) + b16(n))
        self.ek_pub = b16(ek_area)
        q = self.ak.public_key().public_numbers()
        # ECC P-256 AK: fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|restricted|sign, ECDSA-SHA256.
        ak_area = (struct.pack(">HHI", 0x0023, 0x000B, 0x00050072) + b16(b"")
                   + struct.pack(">HHHHH", 0x0010, 0x0018, 0x000B, 0x0003, 0x0010)
                   + b16(q.x.to_bytes(32, "big")) + b16(q.y.to_bytes(32, "big")))
        self.ak_pub = b16(ak_area)
        self.ak_name = struct.pack(">H", 0x000B) + hashlib.sha256(ak_area).digest()
        self.pcrs = {0x0004: b"\0" * 20, 0x000B: b"\0" * 32}
        self.entries: list[Entry] = []
        self.clock = 1000
        self.lock = threading.Lock()
        self.add(Entry("boot_aggregate", digest=hashlib.sha256(b"\0" * 320).digest()))
        for p, c in BASELINE.items():
            self.add(Entry(p, c))
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = free_port_pair()
        self.srv.bind(("127.0.0.1", self.port))
        self.srv.listen(64)
        threading.Thread(target=self.serve, daemon=True).start()

    def add(self, e: Entry) -> None:
        self.entries.append(e)
        self.pcrs[0x0004] = hashlib.sha1(self.pcrs[0x0004] + hashlib.sha1(e.data).digest()).digest()
        self.pcrs[0x000B] = hashlib.sha256(self.pcrs[0x000B] + hashlib.sha256(e.data).digest()).digest()

    def serve(self) -> None:
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(c,), daemon=True).start()

    def session(self, c: socket.socket) -> None:
        with c:
            while True:
                try:
                    f = read_frame(c)
                except (ValueError, OSError):
                    return
                if f is None:
                    return
                with self.lock:
                    reply = self.answer(*f)
                try:
                    c.sendall(reply)
                except OSError:
                    return

    def answer(self, t: int, body: bytes) -> bytes:
        if t == 3:
            return frame(4, b16(self.ak_pub) + b16(self.ak_name) + b16(self.ek_pub) + b32(b""))
        if t == 5:
            (n,) = struct.unpack_from(">H", body, 0)
            blob = body[2:2 + n][2:]  # TPM2B_ID_OBJECT contents
            secret = body[2 + n + 2:][2:]  # TPM2B_ENCRYPTED_SECRET contents
            seed = self.ek.decrypt(secret, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(),
                                                        label=b"IDENTITY\0"))
            (hl,) = struct.unpack_from(">H", blob, 0)
            integrity, enc = blob[2:2 + hl], blob[2 + hl:]
            hkey = kdfa(seed, b"INTEGRITY", b"", b"", 256)
            if not hmac.compare_digest(hmac.new(hkey, enc + self.ak_name, hashlib.sha256).digest(), integrity):
                return frame(0x7F, struct.pack(">H", 4) + b16(b"integrity"))
            key = kdfa(seed, b"STORAGE", self.ak_name, b"", 128)
            d = Cipher(algorithms.AES(key), modes.CFB(b"\0" * 16)).decryptor()
            plain = d.update(enc) + d.finalize()
            (sl,) = struct.unpack_from(">H", plain, 0)
            return frame(6, b16(plain[2:2 + sl]))
        if t == 1:
            nlen = body[0]
            nonce = body[1:1 + nlen]
            (slen,) = struct.unpack_from(">H", body, 1 + nlen)
            sel = body[3 + nlen:3 + nlen + slen]
            (first,) = struct.unpack_from(">Q", body, 3 + nlen + slen)
            return self.evidence(nonce, sel, first)
        return frame(0x7F, struct.pack(">H", 3) + b16(b"unexpected"))

    def evidence(self, nonce: bytes, sel: bytes, first: int) -> bytes:
        (count,) = struct.unpack_from(">I", sel, 0)
        off, banks = 4, []
        for _ in range(count):
            alg, size = struct.unpack_from(">HB", sel, off)
            bits = sel[off + 3:off + 3 + size]
            off += 3 + size
            banks.append((alg, [i for i in range(size * 8) if bits[i // 8] & (1 << (i % 8))]))
        # PCRs other than the list's are the zeros of a machine whose firmware measured nothing
        # (the boot_aggregate entry is their hash).
        values = b"".join(self.pcrs[a] if p == PCR else b"\0" * len(self.pcrs[a]) for a, pcrs in banks for p in pcrs)
        self.clock += 10
        attest = (struct.pack(">IH", 0xFF544347, 0x8018) + b16(self.ak_name) + b16(nonce)
                  + struct.pack(">QIIB", self.clock, 1, 0, 1) + struct.pack(">Q", 0x2023)
                  + sel + b16(hashlib.sha256(values).digest()))
        r, s = decode_dss_signature(self.ak.sign(attest, ec.ECDSA(hashes.SHA256())))
        sig = struct.pack(">HH", 0x0018, 0x000B) + b16(r.to_bytes(32, "big")) + b16(s.to_bytes(32, "big"))
        pcr_body = bytes([len(banks)])
        for alg, pcrs in banks:
            pcr_body += struct.pack(">HB", alg, len(pcrs)) + b"".join(
                bytes([p]) + (self.pcrs[alg] if p == PCR else b"\0" * len(self.pcrs[alg])) for p in pcrs)
        entries = self.entries[first:]
        records = b"".join(e.record() for e in entries)
        return frame(2, b16(attest) + b16(sig) + pcr_body + struct.pack(">QI", first, len(entries)) + b32(records)
                     + b16(self.ak_pub) + b16(self.ek_pub) + b32(b"") + struct.pack(">II", 1, 0))

    def close(self) -> None:
        try:
            self.srv.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.srv.close()


def test_soft_guest_is_trusted_and_forgery_caught(tmp_path):
    """The simulated guest itself: enrolled (activation in software), TRUSTED, then UNTRUSTED."""
    g = SoftGuest()
    (tmp_path / "ek.pub").write_bytes(g.ek_pub)
    v = Verifier(tmp_path / "v", "--policy", str(baseline_policy(tmp_path / "p.json", BASELINE)), "--interval", "3600")
    try:
        v.cli("enroll", "soft", "--agent", f"127.0.0.1:{g.port}", "--ek-pub", str(tmp_path / "ek.pub"))
        assert "TRUSTED" in v.cli("attest", "soft").stdout
        with g.lock:
            g.add(Entry("/usr/local/bin/new", b"new"))
        r = v.cli("attest", "soft", check=False)
        assert "UNTRUSTED" in r.stdout and "/usr/local/bin/new" in r.stdout
    finally:
        v.stop()
        g.close()


def test_100_guests_attested_continuously(tmp_path):
    """Scale, checked for correctness only (timings belong to benchmarks): 100 guests, each due
    every second, all stay TRUSTED and every one is attested again and again. The rounds per
    second it prints are the figure the README reports."""
    guests = [SoftGuest() for _ in range(100)]
    v = Verifier(tmp_path / "v", "--policy", str(baseline_policy(tmp_path / "p.json", BASELINE)), "--interval", "3600",
                 "--concurrency", "16")
    try:
        for i, g in enumerate(guests):
            (tmp_path / f"ek{i}.pub").write_bytes(g.ek_pub)
            v.cli("enroll", f"g{i}", "--agent", f"127.0.0.1:{g.port}", "--ek-pub", str(tmp_path / f"ek{i}.pub"))
        v.stop()
        # Every guest due every second.
        v2 = Verifier(tmp_path / "v", "--interval", "1", "--concurrency", "16")
        try:
            time.sleep(2)
            before = sum(g["rounds"] for g in v2.status().values())
            t0 = time.time()
            time.sleep(10)
            st = v2.status()
            rounds = sum(g["rounds"] for g in st.values()) - before
            elapsed = time.time() - t0
        finally:
            v2.stop()
        assert all(g["verdict"] == "TRUSTED" for g in st.values()), {k: g["reason"] for k, g in st.items() if g["verdict"] != "TRUSTED"}
        print(f"\nrounds/s with 100 guests due every second: {rounds / elapsed:,.0f} (each: nonce, quote, ECDSA "
              f"verify, replay, policy, state file and audit record fsynced)")
        assert all(g["rounds"] >= 3 for g in st.values()), sorted(g["rounds"] for g in st.values())[:5]
    finally:
        for g in guests:
            g.close()


# Run by Keylime's Python: Keylime's own per-round verification (keylime.tpm.tpm_main.Tpm.check_quote:
# quote signature, nonce, PCR digest, clock, then the IMA list from the agent's next entry through
# ima.process_measurement_list with incremental AgentAttestState) for `n` simulated guests like
# SoftGuest (ECDSA P-256 AK, sha256 PCR 10, the BASELINE list and policy). The evidence of every round
# is made before the clock starts; the steady-state rounds (no new entries, as in the daemon
# benchmark above) are timed. No HTTP, no database, no registrar: a lower bound on its daemon's cost.
KEYLIME_ROUNDS = r'''
import base64, hashlib, json, logging, os, struct, sys, time, types
sys.modules.setdefault("gpg", types.ModuleType("gpg"))
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from keylime.agentstates import AgentAttestState
from keylime.common.algorithms import Hash
from keylime.mba import mba
from keylime.tpm import tpm_main
logging.disable(logging.CRITICAL)
mba.load_imports(skip_custom_policies=True)  # as the verifier daemon does at start
n, rounds = int(sys.argv[1]), int(sys.argv[2])
files = {p: bytes.fromhex(c) for p, c in json.loads(sys.argv[3]).items()}
b16 = lambda b: struct.pack(">H", len(b)) + b
def data(path, digest):
    d, nm = b"sha256:\0" + digest, path.encode() + b"\0"
    return struct.pack("<I", len(d)) + d + struct.pack("<I", len(nm)) + nm
entries = [("boot_aggregate", hashlib.sha256(b"\0" * 320).digest())] + [(p, hashlib.sha256(c).digest()) for p, c in files.items()]
lines, pcr = [], b"\0" * 32
for p, d in entries:
    t = data(p, d)
    lines.append(f"10 {hashlib.sha1(t).hexdigest()} ima-ng sha256:{d.hex()} {p}")
    pcr = hashlib.sha256(pcr + hashlib.sha256(t).digest()).digest()
policy = {"meta": {"version": 1}, "release": 0, "digests": {p: [d.hex()] for p, d in entries}, "excludes": [], "keyrings": {},
          "ima": {"ignored_keyrings": [], "log_hash_alg": "sha1", "dm_policy": None}, "ima-buf": {}, "verification-keys": ""}
sel_be = struct.pack(">IHB", 1, 0x000B, 3) + bytes([0, 0x04, 0])  # sha256: PCR 10
slots = struct.pack("<HB", 0x000B, 3) + bytes([0, 0x04, 0]) + b"\0\0" + (struct.pack("<HB", 0, 0) + b"\0" * 5) * 15
pcrblob = struct.pack("<I", 1) + slots + struct.pack("<II", 1, 1) + struct.pack("<H", 32) + pcr + b"\0" * 32 \
    + (struct.pack("<H", 0) + b"\0" * 64) * 7
guests = []
for g in range(n):
    ak = ec.generate_private_key(ec.SECP256R1())
    q = ak.public_key().public_numbers()
    area = (struct.pack(">HHI", 0x0023, 0x000B, 0x00050072) + b16(b"") + struct.pack(">HHHHH", 0x0010, 0x0018, 0x000B, 0x0003, 0x0010)
            + b16(q.x.to_bytes(32, "big")) + b16(q.y.to_bytes(32, "big")))
    name = struct.pack(">H", 0x000B) + hashlib.sha256(area).digest()
    work = []
    for r in range(rounds):
        nonce = os.urandom(10).hex()
        attest = (struct.pack(">IH", 0xFF544347, 0x8018) + b16(name) + b16(nonce.encode()) + struct.pack(">QIIB", 1000 + 10 * r, 1, 0, 1)
                  + struct.pack(">Q", 0x2023) + sel_be + b16(hashlib.sha256(pcr).digest()))
        rr, ss = decode_dss_signature(ak.sign(attest, ec.ECDSA(hashes.SHA256())))
        sig = struct.pack(">HH", 0x0018, 0x000B) + b16(rr.to_bytes(32, "big")) + b16(ss.to_bytes(32, "big"))
        quote = "r" + ":".join(base64.b64encode(x).decode() for x in (attest, sig, pcrblob))
        work.append((nonce, quote))
    guests.append((AgentAttestState(f"g{g}"), base64.b64encode(b16(area)).decode(), work))
tpm = tpm_main.Tpm()
def round_(state, aik, nonce, quote):
    ml = "".join(l + "\n" for l in lines[state.get_next_ima_ml_entry():])
    f = tpm.check_quote(state, nonce, None, quote, aik, {}, ml, policy, Hash.SHA256)
    assert not f, f.get_event_ids()
for state, aik, work in guests:  # first round: the whole list
    round_(state, aik, *work[0])
t0, c0 = time.perf_counter(), time.process_time()
for r in range(1, rounds):
    for state, aik, work in guests:
        round_(state, aik, *work[r])
elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"rounds": n * (rounds - 1), "elapsed": elapsed, "cpu": cpu}))
'''


def keylime_rounds_per_second(tmp_path, n: int = 100, rounds: int = 6) -> tuple[float, float]:
    """Rounds per second of wall-clock time and of CPU time."""
    from test_verifier_keylime import keylime_python
    driver = tmp_path / "keylime_rounds.py"
    driver.write_text(KEYLIME_ROUNDS)
    files = json.dumps({p: c.hex() for p, c in BASELINE.items()})
    r = subprocess.run([keylime_python(), str(driver), str(n), str(rounds), files], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.splitlines()[-1])
    return out["rounds"] / out["elapsed"], out["rounds"] / out["cpu"]


def test_round_verification_against_keylime(tmp_path):
    """The same verification work per round, ours and Keylime's, in process (no network, no files):
    100 simulated guests, steady-state rounds. Ours: `vtpm-verifier bench rounds` (Appraiser.appraise);
    Keylime's: Tpm.check_quote with the IMA list (KEYLIME_ROUNDS). Printed; the README reports it."""
    from test_verifier_tpm import verifier_bin
    r = subprocess.run([verifier_bin(), "bench", "rounds", "--guests", "100", "--rounds", "21"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    ours, ours_cpu = out["rounds"] / out["elapsed"], out["rounds"] / out["cpu"]
    keylime, keylime_cpu = keylime_rounds_per_second(tmp_path, 100, 11)
    print(f"\nrounds/s verified in process, 100 guests: ours {ours:,.0f} wall / {ours_cpu:,.0f} CPU; Keylime 7.14 check_quote "
          f"{keylime:,.0f} wall / {keylime_cpu:,.0f} CPU ({ours / keylime:.1f}x wall, {ours_cpu / keylime_cpu:.1f}x CPU)")
    assert ours > 0 and keylime > 0
