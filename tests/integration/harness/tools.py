"""Reading tpm2-tools' output (YAML-ish) into Python values."""
from __future__ import annotations

import hashlib
import re

import yaml

from .wire import DIGEST_SIZE

TOOLS_HASHES = ("sha1", "sha256", "sha384", "sha512")


def load_yaml(text: str):
    return yaml.safe_load(text)


def allocated_banks(tpm) -> dict[str, list[int]]:
    """{bank: [allocated PCRs]} from `tpm2 getcap pcrs`, empty banks left out."""
    y = load_yaml(tpm.tool("getcap", "pcrs").stdout)
    out = {}
    for entry in y["selected-pcrs"]:
        for bank, pcrs in entry.items():
            if pcrs:
                out[bank] = list(pcrs)
    return out


_BANK = re.compile(r"^\s+(sha1|sha256|sha384|sha512|sm3_256)\s*:\s*$")
_PCR = re.compile(r"^\s+(\d+)\s*:\s*0x([0-9A-Fa-f]*)\s*$")


def pcrread(tpm, spec: str) -> dict[tuple[str, int], bytes]:
    """`tpm2 pcrread SPEC` as {(bank, pcr): value}."""
    out = {}
    bank = None
    for line in tpm.tool("pcrread", spec).stdout.splitlines():
        m = _BANK.match(line)
        if m:
            bank = m.group(1)
            continue
        m = _PCR.match(line)
        if m and bank:
            out[(bank, int(m.group(1)))] = bytes.fromhex(m.group(2))
    return out


def extended(bank: str, old: bytes, digest: bytes) -> bytes:
    """PCR extend as Part 1 defines it: new = H(old || digest)."""
    return hashlib.new(bank, old + digest).digest()


def zeros(bank: str) -> bytes:
    return bytes(DIGEST_SIZE[bank])


def ones(bank: str) -> bytes:
    return b"\xff" * DIGEST_SIZE[bank]


def digest_lines(text: str) -> dict[str, bytes]:
    """Lines 'sha256: 0a1b...' (tpm2 pcrevent) as {alg: bytes}."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(sha1|sha256|sha384|sha512|sm3_256):\s*(?:0x)?([0-9A-Fa-f]+)\s*$", line)
        if m:
            out[m.group(1)] = bytes.fromhex(m.group(2))
    return out


def readclock(tpm) -> dict:
    y = load_yaml(tpm.tool("readclock").stdout)
    ci = y["clock_info"]
    return {"time": int(y["time"]), "clock": int(ci["clock"]), "reset_count": int(ci["reset_count"]),
            "restart_count": int(ci["restart_count"]), "safe": ci["safe"]}
