"""Instantiation internals that users can observe: one function instance per
function (whichever way it is reached), lazily compiled functions reached
through other instances, and instances freed at ``store.close()`` without
the cycle collector (which keeps instantiate-and-drop fast)."""
from __future__ import annotations

import gc
import sys
import weakref

import pytest

from wasmbox import (
    Config, Engine, Exhaustion, Func, FuncType, Instance, Linker, Module, Store, WasmboxError,
)
from wasmbox.api import PoolingAllocationConfig

IDENTITY_WAT = """
(module
  (table (export "t") 2 funcref)
  (global (export "g") funcref (ref.func $f))
  (func $f (export "f") (result i32) (i32.const 7))
  (func $inner (result i32) (i32.const 1))
  (elem (i32.const 0) $f $inner)
  (func (export "ref") (result funcref) (ref.func $f))
  (func (export "inner_via_table") (result i32) (call_indirect (result i32) (i32.const 1))))
"""


def test_a_function_has_one_instance_however_it_is_reached():
    engine = Engine()
    store = Store(engine)
    ex = Instance(store, Module(engine, IDENTITY_WAT), []).exports(store)
    f = ex["f"]
    assert ex["t"].get(store, 0) is f
    assert ex["g"].value(store) is f
    assert ex["ref"](store) is f
    assert f(store) == 7 and ex["ref"](store)(store) == 7
    inner = ex["t"].get(store, 1)
    assert isinstance(inner, Func) and inner is not f
    assert inner(store) == 1 and ex["inner_via_table"](store) == 1


def test_a_function_called_first_through_another_instance_compiles_once_and_agrees():
    engine = Engine()
    store = Store(engine)
    linker = Linker(engine)
    lib = linker.instantiate(store, Module(engine, """
      (module
        (global $n (mut i32) (i32.const 0))
        (func (export "bump") (result i32)
          (global.set $n (i32.add (global.get $n) (i32.const 1))) (global.get $n)))"""))
    linker.define_instance(store, "lib", lib)
    user = linker.instantiate(store, Module(engine, """
      (module
        (import "lib" "bump" (func $bump (result i32)))
        (func (export "twice") (result i32) (drop (call $bump)) (call $bump)))"""))
    # the importer holds lib's not-yet-compiled function; both paths share its state
    assert user.exports(store)["twice"](store) == 2
    assert lib.exports(store)["bump"](store) == 3
    assert user.exports(store)["twice"](store) == 5


@pytest.mark.parametrize("pooled", [False, True], ids=["on-demand", "pooled"])
def test_closing_a_store_frees_its_instances_without_the_cycle_collector(pooled):
    cfg = Config(allocation_strategy=PoolingAllocationConfig(
        total_core_instances=4, total_memories=4, total_tables=4,
        max_memory_size=1 << 20)) if pooled else Config()
    engine = Engine(cfg)
    module = Module(engine, IDENTITY_WAT.replace("(module", "(module (memory (export \"m\") 1)", 1))
    gc.collect()
    gc.disable()
    try:
        store = Store(engine)
        inst = Instance(store, module, [])
        ex = inst.exports(store)
        assert ex["f"](store) == 7 and ex["inner_via_table"](store) == 1
        gone = weakref.ref(inst)
        store.close()
        del inst, ex
        assert gone() is None  # freed by reference counting alone
    finally:
        gc.enable()


def test_an_instance_dropped_before_close_is_freed_and_the_store_stays_small():
    """The store tracks its instances weakly: dropping one frees it, as before close."""
    engine = Engine()
    store = Store(engine)
    module = Module(engine, IDENTITY_WAT)
    first = Instance(store, module, [])
    gone = weakref.ref(first)
    del first
    gc.collect()
    assert gone() is None
    for _ in range(1000):
        Instance(store, module, [])
    gc.collect()
    assert len(store._state._instances) < 200  # dead entries are pruned as it goes
    kept = Instance(store, module, [])
    store.close()
    f = kept.exports(store)["f"]  # exports stay listed; calls say the store is closed
    with pytest.raises(WasmboxError, match="closed"):
        f(store)


PING = """
(module
  (table (export "t") 1 funcref)
  (type $t (func (param i32) (result i32)))
  (func (export "f") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
      (else (i32.add (i32.const 1)
        (call_indirect (type $t) (i32.sub (local.get 0) (i32.const 1)) (i32.const 0)))))))
"""
PONG = """
(module
  (import "ping" "t" (table 1 funcref))
  (import "ping" "f" (func $f (param i32) (result i32)))
  (elem (i32.const 0) $g)
  (import "env" "bottom" (func $bottom))
  (func $g (export "g") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (call $bottom) (i32.const 0))
      (else (i32.add (i32.const 1) (call $f (i32.sub (local.get 0) (i32.const 1))))))))
"""


def test_calls_through_an_import_bound_before_compilation_cost_one_frame_each():
    """Two instances recursing into each other: an import bound to a
    not-yet-compiled function is rebound once it is compiled, so every Wasm
    call is one Python frame (counted at the bottom of the recursion)."""
    engine = Engine()
    store = Store(engine)
    linker = Linker(engine)
    depths: list[int] = []

    def bottom() -> None:
        f, n = sys._getframe(), 0
        while f is not None:
            f, n = f.f_back, n + 1
        depths.append(n)

    linker.define_func("env", "bottom", FuncType([], []), bottom)
    linker.define_instance(store, "ping", linker.instantiate(store, Module(engine, PING)))
    g = linker.instantiate(store, Module(engine, PONG)).exports(store)["g"]
    assert g(store, 100) == 100  # the first calls compile, through stubs
    assert g(store, 100) == 100
    assert g(store, 300) == 300
    assert depths[2] - depths[1] == 200  # one Python frame per Wasm call
    with pytest.raises(Exhaustion):
        g(store, 100_000)  # past the stack budget
