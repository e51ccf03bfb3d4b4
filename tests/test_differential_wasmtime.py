"""wasmbox against wasmtime: the same modules, the same arguments, the same answers.

Property test (issue 3): every plain ``module`` of the wasm2-nosimd spec
suite whose imports can be satisfied (none, or ``spectest`` only) is loaded
in both engines from the same bytes, and every exported function is called
in both, in lockstep:

* a deterministic sweep: each function with every edge value of its
  parameter types in every position (0, +-1, min/max, 2^31, 2^32-1, 2^63,
  +-0, +-inf, NaNs with payloads, subnormals, values at the float->int
  conversion boundaries, ...), plus pairs of core edge values;
* Hypothesis examples: each calls every function of a group, in a random
  order, with random arguments (edge values mixed with random bits), on
  fresh instances.

After every call the engines must agree: same result bits, or both trap
with the same trap; same memories and globals (every one, exported or
not); tables at the end of each sequence. See ``tests/diff_support.py``
for the rules (fuel, the spec's NaN freedom, stack depth).

Benchmarks: every ``../shared/bench/wasm/*.pure.wasm`` gives its ``small``
checksum from the manifest in both engines.
"""
from __future__ import annotations

import functools
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import diff_support as D
from suites import file_id, files_of, require
from wasmbox import Engine, Instance, Module, Store

FILES = files_of("wasm2-nosimd")

#: Hypothesis examples per group of functions (each example calls every
#: function of the group once, on fresh instances).
EXAMPLES = 12
#: Functions per group (large modules are split so an example stays short).
GROUP = 24

#: Lower bounds on what the suite gives (867 modules, 2860 exported
#: functions, 2858 of them compared, ~170,000 calls when this was written;
#: test_totals prints the numbers).
MIN_MODULES = 850
MIN_FUNCS = 2800
MIN_CALLS = 150_000


@dataclass
class FileReport:
    modules: int = 0
    funcs: int = 0
    skipped: Counter = field(default_factory=Counter)
    stats: D.Stats = field(default_factory=D.Stats)
    failures: list = field(default_factory=list)


def _sweep_group(pair: D.Pair, funcs: list, stats: D.Stats) -> None:
    """Every function of the group on every argument list of D.sweep_args,
    in order, on one pair of instances (replaced when a call only ran in
    wasmtime)."""
    with D.Session(pair, funcs, stats) as session:
        for f in funcs:
            for args in D.sweep_args(f.params):
                session.call(f, args)
                stats.counts["sweep calls"] += 1
        session.check_state(full=True)


def _random_group(pair: D.Pair, funcs: list, stats: D.Stats) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(st.data())
    def prop(data: st.DataObject) -> None:
        with D.Session(pair, funcs, stats) as session:
            order = data.draw(st.permutations(range(len(funcs))), label="order")
            for k in order:
                f = funcs[k]
                args = [data.draw(D.ARG_BITS[t], label=f"{f.name}[{i}]")
                        for i, t in enumerate(f.params)]
                session.call(f, args)
            session.check_state(full=True)
        stats.counts["examples"] += 1

    prop()


def _failure_text(e: BaseException) -> str:
    if isinstance(e, BaseExceptionGroup):
        return "\n\n".join(_failure_text(x) for x in e.exceptions)
    if isinstance(e, D.Disagreement):
        return str(e)
    return f"{type(e).__name__}: {e}"


@functools.cache
def run_file(path: Path) -> FileReport:
    """Run every usable module of one script in both engines (memoized)."""
    rel = file_id(path)
    fc = D.load_file_cases(path, rel)
    rep = FileReport(skipped=fc.skipped)
    for case in fc.cases:
        try:
            pair = D.Pair(case)
            rep.modules += 1
            rep.funcs += len(pair.funcs)
            rep.skipped["exported functions with parameters of unsupported types"] += \
                len(pair.funcs) - len(pair.callable)
            if not pair.callable:
                with D.Session(pair, [], rep.stats) as session:
                    session.check_state(full=True)
            for group in D.chunks(pair.callable, GROUP):
                _sweep_group(pair, group, rep.stats)
                _random_group(pair, group, rep.stats)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            rep.failures.append(_failure_text(e))
    return rep


@pytest.mark.parametrize("path", FILES, ids=file_id)
def test_suite_file_agrees_with_wasmtime(path):
    rep = run_file(require(path))
    assert not rep.failures, "\n\n".join(rep.failures)
    # A function is never compared only when every call ran out of fuel in
    # wasmtime or exhausted the stack in exactly one engine (an infinite
    # loop, a very long one): allow few of those.
    never = rep.stats.attempted_funcs - rep.stats.compared_funcs
    assert len(never) <= max(2, len(rep.stats.attempted_funcs) // 10), sorted(never)
    assert rep.stats.attempted_funcs or not rep.funcs


def test_totals():
    """The whole suite: enough modules, functions and calls really compared."""
    total = FileReport()
    for path in FILES:
        rep = run_file(require(path))
        total.modules += rep.modules
        total.funcs += rep.funcs
        total.skipped.update(rep.skipped)
        total.stats.merge(rep.stats)
        total.failures.extend(rep.failures)
    c = total.stats.counts
    never = sorted(total.stats.attempted_funcs - total.stats.compared_funcs)
    lines = [f"modules run: {total.modules}", f"exported functions: {total.funcs}",
             f"functions called: {len(total.stats.attempted_funcs)}",
             f"functions compared: {len(total.stats.compared_funcs)}",
             f"functions never compared: {never}"]
    lines += [f"{k}: {v}" for k, v in sorted(c.items())]
    lines += [f"skipped -- {k}: {v}" for k, v in sorted(total.skipped.items())]
    print("\n".join(lines))
    assert not total.failures, f"{len(total.failures)} modules disagree"
    assert total.modules >= MIN_MODULES
    assert total.funcs >= MIN_FUNCS
    assert len(total.stats.compared_funcs) >= MIN_FUNCS
    assert c["calls compared"] >= MIN_CALLS
    assert c["calls compared: trap"] >= MIN_CALLS // 10
    assert c["calls compared: exhausted"] > 0


# ------------------------------------------------------------------ benchmarks

BENCH_NAMES = ["fib", "sieve", "matmul", "nbody", "hash", "qsort", "memory", "mandel", "interp"]


def _bench(shared: Path) -> dict:
    return json.loads((shared / "bench" / "manifest.json").read_text())["benchmarks"]


def test_every_pure_benchmark_is_listed(shared):
    wasm = shared / "bench" / "wasm"
    files = sorted(p.name[: -len(".pure.wasm")] for p in wasm.glob("*.pure.wasm"))
    assert files == sorted(_bench(shared)) == sorted(BENCH_NAMES)


@pytest.mark.parametrize("name", BENCH_NAMES)
def test_benchmark_small_checksum_both_engines(shared, name):
    spec = _bench(shared)[name]
    n = spec["n"]["small"]
    want = spec["checksum"]["small"]
    data = (shared / "bench" / "wasm" / f"{name}.pure.wasm").read_bytes()

    engine = Engine()
    store = Store(engine)
    ours = Instance(store, Module(engine, data), []).exports(store)["run"](store, n) & 0xFFFFFFFF

    wstore = wasmtime.Store(wasmtime.Engine())
    inst = wasmtime.Instance(wstore, wasmtime.Module(wstore.engine, data), [])
    theirs = inst.exports(wstore)["run"](wstore, n) & 0xFFFFFFFF

    assert (ours, theirs) == (want, want)
