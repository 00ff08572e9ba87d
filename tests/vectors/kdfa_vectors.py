#!/usr/bin/env python3
"""Prints the KDFa expectations used in Tests/TPMCryptoTests/KDFTests.swift, computed with an
implementation that is not ours: the `cryptography` package's SP 800-108 KBKDFHMAC, in
counter mode with a 32-bit counter before the fixed data (label || 0x00 || context || [L]32),
which is exactly TPM 2.0 KDFa (Part 1, 11.4.10.2) with context = contextU || contextV."""
import hmac
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.kbkdf import CounterLocation, KBKDFHMAC, Mode


def kdfa(h, key, label, u, v, bits):
    return KBKDFHMAC(algorithm=h, mode=Mode.CounterMode, length=bits // 8, rlen=4, llen=4,
                     location=CounterLocation.BeforeFixed, label=label, context=u + v,
                     fixed=None).derive(key)


print(kdfa(hashes.SHA256(), bytes(range(32)), b"STORAGE", b"\x01" * 32, b"\x02" * 16, 256).hex())
print(kdfa(hashes.SHA1(), b"secret key", b"CFB", b"abc", b"", 128).hex())
print(kdfa(hashes.SHA512(), bytes(64), b"KDF label", b"", b"", 1024).hex())
print(kdfa(hashes.SHA384(), b"k", b"ATH", b"nonceA", b"nonceB", 384).hex())
# 250 bits: KBKDFHMAC cannot express L=250, so compute the single block directly.
d = bytearray(hmac.new(b"key", struct.pack(">I", 1) + b"TEST\x00" + struct.pack(">I", 250), "sha256").digest())
d[0] &= 0x03
print(d.hex())
