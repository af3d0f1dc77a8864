#!/usr/bin/env python3
"""Runs every benchmark program natively, under Kiln, node and wabt's wasm-interp, checks that
all of them report the same checksum and prints a table of times and ratios to native.

    bench/compare.py [--build-dir DIR] [--repeat N] [--engines kiln,kiln-simd,node,wasm-interp]
                     [--programs fib,loop] [--timeout S] [--node-flag=--no-liftoff]
                     [--clock wall|cpu] [--native o2|march]

Native, Kiln and node time one call of `run` inside the process (compile and instantiate are
left out); wasm-interp can only be timed as a whole process. With --repeat N each measurement is
the fastest of N runs. --clock cpu compares process CPU time instead of wall-clock time, which
is steadier on a machine that is busy with other work (for node it includes V8's compiler
threads). The engines whose names end in -simd run the programs built with -msimd128. The
native baseline is clang -O2 (which vectorises with SSE2), or with --native march clang -O2
-march=native (every vector extension of the machine). Exits 1 when checksums disagree or an
engine fails, 2 on usage errors.
Only the Python standard library is used.
"""

import argparse
import math
import os
import resource
import re
import shutil
import subprocess
import sys
import time

PROGRAMS = ["fib", "loop", "hash", "matmul", "memcpy", "copyloop", "sieve",
            "blur", "histogram", "matmul_ikj", "memchr"]
ENGINES = ["kiln", "kiln-simd", "kiln-run", "node", "node-simd", "wasm-interp"]
HERE = os.path.dirname(os.path.abspath(__file__))


class RunError(Exception):
    pass


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_process(cmd, timeout):
    """Runs cmd; returns its stdout and the whole process's wall-clock and CPU seconds."""
    cpu_start = children_cpu()
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RunError(f"timed out after {timeout} s")
    wall = time.perf_counter() - start
    cpu = children_cpu() - cpu_start
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise RunError(f"exit {proc.returncode}: {detail[-1] if detail else ''}")
    return proc.stdout, wall, cpu


def parse_runner(out, clock, wall, cpu):
    """Parses `checksum N` / `seconds S` / `cpu_seconds S` as printed by the native driver and
    both runners; the process-level times are not used."""
    fields = dict(line.split(None, 1) for line in out.splitlines() if " " in line)
    key = "cpu_seconds" if clock == "cpu" else "seconds"
    if "checksum" not in fields or key not in fields:
        raise RunError(f"unexpected output: {out.strip()[:200]}")
    return fields["checksum"].strip(), float(fields[key])


def parse_wasm_interp(out, clock, wall, cpu):
    # --dummy-import-func logs each call: "called host bench.checksum(i64:123) =>"
    m = re.search(r"bench\.checksum\(i64:(-?\d+)\)", out)
    if not m:
        raise RunError(f"no checksum in output: {out.strip()[:200]}")
    return str(int(m.group(1)) % (1 << 64)), cpu if clock == "cpu" else wall


def measure(engine, program, args):
    out_dir = os.path.join(args.build_dir, "bench", "programs")
    simd = engine.endswith("-simd")
    engine = engine.removesuffix("-simd")
    wasm = os.path.join(out_dir, program + ("-simd.wasm" if simd else ".wasm"))
    if engine == "native":
        suffix = "-native-march" if args.native == "march" else "-native"
        cmd, parse = [os.path.join(out_dir, program + suffix)], parse_runner
    elif engine == "kiln":
        cmd, parse = [os.path.join(args.build_dir, "bench", "kiln-bench-run"), wasm], parse_runner
    elif engine == "kiln-run":  # the WASI command build through `kiln run`
        kiln = os.path.join(args.build_dir, "tools", "kiln", "kiln")
        cmd = [kiln, "run", os.path.join(out_dir, program + "-wasi.wasm")]
        parse = parse_runner
    elif engine == "node":
        cmd = [args.node, *args.node_flag, os.path.join(HERE, "run_node.mjs"), wasm]
        parse = parse_runner
    else:
        cmd = [args.wasm_interp, "--dummy-import-func", "--run-all-exports", wasm]
        parse = parse_wasm_interp
    best = None
    for _ in range(args.repeat):
        out, wall, cpu = run_process(cmd, args.timeout)
        checksum, seconds = parse(out, args.clock, wall, cpu)
        if best and best[0] != checksum:
            raise RunError(f"checksum changed between runs: {best[0]} then {checksum}")
        if best is None or seconds < best[1]:
            best = (checksum, seconds)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(os.path.dirname(HERE), "build-bench"))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--programs", default=",".join(PROGRAMS))
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per process")
    ap.add_argument("--node", default=shutil.which("node"))
    ap.add_argument("--node-flag", action="append", default=[], help="extra flag for node")
    ap.add_argument("--wasm-interp", default=shutil.which("wasm-interp"))
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    ap.add_argument("--native", choices=["o2", "march"], default="o2",
                    help="native baseline: clang -O2, or -O2 -march=native")
    args = ap.parse_args()

    engines = [e for e in args.engines.split(",") if e]
    for e in engines:
        if e not in ENGINES:
            ap.error(f"unknown engine {e}; known: {', '.join(ENGINES)}")
    if not args.node:
        for e in ("node", "node-simd"):
            if e in engines:
                print(f"node not found; leaving {e} out", file=sys.stderr)
                engines.remove(e)
    if "wasm-interp" in engines and not args.wasm_interp:
        print("wasm-interp not found; leaving it out", file=sys.stderr)
        engines.remove("wasm-interp")
    programs = [p for p in args.programs.split(",") if p]
    missing = [p for p in programs
               if not os.path.exists(os.path.join(args.build_dir, "bench", "programs", p + ".wasm"))]
    if missing:
        ap.error(f"not built in {args.build_dir}: {', '.join(missing)} "
                 "(build the kiln-bench-programs target; it needs clang with wasm-ld)")

    columns = ["native"] + engines
    header = f"{'program':<10} {'native s':>9}"
    for e in engines:
        header += f" {e + ' s':>14} {'ratio':>7}"
    print(f"{args.clock} seconds of one call of run, fastest of {args.repeat}; native is clang "
          + ("-O2 -march=native" if args.native == "march" else "-O2"))
    print(header)
    print("-" * len(header))

    failed = False
    ratios = {e: [] for e in engines}
    for program in programs:
        results = {}
        for e in columns:
            try:
                results[e] = measure(e, program, args)
            except RunError as err:
                print(f"{program}: {e}: {err}", file=sys.stderr)
                results[e] = None
                failed = True
        line = f"{program:<10}"
        native = results["native"]
        line += f" {native[1]:>9.3f}" if native else f" {'FAIL':>9}"
        for e in engines:
            r = results[e]
            if r is None:
                line += f" {'FAIL':>14} {'':>7}"
                continue
            line += f" {r[1]:>14.3f}"
            if native and native[1] > 0:
                ratio = r[1] / native[1]
                ratios[e].append(ratio)
                line += f" {ratio:>6.1f}x"
            else:
                line += f" {'':>7}"
        print(line, flush=True)
        sums = {e: r[0] for e, r in results.items() if r}
        if len(set(sums.values())) > 1:
            failed = True
            print(f"{program}: CHECKSUM MISMATCH: "
                  + ", ".join(f"{e}={s}" for e, s in sums.items()), file=sys.stderr)

    print()
    for e in engines:
        if ratios[e]:
            geo = math.exp(sum(math.log(r) for r in ratios[e]) / len(ratios[e]))
            print(f"geometric mean {e}/native: {geo:.2f}x, worst {max(ratios[e]):.2f}x "
                  f"over {len(ratios[e])} programs")
    if "wasm-interp" in engines:
        print("(wasm-interp is timed as a whole process, including its parse and validation)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
