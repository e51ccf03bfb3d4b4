"""Instantiate-and-drop: pooled vs on-demand wasmbox vs wasmtime, in one run.

    python benchmarks/bench_instantiate.py [--n 2000] [--runs 5] [--no-wasmtime]

Modules: ``../shared/bench/wasm/mem1.wasm`` (a 1-page memory) and
``mem1024.wasm`` (1024 pages, 64 MiB). One iteration makes a store,
instantiates the (already compiled) module, calls its ``size`` export
(so the instance is really usable; ``--no-call`` leaves that out) and
drops the store:

* wasmbox pooled: ``Config(allocation_strategy=PoolingAllocationConfig(...))``,
  the drop is ``store.close()`` (the slot is wiped and returned);
* wasmbox on-demand: the default allocator, the drop is ``store.close()``
  (the mapping is released);
* wasmtime (its Python package, default config): the drop is ``del``.

Each cell is the median over ``--runs`` rounds of the mean time of one
iteration over ``--n`` iterations (after a warm-up); every cell is measured
once per round, so a drifting machine affects all of them alike. Speed is
reported, never asserted. Exit status 0, or 2 if a row could not run.
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

from wasmbox.api import Config, Engine, Instance, Module, PoolingAllocationConfig, Store

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench" / "wasm"


def wasmbox_loop(data: bytes, pooled: bool, call: bool = True) -> Callable[[int], float]:
    if pooled:
        cfg = Config(allocation_strategy=PoolingAllocationConfig(
            total_core_instances=16, total_memories=16, total_tables=16,
            max_memory_size=128 << 20))
    else:
        cfg = Config()
    engine = Engine(cfg)
    module = Module(engine, data)

    def run(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            store = Store(engine)
            inst = Instance(store, module, [])
            if call:
                inst.exports(store)["size"](store)
            store.close()
        return (time.perf_counter() - t0) / n
    return run


def wasmtime_loop(data: bytes, call: bool = True) -> Callable[[int], float]:
    import wasmtime

    engine = wasmtime.Engine()
    module = wasmtime.Module(engine, data)

    def run(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            store = wasmtime.Store(engine)
            inst = wasmtime.Instance(store, module, [])
            if call:
                inst.exports(store)["size"](store)
            del inst, store
        return (time.perf_counter() - t0) / n
    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="iterations per run")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-wasmtime", action="store_true")
    ap.add_argument("--no-call", action="store_true",
                    help="do not call the instance's size() (instantiate and drop only)")
    args = ap.parse_args(argv)
    call = not args.no_call
    status = 0
    rows: list[tuple[str, list[str]]] = []
    results: dict[tuple[str, str], float] = {}
    loops: dict[tuple[str, str], Callable[[int], float]] = {}
    for name in ("mem1", "mem1024"):
        data = (BENCH / f"{name}.wasm").read_bytes()
        makers: list[tuple[str, Callable[[], Callable[[int], float]]]] = [
            ("wasmbox pooled", lambda d=data: wasmbox_loop(d, True, call)),
            ("wasmbox on-demand", lambda d=data: wasmbox_loop(d, False, call)),
        ]
        if not args.no_wasmtime:
            makers.append(("wasmtime (default)", lambda d=data: wasmtime_loop(d, call)))
        for label, make in makers:
            try:
                run = make()
                run(max(1, args.n // 10))  # warm-up: compiles, maps the slot
                loops[(name, label)] = run
            except Exception as e:  # noqa: BLE001 - a row that cannot run is reported
                print(f"{label} on {name}: could not run: {e}", file=sys.stderr)
                status = 2
    # rounds: every cell once per round, so drift of the machine hits all alike
    samples: dict[tuple[str, str], list[float]] = {k: [] for k in loops}
    for _ in range(args.runs):
        for key, run in loops.items():
            gc.collect()
            samples[key].append(run(args.n))
    results = {k: statistics.median(v) for k, v in samples.items()}
    labels = sorted({k[1] for k in results}, key=["wasmbox pooled", "wasmbox on-demand",
                                                  "wasmtime (default)"].index)
    what = "instantiate + call + drop" if call else "instantiate + drop"
    print(f"{what}, microseconds per iteration "
          f"(median of {args.runs} runs x {args.n})")
    head = ["module"] + labels + ["on-demand / pooled"]
    if "wasmtime (default)" in labels:
        head.append("wasmtime / pooled")
    for name in ("mem1", "mem1024"):
        cells = [name]
        for lab in labels:
            v = results.get((name, lab))
            cells.append("-" if v is None else f"{v * 1e6:.1f}")
        pooled = results.get((name, "wasmbox pooled"))
        for other in ("wasmbox on-demand", "wasmtime (default)"):
            if other not in labels:
                continue
            v = results.get((name, other))
            cells.append("-" if v is None or not pooled else f"{v / pooled:.2f}x")
        rows.append((name, cells))
    widths = [max(len(head[i]), *(len(r[1][i]) for r in rows)) for i in range(len(head))]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    for _, cells in rows:
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths)))
    return status


if __name__ == "__main__":
    sys.exit(main())
