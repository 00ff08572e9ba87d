"""Short-Weierstrass curve arithmetic (y^2 = x^3 + ax + b over GF(p)), written from the textbook
formulas, so tests check the TPM's ECC results (Commit's K/L/E, ECDAA and ECDSA signatures, ZGen
points) with arithmetic that shares nothing with vtpm's OpenSSL-based code. Slow and not constant
time: test use only."""
from __future__ import annotations

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
