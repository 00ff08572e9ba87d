#!/usr/bin/env python3
"""Prints the KDFe, KDF2 and MGF1 expectations in Tests/TPMCryptoTests/KDFeTests.swift.

KDFe (Part 1, 11.4.10.3) is the SP 800-56A concatenation KDF with
OtherInfo = use || 0x00 || partyUInfo || partyVInfo: computed here with `cryptography`'s
ConcatKDFHash, an independent implementation. KDF2 is ANSI X9.63 (`cryptography`'s X963KDF).
MGF1 (RFC 8017 B.2.1) is written out with hashlib.
"""
import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF


def kdfe(h, z, use, u, v, nbytes):
    return ConcatKDFHash(algorithm=h, length=nbytes, otherinfo=use + b"\x00" + u + v).derive(z)


z = bytes.fromhex("46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b")  # CAVP P-256 Z
u = bytes(range(32))
v = bytes(range(32, 64))
print("kdfe sha256 DUPLICATE 128:", kdfe(hashes.SHA256(), z, b"DUPLICATE", u, v, 16).hex())
print("kdfe sha256 SECRET 256:", kdfe(hashes.SHA256(), z, b"SECRET", u, v, 32).hex())
print("kdfe sha1 IDENTITY 320:", kdfe(hashes.SHA1(), z, b"IDENTITY", u, b"", 40).hex())
print("kdfe sha384 STORAGE 1024:", kdfe(hashes.SHA384(), z + z, b"STORAGE", b"", v, 128).hex())
# 250 bits: the first 32 octets with the top 6 bits cleared
d = bytearray(kdfe(hashes.SHA512(), z, b"X", u, v, 32))
d[0] &= 0x03
print("kdfe sha512 X 250 bits:", d.hex())
print("kdf2 sha256 100:", X963KDF(algorithm=hashes.SHA256(), length=100, sharedinfo=b"other info").derive(z).hex())


def mgf1(h, seed, n):
    out, c = b"", 0
    while len(out) < n:
        out += h(seed + c.to_bytes(4, "big")).digest()
        c += 1
    return out[:n]


print("mgf1 sha1 50:", mgf1(hashlib.sha1, b"seed", 50).hex())
print("mgf1 sha256 107:", mgf1(hashlib.sha256, z, 107).hex())
