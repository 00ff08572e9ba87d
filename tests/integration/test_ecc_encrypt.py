"""TPM2_ECC_Encrypt and TPM2_ECC_Decrypt (Part 3 rev 1.59, 14.8-14.9) against an implementation
written here from the specification (Part 4's CryptEccEncrypt/CryptEccDecrypt): C1 = [k]G,
(x2, y2) = [k]Q with each coordinate padded to the curve's size, C2 = M xor KDF2(H, x2 || y2),
C3 = H(x2 || M || y2). Point arithmetic is plain affine Python checked against `cryptography`;
the KDF and digests are hashlib. libtpms 0.9 (swtpm) does not implement the commands: it
answers TPM_RC_COMMAND_CODE, which is asserted so that a libtpms that gains them is noticed."""
from __future__ import annotations

import hashlib
import os
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from harness import wire

pytestmark = pytest.mark.transports("swtpm")

u16 = lambda v: struct.pack(">H", v)  # noqa: E731
u32 = lambda v: struct.pack(">I", v)  # noqa: E731
tpm2b = wire.tpm2b

CURVES = {
    # TPM_ECC_CURVE: (curve, p, a, n, size, TPM_ALG hash, hashlib name)
    0x0003: (ec.SECP256R1(), 2**256 - 2**224 + 2**192 + 2**96 - 1, -3,
             0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551, 32, 0x000B, "sha256"),
    0x0004: (ec.SECP384R1(), 2**384 - 2**128 - 2**96 + 2**32 - 1, -3,
             0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973, 48,
             0x000C, "sha384"),
}


def add(P, Q, p, a):
    if P is None:
        return Q
    if Q is None:
        return P
    if P[0] == Q[0] and (P[1] + Q[1]) % p == 0:
        return None
    if P == Q:
        lam = (3 * P[0] * P[0] + a) * pow(2 * P[1], -1, p) % p
    else:
        lam = (Q[1] - P[1]) * pow(Q[0] - P[0], -1, p) % p
    x = (lam * lam - P[0] - Q[0]) % p
    return x, (lam * (P[0] - x) - P[1]) % p


def mul(k, P, p, a):
    R = None
    for bit in bin(k)[2:]:
        R = add(R, R, p, a)
        if bit == "1":
            R = add(R, P, p, a)
    return R


def kdf2(h: str, z: bytes, n: int) -> bytes:
    out, i = b"", 1
    while len(out) < n:
        out += hashlib.new(h, z + u32(i)).digest()
        i += 1
    return out[:n]


def load_key(t, curve_id: int, priv):
    """LoadExternal of an unrestricted decryption key (userWithAuth|decrypt, nameAlg SHA-256)."""
    size = CURVES[curve_id][4]
    pn = priv.public_key().public_numbers()
    public = u16(0x23) + u16(0xB) + u32(0x20040) + tpm2b(b"") + u16(0x10) + u16(0x10) + u16(curve_id) + u16(0x10) \
        + tpm2b(pn.x.to_bytes(size, "big")) + tpm2b(pn.y.to_bytes(size, "big"))
    sensitive = u16(0x23) + tpm2b(b"") + tpm2b(b"") + tpm2b(priv.private_numbers().private_value.to_bytes(size, "big"))
    r = t.transact(wire.command(0x167, params=tpm2b(sensitive) + tpm2b(public) + u32(wire.RH_NULL)))
    assert r.rc == 0, hex(r.rc)
    return r.body[:4]


def point_bytes(x: int, y: int, size: int) -> bytes:
    return tpm2b(tpm2b(x.to_bytes(size, "big")) + tpm2b(y.to_bytes(size, "big")))


def test_swtpm_lacks_ecc_encrypt(swtpm_impl, tpm_factory):
    t = tpm_factory(swtpm_impl, "swtpm", name="ref")
    for cc in (0x199, 0x19A):
        assert t.transact(wire.command(cc, u32(0x80000000))).rc == wire.RC_COMMAND_CODE


@pytest.mark.parametrize("curve_id", [0x0003, 0x0004])
def test_ecc_encrypt_matches_the_specification(candidate_impl, tpm_factory, curve_id):
    if candidate_impl.name == "swtpm":
        pytest.skip("libtpms 0.9 does not implement TPM2_ECC_Encrypt")
    curve, p, a, n, size, alg, hname = CURVES[curve_id]
    t = tpm_factory(candidate_impl, "swtpm", name="cand")
    priv = ec.generate_private_key(curve)
    d = priv.private_numbers().private_value
    pn = priv.public_key().public_numbers()
    G = ec.derive_private_key(1, curve).public_key().public_numbers()
    G = (G.x, G.y)
    assert mul(d, G, p, a) == (pn.x, pn.y)  # the Python arithmetic agrees with `cryptography`
    key = load_key(t, curve_id, priv)
    scheme = u16(0x0021) + u16(alg)  # TPM_ALG_KDF2 with the curve's hash

    for message in (b"", b"x", os.urandom(200), os.urandom(1024)):
        # The TPM encrypts; Python decrypts with the private scalar.
        r = t.transact(wire.command(0x199, key, tpm2b(message) + scheme))
        assert r.rc == 0, hex(r.rc)
        rd = wire.Reader(r.params())
        c1 = wire.Reader(rd.tpm2b())
        x1, y1 = int.from_bytes(c1.tpm2b(), "big"), int.from_bytes(c1.tpm2b(), "big")
        c2, c3 = rd.tpm2b(), rd.tpm2b()
        assert rd.done() and c1.done()
        x2, y2 = mul(d, (x1, y1), p, a)
        x2b, y2b = x2.to_bytes(size, "big"), y2.to_bytes(size, "big")
        plain = bytes(u ^ v for u, v in zip(c2, kdf2(hname, x2b + y2b, len(c2))))
        assert plain == message
        assert c3 == hashlib.new(hname, x2b + message + y2b).digest()

        # Python encrypts; the TPM decrypts.
        k = int.from_bytes(os.urandom(size + 8), "big") % (n - 1) + 1
        C1 = mul(k, G, p, a)
        x2, y2 = mul(k, (pn.x, pn.y), p, a)
        x2b, y2b = x2.to_bytes(size, "big"), y2.to_bytes(size, "big")
        c2 = bytes(u ^ v for u, v in zip(message, kdf2(hname, x2b + y2b, len(message))))
        c3 = hashlib.new(hname, x2b + message + y2b).digest()
        params = point_bytes(C1[0], C1[1], size) + tpm2b(c2) + tpm2b(c3) + scheme
        r = t.transact(wire.command(0x19A, key, params, [wire.pw_session()]))
        assert r.rc == 0, hex(r.rc)
        assert wire.Reader(r.params()).tpm2b() == message
        # A wrong C3 is TPM_RC_VALUE.
        bad = point_bytes(C1[0], C1[1], size) + tpm2b(c2) + tpm2b(bytes(len(c3))) + scheme
        assert t.transact(wire.command(0x19A, key, bad, [wire.pw_session()])).rc == wire.RC_VALUE
