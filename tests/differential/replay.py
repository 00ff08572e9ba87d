#!/usr/bin/env python3
"""Replays differential cases on swtpm/libtpms and prints libtpms's response codes.

The engine tests that call runDifferential() write their cases to the file named by
VTPM_DIFF_DUMP (one JSON object per line: name, steps as hex commands, our codes):

    VTPM_DIFF_DUMP=/tmp/cases.jsonl swift test --filter ObjectDifferentialTests
    swtpm socket --tpm2 --server type=tcp,port=P --ctrl type=tcp,port=P+1 \
        --tpmstate dir=DIR --flags not-need-init,startup-clear &
    python3 tests/differential/replay.py /tmp/cases.jsonl P

Before each case every loaded transient object and session is flushed, so handles are
assigned from 0x80000000 as in a freshly started engine, and lockout is reset. Prints, per case, libtpms's codes and whether they
equal ours; the codes are what the Swift cases embed as `expected`.
"""
import json
import socket
import struct
import sys


def send(cmd, port):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(cmd)
    data = b""
    while len(data) < 10 or len(data) < struct.unpack(">I", data[2:6])[0]:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data


def rc(r):
    return struct.unpack(">I", r[6:10])[0]


def run(cmd, port):
    # libtpms occasionally answers TPM_RC_RETRY (0x922) or TPM_RC_YIELDED; a TPM's caller
    # sends the command again.
    for _ in range(10):
        code = rc(send(cmd, port))
        if code not in (0x922, 0x908):
            return code
    return code


def reset_da(port):
    # TPM2_DictionaryAttackLockReset(TPM_RH_LOCKOUT) with the empty lockoutAuth, so failed
    # authorizations in one case never lock out the next (the engine has no DA counter yet).
    pw = struct.pack(">IHBH", 0x40000009, 0, 1, 0)
    body = struct.pack(">II", 0x4000000A, len(pw)) + pw
    send(struct.pack(">HII", 0x8002, 10 + len(body), 0x139) + body, port)


def flush_all(port):
    reset_da(port)
    # GetCapability(TPM_CAP_HANDLES, first, 64) for transient objects, loaded HMAC and policy
    # sessions; each one found is flushed.
    for first in (0x80000000, 0x02000000, 0x03000000):
        r = send(struct.pack(">HIIIII", 0x8001, 22, 0x17A, 1, first, 64), port)
        count = struct.unpack(">I", r[15:19])[0]
        for i in range(count):
            h = struct.unpack(">I", r[19 + 4 * i:23 + 4 * i])[0]
            send(struct.pack(">HIII", 0x8001, 14, 0x165, h), port)


def main():
    path, port = sys.argv[1], int(sys.argv[2])
    mismatches = 0
    for line in open(path):
        if not line.strip():
            continue
        case = json.loads(line)
        flush_all(port)
        codes = [run(bytes.fromhex(step), port) for step in case["steps"]]
        # A case may record libtpms's codes where the engine deliberately differs.
        same = codes == case.get("libtpms", case["ours"])
        mismatches += not same
        lit = ", ".join("0x%03X" % c for c in codes)
        print(("ok   " if same else "DIFF ") + case["name"] + ": [" + lit + "]"
              + ("" if same else "  ours: [" + ", ".join("0x%03X" % c for c in case["ours"]) + "]"))
    print("%d mismatches" % mismatches)


if __name__ == "__main__":
    main()
