"""PolicySecret, PolicySigned, PolicyTicket, PolicyAuthorize, PCR authorization and command/session
audit through tpm2-tools 5.4, against vtpm and swtpm alike. Every expected value comes from outside
the TPM: policy digests from Part 3's formulas with hashlib, signatures made and checked by
openssl, audit digests recomputed here from the commands sent, response codes from Part 2/3."""
from __future__ import annotations

import hashlib
import struct
import subprocess

from harness import wire

CC_POLICY_SECRET = 0x151
CC_POLICY_SIGNED = 0x160
CC_POLICY_AUTHORIZE = 0x16A
CC_POLICY_AUTH_VALUE = 0x16B
CC_SET_AUDIT = 0x140
CC_GET_RANDOM = 0x17B
CC_PCR_EXTEND = 0x182
CC_PCR_SET_AUTH_VALUE = 0x183
CC_PCR_SET_AUTH_POLICY = 0x12C
ZERO32 = bytes(32)


def sha256(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def u32(v: int) -> bytes:
    return struct.pack(">I", v)


def ek_policy() -> bytes:
    # PolicySecret(TPM_RH_ENDORSEMENT), Part 3, 23.4: H(H(0 || CC || Name) || policyRef).
    return sha256(sha256(ZERO32, u32(CC_POLICY_SECRET), u32(wire.RH_ENDORSEMENT)), b"")


def openssl(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, check=True, **kw)


def parse_attest(data: bytes) -> tuple[int, wire.Reader]:
    """TPMS_ATTEST (Part 2, 10.12.12) up to the attested union: (type, reader at attested)."""
    r = wire.Reader(data)
    assert r.u32() == 0xFF544347  # TPM_GENERATED_VALUE
    kind = r.u16()
    r.tpm2b()  # qualifiedSigner
    r.tpm2b()  # extraData
    r.take(8 + 4 + 4 + 1)  # clockInfo
    r.take(8)  # firmwareVersion
    return kind, r


def test_policysecret_is_the_ek_policy_and_unseals(tpm, tmp_path):
    pol = tmp_path / "pol.dat"
    trial = tmp_path / "trial.ctx"
    tpm.tool("startauthsession", "-S", str(trial))
    tpm.tool("policysecret", "-S", str(trial), "-c", "e", "-L", str(pol))
    tpm.tool("flushcontext", str(trial))
    assert pol.read_bytes() == ek_policy()
    assert ek_policy().hex() == "837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa"
    # Seal a secret under that policy (no userWithAuth: only the policy opens it).
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"vtpm policy secret")
    tpm.tool("createprimary", "-C", "o", "-c", str(tmp_path / "prim.ctx"))
    tpm.tool("create", "-C", str(tmp_path / "prim.ctx"), "-L", str(pol), "-i", str(secret), "-a", "fixedtpm|fixedparent",
             "-u", str(tmp_path / "seal.pub"), "-r", str(tmp_path / "seal.priv"))
    tpm.tool("flushcontext", "-t")
    tpm.tool("load", "-C", str(tmp_path / "prim.ctx"), "-u", str(tmp_path / "seal.pub"), "-r", str(tmp_path / "seal.priv"),
             "-c", str(tmp_path / "seal.ctx"))
    tpm.tool("flushcontext", "-t")
    s = tmp_path / "s.ctx"
    tpm.tool("startauthsession", "--policy-session", "-S", str(s))
    # Without PolicySecret the digest is zeros: TPM_RC_POLICY_FAIL for session 1.
    assert tpm.tool_error("unseal", "-c", str(tmp_path / "seal.ctx"), "-p", f"session:{s}") == \
        wire.rc_session(0x09D, 1)
    tpm.tool("flushcontext", str(s))
    tpm.tool("startauthsession", "--policy-session", "-S", str(s))
    tpm.tool("policysecret", "-S", str(s), "-c", "e")
    out = tpm.tool("unseal", "-c", str(tmp_path / "seal.ctx"), "-p", f"session:{s}", text=False).stdout
    assert out == secret.read_bytes()


def test_policysigned_with_an_openssl_key(tpm, tmp_path):
    key = tmp_path / "key.pem"
    pub = tmp_path / "pub.pem"
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key))
    openssl("ec", "-in", str(key), "-pubout", "-out", str(pub))
    ctx, name = tmp_path / "signer.ctx", tmp_path / "signer.name"
    tpm.tool("loadexternal", "-C", "o", "-G", "ecc", "-u", str(pub), "-c", str(ctx), "-n", str(name))
    # Without a resource manager every tool leaves the objects it loads: flush them each time.
    tpm.tool("flushcontext", "-t")
    ref = tmp_path / "ref.bin"
    ref.write_bytes(b"policy ref")
    expected = sha256(sha256(ZERO32, u32(CC_POLICY_SIGNED), name.read_bytes()), b"policy ref")
    s = tmp_path / "s.ctx"
    tpm.tool("startauthsession", "--policy-session", "-S", str(s))
    raw = tmp_path / "to_sign.bin"
    tpm.tool("policysigned", "-S", str(s), "-c", str(ctx), "-x", "-q", str(ref), "--raw-data", str(raw))
    tpm.tool("flushcontext", "-t")
    data = raw.read_bytes()
    # aHash input: nonceTPM (32, the session's) || expiration (0) || cpHashA (none) || policyRef.
    assert len(data) == 32 + 4 + len(b"policy ref") and data[32:36] == bytes(4) and data.endswith(b"policy ref")
    sig = tmp_path / "sig.der"
    # A signature over something else: TPM_RC_SIGNATURE on parameter 5.
    other = tmp_path / "other.bin"
    other.write_bytes(b"something else")
    openssl("dgst", "-sha256", "-sign", str(key), "-out", str(sig), str(other))
    assert tpm.tool_error("policysigned", "-S", str(s), "-g", "sha256", "-s", str(sig), "-f", "ecdsa", "-c", str(ctx), "-x",
                          "-q", str(ref)) == wire.rc_param(0x09B, 5)
    tpm.tool("flushcontext", "-t")
    openssl("dgst", "-sha256", "-sign", str(key), "-out", str(sig), str(raw))
    pol = tmp_path / "pol.dat"
    tpm.tool("policysigned", "-S", str(s), "-g", "sha256", "-s", str(sig), "-f", "ecdsa", "-c", str(ctx), "-x",
             "-q", str(ref), "-L", str(pol))
    assert pol.read_bytes() == expected
    tpm.tool("flushcontext", str(s))


def test_policyticket_from_policysecret(tpm, tmp_path):
    s = tmp_path / "s.ctx"
    tpm.tool("startauthsession", "--policy-session", "-S", str(s))
    ticket, timeout = tmp_path / "tic.ket", tmp_path / "time.out"
    tpm.tool("policysecret", "-S", str(s), "-c", "o", "-t", "-500", "--ticket", str(ticket), "--timeout", str(timeout))
    tpm.tool("flushcontext", str(s))
    t = wire.Reader(ticket.read_bytes())
    # TPMT_TK_AUTH: TPM_ST_AUTH_SECRET, owner's hierarchy, an HMAC.
    assert (t.u16(), t.u32()) == (0x8023, wire.RH_OWNER) and len(t.tpm2b()) > 0
    assert len(timeout.read_bytes()) == 8
    owner_name = tmp_path / "owner.name"
    owner_name.write_bytes(u32(wire.RH_OWNER))
    tpm.tool("startauthsession", "--policy-session", "-S", str(s))
    pol = tmp_path / "pol.dat"
    tpm.tool("policyticket", "-S", str(s), "-n", str(owner_name), "--ticket", str(ticket), "--timeout", str(timeout),
             "-L", str(pol))
    assert pol.read_bytes() == sha256(sha256(ZERO32, u32(CC_POLICY_SECRET), u32(wire.RH_OWNER)), b"")
    # The ticket names owner: presented for endorsement it is refused (TPM_RC_TICKET + P5).
    tpm.tool("flushcontext", str(s))
    tpm.tool("startauthsession", "--policy-session", "-S", str(s))
    other = tmp_path / "e.name"
    other.write_bytes(u32(wire.RH_ENDORSEMENT))
    assert tpm.tool_error("policyticket", "-S", str(s), "-n", str(other), "--ticket", str(ticket), "--timeout",
                          str(timeout)) == wire.rc_param(0x0A0, 5)
    tpm.tool("flushcontext", str(s))


def test_policyauthorize_with_verifysignature(tpm, tmp_path):
    key, pub = tmp_path / "key.pem", tmp_path / "pub.pem"
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key))
    openssl("ec", "-in", str(key), "-pubout", "-out", str(pub))
    ctx, name = tmp_path / "signer.ctx", tmp_path / "signer.name"
    tpm.tool("loadexternal", "-C", "o", "-G", "ecc", "-u", str(pub), "-c", str(ctx), "-n", str(name))
    # Without a resource manager every tool leaves the objects it loads: flush them each time.
    tpm.tool("flushcontext", "-t")
    approved = sha256(ZERO32, u32(CC_POLICY_AUTH_VALUE))
    ref = b"approval 1"
    (tmp_path / "approved.dat").write_bytes(approved)
    (tmp_path / "ref.bin").write_bytes(ref)
    msg = tmp_path / "msg.bin"
    msg.write_bytes(approved + ref)
    openssl("dgst", "-sha256", "-sign", str(key), "-out", str(tmp_path / "sig.der"), str(msg))
    tkt = tmp_path / "verified.tkt"
    tpm.tool("verifysignature", "-c", str(ctx), "-g", "sha256", "-m", str(msg), "-s", str(tmp_path / "sig.der"),
             "-f", "ecdsa", "-t", str(tkt))
    tpm.tool("flushcontext", "-t")
    t = wire.Reader(tkt.read_bytes())
    assert (t.u16(), t.u32()) == (0x8022, wire.RH_OWNER)
    s = tmp_path / "s.ctx"
    tpm.tool("startauthsession", "--policy-session", "-S", str(s))
    # The approved policy is not the session's yet: TPM_RC_VALUE + P1.
    args = ["policyauthorize", "-S", str(s), "-i", str(tmp_path / "approved.dat"), "-q", str(tmp_path / "ref.bin"),
            "-n", str(name), "-t", str(tkt)]
    assert tpm.tool_error(*args) == wire.rc_param(0x084, 1)
    tpm.tool("policyauthvalue", "-S", str(s))
    pol = tmp_path / "pol.dat"
    tpm.tool(*args, "-L", str(pol))
    assert pol.read_bytes() == sha256(sha256(ZERO32, u32(CC_POLICY_AUTHORIZE), name.read_bytes()), ref)
    tpm.tool("flushcontext", str(s))


def _pcr_cmd(tpm, cc: int, handle: int, params: bytes, password: bytes = b"", locality: int = 0) -> int:
    return tpm.transact(wire.command(cc, wire.u32(handle), params, [wire.pw_session(password)]), locality=locality).rc


def test_pcr_auth_value_and_policy(tpm):
    zero = wire.digest_values({"sha256": ZERO32})
    # PCR 0 has no auth group: TPM_RC_VALUE (unnumbered in libtpms and here).
    assert _pcr_cmd(tpm, CC_PCR_SET_AUTH_VALUE, 0, wire.tpm2b(b"abc")) == wire.RC_VALUE
    assert _pcr_cmd(tpm, CC_PCR_SET_AUTH_VALUE, 20, wire.tpm2b(b"abc")) == 0
    # PCR 20 extends at locality 1 (PC Client) with the group's authValue only.
    assert _pcr_cmd(tpm, CC_PCR_EXTEND, 20, zero, b"", locality=1) == wire.rc_session(0x0A2, 1)
    assert _pcr_cmd(tpm, CC_PCR_EXTEND, 20, zero, b"abc", locality=1) == 0
    assert _pcr_cmd(tpm, CC_PCR_EXTEND, 22, zero, b"abc", locality=2) == 0, "22 is in the same group"
    # A policy for the group (platform authorization): passwords no longer serve.
    policy = sha256(ZERO32, u32(CC_POLICY_AUTH_VALUE))
    assert _pcr_cmd(tpm, CC_PCR_SET_AUTH_POLICY, wire.RH_PLATFORM, wire.tpm2b(bytes(20)) + wire.u16(0x0B) + u32(21)) == \
        wire.rc_param(0x095, 1)
    assert _pcr_cmd(tpm, CC_PCR_SET_AUTH_POLICY, wire.RH_PLATFORM, wire.tpm2b(policy) + wire.u16(0x0B) + u32(0)) == \
        wire.rc_param(0x084, 3)
    assert _pcr_cmd(tpm, CC_PCR_SET_AUTH_POLICY, wire.RH_PLATFORM, wire.tpm2b(policy) + wire.u16(0x0B) + u32(21)) == 0
    assert _pcr_cmd(tpm, CC_PCR_EXTEND, 20, zero, b"abc", locality=1) == 0x124  # TPM_RC_AUTH_TYPE
    assert _pcr_cmd(tpm, CC_PCR_SET_AUTH_POLICY, wire.RH_PLATFORM, wire.tpm2b(b"") + wire.u16(0x10) + u32(20)) == 0
    assert _pcr_cmd(tpm, CC_PCR_EXTEND, 20, zero, b"abc", locality=1) == 0


def _signing_key(tpm, tmp_path):
    tpm.tool("createprimary", "-C", "e", "-c", str(tmp_path / "prim.ctx"))
    tpm.tool("create", "-C", str(tmp_path / "prim.ctx"), "-G", "rsa2048", "-c", str(tmp_path / "sign.ctx"),
             "-u", str(tmp_path / "sign.pub"), "-r", str(tmp_path / "sign.priv"), "-a",
             "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign")
    tpm.tool("flushcontext", "-t")
    tpm.tool("load", "-C", str(tmp_path / "prim.ctx"), "-u", str(tmp_path / "sign.pub"), "-r", str(tmp_path / "sign.priv"),
             "-c", str(tmp_path / "sign.ctx"))
    tpm.tool("flushcontext", "-t")
    tpm.tool("readpublic", "-c", str(tmp_path / "sign.ctx"), "-f", "pem", "-o", str(tmp_path / "sign.pem"))
    tpm.tool("flushcontext", "-t")
    return tmp_path / "sign.ctx", tmp_path / "sign.pem"


def _verify(pem, data, sig):
    openssl("dgst", "-sha256", "-verify", str(pem), "-signature", str(sig), str(data))


def test_command_audit_digest_recomputed(tpm, tmp_path):
    # Audit GetRandom. SetCommandCodeAuditStatus is audited itself (SHA-512 after manufacture,
    # as CONTEXT_INTEGRITY_HASH in libtpms), and the first audited command increments the counter.
    set_params = wire.u16(0x10) + u32(1) + u32(CC_GET_RANDOM) + u32(0)
    r = tpm.transact(wire.command(CC_SET_AUDIT, wire.u32(wire.RH_OWNER), set_params, [wire.pw_session()]))
    assert r.rc == 0
    g = tpm.cmd("GetRandom", params=wire.u16(16))
    assert g.rc == 0
    # TPM_CAP_AUDIT_COMMANDS (tpm2 getcap has no name for it): both, ascending.
    c = tpm.cmd("GetCapability", params=u32(0x4) + u32(0) + u32(64))
    assert c.rc == 0 and c.params() == b"\x00" + u32(4) + u32(2) + u32(CC_SET_AUDIT) + u32(CC_GET_RANDOM)
    props = tpm.tool("getcap", "properties-variable").stdout
    assert "TPM2_PT_AUDIT_COUNTER_1: 0x1" in props
    key, pem = _signing_key(tpm, tmp_path)
    att, sig = tmp_path / "att.data", tmp_path / "att.sig"
    tpm.tool("getcommandauditdigest", "-c", str(key), "-g", "sha256", "-f", "plain", "-m", str(att), "-s", str(sig),
             "-q", "abcd")
    tpm.tool("flushcontext", "-t")
    _verify(pem, att, sig)
    kind, rd = parse_attest(att.read_bytes())
    assert kind == 0x8015  # TPM_ST_ATTEST_COMMAND_AUDIT
    counter, alg, digest, commands = rd.u64(), rd.u16(), rd.tpm2b(), rd.tpm2b()
    assert rd.done()
    assert (counter, alg) == (1, 0x000D)
    h = lambda *p: hashlib.sha512(b"".join(p)).digest()  # noqa: E731
    expected = bytes(64)
    for cc, names, params, resp in [(CC_SET_AUDIT, u32(wire.RH_OWNER), set_params, b""),
                                    (CC_GET_RANDOM, b"", wire.u16(16), g.params())]:
        expected = h(expected, h(u32(cc), names, params), h(u32(0), u32(cc), resp))
    assert digest == expected
    assert commands == h(u32(CC_SET_AUDIT), u32(CC_GET_RANDOM))
    # Signed: the digest starts over (the next audited command makes counter 2).
    tpm.cmd("GetRandom", params=wire.u16(4))
    tpm.tool("getcommandauditdigest", "-c", str(key), "-g", "sha256", "-f", "plain", "-m", str(att), "-s", str(sig))
    tpm.tool("flushcontext", "-t")
    _verify(pem, att, sig)
    _, rd = parse_attest(att.read_bytes())
    assert rd.u64() == 2


def test_session_audit_digest(tpm, tmp_path):
    key, pem = _signing_key(tpm, tmp_path)
    s = tmp_path / "s.ctx"
    tpm.tool("startauthsession", "-S", str(s), "--audit-session")
    cp, rp = tmp_path / "cp.hash", tmp_path / "rp.hash"
    tpm.tool("getrandom", "8", "-S", str(s), "--cphash", str(cp), "--rphash", str(rp), "-o", str(tmp_path / "rand.bin"))
    # The tool writes TPM2B_DIGESTs; cpHash computed here from Part 1, 18.7 (no handles).
    cp_hash, rp_hash = wire.Reader(cp.read_bytes()).tpm2b(), wire.Reader(rp.read_bytes()).tpm2b()
    assert cp_hash == sha256(u32(CC_GET_RANDOM), wire.u16(8))
    att, sig = tmp_path / "att.data", tmp_path / "att.sig"
    tpm.tool("getsessionauditdigest", "-c", str(key), "-g", "sha256", "-f", "plain", "-m", str(att), "-s", str(sig),
             "-S", str(s))
    _verify(pem, att, sig)
    kind, rd = parse_attest(att.read_bytes())
    assert kind == 0x8016  # TPM_ST_ATTEST_SESSION_AUDIT
    rd.u8()  # exclusiveSession: depends on the tool's other commands in between
    assert rd.tpm2b() == sha256(ZERO32, cp_hash, rp_hash)
    assert rd.done()
    tpm.tool("flushcontext", str(s))


def test_ek_and_ak_through_policysecret(tpm, tmp_path):
    """The guest agent's flow: the TCG-template EK (policy PolicySecret(endorsement), no
    userWithAuth) as a transient context, an AK created and loaded under it (each use of the EK
    needs a PolicySecret session, which tpm2 createak makes), a quote by the AK checked by
    tpm2 checkquote with the AK's public key."""
    ek, ak = tmp_path / "ek.ctx", tmp_path / "ak.ctx"
    tpm.tool("createek", "-c", str(ek), "-G", "rsa", "-u", str(tmp_path / "ek.pub"))
    y = tpm.tool("readpublic", "-c", str(ek)).stdout
    assert ek_policy().hex() in y.lower()
    tpm.tool("flushcontext", "-t")
    tpm.tool("createak", "-C", str(ek), "-c", str(ak), "-G", "rsa", "-g", "sha256", "-s", "rsassa",
             "-u", str(tmp_path / "ak.pub"), "-n", str(tmp_path / "ak.name"), "-f", "pem")
    tpm.tool("flushcontext", "-t")
    tpm.tool("flushcontext", "-s")
    msg, sig, pcrs = tmp_path / "msg", tmp_path / "sig", tmp_path / "pcrs"
    tpm.tool("quote", "-c", str(ak), "-l", "sha256:0,1", "-q", "0102", "-m", str(msg), "-s", str(sig), "-o", str(pcrs),
             "-g", "sha256")
    tpm.tool("checkquote", "-u", str(tmp_path / "ak.pub"), "-m", str(msg), "-s", str(sig), "-f", str(pcrs), "-g", "sha256",
             "-q", "0102")
    # And the quote's signature by openssl with the AK's PEM public key (RSASSA-SHA256 over TPMS_ATTEST).
    raw = tmp_path / "sig.raw"
    r = wire.Reader(sig.read_bytes())
    assert (r.u16(), r.u16()) == (0x0014, 0x000B)
    raw.write_bytes(r.tpm2b())
    _verify(tmp_path / "ak.pub", msg, raw)
