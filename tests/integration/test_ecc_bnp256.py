"""TPM_ECC_BN_P256 (TCG Algorithm Registry; Part 4): ECC_Parameters and the curve list compared
byte for byte with swtpm; BN-P256 keys (ECDAA, ECDSA, ECDH) created on both TPMs, the same Commit,
Sign and ZGen bytes sent to each, response codes compared, and every result checked with BN-P256
arithmetic written here (y^2 = x^3 + 3 over GF(p), affine double-and-add): an ECDAA signature
(k, s) must satisfy [s]G = E + [T]Q with T = H(k || digest) mod n (Part 1, annex C), an ECDSA
signature (r, s) the FIPS 186-5 verification equation, a ZGen point [d]P = [b]Q."""
from __future__ import annotations

import hashlib
import os
import struct

import pytest

from harness import wire
from harness.ecmath import Curve
from test_ecc_commit import (ALG_ECDAA, ALG_ECDH, ALG_ECDSA, DECRYPT_KEY, SIGN_KEY, commit, commit_points,
                             create_primary, point, read_point, sign, transact)

pytestmark = pytest.mark.transports("swtpm")

# --- BN-P256 (TCG Algorithm Registry, TPM_ECC_BN_P256) ---------------------------------------------

CURVE_BN_P256 = 0x0010
P = 0xFFFFFFFFFFFCF0CD46E5F25EEE71A49F0CDC65FB12980A82D3292DDBAED33013
B = 3
N = 0xFFFFFFFFFFFCF0CD46E5F25EEE71A49E0CDC65FB1299921AF62D536CD10B500D
G = (1, 2)


CURVE = Curve(P, 0, B, N, G)
on_curve, add, mul, neg = CURVE.on_curve, CURVE.add, CURVE.mul, CURVE.neg


def point_from_s2(s2: bytes):
    """(H_sha256(s2) mod p, y) when that is an x coordinate; p = 3 mod 4, so y = rhs^((p+1)/4)."""
    x = int.from_bytes(hashlib.sha256(s2).digest(), "big") % P
    rhs = (x ** 3 + B) % P
    y = pow(rhs, (P + 1) // 4, P)
    return (x, y) if y * y % P == rhs else None


def bn_template(attrs: int, scheme: int, details: bytes) -> bytes:
    return (wire.u16(0x23) + wire.u16(0x0B) + wire.u32(attrs) + wire.tpm2b(b"") + wire.u16(0x10)
            + wire.u16(scheme) + details + wire.u16(CURVE_BN_P256) + wire.u16(0x10) + wire.u16(0) + wire.u16(0))


def ecdaa_parts(rsp: wire.Response, digest: bytes):
    r = wire.Reader(rsp.params())
    assert r.u16() == ALG_ECDAA and r.u16() == 0x0B
    k = r.take(r.u16())
    s = int.from_bytes(r.take(r.u16()), "big")
    return s, int.from_bytes(hashlib.sha256(k + digest).digest(), "big") % N


def ecdsa_verifies(q, digest: bytes, rsp: wire.Response) -> bool:
    r = wire.Reader(rsp.params())
    assert r.u16() == ALG_ECDSA and r.u16() == 0x0B
    sr, ss = (int.from_bytes(r.take(r.u16()), "big") for _ in range(2))
    if not (0 < sr < N and 0 < ss < N):
        return False
    e = int.from_bytes(digest, "big")       # a 256-bit digest for a 256-bit order: no truncation
    w = pow(ss, -1, N)
    pt = add(mul(e * w % N, G), mul(sr * w % N, q))
    return pt is not None and pt[0] % N == sr


def run_sequence(tpm) -> list[tuple[str, int]]:
    rcs: list[tuple[str, int]] = []

    def ok(step: str, rsp: wire.Response) -> wire.Response:
        assert rsp.rc == 0, f"{tpm.name}: {step}: {rsp.rc:#x}"
        rcs.append((step, rsp.rc))
        return rsp

    daa, q_daa = create_primary(tpm, bn_template(SIGN_KEY, ALG_ECDAA, wire.u16(0x0B) + wire.u16(0)))
    assert on_curve(q_daa)
    digest = hashlib.sha256(b"bn ecdaa " + os.urandom(8)).digest()

    # Commit with no point: E = [r]G.
    k_, l_, e, count = commit_points(ok("commit plain", commit(tpm, daa)))
    assert k_ is None and l_ is None and on_curve(e)
    s, t = ecdaa_parts(ok("sign ecdaa", sign(tpm, daa, digest, count=count)), digest)
    assert mul(s, G) == add(e, mul(t, q_daa)), "ECDAA signature does not verify"
    rcs.append(("sign ecdaa reused count", sign(tpm, daa, digest, count=count).rc))

    # Commit with P1 = [a]G: [a]([s]G - [T]Q) = E.
    a = int.from_bytes(os.urandom(32), "big") % N
    _, _, e1, c1 = commit_points(ok("commit P1", commit(tpm, daa, p1=mul(a, G))))
    s, t = ecdaa_parts(ok("sign ecdaa P1", sign(tpm, daa, digest, count=c1)), digest)
    assert mul(a, add(mul(s, G), neg(mul(t, q_daa)))) == e1

    # Commit with P2 from (s2, y2): [s]P2 = L + [T]K.
    s2, p2 = b"", None
    while p2 is None:
        s2 = os.urandom(16)
        p2 = point_from_s2(s2)
    k2, l2, e2, c2 = commit_points(ok("commit P2", commit(tpm, daa, s2=s2, y2=p2[1].to_bytes(32, "big"))))
    assert e2 is None and on_curve(k2) and on_curve(l2)
    s, t = ecdaa_parts(ok("sign ecdaa P2", sign(tpm, daa, digest, count=c2)), digest)
    assert mul(s, p2) == add(l2, mul(t, k2))
    rcs.append(("commit P1 off curve", commit(tpm, daa, p1=(1, 3)).rc))
    rcs.append(("commit P2 off curve", commit(tpm, daa, s2=s2, y2=((p2[1] + 1) % P).to_bytes(32, "big")).rc))

    # ECDSA on BN-P256.
    dsa, q_dsa = create_primary(tpm, bn_template(SIGN_KEY, ALG_ECDSA, wire.u16(0x0B)))
    assert ecdsa_verifies(q_dsa, digest, ok("sign ecdsa", sign(tpm, dsa, digest, scheme=ALG_ECDSA)))
    rcs.append(("commit ecdsa key", commit(tpm, dsa).rc))

    # ECDH: TPM2_ECDH_ZGen(QsB = [b]G) = [d]QsB = [b]Q.
    dh, q_dh = create_primary(tpm, bn_template(DECRYPT_KEY, ALG_ECDH, wire.u16(0x0B)))
    b_ = int.from_bytes(os.urandom(32), "big") % N
    rsp = ok("ecdh zgen", transact(tpm, wire.command(0x154, wire.u32(dh), point(mul(b_, G)), [wire.pw_session()])))
    assert read_point(wire.Reader(rsp.params())) == mul(b_, q_dh)
    bad = transact(tpm, wire.command(0x154, wire.u32(dh), point((1, 3)), [wire.pw_session()]))
    rcs.append(("ecdh zgen off curve", bad.rc))
    return rcs


def ecc_parameters(tpm) -> bytes:
    return transact(tpm, wire.command(0x178, params=wire.u16(CURVE_BN_P256))).raw


def curves(tpm) -> list[int]:
    rsp = transact(tpm, wire.command(0x17A, params=wire.u32(8) + wire.u32(0) + wire.u32(64)))
    assert rsp.rc == 0
    r = wire.Reader(rsp.params())
    r.take(1 + 4)
    return [r.u16() for _ in range(r.u32())]


def test_bnp256_against_swtpm(candidate_impl, swtpm_impl, tpm_factory):
    ref = tpm_factory(swtpm_impl, "swtpm", name="ref")
    cand = tpm_factory(candidate_impl, "swtpm", name="cand")
    assert ecc_parameters(cand) == ecc_parameters(ref)
    # Our curves in libtpms' order (swtpm lists BN-P256 after the NIST curves, before BN-P638).
    ours = curves(cand)
    assert CURVE_BN_P256 in ours and ours == [c for c in curves(ref) if c in ours]
    expected = run_sequence(ref)
    got = run_sequence(cand)
    assert [(s, hex(c)) for s, c in got] == [(s, hex(c)) for s, c in expected]
    codes = dict(got)
    assert codes["sign ecdaa reused count"] == wire.RC_VALUE
    assert codes["commit P1 off curve"] == wire.rc_param(0x0A7, 1)
    assert codes["commit ecdsa key"] == wire.rc_handle(wire.RC_SCHEME, 1)
