"""NV Indices and persistent objects (Part 3, 28.5 and 31) through tpm2-tools 5.4 and raw commands,
against every selected TPM (vtpm and swtpm run the same assertions). Expected values come from
outside the TPM: hashlib for extends and Names, openssl for certify signatures, Part 2/3 and
libtpms for response codes."""
from __future__ import annotations

import hashlib
import struct

import pytest

from harness import wire
from harness.tools import load_yaml

IDX = 0x01500016
CC_NV_DEFINE = 0x12A
CC_NV_UNDEFINE = 0x122
CC_NV_WRITE = 0x137
CC_NV_READ = 0x14E
CC_NV_READ_PUBLIC = 0x169
CC_NV_INCREMENT = 0x134
CC_NV_WRITE_LOCK = 0x138
CC_EVICT = 0x120

RC_NV_RANGE = 0x146
RC_NV_LOCKED = 0x148
RC_NV_AUTHORIZATION = 0x149
RC_NV_UNINITIALIZED = 0x14A
RC_NV_DEFINED = 0x14C
RC_ATTRIBUTES = 0x082

# TPMA_NV bits (Part 2, 13.4).
PPWRITE, OWNERWRITE, AUTHWRITE = 1 << 0, 1 << 1, 1 << 2
WRITEDEFINE, WRITE_STCLEAR, WRITTEN = 1 << 13, 1 << 14, 1 << 29
OWNERREAD, AUTHREAD, READ_STCLEAR = 1 << 17, 1 << 18, 1 << 31
NO_DA = 1 << 25


def nv_public(index: int, attrs: int, size: int, alg: str = "sha256", policy: bytes = b"") -> bytes:
    return (wire.u32(index) + wire.u16(wire.ALG[alg]) + wire.u32(attrs) + wire.tpm2b(policy) + wire.u16(size))


def nv_name(public: bytes, alg: str = "sha256") -> bytes:
    """Part 1, 16: nameAlg || H(TPMS_NV_PUBLIC)."""
    return wire.u16(wire.ALG[alg]) + hashlib.new(alg, public).digest()


RC_RETRY = 0x922


def raw(tpm, cc: int, handles: list[int], params: bytes = b"", auth: bytes | None = b""):
    sessions = None if auth is None else [wire.pw_session(auth)]
    cmd = wire.command(cc, b"".join(wire.u32(h) for h in handles), params, sessions)
    r = tpm.transact(cmd)
    # libtpms answers the first DA-protected authorization after Startup with TPM_RC_RETRY (it
    # writes its DA mark first); a TSS repeats the command, and so do we.
    return tpm.transact(cmd) if r.rc == RC_RETRY else r


def define(tpm, index: int, attrs: int, size: int, auth: bytes = b"", hierarchy: int = wire.RH_OWNER) -> int:
    return raw(tpm, CC_NV_DEFINE, [hierarchy], wire.tpm2b(auth) + wire.tpm2b(nv_public(index, attrs, size))).rc


def read_public(tpm, index: int) -> tuple[bytes, bytes]:
    r = raw(tpm, CC_NV_READ_PUBLIC, [index], auth=None)
    assert r.rc == 0, hex(r.rc)
    rd = wire.Reader(r.params())
    pub = rd.tpm2b()
    name = rd.tpm2b()
    assert rd.done()
    return pub, name


def test_ordinary_index_with_tools(tpm, tmp_path):
    tpm.tool("nvdefine", hex(IDX), "-C", "o", "-s", "32", "-a", "ownerread|ownerwrite|authread|authwrite")
    data = bytes(range(32))
    (tmp_path / "data.bin").write_bytes(data)
    tpm.tool("nvwrite", hex(IDX), "-C", "o", "-i", str(tmp_path / "data.bin"))
    out = tmp_path / "out.bin"
    tpm.tool("nvread", hex(IDX), "-C", "o", "-s", "32", "-o", str(out))
    assert out.read_bytes() == data
    tpm.tool("nvread", hex(IDX), "-C", hex(IDX), "-s", "4", "--offset", "8", "-o", str(out))
    assert out.read_bytes() == data[8:12]
    # The Name covers the public area with TPMA_NV_WRITTEN set.
    pub, name = read_public(tpm, IDX)
    attrs = struct.unpack(">I", pub[6:10])[0]
    assert attrs == OWNERREAD | OWNERWRITE | AUTHREAD | AUTHWRITE | WRITTEN
    assert name == nv_name(pub)
    y = load_yaml(tpm.tool("nvreadpublic", hex(IDX)).stdout)
    assert y[IDX]["name"] == name.hex()
    tpm.tool("nvundefine", hex(IDX), "-C", "o")
    assert raw(tpm, CC_NV_READ_PUBLIC, [IDX], auth=None).rc == wire.rc_handle(wire.RC_HANDLE, 1)


def test_partial_first_write_leaves_erased_octets(tpm):
    # The rest of the Index reads as erased NV (all ones), as libtpms leaves it.
    assert define(tpm, IDX, OWNERREAD | OWNERWRITE, 16) == 0
    assert raw(tpm, CC_NV_WRITE, [wire.RH_OWNER, IDX], wire.tpm2b(b"\xAA\xBB") + wire.u16(3)).rc == 0
    r = raw(tpm, CC_NV_READ, [wire.RH_OWNER, IDX], wire.u16(16) + wire.u16(0))
    assert r.rc == 0 and wire.Reader(r.params()).tpm2b() == b"\xFF" * 3 + b"\xAA\xBB" + b"\xFF" * 11


def test_counter_extend_bits(tpm, tmp_path):
    tpm.tool("nvdefine", "0x1500020", "-C", "o", "-s", "8", "-a", "nt=counter|ownerread|ownerwrite|authread|authwrite")
    for _ in range(3):
        tpm.tool("nvincrement", "0x1500020", "-C", "o")
    out = tmp_path / "c.bin"
    tpm.tool("nvread", "0x1500020", "-C", "o", "-s", "8", "-o", str(out))
    assert struct.unpack(">Q", out.read_bytes())[0] == 3

    tpm.tool("nvdefine", "0x1500021", "-C", "o", "-g", "sha256", "-s", "32",
             "-a", "nt=extend|ownerread|ownerwrite|authread|authwrite")
    expect = bytes(32)
    for chunk in (b"first event", b"second"):
        (tmp_path / "e.bin").write_bytes(chunk)
        tpm.tool("nvextend", "0x1500021", "-C", "o", "-i", str(tmp_path / "e.bin"))
        expect = hashlib.sha256(expect + chunk).digest()
    tpm.tool("nvread", "0x1500021", "-C", "o", "-s", "32", "-o", str(out))
    assert out.read_bytes() == expect

    tpm.tool("nvdefine", "0x1500022", "-C", "o", "-s", "8", "-a", "nt=bits|ownerread|ownerwrite|authread|authwrite")
    tpm.tool("nvsetbits", "0x1500022", "-C", "o", "-i", "0x1")
    tpm.tool("nvsetbits", "0x1500022", "-C", "o", "-i", "0x8000000000000100")
    tpm.tool("nvread", "0x1500022", "-C", "o", "-s", "8", "-o", str(out))
    assert struct.unpack(">Q", out.read_bytes())[0] == 0x8000000000000101

    # NV_Write refuses counter, bits and extend Indices (TPM_RC_ATTRIBUTES, unnumbered).
    r = raw(tpm, CC_NV_WRITE, [wire.RH_OWNER, 0x1500020], wire.tpm2b(bytes(8)) + wire.u16(0))
    assert r.rc == RC_ATTRIBUTES
    # NV_Increment on an ordinary Index: TPM_RC_ATTRIBUTES + H2.
    assert define(tpm, IDX, OWNERREAD | OWNERWRITE, 8) == 0
    assert raw(tpm, CC_NV_INCREMENT, [wire.RH_OWNER, IDX]).rc == wire.rc_handle(RC_ATTRIBUTES, 2)
    y = load_yaml(tpm.tool("getcap", "properties-variable").stdout)
    assert y["TPM2_PT_HR_NV_INDEX"] == 4 and y["TPM2_PT_NV_COUNTERS"] == 1


def test_locks(tpm, tmp_path):
    tpm.tool("nvdefine", hex(IDX), "-C", "o", "-s", "8", "-a", "ownerread|ownerwrite|read_stclear|writedefine")
    (tmp_path / "d.bin").write_bytes(b"12345678")
    tpm.tool("nvwrite", hex(IDX), "-C", "o", "-i", str(tmp_path / "d.bin"))
    tpm.tool("nvreadlock", hex(IDX), "-C", "o")
    assert raw(tpm, CC_NV_READ, [wire.RH_OWNER, IDX], wire.u16(8) + wire.u16(0)).rc == RC_NV_LOCKED
    tpm.tool("nvwritelock", hex(IDX), "-C", "o")
    r = raw(tpm, CC_NV_WRITE, [wire.RH_OWNER, IDX], wire.tpm2b(b"x") + wire.u16(0))
    assert r.rc == RC_NV_LOCKED
    # Locking again succeeds; a TPM Reset ends the read lock, not the WRITEDEFINE write lock.
    assert raw(tpm, CC_NV_WRITE_LOCK, [wire.RH_OWNER, IDX]).rc == 0
    assert tpm.shutdown(wire.SU_CLEAR) == 0
    tpm.restart(startup_clear=True)
    r = raw(tpm, CC_NV_READ, [wire.RH_OWNER, IDX], wire.u16(8) + wire.u16(0))
    assert r.rc == 0 and wire.Reader(r.params()).tpm2b() == b"12345678"
    r = raw(tpm, CC_NV_WRITE, [wire.RH_OWNER, IDX], wire.tpm2b(b"x") + wire.u16(0))
    assert r.rc == RC_NV_LOCKED


def test_error_codes(tpm):
    assert define(tpm, IDX, OWNERREAD | OWNERWRITE, 8) == 0
    assert define(tpm, IDX, OWNERREAD | OWNERWRITE, 8) == RC_NV_DEFINED
    # Never written: TPM_RC_NV_UNINITIALIZED.
    assert raw(tpm, CC_NV_READ, [wire.RH_OWNER, IDX], wire.u16(8) + wire.u16(0)).rc == RC_NV_UNINITIALIZED
    # Data past the end: TPM_RC_NV_RANGE; an offset past the end: TPM_RC_VALUE + P2.
    assert raw(tpm, CC_NV_WRITE, [wire.RH_OWNER, IDX], wire.tpm2b(bytes(9)) + wire.u16(0)).rc == RC_NV_RANGE
    r = raw(tpm, CC_NV_WRITE, [wire.RH_OWNER, IDX], wire.tpm2b(b"") + wire.u16(9))
    assert r.rc == wire.rc_param(wire.RC_VALUE, 2)
    # The Index's own authorization without AUTHWRITE: TPM_RC_AUTH_UNAVAILABLE (format zero).
    r = raw(tpm, CC_NV_WRITE, [IDX, IDX], wire.tpm2b(b"a") + wire.u16(0))
    assert r.rc == 0x12F
    # Owner authorization for an Index without OWNERREAD.
    assert define(tpm, IDX + 1, AUTHREAD | OWNERWRITE, 8) == 0
    assert raw(tpm, CC_NV_WRITE, [wire.RH_OWNER, IDX + 1], wire.tpm2b(bytes(8)) + wire.u16(0)).rc == 0
    r = raw(tpm, CC_NV_READ, [wire.RH_OWNER, IDX + 1], wire.u16(8) + wire.u16(0))
    assert r.rc == RC_NV_AUTHORIZATION
    # Attribute rules of NV_DefineSpace (TPM_RC_ATTRIBUTES + P2): no read, written set,
    # counter of the wrong size (TPM_RC_SIZE + P2), platformCreate under the owner (+ H1).
    assert define(tpm, IDX + 2, OWNERWRITE, 8) == wire.rc_param(RC_ATTRIBUTES, 2)
    assert define(tpm, IDX + 2, OWNERREAD | OWNERWRITE | WRITTEN, 8) == wire.rc_param(RC_ATTRIBUTES, 2)
    assert define(tpm, IDX + 2, OWNERREAD | OWNERWRITE | (1 << 4), 4) == wire.rc_param(wire.RC_SIZE, 2)
    assert define(tpm, IDX + 2, OWNERREAD | OWNERWRITE | (1 << 30), 8) == wire.rc_handle(RC_ATTRIBUTES, 1)
    # A wrong NV password (the Index is DA protected): TPM_RC_AUTH_FAIL for session 1.
    assert define(tpm, IDX + 3, AUTHREAD | AUTHWRITE, 8, auth=b"secret") == 0
    r = raw(tpm, CC_NV_WRITE, [IDX + 3, IDX + 3], wire.tpm2b(b"a") + wire.u16(0), auth=b"wrong")
    assert r.rc == wire.rc_session(wire.RC_AUTH_FAIL, 1)
    assert raw(tpm, CC_NV_WRITE, [IDX + 3, IDX + 3], wire.tpm2b(b"a") + wire.u16(0), auth=b"secret").rc == 0
    # An undefined Index: TPM_RC_HANDLE + H2.
    r = raw(tpm, CC_NV_READ, [wire.RH_OWNER, 0x01000999], wire.u16(1) + wire.u16(0))
    assert r.rc == wire.rc_handle(wire.RC_HANDLE, 2)


def test_nvcertify_verifies_with_openssl(tpm, tmp_path):
    tpm.tool("createprimary", "-C", "o", "-G", "rsa2048:rsassa-sha256:null", "-c", "signer.ctx",
             "-a", "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign")
    tpm.tool("readpublic", "-c", "signer.ctx", "-f", "pem", "-o", "signer.pem")
    tpm.tool("nvdefine", hex(IDX), "-C", "o", "-s", "16", "-a", "ownerread|ownerwrite|authread|authwrite")
    data = b"certify me now!!"
    (tmp_path / "d.bin").write_bytes(data)
    tpm.tool("nvwrite", hex(IDX), "-C", "o", "-i", str(tmp_path / "d.bin"))
    tpm.tool("nvcertify", "-C", "signer.ctx", "-c", "o", "-g", "sha256", "-f", "plain", "-o", "sig.bin",
             "--attestation", "attest.bin", "--size", "8", "--offset", "4", hex(IDX))
    import subprocess
    v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", "signer.pem", "-signature", "sig.bin", "attest.bin"],
                       cwd=tpm.workdir, capture_output=True, text=True)
    assert v.returncode == 0, v.stdout + v.stderr
    attest = (tpm.workdir / "attest.bin").read_bytes()
    rd = wire.Reader(attest)
    assert rd.u32() == 0xFF544347 and rd.u16() == 0x8014  # TPM_GENERATED_VALUE, TPM_ST_ATTEST_NV
    rd.tpm2b(), rd.tpm2b(), rd.take(17), rd.u64()
    _, name = read_public(tpm, IDX)
    assert rd.tpm2b() == name and rd.u16() == 4 and rd.tpm2b() == data[4:12] and rd.done()


def test_evictcontrol(tpm, tmp_path):
    tpm.tool("createprimary", "-C", "o", "-c", "primary.ctx")
    name = load_yaml(tpm.tool("readpublic", "-c", "primary.ctx").stdout)["name"]
    tpm.tool("evictcontrol", "-C", "o", "-c", "primary.ctx", "0x81000001")
    # Without a resource manager the tools leave objects loaded; a persistent object needs a
    # free transient slot for its copy (TPMA_MEMORY objectCopiedToRam).
    tpm.tool("flushcontext", "-t")
    y = load_yaml(tpm.tool("getcap", "handles-persistent").stdout)
    assert y == [0x81000001]
    assert load_yaml(tpm.tool("readpublic", "-c", "0x81000001").stdout)["name"] == name
    props = load_yaml(tpm.tool("getcap", "properties-variable").stdout)
    assert props["TPM2_PT_HR_PERSISTENT"] == 1
    # The owner persists in its range only (TPM_RC_RANGE + P1) and at a free handle.
    tpm.tool("createprimary", "-C", "o", "-c", "again.ctx")  # loaded at 0x80000000
    r = raw(tpm, CC_EVICT, [wire.RH_OWNER, 0x80000000], wire.u32(0x81800001))
    assert r.rc == wire.rc_param(wire.RC_RANGE, 1)
    assert raw(tpm, CC_EVICT, [wire.RH_OWNER, 0x80000000], wire.u32(0x81000001)).rc == RC_NV_DEFINED
    # It survives a power cycle and serves as a parent, and a salted session can use it.
    tpm.restart(startup_clear=True)
    assert load_yaml(tpm.tool("readpublic", "-c", "0x81000001").stdout)["name"] == name
    tpm.tool("create", "-C", "0x81000001", "-i-", "-u", "seal.pub", "-r", "seal.priv", input=b"sealed secret", text=False)
    tpm.tool("load", "-C", "0x81000001", "-u", "seal.pub", "-r", "seal.priv", "-c", "seal.ctx")
    tpm.tool("startauthsession", "-S", "salted.ctx", "--hmac-session", "-c", "0x81000001")
    out = tpm.tool("unseal", "-c", "seal.ctx", "-p", "session:salted.ctx", text=False).stdout
    assert out == b"sealed secret"
    tpm.tool("flushcontext", "salted.ctx")
    tpm.tool("flushcontext", "-t")
    tpm.tool("evictcontrol", "-C", "o", "-c", "0x81000001")
    assert load_yaml(tpm.tool("getcap", "handles-persistent").stdout) in (None, [])
    r = tpm.transact(wire.command(0x173, wire.u32(0x81000001)))  # ReadPublic
    assert r.rc == wire.rc_handle(wire.RC_HANDLE, 1)


def test_clear_removes_owner_nv_and_persistent(tpm):
    assert define(tpm, IDX, OWNERREAD | OWNERWRITE, 8) == 0
    tpm.tool("createprimary", "-C", "o", "-c", "primary.ctx")
    tpm.tool("evictcontrol", "-C", "o", "-c", "primary.ctx", "0x81000002")
    tpm.tool("clear", "-c", "p")
    assert load_yaml(tpm.tool("getcap", "handles-nv-index").stdout) in (None, [])
    assert load_yaml(tpm.tool("getcap", "handles-persistent").stdout) in (None, [])


@pytest.mark.parametrize("space", [0x1])
def test_platform_index_survives_clear(tpm, space):
    attrs = (1 << 30) | PPWRITE | (1 << 16) | OWNERREAD
    assert define(tpm, IDX, attrs, 8, hierarchy=wire.RH_PLATFORM) == 0
    tpm.tool("clear", "-c", "p")
    assert load_yaml(tpm.tool("getcap", "handles-nv-index").stdout) == [IDX]
    # The owner cannot remove it (TPM_RC_NV_AUTHORIZATION); the platform can.
    assert raw(tpm, CC_NV_UNDEFINE, [wire.RH_OWNER, IDX]).rc == RC_NV_AUTHORIZATION
    assert raw(tpm, CC_NV_UNDEFINE, [wire.RH_PLATFORM, IDX]).rc == 0


def test_policy_nv_and_policy_written(tpm, tmp_path):
    """A sealed object whose policy is PolicyNV (an NV counter at least 2, unsigned) and an Index
    readable only through PolicyNvWritten."""
    tpm.tool("nvdefine", "0x1500030", "-C", "o", "-s", "8", "-a", "nt=counter|ownerread|ownerwrite|authread|authwrite")
    tpm.tool("nvincrement", "0x1500030", "-C", "o")
    (tmp_path / "two.bin").write_bytes(struct.pack(">Q", 2))
    tpm.tool("startauthsession", "-S", "trial.ctx")
    tpm.tool("policynv", "-S", "trial.ctx", "-C", "o", "-i", str(tmp_path / "two.bin"), "-L", "nv.policy", "0x1500030", "uge")
    tpm.tool("flushcontext", "trial.ctx")
    policy = (tpm.workdir / "nv.policy").read_bytes()
    name = read_public(tpm, 0x1500030)[1]
    args = hashlib.sha256(struct.pack(">Q", 2) + wire.u16(0) + wire.u16(0x0007)).digest()  # offset 0, TPM_EO_UNSIGNED_GE
    assert policy == hashlib.sha256(bytes(32) + wire.u32(0x149) + args + name).digest()

    def satisfies() -> bool:
        tpm.tool("startauthsession", "--policy-session", "-S", "s.ctx")
        ok = tpm.tool("policynv", "-S", "s.ctx", "-C", "o", "-i", str(tmp_path / "two.bin"), "0x1500030", "uge",
                      check=False).returncode == 0
        tpm.tool("flushcontext", "s.ctx")
        return ok

    assert not satisfies()  # the counter is 1
    tpm.tool("nvincrement", "0x1500030", "-C", "o")
    assert satisfies()

    tpm.tool("startauthsession", "-S", "trial.ctx")
    tpm.tool("policynvwritten", "-S", "trial.ctx", "-L", "written.policy", "s")
    tpm.tool("flushcontext", "trial.ctx")
    written = (tpm.workdir / "written.policy").read_bytes()
    assert written == hashlib.sha256(bytes(32) + wire.u32(0x18F) + b"\x01").digest()
    tpm.tool("nvdefine", hex(IDX), "-C", "o", "-s", "4", "-a", "ownerwrite|policyread", "-L", "written.policy")

    def policy_read():
        tpm.tool("startauthsession", "--policy-session", "-S", "p.ctx")
        tpm.tool("policynvwritten", "-S", "p.ctx", "s")
        p = tpm.tool("nvread", hex(IDX), "-P", "session:p.ctx", "-s", "4", check=False, text=False)
        tpm.tool("flushcontext", "p.ctx", check=False)
        return p

    assert policy_read().returncode != 0  # not written yet: TPM_RC_POLICY_FAIL
    (tmp_path / "w.bin").write_bytes(b"abcd")
    tpm.tool("nvwrite", hex(IDX), "-C", "o", "-i", str(tmp_path / "w.bin"))
    p = policy_read()
    assert p.returncode == 0 and p.stdout == b"abcd"


def test_pin_indices(tpm):
    """PIN Pass: each use of the PIN counts; at pinLimit the authValue is unavailable. PIN Fail:
    failures count (NO_DA), a success resets the count."""
    pin_pass = (9 << 4) | OWNERWRITE | OWNERREAD | AUTHREAD
    assert define(tpm, IDX, pin_pass, 8, auth=b"1234") == 0
    assert raw(tpm, CC_NV_WRITE, [wire.RH_OWNER, IDX], wire.tpm2b(struct.pack(">II", 0, 2)) + wire.u16(0)).rc == 0
    for count in (1, 2):
        r = raw(tpm, CC_NV_READ, [IDX, IDX], wire.u16(8) + wire.u16(0), auth=b"1234")
        assert r.rc == 0 and wire.Reader(r.params()).tpm2b() == struct.pack(">II", count, 2)
    assert raw(tpm, CC_NV_READ, [IDX, IDX], wire.u16(8) + wire.u16(0), auth=b"1234").rc == 0x12F

    pin_fail = (8 << 4) | OWNERWRITE | OWNERREAD | AUTHREAD | NO_DA
    assert define(tpm, IDX + 1, pin_fail, 8, auth=b"1234") == 0
    assert raw(tpm, CC_NV_WRITE, [wire.RH_OWNER, IDX + 1], wire.tpm2b(struct.pack(">II", 0, 5)) + wire.u16(0)).rc == 0
    r = raw(tpm, CC_NV_READ, [IDX + 1, IDX + 1], wire.u16(8) + wire.u16(0), auth=b"0000")
    assert r.rc == wire.rc_session(wire.RC_BAD_AUTH, 1)
    r = raw(tpm, CC_NV_READ, [wire.RH_OWNER, IDX + 1], wire.u16(8) + wire.u16(0))
    assert wire.Reader(r.params()).tpm2b() == struct.pack(">II", 1, 5)
    r = raw(tpm, CC_NV_READ, [IDX + 1, IDX + 1], wire.u16(8) + wire.u16(0), auth=b"1234")
    assert r.rc == 0 and wire.Reader(r.params()).tpm2b() == struct.pack(">II", 0, 5)
