"""Differential runner: the same generated command bytes to a reference TPM (swtpm + libtpms) and a
candidate (vtpm), response by response. Accepted differences are listed here, each with its reason,
and mirrored in docs/deviations.md; anything else is reported."""
from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import gen, wire
from .gen import Generator, Scenario, Step
from .servers import TPMUnderTest, power_cycle


@dataclass
class Diff:
    scenario: int
    step: int
    name: str
    mutation: str
    what: str
    command: str
    reference: str
    candidate: str
    accepted: str = ""


class Scope:
    """What an implementation says it implements (TPM_CAP_COMMANDS / TPM_CAP_ALGS), for the
    'not implemented yet' rules."""

    def __init__(self, commands: dict[int, int], algs: dict[int, int], curves: set[int]):
        self.commands = commands
        self.algs = algs
        self.curves = curves


ALG_BY_NAME = {"rsa": 0x0001, "keyedhash": 0x0008, "aes": 0x0006, "ecc": 0x0023, "symcipher": 0x0025,
               "hmac": 0x0005, "xor": 0x000A, "cfb": 0x0043, "ecb": 0x0044, "ctr": 0x0040, "cmac": 0x003F}
CAP_ECC_CURVES = 0x8
RC_RETRY = 0x922


def cmd_tag(cmd: bytes) -> int:
    return struct.unpack(">H", cmd[:2])[0] if len(cmd) >= 2 else -1


def cmd_code(cmd: bytes) -> int:
    return struct.unpack(">I", cmd[6:10])[0] if len(cmd) >= 10 else -1


def accepted_reason(step: Step, cmd: bytes, a: wire.Response, b: wire.Response, ref: Scope, cand: Scope) -> str:
    """Why a difference between reference a and candidate b is accepted, or ''. Every rule here is in
    docs/deviations.md."""
    # D1: bad command tag. Part 2 TPMI_ST_COMMAND_TAG's unmarshalling error is TPM_RC_BAD_TAG;
    # libtpms answers TPM_RC_VALUE. We follow the spec.
    if cmd_tag(cmd) not in (wire.ST_NO_SESSIONS, wire.ST_SESSIONS) and a.rc == wire.RC_VALUE and b.rc == wire.RC_BAD_TAG:
        return "D1 bad tag: spec TPM_RC_BAD_TAG, libtpms TPM_RC_VALUE"
    # D4: a command the candidate does not implement (yet): it is not in its TPM_CAP_COMMANDS and it
    # answers TPM_RC_COMMAND_CODE, exactly as its capability says.
    cc = cmd_code(cmd)
    if b.rc == wire.RC_COMMAND_CODE and cc not in cand.commands and cc in ref.commands:
        return "D4 command not implemented by the candidate (absent from its TPM_CAP_COMMANDS)"
    # D5: an algorithm the candidate does not implement (absent from its TPM_CAP_ALGS).
    missing = [n for n in step.needs_algs if ALG_BY_NAME.get(n) not in cand.algs]
    if missing and b.rc != 0:
        return f"D5 algorithm not implemented by the candidate: {', '.join(missing)}"
    params = cmd[10:]
    if cc == wire.CC["TestParms"] and len(params) >= 8:
        (alg_type,) = struct.unpack(">H", params[:2])
        # D6: an ECC curve the candidate does not implement (absent from its TPM_CAP_ECC_CURVES):
        # TPM_RC_CURVE for parameter 1. (TPMS_ECC_PARMS: symmetric NULL, scheme NULL, curveID.)
        if alg_type == 0x0023 and params[2:6] == b"\x00\x10\x00\x10":
            (curve,) = struct.unpack(">H", params[6:8])
            if curve not in cand.curves and b.rc == wire.rc_param(0x0A6, 1):
                return f"D6 ECC curve {curve:#x} not implemented by the candidate"
        # D7: key sizes libtpms 0.9 does not build. Part 2's TPMI_AES_KEY_BITS and TPMI_RSA_KEY_BITS
        # are the implementation's lists; libtpms has AES-128/256 and RSA up to 3072 and answers
        # TPM_RC_VALUE (parameter 1) for AES-192 and RSA-4096.
        if a.rc == wire.rc_param(wire.RC_VALUE, 1):
            if alg_type == 0x0025 and params[2:6] == b"\x00\x06\x00\xc0":
                return "D7 AES-192: libtpms does not implement it"
            if alg_type == 0x0001 and params[2:8] == b"\x00\x10\x00\x10\x10\x00":
                return "D7 RSA-4096: libtpms does not implement it"
    return ""


def _parse_hash(params: bytes):
    r = wire.Reader(params)
    digest = r.tpm2b()
    tag, hierarchy, hmac = r.u16(), r.u32(), r.tpm2b()
    return digest, tag, hierarchy, len(hmac), r.done()


def _parse_cap(body: bytes):
    r = wire.Reader(body)
    more, cap = r.u8(), r.u32()
    return more, cap, r


def compare(kind: str, a: wire.Response, b: wire.Response) -> str:
    """'' when the candidate's response b agrees with the reference's a, else what differs."""
    if kind == "none":
        return ""
    if a.rc != b.rc:
        return f"rc {a.rc:#05x} != {b.rc:#05x}"
    if a.rc != 0:
        return "" if a.raw == b.raw else "error responses differ"
    if kind == "exact":
        return "" if a.raw == b.raw else "responses differ"
    if kind == "handle_params":
        # A response handle (the TPM's choice) and parameters that are not: LoadExternal's Name.
        return "" if a.raw[14:] == b.raw[14:] else "responses differ after the handle"
    if kind in ("rc_len", "handle"):
        return "" if (a.tag, a.size) == (b.tag, b.size) else f"response shapes differ ({a.size} vs {b.size} bytes)"
    if kind == "hash":
        try:
            pa = _parse_hash(a.params(0))
            pb = _parse_hash(b.params(0))
        except ValueError as e:
            return f"unparsable hash response: {e}"
        if pa[0] != pb[0]:
            return "digests differ"
        if pa[1:3] != pb[1:3]:
            return f"tickets differ (tag/hierarchy {pa[1]:#x}/{pa[2]:#x} vs {pb[1]:#x}/{pb[2]:#x})"
        if pa[3] != pb[3]:
            return f"ticket HMAC sizes differ ({pa[3]} vs {pb[3]})"
        return "" if pb[4] else "trailing bytes"
    if kind == "pcrread":
        if a.raw == b.raw:
            return ""
        try:
            ca, sa, da = wire.parse_pcr_read(a.body)
            cb, sb, db = wire.parse_pcr_read(b.body)
        except (ValueError, AssertionError) as e:
            return f"unparsable PCR_Read response: {e}"
        what = []
        if sa != sb:
            what.append(f"pcrSelectionOut {sa} vs {sb}")
        if da != db:
            what.append("PCR values differ")
        if ca != cb:
            what.append(f"pcrUpdateCounter {ca} vs {cb}")
        return "; ".join(what) or "responses differ"
    if kind == "context":
        # TPMS_CONTEXT (Part 2, 14.5): sequence, savedHandle, hierarchy, blob. The blob's size and
        # content are the implementation's; savedHandle and hierarchy are the spec's.
        try:
            ra, rb = wire.Reader(a.body), wire.Reader(b.body)
            ca = (ra.u64(), ra.u32(), ra.u32(), ra.tpm2b())
            cb = (rb.u64(), rb.u32(), rb.u32(), rb.tpm2b())
        except ValueError as e:
            return f"unparsable context: {e}"
        if (ca[1], ca[2]) != (cb[1], cb[2]):
            return f"savedHandle/hierarchy differ ({ca[1]:#x}/{ca[2]:#x} vs {cb[1]:#x}/{cb[2]:#x})"
        return "" if cb[3] and rb.done() else "empty context blob or trailing bytes"
    if kind == "testresult":
        ra, rb = wire.Reader(a.body), wire.Reader(b.body)
        ra.tpm2b(), rb.tpm2b()
        return "" if ra.u32() == rb.u32() else "testResult differs"
    if kind == "getcap":
        ma, ca, ra = _parse_cap(a.body)
        mb, cb, rb = _parse_cap(b.body)
        if ca != cb:
            return "capability differs"
        if ca in (wire.CAP_PCRS, wire.CAP_PCR_PROPERTIES):
            return "" if a.raw == b.raw else "PCR capability data differ"
        if ca == wire.CAP_COMMANDS:
            la = {x & 0xFFFF: x for x in (ra.u32() for _ in range(ra.u32()))}
            lb = {x & 0xFFFF: x for x in (rb.u32() for _ in range(rb.u32()))}
            bad = [f"{cc:#x}: {la[cc]:#010x} vs {lb[cc]:#010x}" for cc in sorted(set(la) & set(lb)) if la[cc] != lb[cc]]
            return "" if not bad else "TPMA_CC differ: " + "; ".join(bad[:6])
        if ca == wire.CAP_ALGS:
            la = {ra.u16(): ra.u32() for _ in range(ra.u32())}
            lb = {rb.u16(): rb.u32() for _ in range(rb.u32())}
            bad = [f"{x:#x}" for x in sorted(set(la) & set(lb)) if la[x] != lb[x]]
            return "" if not bad else "TPMA_ALGORITHM differ for " + ", ".join(bad)
        return ""
    return ""  # "rc": only the response code is deterministic


def get_capability(conn, cap: int, prop: int, count: int) -> tuple[int, bytes]:
    r = wire.Response.parse(conn.transact(wire.command(wire.CC["GetCapability"],
                                                       params=wire.u32(cap) + wire.u32(prop) + wire.u32(count))))
    assert r.rc == 0, f"GetCapability({cap}) {r.rc:#x}"
    rd = wire.Reader(r.body)
    more = rd.u8()
    rd.u32()
    return more, rd.rest()


def scope_of(conn) -> Scope:
    cmds, start = {}, 0
    while True:
        more, data = get_capability(conn, wire.CAP_COMMANDS, start, 256)
        rd = wire.Reader(data)
        for _ in range(rd.u32()):
            x = rd.u32()
            cmds[x & 0xFFFF] = x
        if not more or not cmds:
            break
        start = max(cmds) + 1
    _, data = get_capability(conn, wire.CAP_ALGS, 0, 256)
    rd = wire.Reader(data)
    algs = {rd.u16(): rd.u32() for _ in range(rd.u32())}
    _, data = get_capability(conn, CAP_ECC_CURVES, 0, 256)
    rd = wire.Reader(data)
    curves = {rd.u16() for _ in range(rd.u32())}
    return Scope(cmds, algs, curves)


def handles(conn, first: int) -> list[int]:
    _, data = get_capability(conn, wire.CAP_HANDLES, first, 64)
    rd = wire.Reader(data)
    return [h for h in (rd.u32() for _ in range(rd.u32())) if h >> 24 == first >> 24]


def flush_transients(conn) -> None:
    """Flush every loaded transient object, sequence and session so that what one scenario leaves
    (after a mutated step) does not change the next one. Not compared: handle values are the
    implementation's."""
    for first in (0x80000000, 0x02000000, 0x03000000):
        for h in handles(conn, first):
            conn.transact(wire.command(wire.CC["FlushContext"], params=wire.u32(h)))


def _pw_cmd(conn, cc: int, handle_area: bytes, params: bytes = b"", password: bytes = b"") -> int:
    return wire.Response.parse(conn.transact(wire.command(cc, handle_area, params, [wire.pw_session(password)]))).rc


def reset_state(conn, kinds: set[str]) -> None:
    """Undo what NV, audit and hierarchy scenarios leave behind (the same commands on both TPMs;
    not compared). Hierarchies first: the other resets need their auth values back."""
    if "hierarchy" in kinds:
        def empty_auth(h: int) -> None:
            if _pw_cmd(conn, gen.CC["HierarchyChangeAuth"], wire.u32(h), wire.tpm2b(b"")) != 0:
                _pw_cmd(conn, gen.CC["HierarchyChangeAuth"], wire.u32(h), wire.tpm2b(b""), gen.HIERARCHY_PW)
        empty_auth(gen.RH_PLATFORM)
        for h in (gen.RH_OWNER, gen.RH_ENDORSEMENT, 0x4000000D):
            _pw_cmd(conn, gen.CC["HierarchyControl"], wire.u32(gen.RH_PLATFORM), wire.u32(h) + wire.u8(1))
        _pw_cmd(conn, gen.CC["ClearControl"], wire.u32(gen.RH_PLATFORM), wire.u8(0))
        for h in (gen.RH_OWNER, gen.RH_ENDORSEMENT):
            empty_auth(h)
        for h in (gen.RH_PLATFORM, gen.RH_OWNER, gen.RH_ENDORSEMENT, gen.RH_LOCKOUT):
            _pw_cmd(conn, gen.CC["SetPrimaryPolicy"], wire.u32(h), wire.tpm2b(b"") + wire.u16(0x0010))
    if "nv" in kinds or "hierarchy" in kinds:
        for h in handles(conn, 0x01000000):
            if gen.NV_FIRST <= h < gen.NV_FIRST + gen.NV_COUNT:
                if _pw_cmd(conn, gen.CC["NV_UndefineSpace"], wire.u32(gen.RH_OWNER) + wire.u32(h)) != 0:
                    _pw_cmd(conn, gen.CC["NV_UndefineSpace"], wire.u32(gen.RH_PLATFORM) + wire.u32(h))
    if "audit" in kinds:
        _, data = get_capability(conn, gen.CAP_AUDIT_COMMANDS, 0, 256)
        rd = wire.Reader(data)
        ccs = [rd.u32() for _ in range(rd.u32())]
        _pw_cmd(conn, gen.CC["SetCommandCodeAuditStatus"], wire.u32(gen.RH_OWNER),
                wire.u16(0x0010) + wire.u32(0) + wire.u32(len(ccs)) + b"".join(wire.u32(c) for c in ccs))


def equalize(tpm: TPMUnderTest) -> wire.Response:
    """PC Client default banks on both: SHA-1 and SHA-256 allocated, SHA-384/512 not (swtpm allocates
    all four by default). PCR_Allocate takes effect at the next _TPM_Init."""
    sel = wire.pcr_selection({"sha1": list(range(24)), "sha256": list(range(24)), "sha384": [], "sha512": []})
    r = tpm.transact(wire.command(wire.CC["PCR_Allocate"], wire.u32(wire.RH_PLATFORM), sel, [wire.pw_session()]))
    power_cycle(tpm)
    assert tpm.startup(wire.SU_CLEAR) == 0
    return r


class Runner:
    def __init__(self, ref: TPMUnderTest, cand: TPMUnderTest):
        self.ref, self.cand = ref, cand
        self.conns = {}
        self.stats = Stats()

    def conn(self, tpm: TPMUnderTest):
        if id(tpm) not in self.conns:
            self.conns[id(tpm)] = tpm.connect()
        return self.conns[id(tpm)]

    def reset_conn(self, tpm: TPMUnderTest):
        c = self.conns.pop(id(tpm), None)
        if c is not None:
            try:
                c.close()
            except OSError:
                pass

    def send(self, tpm: TPMUnderTest, cmd: bytes) -> wire.Response | str:
        try:
            r = wire.Response.parse(self.conn(tpm).transact(cmd, timeout=30))
            # TPM_RC_RETRY (Part 2, 6.6.3: a warning, "the TPM was not able to start the command")
            # is answered by sending the command again, as the TSS does; libtpms gives it the
            # first time it checks the authorization of some objects (docs/deviations.md).
            for _ in range(3):
                if r.rc != RC_RETRY:
                    break
                self.stats.retries[tpm.name] = self.stats.retries.get(tpm.name, 0) + 1
                r = wire.Response.parse(self.conn(tpm).transact(cmd, timeout=30))
            return r
        except (OSError, TimeoutError, ValueError, wire.TransportClosed) as e:
            self.reset_conn(tpm)
            return f"transport: {type(e).__name__}: {e}"

    def close(self):
        for k in list(self.conns):
            self.conns.pop(k).close()

    def run(self, scenarios: list[Scenario]) -> list[Diff]:
        ref_scope = scope_of(self.conn(self.ref))
        cand_scope = scope_of(self.conn(self.cand))
        diffs: list[Diff] = []
        for sc in scenarios:
            self.stats.scenarios += 1
            ctx_a: dict = {}
            ctx_b: dict = {}
            for i, step in enumerate(sc.steps):
                ca, cb = step.bytes_for(ctx_a), step.bytes_for(ctx_b)
                a, b = self.send(self.ref, ca), self.send(self.cand, cb)
                if isinstance(a, str) or isinstance(b, str):
                    what = f"reference {a}" if isinstance(a, str) else f"candidate {b}"
                    diffs.append(Diff(sc.index, i, step.name, step.mutation_name, what, cb.hex(),
                                      a if isinstance(a, str) else a.raw.hex(),
                                      b if isinstance(b, str) else b.raw.hex()))
                    continue
                if step.post:
                    step.post(ctx_a, a)
                    step.post(ctx_b, b)
                # Handle substitution makes the two commands differ in handle values only; a context
                # blob (ContextLoad) differs in content and length, and then a mutation lands on
                # different fields in the two commands: only well-formedness is comparable.
                kind = step.compare if not step.mutation else "rc"
                if step.mutation and len(step.build(ctx_a)) != len(step.build(ctx_b)):
                    kind = "none"
                what = compare(kind, a, b)
                self.stats.compared += 1
                self.stats.by_command[step.name] = self.stats.by_command.get(step.name, 0) + 1
                if what:
                    diffs.append(Diff(sc.index, i, step.name, step.mutation_name, what, cb.hex()[:600],
                                      a.raw.hex()[:600], b.raw.hex()[:600],
                                      accepted_reason(step, cb, a, b, ref_scope, cand_scope)))
            for t in (self.ref, self.cand):
                try:
                    flush_transients(self.conn(t))
                    if sc.cleanup:
                        reset_state(self.conn(t), sc.cleanup)
                except (OSError, TimeoutError, ValueError, AssertionError, wire.TransportClosed):
                    self.reset_conn(t)
        return diffs


@dataclass
class Stats:
    """What a run compared: scenarios (command sequences), responses compared, per command name."""
    scenarios: int = 0
    compared: int = 0
    by_command: dict = field(default_factory=dict)
    retries: dict = field(default_factory=dict)

    def summary(self, diffs: list[Diff]) -> str:
        accepted = sum(1 for d in diffs if d.accepted)
        agree = self.compared - len(diffs)
        rate = 100.0 * agree / self.compared if self.compared else 0.0
        return (f"{self.scenarios} sequences, {self.compared} responses compared over {len(self.by_command)} commands: "
                f"{agree} agree ({rate:.2f}%), {accepted} accepted differences (docs/deviations.md), "
                f"{len(diffs) - accepted} unexplained; TPM_RC_RETRY resends {self.retries or 0}")


def run_differential(ref: TPMUnderTest, cand: TPMUnderTest, seed: int, cases: int,
                     stats: Stats | None = None) -> list[Diff]:
    g = Generator(seed)
    scenarios = [g.scenario(i) for i in range(cases)]
    runner = Runner(ref, cand)
    if stats is not None:
        runner.stats = stats
    try:
        return runner.run(scenarios)
    finally:
        runner.close()


def write_report(diffs: list[Diff], path: Path) -> None:
    path.write_text(json.dumps([asdict(d) for d in diffs], indent=1))


def format_diffs(diffs: list[Diff], limit: int = 40) -> str:
    lines = []
    for d in diffs[:limit]:
        lines.append(f"#{d.scenario}.{d.step} {d.name}{' [' + d.mutation + ']' if d.mutation else ''}: {d.what}\n"
                     f"    cmd  {d.command[:160]}\n    ref  {d.reference[:160]}\n    cand {d.candidate[:160]}")
    if len(diffs) > limit:
        lines.append(f"... and {len(diffs) - limit} more")
    return "\n".join(lines)
