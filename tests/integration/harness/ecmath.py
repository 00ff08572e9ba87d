"""Short-Weierstrass curve arithmetic (y^2 = x^3 + ax + b over GF(p)), written from the textbook
formulas, so tests check the TPM's ECC results (Commit's K/L/E, ECDAA and ECDSA signatures, ZGen
points) with arithmetic that shares nothing with vtpm's OpenSSL-based code. Slow and not constant
time: test use only."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

Point = tuple[int, int] | None  # None is the point at infinity


@dataclass(frozen=True)
class Curve:
    p: int
    a: int
    b: int
    n: int
    g: tuple[int, int]

    def on_curve(self, pt: tuple[int, int]) -> bool:
        x, y = pt
        return x < self.p and y < self.p and (y * y - (x * x * x + self.a * x + self.b)) % self.p == 0

    def add(self, p1: Point, p2: Point) -> Point:
        if p1 is None:
            return p2
        if p2 is None:
            return p1
        (x1, y1), (x2, y2) = p1, p2
        p = self.p
        if x1 == x2 and (y1 + y2) % p == 0:
            return None
        if p1 == p2:
            lam = (3 * x1 * x1 + self.a) * pow(2 * y1, -1, p) % p
        else:
            lam = (y2 - y1) * pow(x2 - x1, -1, p) % p
        x3 = (lam * lam - x1 - x2) % p
        return x3, (lam * (x1 - x3) - y1) % p

    def mul(self, k: int, pt: Point) -> Point:
        out = None
        for bit in bin(k % self.n)[2:]:
            out = self.add(out, out)
            if bit == "1":
                out = self.add(out, pt)
        return out

    def neg(self, pt: tuple[int, int]) -> tuple[int, int]:
        return pt[0], (-pt[1]) % self.p


def avf(curve: Curve, x: int) -> int:
    """SP 800-56A rev 3, 5.7.2.3, the associate value function: (x mod 2^f) + 2^f with
    f = ceil(ceil(log2 n) / 2)."""
    f = (curve.n.bit_length() + 1) // 2
    return (x % (1 << f)) + (1 << f)


def kdfe(hash_name: str, z: bytes, use: bytes, party_u: bytes, party_v: bytes, nbytes: int) -> bytes:
    """Part 1, 11.4.10.3 (KDFe, SP 800-56A's concatenation KDF): H(counter || Z || use || 0x00 ||
    partyUInfo || partyVInfo) for counter = 1, 2, ..., truncated to nbytes."""
    label = use if use.endswith(b"\0") else use + b"\0"
    out, i = b"", 1
    while len(out) < nbytes:
        out += hashlib.new(hash_name, i.to_bytes(4, "big") + z + label + party_u + party_v).digest()
        i += 1
    return out[:nbytes]


def kdfa(hash_name: str, key: bytes, label: bytes, context_u: bytes, context_v: bytes, bits: int) -> bytes:
    """Part 1, 11.4.10.2 (KDFa, SP 800-108 counter mode with HMAC): HMAC(key, counter || label ||
    0x00 || contextU || contextV || bits), counter = 1, 2, ..., truncated to bits / 8 octets."""
    label = label if label.endswith(b"\0") else label + b"\0"
    out, i = b"", 1
    while len(out) < (bits + 7) // 8:
        out += hmac.new(key, i.to_bytes(4, "big") + label + context_u + context_v + bits.to_bytes(4, "big"),
                        hash_name).digest()
        i += 1
    return out[:(bits + 7) // 8]
