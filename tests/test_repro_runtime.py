"""The runtime reproducers of ../shared/repro (issue 9), each with the
behaviour a sandboxed runtime owes: slots back when a store is dropped,
call depth per store and thread, bounded frames and tables, bulk operations
that use the memory they touch and let other threads run, and the CLI's
``--fuel`` / ``--timeout``.

Speed is never asserted tightly here (the machines are shared): bounds are
loose, several times what the operation takes on a quiet machine.
"""
from __future__ import annotations

import gc
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from wasmbox import (
    Config, Engine, InstantiationError, Linker, Module, PoolingAllocationConfig, Store,
)

REPO = Path(__file__).resolve().parent.parent


def repro(shared: Path, name: str) -> Path:
    p = shared / "repro" / name
    if not p.is_file():
        pytest.fail(f"{p} is missing from the shared corpus")
    return p


def wasmbox_cli(*args: str, limit_as: int | None = None,
                timeout: float = 120) -> tuple[subprocess.CompletedProcess, float, int]:
    """Run the CLI in a child; (result, seconds, peak RSS in bytes)."""
    def pre() -> None:
        if limit_as is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))

    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "wasmbox", *args], capture_output=True,
                          text=True, timeout=timeout, preexec_fn=pre, cwd=REPO)
    elapsed = time.monotonic() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest child so far: only trust a rise
    return proc, elapsed, max(peak, before) * 1024


# ------------------------------------------------------------------ pool_drop.py

def test_a_dropped_store_gives_its_pool_slots_back_without_the_collector():
    engine = Engine(Config(allocation_strategy=PoolingAllocationConfig(
        total_memories=8, total_core_instances=8, max_memory_size=1 << 24)))
    good = Module(engine, '(module (memory 1) (func (export "f") (result i32) (i32.const 1)))')
    bad = Module(engine, '(module (memory 1) (func $s (drop (i32.load (i32.const 70000)))) '
                         '(start $s))')
    gc.disable()  # prove it: no cycle collection at all
    try:
        for i in range(40):
            store = Store(engine)
            inst = Linker(engine).instantiate(store, good)
            assert inst.exports(store)["f"](store) == 1
            del store, inst
            assert engine.pooling_allocator_metrics().core_instances == 0, i
        for i in range(40):  # a start function that traps leaves a half-made instance
            store = Store(engine)
            with pytest.raises(Exception):
                Linker(engine).instantiate(store, bad)
            del store
            assert engine.pooling_allocator_metrics().core_instances == 0, i
    finally:
        gc.enable()


# ------------------------------------------------------------------ threads_reclimit.py

DEEP = '''(module
 (func $deep (export "deep") (param i32) (result i32)
   (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
     (else (i32.add (i32.const 1) (call $deep (i32.sub (local.get 0) (i32.const 1)))))))
 (func (export "slow") (result i32) (local i32)
   (local.set 0 (i32.const 20000))
   (loop (local.set 0 (i32.sub (local.get 0) (i32.const 1))) (br_if 0 (local.get 0)))
   (i32.const 7)))'''


def test_call_depth_is_per_store_and_thread():
    """A deep call in one thread while another thread keeps entering and
    leaving Wasm in another store: neither sees the other's depth or limit,
    and the process recursion limit is as it was afterwards."""
    limit = sys.getrecursionlimit()
    engine = Engine()
    small = Engine(Config(max_wasm_stack=64 << 10))  # another budget, in B
    m, ms = Module(engine, DEEP), Module(small, DEEP)
    sa, sb = Store(engine), Store(small)
    deep = Linker(engine).instantiate(sa, m).exports(sa)["deep"]
    ex_b = Linker(small).instantiate(sb, ms).exports(sb)
    stop = threading.Event()
    errors: list[BaseException] = []

    def b() -> None:
        try:
            while not stop.is_set():
                assert ex_b["slow"](sb) == 7
                time.sleep(0.001)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    tb = threading.Thread(target=b)
    tb.start()
    try:
        for _ in range(20):
            assert deep(sa, 3000) == 3000
    finally:
        stop.set()
        tb.join()
    assert not errors
    assert sys.getrecursionlimit() == limit
    with pytest.raises(Exception, match="call stack exhausted"):
        ex_b["deep"](sb, 3000)  # B's own, smaller budget


# ------------------------------------------------------------------ bigframe.wasm

def test_bigframe_ends_in_exhaustion_quickly_with_bounded_memory(shared):
    proc, elapsed, _ = wasmbox_cli("run", str(repro(shared, "bigframe.wasm")), "--invoke", "f",
                                   limit_as=3_000_000_000)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip() == "wasmbox: exhaustion: call stack exhausted"
    assert elapsed < 20  # about 1 s here; 26 s and 4.2 GB before


# ------------------------------------------------------------------ tables100.wasm

def test_tables100_is_refused_by_the_default_table_budget(shared):
    engine = Engine()
    module = Module(engine, repro(shared, "tables100.wasm").read_bytes())
    with pytest.raises(InstantiationError, match="max_store_table_elements"):
        Linker(engine).instantiate(Store(engine), module)
    proc, elapsed, _ = wasmbox_cli("run", str(repro(shared, "tables100.wasm")), "--invoke", "f")
    assert proc.returncode == 1 and "max_store_table_elements" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_table_budget_is_given_back_and_bounds_growth():
    cfg = Config(max_store_table_elements=1000)
    engine = Engine(cfg)
    module = Module(engine, '''(module (table 600 funcref)
      (func (export "grow") (param i32) (result i32) (table.grow (ref.null func) (local.get 0))))''')
    store = Store(engine)
    first = Linker(engine).instantiate(store, module)
    with pytest.raises(InstantiationError, match="600 are in use"):
        Linker(engine).instantiate(store, module)
    grow = first.exports(store)["grow"]
    assert grow(store, 400) == 600
    assert grow(store, 1) == -1  # the budget is spent
    del first, grow
    gc.collect()
    Linker(engine).instantiate(store, module)  # the freed table gave its elements back


# ------------------------------------------------------------------ fill.wat, copy.wat, fill_gil.py

@pytest.mark.parametrize("name", ["fill.wat", "copy.wat"])
def test_a_1gib_bulk_operation_uses_the_memory_it_touches(shared, name):
    proc, elapsed, peak = wasmbox_cli("run", str(repro(shared, name)), "--invoke", "f")
    assert proc.returncode == 0, proc.stderr
    assert peak < 1.5 * (1 << 30), peak  # 1 GiB touched; was 2.1 GB (a 1 GiB temporary)
    assert elapsed < 60


def test_other_threads_run_during_a_long_fill_and_a_signal_stops_it(shared):
    script = repro(shared, "fill_gil.py")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(" after ", 1) if "interrupted" in line else line.split(": ", 1)
                 for line in proc.stdout.strip().splitlines())
    interrupted_after = float(lines["interrupted"].split()[0])
    max_gap = float(lines["max gap in other thread"].split()[0])
    assert interrupted_after < 2.0  # the alarm is at 1.0 s
    assert max_gap < 0.5  # was seconds


# ------------------------------------------------------------------ the CLI

SPIN = REPO / "tests" / "data" / "spin.wat"


def test_run_timeout_stops_a_runaway_loop():
    proc, elapsed, _ = wasmbox_cli("run", str(SPIN), "--invoke", "spin", "--timeout", "1")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "ran past 1 s (--timeout)" in proc.stderr
    assert elapsed < 5  # 1.05 s here; the bound is 1.2 s on a quiet machine


def test_run_fuel():
    proc, _, _ = wasmbox_cli("run", str(SPIN), "--invoke", "spin", "--fuel", "100000")
    assert proc.returncode == 1
    assert proc.stderr == "wasmbox: trap: all fuel consumed by WebAssembly\n"
    proc, _, _ = wasmbox_cli("run", str(SPIN), "--invoke", "add", "2", "3", "--fuel", "10")
    assert proc.returncode == 0 and proc.stdout == "5\n"
    for bad in (["--fuel", "-1"], ["--fuel", "x"], ["--timeout", "0"], ["--timeout", "nan"]):
        proc, _, _ = wasmbox_cli("run", str(SPIN), "--invoke", "add", "2", "3", *bad)
        assert proc.returncode == 1 and proc.stderr.count("\n") == 1, (bad, proc.stderr)
