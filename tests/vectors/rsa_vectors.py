#!/usr/bin/env python3
"""Prints Tests/TPMCryptoTests/RSAVectors.swift: expected RSA values computed without our code.

Oracles: the `cryptography` package (OpenSSL underneath) for PKCS#1 v1.5 signatures, for
encryptions we must decrypt and for verifying everything below; plain Python integers and
hashlib for the PSS and OAEP encodings with a fixed salt/seed (RFC 8017 9.1.1 / 7.1.1 written
out here); published vectors from pkcs-1v2-1-vec (pss-vect.txt Example 1.1, oaep-vect.txt
Example 1.1), which this script re-derives before printing.
Run: python3 tests/vectors/rsa_vectors.py > Tests/TPMCryptoTests/RSAVectors.swift
"""
import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

HASHES = {"sha1": (hashlib.sha1, hashes.SHA1), "sha256": (hashlib.sha256, hashes.SHA256),
          "sha384": (hashlib.sha384, hashes.SHA384), "sha512": (hashlib.sha512, hashes.SHA512)}

# A 2048-bit key generated once with cryptography (e = 65537), and a 1024-bit key with e = 3.
P2048 = int("cfce3287fccc23964c0053353483ecb7dcd332ab6d68e5a2fe5ea1a3224aa0fddd1dbca9fc4d4dcc670e054ab0ef6e54"
            "93439073d6c17c3240f5d5139d700ce78d995e05855db4dc06dfa3fcb8a51770de84af9114da703885c7b7d7456efe7e6a"
            "75869b9dc99742a420ffc9fbc809ffff7445034136e0e66e541a3d0b205777", 16)
Q2048 = int("bba99882e0dbc40ad84e0b35b2caf4bc0e8c3b5bd53ab50936aa38a587622ca5ecc525c514eb4ff75320e68415df2bff"
            "97d2c969725b0292885a56583154abe781acec1abf9116dbeccb7ba442b51f3318eb03e90ae6797a4e32b04dd75b3ad403"
            "63a910d67362507eebe751fa1874d996064ee145632815e90566b69677e7e9", 16)
P1024 = int("e9971d7b2f77f88bacda174ccf0564b7392e4c8bba64924494c35ae6c22e53980cd5227f373a9ea3c53048de49ac75a5"
            "c4436068068453d69afb7541b6d2666d", 16)
Q1024 = int("e1d0c8a72af7cf730590fb6c8ebf3c28df6a1f2e358ec70d3ee6b589455be2661baea021ee91f8f1a6f5ed6d47bb2879"
            "34844443ef4ab6b062877134164a0177", 16)


def private_key(p, q, e):
    n = p * q
    d = pow(e, -1, (p - 1) * (q - 1))
    pub = rsa.RSAPublicNumbers(e, n)
    return rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q),
                                 rsa.rsa_crt_iqmp(p, q), pub).private_key(), n, d


def i2osp(x, k):
    return x.to_bytes(k, "big")


def mgf1(h, seed, length):
    out = b""
    c = 0
    while len(out) < length:
        out += h(seed + c.to_bytes(4, "big")).digest()
        c += 1
    return out[:length]


def pss_encode(h, mhash, salt, em_bits):
    hlen = len(mhash)
    em_len = (em_bits + 7) // 8
    assert em_len >= hlen + len(salt) + 2
    hh = h(b"\x00" * 8 + mhash + salt).digest()
    db = b"\x00" * (em_len - len(salt) - hlen - 2) + b"\x01" + salt
    masked = bytes(a ^ b for a, b in zip(db, mgf1(h, hh, len(db))))
    masked = bytes([masked[0] & (0xFF >> (8 * em_len - em_bits))]) + masked[1:]
    return masked + hh + b"\xbc"


def oaep_encode(h, label, msg, seed, k):
    hlen = len(seed)
    db = h(label).digest() + b"\x00" * (k - len(msg) - 2 * hlen - 2) + b"\x01" + msg
    masked_db = bytes(a ^ b for a, b in zip(db, mgf1(h, seed, len(db))))
    masked_seed = bytes(a ^ b for a, b in zip(seed, mgf1(h, masked_db, hlen)))
    return b"\x00" + masked_seed + masked_db


def tpm_salt_len(hlen, mod_bits):
    em_len = (mod_bits - 1 + 7) // 8
    return min(hlen, em_len - hlen - 2)


out = []


def emit(name, value):
    if isinstance(value, int):
        value = format(value, "x")
        value = ("0" if len(value) % 2 else "") + value
    elif isinstance(value, bytes):
        value = value.hex()
    if len(value) <= 100:
        out.append(f'    static let {name} = "{value}"')
        return
    lines = [value[i:i + 112] for i in range(0, len(value), 112)]
    out.append(f'    static let {name} = """')
    out.extend(f"        {line}\\" for line in lines[:-1])
    out.append(f"        {lines[-1]}")
    out.append('        """')


key, n, d = private_key(P2048, Q2048, 65537)
k = 256
emit("p2048", P2048)
emit("q2048", Q2048)
emit("n2048", n)
message = b"vtpm RSA known-answer message"
for name, (h, ch) in HASHES.items():
    digest = h(message).digest()
    sig = key.sign(digest, padding.PKCS1v15(), utils.Prehashed(ch()))
    emit(f"pkcs1v15_{name}", sig)
    # PSS with the TPM's salt length and the salt 00 01 02 ...
    salt = bytes(range(tpm_salt_len(len(digest), 2048)))
    em = pss_encode(h, digest, salt, 2047)
    pss = i2osp(pow(int.from_bytes(em, "big"), d, n), k)
    key.public_key().verify(pss, digest, padding.PSS(mgf=padding.MGF1(ch()), salt_length=padding.PSS.AUTO),
                            utils.Prehashed(ch()))
    emit(f"pss_{name}", pss)
    # OpenSSL's own PSS with the largest salt: verification must recover any salt length.
    emit(f"pss_{name}_openssl_maxsalt", key.sign(digest, padding.PSS(mgf=padding.MGF1(ch()),
                                                 salt_length=padding.PSS.MAX_LENGTH), utils.Prehashed(ch())))

# OAEP with TPM labels (the terminating zero included), fixed seed 0xA5.., checked by decryption.
for name, label in (("sha256", b"DUPLICATE\x00"), ("sha1", b"SECRET\x00"), ("sha384", b"IDENTITY\x00")):
    h, ch = HASHES[name]
    hlen = h().digest_size
    msg = bytes(range(32))
    seed = bytes([0xA5]) * hlen
    ct = i2osp(pow(int.from_bytes(oaep_encode(h, label, msg, seed, k), "big"), 65537, n), k)
    assert key.decrypt(ct, padding.OAEP(mgf=padding.MGF1(ch()), algorithm=ch(), label=label)) == msg
    emit(f"oaep_{name}", ct)
    # and one made by OpenSSL (random seed) for our decryption
    emit(f"oaep_{name}_openssl", key.public_key().encrypt(
        msg, padding.OAEP(mgf=padding.MGF1(ch()), algorithm=ch(), label=label)))

# RSAES-PKCS1-v1_5: our encryption with padding octets 01 02 03 ... (no zero in the first draw)
msg = b"secret seed value"
ps = bytes((i % 255) + 1 for i in range(k - len(msg) - 3))
ct = i2osp(pow(int.from_bytes(b"\x00\x02" + ps + b"\x00" + msg, "big"), 65537, n), k)
assert key.decrypt(ct, padding.PKCS1v15()) == msg
emit("rsaes", ct)
emit("rsaes_openssl", key.public_key().encrypt(msg, padding.PKCS1v15()))

# Raw RSA (TPM_ALG_NULL)
m = int.from_bytes(hashlib.sha512(b"raw").digest() * 4, "big") % n
emit("raw_m", i2osp(m, k))
emit("raw_c", i2osp(pow(m, 65537, n), k))

# e = 3, 1024 bits
key3, n3, _ = private_key(P1024, Q1024, 3)
emit("p1024e3", P1024)
emit("q1024e3", Q1024)
emit("n1024e3", n3)
emit("pkcs1v15_e3_sha256", key3.sign(hashlib.sha256(message).digest(), padding.PKCS1v15(),
                                     utils.Prehashed(hashes.SHA256())))

# pss-vect.txt Example 1.1 (SHA-1, salt 20 octets = the TPM's salt length for 1024 bits)
n1 = int("a56e4a0e701017589a5187dc7ea841d156f2ec0e36ad52a44dfeb1e61f7ad991d8c51056ffedb162b4c0f283a12a88a3"
         "94dff526ab7291cbb307ceabfce0b1dfd5cd9508096d5b2b8b6df5d671ef6377c0921cb23c270a70e2598e6ff89d19f1"
         "05acc2d3f0cb35f29280e1386b6f64c4ef22e1e1f20d0ce8cffb2249bd9a2137", 16)
d1 = int("33a5042a90b27d4f5451ca9bbbd0b44771a101af884340aef9885f2a4bbe92e894a724ac3c568c8f97853ad07c0266c8"
         "c6a3ca0929f1e8f11231884429fc4d9ae55fee896a10ce707c3ed7e734e44727a39574501a532683109c2abacaba283c"
         "31b4bd2f53c3ee37e352cee34f9e503bd80c0622ad79c6dcee883547c6a3b325", 16)
p1, q1 = rsa.rsa_recover_prime_factors(n1, 65537, d1)
msg11 = bytes.fromhex(
    "cdc87da223d786df3b45e0bbbc721326d1ee2af806cc315475cc6f0d9c66e1b62371d45ce2392e1ac92844c310102f156a0d8d52c1"
    "f4c40ba3aa65095786cb769757a6563ba958fed0bcc984e8b517a3d5f515b23b8a41e74aa867693f90dfb061a6e86dfaaee64472c0"
    "0e5f20945729cbebe77f06ce78e08f4098fba41f9d6193c0317e8b60d4b6084acb42d29e3808a3bc372d85e331170fcbf7cc72d0b7"
    "1c296648b3a4d10f416295d0807aa625cab2744fd9ea8fd223c42537029828bd16be02546f130fd2e33b936d2676e08aed1b73318b"
    "750a0167d0")
salt11 = bytes.fromhex("dee959c7e06411361420ff80185ed57f3e6776af")
sig11 = bytes.fromhex(
    "9074308fb598e9701b2294388e52f971faac2b60a5145af185df5287b5ed2887e57ce7fd44dc8634e407c8e0e4360bc226f3ec227f"
    "9d9e54638e8d31f5051215df6ebb9c2f9579aa77598a38f914b5b9c1bd83c4e2f9f382a0d0aa3542ffee65984a601bc69eb28deb27"
    "dca12c82c2d4c3f66cd500f1ff2b994d8a4e30cbb33c")
em = pss_encode(hashlib.sha1, hashlib.sha1(msg11).digest(), salt11, n1.bit_length() - 1)
assert i2osp(pow(int.from_bytes(em, "big"), d1, n1), 128) == sig11
emit("pssvect_p", max(p1, q1))
emit("pssvect_q", min(p1, q1))
emit("pssvect_message", msg11)
emit("pssvect_salt", salt11)
emit("pssvect_signature", sig11)

# oaep-vect.txt Example 1.1 (SHA-1, empty label)
p2 = int("d32737e7267ffe1341b2d5c0d150a81b586fb3132bed2f8d5262864a9cb9f30af38be448598d413a172efb802c21acf1"
         "c11c520c2f26a471dcad212eac7ca39d", 16)
q2 = int("cc8853d1d54da630fac004f471f281c7b8982d8224a490edbeb33d3e3d5cc93c4765703d1dd791642f1f116a0dd852be"
         "2419b2af72bfe9a030e860b0288b5d77", 16)
msg21 = bytes.fromhex("6628194e12073db03ba94cda9ef9532397d50dba79b987004afefe34")
seed21 = bytes.fromhex("18b776ea21069d69776a33e96bad48e1dda0a5ef")
ct21 = bytes.fromhex(
    "354fe67b4a126d5d35fe36c777791a3f7ba13def484e2d3908aff722fad468fb21696de95d0be911c2d3174f8afcc201035f7b6d8e"
    "69402de5451618c21a535fa9d7bfc5b8dd9fc243f8cf927db31322d6e881eaa91a996170e657a05a266426d98c88003f8477c12270"
    "94a0d9fa1e8c4024309ce1ecccb5210035d47ac72e8a")
n2 = p2 * q2
assert i2osp(pow(int.from_bytes(oaep_encode(hashlib.sha1, b"", msg21, seed21, 128), "big"), 65537, n2), 128) == ct21
emit("oaepvect_p", p2)
emit("oaepvect_q", q2)
emit("oaepvect_message", msg21)
emit("oaepvect_seed", seed21)
emit("oaepvect_ciphertext", ct21)

print("// Generated by tests/vectors/rsa_vectors.py (see its docstring for the oracles). Do not edit.")
print("enum RSAVectors {")
print("\n".join(out))
print("}")
