"""Time wasmbox's binary decoder against pywasm's on the shared bench corpus.

For every ``<shared>/bench/wasm/*.wasm`` both decoders run ``--runs`` times
in this process (after one warm-up) and the median is reported, with the
ratio pywasm / wasmbox (> 1 means wasmbox is faster). Also times the
encoder and checks the round trip while it is at it.

    python benchmarks/bench_decode.py [--runs 9] [--files fib,hash]

pywasm 2.2.3's decoder entry point is ``pywasm.core.ModuleDesc.from_reader``.
Exit status 1 if wasmbox is slower than pywasm on any file (or on the total).
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

from wasmbox.binary import decode_module, encode_module
from wasmbox.paths import shared_dir


def _median_time(fn, data: bytes, runs: int) -> float:
    fn(data)  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(data)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _pywasm_decoder():
    try:
        import pywasm.core
    except ImportError:
        return None
    return lambda data: pywasm.core.ModuleDesc.from_reader(io.BytesIO(data))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--files", default="", help="comma-separated name prefixes")
    args = ap.parse_args(argv)

    files = sorted((shared_dir() / "bench" / "wasm").glob("*.wasm"))
    if args.files:
        wanted = args.files.split(",")
        files = [f for f in files if any(f.name.startswith(w) for w in wanted)]
    pyw = _pywasm_decoder()

    print(f"{'file':<20} {'bytes':>7} {'wasmbox ms':>11} {'pywasm ms':>10} {'ratio':>7} {'encode ms':>10}")
    tot_w = tot_p = 0.0
    slower = []
    for f in files:
        data = Path(f).read_bytes()
        m = decode_module(data)
        if decode_module(encode_module(m)) != m:
            print(f"round trip FAILED for {f.name}", file=sys.stderr)
            return 2
        tw = _median_time(decode_module, data, args.runs)
        te = _median_time(encode_module, m, args.runs)
        tot_w += tw
        if pyw is not None:
            tp = _median_time(pyw, data, args.runs)
            tot_p += tp
            ratio = tp / tw
            if ratio < 1:
                slower.append(f.name)
            print(f"{f.name:<20} {len(data):>7} {tw*1e3:>11.3f} {tp*1e3:>10.3f} {ratio:>6.1f}x {te*1e3:>10.3f}")
        else:
            print(f"{f.name:<20} {len(data):>7} {tw*1e3:>11.3f} {'-':>10} {'-':>7} {te*1e3:>10.3f}")
    if pyw is not None and tot_w:
        print(f"{'total':<20} {'':>7} {tot_w*1e3:>11.3f} {tot_p*1e3:>10.3f} {tot_p/tot_w:>6.1f}x")
        if slower:
            print("wasmbox slower than pywasm on: " + ", ".join(slower))
        return 1 if slower or tot_p < tot_w else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
