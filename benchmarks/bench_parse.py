"""Time parsing every .wast script of a suite (default: wasm3) in one process.

    python benchmarks/bench_parse.py [--suite wasm3] [--repeat 1]

Prints the total size, the time and the throughput. Speed is reported, not
asserted: the machines are shared and noisy.
"""
from __future__ import annotations

import argparse
import time

from wasmbox.paths import suite_files
from wasmbox.text.wast import parse_script


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--suite", default="wasm3")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    files = suite_files(args.suite)
    texts = [(str(f), f.read_text(encoding="utf-8")) for f in files]
    size = sum(len(t.encode("utf-8")) for _, t in texts)
    best = float("inf")
    commands = 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        commands = sum(len(parse_script(t, filename=name)) for name, t in texts)
        best = min(best, time.perf_counter() - t0)
    print(f"suite {args.suite}: {len(files)} files, {size / 1e6:.1f} MB, {commands} commands")
    print(f"parse time: {best:.2f} s ({size / 1e6 / best:.2f} MB/s)")


if __name__ == "__main__":
    main()
