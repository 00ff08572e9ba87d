"""Seeded generator of TPM command scenarios for the differential and hostile-input tests.

A scenario is a short list of steps; a step builds its command bytes from a context (the handles
that *this* TPM returned earlier in the scenario, e.g. a sequence handle, since handle values are the
implementation's choice) and names how its response is compared. Every random choice is drawn when
the scenario is generated, so the same seed gives the same bytes on every TPM and every run.

Commands are valid, nearly valid (one mutation: wrong parameter sizes, bad selectors, bad handles,
extra or missing bytes, broken session areas, wrong tags, other command codes) or noise. The
command header's size field always equals the number of bytes sent (the raw swtpm-style port frames
by reading what arrives; lying header sizes are tested separately over mssim framing).
"""
from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field
from typing import Callable

from . import wire
from .wire import ALG, RH_ENDORSEMENT, RH_LOCKOUT, RH_NULL, RH_OWNER, RH_PLATFORM, u8, u16, u32, u64, tpm2b
from .wire import CC as _WIRE_CC

MAX_COMMAND = 4096
HASHES = ["sha1", "sha256", "sha384", "sha512"]

# Command codes (Part 2, 6.5.2): the harness's own plus the NV, policy, audit, object/credential
# and hierarchy commands the generator sends. Not generated (other issues add them while this is
# written): ECC_Encrypt/Decrypt, Commit, EC_Ephemeral, ZGen_2Phase.
CC = {**_WIRE_CC,
      "NV_UndefineSpaceSpecial": 0x11F, "HierarchyControl": 0x121, "NV_UndefineSpace": 0x122, "Clear": 0x126,
      "ClearControl": 0x127, "NV_DefineSpace": 0x12A, "SetPrimaryPolicy": 0x12E, "NV_GlobalWriteLock": 0x132,
      "GetCommandAuditDigest": 0x133, "NV_Increment": 0x134, "NV_SetBits": 0x135, "NV_Extend": 0x136,
      "NV_Write": 0x137, "NV_WriteLock": 0x138, "SetCommandCodeAuditStatus": 0x140, "Import": 0x156,
      "NV_ReadLock": 0x14F, "NV_Read": 0x14E, "PolicySecret": 0x151, "ActivateCredential": 0x147,
      "Duplicate": 0x14B, "Rewrap": 0x152, "LoadExternal": 0x167, "MakeCredential": 0x168, "NV_ReadPublic": 0x169,
      "PolicyAuthorize": 0x16A, "PolicyCommandCode": 0x16C, "PolicyCpHash": 0x16E, "PolicyLocality": 0x16F,
      "PolicyNameHash": 0x170, "PolicyOR": 0x171, "PolicyTicket": 0x172, "ReadPublic": 0x173,
      "StartAuthSession": 0x176, "PolicyGetDigest": 0x189, "PolicyPassword": 0x18C, "PolicyPCR": 0x17F,
      "PolicyRestart": 0x180, "PolicyPhysicalPresence": 0x187, "PolicyDuplicationSelect": 0x188,
      "PolicyAuthValue": 0x16B, "PolicyNvWritten": 0x18F, "PolicyTemplate": 0x190, "PolicyCounterTimer": 0x16D,
      "NV_ChangeAuth": 0x13B, "PolicyNV": 0x149}

# NV indices the generator defines (owner range, TPM_HT_NV_INDEX): the runner undefines any left.
NV_FIRST = 0x01500000
NV_COUNT = 8
# TPMA_NV bits (Part 2, 13.4).
NV_PPWRITE, NV_OWNERWRITE, NV_AUTHWRITE, NV_POLICYWRITE = 1 << 0, 1 << 1, 1 << 2, 1 << 3
NV_WRITEDEFINE, NV_WRITE_STCLEAR, NV_GLOBALLOCK = 1 << 13, 1 << 14, 1 << 15
NV_PPREAD, NV_OWNERREAD, NV_AUTHREAD, NV_POLICYREAD = 1 << 16, 1 << 17, 1 << 18, 1 << 19
NV_NO_DA, NV_CLEAR_STCLEAR, NV_PLATFORMCREATE, NV_READ_STCLEAR = 1 << 25, 1 << 27, 1 << 30, 1 << 31
NV_TYPES = {"ordinary": 0, "counter": 1, "bits": 2, "extend": 4}
# The password the hierarchy scenarios set (the runner sets the auth values back to empty with it).
HIERARCHY_PW = b"hierarchy-pw"
CAP_AUDIT_COMMANDS = 0x4


@dataclass
class Step:
    name: str
    build: Callable[[dict], bytes]
    compare: str = "rc"                  # see differential.compare()
    post: Callable[[dict, "wire.Response"], None] | None = None
    mutation: Callable[[bytes], bytes] | None = None
    mutation_name: str = ""
    needs_algs: tuple[str, ...] = ()     # algorithms this command exercises (scope of an implementation)

    def bytes_for(self, ctx: dict) -> bytes:
        b = self.build(ctx)
        if self.mutation is not None:
            b = self.mutation(b)
        return b


@dataclass
class Scenario:
    index: int
    steps: list[Step] = field(default_factory=list)
    # State a scenario may leave behind that the runner resets afterwards on both TPMs ("nv": NV
    # indices in NV_FIRST.., "audit": the audited-command list, "hierarchy": hierarchy auth values,
    # policies and enables); transient objects and sessions are always flushed.
    cleanup: set[str] = field(default_factory=set)


def _cmd(cc: int, handles: bytes = b"", params: bytes = b"", auth: bool = False, password: bytes = b"") -> bytes:
    return wire.command(cc, handles, params, [wire.pw_session(password)] if auth else None)


def _seq_handle(ctx: dict, key: str = "seq") -> bytes:
    return u32(ctx.get(key, 0x80FFFFFF))


def _save_handle(key: str):
    def post(ctx: dict, r: wire.Response) -> None:
        if r.rc == 0 and len(r.body) >= 4:
            ctx[key] = struct.unpack(">I", r.body[:4])[0]
    return post


class Generator:
    def __init__(self, seed: int):
        self.r = random.Random(seed)

    # --- building blocks ---

    def data(self, lo: int = 0, hi: int = 1024) -> bytes:
        n = self.r.choice([lo, hi, self.r.randint(lo, hi), self.r.randint(lo, min(hi, lo + 70))])
        return self.r.randbytes(n)

    def hash_name(self) -> str:
        return self.r.choice(HASHES)

    def digest_values(self) -> tuple[bytes, tuple[str, ...]]:
        banks = self.r.choice([["sha1", "sha256"], ["sha256"], ["sha1"], ["sha256", "sha1"], ["sha384"],
                               ["sha1", "sha256", "sha384", "sha512"]])
        return wire.digest_values({b: self.r.randbytes(wire.DIGEST_SIZE[b]) for b in banks}), tuple(banks)

    def selection(self) -> bytes:
        roll = self.r.random()
        if roll < 0.6:
            banks = {b: sorted(self.r.sample(range(24), self.r.randint(1, 8)))
                     for b in self.r.sample(["sha1", "sha256"], self.r.randint(1, 2))}
            return wire.pcr_selection(banks)
        if roll < 0.8:
            banks = {b: sorted(self.r.sample(range(24), self.r.randint(0, 24))) for b in
                     self.r.sample(HASHES, self.r.randint(0, 4))}
            return wire.pcr_selection(banks)
        # Odd selectors: sizeofSelect other than 3, unknown hash, many entries.
        count = self.r.choice([0, 1, 2, 5, 16, 17])
        out = u32(count)
        for _ in range(count):
            alg = self.r.choice([ALG["sha1"], ALG["sha256"], 0x0000, 0x0010, 0x0099, ALG["sha512"]])
            size = self.r.choice([0, 1, 2, 3, 4, 5])
            out += u16(alg) + u8(size) + self.r.randbytes(size)
        return out

    def hierarchy(self) -> int:
        return self.r.choice([RH_OWNER, RH_OWNER, RH_NULL, RH_ENDORSEMENT, RH_PLATFORM, 0x4000000A, 0x40000010])

    SYM_MODES = {0x43: "cfb", 0x44: "ecb", 0x40: "ctr", 0x3F: "cmac"}

    def _symcipher(self) -> tuple[bytes, tuple[str, ...]]:
        bits, mode = self.r.choice([128, 192, 256, 100]), self.r.choice(list(self.SYM_MODES))
        return (u16(ALG["symcipher"]) + u16(ALG["aes"]) + u16(bits) + u16(mode),
                ("symcipher", "aes", self.SYM_MODES[mode]))

    # TestParms parameter sets and the algorithms each needs.
    def public_parms(self) -> tuple[bytes, tuple[str, ...]]:
        choices = [
            (u16(ALG["keyedhash"]) + u16(0x0010), ("keyedhash",)),
            (u16(ALG["keyedhash"]) + u16(ALG["hmac"]) + u16(ALG[self.hash_name()]), ("keyedhash", "hmac")),
            (u16(ALG["keyedhash"]) + u16(0x000A) + u16(ALG["sha256"]) + u16(0x0022), ("keyedhash", "xor")),
self._symcipher(),
            (u16(ALG["rsa"]) + u16(0x0010) + u16(0x0010) + u16(self.r.choice([1024, 2048, 3072, 4096, 1000])) +
             u32(self.r.choice([0, 65537, 3])), ("rsa",)),
            (u16(ALG["ecc"]) + u16(0x0010) + u16(0x0010) + u16(self.r.choice([1, 2, 3, 4, 0x10, 0x20, 0x99])) +
             u16(0x0010), ("ecc",)),
            (u16(self.r.choice([0x0000, 0x0099, ALG["sha256"]])) + self.r.randbytes(6), ()),
        ]
        return self.r.choice(choices)

    # --- valid single steps ---

    def step_valid(self) -> Step:
        r = self.r
        kind = r.choice(["GetRandom", "StirRandom", "PCR_Read", "PCR_Read", "PCR_Extend", "PCR_Extend", "PCR_Event",
                         "PCR_Reset", "Hash", "Hash", "GetCapability", "TestParms", "ReadClock",
                         "ClockRateAdjust", "SelfTest", "GetTestResult", "Startup"])
        if kind == "GetRandom":
            n = r.choice([0, 1, 16, 32, 48, 64, 65, 100, 1024, 0xFFFF])
            return Step(kind, lambda c, n=n: _cmd(CC[kind], params=u16(n)), "rc_len")
        if kind == "StirRandom":
            d = self.data(0, 128)
            return Step(kind, lambda c: _cmd(CC[kind], params=tpm2b(d)), "exact")
        if kind == "PCR_Read":
            sel = self.selection()
            return Step(kind, lambda c: _cmd(CC[kind], params=sel), "pcrread")
        if kind == "PCR_Extend":
            pcr = r.choice([16, 23, 16, 23, 0, 7, 15, 17, 24, RH_NULL, 0x40000000])
            dv, banks = self.digest_values()
            return Step(kind, lambda c: _cmd(CC[kind], u32(pcr), dv, auth=True), "exact")
        if kind == "PCR_Event":
            pcr = r.choice([16, 23, RH_NULL, 5, 20])
            d = self.data(0, 1024)
            return Step(kind, lambda c: _cmd(CC[kind], u32(pcr), tpm2b(d), auth=True), "exact")
        if kind == "PCR_Reset":
            pcr = r.choice([16, 23, 16, 23, 0, 17, 20, 24, RH_NULL])
            return Step(kind, lambda c: _cmd(CC[kind], u32(pcr), auth=True), "exact")
        if kind == "Hash":
            d = self.data(0, 1024)
            if r.random() < 0.1:
                d = b"\xffTCG" + d[:1000]
            alg = r.choice(HASHES + ["null", "sha256"])
            alg_id = ALG[alg] if alg != "null" else 0x0010
            h = self.hierarchy()
            return Step(kind, lambda c: _cmd(CC[kind], params=tpm2b(d) + u16(alg_id) + u32(h)), "hash")
        if kind == "GetCapability":
            cap = r.choice([wire.CAP_ALGS, wire.CAP_COMMANDS, wire.CAP_PCRS, wire.CAP_PCR_PROPERTIES,
                            wire.CAP_TPM_PROPERTIES, wire.CAP_HANDLES, 3, 4, 8, 9, 0xA, 0xB, 0x100, 0xFFFFFFFF])
            prop = {wire.CAP_COMMANDS: r.choice([0x11F, 0x17A, 0x100, 0x20000000]),
                    wire.CAP_TPM_PROPERTIES: r.choice([0x100, 0x200, 0x12A, 0]),
                    wire.CAP_HANDLES: r.choice([0x80000000, 0x40000000, 0x02000000, 0x03000000, 0x81000000,
                                                0x01000000, 0x00000000, 0xFF000000])}.get(cap, r.choice([0, 1, 0x0B, 5]))
            count = r.choice([0, 1, 3, 8, 64, 0xFFFFFFFF])
            return Step(kind, lambda c: _cmd(CC[kind], params=u32(cap) + u32(prop) + u32(count)), "getcap")
        if kind == "TestParms":
            parms, needs = self.public_parms()
            return Step(kind, lambda c: _cmd(CC[kind], params=parms), "rc", needs_algs=needs)
        if kind == "ReadClock":
            return Step(kind, lambda c: _cmd(CC[kind]), "rc_len")
        if kind == "ClockRateAdjust":
            v = r.choice([-3, -2, -1, 0, 1, 2, 3, 4, -4, 127])
            h = r.choice([RH_OWNER, RH_OWNER, RH_PLATFORM, RH_ENDORSEMENT, RH_NULL])
            return Step(kind, lambda c: _cmd(CC[kind], u32(h), struct.pack(">b", v), auth=True), "exact")
        if kind == "SelfTest":
            full = r.choice([0, 1, 2])
            return Step(kind, lambda c: _cmd(CC[kind], params=u8(full)), "exact")
        if kind == "GetTestResult":
            return Step(kind, lambda c: _cmd(CC[kind]), "testresult")
        su = r.choice([0, 1, 2])
        return Step("Startup", lambda c: _cmd(CC["Startup"], params=u16(su)), "exact")

    def sequence_scenario(self) -> list[Step]:
        """HashSequenceStart, updates, SequenceComplete / EventSequenceComplete (or a flush)."""
        r = self.r
        event = r.random() < 0.3
        alg = 0x0010 if event else ALG[r.choice(HASHES)]
        auth = r.choice([b"", b"", b"pw"])
        steps = [Step("HashSequenceStart", lambda c: _cmd(CC["HashSequenceStart"], params=tpm2b(auth) + u16(alg)),
                      "handle", post=_save_handle("seq"))]
        for _ in range(r.randint(0, 3)):
            d = self.data(0, 1024)
            pw = auth if r.random() < 0.9 else b"bad"
            steps.append(Step("SequenceUpdate", lambda c, d=d, pw=pw: _cmd(CC["SequenceUpdate"], _seq_handle(c),
                                                                          tpm2b(d), auth=True, password=pw), "exact"))
        d = self.data(0, 1024)
        end = r.random()
        if event:
            pcr = r.choice([16, 23, RH_NULL])
            steps.append(Step("EventSequenceComplete", lambda c: wire.command(
                CC["EventSequenceComplete"], u32(pcr) + _seq_handle(c), tpm2b(d),
                [wire.pw_session(), wire.pw_session(auth)]), "exact"))
        elif end < 0.85:
            h = self.hierarchy()
            steps.append(Step("SequenceComplete", lambda c: _cmd(CC["SequenceComplete"], _seq_handle(c),
                                                                 tpm2b(d) + u32(h), auth=True, password=auth), "hash"))
        else:
            steps.append(Step("FlushContext", lambda c: _cmd(CC["FlushContext"], params=_seq_handle(c)), "exact"))
        return steps

    def context_scenario(self) -> list[Step]:
        """A sequence saved, flushed, loaded back and completed."""
        d1, d2 = self.data(4, 300), self.data(0, 300)

        def save_blob(ctx, r):
            if r.rc == 0:
                ctx["blob"] = r.body
        steps = [
            Step("HashSequenceStart", lambda c: _cmd(CC["HashSequenceStart"], params=tpm2b(b"") + u16(ALG["sha256"])),
                 "handle", post=_save_handle("seq")),
            Step("SequenceUpdate", lambda c: _cmd(CC["SequenceUpdate"], _seq_handle(c), tpm2b(d1), auth=True), "exact"),
            Step("ContextSave", lambda c: _cmd(CC["ContextSave"], _seq_handle(c)), "context", post=save_blob),
            Step("FlushContext", lambda c: _cmd(CC["FlushContext"], params=_seq_handle(c)), "exact"),
            Step("ContextLoad", lambda c: _cmd(CC["ContextLoad"], params=c.get("blob", b"")), "handle",
                 post=_save_handle("seq")),
            Step("SequenceComplete", lambda c: _cmd(CC["SequenceComplete"], _seq_handle(c), tpm2b(d2) + u32(RH_NULL),
                                                    auth=True), "hash"),
        ]
        return steps

    # --- NV, policy, audit, objects/credentials, hierarchy (scenarios of several steps) ---

    def nv_scenario(self) -> list[Step]:
        """NV_DefineSpace of an ordinary, counter, bits or extend index (owner or platform), then
        writes, reads, locks and NV_ReadPublic (all deterministic: compared byte for byte), and
        usually NV_UndefineSpace."""
        r = self.r
        index = NV_FIRST + r.randrange(NV_COUNT)
        nt = r.choice(list(NV_TYPES))
        name_alg = r.choice(["sha256", "sha256", "sha1", "sha384"])
        platform = r.random() < 0.15
        attrs = NV_TYPES[nt] << 4 | NV_AUTHREAD | NV_AUTHWRITE
        for bit, p in ((NV_OWNERWRITE, 0.5), (NV_OWNERREAD, 0.5), (NV_NO_DA, 0.5), (NV_WRITEDEFINE, 0.15),
                       (NV_WRITE_STCLEAR, 0.15), (NV_GLOBALLOCK, 0.1), (NV_READ_STCLEAR, 0.15), (NV_PPREAD, 0.1),
                       (NV_PPWRITE, 0.1), (NV_CLEAR_STCLEAR, 0.05)):
            if r.random() < p:
                attrs |= bit
        if platform:
            attrs |= NV_PLATFORMCREATE
        if r.random() < 0.1:  # anything at all: reserved bits, TPM_NT values that do not exist
            attrs ^= 1 << r.randrange(32)
        size = {"ordinary": r.choice([1, 8, 32, 64, 100, 2048, 0, 2049]), "counter": 8, "bits": 8,
                "extend": wire.DIGEST_SIZE[name_alg]}[nt]
        if r.random() < 0.1:
            size = r.choice([0, 7, 9, 33])
        auth = r.choice([b"", b"", b"nvpw", r.randbytes(r.choice([0, 16, 32, 33, 64]))])
        policy = r.choice([b"", b"", r.randbytes(wire.DIGEST_SIZE[name_alg]), r.randbytes(5)])
        pub = u32(index) + u16(ALG[name_alg]) + u32(attrs) + tpm2b(policy) + u16(size)
        owner = RH_PLATFORM if platform else RH_OWNER
        ih = u32(index)

        def define(c):
            return _cmd(CC["NV_DefineSpace"], u32(owner), tpm2b(auth) + tpm2b(pub), auth=True)
        steps = [Step("NV_DefineSpace", define, "exact"),
                 Step("NV_ReadPublic", lambda c: _cmd(CC["NV_ReadPublic"], ih), "exact")]
        pw = auth if r.random() < 0.9 else b"wrong"
        for _ in range(r.randint(1, 6)):
            who = r.choice(["index", "index", "owner", "platform"])
            ah = {"index": ih, "owner": u32(RH_OWNER), "platform": u32(RH_PLATFORM)}[who]
            p = pw if who == "index" else b""
            op = r.choice(["write", "write", "read", "read", "increment", "setbits", "extend", "writelock",
                           "readlock", "readpublic", "globallock"])
            if op == "write":
                d = self.data(0, max(1, size) + 2)
                off = r.choice([0, 0, 1, max(0, size - len(d)), size])
                steps.append(Step("NV_Write", lambda c, ah=ah, d=d, off=off, p=p: _cmd(
                    CC["NV_Write"], ah + ih, tpm2b(d) + u16(off), auth=True, password=p), "exact"))
            elif op == "read":
                n, off = r.choice([size, 1, 0, size + 1]), r.choice([0, 0, 1, size])
                steps.append(Step("NV_Read", lambda c, ah=ah, n=n, off=off, p=p: _cmd(
                    CC["NV_Read"], ah + ih, u16(n) + u16(off), auth=True, password=p), "exact"))
            elif op == "increment":
                steps.append(Step("NV_Increment", lambda c, ah=ah, p=p: _cmd(
                    CC["NV_Increment"], ah + ih, auth=True, password=p), "exact"))
            elif op == "setbits":
                bits = r.choice([0, 1, 1 << 63, r.getrandbits(64)])
                steps.append(Step("NV_SetBits", lambda c, ah=ah, bits=bits, p=p: _cmd(
                    CC["NV_SetBits"], ah + ih, u64(bits), auth=True, password=p), "exact"))
            elif op == "extend":
                d = self.data(0, 100)
                steps.append(Step("NV_Extend", lambda c, ah=ah, d=d, p=p: _cmd(
                    CC["NV_Extend"], ah + ih, tpm2b(d), auth=True, password=p), "exact"))
            elif op == "writelock":
                steps.append(Step("NV_WriteLock", lambda c, ah=ah, p=p: _cmd(
                    CC["NV_WriteLock"], ah + ih, auth=True, password=p), "exact"))
            elif op == "readlock":
                steps.append(Step("NV_ReadLock", lambda c, ah=ah, p=p: _cmd(
                    CC["NV_ReadLock"], ah + ih, auth=True, password=p), "exact"))
            elif op == "globallock":
                gh = r.choice([RH_OWNER, RH_PLATFORM])
                steps.append(Step("NV_GlobalWriteLock", lambda c, gh=gh: _cmd(
                    CC["NV_GlobalWriteLock"], u32(gh), auth=True), "exact"))
            else:
                steps.append(Step("NV_ReadPublic", lambda c: _cmd(CC["NV_ReadPublic"], ih), "exact"))
        if r.random() < 0.8:
            steps.append(Step("NV_UndefineSpace", lambda c: _cmd(CC["NV_UndefineSpace"], u32(owner) + ih, auth=True),
                              "exact"))
        return steps

    def policy_scenario(self) -> list[Step]:
        """StartAuthSession (trial or policy, unsalted, unbound), policy assertions whose digests
        do not depend on nonces, PolicyGetDigest (compared byte for byte), sometimes PolicyRestart,
        then FlushContext."""
        r = self.r
        alg = r.choice(["sha256", "sha256", "sha1", "sha384", "sha512"])
        stype = r.choice([0x03, 0x03, 0x01, 0x00, 0x02])  # trial, policy, HMAC, bad
        nonce = r.randbytes(r.choice([16, 20, 32, 15, 64]))
        sym = r.choice([u16(0x0010), u16(0x0010), u16(ALG["aes"]) + u16(128) + u16(ALG["cfb"])])
        start = _cmd(CC["StartAuthSession"], u32(RH_NULL) + u32(RH_NULL),
                     tpm2b(nonce) + tpm2b(b"") + u8(stype) + sym + u16(ALG[alg]))
        steps = [Step("StartAuthSession", lambda c: start, "rc_len", post=_save_handle("sess"))]
        dsize = wire.DIGEST_SIZE[alg]

        def sh(c):
            return u32(c.get("sess", 0x03FFFFFF))
        for _ in range(r.randint(1, 6)):
            kind = r.choice(["PolicyCommandCode", "PolicyAuthValue", "PolicyPassword", "PolicyLocality", "PolicyPCR",
                             "PolicyCpHash", "PolicyNameHash", "PolicyOR", "PolicyNvWritten", "PolicyPhysicalPresence",
                             "PolicyDuplicationSelect", "PolicyTemplate", "PolicyGetDigest", "PolicyRestart"])
            if kind == "PolicyCommandCode":
                p = u32(r.choice([CC["NV_Read"], CC["Duplicate"], CC["PCR_Extend"], 0x1FF, 0]))
            elif kind == "PolicyLocality":
                p = u8(r.choice([1, 2, 4, 0x1F, 0, 0x20, 0xFF]))
            elif kind == "PolicyPCR":
                p = tpm2b(r.choice([b"", b"", r.randbytes(dsize), r.randbytes(3)])) + self.selection()
            elif kind in ("PolicyCpHash", "PolicyNameHash", "PolicyTemplate"):
                p = tpm2b(r.randbytes(r.choice([dsize, dsize, 0, 20, dsize + 1])))
            elif kind == "PolicyOR":
                n = r.choice([2, 2, 3, 8, 1, 9, 0])
                p = u32(n) + b"".join(tpm2b(r.randbytes(r.choice([dsize, dsize, 20]))) for _ in range(n))
            elif kind == "PolicyNvWritten":
                p = u8(r.choice([0, 1, 2]))
            elif kind == "PolicyDuplicationSelect":
                names = [u16(ALG["sha256"]) + r.randbytes(32), b"", u16(ALG["sha1"]) + r.randbytes(20), r.randbytes(7)]
                p = tpm2b(r.choice(names)) + tpm2b(r.choice(names)) + u8(r.choice([0, 1, 2]))
            else:
                p = b""
            compare = "exact"
            steps.append(Step(kind, lambda c, kind=kind, p=p: _cmd(CC[kind], sh(c), p), compare))
        steps.append(Step("PolicyGetDigest", lambda c: _cmd(CC["PolicyGetDigest"], sh(c)), "exact"))
        if r.random() < 0.8:
            steps.append(Step("FlushContext", lambda c: _cmd(CC["FlushContext"], params=sh(c)), "exact"))
        return steps

    def audit_scenario(self) -> list[Step]:
        """SetCommandCodeAuditStatus (set and clear lists, the audit hash algorithm), the list read
        back with GetCapability(TPM_CAP_AUDIT_COMMANDS) (compared byte for byte), and
        GetCommandAuditDigest unsigned (response code: the attestation carries the clock)."""
        r = self.r
        pool = [CC[n] for n in ("GetRandom", "PCR_Extend", "Hash", "NV_Read", "ReadClock", "PCR_Read", "StirRandom")]

        def cclist():
            n = r.choice([0, 1, 2, 3, 0, 300])
            if n == 300:
                return u32(n) + b"".join(u32(0x11F + i % 0x80) for i in range(n))
            return u32(n) + b"".join(u32(r.choice(pool + [0x1FF, 0x20000001])) for _ in range(n))
        steps = []
        for _ in range(r.randint(1, 4)):
            op = r.choice(["set", "set", "cap", "digest", "use"])
            if op == "set":
                h = r.choice([RH_OWNER, RH_OWNER, RH_PLATFORM, RH_ENDORSEMENT])
                alg = r.choice([0x0010, 0x0010, ALG["sha256"], ALG["sha1"], ALG["sha384"], 0x0006])
                p = u16(alg) + cclist() + cclist()
                steps.append(Step("SetCommandCodeAuditStatus", lambda c, h=h, p=p: _cmd(
                    CC["SetCommandCodeAuditStatus"], u32(h), p, auth=True), "exact"))
            elif op == "cap":
                start = r.choice([0, 0x11F, 0x17B, 0x200])
                n = r.choice([1, 4, 64, 0])
                steps.append(Step("GetCapability", lambda c, start=start, n=n: _cmd(
                    CC["GetCapability"], params=u32(CAP_AUDIT_COMMANDS) + u32(start) + u32(n)), "exact"))
            elif op == "digest":
                q = r.randbytes(r.choice([0, 16, 64, 65]))
                steps.append(Step("GetCommandAuditDigest", lambda c, q=q: wire.command(
                    CC["GetCommandAuditDigest"], u32(RH_ENDORSEMENT) + u32(RH_NULL), tpm2b(q) + u16(0x0010),
                    [wire.pw_session(), wire.pw_session()]), "rc"))
            else:
                steps.append(Step("GetRandom", lambda c: _cmd(CC["GetRandom"], params=u16(8)), "rc_len"))
        return steps

    def _ecc_public(self, restricted_decrypt: bool) -> bytes:
        """A TPMT_PUBLIC for a P-256 key whose point is n*G for a seeded n (computed with
        `cryptography`): valid, so LoadExternal accepts it and both TPMs must compute the same Name."""
        from cryptography.hazmat.primitives.asymmetric import ec
        key = ec.derive_private_key(self.r.randrange(1, 2 ** 255), ec.SECP256R1())
        nums = key.public_key().public_numbers()
        x, y = nums.x.to_bytes(32, "big"), nums.y.to_bytes(32, "big")
        if restricted_decrypt:  # a storage-key shape (the EK's): AES-128-CFB, no scheme
            attrs = (1 << 4) | (1 << 5) | (1 << 6) | (1 << 16) | (1 << 17)
            parms = u16(ALG["aes"]) + u16(128) + u16(ALG["cfb"]) + u16(0x0010) + u16(0x0003) + u16(0x0010)
        else:  # a signing key: ECDSA-SHA256
            attrs = (1 << 4) | (1 << 5) | (1 << 6) | (1 << 18)
            parms = u16(0x0010) + u16(0x0018) + u16(ALG["sha256"]) + u16(0x0003) + u16(0x0010)
        attrs |= self.r.choice([0, 0, 0, 1 << 1, 1 << 7, 1 << 10])  # fixedTPM, sensitiveDataOrigin, noDA
        policy = self.r.choice([b"", b"", self.r.randbytes(32)])
        return (u16(ALG["ecc"]) + u16(self.r.choice([ALG["sha256"], ALG["sha256"], ALG["sha1"], 0x0010])) + u32(attrs)
                + tpm2b(policy) + parms + tpm2b(x) + tpm2b(y))

    def object_scenario(self) -> list[Step]:
        """LoadExternal of a public P-256 key (its Name compared), ReadPublic (byte for byte),
        MakeCredential (sizes: the seed is random), and Duplicate/Import/ActivateCredential/Rewrap
        with parameters that cannot work on a public-only object (response codes)."""
        r = self.r
        pub = self._ecc_public(r.random() < 0.7)
        hierarchy = r.choice([RH_NULL, RH_NULL, RH_OWNER, RH_ENDORSEMENT])
        steps = [Step("LoadExternal", lambda c: _cmd(CC["LoadExternal"], params=u16(0) + tpm2b(pub) + u32(hierarchy)),
                      "handle_params", post=_save_handle("key"))]

        def kh(c):
            return u32(c.get("key", 0x80FFFFFF))
        for _ in range(r.randint(1, 4)):
            op = r.choice(["ReadPublic", "MakeCredential", "MakeCredential", "Duplicate", "Import", "ActivateCredential",
                           "Rewrap"])
            if op == "ReadPublic":
                steps.append(Step(op, lambda c: _cmd(CC["ReadPublic"], kh(c)), "exact"))
            elif op == "MakeCredential":
                cred = r.randbytes(r.choice([16, 32, 0, 64, 65]))
                name = r.choice([u16(ALG["sha256"]) + r.randbytes(32), u16(ALG["sha1"]) + r.randbytes(20), b"",
                                 r.randbytes(5)])
                steps.append(Step(op, lambda c, cred=cred, name=name: _cmd(
                    CC["MakeCredential"], kh(c), tpm2b(cred) + tpm2b(name)), "rc_len"))
            elif op == "Duplicate":
                steps.append(Step(op, lambda c: _cmd(CC["Duplicate"], kh(c) + u32(RH_NULL),
                                                     tpm2b(b"") + u16(0x0010), auth=True), "rc"))
            elif op == "Import":
                blob = r.randbytes(r.choice([0, 10, 40]))
                steps.append(Step(op, lambda c, blob=blob: _cmd(
                    CC["Import"], kh(c), tpm2b(b"") + tpm2b(pub) + tpm2b(blob) + tpm2b(b"") + u16(0x0010), auth=True),
                    "rc"))
            elif op == "ActivateCredential":
                blob = tpm2b(r.randbytes(32)) + r.randbytes(r.choice([0, 16]))
                secret = r.randbytes(16)
                steps.append(Step(op, lambda c, blob=blob, secret=secret: wire.command(
                    CC["ActivateCredential"], kh(c) + kh(c), tpm2b(blob) + tpm2b(secret),
                    [wire.pw_session(), wire.pw_session()]), "rc"))
            else:
                steps.append(Step(op, lambda c: _cmd(CC["Rewrap"], kh(c) + u32(RH_NULL),
                                                     tpm2b(b"") + tpm2b(b"") + tpm2b(b""), auth=True), "rc"))
        if r.random() < 0.8:
            steps.append(Step("FlushContext", lambda c: _cmd(CC["FlushContext"], params=kh(c)), "exact"))
        return steps

    def hierarchy_scenario(self) -> list[Step]:
        """Hierarchy administration with its effects observed: HierarchyChangeAuth then a command
        under the new and the old password, SetPrimaryPolicy, HierarchyControl, ClearControl and
        Clear; every response compared byte for byte. The runner restores the auth values,
        policies and enables afterwards."""
        r = self.r
        steps = []
        for _ in range(r.randint(1, 4)):
            op = r.choice(["changeauth", "changeauth", "setprimarypolicy", "hierarchycontrol", "clearcontrol", "clear"])
            if op == "changeauth":
                h = r.choice([RH_OWNER, RH_ENDORSEMENT, RH_PLATFORM])
                new = r.choice([HIERARCHY_PW, HIERARCHY_PW, b"", r.randbytes(65)])
                steps.append(Step("HierarchyChangeAuth", lambda c, h=h, new=new: _cmd(
                    CC["HierarchyChangeAuth"], u32(h), tpm2b(new), auth=True, password=c.get(h, b"")), "exact",
                    post=lambda c, resp, h=h, new=new: c.__setitem__(h, new) if resp.rc == 0 else None))
                # Use it: SetPrimaryPolicy under the password the TPM should now hold (or the old one).
                stale = r.random() < 0.3
                steps.append(Step("SetPrimaryPolicy", lambda c, h=h, stale=stale: _cmd(
                    CC["SetPrimaryPolicy"], u32(h), tpm2b(b"") + u16(0x0010), auth=True,
                    password=b"stale" if stale else c.get(h, b"")), "exact"))
            elif op == "setprimarypolicy":
                h = r.choice([RH_OWNER, RH_ENDORSEMENT, RH_PLATFORM, RH_LOCKOUT, RH_NULL])
                alg = r.choice(["sha256", "sha1", "sha384"])
                pol = r.choice([r.randbytes(wire.DIGEST_SIZE[alg]), b"", r.randbytes(5)])
                halg = r.choice([ALG[alg], 0x0010]) if pol else 0x0010
                steps.append(Step("SetPrimaryPolicy", lambda c, h=h, pol=pol, halg=halg: _cmd(
                    CC["SetPrimaryPolicy"], u32(h), tpm2b(pol) + u16(halg), auth=True, password=c.get(h, b"")), "exact"))
            elif op == "hierarchycontrol":
                ah = r.choice([RH_PLATFORM, RH_PLATFORM, RH_OWNER])
                enable = r.choice([RH_OWNER, RH_ENDORSEMENT, 0x4000000D, RH_NULL])  # 0x4000000D: platform NV
                state = r.choice([0, 1])
                steps.append(Step("HierarchyControl", lambda c, ah=ah, enable=enable, state=state: _cmd(
                    CC["HierarchyControl"], u32(ah), u32(enable) + u8(state), auth=True, password=c.get(ah, b"")),
                    "exact"))
                steps.append(Step("NV_ReadPublic", lambda c: _cmd(CC["NV_ReadPublic"], u32(NV_FIRST)), "exact"))
            elif op == "clearcontrol":
                ah = r.choice([RH_PLATFORM, RH_LOCKOUT])
                disable = r.choice([0, 1])
                steps.append(Step("ClearControl", lambda c, ah=ah, disable=disable: _cmd(
                    CC["ClearControl"], u32(ah), u8(disable), auth=True, password=c.get(ah, b"")), "exact"))
            else:
                ah = r.choice([RH_LOCKOUT, RH_PLATFORM])
                steps.append(Step("Clear", lambda c, ah=ah: _cmd(CC["Clear"], u32(ah), auth=True,
                                                                   password=c.get(ah, b"")), "exact",
                                  post=lambda c, resp: [c.pop(h, None) for h in (RH_OWNER, RH_ENDORSEMENT)]
                                  if resp.rc == 0 else None))
        return steps

    # --- mutations (applied to one step's final bytes) ---

    def mutation(self) -> tuple[str, Callable[[bytes], bytes]]:
        r = self.r
        kind = r.choice(["truncate", "extend", "flip", "flip", "tag", "cc", "handle", "authsize", "session",
                         "sessions4", "nonce", "attrs", "tpm2b_lie", "zero_params"])
        pos_frac, k, val = r.random(), r.randint(1, 8), r.getrandbits(32)

        def resize(b: bytes) -> bytes:
            b = b[:MAX_COMMAND]
            return b[:2] + u32(len(b)) + b[6:]

        if kind == "truncate":
            return kind, lambda b: resize(b[:max(10, len(b) - k)])
        if kind == "extend":
            extra = r.randbytes(k)
            return kind, lambda b: resize(b + extra)
        if kind == "flip":
            def flip(b):
                if len(b) <= 10:
                    return b
                i = 10 + int(pos_frac * (len(b) - 10))
                return b[:i] + bytes([b[i] ^ (1 << (val % 8))]) + b[i + 1:]
            return kind, flip
        if kind == "tag":
            tag = r.choice([0x8001, 0x8002, 0x0000, 0x00C1, 0x8003, 0xFFFF])
            return kind, lambda b: u16(tag) + b[2:]
        if kind == "cc":
            cc = r.choice([val & 0xFFFF, 0x11E, 0x1A0, 0x20000000 | (val & 0xFF), r.randint(0x11F, 0x19F)])
            return kind, lambda b: b[:6] + u32(cc) + b[10:]
        if kind == "handle":
            h = r.choice([24, 0x40000000, 0x40000005, 0x4000000D, 0x80FFFFFF, 0x81000001, 0x01000000,
                          0x02000000, 0xFFFFFFFF, val])
            return kind, lambda b: b[:10] + u32(h) + b[14:] if len(b) >= 14 else b
        if kind in ("authsize", "session", "sessions4", "nonce", "attrs"):
            return kind, _session_mutation(kind, val, k, r.randbytes(40))
        if kind == "tpm2b_lie":
            def lie(b):
                # Raise the first plausible 16-bit size field after the header and handle/auth areas.
                if len(b) < 14:
                    return b
                i = len(b) - 2 if len(b) < 16 else 10 + int(pos_frac * (len(b) - 12))
                (n,) = struct.unpack(">H", b[i:i + 2])
                return b[:i] + u16((n + k * 17) & 0xFFFF) + b[i + 2:]
            return kind, lie
        return kind, lambda b: resize(b[:10])

    def noise(self) -> Step:
        r = self.r
        n = r.choice([0, 1, 2, 4, 16, 100, 1000])
        tag = r.choice([0x8001, 0x8002, r.getrandbits(16)])
        cc = r.choice([r.getrandbits(32), r.randint(0x11F, 0x19F), 0x17B])
        body = r.randbytes(n)
        return Step("noise", lambda c: u16(tag) + u32(10 + len(body)) + u32(cc) + body, "rc")

    def scenario(self, index: int) -> Scenario:
        r = self.r
        sc = Scenario(index)
        roll = r.random()
        if roll < 0.1:
            sc.steps = self.sequence_scenario()
        elif roll < 0.13:
            sc.steps = self.context_scenario()
        elif roll < 0.2:
            sc.steps = [self.noise()]
        elif roll < 0.55:
            sc.steps = [self.step_valid() for _ in range(r.randint(1, 3))]
        else:
            kind = r.choice(["nv", "nv", "policy", "policy", "audit", "object", "hierarchy"])
            sc.steps = getattr(self, kind + "_scenario")()
            sc.cleanup.add(kind)
        # Roughly half the scenarios carry one mutated step.
        if r.random() < 0.5:
            step = r.choice(sc.steps)
            step.mutation_name, step.mutation = self.mutation()
        return sc


def _session_mutation(kind: str, val: int, k: int, junk: bytes) -> Callable[[bytes], bytes]:
    """Mutations of the authorization area of a TPM_ST_SESSIONS command with one password session
    after `nh` handles. The handle count is found by locating TPM_RS_PW."""
    def find(b: bytes) -> int:
        i = b.find(u32(wire.RS_PW), 10)
        return i - 4 if i >= 14 else -1  # position of authorizationSize

    def apply(b: bytes) -> bytes:
        if struct.unpack(">H", b[:2])[0] != wire.ST_SESSIONS:
            return b
        a = find(b)
        if a < 0:
            return b
        (size,) = struct.unpack(">I", b[a:a + 4])
        head, area, tail = b[:a], b[a + 4:a + 4 + size], b[a + 4 + size:]
        if kind == "authsize":
            new = [0, 1, 8, size - 1, size + 1, size + k, 0xFFFFFFFF, 0x10000][val % 8]
            out = head + u32(new & 0xFFFFFFFF) + area + tail
        elif kind == "session":
            h = [0x02000000, 0x03000000, 0x40000009 ^ 1, 0x80000000, 0, 0xFFFFFFFF][val % 6]
            out = head + u32(size) + u32(h) + area[4:] + tail
        elif kind == "sessions4":
            out = head + u32(size * 4) + area * 4 + tail
        elif kind == "nonce":
            nonce = junk[:[1, 16, 32, 40][val % 4]]
            area2 = area[:4] + tpm2b(nonce) + area[6:]
            out = head + u32(len(area2)) + area2 + tail
        else:  # attrs: reserved bits or audit/encrypt bits on a password session
            attrs = [0x18, 0x20, 0x40, 0x80, 0x02, 0x04, 0x00, 0xFF][val % 8]
            area2 = area[:6] + u8(attrs) + area[7:]
            out = head + u32(len(area2)) + area2 + tail
        out = out[:MAX_COMMAND]
        return out[:2] + u32(len(out)) + out[6:]
    return apply
