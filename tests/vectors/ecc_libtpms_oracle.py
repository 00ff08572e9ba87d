#!/usr/bin/env python3
"""Asks libtpms (through a running swtpm) for ECDSA and EC Schnorr signatures with the EC
Schnorr test keys of ecc_vectors.py (loaded with TPM2_LoadExternal), over SHA-256 and SHA-512
digests of "schnorr message". The printed (r, s) are embedded in ECCTests
(testVerifiesLibtpmsSignatures): our verification must accept the TPM's own signatures.

Start swtpm as in aes_libtpms_oracle.py, then: python3 tests/vectors/ecc_libtpms_oracle.py PORT
"""
import hashlib
import socket
import struct
import sys

from cryptography.hazmat.primitives.asymmetric import ec

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 2321
CURVES = {"p256": (0x0003, ec.SECP256R1(), 32), "p384": (0x0004, ec.SECP384R1(), 48), "p521": (0x0005, ec.SECP521R1(), 66)}
ORDERS = {"p256": 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551,
          "p384": int("ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973", 16),
          "p521": int("01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b"
                      "8899c47aebb6fb71e91386409", 16)}


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

for name, (curve_id, crv, size) in CURVES.items():
    d = int.from_bytes(hashlib.sha512(b"schnorr key " + name.encode()).digest(), "big") % ORDERS[name]
    pub = ec.derive_private_key(d, crv).public_key().public_numbers()
    for h in range(0x80000000, 0x80000004):
        send(command(0x165, struct.pack(">I", h)))
    sens = struct.pack(">H", 0x23) + b2(b"") + b2(b"") + b2(d.to_bytes(size, "big"))
    area = (struct.pack(">HHI", 0x23, 0x0B, 0x00040040) + b2(b"") + struct.pack(">HHHH", 0x10, 0x10, curve_id, 0x10)
            + b2(pub.x.to_bytes(size, "big")) + b2(pub.y.to_bytes(size, "big")))
    r = send(command(0x167, b2(sens) + b2(area) + struct.pack(">I", 0x40000007)))
    assert struct.unpack(">I", r[6:10])[0] == 0, r.hex()
    handle = r[10:14]
    for hname, alg, hf in (("sha256", 0x0B, hashlib.sha256), ("sha512", 0x0D, hashlib.sha512)):
        digest = hf(b"schnorr message").digest()
        for sname, scheme in (("ecdsa", 0x18), ("schnorr", 0x1C)):
            body = (handle + struct.pack(">I", len(PW)) + PW + b2(digest) + struct.pack(">HH", scheme, alg)
                    + struct.pack(">HI", 0x8024, 0x40000007) + b2(b""))
            r = send(command(0x15D, body, 0x8002))
            assert struct.unpack(">I", r[6:10])[0] == 0, (name, hname, sname, r.hex())
            n = struct.unpack(">H", r[18:20])[0]
            sig_r = r[20:20 + n]
            m = struct.unpack(">H", r[20 + n:22 + n])[0]
            sig_s = r[22 + n:22 + n + m]
            print(f'("{name}", "{sname}", "{hname}", "{sig_r.hex()}", "{sig_s.hex()}"),')
