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
from .wire import ALG, CC, RH_ENDORSEMENT, RH_NULL, RH_OWNER, RH_PLATFORM, u8, u16, u32, u64, tpm2b

MAX_COMMAND = 4096
HASHES = ["sha1", "sha256", "sha384", "sha512"]


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
        if roll < 0.15:
            sc.steps = self.sequence_scenario()
        elif roll < 0.2:
            sc.steps = self.context_scenario()
        elif roll < 0.3:
            sc.steps = [self.noise()]
        else:
            sc.steps = [self.step_valid() for _ in range(r.randint(1, 3))]
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
