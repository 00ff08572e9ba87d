#!/usr/bin/env python3
"""Asks libtpms (through a running swtpm) how it signs with RSASSA and RSAPSS, for the 2048-bit
key of rsa_vectors.py and the 1024-bit key of pss-vect.txt Example 1, loaded with
TPM2_LoadExternal. Prints, per hash, the PSS salt length recovered from libtpms's signature and
the start of its (deterministic) RSASSA signature, which must equal RSAVectors.pkcs1v15_*.
Observed with libtpms 0.9.2: salt = min(hLen, emLen - hLen - 2), i.e. 20/32/48/64 octets for
2048 bits and 20/32/48/62 for 1024 bits (RSATests.testPSSSaltShrinksForSmallKeys).

Start swtpm as in aes_libtpms_oracle.py, then: python3 tests/vectors/rsa_libtpms_oracle.py PORT
"""
import hashlib
import socket
import struct
import sys

from cryptography.hazmat.primitives.asymmetric import rsa

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 2321
P2048 = int("cfce3287fccc23964c0053353483ecb7dcd332ab6d68e5a2fe5ea1a3224aa0fddd1dbca9fc4d4dcc670e054ab0ef6e54"
            "93439073d6c17c3240f5d5139d700ce78d995e05855db4dc06dfa3fcb8a51770de84af9114da703885c7b7d7456efe7e6a"
            "75869b9dc99742a420ffc9fbc809ffff7445034136e0e66e541a3d0b205777", 16)
Q2048 = int("bba99882e0dbc40ad84e0b35b2caf4bc0e8c3b5bd53ab50936aa38a587622ca5ecc525c514eb4ff75320e68415df2bff"
            "97d2c969725b0292885a56583154abe781acec1abf9116dbeccb7ba442b51f3318eb03e90ae6797a4e32b04dd75b3ad403"
            "63a910d67362507eebe751fa1874d996064ee145632815e90566b69677e7e9", 16)
N1 = int("a56e4a0e701017589a5187dc7ea841d156f2ec0e36ad52a44dfeb1e61f7ad991d8c51056ffedb162b4c0f283a12a88a3"
         "94dff526ab7291cbb307ceabfce0b1dfd5cd9508096d5b2b8b6df5d671ef6377c0921cb23c270a70e2598e6ff89d19f1"
         "05acc2d3f0cb35f29280e1386b6f64c4ef22e1e1f20d0ce8cffb2249bd9a2137", 16)
D1 = int("33a5042a90b27d4f5451ca9bbbd0b44771a101af884340aef9885f2a4bbe92e894a724ac3c568c8f97853ad07c0266c8"
         "c6a3ca0929f1e8f11231884429fc4d9ae55fee896a10ce707c3ed7e734e44727a39574501a532683109c2abacaba283c"
         "31b4bd2f53c3ee37e352cee34f9e503bd80c0622ad79c6dcee883547c6a3b325", 16)
HASH = {0x04: hashlib.sha1, 0x0B: hashlib.sha256, 0x0C: hashlib.sha384, 0x0D: hashlib.sha512}


def send(cmd):
    s = socket.create_connection(("127.0.0.1", PORT))
    s.sendall(cmd)
    data = b""
    while len(data) < 10 or len(data) < struct.unpack(">I", data[2:6])[0]:
        data += s.recv(4096)
    s.close()
    return data


def command(cc, body=b"", tag=0x8001):
    return struct.pack(">HII", tag, 10 + len(body), cc) + body


def b2(x):
    return struct.pack(">H", len(x)) + x


PW = struct.pack(">I", 0x40000009) + b2(b"") + b"\x00" + b2(b"")


def load(p, q):
    n = p * q
    k = (n.bit_length() + 7) // 8
    sens = struct.pack(">H", 1) + b2(b"") + b2(b"") + b2(p.to_bytes(k // 2, "big"))
    # TPM_ALG_RSA, SHA-256 name, sign|userWithAuth, no symmetric, scheme NULL, exponent 65537
    pub = (struct.pack(">HHI", 1, 0x0B, 0x00040040) + b2(b"") + struct.pack(">HHHI", 0x10, 0x10, n.bit_length(), 0)
           + b2(n.to_bytes(k, "big")))
    r = send(command(0x167, b2(sens) + b2(pub) + struct.pack(">I", 0x40000007)))
    assert struct.unpack(">I", r[6:10])[0] == 0, r.hex()
    return r[10:14], n


def sign(handle, scheme, halg, digest):
    body = (handle + struct.pack(">I", len(PW)) + PW + b2(digest) + struct.pack(">HH", scheme, halg)
            + struct.pack(">HI", 0x8024, 0x40000007) + b2(b""))
    r = send(command(0x15D, body, 0x8002))
    assert struct.unpack(">I", r[6:10])[0] == 0, r.hex()
    n = struct.unpack(">H", r[18:20])[0]
    return r[20:20 + n]


def mgf1(h, seed, length):
    out, c = b"", 0
    while len(out) < length:
        out += h(seed + c.to_bytes(4, "big")).digest()
        c += 1
    return out[:length]


def salt_length(sig, n, h):
    em_bits = n.bit_length() - 1
    em_len = (em_bits + 7) // 8
    em = pow(int.from_bytes(sig, "big"), 65537, n).to_bytes(em_len, "big")
    hlen = h().digest_size
    masked, hh = em[:em_len - hlen - 1], em[em_len - hlen - 1:-1]
    db = bytearray(a ^ b for a, b in zip(masked, mgf1(h, hh, len(masked))))
    db[0] &= 0xFF >> (8 * em_len - em_bits)
    return len(db) - db.index(1) - 1


p1, q1 = rsa.rsa_recover_prime_factors(N1, 65537, D1)
for name, p, q in (("2048", P2048, Q2048), ("1024", max(p1, q1), min(p1, q1))):
    for h in range(0x80000000, 0x80000004):
        send(command(0x165, struct.pack(">I", h)))  # FlushContext, errors ignored
    handle, n = load(p, q)
    for alg, h in HASH.items():
        digest = h(b"vtpm RSA known-answer message").digest()
        print(name, h().name, "PSS salt", salt_length(sign(handle, 0x16, alg, digest), n, h),
              "RSASSA", sign(handle, 0x14, alg, digest).hex()[:32])
