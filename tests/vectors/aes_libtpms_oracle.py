#!/usr/bin/env python3
"""Asks libtpms (through a running swtpm) what TPM2_EncryptDecrypt2 returns for the SP 800-38A
AES-128 key and plaintext, for lengths that end on and off a block boundary. The values printed
are embedded in Tests/TPMCryptoTests/AESTests.swift (testTPMConventionsAgainstLibtpms).

Start swtpm first, e.g.
  swtpm socket --tpm2 --server type=tcp,port=PORT --ctrl type=tcp,port=PORT+1 \
      --tpmstate dir=DIR --flags not-need-init,startup-clear --seccomp action=none &
then run: python3 tests/vectors/aes_libtpms_oracle.py PORT
(The first EncryptDecrypt after start-up may answer TPM_RC_RETRY while AES self-tests; run twice.)
"""
import hashlib
import socket
import struct
import sys

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 2321


def send(cmd):
    s = socket.create_connection(("127.0.0.1", PORT))
    s.sendall(cmd)
    hdr = b""
    while len(hdr) < 10:
        hdr += s.recv(10 - len(hdr))
    size = struct.unpack(">I", hdr[2:6])[0]
    body = hdr
    while len(body) < size:
        body += s.recv(size - len(body))
    s.close()
    return body


def command(cc, body=b"", tag=0x8001):
    return struct.pack(">HII", tag, 10 + len(body), cc) + body


def b2(x):
    return struct.pack(">H", len(x)) + x


key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
seed = bytes(32)
sensitive = struct.pack(">H", 0x25) + b2(b"") + b2(seed) + b2(key)
# TPM_ALG_SYMCIPHER, SHA-256 name, decrypt|sign|userWithAuth, AES-128 with mode NULL.
public = (struct.pack(">HHI", 0x25, 0x0B, 0x00060040) + b2(b"") + struct.pack(">HHH", 0x06, 128, 0x0010)
          + b2(hashlib.sha256(seed + key).digest()))
r = send(command(0x167, b2(sensitive) + b2(public) + struct.pack(">I", 0x40000007)))  # LoadExternal, NULL
assert struct.unpack(">I", r[6:10])[0] == 0, r.hex()
handle = r[10:14]


def encrypt_decrypt(mode, data, iv, decrypt=0):
    auth = struct.pack(">I", 0x40000009) + b2(b"") + b"\x00" + b2(b"")
    body = handle + struct.pack(">I", len(auth)) + auth + b2(data) + bytes([decrypt]) + struct.pack(">H", mode) + b2(iv)
    r = send(command(0x193, body, 0x8002))
    rc = struct.unpack(">I", r[6:10])[0]
    if rc:
        return "rc=%#x" % rc
    n = struct.unpack(">H", r[14:16])[0]
    out = r[16:16 + n]
    m = struct.unpack(">H", r[16 + n:18 + n])[0]
    return out.hex(), r[18 + n:18 + n + m].hex()


plain = bytes.fromhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
                      "30c81c46a35ce411e5fbc1191a0a52ef")
iv = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
ctr = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
for name, mode, v in (("cfb", 0x43, iv), ("ofb", 0x41, iv), ("ctr", 0x40, ctr), ("cbc", 0x42, iv)):
    for n in (16, 20, 40, 48):
        print(name, n, encrypt_decrypt(mode, plain[:n], v))
print("ecb", encrypt_decrypt(0x44, plain[:32], b""), "with an IV:", encrypt_decrypt(0x44, plain[:32], iv))
print("ctr wrap", encrypt_decrypt(0x40, plain[:20], bytes([0xFF] * 16)))
