#!/usr/bin/env python3
"""The long run of the binaryen differential fuzzer (see docs/fuzzing.md).

    python tools/fuzz.py --modules 1000 --seed 0 --jobs 2 --out /tmp/fuzz-cases

Seeds S, S+1, ... each make one random valid module (``wasm-opt -ttf``,
with tail calls, typed function references and exceptions added per seed
by tools/fuzz_inject.py unless ``--features none``);
every export is called in wasmbox and in wasmtime and everything is
compared (tools/fuzz_support.py, tests/diff_support.py). Divergences and
crashes are minimised (fuzz_support.Reducer) and saved as regression cases
(``.wasm``, ``.wat``, ``.json``) in ``--out`` (copy the ones worth keeping
to tests/fuzz_cases/). The last line is the summary; the exit status is 1
when anything disagreed or crashed, 2 for a usage error or missing binaryen.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzz_support as F  # noqa: E402

D = F.D


def _one(job: tuple[int, bool, frozenset[str]]) -> F.ModuleResult:
    """Generate and run one module: (seed, hide NaN constants, features) (in a
    worker process)."""
    seed, hide, features = job
    return F.run_module(F.generate(seed, hide, features))


def _results(seeds: range, jobs: int, hide: bool,
             features: frozenset[str]) -> Iterator[F.ModuleResult]:
    work = [(s, hide, features) for s in seeds]
    if jobs <= 1:
        for w in work:
            yield _one(w)
        return
    with multiprocessing.get_context("spawn").Pool(jobs, maxtasksperchild=50) as pool:
        yield from pool.imap_unordered(_one, work)


def _features_line(features: frozenset[str], with_features: Counter, outcomes: Counter) -> str:
    """What the Wasm 3.0 features gave: modules that hold each added
    instruction, and the outcomes of calls."""
    if not features:
        return "features: none (Wasm 2.0 + memory64 only)"
    mods = ", ".join(f"{op} {n}" for op, n in with_features.most_common())
    outs = ", ".join(f"{k} {n}" for k, n in sorted(outcomes.items()))
    return f"features: {','.join(sorted(features))}; modules holding: {mods or 'none'}; " \
        f"call outcomes: {outs}"


def _summary(n: int, calls: int, findings: list[F.Finding], skipped: Counter,
             seconds: float) -> str:
    div = sum(1 for f in findings if f.kind == "divergence")
    crash = sum(1 for f in findings if f.kind == "crash")
    skips = "; ".join(f"{r}: {c}" for r, c in skipped.most_common()) or "none"
    return (f"fuzz summary: {n} modules, {calls} calls compared, {div} divergences, "
            f"{crash} crashes, skipped {sum(skipped.values())} ({skips}), {seconds:.1f} s; "
            f"{D.FUEL_STATUS}")


def run(args: argparse.Namespace) -> int:
    """The long run. Returns the exit status."""
    try:
        F.wasm_opt()
    except F.BinaryenMissing as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    seeds = range(args.seed, args.seed + args.modules)
    done = calls = 0
    skipped: Counter = Counter()
    with_features: Counter = Counter()
    outcomes: Counter = Counter()
    simd_instructions = v128_results = 0
    findings: list[F.Finding] = []
    last = t0
    for res in _results(seeds, args.jobs, args.hide_nan_constants, args.features):
        done += 1
        calls += res.calls
        skipped.update(res.skipped)
        if res.exports:
            with_features.update({op for op, k in res.added.items() if k})
            simd_instructions += res.added.get(F.FI.SIMD, 0)
        v128_results += res.stats.counts["v128 results compared"]
        outcomes.update({k.split(": ", 1)[1]: v for k, v in res.stats.counts.items()
                         if k.startswith("calls compared: ")})
        for fd in res.findings:
            findings.append(fd)
            print(f"seed {fd.seed}: {fd.kind} ({fd.signature}): wasmbox {fd.wasmbox[:100]} | "
                  f"wasmtime {fd.wasmtime[:100]}", flush=True)
            if args.verbose:
                print(fd.message, flush=True)
        now = time.monotonic()
        if now - last >= args.progress or done == len(seeds):
            last = now
            print(f"[{done}/{len(seeds)}] {now - t0:.0f} s, {calls} calls, "
                  f"{len(findings)} findings", flush=True)
        if args.time_limit and now - t0 > args.time_limit:
            print(f"time limit of {args.time_limit:g} s reached after {done} modules", flush=True)
            break
    run_seconds = time.monotonic() - t0
    if findings and args.out:
        _minimise_all(findings, Path(args.out), args)
    if args.findings_log:
        with open(args.findings_log, "w") as log:
            for fd in findings:
                log.write(json.dumps({"seed": fd.seed, "kind": fd.kind, "signature": fd.signature,
                                      "bug_key": fd.bug_key, "wasmbox": fd.wasmbox,
                                      "wasmtime": fd.wasmtime,
                                      "calls": F.calls_to_json(fd.calls)}) + "\n")
    keys = Counter(fd.bug_key for fd in findings)
    for key, n in keys.most_common():
        print(f"  {n:5d} x {key}")
    print(_features_line(args.features, with_features, outcomes))
    if F.FI.SIMD in args.features:
        print(f"simd: {simd_instructions} SIMD instructions in the modules run, "
              f"{v128_results} v128 results compared")
    print(_summary(done, calls, findings, skipped, run_seconds))
    return 1 if findings else 0


def _minimise_all(findings: list[F.Finding], out: Path, args: argparse.Namespace) -> None:
    """Minimise and save up to --per-key findings of each bug key."""
    per_key: defaultdict[str, int] = defaultdict(int)
    for fd in findings:
        if per_key[fd.bug_key] >= args.per_key:
            continue
        per_key[fd.bug_key] += 1
        t = time.monotonic()
        print(f"minimising seed {fd.seed} ({fd.signature}), {len(fd.data)} bytes ...", flush=True)
        small, calls = F.minimise(fd, seconds=args.reduce_seconds, verbose=args.verbose)
        path = F.save_case(fd, small, calls, out)
        print(f"  {len(small)} bytes in {time.monotonic() - t:.0f} s: {path}", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--modules", type=int, default=500, help="modules to run (default 500)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--time-limit", type=float, default=0.0,
                   help="stop starting modules after this many seconds (default: none)")
    p.add_argument("--out", help="directory for minimised cases (default: do not minimise)")
    p.add_argument("--per-key", type=int, default=2,
                   help="minimise at most this many findings per bug key (default 2)")
    p.add_argument("--reduce-seconds", type=float, default=300.0,
                   help="seconds to minimise one finding (default 300)")
    p.add_argument("--hide-nan-constants", action="store_true",
                   help="write NaN constants in code as reinterpreted integers (same values), "
                        "to look past wasmbox's NaN-constant bug while it is unfixed")
    p.add_argument("--features", default="all",
                   help="Wasm 3.0 features to add per seed (fuzz_inject): a comma-separated "
                        f"subset of {','.join(F.FI.ALL_FEATURES)}, 'all' (default) or 'none'")
    p.add_argument("--findings-log", help="write every finding as a JSON line to this file")
    p.add_argument("--progress", type=float, default=10.0,
                   help="seconds between progress lines (default 10)")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="print every finding's reproducer and wasm-reduce's output")
    args = p.parse_args(argv)
    if args.modules < 1 or args.jobs < 1:
        p.error("--modules and --jobs must be at least 1")
    if args.features == "all":
        args.features = frozenset(F.FI.ALL_FEATURES)
    elif args.features == "none":
        args.features = frozenset()
    else:
        args.features = frozenset(x.strip() for x in args.features.split(",") if x.strip())
        unknown = args.features - set(F.FI.ALL_FEATURES)
        if unknown:
            p.error(f"unknown features: {', '.join(sorted(unknown))}")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
