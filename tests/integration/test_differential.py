"""Differential testing against swtpm + libtpms (the oracle): the same generated command bytes —
valid, nearly valid and mutated, from a fixed seed — go to a fresh swtpm and a fresh candidate
started with the same swtpm command line and flags; response codes, error responses (byte for byte)
and deterministic outputs (digests, PCR values and PCR_Read responses after identical extends,
capability data about PCRs and command attributes) must agree, except for the accepted differences
listed in harness/differential.py and docs/deviations.md.

Longer runs with any seed: scripts/difftest --seed N --cases M.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import wire
from harness.differential import Stats, equalize, format_diffs, run_differential, write_report
from harness.servers import Impl


@pytest.fixture(params=["self-check", "candidate"])
def pair(request, swtpm_impl, candidate_impl, tpm_factory):
    if request.param == "self-check":
        cand = Impl("swtpm", swtpm_impl.binary)
    else:
        if candidate_impl.name == "swtpm":
            pytest.skip("no candidate selected besides swtpm (--tpm swtpm): the self-check covers it")
        cand = candidate_impl
    ref = tpm_factory(swtpm_impl, "swtpm", name="reference")
    other = tpm_factory(cand, "swtpm", name="candidate")
    return ref, other


@pytest.mark.timeout(600)
def test_differential(pair, request, tmp_path):
    ref, cand = pair
    seed = request.config.getoption("--seed")
    cases = request.config.getoption("--diff-cases")
    ra, rb = equalize(ref), equalize(cand)
    assert (ra.rc, rb.rc) == (0, 0), f"PCR_Allocate {ra.rc:#x} / {rb.rc:#x}"
    # allocationSuccess must be YES on both.
    assert ra.params()[0] == 1 and rb.params()[0] == 1

    stats = Stats()
    diffs = run_differential(ref, cand, seed, cases, stats)

    report = Path(os.environ.get("VTPM_DIFF_REPORT", tmp_path / "differential.json"))
    write_report(diffs, report)
    accepted = [d for d in diffs if d.accepted]
    unexplained = [d for d in diffs if not d.accepted]
    by_reason = {}
    for d in accepted:
        by_reason[d.accepted] = by_reason.get(d.accepted, 0) + 1
    # The conformance figure (README): sequences, responses compared, agreement rate.
    print(f"\ndifferential {ref.impl.name} vs {cand.impl.name}, seed {seed}: {stats.summary(diffs)}; "
          f"accepted by reason {by_reason}; report {report}")
    if os.environ.get("VTPM_DIFF_SUMMARY"):  # scripts/test quotes it in its summary
        with open(os.environ["VTPM_DIFF_SUMMARY"], "a") as f:
            f.write(f"{cand.impl.name} vs {ref.impl.name} (seed {seed}): {stats.summary(diffs)}\n")
    # Both still alive and answering correctly.
    for t in (ref, cand):
        assert t.alive(), f"{t.name} died"
        r = t.cmd("GetRandom", params=wire.u16(8))
        assert r.rc == 0 and len(r.body) == 10
    if cand.impl.name == "swtpm":
        assert not diffs, "swtpm disagrees with itself (generator or comparison not deterministic):\n" + \
            format_diffs(diffs)
    assert not unexplained, (f"{len(unexplained)} unexplained differences from swtpm (seed {seed}; full "
                             f"report {report}):\n" + format_diffs(unexplained))
