"""The embedding API (wasmtime-py's shapes), host functions, linking,
instantiation order, traps and call-stack exhaustion."""
from __future__ import annotations

import io
import sys

import pytest
import wasmtime

import wasmbox
from wasmbox import (
    Caller,
    Config,
    Engine,
    Exhaustion,
    Func,
    FuncType,
    Global,
    GlobalType,
    Instance,
    Limits,
    LinkError,
    Linker,
    Memory,
    MemoryType,
    Module,
    Store,
    Table,
    TableType,
    Trap,
    ValType,
    ValidationError,
    WasmboxError,
)
from wasmbox.host.spectest import define_spectest

I32, I64, F32, F64 = ValType.i32(), ValType.i64(), ValType.f32(), ValType.f64()


def wasm(wat: str) -> bytes:
    return wasmtime.wat2wasm(wat)


# ---------------------------------------------------------------- config, engine, module

def test_config_defaults_and_checks():
    c = Config()
    assert c.max_wasm_stack == 2 << 20
    assert c.lazy_compile is True
    assert c.max_memory_pages == 65536
    assert c.consume_fuel is False and c.epoch_interruption is False
    with pytest.raises(TypeError):
        c.max_wasm_stack = "deep"
    with pytest.raises(ValueError):
        c.max_wasm_stack = 0
    with pytest.raises(TypeError):
        c.consume_fuel = 1
    with pytest.raises(AttributeError):
        c.no_such_option = 1
    assert Engine(c).config is c
    with pytest.raises(TypeError):
        Engine(config=object())


def test_module_imports_exports_types():
    m = Module(Engine(), wasm("""
      (module
        (import "env" "f" (func (param i32 i64) (result f32)))
        (import "env" "g" (global (mut i32)))
        (import "env" "m" (memory 1 2))
        (import "env" "t" (table 3 funcref))
        (func (export "run") (param f64) (result i32) (i32.const 0))
        (memory (export "mem") 2)
        (global (export "gl") f64 (f64.const 1))
        (table (export "tab") 1 5 externref))"""))
    imps = m.imports
    assert [(i.module, i.name) for i in imps] == [("env", "f"), ("env", "g"), ("env", "m"), ("env", "t")]
    assert imps[0].type == FuncType([I32, I64], [F32])
    assert imps[1].type == GlobalType(I32, True)
    assert imps[2].type.limits == Limits(1, 2)
    assert imps[3].type.element == ValType.funcref()
    exps = {e.name: e.type for e in m.exports}
    assert exps["run"].params == [F64] and exps["run"].results == [I32]
    assert exps["mem"].limits == Limits(2, None)
    assert exps["gl"] == GlobalType(F64, False)
    assert exps["tab"] == TableType(ValType.externref(), Limits(1, 5))


def test_module_from_text_and_file(tmp_path):
    engine = Engine()
    text = '(module (func (export "two") (result i32) (i32.const 2)))'
    store = Store(engine)
    assert Instance(store, Module(engine, text), []).exports(store)["two"](store) == 2
    p = tmp_path / "m.wasm"
    p.write_bytes(wasm(text))
    m = Module.from_file(engine, p)
    assert Instance(store, m, []).exports(store)["two"](store) == 2


def test_module_validate():
    Module.validate(Engine(), wasm("(module)"))
    bad = bytes.fromhex("0061736d01000000010401600000030201000a0601040041010b")  # returns a value from a [] -> [] func
    with pytest.raises(ValidationError):
        Module.validate(Engine(), bad)
    with pytest.raises(wasmbox.DecodeError):
        Module(Engine(), b"\0asm\x02\0\0\0")
    with pytest.raises(TypeError):
        Module(Engine(), 42)


# ---------------------------------------------------------------- calls and values

VALUES = """
(module
  (func (export "id32") (param i32) (result i32) (local.get 0))
  (func (export "id64") (param i64) (result i64) (local.get 0))
  (func (export "idf32") (param f32) (result f32) (local.get 0))
  (func (export "idf64") (param f64) (result f64) (local.get 0))
  (func (export "none"))
  (func (export "two") (result i32 i64) (i32.const -1) (i64.const -2))
  (func (export "lt") (param i32 i32) (result i32) (i32.lt_u (local.get 0) (local.get 1)))
)"""


def test_call_shapes_and_signed_values():
    engine = Engine()
    store = Store(engine)
    ex = Instance(store, Module(engine, wasm(VALUES)), []).exports(store)
    assert ex["id32"](store, -1) == -1
    assert ex["id32"](store, 0xFFFFFFFF) == -1
    assert ex["id64"](store, -(2 ** 63)) == -(2 ** 63)
    assert ex["idf32"](store, 0.1) == 0.10000000149011612  # rounded to f32
    assert ex["idf64"](store, 0.1) == 0.1
    assert ex["none"](store) is None
    assert ex["two"](store) == [-1, -2]
    r = ex["lt"](store, 1, 2)
    assert r == 1 and type(r) is int
    with pytest.raises(TypeError):
        ex["id32"](store)
    with pytest.raises(TypeError):
        ex["id32"](store, 1.5)
    with pytest.raises(TypeError):
        ex["id32"](store, 2 ** 32)
    with pytest.raises(TypeError):
        ex["idf64"](store, "x")
    assert ex["id32"].type(store) == FuncType([I32], [I32])


def test_call_raw_uses_internal_representation():
    engine = Engine()
    store = Store(engine)
    ex = Instance(store, Module(engine, wasm(VALUES)), []).exports(store)
    assert ex["id32"].call_raw(store, [0xFFFFFFFF]) == [0xFFFFFFFF]
    assert ex["two"].call_raw(store, []) == [0xFFFFFFFF, 0xFFFFFFFFFFFFFFFE]
    assert ex["none"].call_raw(store, []) == []
    r = ex["lt"].call_raw(store, [3, 2])
    assert r == [0] and type(r[0]) is int
    with pytest.raises(TypeError):
        ex["id32"].call_raw(store, [-1])


def test_exports_mapping():
    engine = Engine()
    store = Store(engine)
    ex = Instance(store, Module(engine, wasm(VALUES)), []).exports(store)
    assert list(ex) == ["id32", "id64", "idf32", "idf64", "none", "two", "lt"]
    assert len(ex) == 7
    assert ex.get("nope") is None
    assert ex.by_index[0] is ex["id32"]
    assert "two" in ex


def test_function_of_another_store_is_refused():
    engine = Engine()
    s1, s2 = Store(engine), Store(engine)
    f = Instance(s1, Module(engine, wasm(VALUES)), []).exports(s1)["none"]
    with pytest.raises(WasmboxError):
        f(s2)


# ---------------------------------------------------------------- host functions and linking

HOST = """
(module
  (import "env" "add" (func $add (param i32 i32) (result i32)))
  (import "env" "pair" (func $pair (param i64) (result i64 f64)))
  (import "env" "peek" (func $peek (result i32)))
  (import "env" "boom" (func $boom))
  (memory (export "memory") 1)
  (data (i32.const 0) "\\2a")
  (func (export "add") (param i32 i32) (result i32) (call $add (local.get 0) (local.get 1)))
  (func (export "pair") (param i64) (result i64 f64) (call $pair (local.get 0)))
  (func (export "peek") (result i32) (call $peek))
  (func (export "boom") (call $boom))
)"""


def _host_linker(engine, calls):
    linker = Linker(engine)

    def add(a, b):
        calls.append((a, b))
        return a + b

    def peek(caller):
        return caller["memory"].read(caller, 0, 1)[0]

    def boom():
        raise KeyError("from the host")

    linker.define_func("env", "add", FuncType([I32, I32], [I32]), add)
    linker.define_func("env", "pair", FuncType([I64], [I64, F64]), lambda x: (x * 2, 0.5))
    linker.define_func("env", "peek", FuncType([], [I32]), peek, access_caller=True)
    linker.define_func("env", "boom", FuncType([], []), boom)
    return linker


def test_host_functions_through_linker():
    engine = Engine()
    store = Store(engine)
    calls: list = []
    inst = _host_linker(engine, calls).instantiate(store, Module(engine, wasm(HOST)))
    ex = inst.exports(store)
    assert ex["add"](store, -3, 1) == -2
    assert calls == [(-3, 1)]  # the host sees signed values
    assert ex["pair"](store, -4) == [-8, 0.5]
    assert ex["peek"](store) == 0x2A
    with pytest.raises(KeyError, match="from the host"):
        ex["boom"](store)
    # the instance keeps working after a host exception
    assert ex["add"](store, 2, 2) == 4


def test_host_function_bad_result_type():
    engine = Engine()
    store = Store(engine)
    linker = _host_linker(engine, [])
    linker.allow_shadowing = True
    linker.define_func("env", "add", FuncType([I32, I32], [I32]), lambda a, b: "nope")
    ex = linker.instantiate(store, Module(engine, wasm(HOST))).exports(store)
    with pytest.raises(TypeError):
        ex["add"](store, 1, 2)


def test_func_constructor_and_direct_imports():
    engine = Engine()
    store = Store(engine)
    add = Func(store, FuncType([I32, I32], [I32]), lambda a, b: a * b)
    assert add(store, 6, 7) == 42
    assert add.type(store).results == [I32]
    other = [Func(store, FuncType([I64], [I64, F64]), lambda x: (x, 1.0)),
             Func(store, FuncType([], [I32]), lambda: 1),
             Func(store, FuncType([], []), lambda: None)]
    ex = Instance(store, Module(engine, wasm(HOST)), [add] + other).exports(store)
    assert ex["add"](store, 3, 5) == 15


def test_link_errors():
    engine = Engine()
    store = Store(engine)
    m = Module(engine, wasm(HOST))
    with pytest.raises(LinkError, match="^unknown import"):
        Linker(engine).instantiate(store, m)
    wrong = Func(store, FuncType([I32], [I32]), lambda a: a)
    others = [Func(store, FuncType([I64], [I64, F64]), lambda x: (x, 1.0)),
              Func(store, FuncType([], [I32]), lambda: 1),
              Func(store, FuncType([], []), lambda: None)]
    with pytest.raises(LinkError, match="^incompatible import type"):
        Instance(store, m, [wrong] + others)
    with pytest.raises(LinkError):
        Instance(store, m, [])
    mem = Memory(store, MemoryType(Limits(1)))
    with pytest.raises(LinkError, match="^incompatible import type"):
        Instance(store, m, [mem] + others)


def test_linker_shadowing_and_define_instance():
    engine = Engine()
    store = Store(engine)
    linker = Linker(engine)
    g = Global(store, GlobalType(I32, True), 5)
    linker.define(store, "m", "g", g)
    with pytest.raises(WasmboxError):
        linker.define(store, "m", "g", g)
    linker.allow_shadowing = True
    linker.define(store, "m", "g", g)
    provider = linker.instantiate(store, Module(engine, wasm(
        '(module (global (export "gg") (mut i32) (i32.const 9)) '
        '(func (export "get") (result i32) (global.get 0)))')))
    linker.define_instance(store, "p", provider)
    user = linker.instantiate(store, Module(engine, wasm(
        '(module (import "p" "gg" (global (mut i32))) (import "p" "get" (func $get (result i32))) '
        '(func (export "set") (param i32) (global.set 0 (local.get 0))) '
        '(func (export "get") (result i32) (call $get)))')))
    ex = user.exports(store)
    ex["set"](store, 77)
    assert ex["get"](store) == 77  # the global is shared
    assert provider.exports(store)["gg"].value(store) == 77
    assert linker.get(store, "p", "gg") is provider.exports(store)["gg"]


# ---------------------------------------------------------------- memories, globals, tables

def test_memory_api():
    engine = Engine()
    store = Store(engine)
    mem = Memory(store, MemoryType(Limits(1, 3)))
    assert mem.size(store) == 1 and mem.data_len(store) == 65536
    assert mem.write(store, b"hello", 10) == 5
    assert mem.read(store, 10, 15) == bytearray(b"hello")
    assert mem.read(store, -2) == bytearray(2)
    assert mem.grow(store, 2) == 1
    assert mem.size(store) == 3
    with pytest.raises(WasmboxError):
        mem.grow(store, 1)
    with pytest.raises(IndexError):
        mem.write(store, b"xx", 3 * 65536 - 1)
    assert mem.type(store).limits == Limits(3, 3)


def test_global_api():
    engine = Engine()
    store = Store(engine)
    g = Global(store, GlobalType(I64, True), -5)
    assert g.value(store) == -5
    assert g.raw == 2 ** 64 - 5
    g.set_value(store, 7)
    assert g.value(store) == 7
    c = Global(store, GlobalType(F32, False), 1.1)
    with pytest.raises(WasmboxError):
        c.set_value(store, 2.0)
    with pytest.raises(TypeError):
        Global(store, GlobalType(I32, False), "x")


def test_table_api_and_funcrefs():
    engine = Engine()
    store = Store(engine)
    ex = Instance(store, Module(engine, wasm("""
      (module
        (table (export "t") 2 10 funcref)
        (func $f (result i32) (i32.const 11))
        (elem (i32.const 1) $f)
        (func (export "call") (param i32) (result i32) (call_indirect (result i32) (local.get 0))))
    """)), []).exports(store)
    t = ex["t"]
    assert t.size(store) == 2
    assert t.get(store, 0) is None
    f = t.get(store, 1)
    assert isinstance(f, Func) and f(store) == 11
    assert t.get(store, 99) is None
    assert t.grow(store, 3, f) == 2
    assert ex["call"](store, 4) == 11
    host = Func(store, FuncType([], [I32]), lambda: 99)
    t.set(store, 0, host)
    assert ex["call"](store, 0) == 99
    with pytest.raises(WasmboxError):
        t.set(store, 5, None)
    with pytest.raises(TypeError):
        t.set(store, 0, "not a function")
    table = Table(store, TableType(ValType.externref(), Limits(1)), "x")
    assert table.get(store, 0) == "x"


# ---------------------------------------------------------------- instantiation

def test_start_function_and_its_trap():
    engine = Engine()
    store = Store(engine)
    ex = Instance(store, Module(engine, wasm("""
      (module (global $g (export "g") (mut i32) (i32.const 0))
        (func $s (global.set $g (i32.const 5))) (start $s))""")), []).exports(store)
    assert ex["g"].value(store) == 5
    with pytest.raises(Trap, match="unreachable"):
        Instance(store, Module(engine, wasm("(module (func $s unreachable) (start $s))")), [])


def test_segments_applied_before_a_failure_stay_applied():
    engine = Engine()
    store = Store(engine)
    mem = Memory(store, MemoryType(Limits(1)))
    tab = Table(store, TableType(ValType.funcref(), Limits(4)), None)
    m = Module(engine, wasm("""
      (module (import "" "m" (memory 1)) (import "" "t" (table 4 funcref))
        (func $f)
        (elem (i32.const 0) $f)
        (elem (i32.const 3) $f $f)             ;; out of bounds
        (data (i32.const 0) "abc"))"""))
    with pytest.raises(Trap, match="out of bounds table access"):
        Instance(store, m, [mem, tab])
    assert tab.get(store, 0) is not None
    assert mem.read(store, 0, 3) == bytearray(3)  # data segments come after elems
    m2 = Module(engine, wasm("""
      (module (import "" "m" (memory 1))
        (data (i32.const 0) "abc") (data (i32.const 65535) "zz"))"""))
    with pytest.raises(Trap, match="out of bounds memory access"):
        Instance(store, m2, [mem])
    assert mem.read(store, 0, 3) == bytearray(b"abc")


def test_spectest_module():
    engine = Engine()
    store = Store(engine)
    linker = Linker(engine)
    out = io.StringIO()
    define_spectest(linker, store, out)
    inst = linker.instantiate(store, Module(engine, wasm("""
      (module
        (import "spectest" "print_i32" (func $p (param i32)))
        (import "spectest" "global_i32" (global i32))
        (import "spectest" "global_f32" (global f32))
        (import "spectest" "table" (table 10 20 funcref))
        (import "spectest" "memory" (memory 1 2))
        (func (export "run") (result i32) (call $p (i32.const 7)) (global.get 0))
        (func (export "f") (result f32) (global.get 1)))""")))
    ex = inst.exports(store)
    assert ex["run"](store) == 666
    assert out.getvalue().startswith("7 : i32")
    assert ex["f"](store) == pytest.approx(666.6, rel=1e-7)


def test_instances_share_compiled_code_but_not_state():
    engine = Engine()
    store = Store(engine)
    m = Module(engine, wasm("""
      (module (global $c (mut i32) (i32.const 0))
        (func (export "inc") (result i32)
          (global.set $c (i32.add (global.get $c) (i32.const 1))) (global.get $c)))"""))
    a = Instance(store, m, []).exports(store)["inc"]
    b = Instance(store, m, []).exports(store)["inc"]
    assert [a(store), a(store), b(store)] == [1, 2, 1]
    assert len(m._code._funcs) == 1


def test_eager_compilation():
    cfg = Config()
    cfg.lazy_compile = False
    engine = Engine(cfg)
    store = Store(engine)
    m = Module(engine, wasm(VALUES))
    Instance(store, m, [])
    assert len(m._code._funcs) == 7


# ---------------------------------------------------------------- exhaustion and re-entry

RECURSE = """
(module
  (func $down (export "down") (param i32) (result i32)
    (if (result i32) (local.get 0)
      (then (i32.add (call $down (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))
      (else (i32.const 0))))
  (func $inf (export "inf") (call $inf))
)"""


def test_exhaustion_is_a_trap_and_the_host_survives():
    engine = Engine()
    store = Store(engine)
    ex = Instance(store, Module(engine, wasm(RECURSE)), []).exports(store)
    limit = sys.getrecursionlimit()
    with pytest.raises(Exhaustion, match="call stack exhausted"):
        ex["inf"](store)
    assert sys.getrecursionlimit() == limit
    assert ex["down"](store, 5000) == 5000  # deep, but within max_wasm_stack


def test_max_wasm_stack_counts_frame_bytes():
    """The budget allows exactly budget // frame frames of a function."""
    module_frame = Module(Engine(), wasm(RECURSE))._code.get(0).frame
    assert module_frame > 0
    cfg = Config()
    cfg.max_wasm_stack = 300 * module_frame + module_frame // 2
    engine = Engine(cfg)
    store = Store(engine)
    ex = Instance(store, Module(engine, wasm(RECURSE)), []).exports(store)
    assert ex["down"](store, 299) == 299  # 300 frames
    with pytest.raises(Exhaustion):
        ex["down"](store, 300)
    assert ex["down"](store, 299) == 299  # nothing left over from the trap


def test_host_reentry_is_bounded():
    engine = Engine()
    store = Store(engine)
    linker = Linker(engine)
    holder: dict = {}

    def back(n):
        return holder["f"](store, n)

    linker.define_func("env", "back", FuncType([I32], [I32]), back)
    ex = linker.instantiate(store, Module(engine, wasm("""
      (module (import "env" "back" (func $back (param i32) (result i32)))
        (func (export "f") (param i32) (result i32)
          (if (result i32) (local.get 0)
            (then (call $back (i32.sub (local.get 0) (i32.const 1))))
            (else (i32.const 42)))))"""))).exports(store)
    holder["f"] = ex["f"]
    assert ex["f"](store, 50) == 42
    with pytest.raises(Exhaustion):
        ex["f"](store, 100_000)
    assert ex["f"](store, 3) == 42


def test_caller_without_wasm():
    assert Caller(None).get("memory") is None
    with pytest.raises(KeyError):
        Caller(None)["memory"]
