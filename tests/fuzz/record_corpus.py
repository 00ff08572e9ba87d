#!/usr/bin/python3
"""Records the seed corpus of the engine fuzz targets from real traffic (docs/fuzzing.md).

Starts `vtpm sim --log-level 3` on a free port, runs tpm2-tools 5.4 commands against it over
the mssim TCTI, and writes each tool invocation's commands (as the TPM received them,
concatenated; the harness splits them by their size fields) to corpus/fuzz-engine/ and
corpus/fuzz-engine-loaded/, and the same commands framed for the data channels to
corpus/fuzz-framers/. Usage: tests/fuzz/record_corpus.py [path to vtpm]
"""
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VTPM = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build/release/vtpm")

# One entry per seed: a shell snippet run in a scratch directory (files from earlier steps stay).
STEPS = [
    "tpm2 startup -c",
    "tpm2 getrandom --hex 16",
    "tpm2 stirrandom <<< 0123456789abcdef",
    "tpm2 pcrread sha1:0,1,2+sha256:16,23",
    "tpm2 pcrextend 16:sha256=" + "ab" * 32,
    "echo hello > data.txt; tpm2 pcrevent 16 data.txt",
    "tpm2 pcrreset 16",
    "tpm2 hash -g sha256 -C o -t ticket.bin data.txt",
    "tpm2 getcap algorithms",
    "tpm2 getcap commands",
    "tpm2 getcap properties-fixed",
    "tpm2 getcap properties-variable",
    "tpm2 getcap pcrs",
    "tpm2 getcap handles-persistent",
    "tpm2 selftest",
    "tpm2 gettestresult",
    "tpm2 incrementalselftest rsa ecc",
    "tpm2 readclock",
    "tpm2 testparms ecc256",
    "tpm2 testparms rsa2048:aes128cfb",
    "tpm2 createprimary -C o -G ecc -c primary.ctx",
    "tpm2 create -C primary.ctx -G ecc -u key.pub -r key.priv",
    "tpm2 load -C primary.ctx -u key.pub -r key.priv -c key.ctx",
    "tpm2 readpublic -c key.ctx",
    "tpm2 sign -c key.ctx -g sha256 -o sig.bin data.txt",
    "tpm2 verifysignature -c key.ctx -g sha256 -m data.txt -s sig.bin",
    "tpm2 quote -c key.ctx -l sha256:0,1,16 -q 1234 -m quote.msg -s quote.sig -o quote.pcrs",
    "tpm2 certify -C key.ctx -c primary.ctx -g sha256 -o attest.out -s certify.sig",
    "tpm2 gettime -c key.ctx -o time.attest",
    "tpm2 create -C primary.ctx -i data.txt -u seal.pub -r seal.priv",
    "tpm2 load -C primary.ctx -u seal.pub -r seal.priv -c seal.ctx && tpm2 unseal -c seal.ctx",
    "tpm2 create -C primary.ctx -G aes128cfb -u sym.pub -r sym.priv",
    "tpm2 load -C primary.ctx -u sym.pub -r sym.priv -c sym.ctx && "
    "tpm2 encryptdecrypt -c sym.ctx -o enc.bin data.txt",
    "tpm2 create -C primary.ctx -G hmac -u hmac.pub -r hmac.priv",
    "tpm2 load -C primary.ctx -u hmac.pub -r hmac.priv -c hmac.ctx && tpm2 hmac -c hmac.ctx data.txt",
    "tpm2 createprimary -C o -G rsa2048 -c rsa.ctx",
    "tpm2 rsaencrypt -c rsa.ctx -o cipher.bin data.txt",
    "tpm2 evictcontrol -C o -c primary.ctx 0x81000010",
    "tpm2 evictcontrol -C o -c 0x81000010",
    "tpm2 nvdefine 0x1500016 -C o -s 32 -a 'ownerread|ownerwrite|authread|authwrite'",
    "tpm2 nvwrite 0x1500016 -C o -i data.txt",
    "tpm2 nvread 0x1500016 -C o -s 6",
    "tpm2 nvreadpublic",
    "tpm2 nvdefine 0x1500017 -C o -s 8 -a 'nt=counter|ownerread|ownerwrite|authread|authwrite'",
    "tpm2 nvincrement 0x1500017 -C o",
    "tpm2 nvundefine 0x1500016 -C o",
    "tpm2 startauthsession -S session.ctx && tpm2 flushcontext session.ctx",
    "tpm2 startauthsession --policy-session -S psession.ctx && "
    "tpm2 policypcr -S psession.ctx -l sha256:0,1 && tpm2 policygetdigest -S psession.ctx && "
    "tpm2 flushcontext psession.ctx",
    "tpm2 startauthsession -S trial.ctx && tpm2 policyauthvalue -S trial.ctx -L authvalue.policy && "
    "tpm2 flushcontext trial.ctx",
    "tpm2 startauthsession --hmac-session -S hmac.session && "
    "tpm2 getrandom -S hmac.session --hex 8 && tpm2 flushcontext hmac.session",
    "tpm2 flushcontext -t",
    "tpm2 setclock 99999999999",
    "tpm2 clockrateadjust s",
    "tpm2 changeauth -c owner newpass",
    "tpm2 changeauth -c owner -p newpass",
    "tpm2 dictionarylockout -s -n 5 -t 6 -l 7 -C l",
    "tpm2 clear -c p",
    "tpm2 shutdown",
    "tpm2 shutdown -c",
]


def free_port():
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        t = socket.socket()
        try:
            t.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
        finally:
            t.close()


def commands_in(log_text):
    return [bytes.fromhex(h) for h in re.findall(r"command \(locality \d\): ([0-9a-f]+)", log_text)]


def main():
    work = tempfile.mkdtemp(prefix="vtpm-record-")
    port = free_port()
    log_path = os.path.join(work, "sim.log")
    with open(log_path, "w") as log:
        sim = subprocess.Popen([VTPM, "sim", "--port", str(port), "--state-dir", os.path.join(work, "state"),
                                "--log-level", "3"], stdout=log, stderr=log)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        env = dict(os.environ, TPM2TOOLS_TCTI=f"mssim:host=127.0.0.1,port={port}")
        outdirs = {t: os.path.join(HERE, "corpus", t) for t in ("fuzz-engine", "fuzz-engine-loaded", "fuzz-framers")}
        for d in outdirs.values():
            os.makedirs(d, exist_ok=True)
        seen = 0
        kept = 0
        for step in STEPS:
            r = subprocess.run(["bash", "-c", step], cwd=work, env=env, capture_output=True, timeout=120)
            if r.returncode != 0:
                print(f"warning: '{step}' exited {r.returncode}: {r.stderr.decode(errors='replace')[-200:]}",
                      file=sys.stderr)
            time.sleep(0.05)
            with open(log_path) as f:
                cmds = commands_in(f.read())
            new, seen = cmds[seen:], len(cmds)
            if not new:
                continue
            seq = b"".join(new)
            name = re.sub(r"[^a-z0-9]+", "-", step.split("&&")[0].replace("tpm2 ", "").lower()).strip("-")[:40]
            name = f"{kept:02d}-{name}"
            kept += 1
            for t in ("fuzz-engine", "fuzz-engine-loaded"):
                with open(os.path.join(outdirs[t], name), "wb") as f:
                    f.write(seq)
            # fuzz-framers: selector 0 = raw data channel, 1 = mssim command port.
            with open(os.path.join(outdirs["fuzz-framers"], name + "-raw"), "wb") as f:
                f.write(b"\x00" + seq)
            mssim = b"".join(b"\x00\x00\x00\x08\x00" + len(c).to_bytes(4, "big") + c for c in new)
            with open(os.path.join(outdirs["fuzz-framers"], name + "-mssim"), "wb") as f:
                f.write(b"\x01" + mssim)
        print(f"recorded {kept} tool invocations ({seen} commands)")
    finally:
        sim.kill()
        sim.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
