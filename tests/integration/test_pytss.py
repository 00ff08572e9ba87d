"""tpm2-pytss (Debian's python3-tpm2-pytss, ESAPI over libtss2's mssim/swtpm TCTI) against the
TPM under test. Values are checked with hashlib."""
from __future__ import annotations

import hashlib
import os

import pytest

from tpm2_pytss import ESAPI, ESYS_TR, TPM2_ALG, TPM2_CAP, TPM2_CC, TPM2_RH, TSS2_Exception
from tpm2_pytss.types import TPML_DIGEST_VALUES, TPML_PCR_SELECTION, TPMS_CONTEXT, TPMT_HA, TPMU_HA

from harness import wire

HASHES = {"sha1": TPM2_ALG.SHA1, "sha256": TPM2_ALG.SHA256, "sha384": TPM2_ALG.SHA384, "sha512": TPM2_ALG.SHA512}


@pytest.fixture
def esys(tpm):
    with ESAPI(tpm.tcti) as e:
        yield e


def _banks(esys) -> list[str]:
    _, caps = esys.get_capability(TPM2_CAP.PCRS, 0, 1)
    names = {v: k for k, v in HASHES.items()}
    out = []
    for sel in caps.data.assignedPCR:
        if any(sel.pcrSelect[i] for i in range(sel.sizeofSelect)):
            out.append(names[int(sel.hash)])
    return out


def test_get_random(esys):
    a = bytes(esys.get_random(32))
    b = bytes(esys.get_random(32))
    assert len(a) == 32 and len(b) == 32 and a != b


def test_pcr_extend_and_read(esys):
    banks = _banks(esys)
    assert "sha1" in banks and "sha256" in banks
    sel = TPML_PCR_SELECTION.parse("+".join(f"{b}:16" for b in banks))
    _, _, before = esys.pcr_read(sel)
    before = [bytes(d) for d in before]
    digests = {b: hashlib.new(b, b"pytss " + b.encode()).digest() for b in banks}
    vals = TPML_DIGEST_VALUES([TPMT_HA(hashAlg=HASHES[b], digest=TPMU_HA(**{b: digests[b]})) for b in banks])
    esys.pcr_extend(ESYS_TR.PCR16, vals)
    counter, sel_out, after = esys.pcr_read(sel)
    after = [bytes(d) for d in after]
    assert len(after) == len(banks)
    for i, b in enumerate(banks):
        assert after[i] == hashlib.new(b, before[i] + digests[b]).digest(), b
    # PCR 0 is a counted PCR (PC Client; 16 and 23 are not): each extend moves pcrUpdateCounter.
    c0, _, _ = esys.pcr_read(TPML_PCR_SELECTION.parse("sha256:0"))
    esys.pcr_extend(ESYS_TR.PCR0, TPML_DIGEST_VALUES([TPMT_HA(hashAlg=TPM2_ALG.SHA256, digest=TPMU_HA(sha256=bytes(32)))]))
    c1, _, _ = esys.pcr_read(TPML_PCR_SELECTION.parse("sha256:0"))
    assert c1 == c0 + 1  # Part 1, 17.7: pcrUpdateCounter increments on each extend of a counted PCR


@pytest.mark.parametrize("alg", sorted(HASHES))
def test_hash(esys, alg):
    data = os.urandom(777)
    digest, ticket = esys.hash(data, HASHES[alg], ESYS_TR.OWNER)
    assert bytes(digest) == hashlib.new(alg, data).digest()
    assert int(ticket.tag) == wire.ST_HASHCHECK and int(ticket.hierarchy) == TPM2_RH.OWNER
    assert len(bytes(ticket.digest)) > 0
    digest, ticket = esys.hash(data, HASHES[alg], ESYS_TR.NULL)
    assert int(ticket.hierarchy) == TPM2_RH.NULL and len(bytes(ticket.digest)) == 0


def test_get_capability(esys):
    more, caps = esys.get_capability(TPM2_CAP.ALGS, 0, 64)
    algs = {int(a.alg) for a in caps.data.algorithms}
    assert {int(h) for h in HASHES.values()} <= algs
    more, caps = esys.get_capability(TPM2_CAP.COMMANDS, TPM2_CC.FIRST, 256)
    ccs = {int(c) & 0xFFFF for c in caps.data.command}
    for cc in (TPM2_CC.GetRandom, TPM2_CC.PCR_Extend, TPM2_CC.PCR_Read, TPM2_CC.Hash, TPM2_CC.HashSequenceStart,
               TPM2_CC.SequenceUpdate, TPM2_CC.SequenceComplete, TPM2_CC.GetCapability):
        assert int(cc) in ccs
    more, caps = esys.get_capability(TPM2_CAP.TPM_PROPERTIES, 0x100, 1)  # TPM_PT_FAMILY_INDICATOR
    p = caps.data.tpmProperties[0]
    assert int(p.property) == 0x100 and int(p.value) == 0x322E3000  # "2.0\0"
    more, caps = esys.get_capability(TPM2_CAP.PCRS, 0, 1)
    assert len(caps.data.assignedPCR) >= 2


@pytest.mark.parametrize("alg", ["sha1", "sha256", "sha384", "sha512"])
def test_hash_sequence(esys, alg):
    parts = [b"safe" + os.urandom(n) for n in (60, 1, 64, 65, 1000, 0, 333)]
    seq = esys.hash_sequence_start(b"seqauth", HASHES[alg])
    esys.tr_set_auth(seq, b"seqauth")
    for p in parts[:-1]:
        esys.sequence_update(seq, p)
    digest, ticket = esys.sequence_complete(seq, parts[-1], ESYS_TR.OWNER)
    assert bytes(digest) == hashlib.new(alg, b"".join(parts)).digest()
    assert int(ticket.hierarchy) == TPM2_RH.OWNER and len(bytes(ticket.digest)) > 0
    # The sequence object is gone after SequenceComplete (Part 3, 17.5).
    with pytest.raises(TSS2_Exception):
        esys.sequence_update(seq, b"more")


@pytest.mark.parametrize("updates,final,ticket", [
    ([], b"abcdefgh", True),
    ([b"abcd"], b"", True),
    ([b"ab"], b"cdefgh", False),       # first block shorter than TPM_GENERATED_VALUE
    ([b""], b"abcdefgh", False),       # an empty first block, likewise
    ([], b"abc", False),
    ([b"\xffTCGdata"], b"", False),    # starts with TPM_GENERATED_VALUE
    ([], b"\xffTCGdata", False),
])
def test_sequence_ticket_safety(esys, updates, final, ticket):
    """Part 3, 17.4/17.5 (SequenceUpdate/SequenceComplete code): the ticket is an HMAC only when the
    sequence's first block has at least 4 octets and does not start with TPM_GENERATED_VALUE."""
    seq = esys.hash_sequence_start(b"", TPM2_ALG.SHA256)
    for u in updates:
        esys.sequence_update(seq, u)
    digest, tk = esys.sequence_complete(seq, final, ESYS_TR.OWNER)
    assert bytes(digest) == hashlib.sha256(b"".join(updates) + final).digest()
    assert int(tk.tag) == wire.ST_HASHCHECK
    if ticket:
        assert int(tk.hierarchy) == TPM2_RH.OWNER and len(bytes(tk.digest)) > 0
    else:
        assert int(tk.hierarchy) == TPM2_RH.NULL and len(bytes(tk.digest)) == 0


def test_hash_sequence_wrong_auth(esys):
    seq = esys.hash_sequence_start(b"right", TPM2_ALG.SHA256)
    esys.tr_set_auth(seq, b"wrong")
    with pytest.raises(TSS2_Exception) as e:
        esys.sequence_update(seq, b"x")
    # Sequence objects are not subject to dictionary-attack protection (noDA), so a wrong password is
    # TPM_RC_BAD_AUTH for session 1, not TPM_RC_AUTH_FAIL.
    assert e.value.rc == wire.rc_session(wire.RC_BAD_AUTH, 1)
    esys.tr_set_auth(seq, b"right")
    esys.sequence_update(seq, b"x")
    digest, _ = esys.sequence_complete(seq, b"y", ESYS_TR.NULL)
    assert bytes(digest) == hashlib.sha256(b"xy").digest()


def test_event_sequence(esys):
    banks = _banks(esys)
    data = os.urandom(3000)
    sel = TPML_PCR_SELECTION.parse("+".join(f"{b}:23" for b in banks))
    _, _, before = esys.pcr_read(sel)
    seq = esys.hash_sequence_start(b"", TPM2_ALG.NULL)
    esys.sequence_update(seq, data[:1024])
    esys.sequence_update(seq, data[1024:2048])
    digests = esys.event_sequence_complete(ESYS_TR.PCR23, seq, data[2048:])
    names = {int(v): k for k, v in HASHES.items()}
    by_alg = {names[int(d.hashAlg)]: bytes(getattr(d.digest, names[int(d.hashAlg)])) for d in digests}
    assert set(banks) <= set(by_alg)
    for name, d in by_alg.items():
        assert d == hashlib.new(name, data).digest(), name
    _, _, after = esys.pcr_read(sel)
    for i, b in enumerate(banks):
        d = by_alg[b]
        assert bytes(after[i]) == hashlib.new(b, bytes(before[i]) + d).digest()


def test_context_save_load_sequence(esys):
    """A hash sequence saved with ContextSave, flushed, and loaded back continues where it was."""
    seq = esys.hash_sequence_start(b"", TPM2_ALG.SHA256)
    esys.sequence_update(seq, b"first half, ")
    ctx = esys.context_save(seq)
    blob = ctx.marshal()
    esys.flush_context(seq)
    seq2 = esys.context_load(TPMS_CONTEXT.unmarshal(blob)[0])
    esys.sequence_update(seq2, b"second half")
    digest, _ = esys.sequence_complete(seq2, b"", ESYS_TR.NULL)
    assert bytes(digest) == hashlib.sha256(b"first half, second half").digest()
