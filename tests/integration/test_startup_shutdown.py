"""Startup/Shutdown semantics (Part 1, 12.2-12.4; Part 3, 9.3 and 9.4) through tpm2-tools, with a
real restart of the simulator process (SIGKILL: only what the TPM made durable before answering
Shutdown may count) or a power cycle on the control/platform channel.

TPM Reset   = Startup(CLEAR) after Shutdown(CLEAR) or no Shutdown: resetCount+1, restartCount=0.
TPM Restart = Startup(CLEAR) after Shutdown(STATE): restartCount+1, PCRs back to their initial values.
TPM Resume  = Startup(STATE) after Shutdown(STATE): restartCount+1, PCR 0-15 (stateSave) kept.
"""
from __future__ import annotations

import hashlib

import pytest

from harness import wire
from harness.servers import power_cycle
from harness.tools import allocated_banks, extended, ones, pcrread, readclock, zeros, load_yaml

SAVED = (0, 1, 7, 15)       # PC Client: stateSave set for PCR 0-15
NOT_SAVED = (16, 23)        # reset on every Startup
DRTM = (17, 20)             # all ones after Startup


def _extend_all(tpm, banks, pcrs):
    expect = {}
    current = pcrread(tpm, "+".join(f"{b}:{','.join(map(str, pcrs))}" for b in banks))
    for p in pcrs:
        digests = {b: hashlib.new(b, f"measure {p}".encode()).digest() for b in banks}
        tpm.tool("pcrextend", f"{p}:" + ",".join(f"{b}={d.hex()}" for b, d in digests.items()))
        for b in banks:
            expect[(b, p)] = extended(b, current[(b, p)], digests[b])
    return expect


def _read(tpm, banks, pcrs):
    return pcrread(tpm, "+".join(f"{b}:{','.join(map(str, pcrs))}" for b in banks))


def _cycle(tpm, how):
    if how == "process":
        tpm.restart(startup_clear=False)
    else:
        power_cycle(tpm)


def test_startup_required_after_init(tpm_spec, tpm_factory):
    impl, transport = tpm_spec
    tpm = tpm_factory(impl, transport, startup_clear=False)
    if transport == "mssim":
        power_cycle(tpm)  # the fixture's POWER_ON may have been a no-op; a cycle is a _TPM_Init
    # Part 3, 9.3: before Startup every command but Startup is TPM_RC_INITIALIZE.
    assert tpm.cmd("GetRandom", params=wire.u16(8)).rc == wire.RC_INITIALIZE
    assert tpm.cmd("PCR_Read", params=wire.pcr_selection({"sha256": [0]})).rc == wire.RC_INITIALIZE
    tpm.tool("startup", "-c")
    r = tpm.cmd("GetRandom", params=wire.u16(8))
    assert r.rc == 0 and len(r.body) == 10
    # A second Startup: TPM_RC_INITIALIZE.
    assert tpm.startup(wire.SU_CLEAR) == wire.RC_INITIALIZE
    assert tpm.startup(wire.SU_STATE) == wire.RC_INITIALIZE
    # After a power cycle the TPM needs Startup again.
    power_cycle(tpm)
    assert tpm.cmd("GetRandom", params=wire.u16(8)).rc == wire.RC_INITIALIZE
    assert tpm.startup(wire.SU_CLEAR) == 0


@pytest.mark.parametrize("how", ["process", "power"])
def test_resume_keeps_saved_pcrs(tpm, how):
    banks = allocated_banks(tpm)
    pcrs = SAVED + NOT_SAVED
    expect = _extend_all(tpm, banks, pcrs)
    assert _read(tpm, banks, pcrs) == expect
    before = readclock(tpm)
    tpm.tool("shutdown")  # TPM_SU_STATE
    _cycle(tpm, how)
    assert tpm.cmd("GetRandom", params=wire.u16(8)).rc == wire.RC_INITIALIZE
    tpm.tool("startup")   # TPM_SU_STATE
    got = _read(tpm, banks, pcrs + DRTM)
    for b in banks:
        for p in SAVED:
            assert got[(b, p)] == expect[(b, p)], f"{b}:{p} lost across resume"
        for p in NOT_SAVED:
            assert got[(b, p)] == zeros(b), f"{b}:{p} kept across resume"
        for p in DRTM:
            assert got[(b, p)] == ones(b), f"{b}:{p}"
    after = readclock(tpm)
    assert after["restart_count"] == before["restart_count"] + 1
    assert after["reset_count"] == before["reset_count"]
    assert after["clock"] >= before["clock"] and after["safe"] is True
    # TPMA_STARTUP_CLEAR.orderly: SET after a Shutdown and a matching Startup (Part 2, 8.7).
    sc = load_yaml(tpm.tool("getcap", "properties-variable").stdout)["TPM2_PT_STARTUP_CLEAR"]
    assert sc["orderly"] == 1


@pytest.mark.parametrize("how", ["process", "power"])
def test_restart_resets_pcrs(tpm, how):
    banks = allocated_banks(tpm)
    pcrs = SAVED + NOT_SAVED
    _extend_all(tpm, banks, pcrs)
    before = readclock(tpm)
    tpm.tool("shutdown")
    _cycle(tpm, how)
    tpm.tool("startup", "-c")
    got = _read(tpm, banks, pcrs + DRTM)
    for b in banks:
        for p in pcrs:
            assert got[(b, p)] == zeros(b), f"{b}:{p}"
        for p in DRTM:
            assert got[(b, p)] == ones(b), f"{b}:{p}"
    after = readclock(tpm)
    assert after["restart_count"] == before["restart_count"] + 1
    assert after["reset_count"] == before["reset_count"]
    assert after["clock"] >= before["clock"] and after["safe"] is True


@pytest.mark.parametrize("shutdown", [None, wire.SU_CLEAR], ids=["no-shutdown", "shutdown-clear"])
def test_reset(tpm, shutdown):
    banks = allocated_banks(tpm)
    _extend_all(tpm, banks, SAVED)
    tpm.tool("shutdown")
    power_cycle(tpm)
    tpm.tool("startup")  # a resume first, so restartCount is nonzero before the reset
    before = readclock(tpm)
    assert before["restart_count"] >= 1
    if shutdown is not None:
        assert tpm.shutdown(shutdown) == 0
    tpm.restart(startup_clear=False)
    # Part 3, 9.3: Startup(STATE) needs a preceding Shutdown(STATE): TPM_RC_VALUE, parameter 1.
    assert tpm.startup(wire.SU_STATE) == wire.rc_param(wire.RC_VALUE, 1)
    tpm.tool("startup", "-c")
    got = _read(tpm, banks, SAVED)
    assert all(v == zeros(b) for (b, _), v in got.items())
    after = readclock(tpm)
    assert after["reset_count"] == before["reset_count"] + 1
    assert after["restart_count"] == 0
    if shutdown is None:
        # Not orderly: Clock may have run back to its last saved value, so it is not "safe" and the
        # orderly flag is clear (Part 2, 10.11.1 and 8.7).
        assert after["safe"] is False
        sc = load_yaml(tpm.tool("getcap", "properties-variable").stdout)["TPM2_PT_STARTUP_CLEAR"]
        assert sc["orderly"] == 0
    else:
        assert after["clock"] >= before["clock"] and after["safe"] is True


def test_shutdown_keeps_tpm_running_until_init(tpm):
    # Part 3, 9.4: Shutdown prepares for power loss; the TPM keeps working until _TPM_Init.
    assert tpm.shutdown(wire.SU_STATE) == 0
    r = tpm.cmd("GetRandom", params=wire.u16(8))
    assert r.rc == 0
    assert tpm.startup(wire.SU_CLEAR) == wire.RC_INITIALIZE
    # A bad shutdown type: TPM_RC_VALUE for parameter 1.
    assert tpm.shutdown(0x0002) == wire.rc_param(wire.RC_VALUE, 1)
