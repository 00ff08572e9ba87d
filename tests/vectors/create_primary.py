#!/usr/bin/env python3
"""Known answers for TPM2_CreatePrimary (docs/primary-keys.md, section 4): the whole public area
the engine must return for a template and a primary seed, computed from the document alone with
no code shared with the engine: the TPMT_PUBLIC marshalled by hand (Part 2), KDFa with Python's
hmac, primality by sympy.isprime, ECC points by `cryptography`. Prints the Swift vectors that
Tests/TPMEngineTests/ObjectPrimaryKeyTests.swift embeds.
Run: python3 tests/vectors/create_primary.py
"""
import hashlib
import hmac
import math
import struct

import sympy
from cryptography.hazmat.primitives.asymmetric import ec

SHA256 = hashlib.sha256
LABEL = b"Primary Object Creation"
SEEDS = {
    "owner": hashlib.sha512(b"vtpm test storage primary seed").digest(),
    "endorsement": hashlib.sha512(b"vtpm test endorsement primary seed").digest(),
    "platform": hashlib.sha512(b"vtpm test platform primary seed").digest(),
}
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def kdfa(h, key, label, u, v, bits):
    out, i = b"", 1
    while len(out) * 8 < bits:
        out += hmac.new(key, i.to_bytes(4, "big") + label + b"\x00" + u + v + bits.to_bytes(4, "big"), h).digest()
        i += 1
    out = bytearray(out[:(bits + 7) // 8])
    if bits % 8:
        out[0] &= (1 << (bits % 8)) - 1
    return bytes(out)


class Source:
    def __init__(self, h, seed, u, v):
        self.h, self.seed, self.u, self.v, self.counter = h, seed, u, v, 0

    def bits(self, b):
        self.counter += 1
        return kdfa(self.h, self.seed, LABEL, self.u, self.v + self.counter.to_bytes(4, "big"), b)


def b2(x):
    return struct.pack(">H", len(x)) + x


def find_prime(src, b, e, accept=lambda c: True):
    for _ in range(32 * b):
        c = int.from_bytes(src.bits(b), "big") | (1 << (b - 1)) | (1 << (b - 2)) | 1
        if math.gcd(c - 1, e) == 1 and sympy.isprime(c) and accept(c):
            return c
    raise RuntimeError("no prime")


def rsa_modulus(src, nbits, e=65537):
    b = nbits // 2
    p = find_prime(src, b, e)

    def accept_q(q):
        if abs(p - q) <= 1 << (b - 100):
            return False
        lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
        return math.gcd(e, lam) == 1 and pow(e, -1, lam) > 1 << b
    q = find_prime(src, b, e, accept_q)
    return (p * q).to_bytes(nbits // 8, "big")


def p256_point(src):
    for _ in range(64):
        c = int.from_bytes(src.bits(256), "big")
        if c <= P256_N - 2:
            pub = ec.derive_private_key(c + 1, ec.SECP256R1()).public_key().public_numbers()
            return pub.x.to_bytes(32, "big"), pub.y.to_bytes(32, "big")
    raise RuntimeError("no scalar")


# BN-P256 (TCG Algorithm Registry): y^2 = x^3 + 3 over GF(p), G = (1, 2); `cryptography` has no
# BN curves, so affine double-and-add here.
BN_P = 0xFFFFFFFFFFFCF0CD46E5F25EEE71A49F0CDC65FB12980A82D3292DDBAED33013
BN_N = 0xFFFFFFFFFFFCF0CD46E5F25EEE71A49E0CDC65FB1299921AF62D536CD10B500D


def bn_add(p1, p2):
    if p1 is None or p2 is None:
        return p2 if p1 is None else p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % BN_P == 0:
        return None
    lam = (3 * x1 * x1 * pow(2 * y1, -1, BN_P) if p1 == p2 else (y2 - y1) * pow(x2 - x1, -1, BN_P)) % BN_P
    x3 = (lam * lam - x1 - x2) % BN_P
    return x3, (lam * (x1 - x3) - y1) % BN_P


def bnp256_point(src):
    for _ in range(64):
        c = int.from_bytes(src.bits(256), "big")
        if c <= BN_N - 2:
            out = None
            for bit in bin(c + 1)[2:]:
                out = bn_add(out, out)
                if bit == "1":
                    out = bn_add(out, (1, 2))
            return out[0].to_bytes(32, "big"), out[1].to_bytes(32, "big")
    raise RuntimeError("no scalar")


def public(type_, attrs, parms, unique, name_alg=0x000B, policy=b""):
    return struct.pack(">HHI", type_, name_alg, attrs) + b2(policy) + parms + unique


STORAGE = 0x00030072   # fixedTPM fixedParent sensitiveDataOrigin userWithAuth restricted decrypt
SIGNING = 0x00040072   # fixedTPM fixedParent sensitiveDataOrigin userWithAuth sign
SEAL = 0x00000452      # fixedTPM fixedParent userWithAuth noDA
SYMKEY = 0x00060072    # fixedTPM fixedParent sensitiveDataOrigin userWithAuth decrypt sign

cases = []

# 1. RSA-2048 storage key (AES-128-CFB, no scheme, exponent 0) in the owner hierarchy.
parms = struct.pack(">HHH", 0x0006, 128, 0x0043) + struct.pack(">H", 0x0010) + struct.pack(">HI", 2048, 0)
tmpl = public(0x0001, STORAGE, parms, b2(b""))
src = Source(SHA256, SEEDS["owner"], SHA256(tmpl).digest(), b"")
cases.append(("rsa2048Storage", "owner", tmpl, b"", public(0x0001, STORAGE, parms, b2(rsa_modulus(src, 2048)))))

# 2. ECC P-256 ECDSA-SHA256 signing key, endorsement hierarchy, inSensitive.data "abc".
parms = struct.pack(">H", 0x0010) + struct.pack(">HH", 0x0018, 0x000B) + struct.pack(">H", 0x0003) + struct.pack(">H", 0x0010)
tmpl = public(0x0023, SIGNING, parms, b2(b"") + b2(b""))
src = Source(SHA256, SEEDS["endorsement"], SHA256(tmpl).digest(), b"abc")
x, y = p256_point(src)
cases.append(("eccP256Signing", "endorsement", tmpl, b"abc", public(0x0023, SIGNING, parms, b2(x) + b2(y))))

# 3. KEYEDHASH HMAC-SHA256 key made by the TPM, platform hierarchy: key = request 1 (32 octets),
#    seedValue = request 2, unique = SHA-256(seedValue || key).
parms = struct.pack(">HH", 0x0005, 0x000B)
tmpl = public(0x0008, SIGNING, parms, b2(b""))
src = Source(SHA256, SEEDS["platform"], SHA256(tmpl).digest(), b"")
key = src.bits(256)
seed = src.bits(256)
cases.append(("hmacKey", "platform", tmpl, b"", public(0x0008, SIGNING, parms, b2(SHA256(seed + key).digest()))))

# 4. Sealed data in the owner hierarchy: the data is the caller's, seedValue = request 1.
parms = struct.pack(">H", 0x0010)
tmpl = public(0x0008, SEAL, parms, b2(b""))
src = Source(SHA256, SEEDS["owner"], SHA256(tmpl).digest(), b"sealed secret")
seed = src.bits(256)
cases.append(("sealedData", "owner", tmpl, b"sealed secret",
              public(0x0008, SEAL, parms, b2(SHA256(seed + b"sealed secret").digest()))))

# 5. SYMCIPHER AES-128-CFB made by the TPM, owner hierarchy: key = request 1 (128 bits),
#    seedValue = request 2, unique = SHA-256(seedValue || key).
parms = struct.pack(">HHH", 0x0006, 128, 0x0043)
tmpl = public(0x0025, SYMKEY, parms, b2(b""))
src = Source(SHA256, SEEDS["owner"], SHA256(tmpl).digest(), b"")
key = src.bits(128)
seed = src.bits(256)
cases.append(("aesKey", "owner", tmpl, b"", public(0x0025, SYMKEY, parms, b2(SHA256(seed + key).digest()))))

# 6. ECC BN-P256 ECDAA-SHA256 (count 0) signing key, endorsement hierarchy.
parms = (struct.pack(">H", 0x0010) + struct.pack(">HHH", 0x001A, 0x000B, 0) + struct.pack(">H", 0x0010)
         + struct.pack(">H", 0x0010))
tmpl = public(0x0023, SIGNING, parms, b2(b"") + b2(b""))
src = Source(SHA256, SEEDS["endorsement"], SHA256(tmpl).digest(), b"")
x, y = bnp256_point(src)
cases.append(("eccBNP256ECDAA", "endorsement", tmpl, b"", public(0x0023, SIGNING, parms, b2(x) + b2(y))))

print("// Generated by tests/vectors/create_primary.py: TPM2_CreatePrimary's public area for a")
print("// template and a primary seed (docs/primary-keys.md, section 4). Frozen with the derivation.")
print("enum CreatePrimaryVectors {")
for name, seedname in (("storageSeed", "owner"), ("endorsementSeed", "endorsement"), ("platformSeed", "platform")):
    print(f'    static let {name} = "{SEEDS[seedname].hex()}"')
print("    struct Case { let name: String, hierarchy: String, template: String, data: String, publicArea: String }")
print("    static let cases: [Case] = [")
for name, hier, tmpl, data, pub in cases:
    print(f'        Case(name: "{name}", hierarchy: "{hier}", template: "{tmpl.hex()}", data: "{data.hex()}",')
    lines = [pub.hex()[i:i + 100] for i in range(0, len(pub.hex()), 100)]
    print('             publicArea: """')
    for ln in lines[:-1]:
        print(f"                 {ln}\\")
    print(f"                 {lines[-1]}")
    print('                 """),')
print("    ]")
print("}")
