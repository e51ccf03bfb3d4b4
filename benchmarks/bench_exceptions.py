"""Throw + catch per second, next to Python's raise/except, and the cost of a
try_table that never catches anything.

Throughput: a guest loop runs ``--n`` iterations, each a ``try_table`` around
a call (or a ``throw`` in the same function) that throws a tag with an i32
payload, caught by ``catch`` and added up. The same shape in plain Python
(a call that raises, caught by ``except``, the payload added) runs in the
same process: that is the floor for this design, where a Wasm exception is
a Python exception.

No-throw cost: the same loop of calls that return normally, once with a
``try_table`` around each call and once without. With a handler that
returns, the two differ by the Python try statement alone, and the times
should be the same (CPython 3.11's try statements cost nothing until
something is raised). With a catch label inside the function, the label
adds what any branch target adds (a test of ``k`` where paths join).

Each variant runs ``--reps`` times, interleaved, and the best time is kept
(the machines are shared). Structured and flat translations are both
measured (``--flat`` for flat only).

    python benchmarks/bench_exceptions.py [--n 200000] [--reps 5] [--flat]
"""
from __future__ import annotations

import argparse
import math
import time

import wasmbox
from wasmbox.exec import compile as compile_mod

WAT = """
(module
  (tag $e (param i32))
  (func $thrower (param i32) (throw $e (local.get 0)))
  (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func (export "throw_call") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (block $h (result i32)
        (try_table (catch $e $h) (call $thrower (local.get $i)))
        (unreachable))
      (local.set $acc (i32.add (local.get $acc)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $acc))
  (func (export "throw_local") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (block $h (result i32)
        (try_table (catch $e $h) (throw $e (local.get $i)))
        (unreachable))
      (local.set $acc (i32.add (local.get $acc)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $acc))
  (func (export "calls_try") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (block $h
        (try_table (catch_all $h)
          (local.set $acc (i32.add (local.get $acc) (call $leaf (local.get $i))))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $acc))
  (global $g (export "g") (mut i32) (i32.const 0))
  ;; the handler returns (no label of the function's code is involved), so the
  ;; two differ by the try statement alone
  (func (export "calls_try_ret") (param $n i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (try_table (catch_all 1)
        (local.set $acc (i32.add (local.get $acc) (call $leaf (local.get $i)))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (global.set $g (local.get $acc)))
  (func (export "calls_plain_ret") (param $n i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (call $leaf (local.get $i))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (global.set $g (local.get $acc)))
  (func (export "calls_plain") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (block $h
        (block
          (local.set $acc (i32.add (local.get $acc) (call $leaf (local.get $i))))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $acc))
)
"""


class PyExc(Exception):
    """The Python reference: an exception carrying a tag and a payload."""


def py_throw_call(n: int) -> int:
    """Python's floor: a call that raises, caught, payload added."""
    tag = object()

    def thrower(i: int) -> None:
        raise PyExc(tag, (i,))

    acc = 0
    for i in range(n):
        try:
            thrower(i)
        except PyExc as e:
            if e.args[0] is tag:
                acc = (acc + e.args[1][0]) & 0xFFFFFFFF
    return acc


def exports(flat: bool) -> dict:
    compile_mod.FORCE_FLAT = flat
    engine = wasmbox.Engine()  # its own engine: no code shared between modes
    store = wasmbox.Store(engine)
    inst = wasmbox.Instance(store, wasmbox.Module(engine, WAT), [])
    ex = inst.exports(store)
    names = ("throw_call", "throw_local", "calls_try", "calls_plain", "calls_try_ret",
             "calls_plain_ret")
    for name in names:
        ex[name](store, 1)  # compile before timing
    compile_mod.FORCE_FLAT = False
    return {name: (lambda n, f=ex[name]: f(store, n)) for name in names}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--flat", action="store_true", help="measure the flat translation only")
    args = ap.parse_args()
    n = args.n
    modes = [True] if args.flat else [False, True]
    runs: dict[str, object] = {"python raise/except (call)": py_throw_call}
    for flat in modes:
        tag = "flat" if flat else "structured"
        ex = exports(flat)
        runs[f"wasm throw+catch, call ({tag})"] = ex["throw_call"]
        runs[f"wasm throw+catch, local ({tag})"] = ex["throw_local"]
        runs[f"calls in try_table, no throw ({tag})"] = ex["calls_try"]
        runs[f"calls without try_table ({tag})"] = ex["calls_plain"]
        runs[f"calls in try_table, handler returns ({tag})"] = ex["calls_try_ret"]
        runs[f"calls without try_table, same loop ({tag})"] = ex["calls_plain_ret"]
    best = {k: math.inf for k in runs}
    results = {}
    for _ in range(args.reps):
        for k, fn in runs.items():
            t = time.perf_counter()
            results[k] = fn(n)  # type: ignore[operator]
            best[k] = min(best[k], time.perf_counter() - t)
    want = sum(range(n)) & 0xFFFFFFFF
    for k in runs:
        if ("throw" in k and "no throw" not in k) or "raise" in k:
            if results[k] & 0xFFFFFFFF != want:
                raise SystemExit(f"{k}: got {results[k]}, expected {want}")
    py = best["python raise/except (call)"]
    print(f"n = {n}, best of {args.reps}")
    for k, t in best.items():
        rate = n / t
        extra = f"  ({t / py:.2f}x Python's raise/except)" if "throw" in k else ""
        print(f"{k:45s} {t * 1e3:9.1f} ms  {rate / 1e6:6.3f} M/s{extra}")
    for flat in modes:
        tag = "flat" if flat else "structured"
        a = best[f"calls in try_table, no throw ({tag})"]
        b = best[f"calls without try_table ({tag})"]
        c = best[f"calls in try_table, handler returns ({tag})"]
        e = best[f"calls without try_table, same loop ({tag})"]
        print(f"try_table that never catches, {tag}: {c / e:.3f}x the same loop without it "
              f"(the try statement alone); {a / b:.3f}x with its catch label in the code")


if __name__ == "__main__":
    main()
