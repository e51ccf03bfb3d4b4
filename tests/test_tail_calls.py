"""Tail calls (issue 10): ``return_call``, ``return_call_indirect``, ``return_call_ref``.

A tail call must not grow the stack: a million-deep mutual tail recursion
finishes, in constant Python stack (measured by the depth a host function at
the bottom of the chain sees), within the stack budget of a single frame,
also when the chain crosses instances and goes through tables. Functions
without tail calls are compiled exactly as before (their source has no
driver). Fuel is wasmtime's, compared with wasmtime-py.
"""
from __future__ import annotations

import sys

import pytest

from wasmbox import Config, Engine, Func, FuncType, Instance, Linker, Module, Store, Trap, ValType
from wasmbox.exec import compile as C
from wasmbox.exec.compile import function_source
from wasmbox.text.parse import parse_module

from test_interrupt import agree

EVEN_ODD = """(module
  (import "host" "depth" (func $depth (result i32)))
  (func $even (export "even") (param i64) (result i32)
    (if (result i32) (i64.eqz (local.get 0))
      (then (return_call $depth))
      (else (return_call $odd (i64.sub (local.get 0) (i64.const 1))))))
  (func $odd (export "odd") (param i64) (result i32)
    (if (result i32) (i64.eqz (local.get 0))
      (then (i32.const 99))
      (else (return_call $even (i64.sub (local.get 0) (i64.const 1))))))
  (func $plain (export "plain") (param i64) (result i32)
    (if (result i32) (i64.eqz (local.get 0))
      (then (call $depth))
      (else (call $plain (i64.sub (local.get 0) (i64.const 1))))))
)"""


def _depth() -> int:
    f = sys._getframe()
    n = 0
    while f is not None:
        n += 1
        f = f.f_back
    return n


def _even_odd(engine: Engine) -> tuple[Store, dict]:
    store = Store(engine)
    linker = Linker(engine)
    linker.define_func("host", "depth", FuncType([], [ValType.i32()]), _depth)
    inst = linker.instantiate(store, Module(engine, EVEN_ODD))
    return store, inst.exports(store)


@pytest.mark.parametrize("flat", [False, True])
def test_a_million_deep_mutual_tail_recursion_runs_in_constant_stack(monkeypatch, flat: bool):
    monkeypatch.setattr(C, "FORCE_FLAT", flat)
    store, ex = _even_odd(Engine())
    ex["even"](store, 2)  # compiles both (the first call runs through a stub)
    shallow = ex["even"](store, 2)
    assert ex["even"](store, 1_000_000) == shallow  # same Python depth at the bottom
    assert ex["odd"](store, 1_000_001) == shallow
    assert ex["odd"](store, 1_000_000) == 99
    # ordinary calls do grow the stack (so the measure above means something)
    assert ex["plain"](store, 50) >= ex["plain"](store, 0) + 50


def test_tail_recursion_fits_in_the_budget_of_a_few_frames():
    store, ex = _even_odd(Engine(Config(max_wasm_stack=2048)))
    assert ex["odd"](store, 200_000) == 99
    with pytest.raises(Trap, match="call stack exhausted"):
        ex["plain"](store, 200)


CROSS_A = """(module
  (table (export "tab") 1 funcref)
  (type $t (func (param i64) (result i64)))
  (func $even (export "even") (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 1))
      (else (return_call_indirect (type $t) (i64.sub (local.get 0) (i64.const 1)) (i32.const 0))))))"""

CROSS_B = """(module
  (import "a" "even" (func $even (param i64) (result i64)))
  (import "a" "tab" (table 1 funcref))
  (elem (i32.const 0) func $odd)
  (func $odd (export "odd") (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 0))
      (else (return_call $even (i64.sub (local.get 0) (i64.const 1)))))))"""


def test_tail_calls_across_instances_and_tables_do_not_grow_the_stack():
    engine = Engine(Config(max_wasm_stack=4096))
    store = Store(engine)
    a = Instance(store, Module(engine, CROSS_A), [])
    ax = a.exports(store)
    b = Instance(store, Module(engine, CROSS_B), [ax["even"], ax["tab"]])
    assert ax["even"](store, 300_000) == 1
    assert b.exports(store)["odd"](store, 300_001) == 1
    assert b.exports(store)["odd"](store, 300_000) == 0


INDIRECT_TRAPS = """(module
  (type $v (func (result i32)))
  (type $w (func (result i64)))
  (table 3 funcref)
  (elem (i32.const 0) func $a $b)
  (func $a (type $v) (i32.const 7))
  (func $b (type $w) (i64.const 8))
  (func (export "call") (param i32) (result i32)
    (return_call_indirect (type $v) (local.get 0))))"""


def test_return_call_indirect_checks_like_call_indirect():
    engine = Engine()
    store = Store(engine)
    f = Instance(store, Module(engine, INDIRECT_TRAPS), []).exports(store)["call"]
    assert f(store, 0) == 7
    with pytest.raises(Trap, match="indirect call type mismatch"):
        f(store, 1)
    with pytest.raises(Trap, match="uninitialized element"):
        f(store, 2)
    with pytest.raises(Trap, match="undefined element"):
        f(store, 3)


def test_a_tail_call_to_a_host_function_returns_its_results():
    engine = Engine()
    store = Store(engine)
    seen = []

    def host(x: int, y: int) -> list:
        seen.append((x, y))
        return [x + y, x * y]

    ft = FuncType([ValType.i32(), ValType.i32()], [ValType.i32(), ValType.i32()])
    wat = """(module (import "h" "f" (func $f (param i32 i32) (result i32 i32)))
      (func (export "g") (param i32) (result i32 i32)
        (return_call $f (local.get 0) (i32.const 10))))"""
    inst = Instance(store, Module(engine, wat), [Func(store, ft, host)])
    assert inst.exports(store)["g"](store, 4) == [14, 40]
    assert seen == [(4, 10)]


def test_only_functions_with_tail_calls_get_a_driver():
    m = parse_module(EVEN_ODD)
    even = function_source(m, 1)
    plain = function_source(m, 3)
    assert "def B1(" in even and "def f1(" in even and "TC(" in even
    assert "TC" not in plain and "def B" not in plain


def test_traps_inside_a_tail_called_function_unwind_normally():
    engine = Engine()
    store = Store(engine)
    wat = """(module
      (func $boom (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
      (func (export "f") (param i32) (result i32) (return_call $boom (local.get 0))))"""
    f = Instance(store, Module(engine, wat), []).exports(store)["f"]
    assert f(store, 1) == 1
    with pytest.raises(Trap, match="integer divide by zero"):
        f(store, 0)
    assert f(store, 1) == 1


TAIL_FUEL = """(module
  (type $t (func (param i32) (result i32)))
  (table 1 funcref)
  (elem (i32.const 0) func $down)
  (func $down (export "down") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 5))
      (else (return_call $side (i32.sub (local.get 0) (i32.const 1))))))
  (func $side (param i32) (result i32)
    (return_call_indirect (type $t) (local.get 0) (i32.const 0))))"""


def test_fuel_of_tail_calls_matches_wasmtime():
    needed = agree(TAIL_FUEL, "down", [3], range(0, 90))
    assert needed > 0


SUBTYPE_TAIL = """(module
  (type $t (sub (func (result i32))))
  (type $s (sub $t (func (result i32))))
  (table 2 funcref)
  (elem (i32.const 0) func $sub $down)
  (func $sub (type $s) (i32.const 42))
  (func $down (type $t) (i32.const 7))
  (func (export "f") (param i32) (result i32) (return_call_indirect (type $t) (local.get 0)))
  (func (export "r") (result i32) (return_call_ref $t (ref.func $sub))))"""


def test_tail_calls_to_a_declared_subtype():
    engine = Engine()
    store = Store(engine)
    ex = Instance(store, Module(engine, SUBTYPE_TAIL), []).exports(store)
    assert ex["f"](store, 0) == 42  # through the registry of supertypes
    assert ex["f"](store, 1) == 7
    assert ex["r"](store) == 42
    with pytest.raises(Trap, match="undefined element"):
        ex["f"](store, 2)


def test_a_tail_call_to_a_host_function_gets_its_caller():
    engine = Engine()
    store = Store(engine)
    linker = Linker(engine)
    seen = []

    def host(caller, x):
        seen.append(caller.get("mem") is not None)
        return x + 1

    linker.define_func("h", "f", FuncType([ValType.i32()], [ValType.i32()]), host,
                       access_caller=True)
    wat = """(module (import "h" "f" (func $f (param i32) (result i32)))
      (memory (export "mem") 1)
      (func (export "tail") (param i32) (result i32) (return_call $f (local.get 0)))
      (func (export "call") (param i32) (result i32) (call $f (local.get 0))))"""
    ex = linker.instantiate(store, Module(engine, wat)).exports(store)
    assert ex["call"](store, 1) == 2 and ex["tail"](store, 2) == 3
    assert seen == [True, True]  # the caller's exports, through a tail call too
