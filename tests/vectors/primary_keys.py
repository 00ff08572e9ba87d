#!/usr/bin/env python3
"""Prints Tests/TPMCryptoTests/PrimaryKeyVectors.swift: the frozen primary-key derivation of
docs/primary-keys.md re-implemented from that document, with no code shared with TPMCrypto:
KDFa with Python's hmac (checked against `cryptography`'s SP 800-108 KBKDFHMAC), primality by
sympy.isprime (BPSW, deterministic) and `openssl prime`, ECC public points by `cryptography`,
curve orders from `openssl ecparam`; BN-P256 (no OpenSSL name) from its TCG Algorithm Registry
parameters with affine double-and-add written here.
Run: python3 tests/vectors/primary_keys.py > Tests/TPMCryptoTests/PrimaryKeyVectors.swift
"""
import hashlib
import hmac
import math
import re
import subprocess

import sympy
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.kbkdf import CounterLocation, KBKDFHMAC, Mode

HASH = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}


def kdfa(h, key, label, u, v, bits):
    """Part 1, 11.4.10.2: HMAC([i]32 || label || 00 || u || v || [bits]32), first bits."""
    out, i = b"", 1
    while len(out) * 8 < bits:
        out += hmac.new(key, i.to_bytes(4, "big") + label + b"\x00" + u + v + bits.to_bytes(4, "big"), h).digest()
        i += 1
    out = bytearray(out[:(bits + 7) // 8])
    if bits % 8:
        out[0] &= (1 << (bits % 8)) - 1
    return bytes(out)


assert kdfa(hashlib.sha256, b"k", b"L", b"u", b"v", 512) == KBKDFHMAC(
    algorithm=hashes.SHA256(), mode=Mode.CounterMode, length=64, rlen=4, llen=4, location=CounterLocation.BeforeFixed,
    label=b"L", context=b"uv", fixed=None).derive(b"k")


class Source:
    """Request j (from 1) for b bits = KDFa(hash, seed, label, contextU, contextV || [j]32, b)."""

    def __init__(self, h, seed, label, u, v):
        self.h, self.seed, self.label, self.u, self.v, self.counter = h, seed, label, u, v, 0

    def bits(self, b):
        self.counter += 1
        return int.from_bytes(kdfa(self.h, self.seed, self.label, self.u, self.v + self.counter.to_bytes(4, "big"), b), "big")


def find_prime(src, b, e, accept=lambda c: True):
    for _ in range(32 * b):
        c = src.bits(b) | (1 << (b - 1)) | (1 << (b - 2)) | 1
        if math.gcd(c - 1, e) == 1 and sympy.isprime(c) and accept(c):
            return c
    raise RuntimeError("no prime")


def rsa(h, seed, label, u, v, nbits, e):
    src = Source(h, seed, label, u, v)
    b = nbits // 2
    p = find_prime(src, b, e)
    p_counter = src.counter

    def accept_q(q):
        if abs(p - q) <= 1 << (b - 100):
            return False
        lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
        return math.gcd(e, lam) == 1 and pow(e, -1, lam) > 1 << b
    q = find_prime(src, b, e, accept_q)
    for x in (p, q):
        r = subprocess.run(["openssl", "prime", "-hex", format(x, "x")], capture_output=True, text=True, check=True)
        assert r.stdout.strip().endswith("is prime"), r.stdout
    assert (p * q).bit_length() == nbits
    return p, q, p_counter, src.counter


def order(name):
    text = subprocess.run(["openssl", "ecparam", "-name", name, "-param_enc", "explicit", "-text", "-noout"],
                          capture_output=True, text=True, check=True).stdout
    m = re.search(r"Order:\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
    return int(re.sub(r"[\s:]", "", m.group(1)), 16)


CURVES = {"nistP256": ("prime256v1", ec.SECP256R1(), 256), "nistP384": ("secp384r1", ec.SECP384R1(), 384),
          "nistP521": ("secp521r1", ec.SECP521R1(), 521), "bnP256": (None, None, 256)}


# BN-P256 (TCG Algorithm Registry, TPM_ECC_BN_P256): y^2 = x^3 + 3 over GF(p), G = (1, 2), h = 1.
BN_P = 0xFFFFFFFFFFFCF0CD46E5F25EEE71A49F0CDC65FB12980A82D3292DDBAED33013
BN_N = 0xFFFFFFFFFFFCF0CD46E5F25EEE71A49E0CDC65FB1299921AF62D536CD10B500D


def bn_add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % BN_P == 0:
        return None
    if p1 == p2:
        lam = 3 * x1 * x1 * pow(2 * y1, -1, BN_P) % BN_P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, BN_P) % BN_P
    x3 = (lam * lam - x1 - x2) % BN_P
    return x3, (lam * (x1 - x3) - y1) % BN_P


def bn_mul(k, pt):
    out = None
    for bit in bin(k)[2:]:
        out = bn_add(out, out)
        if bit == "1":
            out = bn_add(out, pt)
    return out


class BNPub:
    def __init__(self, d):
        self.x, self.y = bn_mul(d, (1, 2))


def ecc(h, seed, label, u, v, curve):
    name, crv, bits = CURVES[curve]
    n = order(name) if crv is not None else BN_N
    src = Source(h, seed, label, u, v)
    for _ in range(64):
        c = src.bits(bits)
        if c <= n - 2:
            d = c + 1
            pub = ec.derive_private_key(d, crv).public_key().public_numbers() if crv is not None else BNPub(d)
            return d, pub.x, pub.y, src.counter, (bits + 7) // 8
    raise RuntimeError("no scalar")


out = []


def emit(name, value):
    if isinstance(value, bytes):
        value = value.hex()
    if isinstance(value, str) and len(value) > 100:
        lines = [value[i:i + 112] for i in range(0, len(value), 112)]
        out.append(f'        {name}: """')
        out.extend(f"            {line}\\" for line in lines[:-1])
        out.append(f"            {lines[-1]}")
        out.append('            """,')
    elif isinstance(value, str):
        out.append(f'        {name}: "{value}",')
    else:
        out.append(f"        {name}: {value},")


def hexint(x, size):
    return x.to_bytes(size, "big").hex()


EPS = hashlib.sha512(b"vtpm test endorsement primary seed").digest()
SPS = hashlib.sha512(b"vtpm test storage primary seed").digest()
TEMPLATE = hashlib.sha256(b"a template").digest()
LABEL = "Primary Object Creation"

RSA_CASES = [
    ("sha256", EPS, LABEL, TEMPLATE, b"", 2048, 65537),
    ("sha1", SPS, "TEST", hashlib.sha1(b"t").digest(), b"", 1024, 3),
    ("sha384", SPS, LABEL, hashlib.sha384(b"x").digest(), b"sensitive data", 3072, 65537),
    ("sha512", EPS, LABEL, hashlib.sha512(b"y").digest(), b"", 4096, 65537),
]
ECC_CASES = [
    ("sha256", EPS, LABEL, TEMPLATE, b"", "nistP256"),
    ("sha384", SPS, LABEL, hashlib.sha384(b"x").digest(), b"sensitive data", "nistP384"),
    ("sha512", EPS, "TEST", b"", b"", "nistP521"),
    ("sha1", SPS, LABEL, hashlib.sha1(b"t").digest(), b"", "nistP256"),
    ("sha256", EPS, LABEL, hashlib.sha256(b"bn").digest(), b"", "bnP256"),
    ("sha256", SPS, "TEST", b"", b"daa", "bnP256"),
]

print("// Generated by tests/vectors/primary_keys.py (an independent implementation of")
print("// docs/primary-keys.md). Do not edit: these values are frozen with the algorithm.")
print("enum PrimaryKeyVectors {")
print("    struct RSA {")
print("        let hash: String, seed: String, label: String, contextU: String, contextV: String")
print("        let modulusBits: Int, exponent: UInt32")
print("        let p: String, q: String, pCounter: UInt32, qCounter: UInt32")
print("    }")
print("    struct ECC {")
print("        let hash: String, seed: String, label: String, contextU: String, contextV: String, curve: String")
print("        let d: String, x: String, y: String, counter: UInt32")
print("    }")
print("    static let rsa: [RSA] = [")
for h, seed, label, u, v, nbits, e in RSA_CASES:
    p, q, pc, qc = rsa(HASH[h], seed, label.encode(), u, v, nbits, e)
    out.append("        RSA(")
    for k, val in (("hash", h), ("seed", seed), ("label", label), ("contextU", u), ("contextV", v),
                   ("modulusBits", nbits), ("exponent", e), ("p", hexint(p, nbits // 16)), ("q", hexint(q, nbits // 16)),
                   ("pCounter", pc), ("qCounter", qc)):
        emit(k, val)
    out[-1] = out[-1].rstrip(",")
    out.append("        ),")
print("\n".join(f"    {line}" for line in out))
out.clear()
print("    ]")
print("    static let ecc: [ECC] = [")
for h, seed, label, u, v, curve in ECC_CASES:
    d, x, y, c, size = ecc(HASH[h], seed, label.encode(), u, v, curve)
    out.append("        ECC(")
    for k, val in (("hash", h), ("seed", seed), ("label", label), ("contextU", u), ("contextV", v), ("curve", curve),
                   ("d", hexint(d, size)), ("x", hexint(x, size)), ("y", hexint(y, size)), ("counter", c)):
        emit(k, val)
    out[-1] = out[-1].rstrip(",")
    out.append("        ),")
print("\n".join(f"    {line}" for line in out))
print("    ]")
print("}")
