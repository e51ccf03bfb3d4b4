"""Every benchmark of ../shared/bench runs to its `small` checksum, both in the
structured translation and in the flat (fallback) one."""
from __future__ import annotations

import json

import pytest

import wasmbox.exec.compile as compile_mod
from wasmbox import Engine, Instance, Module, Store

NAMES = ["fib", "sieve", "matmul", "nbody", "hash", "qsort", "memory", "mandel", "interp"]


def _manifest(shared):
    return json.loads((shared / "bench" / "manifest.json").read_text())["benchmarks"]


def _run(shared, name: str) -> int:
    spec = _manifest(shared)[name]
    data = (shared / "bench" / "wasm" / f"{name}.pure.wasm").read_bytes()
    engine = Engine()
    store = Store(engine)
    inst = Instance(store, Module(engine, data), [])
    run = inst.exports(store)["run"]
    return run(store, spec["n"]["small"]) & 0xFFFFFFFF


@pytest.mark.parametrize("name", NAMES)
def test_small_checksum(shared, name):
    assert _run(shared, name) == _manifest(shared)[name]["checksum"]["small"]


@pytest.mark.parametrize("name", NAMES)
def test_small_checksum_flat(shared, name, monkeypatch):
    monkeypatch.setattr(compile_mod, "FORCE_FLAT", True)
    assert _run(shared, name) == _manifest(shared)[name]["checksum"]["small"]


def test_all_benchmarks_listed(shared):
    assert sorted(_manifest(shared)) == sorted(NAMES)


def test_run_is_reentrant(shared):
    """run() resets its heap: a second call on the same instance agrees."""
    spec = _manifest(shared)["qsort"]
    data = (shared / "bench" / "wasm" / "qsort.pure.wasm").read_bytes()
    engine = Engine()
    store = Store(engine)
    run = Instance(store, Module(engine, data), []).exports(store)["run"]
    n = spec["n"]["small"]
    assert run(store, n) & 0xFFFFFFFF == run(store, n) & 0xFFFFFFFF == spec["checksum"]["small"]


def test_second_load_reuses_compiled_code(shared):
    data = (shared / "bench" / "wasm" / "fib.pure.wasm").read_bytes()
    engine = Engine()
    m1 = Module(engine, data)
    store = Store(engine)
    Instance(store, m1, []).exports(store)["run"](store, 5)
    m2 = Module(engine, data)
    assert m2._code is m1._code
    compiled = dict(m1._code._funcs)
    assert compiled  # run compiled something
    Instance(store, m2, []).exports(store)["run"](store, 5)
    assert all(m2._code._funcs[i] is cf for i, cf in compiled.items())
