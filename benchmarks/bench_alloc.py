"""Allocate+free pairs per second: the host allocator against a guest-side one.

    python benchmarks/bench_alloc.py [--pairs 20000] [--runs 3] [--seed 1] [--no-wasmtime]

The workload (mixed sizes: 70% 1..128 B, 25% 129..4096 B, 5% 4 KiB..64 KiB,
over a window of 64 live blocks; each step frees a slot's block and
allocates a new one, so every step is one allocate+free pair) is defined in
``alloc_guest/alloc_guest.c`` and mirrored here. Rows:

* host allocator from Python -- ``FreeingBumpAllocator.allocate/deallocate``
  on the guest's memory, one Python call per operation;
* guest allocator from Python -- bench.h's allocator (``../shared/bench``)
  compiled to Wasm, its exported ``g_malloc``/``g_free`` called through
  wasmbox, one Wasm call per operation. This and the row above are the
  like-for-like comparison the issue asks for;
* the whole loop inside the guest under wasmbox, once on bench.h's
  allocator (``churn``) and once calling the host allocator through its
  imports (``churn_host``): what each allocator costs a guest;
* for scale, the guest rows under wasmtime (a native JIT), when installed.

Each row: a fresh instance, a 500-pair warm-up (compiles the functions),
then the median of ``--runs`` timed runs. The guest's checksum (the sum of
the sizes) is checked against Python's, so every row did the same work.
Exit status: 0, or 2 if a row could not run (no number is made up).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

from wasmbox.host.alloc import define_allocator
from wasmbox.runtime import Engine, Linker, Module, Store

GUEST = Path(__file__).resolve().parent / "alloc_guest" / "alloc_guest.wasm"
NSLOT = 64
WARMUP = 500


def lcg(x: int) -> int:
    return (x * 1664525 + 1013904223) & 0xFFFFFFFF


def size_of(x: int) -> int:
    r = (x >> 8) % 100
    if r < 70:
        return 1 + (x >> 15) % 128
    if r < 95:
        return 129 + (x >> 15) % 3968
    return 4097 + (x >> 12) % 61440


def workload(n: int, seed: int) -> tuple[list[tuple[int, int]], int]:
    """The (slot, size) steps and their checksum (sum of sizes mod 2**32)."""
    x = seed
    steps = []
    total = 0
    for _ in range(n):
        x = lcg(x)
        sz = size_of(x)
        steps.append((x >> 26, sz))
        total += sz
    return steps, total & 0xFFFFFFFF


def drive(steps: list[tuple[int, int]], malloc: Callable[[int], int],
          free: Callable[[int], None]) -> None:
    """Run the steps with the given malloc/free, then free what is left."""
    slot = [0] * NSLOT
    for k, sz in steps:
        p = slot[k]
        if p:
            free(p)
        p = malloc(sz)
        if not p:
            raise RuntimeError("malloc returned NULL")
        slot[k] = p
    for p in slot:
        if p:
            free(p)


# ---------------------------------------------------------------- wasmbox rows
def _wasmbox_instance():
    engine = Engine()
    store = Store(engine)
    linker = Linker(engine)
    registry = define_allocator(linker)
    inst = linker.instantiate(store, Module(engine, GUEST.read_bytes()))
    return store, inst, registry


def row_host_from_python(n: int, seed: int) -> float:
    steps, _ = workload(n, seed)
    warm, _ = workload(WARMUP, seed + 1)
    store, inst, registry = _wasmbox_instance()
    mem = inst.exports(store)["memory"]
    heap = registry.for_instance(store, inst)
    alloc, dealloc = heap.allocate, heap.deallocate
    malloc = lambda sz: alloc(store, mem, sz)  # noqa: E731
    free = lambda p: dealloc(store, mem, p)  # noqa: E731
    drive(warm, malloc, free)
    t0 = time.perf_counter()
    drive(steps, malloc, free)
    dt = time.perf_counter() - t0
    if heap.stats.bytes_allocated != 0:
        raise RuntimeError("host allocator: blocks left allocated")
    return dt


def row_guest_from_python(n: int, seed: int) -> float:
    steps, _ = workload(n, seed)
    warm, _ = workload(WARMUP, seed + 1)
    store, inst, _ = _wasmbox_instance()
    ex = inst.exports(store)
    g_malloc, g_free = ex["g_malloc"], ex["g_free"]
    malloc = lambda sz: g_malloc(store, sz)  # noqa: E731
    free = lambda p: g_free(store, p)  # noqa: E731
    drive(warm, malloc, free)
    t0 = time.perf_counter()
    drive(steps, malloc, free)
    return time.perf_counter() - t0


def _row_in_guest(export: str) -> Callable[[int, int], float]:
    def row(n: int, seed: int) -> float:
        _, want = workload(n, seed)
        store, inst, _ = _wasmbox_instance()
        fn = inst.exports(store)[export]
        fn(store, WARMUP, seed + 1)
        t0 = time.perf_counter()
        got = fn(store, n, seed) & 0xFFFFFFFF
        dt = time.perf_counter() - t0
        if got != want:
            raise RuntimeError(f"{export}: checksum {got:#x}, expected {want:#x}")
        return dt
    return row


# ---------------------------------------------------------------- wasmtime rows
def _wasmtime_rows() -> list[tuple[str, Callable[[int, int], float]]]:
    try:
        import wasmtime
    except ImportError:
        return []

    def instance():
        store = wasmtime.Store()
        module = wasmtime.Module(store.engine, GUEST.read_bytes())
        linker = wasmtime.Linker(store.engine)
        # churn_host is not timed here; the imports only have to exist
        i32 = wasmtime.ValType.i32()
        linker.define_func("env", "ext_allocator_malloc_version_1",
                           wasmtime.FuncType([i32], [i32]), lambda sz: 0)
        linker.define_func("env", "ext_allocator_free_version_1",
                           wasmtime.FuncType([i32], []), lambda p: None)
        return store, linker.instantiate(store, module)

    def from_python(n: int, seed: int) -> float:
        steps, _ = workload(n, seed)
        warm, _ = workload(WARMUP, seed + 1)
        store, inst = instance()
        ex = inst.exports(store)
        g_malloc, g_free = ex["g_malloc"], ex["g_free"]
        malloc = lambda sz: g_malloc(store, sz)  # noqa: E731
        free = lambda p: g_free(store, p)  # noqa: E731
        drive(warm, malloc, free)
        t0 = time.perf_counter()
        drive(steps, malloc, free)
        return time.perf_counter() - t0

    def in_guest(n: int, seed: int) -> float:
        _, want = workload(n, seed)
        store, inst = instance()
        fn = inst.exports(store)["churn"]
        fn(store, WARMUP, seed + 1)
        t0 = time.perf_counter()
        got = fn(store, n, seed) & 0xFFFFFFFF
        dt = time.perf_counter() - t0
        if got != want:
            raise RuntimeError(f"wasmtime churn: checksum {got:#x}, expected {want:#x}")
        return dt

    return [("guest allocator, from Python (wasmtime)", from_python),
            ("guest allocator, loop in guest (wasmtime)", in_guest)]


# ---------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=20000, help="allocate+free pairs per run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-wasmtime", action="store_true", help="skip the wasmtime rows")
    args = ap.parse_args(argv)
    if not GUEST.exists():
        print(f"missing {GUEST}: run benchmarks/alloc_guest/build.sh", file=sys.stderr)
        return 2

    rows: list[tuple[str, Callable[[int, int], float]]] = [
        ("host allocator, from Python", row_host_from_python),
        ("guest allocator, from Python", row_guest_from_python),
        ("guest allocator, loop in guest", _row_in_guest("churn")),
        ("host allocator, loop in guest", _row_in_guest("churn_host")),
    ]
    if not args.no_wasmtime:
        rows += _wasmtime_rows()

    print(f"{args.pairs} allocate+free pairs, mixed sizes, 64 live slots; "
          f"median of {args.runs} runs")
    print(f"{'':<45} {'ms':>10} {'pairs/s':>12}")
    rates: dict[str, float] = {}
    failed = []
    for name, fn in rows:
        try:
            times = [fn(args.pairs, args.seed) for _ in range(args.runs)]
        except Exception as e:  # noqa: BLE001 - report and go on; no number is invented
            print(f"{name:<45} FAILED: {type(e).__name__}: {e}")
            failed.append(name)
            continue
        t = statistics.median(times)
        rates[name] = args.pairs / t
        print(f"{name:<45} {t * 1e3:>10.1f} {rates[name]:>12,.0f}")

    host, guest = rates.get(rows[0][0]), rates.get(rows[1][0])
    if host and guest:
        faster, ratio = ("host", host / guest) if host >= guest else ("guest", guest / host)
        print(f"\nFrom Python, the {faster} allocator is faster: {ratio:.2f}x "
              f"({host:,.0f} vs {guest:,.0f} pairs/s, host vs guest).")
    hin, gin = rates.get(rows[3][0]), rates.get(rows[2][0])
    if hin and gin:
        faster, ratio = ("host", hin / gin) if hin >= gin else ("guest's own", gin / hin)
        print(f"Inside a wasmbox guest, the {faster} allocator is faster: {ratio:.2f}x "
              f"({hin:,.0f} vs {gin:,.0f} pairs/s, host vs guest).")
    if failed:
        print(f"\n{len(failed)} row(s) could not run: {', '.join(failed)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
