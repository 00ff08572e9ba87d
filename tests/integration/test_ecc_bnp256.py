"""TPM_ECC_BN_P256 (TCG Algorithm Registry; Part 4): ECC_Parameters and the curve list compared
byte for byte with swtpm; BN-P256 keys (ECDAA, ECDSA, ECDH) created on both TPMs, the same Commit,
Sign and ZGen bytes sent to each, response codes compared, and every result checked with BN-P256
arithmetic written here (y^2 = x^3 + 3 over GF(p), affine double-and-add): an ECDAA signature
(k, s) must satisfy [s]G = E + [T]Q with T = H(k || digest) mod n (Part 1, annex C), an ECDSA
signature (r, s) the FIPS 186-5 verification equation, a ZGen point [d]P = [b]Q.

Then, mostly with keys loaded by LoadExternal from scalars chosen here: ECDH_KeyGen (zPoint =
[d_s]Q_e, and ECDH_ZGen(Q_e) on the same key gives zPoint back), EC_Ephemeral + ZGen_2Phase with
ECDH (both TPMs) and ECMQV (vtpm only, D21), ECC_Encrypt/ECC_Decrypt (vtpm only: libtpms 0.9 lacks
them) decrypted and encrypted here, a salted HMAC session with a BN-P256 tpmKey (salt by KDFe
"SECRET", sessionKey by KDFa "ATH", command and response HMACs of a PCR_Extend, AES-CFB parameter
encryption both ways on a TPM2_Hash), EC Schnorr
signatures verified here and by VerifySignature, and CertifyX509's answers for BN-P256 keys."""
from __future__ import annotations

import hashlib
import hmac
import os
import struct

import pytest

from harness import wire
from harness.ecmath import Curve, avf, kdfa, kdfe
from test_ecc_commit import (ALG_ECDAA, ALG_ECDH, ALG_ECDSA, ALG_ECMQV, DECRYPT_KEY, SIGN_KEY, commit, commit_points,
                             create_primary, ec_ephemeral, ecc_template, point, read_point, sign, transact, zgen)
from test_ecc_encrypt import kdf2

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


# --- the other BN-P256 operations ------------------------------------------------------------------
# Keys are loaded with TPM2_LoadExternal from scalars chosen here, so every result can be recomputed
# from the private scalar; keys the TPM made itself (CreatePrimary) are checked through consistency
# (ECDH_ZGen of the returned point, the TPM decrypting its own ciphertext).

ALG_ECSCHNORR, ALG_KDF2, ALG_NULL = 0x1C, 0x21, 0x10
EXT_SIGN = 0x00040040      # userWithAuth | sign
EXT_DECRYPT = 0x00020040   # userWithAuth | decrypt
CC_LOAD_EXTERNAL, CC_ECDH_KEYGEN, CC_ECDH_ZGEN = 0x167, 0x163, 0x154
CC_ECC_ENCRYPT, CC_ECC_DECRYPT, CC_START_AUTH_SESSION, CC_PCR_EXTEND = 0x199, 0x19A, 0x176, 0x182
CC_VERIFY_SIGNATURE, CC_CERTIFY_X509, CC_FLUSH = 0x177, 0x197, 0x165
RC_ASYMMETRIC, RC_SIGNATURE, RC_ECC_POINT = 0x081, 0x09B, 0x0A7
CC_HASH = 0x17D
AES128_CFB = wire.u16(0x06) + wire.u16(128) + wire.u16(0x43)   # TPMT_SYM_DEF: AES-128-CFB


def scalar() -> int:
    return int.from_bytes(os.urandom(40), "big") % (N - 1) + 1


def b32(v: int) -> bytes:
    return v.to_bytes(32, "big")


def load_external(tpm, d: int, attrs: int, scheme: int = ALG_NULL, details: bytes = b""):
    """A BN-P256 key with private scalar d in the NULL hierarchy: (handle, Q = [d]G)."""
    q = mul(d, G)
    public = (wire.u16(0x23) + wire.u16(0x0B) + wire.u32(attrs) + wire.tpm2b(b"") + wire.u16(ALG_NULL)
              + wire.u16(scheme) + details + wire.u16(CURVE_BN_P256) + wire.u16(ALG_NULL)
              + wire.tpm2b(b32(q[0])) + wire.tpm2b(b32(q[1])))
    sensitive = wire.u16(0x23) + wire.tpm2b(b"") + wire.tpm2b(b"") + wire.tpm2b(b32(d))
    rsp = transact(tpm, wire.command(CC_LOAD_EXTERNAL, params=wire.tpm2b(sensitive) + wire.tpm2b(public)
                                     + wire.u32(wire.RH_NULL)))
    assert rsp.rc == 0, f"{tpm.name}: LoadExternal {rsp.rc:#x}"
    return struct.unpack(">I", rsp.body[:4])[0], q


def flush(tpm, handle: int) -> None:
    assert transact(tpm, wire.command(CC_FLUSH, params=wire.u32(handle))).rc == 0


def ecdh_keygen(tpm, key: int) -> wire.Response:
    return transact(tpm, wire.command(CC_ECDH_KEYGEN, wire.u32(key)))


def ecdh_zgen(tpm, key: int, pt) -> wire.Response:
    return transact(tpm, wire.command(CC_ECDH_ZGEN, wire.u32(key), point(pt), [wire.pw_session()]))


def two_points(rsp: wire.Response):
    r = wire.Reader(rsp.params())
    a, b = read_point(r), read_point(r)
    assert r.done()
    return a, b


def differential(candidate_impl, swtpm_impl, tpm_factory, sequence) -> dict[str, int]:
    """The same sequence on swtpm and on the TPM under test: the same steps with the same codes."""
    ref = tpm_factory(swtpm_impl, "swtpm", name="ref")
    cand = tpm_factory(candidate_impl, "swtpm", name="cand")
    expected, got = sequence(ref), sequence(cand)
    assert [(s, hex(c)) for s, c in got] == [(s, hex(c)) for s, c in expected]
    return dict(got)


# TPM2_ECDH_KeyGen (Part 3, 14.4): Q_e = [d_e]G on the curve and zPoint = [d_e]Q_s = [d_s]Q_e.

def keygen_sequence(tpm) -> list[tuple[str, int]]:
    rcs: list[tuple[str, int]] = []
    d = scalar()
    known, q = load_external(tpm, d, EXT_DECRYPT, ALG_ECDH, wire.u16(0x0B))
    made, _ = create_primary(tpm, bn_template(DECRYPT_KEY, ALG_ECDH, wire.u16(0x0B)))
    for step, key in (("keygen external", known), ("keygen primary", made)):
        rsp = ecdh_keygen(tpm, key)
        rcs.append((step, rsp.rc))
        assert rsp.rc == 0, f"{tpm.name}: {step}: {rsp.rc:#x}"
        z, qe = two_points(rsp)
        assert on_curve(qe) and on_curve(z)
        if key == known:
            assert z == mul(d, qe), f"{tpm.name}: zPoint is not [d_s]Q_e"
        # Whatever the private scalar, ECDH_ZGen of Q_e on the same key must give zPoint back.
        zg = ecdh_zgen(tpm, key, qe)
        assert zg.rc == 0 and read_point(wire.Reader(zg.params())) == z
    # Two calls give two different ephemeral keys.
    assert two_points(ecdh_keygen(tpm, known))[1] != two_points(ecdh_keygen(tpm, known))[1]
    signer, _ = load_external(tpm, scalar(), EXT_SIGN)
    rcs.append(("keygen sign key", ecdh_keygen(tpm, signer).rc))
    return rcs


def test_bnp256_ecdh_keygen(candidate_impl, swtpm_impl, tpm_factory):
    codes = differential(candidate_impl, swtpm_impl, tpm_factory, keygen_sequence)
    # Part 3, 14.4 uses only the key's public point and asks only for an ECC key (TPM_RC_KEY
    # otherwise): a sign-only key is accepted by both TPMs.
    assert codes["keygen sign key"] == 0


# TPM2_EC_Ephemeral + TPM2_ZGen_2Phase with TPM_ALG_ECDH (Part 3, 14.7 and 19.2; SP 800-56A
# C(2e, 2s)): Z1 = [d_sA]Q_sB, Z2 = [d_eA]Q_eB where d_eA is the EC_Ephemeral scalar.

def zgen_sequence(tpm) -> list[tuple[str, int]]:
    rcs: list[tuple[str, int]] = []
    ds_a = scalar()
    key, qs_a = load_external(tpm, ds_a, EXT_DECRYPT, ALG_ECDH, wire.u16(0x0B))
    rsp = ec_ephemeral(tpm, CURVE_BN_P256)
    rcs.append(("ephemeral", rsp.rc))
    r = wire.Reader(rsp.params())
    qe_a, counter = read_point(r), r.u16()
    assert on_curve(qe_a)
    b_, e_ = scalar(), scalar()
    qs_b, qe_b = mul(b_, G), mul(e_, G)
    rsp = zgen(tpm, key, qs_b, qe_b, ALG_ECDH, counter)
    rcs.append(("zgen ecdh", rsp.rc))
    assert rsp.rc == 0, f"{tpm.name}: ZGen_2Phase {rsp.rc:#x}"
    z1, z2 = two_points(rsp)
    assert z1 == mul(ds_a, qs_b) == mul(b_, qs_a), f"{tpm.name}: Z1"
    assert z2 == mul(e_, qe_a), f"{tpm.name}: Z2"
    rcs.append(("zgen reused counter", zgen(tpm, key, qs_b, qe_b, ALG_ECDH, counter).rc))
    rsp = ec_ephemeral(tpm, CURVE_BN_P256)
    counter = wire.Reader(rsp.params()[-2:]).u16()
    rcs.append(("zgen QsB off curve", zgen(tpm, key, (1, 3), qe_b, ALG_ECDH, counter).rc))
    rcs.append(("zgen QeB off curve", zgen(tpm, key, qs_b, (1, 3), ALG_ECDH, counter).rc))
    rcs.append(("zgen scheme mismatch", zgen(tpm, key, qs_b, qe_b, ALG_ECMQV, counter).rc))
    return rcs


def test_bnp256_zgen_2phase_ecdh(candidate_impl, swtpm_impl, tpm_factory):
    codes = differential(candidate_impl, swtpm_impl, tpm_factory, zgen_sequence)
    assert codes["zgen reused counter"] == wire.rc_param(wire.RC_VALUE, 4)
    assert codes["zgen QsB off curve"] == wire.rc_param(RC_ECC_POINT, 1)
    assert codes["zgen QeB off curve"] == wire.rc_param(RC_ECC_POINT, 2)
    assert codes["zgen scheme mismatch"] == wire.rc_param(wire.RC_SCHEME, 3)


def test_bnp256_zgen_2phase_ecmqv(candidate_impl, tpm_factory):
    """ECMQV on BN-P256 (SP 800-56A rev 3, 5.7.2.3, cofactor 1): Z1 is the MQV point, computed here
    from party B's side, P = [implicitsig_B](Q_eA + [avf(Q_eA)]Q_sA), and from A's side with the
    known d_sA, which must give the same point: the check needs the TPM's d_eA only through Q_eA.
    vtpm only: libtpms 0.9 enters failure mode on ECMQV (docs/deviations.md, D21)."""
    if candidate_impl.name == "swtpm":
        pytest.skip("libtpms fails on ECMQV (D21)")
    tpm = tpm_factory(candidate_impl, "swtpm", name="mqv")
    ds_a = scalar()
    key, qs_a = load_external(tpm, ds_a, EXT_DECRYPT)
    r = wire.Reader(ec_ephemeral(tpm, CURVE_BN_P256).params())
    qe_a, counter = read_point(r), r.u16()
    ds_b, de_b = scalar(), scalar()
    qs_b, qe_b = mul(ds_b, G), mul(de_b, G)
    rsp = zgen(tpm, key, qs_b, qe_b, ALG_ECMQV, counter)
    assert rsp.rc == 0, hex(rsp.rc)
    z1, z2 = two_points(rsp)
    implicit_b = (de_b + avf(CURVE, qe_b[0]) * ds_b) % N
    assert z1 == mul(implicit_b, add(qe_a, mul(avf(CURVE, qe_a[0]), qs_a)))
    assert z2 is None
    # A's side: [implicitsig_A]S with S = Q_eB + [avf(Q_eB)]Q_sB = [implicitsig_B]G and
    # implicitsig_A = d_eA + avf(Q_eA) d_sA, i.e. [d_eA]S + [avf(Q_eA) d_sA]S, where the unknown
    # [d_eA]S equals [implicitsig_B]Q_eA: the TPM must have used d_sA of the loaded key.
    s_pt = add(qe_b, mul(avf(CURVE, qe_b[0]), qs_b))
    assert z1 == add(mul(implicit_b, qe_a), mul(avf(CURVE, qe_a[0]) * ds_a % N, s_pt))


# TPM2_ECC_Encrypt / TPM2_ECC_Decrypt (Part 3, 14.8-14.9; Part 4 CryptEccEncrypt): C1 = [k]G,
# (x2, y2) = [k]Q, C2 = M xor KDF2(x2 || y2), C3 = H(x2 || M || y2).

def test_bnp256_ecc_encrypt_decrypt(candidate_impl, swtpm_impl, tpm_factory):
    ref = tpm_factory(swtpm_impl, "swtpm", name="ref")
    # libtpms 0.9 does not implement the commands (test_ecc_encrypt.py asserts its answer).
    assert transact(ref, wire.command(CC_ECC_ENCRYPT, wire.u32(0x80000000))).rc == wire.RC_COMMAND_CODE
    if candidate_impl.name == "swtpm":
        pytest.skip("libtpms 0.9 does not implement TPM2_ECC_Encrypt")
    tpm = tpm_factory(candidate_impl, "swtpm", name="cand")
    d = scalar()
    key, q = load_external(tpm, d, EXT_DECRYPT)
    made, _ = create_primary(tpm, bn_template(DECRYPT_KEY, ALG_NULL, b""))
    scheme = wire.u16(ALG_KDF2) + wire.u16(0x0B)

    def encrypt(k: int, message: bytes):
        rsp = transact(tpm, wire.command(CC_ECC_ENCRYPT, wire.u32(k), wire.tpm2b(message) + scheme))
        assert rsp.rc == 0, hex(rsp.rc)
        r = wire.Reader(rsp.params())
        c1 = read_point(r)
        c2, c3 = r.tpm2b(), r.tpm2b()
        assert r.done() and on_curve(c1)
        return c1, c2, c3

    def decrypt(k: int, c1, c2: bytes, c3: bytes) -> wire.Response:
        return transact(tpm, wire.command(CC_ECC_DECRYPT, wire.u32(k), point(c1) + wire.tpm2b(c2) + wire.tpm2b(c3)
                                          + scheme, [wire.pw_session()]))

    for message in (b"", b"x", os.urandom(100), os.urandom(700)):
        # The TPM encrypts to the known key; decrypted here with d.
        c1, c2, c3 = encrypt(key, message)
        x2, y2 = mul(d, c1)
        assert bytes(u ^ v for u, v in zip(c2, kdf2("sha256", b32(x2) + b32(y2), len(c2)))) == message
        assert len(c2) == len(message) and c3 == hashlib.sha256(b32(x2) + message + b32(y2)).digest()
        # Encrypted here; the TPM decrypts.
        k = scalar()
        x2, y2 = mul(k, q)
        c2 = bytes(u ^ v for u, v in zip(message, kdf2("sha256", b32(x2) + b32(y2), len(message))))
        c3 = hashlib.sha256(b32(x2) + message + b32(y2)).digest()
        rsp = decrypt(key, mul(k, G), c2, c3)
        assert rsp.rc == 0 and wire.Reader(rsp.params()).tpm2b() == message
        assert decrypt(key, mul(k, G), c2, bytes(32)).rc == wire.RC_VALUE
        # A key the TPM made: its own ciphertext round-trips.
        if message:
            rsp = decrypt(made, *encrypt(made, message))
            assert rsp.rc == 0 and wire.Reader(rsp.params()).tpm2b() == message
    # C1 off the curve.
    assert decrypt(key, (1, 3), b"ab", bytes(32)).rc == wire.rc_param(RC_ECC_POINT, 1)


# A salted HMAC session whose tpmKey is a BN-P256 key (Part 1, 11.4.10.3 and 19.6.13; Part 3,
# 11.1): encryptedSalt is Q_e = [e]G, salt = KDFe(nameAlg, x([e]Q_s), "SECRET", x(Q_e), x(Q_s)),
# sessionKey = KDFa(authHash, salt, "ATH", nonceTPM, nonceCaller). A PCR_Extend authorized by the
# session, command and response HMACs computed here, proves the TPM derived the same sessionKey.

def salted_session(tpm, key: int, qs, wrong_z: bool = False, qe_override=None, aes: bool = False):
    e = scalar()
    qe = mul(e, G) if qe_override is None else qe_override
    z = mul(e + 1 if wrong_z else e, qs)
    salt = kdfe("sha256", b32(z[0]), b"SECRET", b32(qe[0]), b32(qs[0]), 32)
    nonce_caller = os.urandom(32)
    rsp = transact(tpm, wire.command(CC_START_AUTH_SESSION, wire.u32(key) + wire.u32(wire.RH_NULL),
                                     wire.tpm2b(nonce_caller) + point(qe) + wire.u8(0)
                                     + (AES128_CFB if aes else wire.u16(ALG_NULL)) + wire.u16(0x0B)))
    if rsp.rc != 0:
        return rsp.rc, None
    handle = struct.unpack(">I", rsp.body[:4])[0]
    nonce_tpm = wire.Reader(rsp.params(1)).tpm2b()
    return 0, (handle, kdfa("sha256", salt, b"ATH", nonce_tpm, nonce_caller, 256), nonce_tpm)


def pcr_extend_with(tpm, session) -> tuple[int, bool]:
    """PCR_Extend(16) under the HMAC session: (response code, response HMAC verified)."""
    handle, key, nonce_tpm = session
    params = wire.digest_values({"sha256": os.urandom(32)})
    cp_hash = hashlib.sha256(wire.u32(CC_PCR_EXTEND) + wire.u32(16) + params).digest()
    nonce_caller, attrs = os.urandom(32), wire.u8(0x01)
    mac = hmac.new(key, cp_hash + nonce_caller + nonce_tpm + attrs, "sha256").digest()
    auth = wire.u32(handle) + wire.tpm2b(nonce_caller) + attrs + wire.tpm2b(mac)
    rsp = transact(tpm, wire.command(CC_PCR_EXTEND, wire.u32(16), params, [auth]))
    if rsp.rc != 0:
        return rsp.rc, False
    r = wire.Reader(rsp.body)
    assert r.u32() == 0
    new_nonce, r_attrs, r_mac = r.tpm2b(), r.take(1), r.tpm2b()
    rp_hash = hashlib.sha256(wire.u32(0) + wire.u32(CC_PCR_EXTEND)).digest()
    expected = hmac.new(key, rp_hash + new_nonce + nonce_caller + r_attrs, "sha256").digest()
    return 0, hmac.compare_digest(r_mac, expected)


def aes_cfb(key_iv: bytes, data: bytes, decrypt: bool = False) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    c = Cipher(algorithms.AES(key_iv[:16]), modes.CFB(key_iv[16:]))
    op = c.decryptor() if decrypt else c.encryptor()
    return op.update(data) + op.finalize()


def hash_with(tpm, session, data: bytes) -> tuple[int, bytes | None]:
    """TPM2_Hash with the salted session as a decrypt + encrypt session (Part 1, 21.3): data goes
    AES-CFB-encrypted under KDFa(sessionKey, "CFB", nonceCaller, nonceTPM), outHash comes back
    encrypted under KDFa(sessionKey, "CFB", nonceTPM', nonceCaller). Returns (rc, outHash as
    decrypted here, after the response HMAC has been checked)."""
    handle, key, nonce_tpm = session
    nonce_caller, attrs = os.urandom(32), wire.u8(0x61)        # continueSession | decrypt | encrypt
    enc = aes_cfb(kdfa("sha256", key, b"CFB", nonce_caller, nonce_tpm, 256), data)
    params = wire.tpm2b(enc) + wire.u16(0x0B) + wire.u32(wire.RH_OWNER)
    cp_hash = hashlib.sha256(wire.u32(CC_HASH) + params).digest()
    mac = hmac.new(key, cp_hash + nonce_caller + nonce_tpm + attrs, "sha256").digest()
    rsp = transact(tpm, wire.command(CC_HASH, b"", params, [wire.u32(handle) + wire.tpm2b(nonce_caller) + attrs
                                                             + wire.tpm2b(mac)]))
    if rsp.rc != 0:
        return rsp.rc, None
    r = wire.Reader(rsp.body)
    rp = r.take(r.u32())
    new_nonce, r_attrs, r_mac = r.tpm2b(), r.take(1), r.tpm2b()
    rp_hash = hashlib.sha256(wire.u32(0) + wire.u32(CC_HASH) + rp).digest()
    assert hmac.compare_digest(r_mac, hmac.new(key, rp_hash + new_nonce + nonce_caller + r_attrs, "sha256").digest())
    out = wire.Reader(rp).tpm2b()
    return 0, aes_cfb(kdfa("sha256", key, b"CFB", new_nonce, nonce_caller, 256), out, decrypt=True)


def salted_sequence(tpm) -> list[tuple[str, int]]:
    rcs: list[tuple[str, int]] = []
    known, qs = load_external(tpm, scalar(), EXT_DECRYPT)
    made, qs_made = create_primary(tpm, bn_template(DECRYPT_KEY, ALG_NULL, b""))
    for step, key, q in (("external", known, qs), ("primary", made, qs_made)):
        rc, session = salted_session(tpm, key, q)
        rcs.append((f"start {step}", rc))
        assert rc == 0, f"{tpm.name}: StartAuthSession {rc:#x}"
        rc, verified = pcr_extend_with(tpm, session)
        rcs.append((f"extend {step}", rc))
        assert rc == 0 and verified, f"{tpm.name}: {step}: {rc:#x}, response HMAC {verified}"
        flush(tpm, session[0])
    # Parameter encryption both ways with keys derived from the same sessionKey.
    rc, session = salted_session(tpm, known, qs, aes=True)
    assert rc == 0
    data = os.urandom(100)
    rc, out = hash_with(tpm, session, data)
    rcs.append(("hash encrypted", rc))
    assert rc == 0 and out == hashlib.sha256(data).digest(), f"{tpm.name}: decrypted outHash"
    flush(tpm, session[0])
    # A salt the TPM cannot have derived: the command HMAC fails.
    rc, session = salted_session(tpm, known, qs, wrong_z=True)
    assert rc == 0
    rcs.append(("extend wrong salt", pcr_extend_with(tpm, session)[0]))
    rcs.append(("start Qe off curve", salted_session(tpm, known, qs, qe_override=(1, 3))[0]))
    return rcs


def test_bnp256_salted_session(candidate_impl, swtpm_impl, tpm_factory):
    codes = differential(candidate_impl, swtpm_impl, tpm_factory, salted_sequence)
    # PCRs are exempt from dictionary-attack protection, so a failed HMAC is TPM_RC_BAD_AUTH (Part 1,
    # 19.6.17), not TPM_RC_AUTH_FAIL.
    assert codes["extend wrong salt"] == wire.rc_session(wire.RC_BAD_AUTH, 1)
    # An encryptedSalt point off the curve: both TPMs answer TPM_RC_VALUE + P2.
    assert codes["start Qe off curve"] == wire.rc_param(wire.RC_VALUE, 2)


# EC Schnorr (TPM_ALG_ECSCHNORR) as the TPM defines it (Part 4, CryptEccSignature.c; what libtpms and
# vtpm's ECCSignatures.swift compute): R = [k]G, r = H(x(R) as 32 octets || digest) truncated to the
# order's 32 octets (not reduced), s = k + r d mod n. Verified here as R' = [s]G - [r]Q and
# r == H(x(R') || digest); with d known, also k = s - r d mod n gives back R' = [k]G.

def schnorr_parts(rsp: wire.Response):
    r = wire.Reader(rsp.params())
    assert r.u16() == ALG_ECSCHNORR and r.u16() == 0x0B
    sig_r, sig_s = r.tpm2b(), r.tpm2b()
    assert r.done() and len(sig_r) <= 32 and len(sig_s) <= 32
    return int.from_bytes(sig_r, "big"), int.from_bytes(sig_s, "big")


def schnorr_verifies(q, digest: bytes, r: int, s: int) -> bool:
    if not (0 < r < N and 0 < s < N):
        return False
    rr = add(mul(s, G), neg(mul(r, q)))
    return rr is not None and int.from_bytes(hashlib.sha256(b32(rr[0]) + digest).digest(), "big") == r


def verify_signature(tpm, key: int, digest: bytes, r: int, s: int) -> int:
    sig = wire.u16(ALG_ECSCHNORR) + wire.u16(0x0B) + wire.tpm2b(b32(r)) + wire.tpm2b(b32(s))
    return transact(tpm, wire.command(CC_VERIFY_SIGNATURE, wire.u32(key), wire.tpm2b(digest) + sig)).rc


def schnorr_sequence(tpm) -> list[tuple[str, int]]:
    rcs: list[tuple[str, int]] = []
    d = scalar()
    known, q = load_external(tpm, d, EXT_SIGN)
    made, q_made = create_primary(tpm, bn_template(SIGN_KEY, ALG_ECSCHNORR, wire.u16(0x0B)))
    for i in range(4):
        digest = hashlib.sha256(b"bn schnorr %d " % i + os.urandom(8)).digest()
        for step, key, pub in (("known", known, q), ("primary", made, q_made)):
            # The known key has no scheme (inScheme names it); the primary's scheme is ECSCHNORR
            # (inScheme NULL takes it).
            rsp = sign(tpm, key, digest, scheme=ALG_ECSCHNORR if key == known else ALG_NULL)
            assert rsp.rc == 0, f"{tpm.name}: sign {step}: {rsp.rc:#x}"
            r, s = schnorr_parts(rsp)
            assert schnorr_verifies(pub, digest, r, s), f"{tpm.name}: Schnorr signature ({step}) does not verify"
            if key == known:
                k = (s - r * d) % N
                assert int.from_bytes(hashlib.sha256(b32(mul(k, G)[0]) + digest).digest(), "big") == r
            if i == 0:
                rcs.append((f"verify {step}", verify_signature(tpm, key, digest, r, s)))
                rcs.append((f"verify {step} bad s", verify_signature(tpm, key, digest, r, (s + 1) % N)))
                rcs.append((f"verify {step} other digest", verify_signature(tpm, key, bytes(32), r, s)))
    return rcs


def test_bnp256_ecschnorr(candidate_impl, swtpm_impl, tpm_factory):
    codes = differential(candidate_impl, swtpm_impl, tpm_factory, schnorr_sequence)
    assert codes["verify known"] == codes["verify primary"] == 0
    assert codes["verify known bad s"] == wire.rc_param(RC_SIGNATURE, 2)
    assert codes["verify primary other digest"] == wire.rc_param(RC_SIGNATURE, 2)


# TPM2_CertifyX509 (Part 3, 18.8) with BN-P256 keys. The subjectPublicKeyInfo of an ECC key names
# its curve by OID; vtpm has none for BN-P256 (X509Certificate.swift curveOID), so a BN-P256 object
# is refused; a BN-P256 signer only needs ecdsa-with-SHA256, which does not name the curve.

def certify_x509(tpm, obj: int, signer: int) -> wire.Response:
    from test_credentials import der
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    name = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]).public_bytes()  # noqa: E731
    validity = der(0x30, der(0x17, b"260101000000Z") + der(0x17, b"360101000000Z"))
    key_usage = der(0x30, bytes([6, 3, 0x55, 0x1D, 0x0F]) + der(1, b"\xff") + der(4, der(3, b"\x07\x80")))
    partial = der(0x30, name("bn CA") + validity + name("bn key") + der(0xA3, der(0x30, key_usage)))
    return transact(tpm, wire.command(CC_CERTIFY_X509, wire.u32(obj) + wire.u32(signer),
                                      wire.tpm2b(b"") + wire.u16(ALG_ECDSA) + wire.u16(0x0B) + wire.tpm2b(partial),
                                      [wire.pw_session(), wire.pw_session()]))


def x509_sequence(tpm) -> list[tuple[str, int]]:
    bn_d = scalar()
    bn, bn_q = load_external(tpm, bn_d, EXT_SIGN, ALG_ECDSA, wire.u16(0x0B))
    nist, _ = create_primary(tpm, ecc_template(SIGN_KEY, ALG_ECDSA, wire.u16(0x0B)))
    rcs = [("bn object, bn signer", certify_x509(tpm, bn, bn).rc),
           ("bn object, nist signer", certify_x509(tpm, bn, nist).rc)]
    rsp = certify_x509(tpm, nist, bn)
    rcs.append(("nist object, bn signer", rsp.rc))
    if rsp.rc == 0:
        # The ECDSA signature over tbsDigest verifies with the BN-P256 public key.
        r = wire.Reader(rsp.params())
        r.tpm2b()
        tbs_digest = r.tpm2b()
        sig = wire.Response(rsp.raw, rsp.tag, rsp.size, rsp.rc, wire.u32(len(r.data) - r.pos) + r.data[r.pos:])
        assert ecdsa_verifies(bn_q, tbs_digest, sig), f"{tpm.name}: CertifyX509 signature"
    return rcs


def test_bnp256_certify_x509(candidate_impl, swtpm_impl, tpm_factory):
    ref = tpm_factory(swtpm_impl, "swtpm", name="ref")
    cand = tpm_factory(candidate_impl, "swtpm", name="cand")
    expected, got = dict(x509_sequence(ref)), dict(x509_sequence(cand))
    # Both refuse a BN-P256 object with TPM_RC_ASYMMETRIC (the reference's X509AddPublicKey knows no
    # BN-P256 OID either); libtpms 0.9 numbers objectHandle as handle 2 (docs/deviations.md, D20).
    refused = {"swtpm": wire.rc_handle(RC_ASYMMETRIC, 2)}.get(candidate_impl.name, wire.rc_handle(RC_ASYMMETRIC, 1))
    assert expected == {"bn object, bn signer": wire.rc_handle(RC_ASYMMETRIC, 2),
                        "bn object, nist signer": wire.rc_handle(RC_ASYMMETRIC, 2), "nist object, bn signer": 0}
    assert got == {"bn object, bn signer": refused, "bn object, nist signer": refused, "nist object, bn signer": 0}
