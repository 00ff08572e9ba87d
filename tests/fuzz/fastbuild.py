#!/usr/bin/env python3
"""The fuzz targets built on top of an existing `swift build -c release` of the main package.

What makes the SwiftPM build of tests/fuzz (`--sanitize fuzzer`) slow is that it instruments and
rebuilds every dependency (swift-crypto's BoringSSL, NIO, swift-certificates, ...). Coverage only
matters in our own code, so this build:

  1. reads the release build's llbuild manifest (.build/release.yaml) for the exact swiftc command
     of each of our modules the targets exercise, and runs it again with `-sanitize=fuzzer` added
     and every output redirected to OUT (the release build is only read, never written);
  2. compiles tests/fuzz/Sources/FuzzSupport and each target (without its Entry.swift) as modules,
     plus a generated dispatcher that defines LLVMFuzzerTestOneInput and picks the target from the
     name the binary was started under;
  3. links ONE binary, OUT/vtpm-fuzz, from those objects and the release build's objects of
     everything else (dependencies uninstrumented), with libFuzzer's main; OUT/bin/<target> are
     symlinks to it.

Usage: fastbuild.py [--release-dir DIR] [--out DIR] [--jobs N]
  --release-dir  the release build's bin path (default: .build/x86_64-unknown-linux-gnu/release)
Exit 0 on success; a compiler error fails with the command and its output.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUZZ = ROOT / "tests" / "fuzz"

# Our modules recompiled with coverage instrumentation, and what each imports among them.
INSTRUMENTED = {
    "TPMWire": [],
    "TPMCrypto": [],
    "TPMEngine": ["TPMWire", "TPMCrypto"],
    "VTPMHost": ["TPMEngine", "TPMWire"],
    "Measurement": [],
    "Attestation": ["Measurement", "TPMWire", "TPMCrypto"],
    "AgentCore": ["TPMWire", "TPMCrypto", "Measurement", "Attestation"],
}
# Executables whose link lists together hold every object the targets need.
PRODUCTS = ["vtpm", "vtpm-agent"]
EXE_DIRS = {"vtpm.build", "vtpm_agent.build", "vtpm_verifier.build"}


def c99(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def targets() -> list[str]:
    text = (FUZZ / "Package.swift").read_text()
    m = re.search(r"let targets = \[(.*?)\]", text, re.S)
    return re.findall(r'"([^"]+)"', m.group(1))


def manifest_commands(yaml: Path) -> dict[str, list[str]]:
    """module name -> swiftc args of its compile command, and 'link:<product>' -> link args."""
    out: dict[str, list[str]] = {}
    name = None
    for line in yaml.read_text().splitlines():
        m = re.match(r'^  "(C\.[^"]+)":$', line)
        if m:
            name = m.group(1)
            continue
        s = line.strip()
        if name and s.startswith("args: "):
            args = json.loads(s[len("args: "):])
            if "-module-name" in args and "-emit-module" in args:
                out[args[args.index("-module-name") + 1]] = args
            for p in PRODUCTS:
                if name == f"C.{p}-x86_64-unknown-linux-gnu-release.exe" or name.startswith(f"C.{p}-") and name.endswith(".exe"):
                    out["link:" + p] = args
    return out


def stamp(args: list[str], deps: list[str]) -> str:
    """What a module's instrumented objects depend on: its release command (flags, source list)
    with every source's size and mtime, and its dependencies' stamps."""
    files = []
    for a in args:
        if a.startswith("@"):
            for f in Path(a[1:]).read_text().split():
                st = Path(f).stat()
                files.append((f, st.st_size, st.st_mtime_ns))
    return json.dumps([args, files, deps])


def run(cmd: list[str], what: str) -> None:
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.stderr.write(f"fastbuild: {what} failed (exit {r.returncode})\n$ {' '.join(cmd)[:4000]}\n{r.stdout[-20000:]}\n")
        raise SystemExit(1)


def rewrite(args: list[str], module: str, rel: str, out: Path) -> list[str]:
    """The release compile command of `module` with its outputs in `out` and coverage on."""
    new: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        nxt = args[i + 1] if i + 1 < len(args) else None
        if a == "-emit-module-path":
            new += [a, str(out / "Modules" / f"{module}.swiftmodule")]
            i += 2
        elif a == "-output-file-map":
            ofm = json.loads(Path(nxt).read_text())
            ofm = {k: {kk: vv.replace(rel, str(out)) for kk, vv in v.items()} for k, v in ofm.items()}
            (out / f"{module}.build").mkdir(parents=True, exist_ok=True)
            path = out / f"{module}.build" / "output-file-map.json"
            path.write_text(json.dumps(ofm))
            new += [a, str(path)]
            i += 2
        elif a == "-I" and nxt == f"{rel}/Modules":
            new += ["-I", str(out / "Modules"), "-I", nxt]
            i += 2
        elif a == "-module-cache-path":
            new += [a, str(out / "ModuleCache")]
            i += 2
        elif a == "-emit-objc-header-path":
            i += 2
        elif a in ("-parseable-output", "-emit-objc-header", "-warnings-as-errors"):
            i += 1
        else:
            new.append(a)
            i += 1
    return new + ["-sanitize=fuzzer"]


def xcc_flags(cmds: dict[str, list[str]]) -> list[str]:
    """The -Xcc pairs (C module maps, include paths) of every instrumented module, deduplicated."""
    seen, flags = set(), []
    for m in INSTRUMENTED:
        args = cmds[m]
        i = 0
        while i < len(args):
            if args[i] == "-Xcc" and i + 1 < len(args):
                pair = ("-Xcc", args[i + 1])
                # "-Xcc -I -Xcc DIR" is two pairs; keep them together.
                if args[i + 1] == "-I" and i + 3 < len(args):
                    pair = ("-Xcc", "-I", "-Xcc", args[i + 3])
                    i += 2
                if pair not in seen:
                    seen.add(pair)
                    flags += pair
                i += 2
            else:
                i += 1
    return flags


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--release-dir", default=str(ROOT / ".build" / "x86_64-unknown-linux-gnu" / "release"))
    ap.add_argument("--out", default=str(FUZZ / ".build-fuzz-fast"))
    ap.add_argument("--jobs", type=int, default=2)
    o = ap.parse_args()
    rel = str(Path(o.release_dir).resolve())
    out = Path(o.out).resolve()
    # <scratch>/x86_64-unknown-linux-gnu/release -> <scratch>/release.yaml
    yaml = Path(rel).parents[1] / "release.yaml"
    if not yaml.exists():
        sys.stderr.write(f"fastbuild: no release build manifest at {yaml} (run swift build -c release first)\n")
        return 1
    cmds = manifest_commands(yaml)
    missing = [m for m in list(INSTRUMENTED) + ["link:" + p for p in PRODUCTS] if m not in cmds]
    if missing:
        sys.stderr.write(f"fastbuild: not in {yaml}: {missing} (an incomplete release build?)\n")
        return 1
    (out / "Modules").mkdir(parents=True, exist_ok=True)
    (out / "bin").mkdir(exist_ok=True)
    t0 = time.monotonic()

    # 1. Our modules, instrumented, in dependency order, up to --jobs at once.
    done: set[str] = set()
    running: dict[str, subprocess.Popen] = {}
    logs: dict[str, Path] = {}
    pending = list(INSTRUMENTED)
    times: dict[str, float] = {}
    starts: dict[str, float] = {}
    stamps: dict[str, str] = {}
    while pending or running:
        for m in list(pending):
            if len(running) >= o.jobs:
                break
            if all(d in done for d in INSTRUMENTED[m]):
                pending.remove(m)
                key = stamp(cmds[m], [stamps.get(d, "") for d in INSTRUMENTED[m]])
                stamps[m] = key
                if (out / f"{m}.build" / "stamp").exists() and (out / f"{m}.build" / "stamp").read_text() == key:
                    done.add(m)  # unchanged since the last fast build
                    times[m] = 0.0
                    continue
                logs[m] = out / f"{m}.log"
                running[m] = subprocess.Popen(rewrite(cmds[m], m, rel, out), stdout=logs[m].open("w"),
                                              stderr=subprocess.STDOUT)
                starts[m] = time.monotonic()
        if not running:
            if any(all(d in done for d in INSTRUMENTED[m]) for m in pending):
                continue  # modules skipped as unchanged made others ready
            if pending:
                sys.stderr.write(f"fastbuild: dependency cycle among {pending}\n")
                return 1
            break
        finished = False
        while not finished:
            for m, p in list(running.items()):
                if p.poll() is not None:
                    del running[m]
                    if p.returncode != 0:
                        sys.stderr.write(f"fastbuild: compiling {m} failed:\n{logs[m].read_text()[-20000:]}\n")
                        for q in running.values():
                            q.kill()
                        return 1
                    done.add(m)
                    times[m] = time.monotonic() - starts[m]
                    (out / f"{m}.build" / "stamp").write_text(stamps[m])
                    finished = True
            if not finished:
                time.sleep(0.2)
    t1 = time.monotonic()

    # 2. FuzzSupport, the targets, the dispatcher (small; one swiftc each, whole module).
    base = cmds["TPMEngine"]
    target = base[base.index("-target") + 1]
    common = ["-parse-as-library", "-wmo", "-O", "-g", "-swift-version", "6", "-target", target,
              "-I", str(out / "Modules"), "-I", f"{rel}/Modules", "-module-cache-path", str(out / "ModuleCache"),
              "-sanitize=fuzzer", "-Xcc", "-fPIC"] + xcc_flags(cmds)
    objects: list[Path] = []

    def module(name: str, sources: list[Path]) -> None:
        obj = out / f"{name}.o"
        run([base[0], "-module-name", name, "-c", "-o", str(obj), "-emit-module", "-emit-module-path",
             str(out / "Modules" / f"{name}.swiftmodule")] + common + [str(s) for s in sources], f"compiling {name}")
        objects.append(obj)

    module("FuzzSupport", sorted((FUZZ / "Sources" / "FuzzSupport").glob("*.swift")))
    names = targets()
    for t in names:
        module(c99(t), sorted(s for s in (FUZZ / "Sources" / t).glob("*.swift") if s.name != "Entry.swift"))
    dispatcher = out / "Dispatch.swift"
    dispatcher.write_text(dispatch_source(names))
    module("FuzzDispatch", [dispatcher])
    t2 = time.monotonic()

    # 3. One binary: instrumented objects, the release objects of everything else, libFuzzer's main.
    link_objects: list[str] = []
    link_flags: list[str] = []
    for p in PRODUCTS:
        args = cmds["link:" + p]
        for a in args:
            if a.startswith("@"):
                for line in Path(a[1:]).read_text().splitlines():
                    f = line.strip().strip("'\"")
                    if not f:
                        continue
                    d = Path(f).parent.name
                    if d in EXE_DIRS or d[:-len(".build")] in INSTRUMENTED or f in link_objects:
                        continue
                    link_objects.append(f)
        i = 0
        while i < len(args):
            a = args[i]
            if a == "-Xlinker" and i + 1 < len(args):
                # A library's static archive (libaudit.a, libcap-ng.a from AgentCore) is needed;
                # other linker flags belong to their product alone (vtpm-agent's static-executable
                # list of Foundation archives, which a dynamic link cannot find).
                if args[i + 1].startswith("-l:") and args[i + 1] not in link_flags:
                    link_flags += ["-Xlinker", args[i + 1]]
                i += 2
                continue
            if a.startswith("-l") or a.startswith("-L/"):
                if a not in link_flags:
                    link_flags.append(a)
            i += 1
    for m in INSTRUMENTED:
        link_objects += sorted(str(p) for p in (out / f"{m}.build").glob("*.o"))
    link_objects += [str(p) for p in objects]
    filelist = out / "objects.txt"
    filelist.write_text("".join('"' + f.replace('"', '\\"') + '"\n' for f in link_objects))
    binary = out / "vtpm-fuzz"
    run([base[0], "-sanitize=fuzzer", "-target", target, "-emit-executable", "-o", str(binary), f"@{filelist}",
         "-Xlinker", "--gc-sections", "-g"] + link_flags, "linking vtpm-fuzz")
    for t in names:
        link = out / "bin" / t
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to("../vtpm-fuzz")
    t3 = time.monotonic()
    print(f"fastbuild: instrumented modules {t1 - t0:.0f} s ("
          + ", ".join(f"{m} {times[m]:.0f}" for m in INSTRUMENTED) + f"), fuzz modules {t2 - t1:.0f} s, "
          f"link {t3 - t2:.0f} s; {binary}")
    return 0


def dispatch_source(names: list[str]) -> str:
    imports = "\n".join(f"import {c99(t)}" for t in names)
    cases = "\n".join(f'    case "{t}": selected = {c99(t)}.testOneInput' for t in names)
    return f"""// Generated by tests/fuzz/fastbuild.py: every target in one binary, picked by the name it runs under.
import Glibc
{imports}

nonisolated(unsafe) var selected: ((UnsafePointer<UInt8>?, Int) -> CInt)?

@_cdecl("LLVMFuzzerInitialize")
public func llvmFuzzerInitialize(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {{
    var name = getenv("FUZZ_TARGET").map {{ String(cString: $0) }} ?? ""
    if name.isEmpty, let a0 = argv.pointee?.pointee {{
        name = String(String(cString: a0).split(separator: "/").last ?? "")
    }}
    switch name {{
{cases}
    default:
        let text = Array("vtpm-fuzz: run as one of the target names (symlinks in bin/) or set FUZZ_TARGET; not '\\(name)'\\n".utf8)
        _ = text.withUnsafeBufferPointer {{ write(2, $0.baseAddress, $0.count) }}
        exit(2)
    }}
    return 0
}}

@_cdecl("LLVMFuzzerTestOneInput")
public func llvmFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {{
    selected!(data, size)
}}
"""


if __name__ == "__main__":
    sys.exit(main())
