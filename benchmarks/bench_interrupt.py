"""The cost of fuel and epochs (and of the stack budget) on the benchmark corpus.

Each benchmark is loaded three times in one process -- wasmbox plain, with
``Config.consume_fuel`` and with ``Config.epoch_interruption`` -- and the
three are run in turn, ``--reps`` times; the best time of each is kept (the
machines are shared: interleaving and best-of keep load out of the ratios).
Prints the times, the ratios to plain wasmbox and their geometric means.

    python benchmarks/bench_interrupt.py [--n small|default|large] [--reps 5]

``--base DIR`` also compares plain wasmbox with another checkout's ``src``
(e.g. a worktree of an older commit), for the cost of a change with both
options off: the two cannot share a process, so children of each run in
turn, three rounds, and the best of each is kept.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from wasmbox_adapter import make_loader  # noqa: E402

BENCH = HERE.parent.parent / "shared" / "bench"

VARIANTS = {"plain": {}, "fuel": {"consume_fuel": True}, "epochs": {"epoch_interruption": True}}


def _benchmarks() -> dict:
    manifest = BENCH / "manifest.json"
    if not manifest.is_file():
        sys.exit(f"bench_interrupt: {manifest} is missing (../shared beside the repository)")
    return json.loads(manifest.read_text())["benchmarks"]


def best_times(size: str, reps: int, variants: dict) -> dict[str, dict[str, float]]:
    """{bench: {variant: best seconds}}; checks every checksum."""
    out: dict[str, dict[str, float]] = {}
    for name, entry in _benchmarks().items():
        data = (BENCH / "wasm" / f"{name}.pure.wasm").read_bytes()
        n, want = entry["n"][size], entry["checksum"][size]
        runs = {k: make_loader(**opts)(data) for k, opts in variants.items()}
        best = {k: math.inf for k in runs}
        for _ in range(reps):
            for k, run in runs.items():
                t = time.perf_counter()
                got = run(n) & 0xFFFFFFFF
                best[k] = min(best[k], time.perf_counter() - t)
                if got != want:
                    sys.exit(f"bench_interrupt: {name} ({k}) gave {got}, expected {want}")
        out[name] = best
    return out


def _children(srcs: dict[str, Path], size: str, reps: int,
              rounds: int = 3) -> tuple[dict[str, float], ...]:
    """Best plain times per bench from child processes with each ``src``, in turn."""
    best: dict[str, dict[str, float]] = {k: {} for k in srcs}
    for _ in range(rounds):
        for k, src in srcs.items():
            env = dict(os.environ, PYTHONPATH=str(src))
            out = subprocess.run([sys.executable, __file__, "--_child", "--n", size, "--reps",
                                  str(reps)], env=env, capture_output=True, text=True,
                                 check=True).stdout
            for name, t in json.loads(out).items():
                best[k][name] = min(t, best[k].get(name, math.inf))
    return tuple(best.values())


def _geomean(xs: list[float]) -> float:
    return math.exp(sum(map(math.log, xs)) / len(xs))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", default="default", choices=("small", "default", "large"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--base", metavar="DIR", help="a checkout whose plain wasmbox to compare")
    ap.add_argument("--_child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        print(json.dumps({k: v["plain"] for k, v in
                          best_times(args.n, args.reps, {"plain": {}}).items()}))
        return 0
    times = best_times(args.n, args.reps, VARIANTS)
    base = None
    if args.base:
        base_t, ours = _children({"base": Path(args.base) / "src", "ours": HERE.parent / "src"},
                                 args.n, args.reps)
        base = {k: ours[k] / base_t[k] for k in ours}  # ratio, child against child
    print(f"{'bench':8} {'plain s':>8} {'fuel':>7} {'epochs':>7}" + ("  ours/base" if base else ""))
    ratios: dict[str, list[float]] = {"fuel": [], "epochs": [], "base": []}
    for name, t in times.items():
        rf, re = t["fuel"] / t["plain"], t["epochs"] / t["plain"]
        ratios["fuel"].append(rf)
        ratios["epochs"].append(re)
        line = f"{name:8} {t['plain']:8.3f} {rf:6.2f}x {re:6.2f}x"
        if base:
            ratios["base"].append(base[name])
            line += f"  {ratios['base'][-1]:9.2f}x"
        print(line)
    line = f"{'geomean':8} {'':8} {_geomean(ratios['fuel']):6.2f}x {_geomean(ratios['epochs']):6.2f}x"
    if base:
        line += f"  {_geomean(ratios['base']):9.2f}x"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
