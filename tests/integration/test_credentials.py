"""Credentials and duplication (Part 3, 12.5-12.6 and 13) with outside judges: tpm2-tools 5.4 (its
own software implementation of MakeCredential and duplication with `--tcti none`), Python's
`cryptography` (the credential protection of Part 1, 24 computed here from the specification),
openssl (external keys to import, signatures to verify), and the other TPM (credentials and
duplication blobs made on swtpm are used on vtpm and the other way round)."""
from __future__ import annotations

import hashlib
import hmac
import os
import struct
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from harness import wire

pytestmark = pytest.mark.transports("swtpm")

AK_ATTRS = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign"


# --- Part 1 primitives, from the specification (11.4.10, 24) -------------------------------------

def kdfa(key: bytes, label: str, u: bytes, v: bytes, bits: int) -> bytes:
    out, i = b"", 1
    while len(out) * 8 < bits:
        out += hmac.new(key, struct.pack(">I", i) + label.encode() + b"\0" + u + v + struct.pack(">I", bits),
                        hashlib.sha256).digest()
        i += 1
    return out[:bits // 8]


def kdfe(z: bytes, use: str, u: bytes, v: bytes) -> bytes:
    return hashlib.sha256(struct.pack(">I", 1) + z + use.encode() + b"\0" + u + v).digest()


def cfb(key: bytes, data: bytes) -> bytes:
    e = Cipher(algorithms.AES(key), modes.CFB(b"\0" * 16)).encryptor()
    return e.update(data) + e.finalize()


def tpm2b(b: bytes) -> bytes:
    return struct.pack(">H", len(b)) + b


def credential_blob(credential: bytes, name: bytes, seed: bytes) -> bytes:
    """TPM2B_ID_OBJECT contents for an AES-128 / SHA-256 protector (Part 1, 24.4-24.5)."""
    enc = cfb(kdfa(seed, "STORAGE", name, b"", 128), tpm2b(credential))
    integrity = hmac.new(kdfa(seed, "INTEGRITY", b"", b"", 256), enc + name, hashlib.sha256).digest()
    return tpm2b(integrity) + enc


def tools_credential_file(blob: bytes, secret: bytes) -> bytes:
    """tpm2-tools' makecredential output: magic, version 1, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET."""
    return struct.pack(">II", 0xBADCC0DE, 1) + tpm2b(blob) + tpm2b(secret)


# --- helpers -------------------------------------------------------------------------------------

def run(tpm, *args: str):
    """`tpm2 ARGS`, then every transient object flushed: without a resource manager the tools
    leave what they load (contexts are kept in files)."""
    p = tpm.tool(*args)
    tpm.tool("flushcontext", "-t")
    return p


def make_ek(tpm, alg: str, prefix: str) -> Path:
    """A restricted decryption key in the endorsement hierarchy that authorizes with its (empty)
    password; returns its context. Writes PREFIX.pub (TPM2B_PUBLIC) and PREFIX.pem."""
    run(tpm, "createprimary", "-Q", "-C", "e", "-g", "sha256", "-G", alg, "-c", f"{prefix}.ctx")
    run(tpm, "readpublic", "-Q", "-c", f"{prefix}.ctx", "-o", f"{prefix}.pub")
    run(tpm, "readpublic", "-Q", "-c", f"{prefix}.ctx", "-o", f"{prefix}.pem", "-f", "pem")
    return tpm.workdir / f"{prefix}.ctx"


def make_ak(tpm, prefix: str = "ak") -> str:
    """A restricted signing key (owner hierarchy); returns its Name in hex."""
    run(tpm, "createprimary", "-Q", "-C", "o", "-g", "sha256", "-G", "ecc256:ecdsa-sha256:null", "-a", AK_ATTRS,
        "-c", f"{prefix}.ctx")
    run(tpm, "readpublic", "-Q", "-c", f"{prefix}.ctx", "-n", f"{prefix}.name")
    return (tpm.workdir / f"{prefix}.name").read_bytes().hex()


def activate(tpm, ak: str, ek: str, cred: Path | str) -> bytes:
    out = tpm.workdir / "activated.bin"
    run(tpm, "activatecredential", "-Q", "-c", ak, "-C", ek, "-i", str(cred), "-o", str(out))
    return out.read_bytes()


# --- credentials ---------------------------------------------------------------------------------

@pytest.mark.parametrize("alg", ["rsa2048", "ecc256"])
def test_makecredential_activatecredential_with_tools(tpm, alg):
    """The TPM's own MakeCredential and tpm2-tools' software one (--tcti none, RSA also from a
    PEM key), each activated by the TPM."""
    make_ek(tpm, alg, "ek")
    name = make_ak(tpm)
    secret = os.urandom(32)
    (tpm.workdir / "secret.bin").write_bytes(secret)
    variants = [("tpm", ["-u", "ek.pub"]), ("software", ["-T", "none", "-u", "ek.pub"])]
    if alg == "rsa2048":
        variants.append(("software-pem", ["-T", "none", "-u", "ek.pem", "-G", "rsa"]))
    for label, args in variants:
        cred = f"cred-{label}.bin"
        run(tpm, "makecredential", "-Q", *args, "-s", "secret.bin", "-n", name, "-o", cred)
        assert activate(tpm, "ak.ctx", "ek.ctx", cred) == secret, label
    # The credential names the AK: activating it for the EK itself fails its integrity check.
    assert tpm.tool_error("activatecredential", "-c", "ek.ctx", "-C", "ek.ctx", "-i", "cred-tpm.bin",
                          "-o", "x.bin") == 0x1DF  # TPM_RC_INTEGRITY + P1


def test_credential_made_in_python(tpm):
    """Credentials computed here from Part 1 (OAEP with label "IDENTITY", ECDH + KDFe, KDFa,
    AES-CFB, HMAC) are activated by the TPM."""
    make_ek(tpm, "rsa2048", "eka")
    make_ek(tpm, "ecc256", "ekb")
    name = bytes.fromhex(make_ak(tpm))
    rsa_pub = serialization.load_pem_public_key((tpm.workdir / "eka.pem").read_bytes())
    ecc_pub = serialization.load_pem_public_key((tpm.workdir / "ekb.pem").read_bytes())

    credential = b"the verifier's nonce " + os.urandom(8)
    seed = os.urandom(32)
    secret = rsa_pub.encrypt(seed, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(),
                                                label=b"IDENTITY\0"))
    (tpm.workdir / "py-rsa.cred").write_bytes(tools_credential_file(credential_blob(credential, name, seed), secret))
    assert activate(tpm, "ak.ctx", "eka.ctx", tpm.workdir / "py-rsa.cred") == credential

    eph = ec.generate_private_key(ec.SECP256R1())
    z = eph.exchange(ec.ECDH(), ecc_pub)
    qe = eph.public_key().public_numbers()
    qs = ecc_pub.public_numbers()
    qe_x, qe_y, qs_x = (v.to_bytes(32, "big") for v in (qe.x, qe.y, qs.x))
    seed = kdfe(z, "IDENTITY", qe_x, qs_x)
    secret = tpm2b(qe_x) + tpm2b(qe_y)
    (tpm.workdir / "py-ecc.cred").write_bytes(tools_credential_file(credential_blob(credential, name, seed), secret))
    assert activate(tpm, "ak.ctx", "ekb.ctx", tpm.workdir / "py-ecc.cred") == credential

    # A seed shared under another label is refused: the integrity check fails.
    seed = kdfe(z, "SECRET", qe_x, qs_x)
    (tpm.workdir / "py-bad.cred").write_bytes(tools_credential_file(credential_blob(credential, name, seed), secret))
    assert tpm.tool_error("activatecredential", "-c", "ak.ctx", "-C", "ekb.ctx", "-i", "py-bad.cred",
                          "-o", "x.bin") == 0x1DF


def test_credentials_across_tpms(candidate_impl, swtpm_impl, tpm_factory):
    """A credential made on one TPM (tpm2 makecredential against it) for the other's EK and AK
    is activated by the other: swtpm -> vtpm and vtpm -> swtpm."""
    ref = tpm_factory(swtpm_impl, "swtpm", name="ref")
    cand = tpm_factory(candidate_impl, "swtpm", name="cand")
    for maker, holder in ((ref, cand), (cand, ref)):
        for alg in ("rsa2048", "ecc256"):
            make_ek(holder, alg, "ek")
            name = make_ak(holder)
            (maker.workdir / "ek.pub").write_bytes((holder.workdir / "ek.pub").read_bytes())
            secret = os.urandom(24)
            (maker.workdir / "secret.bin").write_bytes(secret)
            run(maker, "makecredential", "-Q", "-u", "ek.pub", "-s", "secret.bin", "-n", name, "-o", "cross.cred")
            (holder.workdir / "cross.cred").write_bytes((maker.workdir / "cross.cred").read_bytes())
            assert activate(holder, "ak.ctx", "ek.ctx", "cross.cred") == secret, (maker.name, alg)


# --- duplication ---------------------------------------------------------------------------------

def duplication_policy(tpm):
    run(tpm, "startauthsession", "-Q", "-S", "trial.ctx")
    run(tpm, "policycommandcode", "-Q", "-S", "trial.ctx", "-L", "dup.policy", "TPM2_CC_Duplicate")
    tpm.tool("flushcontext", "-Q", "trial.ctx")


def duplicate(tpm, key: str, new_parent: str, *args: str) -> None:
    run(tpm, "startauthsession", "-Q", "--policy-session", "-S", "dup.session")
    run(tpm, "policycommandcode", "-Q", "-S", "dup.session", "TPM2_CC_Duplicate")
    run(tpm, "duplicate", "-Q", "-C", new_parent, "-c", key, "-p", "session:dup.session", *args)
    tpm.tool("flushcontext", "-Q", "dup.session")


def sign_and_verify(tpm, key_ctx: str, pem: Path) -> None:
    msg = tpm.workdir / "msg.txt"
    msg.write_bytes(b"signed by an imported key\n")
    run(tpm, "sign", "-Q", "-c", key_ctx, "-g", "sha256", "-f", "plain", "-o", "msg.sig", str(msg))
    subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(pem), "-signature", str(tpm.workdir / "msg.sig"),
                    str(msg)], check=True, capture_output=True)


@pytest.mark.parametrize("kind", ["rsa", "ecc"])
def test_import_openssl_key(tpm, kind):
    """An external key made by openssl is wrapped by tpm2-tools for the parent (outer wrapper
    with a seed under "DUPLICATE"), imported and loaded; its signatures verify with openssl."""
    w = tpm.workdir
    if kind == "rsa":
        subprocess.run(["openssl", "genrsa", "-out", str(w / "ext.pem"), "2048"], check=True, capture_output=True)
    else:
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(w / "ext.pem")],
                       check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(w / "ext.pem"), "-pubout", "-out", str(w / "ext-pub.pem")],
                   check=True, capture_output=True)
    run(tpm, "createprimary", "-Q", "-C", "o", "-g", "sha256", "-G", "rsa", "-c", "parent.ctx")
    # tpm2 import of the PEM: the tools wrap it (inner and outer) and call TPM2_Import.
    run(tpm, "import", "-Q", "-C", "parent.ctx", "-G", kind, "-i", "ext.pem", "-u", "ext.pub", "-r", "ext.priv")
    run(tpm, "load", "-Q", "-C", "parent.ctx", "-u", "ext.pub", "-r", "ext.priv", "-c", "ext.ctx")
    sign_and_verify(tpm, "ext.ctx", w / "ext-pub.pem")
    # Software duplication (--tcti none) for the parent's public key, then TPM2_Import.
    run(tpm, "readpublic", "-Q", "-c", "parent.ctx", "-o", "parent.pub")
    run(tpm, "duplicate", "-Q", "--tcti", "none", "-U", "parent.pub", "-G", kind, "-k", "ext.pem",
             "-u", "sw.pub", "-r", "sw.dpriv", "-s", "sw.seed")
    run(tpm, "import", "-Q", "-C", "parent.ctx", "-G", kind, "-i", "sw.dpriv", "-s", "sw.seed", "-u", "sw.pub",
             "-r", "sw.priv")
    run(tpm, "load", "-Q", "-C", "parent.ctx", "-u", "sw.pub", "-r", "sw.priv", "-c", "sw.ctx")
    sign_and_verify(tpm, "sw.ctx", w / "ext-pub.pem")


@pytest.mark.parametrize("inner", ["none", "given", "generated"])
def test_duplicate_import_with_tools(tpm, inner):
    """tpm2 duplicate of a key with a PolicyCommandCode(Duplicate) policy, for a new parent known
    only by its public area, then tpm2 import under that parent (same TPM), load and sign."""
    run(tpm, "createprimary", "-Q", "-C", "o", "-g", "sha256", "-G", "ecc", "-c", "primary.ctx")
    run(tpm, "create", "-Q", "-C", "primary.ctx", "-g", "sha256", "-G", "rsa", "-r", "np.priv", "-u", "np.pub",
             "-a", "decrypt|fixedparent|fixedtpm|restricted|sensitivedataorigin|userwithauth")
    duplication_policy(tpm)
    run(tpm, "create", "-Q", "-C", "primary.ctx", "-g", "sha256", "-G", "ecc256:ecdsa-sha256", "-r", "key.priv",
             "-u", "key.pub", "-L", "dup.policy", "-a", "sensitivedataorigin|sign|userwithauth")
    run(tpm, "load", "-Q", "-C", "primary.ctx", "-r", "key.priv", "-u", "key.pub", "-c", "key.ctx")
    run(tpm, "readpublic", "-Q", "-c", "key.ctx", "-o", "key.pem", "-f", "pem")
    run(tpm, "loadexternal", "-Q", "-C", "o", "-u", "np.pub", "-c", "npx.ctx")
    sym: list[str] = ["-G", "null"]
    imp: list[str] = []
    if inner == "given":
        (tpm.workdir / "inner.key").write_bytes(os.urandom(16))
        sym = ["-G", "aes", "-i", "inner.key"]
        imp = ["-k", "inner.key"]
    elif inner == "generated":
        sym = ["-G", "aes", "-o", "inner.key"]
        imp = ["-k", "inner.key"]
    duplicate(tpm, "key.ctx", "npx.ctx", *sym, "-r", "dup.priv", "-s", "dup.seed")
    run(tpm, "load", "-Q", "-C", "primary.ctx", "-r", "np.priv", "-u", "np.pub", "-c", "np.ctx")
    run(tpm, "import", "-Q", "-C", "np.ctx", "-u", "key.pub", "-i", "dup.priv", "-s", "dup.seed", "-r", "new.priv",
             *imp)
    run(tpm, "load", "-Q", "-C", "np.ctx", "-u", "key.pub", "-r", "new.priv", "-c", "new.ctx")
    sign_and_verify(tpm, "new.ctx", tpm.workdir / "key.pem")


def test_duplicate_across_tpms(candidate_impl, swtpm_impl, tpm_factory):
    """A key duplicated on one TPM for a storage key of the other is imported by the other and
    signs there: swtpm -> vtpm and vtpm -> swtpm."""
    ref = tpm_factory(swtpm_impl, "swtpm", name="ref")
    cand = tpm_factory(candidate_impl, "swtpm", name="cand")
    for src, dst in ((ref, cand), (cand, ref)):
        run(dst, "createprimary", "-Q", "-C", "o", "-g", "sha256", "-G", "ecc", "-c", "dst.ctx")
        run(dst, "readpublic", "-Q", "-c", "dst.ctx", "-o", "dst.pub")
        (src.workdir / "dst.pub").write_bytes((dst.workdir / "dst.pub").read_bytes())
        run(src, "createprimary", "-Q", "-C", "o", "-g", "sha256", "-G", "ecc", "-c", "src.ctx")
        duplication_policy(src)
        run(src, "create", "-Q", "-C", "src.ctx", "-g", "sha256", "-G", "ecc256:ecdsa-sha256", "-r", "key.priv",
                 "-u", "key.pub", "-L", "dup.policy", "-a", "sensitivedataorigin|sign|userwithauth|encryptedduplication")
        run(src, "load", "-Q", "-C", "src.ctx", "-r", "key.priv", "-u", "key.pub", "-c", "key.ctx")
        run(src, "readpublic", "-Q", "-c", "key.ctx", "-o", "key.pem", "-f", "pem")
        run(src, "loadexternal", "-Q", "-C", "o", "-u", "dst.pub", "-c", "dstx.ctx")
        duplicate(src, "key.ctx", "dstx.ctx", "-G", "aes", "-o", "inner.key", "-r", "dup.priv", "-s", "dup.seed")
        for f in ("key.pub", "key.pem", "inner.key", "dup.priv", "dup.seed"):
            (dst.workdir / f).write_bytes((src.workdir / f).read_bytes())
        run(dst, "import", "-Q", "-C", "dst.ctx", "-u", "key.pub", "-i", "dup.priv", "-s", "dup.seed", "-k", "inner.key",
                 "-r", "new.priv")
        run(dst, "load", "-Q", "-C", "dst.ctx", "-u", "key.pub", "-r", "new.priv", "-c", "new.ctx")
        sign_and_verify(dst, "new.ctx", dst.workdir / "key.pem")


# --- derived objects -----------------------------------------------------------------------------

def transact(t, cmd: bytes):
    """One command, sent again while libtpms answers TPM_RC_RETRY (0x922), as a TPM's caller must."""
    for _ in range(10):
        r = t.transact(cmd)
        if r.rc != 0x922:
            return r
    return r


def derived_public_areas(t) -> list[bytes]:
    """CreatePrimary of a derivation parent with a known secret, then CreateLoaded of derived
    ECC, HMAC and AES keys under it (raw commands); returns their public areas."""
    u16 = lambda v: struct.pack(">H", v)  # noqa: E731
    u32 = lambda v: struct.pack(">I", v)  # noqa: E731
    dp = u16(0x0008) + u16(0x000B) + u32(0x40 | 0x10000 | 0x20000) + tpm2b(b"") + u16(0x000A) + u16(0x000B) + u16(0x0022) \
        + tpm2b(b"")
    r = transact(t, wire.command(0x131, u32(wire.RH_OWNER), tpm2b(tpm2b(b"") + tpm2b(bytes(range(7, 39)))) + tpm2b(dp)
                                + tpm2b(b"") + u32(0), [wire.pw_session()]))
    assert r.rc == 0, hex(r.rc)
    parent = struct.unpack(">I", r.body[:4])[0]
    heads = [
        u16(0x0023) + u16(0x000B) + u32(0x10 | 0x40 | 0x40000) + tpm2b(b"") + u16(0x0010) + u16(0x0018) + u16(0x000B)
        + u16(0x0003) + u16(0x0010),
        u16(0x0023) + u16(0x000C) + u32(0x10 | 0x40 | 0x40000) + tpm2b(b"") + u16(0x0010) + u16(0x0018) + u16(0x000C)
        + u16(0x0004) + u16(0x0010),
        u16(0x0008) + u16(0x000B) + u32(0x10 | 0x40 | 0x40000) + tpm2b(b"") + u16(0x0005) + u16(0x000B),
        u16(0x0025) + u16(0x000B) + u32(0x10 | 0x40 | 0x20000 | 0x40000) + tpm2b(b"") + u16(0x0006) + u16(128) + u16(0x0043),
    ]
    out = []
    for i, head in enumerate(heads):
        template = head + tpm2b(b"vtpm test") + tpm2b(b"context %d" % i)
        r = transact(t, wire.command(0x191, u32(parent), tpm2b(tpm2b(b"") + tpm2b(b"")) + tpm2b(template),
                                    [wire.pw_session()]))
        assert r.rc == 0, hex(r.rc)
        rd = wire.Reader(r.params(handles=1))
        assert rd.tpm2b() == b""  # a derived object's private area is not returned
        out.append(rd.tpm2b())
        assert transact(t, wire.command(0x165, params=r.body[:4])).rc == 0
    return out


def test_derived_objects_across_tpms(candidate_impl, swtpm_impl, tpm_factory):
    """The same derivation parent secret, templates, labels and contexts give the same public
    areas on swtpm (libtpms) and on the candidate."""
    ref = tpm_factory(swtpm_impl, "swtpm", name="ref")
    cand = tpm_factory(candidate_impl, "swtpm", name="cand")
    assert derived_public_areas(cand) == derived_public_areas(ref)


# --- CertifyX509 ---------------------------------------------------------------------------------

def der(tag: int, content: bytes) -> bytes:
    n = len(content)
    length = bytes([n]) if n < 128 else bytes([0x81, n]) if n < 256 else bytes([0x82, n >> 8, n & 0xFF])
    return bytes([tag]) + length + content


def der_elements(b: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(b):
        n, j = b[i + 1], i + 2
        if n & 0x80:
            k = n & 0x7F
            n, j = int.from_bytes(b[j:j + k], "big"), j + k
        out.append(b[i:j + n])
        i = j + n
    return out


def der_content(b: bytes) -> bytes:
    return b[2 + (b[1] & 0x7F):] if b[1] & 0x80 else b[2:]


def certify_x509(t, keys) -> tuple[bytes, bytes, x509.Certificate]:
    """LoadExternal of two P-256 keys (object, signer), CertifyX509 of a partial certificate,
    the certificate assembled from it; returns addedToCertificate, tbsDigest and the certificate."""
    u16 = lambda v: struct.pack(">H", v)  # noqa: E731
    u32 = lambda v: struct.pack(">I", v)  # noqa: E731
    handles = []
    for k in keys:
        pn = k.public_key().public_numbers()
        public = u16(0x23) + u16(0xB) + u32(0x40040) + tpm2b(b"") + u16(0x10) + u16(0x18) + u16(0xB) + u16(3) + u16(0x10) \
            + tpm2b(pn.x.to_bytes(32, "big")) + tpm2b(pn.y.to_bytes(32, "big"))
        sensitive = u16(0x23) + tpm2b(b"") + tpm2b(b"") + tpm2b(k.private_numbers().private_value.to_bytes(32, "big"))
        r = transact(t, wire.command(0x167, params=tpm2b(sensitive) + tpm2b(public) + u32(wire.RH_NULL)))
        assert r.rc == 0, hex(r.rc)
        handles.append(r.body[:4])
    name = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]).public_bytes()  # noqa: E731
    validity = der(0x30, der(0x17, b"260101000000Z") + der(0x17, b"360101000000Z"))
    key_usage = der(0x30, bytes([6, 3, 0x55, 0x1D, 0x0F]) + der(1, b"\xff") + der(4, der(3, b"\x07\x80")))
    partial = der(0x30, name("vtpm CA") + validity + name("vtpm key") + der(0xA3, der(0x30, key_usage)))
    r = transact(t, wire.command(0x197, handles[0] + handles[1], tpm2b(b"") + u16(0x18) + u16(0xB) + tpm2b(partial),
                                 [wire.pw_session(), wire.pw_session()]))
    assert r.rc == 0, hex(r.rc)
    rd = wire.Reader(r.params())
    added, tbs_digest = rd.tpm2b(), rd.tpm2b()
    assert rd.u16() == 0x18 and rd.u16() == 0xB
    sig_r, sig_s = rd.tpm2b(), rd.tpm2b()
    a, p = der_elements(der_content(added)), der_elements(der_content(partial))
    tbs = der(0x30, b"".join(a[:3] + p[:3] + a[3:] + p[3:]))
    assert hashlib.sha256(tbs).digest() == tbs_digest
    signature = utils.encode_dss_signature(int.from_bytes(sig_r, "big"), int.from_bytes(sig_s, "big"))
    cert = x509.load_der_x509_certificate(der(0x30, tbs + a[2] + der(0x03, b"\x00" + signature)))
    for h in handles:
        assert transact(t, wire.command(0x165, params=h)).rc == 0
    return added, tbs_digest, cert


def test_certifyx509_across_tpms(candidate_impl, swtpm_impl, tpm_factory):
    """The certificate TPM2_CertifyX509 completes parses and verifies with `cryptography`, names
    the object's key, and its TPM-added parts equal libtpms's for the same keys."""
    keys = [ec.derive_private_key(0x1234567890ABCDEF + i, ec.SECP256R1()) for i in range(2)]
    results = []
    for impl in (swtpm_impl, candidate_impl):
        t = tpm_factory(impl, "swtpm", name=f"x509-{impl.name}")
        added, digest, cert = certify_x509(t, keys)
        keys[1].public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
        assert cert.public_key().public_numbers() == keys[0].public_key().public_numbers()
        assert cert.subject.rfc4514_string() == "CN=vtpm key" and cert.version == x509.Version.v3
        assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
        results.append((added, digest))
    assert results[0] == results[1]
