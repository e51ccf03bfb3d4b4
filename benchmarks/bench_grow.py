"""memory.grow by one page, repeated up to 1 GiB: the time per grow by memory size.

    python benchmarks/bench_grow.py [--mib 1024] [--chunk 1024] [--no-wasmtime]

Uses ``../shared/bench/wasm/grow.wasm`` (a 1-page memory without maximum;
``grow_steps(k)`` runs ``memory.grow 1`` k times inside the guest). The
memory is grown from 1 page to ``--mib`` MiB in chunks of ``--chunk``
single-page grows; each row is one chunk, its cell the mean time of one
grow in it. A reserved heap never copies, so the time per grow does not
depend on the size; a dynamic heap with a small growth margin copies the
whole memory each time it runs out of room (shown for contrast). Pages are
never touched, so no physical memory is used. Speed is reported, never
asserted. Exit status 0, or 2 if a column could not run.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

from wasmbox.api import Config, Engine, Instance, Module, PoolingAllocationConfig, Store

GROW = Path(__file__).resolve().parents[2] / "shared" / "bench" / "wasm" / "grow.wasm"
PAGE = 65536


def wasmbox_grower(cfg: Config) -> Callable[[int], int]:
    engine = Engine(cfg)
    store = Store(engine)
    inst = Instance(store, Module(engine, GROW.read_bytes()), [])
    steps = inst.exports(store)["grow_steps"]
    return lambda k: steps(store, k)


def wasmtime_grower() -> Callable[[int], int]:
    import wasmtime

    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    inst = wasmtime.Instance(store, wasmtime.Module(engine, GROW.read_bytes()), [])
    steps = inst.exports(store)["grow_steps"]
    return lambda k: steps(store, k)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=1024, help="grow up to this many MiB")
    ap.add_argument("--chunk", type=int, default=1024, help="single-page grows per row")
    ap.add_argument("--no-wasmtime", action="store_true")
    args = ap.parse_args(argv)
    target_pages = args.mib * (1 << 20) // PAGE
    columns: list[tuple[str, Callable[[], Callable[[int], int]]]] = [
        ("reserved (default)", lambda: wasmbox_grower(Config())),
        ("pooled slot", lambda: wasmbox_grower(Config(
            allocation_strategy=PoolingAllocationConfig(
                total_core_instances=1, total_memories=1, total_tables=1,
                max_memory_size=(args.mib + 64) << 20)))),
        ("dynamic, 64 MiB margin", lambda: wasmbox_grower(Config(
            memory_reservation=0, memory_reservation_for_growth=64 << 20))),
    ]
    if not args.no_wasmtime:
        columns.append(("wasmtime", wasmtime_grower))
    status = 0
    table: dict[str, list[float]] = {}
    for label, make in columns:
        try:
            grow = make()
            pages, times = 1, []
            while pages < target_pages:
                k = min(args.chunk, target_pages - pages)
                t0 = time.perf_counter()
                got = grow(k)
                dt = time.perf_counter() - t0
                if got != pages + k:
                    raise RuntimeError(f"grow_steps({k}) at {pages} pages returned {got}")
                pages += k
                times.append(dt / k)
            table[label] = times
        except Exception as e:  # noqa: BLE001 - a column that cannot run is reported
            print(f"{label}: could not run: {e}", file=sys.stderr)
            status = 2
    labels = [lab for lab, _ in columns if lab in table]
    print(f"memory.grow 1 page, microseconds per grow, by memory size "
          f"({args.chunk} grows per row)")
    head = ["memory size"] + labels
    rows = []
    nrows = max((len(v) for v in table.values()), default=0)
    pages = 1
    for i in range(nrows):
        k = min(args.chunk, target_pages - pages)
        lo, hi = pages * PAGE >> 20, (pages + k) * PAGE >> 20
        rows.append([f"{lo}-{hi} MiB"] + [f"{table[lab][i] * 1e6:.2f}" for lab in labels])
        pages += k
    summary = ["first/last row"]
    for lab in labels:
        v = table[lab]
        summary.append(f"{v[-1] / v[0]:.2f}x" if v and v[0] else "-")
    rows.append(summary)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    return status


if __name__ == "__main__":
    sys.exit(main())
