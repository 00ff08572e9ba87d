#!/usr/bin/env python3
"""Prints Tests/TPMCryptoTests/ECCVectors.swift: expected ECC values computed without our code.

- Curve parameters: `openssl ecparam -param_enc explicit -text` (the standard constants).
- ECDH: NIST CAVP "KAS ECC CDH primitive" (ecccdhtestvectors, SP 800-56A 5.7.1.2), COUNT = 0
  for P-256/384/521, as published; QIUT and Z are re-derived here with `cryptography`, and the
  full shared point [dIUT]QCAVS (ECDH_ZGen returns x and y) with plain Python arithmetic.
- ECDSA: RFC 6979 A.2.5-A.2.7, message "sample" (and "test" for P-256), as published; the
  public keys and signatures are checked here with `cryptography`.
- EC Schnorr as the TPM defines it (Part 4 CryptEccSignature.c): r = H(x(kG) || digest)
  truncated to the order's octets, s = k + r d mod n, computed with plain Python integers;
  [k]G cross-checked with `cryptography`.
Run: python3 tests/vectors/ecc_vectors.py > Tests/TPMCryptoTests/ECCVectors.swift
"""
import hashlib
import re
import subprocess

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def curve_params(name):
    text = subprocess.run(["openssl", "ecparam", "-name", name, "-param_enc", "explicit", "-text", "-noout"],
                          capture_output=True, text=True, check=True).stdout

    def field(label):
        m = re.search(label + r":\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
        return int(re.sub(r"[\s:]", "", m.group(1)), 16)
    gen = field(r"Generator \(uncompressed\)")
    size = (field("Prime").bit_length() + 7) // 8
    gx, gy = (gen >> (8 * size)) & ((1 << (8 * size)) - 1), gen & ((1 << (8 * size)) - 1)
    return dict(p=field("Prime"), a=field("A"), b=field("B"), gx=gx, gy=gy, n=field("Order"), size=size)


CURVES = {"p256": ("prime256v1", ec.SECP256R1()), "p384": ("secp384r1", ec.SECP384R1()),
          "p521": ("secp521r1", ec.SECP521R1())}
P = {k: curve_params(v[0]) for k, v in CURVES.items()}


def add(c, p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    pr = c["p"]
    if x1 == x2 and (y1 + y2) % pr == 0:
        return None
    if p1 == p2:
        lam = (3 * x1 * x1 + c["a"]) * pow(2 * y1, -1, pr) % pr
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, pr) % pr
    x3 = (lam * lam - x1 - x2) % pr
    return x3, (lam * (x1 - x3) - y1) % pr


def mul(c, k, pt):
    acc = None
    for bit in bin(k)[2:]:
        acc = add(c, acc, acc)
        if bit == "1":
            acc = add(c, acc, pt)
    return acc


def G(c):
    return c["gx"], c["gy"]


def crypto_pub(curve, d):
    nums = ec.derive_private_key(d, CURVES[curve][1]).public_key().public_numbers()
    return nums.x, nums.y


out = []


def emit(name, value, size=None):
    if isinstance(value, int):
        value = value.to_bytes(size, "big").hex() if size else format(value, "x")
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


for name, c in P.items():
    assert mul(c, c["n"] - 1, G(c)) == (c["gx"], (-c["gy"]) % c["p"])  # sanity of our Python arithmetic
    for f in ("p", "a", "b", "gx", "gy", "n"):
        emit(f"{name}_{f}", c[f], c["size"])

# CAVP KAS ECC CDH primitive test vectors, COUNT = 0 (published values).
CAVP = {
    "p256": dict(
        d=0x7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534,
        qx=0x700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287,
        qy=0xdb71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac,
        z=0x46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b),
    "p384": dict(
        d=0x3cc3122a68f0d95027ad38c067916ba0eb8c38894d22e1b15618b6818a661774ad463b205da88cf699ab4d43c9cf98a1,
        qx=0xa7c76b970c3b5fe8b05d2838ae04ab47697b9eaf52e764592efda27fe7513272734466b400091adbf2d68c58e0c50066,
        qy=0xac68f19f2e1cb879aed43a9969b91a0839c4c38a49749b661efedf243451915ed0905a32b060992b468c64766fc8437a,
        z=0x5f9d29dc5e31a163060356213669c8ce132e22f57c9a04f40ba7fcead493b457e5621e766c40a2e3d4d6a04b25e533f1),
    "p521": dict(
        d=int("017eecc07ab4b329068fba65e56a1f8890aa935e57134ae0ffcce802735151f4eac6564f6ee9974c5e6887a1fefee5743ae2"
              "241bfeb95d5ce31ddcb6f9edb4d6fc47", 16),
        qx=int("00685a48e86c79f0f0875f7bc18d25eb5fc8c0b07e5da4f4370f3a9490340854334b1e1b87fa395464c60626124a4e70d0f"
               "785601d37c09870ebf176666877a2046d", 16),
        qy=int("01ba52c56fc8776d9e8f5db4f0cc27636d0b741bbe05400697942e80b739884a83bde99e0f6716939e632bc8986fa18dccd"
               "443a348b6c3e522497955a4f3c302f676", 16),
        z=int("005fc70477c3e63bc3954bd0df3ea0d1f41ee21746ed95fc5e1fdf90930d5e136672d72cc770742d1711c3c3a4c334a0ad975"
              "9436a4d3c5bf6e74b9578fac148c831", 16)),
}
for name, v in CAVP.items():
    c = P[name]
    curve = CURVES[name][1]
    priv = ec.derive_private_key(v["d"], curve)
    peer = ec.EllipticCurvePublicNumbers(v["qx"], v["qy"], curve).public_key()
    assert priv.exchange(ec.ECDH(), peer) == v["z"].to_bytes(c["size"], "big")
    shared = mul(c, v["d"], (v["qx"], v["qy"]))
    assert shared[0] == v["z"]
    qiut = crypto_pub(name, v["d"])
    assert qiut == mul(c, v["d"], G(c))
    emit(f"cavp_{name}_d", v["d"], c["size"])
    emit(f"cavp_{name}_qcavs_x", v["qx"], c["size"])
    emit(f"cavp_{name}_qcavs_y", v["qy"], c["size"])
    emit(f"cavp_{name}_qiut_x", qiut[0], c["size"])
    emit(f"cavp_{name}_qiut_y", qiut[1], c["size"])
    emit(f"cavp_{name}_z", v["z"], c["size"])
    emit(f"cavp_{name}_shared_y", shared[1], c["size"])

# RFC 6979 (published values).
RFC = [
    ("p256", "sha256", b"sample", 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721,
     0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716,
     0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8),
    ("p256", "sha256", b"test", 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721,
     0xF1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367,
     0x019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083),
    ("p384", "sha384", b"sample", int("6B9D3DAD2E1B8C1C05B19875B6659F4DE23C3B667BF297BA9AA47740787137D896D5724E4C70A8"
                                      "25F872C9EA60D2EDF5", 16),
     int("94EDBB92A5ECB8AAD4736E56C691916B3F88140666CE9FA73D64C4EA95AD133C81A648152E44ACF96E36DD1E80FABE46", 16),
     int("99EF4AEB15F178CEA1FE40DB2603138F130E740A19624526203B6351D0A3A94FA329C145786E679E7B82C71A38628AC8", 16)),
    ("p521", "sha512", b"sample", int("0FAD06DAA62BA3B25D2FB40133DA757205DE67F5BB0018FEE8C86E1B68C7E75CAA896EB32F1F47"
                                      "C70855836A6D16FCC1466F6D8FBEC67DB89EC0C08B0E996B83538", 16),
     int("0C328FAFCBD79DD77850370C46325D987CB525569FB63C5D3BC53950E6D4C5F174E25A1EE9017B5D450606ADD152B534931D7D4E84"
         "55CC91F9B15BF05EC36E377FA", 16),
     int("0617CCE7CF5064806C467F678D3B4080D6F1CC50AF26CA209417308281B68AF282623EAA63E5B5C0723D8B8C37FF0777B1A20F8CC"
         "B1DCCC43997F1EE0E44DA4A67A", 16)),
]
HASH = {"sha256": (hashlib.sha256, hashes.SHA256), "sha384": (hashlib.sha384, hashes.SHA384),
        "sha512": (hashlib.sha512, hashes.SHA512)}
for i, (name, h, msg, x, r, s) in enumerate(RFC):
    c = P[name]
    priv = ec.derive_private_key(x, CURVES[name][1])
    priv.public_key().verify(encode_dss_signature(r, s), msg, ec.ECDSA(HASH[h][1]()))
    emit(f"rfc6979_{i}_x", x, c["size"])
    emit(f"rfc6979_{i}_r", r, c["size"])
    emit(f"rfc6979_{i}_s", s, c["size"])

# TPM EC Schnorr with fixed d and k.
for name, c in P.items():
    size = c["size"]
    d = int.from_bytes(hashlib.sha512(b"schnorr key " + name.encode()).digest(), "big") % c["n"]
    k = int.from_bytes(hashlib.sha512(b"schnorr nonce " + name.encode()).digest(), "big") % c["n"]
    for hname, h in (("sha256", hashlib.sha256), ("sha512", hashlib.sha512)):
        digest = h(b"schnorr message").digest()
        R = mul(c, k, G(c))
        assert R == crypto_pub(name, k)
        e = h(R[0].to_bytes(size, "big") + digest).digest()[:size]
        r = int.from_bytes(e, "big")
        assert 0 < r < c["n"]
        s = (k + r * d) % c["n"]
        emit(f"schnorr_{name}_{hname}_r", r, size)
        emit(f"schnorr_{name}_{hname}_s", s, size)
    emit(f"schnorr_{name}_d", d, size)
    emit(f"schnorr_{name}_k", k, size)
    Q = crypto_pub(name, d)
    emit(f"schnorr_{name}_qx", Q[0], size)
    emit(f"schnorr_{name}_qy", Q[1], size)

print("// Generated by tests/vectors/ecc_vectors.py (see its docstring for the sources). Do not edit.")
print("enum ECCVectors {")
print("\n".join(out))
print("}")
