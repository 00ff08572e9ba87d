"""The simulated Keylime agents of scripts/bench-verifier-daemons, checked by Keylime's own code.

The daemon benchmark is only meaningful if Keylime's verifier accepts the simulated agents' quotes
and lists for the right reasons, so Keylime 7.14's `Tpm.check_quote` (what its verifier runs on every
quote: signature by the AK from TPM2B_PUBLIC, nonce, PCR digest over the PCR blob, clock, the key
bound in PCR 16, the IMA list replayed to PCR 10 and judged by the runtime policy) judges, in process:
a first round (whole list) and a steady-state round (no new entries) pass; a quote over another nonce,
a list with an entry the policy does not know, and a quote signed by another agent's AK fail.
About 2 s (Keylime imported once, six quotes).
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from test_verifier_e2e import BASELINE
from test_verifier_keylime import keylime_python

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

DRIVER = r'''
import json, sys, types
sys.modules.setdefault("gpg", types.ModuleType("gpg"))
sys.path.insert(0, sys.argv[1])
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from keylime.agentstates import AgentAttestState
from keylime.common.algorithms import Hash
from keylime.ima import file_signatures
from keylime.mba import mba
from keylime.tpm import tpm_main
from benchlib.keylime_agents import Agent, MeasurementList

mba.load_imports(skip_custom_policies=True)  # as the verifier daemon does at start
files = {p: bytes.fromhex(c) for p, c in json.loads(sys.argv[2]).items()}
ml = MeasurementList(files)
pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
agent, other = Agent(0, ml, pem), Agent(0, ml, pem)
tpm = tpm_main.Tpm()
state = AgentAttestState("a")
keyrings = state.get_ima_keyrings()
keyrings.set_tenant_keyring(file_signatures.ImaKeyring.from_string(""))

def check(ak_of, nonce, answer_nonce, first, ml_text=None):
    _, r = ak_of.answer("GET", f"/v2.2/quotes/integrity?nonce={answer_nonce}&mask=0x10400&partial=0&ima_ml_entry={first}")
    f = tpm.check_quote(state, nonce, r["pubkey"], r["quote"], agent.ak_tpm, json.dumps({"mask": "0x10400"}),
                        ml_text if ml_text is not None else r["ima_measurement_list"], ml.policy, Hash.SHA256, keyrings)
    return sorted(e.event_id for e in f.events)

out = {"first": check(agent, "n1", "n1", 0), "steady": check(agent, "n2", "n2", len(ml.lines))}
out["next_entry"] = state.get_next_ima_ml_entry()
out["entries"] = len(ml.lines)
out["wrong_nonce"] = check(agent, "n3", "n4", len(ml.lines))
out["other_ak"] = check(other, "n5", "n5", len(ml.lines))
# A guest that also ran a file the policy does not know (its list and PCR 10 include it), judged by
# the baseline's policy from a fresh state.
ml2 = MeasurementList({**files, "/usr/bin/unknown": b"unknown"})
grown = Agent(0, ml2, pem)
_, r = grown.answer("GET", "/v2.2/quotes/integrity?nonce=n6&mask=0x10400&partial=0&ima_ml_entry=0")
f = tpm.check_quote(AgentAttestState("b"), "n6", r["pubkey"], r["quote"], grown.ak_tpm, json.dumps({"mask": "0x10400"}),
                    r["ima_measurement_list"], ml.policy, Hash.SHA256, keyrings)
out["unknown_entry"] = sorted(e.event_id for e in f.events)
print(json.dumps(out))
'''


def test_keylime_accepts_simulated_agents_and_refuses_forgeries(tmp_path):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    files = json.dumps({p: c.hex() for p, c in BASELINE.items()})
    r = subprocess.run([keylime_python(), str(driver), str(SCRIPTS), files], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.splitlines()[-1])
    assert out["first"] == [] and out["steady"] == [], out
    assert out["next_entry"] == out["entries"] == 1 + len(BASELINE)
    assert any(e.endswith(".quote_validation") for e in out["wrong_nonce"]), out  # Keylime spells it "qoute_validation."
    # Refused, though not for the signature: Keylime 7.14's _tpm2_checkquote reports a failed check by the
    # exception's text, and cryptography's InvalidSignature has none, so the quote passes as one without
    # PCRs and only the missing key binding (PCR 16) fails it.
    assert out["other_ak"], out
    assert out["unknown_entry"] == ["ima.validation.ima-ng.not_in_allowlist"], out
