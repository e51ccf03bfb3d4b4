"""Tail calls: a million-deep ``return_call`` chain, its time and its memory.

Runs, in one process: ``even(n)``/``odd(n)`` written as mutual tail
recursion (n tail calls), the same count as a Wasm loop (the floor: no call
at all), and ordinary recursion ``plain(n)`` as deep as the default stack
budget allows, for the cost of an ordinary call next to a tail call. Peak
memory is Python's allocations during the call (tracemalloc) and the
process's peak RSS. Prints a table; asserts nothing (speed is not tested).

    python benchmarks/bench_tail.py [--n 1000000] [--reps 3]
"""
from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

from wasmbox import Engine, Instance, Module, Store

WAT = """(module
  (func $even (export "even") (param i64) (result i32)
    (if (result i32) (i64.eqz (local.get 0))
      (then (i32.const 44))
      (else (return_call $odd (i64.sub (local.get 0) (i64.const 1))))))
  (func $odd (export "odd") (param i64) (result i32)
    (if (result i32) (i64.eqz (local.get 0))
      (then (i32.const 99))
      (else (return_call $even (i64.sub (local.get 0) (i64.const 1))))))
  (func $plain (export "plain") (param i64) (result i32)
    (if (result i32) (i64.eqz (local.get 0))
      (then (i32.const 0))
      (else (call $plain (i64.sub (local.get 0) (i64.const 1))))))
  (func (export "loop") (param i64) (result i32)
    (block $done (loop $l
      (br_if $done (i64.eqz (local.get 0)))
      (local.set 0 (i64.sub (local.get 0) (i64.const 1)))
      (br $l)))
    (i32.const 0)))"""


def _best(fn, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    engine = Engine()
    store = Store(engine)
    ex = Instance(store, Module(engine, WAT), []).exports(store)
    even, loop, plain = ex["even"], ex["loop"], ex["plain"]
    n = a.n
    even(store, 4)
    plain(store, 4)
    t_tail = _best(lambda: even(store, n), a.reps)
    t_loop = _best(lambda: loop(store, n), a.reps)
    depth = 5000  # within the default 2 MiB budget
    t_plain = _best(lambda: plain(store, depth), a.reps) / depth * n
    tracemalloc.start()
    even(store, n)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'what':<40} {'seconds':>9} {'per step':>10}")
    print(f"{f'return_call chain of {n}':<40} {t_tail:9.3f} {t_tail / n * 1e9:8.0f}ns")
    print(f"{f'Wasm loop of {n} iterations':<40} {t_loop:9.3f} {t_loop / n * 1e9:8.0f}ns")
    print(f"{f'ordinary call (from {depth} deep), x{n}':<40} {t_plain:9.3f} {t_plain / n * 1e9:8.0f}ns")
    print(f"peak Python allocations during the chain: {peak} bytes; process peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
