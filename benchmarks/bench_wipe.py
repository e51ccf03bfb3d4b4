"""Wiping a pool slot: the cost follows the pages dirtied, not the reservation.

    python benchmarks/bench_wipe.py [--runs 5]

A tenant (a module with a 1-page memory, no maximum) grows its memory to
``grown`` pages and writes one byte into each of its first ``dirtied``
pages; then ``store.close()`` detaches the memory and wipes the slot
(``madvise(MADV_DONTNEED)`` up to the high-water mark) before returning it
to the pool. The time of ``close()`` is measured, for pools whose slots
reserve 64 MiB, 1 GiB and 4 GiB. For scale, the last column overwrites
the same range with zeros (what a wipe without ``madvise`` would cost).
Each cell is the median of ``--runs`` tenants. Speed is reported, never
asserted. Exit status 0.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import wasmtime

from wasmbox.api import Config, Engine, Instance, Module, PoolingAllocationConfig, Store

PAGE = 65536
WAT = """
(module
  (memory (export "mem") 1)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "touch") (param $k i32) (local $p i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $p) (local.get $k)))
      (i32.store8 (i32.shl (local.get $p) (i32.const 16)) (i32.const 1))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $next)))))
"""
#: (pages grown to, pages dirtied)
CASES = [(1, 0), (1, 1), (16, 16), (256, 1), (256, 256), (1024, 1), (1024, 64), (1024, 1024),
         (16384, 1), (16384, 1024)]
SLOTS = [64 << 20, 1 << 30, 4 << 30]


def close_time(engine: Engine, module: Module, grown: int, dirtied: int, runs: int) -> float:
    times = []
    for _ in range(runs):
        store = Store(engine)
        ex = Instance(store, module, []).exports(store)
        if grown > 1 and ex["grow"](store, grown - 1) != 1:
            raise RuntimeError("grow failed")
        ex["touch"](store, dirtied)
        t0 = time.perf_counter()
        store.close()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def zero_fill_time(grown: int, dirtied: int, runs: int) -> float:
    import mmap

    mm = mmap.mmap(-1, grown * PAGE)
    times = []
    for _ in range(runs):
        for p in range(dirtied):
            mm[p * PAGE] = 1
        t0 = time.perf_counter()
        mm[0:grown * PAGE] = bytes(grown * PAGE)
        times.append(time.perf_counter() - t0)
    mm.close()
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    data = wasmtime.wat2wasm(WAT)
    engines = {}
    for slot in SLOTS:
        engine = Engine(Config(allocation_strategy=PoolingAllocationConfig(
            total_core_instances=2, total_memories=2, total_tables=2, max_memory_size=slot)))
        engines[slot] = (engine, Module(engine, data))
    head = ["grown to", "dirtied", "bytes wiped"] + \
        [f"close, {slot >> 20} MiB slot" for slot in SLOTS] + ["zero-fill instead"]
    rows = []
    for grown, dirtied in CASES:
        row = [f"{grown} pages", f"{dirtied} pages"]
        cells = []
        wiped = None
        for slot in SLOTS:
            engine, module = engines[slot]
            if grown * PAGE > slot:
                cells.append("-")
                continue
            before = engine.pooling_allocator_metrics().bytes_wiped
            t = close_time(engine, module, grown, dirtied, args.runs)
            after = engine.pooling_allocator_metrics().bytes_wiped
            wiped = (after - before) // args.runs
            cells.append(f"{t * 1e6:.1f} us")
        row.append(f"{wiped >> 10} KiB" if wiped is not None else "-")
        row += cells
        row.append(f"{zero_fill_time(grown, dirtied, args.runs) * 1e6:.1f} us")
        rows.append(row)
    print(f"store.close() of a pooled tenant (detach + wipe + return), median of {args.runs}")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
