"""The Wasm -> Python compiler: control flow, values, traps, evaluation order,
the flat fallback, and the hygiene of the generated source.

Modules are written in WAT and assembled with wasmtime's wat2wasm; where it
helps, results are compared with wasmtime itself (differential tests).
"""
from __future__ import annotations

import keyword
import re

import pytest
import wasmtime
from hypothesis import given, settings
from hypothesis import strategies as st

import wasmbox.exec.compile as compile_mod
from wasmbox import Engine, Instance, Module, Store, Trap
from wasmbox.binary.decode import decode_module
from wasmbox.errors import TrapCode
from wasmbox.exec.compile import function_source


def inst(wat: str):
    engine = Engine()
    store = Store(engine)
    i = Instance(store, Module(engine, wasmtime.wat2wasm(wat)), [])
    ex = i.exports(store)
    return store, ex


def call(wat: str, name: str, *args):
    store, ex = inst(wat)
    return ex[name](store, *args)


@pytest.fixture(params=["structured", "flat"])
def mode(request, monkeypatch):
    """Run a test in both translations."""
    monkeypatch.setattr(compile_mod, "FORCE_FLAT", request.param == "flat")
    return request.param


# ---------------------------------------------------------------- blocks and branches

NESTED = """
(module
  (func (export "depth") (param i32) (result i32)
    (block $a (result i32)
      (block $b (result i32)
        (block $c (result i32)
          (drop (br_if $a (i32.const 100) (i32.eq (local.get 0) (i32.const 0))))
          (drop (br_if $b (i32.const 200) (i32.eq (local.get 0) (i32.const 1))))
          (drop (br_if $c (i32.const 300) (i32.eq (local.get 0) (i32.const 2))))
          (i32.const 400))
        (i32.add (i32.const 1)))
      (i32.add (i32.const 10))))
)"""


@pytest.mark.parametrize("arg,expected", [(0, 100), (1, 210), (2, 311), (3, 411)])
def test_nested_blocks_with_values(mode, arg, expected):
    assert call(NESTED, "depth", arg) == expected


BR_TABLE = """
(module
  (func (export "sw") (param i32) (result i32)
    (local $r i32)
    (block $d
      (block $c2
        (block $c1
          (block $c0
            (br_table $c0 $c1 $c2 $c1 $d (local.get 0)))
          (local.set $r (i32.const 10)) (br $d))
        (local.set $r (i32.const 11)))          ;; falls through into c2's code
      (local.set $r (i32.add (local.get $r) (i32.const 100))))
    (local.get $r))
  (func (export "ret") (param i32) (result i32)
    (block $b (result i32)
      (br_table $b 1 $b (i32.const 7) (local.get 0)))
    (i32.const 1000) (i32.add))
  (func (export "multi") (param i32) (result i32 i32)
    (block $b (result i32 i32)
      (br_table $b 1 (i32.const 1) (i32.const 2) (local.get 0)))
    (i32.const 10) (i32.add))
  (func (export "big") (param i32) (result i32)
    (block $x (block $y (block $z
      (br_table $x $y $z $x $y $z $x $y $z $x $y $z $x $y $z $x $y $z $x $y $z $z (local.get 0)))
      (return (i32.const 3)))
      (return (i32.const 2)))
    (i32.const 1))
)"""


@pytest.mark.parametrize("arg,expected", [(0, 10), (1, 111), (2, 100), (3, 111), (4, 0), (99, 0),
                                          (-1, 0)])
def test_br_table_ladder(mode, arg, expected):
    assert call(BR_TABLE, "sw", arg) == expected


@pytest.mark.parametrize("arg,expected", [(0, 1007), (1, 7), (2, 1007), (5, 1007)])
def test_br_table_to_function(mode, arg, expected):
    assert call(BR_TABLE, "ret", arg) == expected


@pytest.mark.parametrize("arg,expected", [(0, [1, 12]), (1, [1, 2]), (7, [1, 2])])
def test_br_table_multi_value(mode, arg, expected):
    assert call(BR_TABLE, "multi", arg) == expected


@pytest.mark.parametrize("arg", range(25))
def test_br_table_many_entries(mode, arg):
    expected = [1, 2, 3][arg % 3] if arg < 21 else 3
    assert call(BR_TABLE, "big", arg) == expected


LOOPS = """
(module
  (func (export "sum") (param i32) (result i32)
    (local $i i32) (local $s i32)
    (block $done
      (loop $top
        (br_if $done (i32.ge_u (local.get $i) (local.get 0)))
        (local.set $s (i32.add (local.get $s) (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $top)))
    (local.get $s))
  (func (export "nested") (param i32) (result i32)
    (local $i i32) (local $j i32) (local $n i32)
    (local.set $i (i32.const 1))
    (loop $outer
      (local.set $j (i32.const 0))
      (loop $inner
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        ;; skip to the next outer iteration when j == i
        (if (i32.eq (local.get $j) (local.get $i)) (then
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $outer (i32.lt_u (local.get $i) (local.get 0)))
          (return (local.get $n))))
        (br $inner)))
    (unreachable))
  (func (export "params") (param i32) (result i32)
    ;; a loop with a parameter: count down, accumulating in the loop value
    (i32.const 0) (local.get 0)
    (loop $l (param i32 i32) (result i32)
      (local.tee 0)          ;; stack: acc counter
      (i32.add)              ;; acc + counter
      (local.get 0) (i32.const 1) (i32.sub) (local.tee 0)
      (br_if $l (local.get 0))
      (drop))
    )
)"""


@pytest.mark.parametrize("n,expected", [(0, 0), (1, 0), (10, 45), (1000, 499500)])
def test_loop_sum(mode, n, expected):
    assert call(LOOPS, "sum", n) == expected


@pytest.mark.parametrize("n", [2, 5, 10])
def test_nested_loops_continue_outer(mode, n):
    # inner runs i times for i = 1..n-1, plus the final pass
    assert call(LOOPS, "nested", n) == wasmtime_call(LOOPS, "nested", n) == sum(range(1, n))


def test_loop_with_params(mode):
    assert call(LOOPS, "params", 4) == 4 + 3 + 2 + 1
    assert call(LOOPS, "params", 1) == 1


IFS = """
(module
  (func (export "sel") (param i32 i32) (result i32)
    (if (result i32) (local.get 0)
      (then (if (result i32) (local.get 1) (then (i32.const 1)) (else (i32.const 2))))
      (else (if (result i32) (local.get 1) (then (i32.const 3)) (else (i32.const 4))))))
  (func (export "ifparam") (param i32) (result i32)
    (i32.const 5) (i32.const 6)
    (if (param i32 i32) (result i32) (local.get 0)
      (then (i32.add))
      (else (i32.sub))))
  (func (export "brout") (param i32) (result i32)
    (block $b (result i32)
      (if (local.get 0) (then (br $b (i32.const 77))))
      (i32.const 88)))
)"""


def test_if_else_nested(mode):
    got = [call(IFS, "sel", a, b) for a in (1, 0) for b in (5, 0)]
    assert got == [1, 2, 3, 4]


def test_if_with_params(mode):
    assert call(IFS, "ifparam", 1) == 11
    assert call(IFS, "ifparam", 0) == -1


def test_branch_out_of_if(mode):
    assert call(IFS, "brout", 1) == 77
    assert call(IFS, "brout", 0) == 88


def _deep_blocks(n: int) -> str:
    body = "(local.get 0)"
    for i in range(n):
        body = (f"(block $b{i} (result i32) (drop (br_if $b{i} (i32.const {i}) "
                f"(i32.eq (local.get 0) (i32.const {i})))) {body})")
    return f'(module (func (export "f") (param i32) (result i32) {body}))'


def test_deep_block_nesting_stays_structured():
    """150 nested blocks: too deep for Python loops, fine as dissolved labels."""
    wat = _deep_blocks(150)
    for arg in (0, 7, 149, 150, 1000):
        assert call(wat, "f", arg) == arg
    m = decode_module(wasmtime.wat2wasm(wat))
    src = function_source(m, 0)
    assert src.count("while True") <= 2


def _deep_loops(n: int) -> str:
    inner = "(local.set 1 (i32.add (local.get 1) (i32.const 1)))"
    for i in range(n):
        inner = (f"(loop $l{i} {inner} (br_if $l{i} (i32.lt_u (local.get 1) (i32.const {i + 1}))))")
    return (f'(module (func (export "f") (param i32) (result i32) (local i32) {inner} '
            f'(local.get 1)))')


def test_deep_loop_nesting_falls_back_to_flat():
    """40 nested loops exceed CPython's 20 nested blocks: the flat mode takes over."""
    wat = _deep_loops(40)
    engine = Engine()
    store = Store(engine)
    module = Module(engine, wasmtime.wat2wasm(wat))
    f = Instance(store, module, []).exports(store)["f"]
    expected = wasmtime_call(wat, "f", 0)
    assert f(store, 0) == expected
    assert module._code.get(0).flat


# ---------------------------------------------------------------- values and calls

MULTI = """
(module
  (func $swap (param i32 i32) (result i32 i32) (local.get 1) (local.get 0))
  (func (export "swap") (param i32 i32) (result i32 i32) (call $swap (local.get 0) (local.get 1)))
  (func (export "sub3") (param i32 i32) (result i32)
    (call $swap (local.get 0) (local.get 1)) (i32.sub))
  (func (export "mixed") (result i64 f32 f64 i32)
    (i64.const -1) (f32.const 1.5) (f64.const -2.25) (i32.const 7))
)"""


def test_multi_value_calls(mode):
    assert call(MULTI, "swap", 1, 2) == [2, 1]
    assert call(MULTI, "sub3", 10, 3) == -7
    assert call(MULTI, "mixed") == [-1, 1.5, -2.25, 7]


ORDER = """
(module
  (global $g (mut i32) (i32.const 1))
  (memory 1)
  (func $bump (result i32) (global.set $g (i32.add (global.get $g) (i32.const 10))) (i32.const 0))
  (func (export "global_before_call") (result i32)
    (i32.add (global.get $g) (call $bump)))
  (func (export "tee_order") (param i32) (result i32)
    (i32.sub (local.get 0) (local.tee 0 (i32.const 5))))
  (func (export "load_before_store") (result i32)
    (i32.store (i32.const 0) (i32.const 41))
    (i32.load (i32.const 0))
    (i32.store (i32.const 0) (i32.const 99))
    (i32.add (i32.const 1)))
  (func (export "trap_before_store") (param i32)
    ;; the division traps before the store happens
    (i32.store (i32.const 8) (i32.div_u (i32.const 1) (local.get 0))))
  (func (export "peek") (result i32) (i32.load (i32.const 8)))
)"""


def test_evaluation_order(mode):
    store, ex = inst(ORDER)
    assert ex["global_before_call"](store) == 1
    assert ex["tee_order"](store, 9) == 4
    assert ex["load_before_store"](store) == 42
    with pytest.raises(Trap) as e:
        ex["trap_before_store"](store, 0)
    assert e.value.code is TrapCode.INTEGER_DIVISION_BY_ZERO
    assert ex["peek"](store) == 0
    ex["trap_before_store"](store, 1)
    assert ex["peek"](store) == 1


# ---------------------------------------------------------------- traps

TRAPS = """
(module
  (type $v (func))
  (type $i (func (result i32)))
  (memory 1)
  (table 4 funcref)
  (elem (i32.const 0) $v $i)
  (func $v)
  (func $i (result i32) (i32.const 1))
  (func (export "unreachable") (unreachable))
  (func (export "div0") (param i32) (result i32) (i32.div_s (i32.const 1) (local.get 0)))
  (func (export "overflow") (result i32) (i32.div_s (i32.const 0x80000000) (i32.const -1)))
  (func (export "load") (param i32) (result i32) (i32.load offset=4 (local.get 0)))
  (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "store") (param i32) (i64.store (local.get 0) (i64.const -1)))
  (func (export "byte") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "ci") (param i32) (result i32) (call_indirect (type $i) (local.get 0)))
  (func (export "tget") (param i32) (result funcref) (table.get (local.get 0)))
  (func (export "trunc") (param f64) (result i32) (i32.trunc_f64_s (local.get 0)))
)"""


@pytest.mark.parametrize("name,args,message", [
    ("unreachable", (), "unreachable"),
    ("div0", (0,), "integer divide by zero"),
    ("overflow", (), "integer overflow"),
    ("load", (65533,), "out of bounds memory access"),
    ("load", (-1,), "out of bounds memory access"),
    ("load8", (65536,), "out of bounds memory access"),
    ("store", (65529,), "out of bounds memory access"),
    ("ci", (0,), "indirect call type mismatch"),
    ("ci", (2,), "uninitialized element"),
    ("ci", (4,), "undefined element"),
    ("tget", (4,), "out of bounds table access"),
    ("trunc", (float("nan"),), "invalid conversion to integer"),
    ("trunc", (3e9,), "integer overflow"),
])
def test_traps(mode, name, args, message):
    store, ex = inst(TRAPS)
    with pytest.raises(Trap) as e:
        ex[name](store, *args)
    assert str(e.value).startswith(message)


def test_store_out_of_bounds_writes_nothing(mode):
    store, ex = inst(TRAPS)
    with pytest.raises(Trap):
        ex["store"](store, 65530)  # 6 bytes in bounds, 2 out
    assert [ex["byte"](store, 65530 + i) for i in range(6)] == [0] * 6
    assert ex["ci"](store, 1) == 1


# ---------------------------------------------------------------- memory

MEM = """
(module
  (memory (export "mem") 1 3)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (func (export "rw") (param i32 i32) (result i32)
    (i32.store (local.get 0) (local.get 1)) (i32.load (local.get 0)))
  (func (export "f32rt") (param i32) (result i32)
    ;; an f32 signalling NaN stored and loaded keeps its bits
    (f32.store (i32.const 0) (f32.reinterpret_i32 (local.get 0)))
    (i32.reinterpret_f32 (f32.load (i32.const 0))))
  (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "s8") (param i32) (result i32) (i32.load8_s (local.get 0)))
  (func (export "s16") (param i32) (result i64) (i64.load16_s (local.get 0)))
)"""


def test_memory_grow_and_access(mode):
    store, ex = inst(MEM)
    assert ex["size"](store) == 1
    assert ex["rw"](store, 65532, 123) == 123
    assert ex["grow"](store, 1) == 1
    assert ex["rw"](store, 131068, -5) == -5
    assert ex["grow"](store, 5) == -1
    assert ex["grow"](store, 1) == 2
    assert ex["size"](store) == 3
    assert ex["mem"].data_len(store) == 3 * 65536


def test_f32_nan_bits_survive_memory(mode):
    store, ex = inst(MEM)
    for bits in (0x7FA00001, 0xFF800001, 0x7FC00000, 0x3F800000):
        got = ex["f32rt"](store, bits - (1 << 32) if bits & 0x80000000 else bits)
        assert got & 0xFFFFFFFF == bits


def test_bulk_memory(mode):
    store, ex = inst(MEM)
    ex["fill"](store, 10, 0xAB, 4)
    ex["copy"](store, 12, 10, 4)
    assert bytes(ex["mem"].read(store, 10, 18)) == bytes([0xAB] * 6 + [0, 0])
    with pytest.raises(Trap):
        ex["fill"](store, 65535, 1, 2)
    assert ex["s8"](store, 10) == -85
    assert ex["s16"](store, 10) == -21589


# ---------------------------------------------------------------- generated source

EVIL = r"""
(module
  (import "os; import sys" "system(\"x\")" (func $__import__ (param i32)))
  (memory 1)
  (data (i32.const 0) "__import__('os').system('boom')")
  (global $exec (mut i32) (i32.const 0))
  (func $eval (export "eval(\"1\")") (param $__builtins__ i32) (result i32)
    (global.set $exec (local.get $__builtins__))
    (call $__import__ (i32.const 1))
    (f64.const nan:0x4) (drop)
    (i32.const 1))
)"""

_ALLOWED = re.compile(
    r"^(?:[lsfFgGMmTtEDk]\d+|K\d+_\d+|k|fx|Trap|Exhaustion|C_UNREACHABLE|C_OOF|C_INT|raw|data|"
    r"drop|call|tid|"
    r"grow_raw|clear|len|float|R32|SQRT|[A-Z]\d+|U16|S16|U32|S32|U64|S64|UD|P16|P32|P64|PD|[a-z0-9_]+)$"
)


@pytest.mark.parametrize("fuel,epochs", [(False, False), (True, False), (False, True),
                                         (True, True)])
def test_source_contains_nothing_from_the_module(fuel: bool, epochs: bool):
    m = decode_module(wasmtime.wat2wasm(EVIL))
    src = function_source(m, 1, fuel=fuel, epochs=epochs)
    for word in ("os", "system", "boom", "eval", "exec", "__builtins__", "__import__", "import"):
        assert word not in re.findall(r"[A-Za-z_]\w*", src), word
    assert '"' not in src and "'" not in src
    names = set(re.findall(r"[A-Za-z_]\w*", src)) - set(keyword.kwlist)
    assert all(_ALLOWED.match(n) for n in names), names


def test_function_source_of_import_is_an_error():
    m = decode_module(wasmtime.wat2wasm(EVIL))
    with pytest.raises(IndexError):
        function_source(m, 0)


def test_generated_source_is_inspectable():
    m = decode_module(wasmtime.wat2wasm(LOOPS))
    src = function_source(m, 0)
    assert src.startswith("def f0(l0, d):")
    assert "while True:" in src
    compile(src, "<test>", "exec")


# ---------------------------------------------------------------- differential vs wasmtime

def wasmtime_call(wat: str, name: str, *args):
    store = wasmtime.Store()
    inst_ = wasmtime.Instance(store, wasmtime.Module(store.engine, wat), [])
    return inst_.exports(store)[name](store, *args)


_BINOPS = ["add", "sub", "mul", "div_s", "div_u", "rem_s", "rem_u", "and", "or", "xor", "shl",
           "shr_s", "shr_u", "rotl", "rotr", "eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s",
           "le_u", "ge_s", "ge_u"]
_UNOPS = ["eqz", "clz", "ctz", "popcnt", "extend8_s", "extend16_s"]
_I64_ONLY_UNOPS = ["extend32_s"]


_CMPS = {"eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u", "eqz"}


def _typed(ty: str, op: str, args: str) -> str:
    """An op application; i64 comparisons (which give i32) are extended back to i64."""
    e = f"({ty}.{op} {args})"
    return f"(i64.extend_i32_u {e})" if ty == "i64" and op in _CMPS else e


def _expr(ty: str):
    leaf = st.one_of(
        st.integers(-(2 ** 31), 2 ** 31 - 1).map(lambda v: f"({ty}.const {v})"),
        st.sampled_from(["(local.get 0)", "(local.get 1)"]),
    )

    def extend(children):
        return st.one_of(
            st.tuples(st.sampled_from(_BINOPS), children, children).map(
                lambda t: _typed(ty, t[0], f"{t[1]} {t[2]}")),
            st.tuples(st.sampled_from(_UNOPS + (_I64_ONLY_UNOPS if ty == "i64" else [])),
                      children).map(lambda t: _typed(ty, t[0], t[1])),
            st.tuples(children, children, children).map(
                lambda t: f"(select {t[0]} {t[1]} ({ty}.eqz {t[2]}))"),
        )

    return st.recursive(leaf, extend, max_leaves=12)


def _outcome(fn):
    try:
        return ("ok", fn())
    except (Trap, wasmtime.Trap) as e:
        msg = str(e)
        for known in ("divide by zero", "integer overflow"):
            if known in msg:
                return ("trap", known)
        return ("trap", msg)


@settings(max_examples=60, deadline=None)
@given(ty=st.sampled_from(["i32", "i64"]), data=st.data())
def test_integer_expressions_match_wasmtime(ty, data):
    expr = data.draw(_expr(ty))
    a = data.draw(st.integers(-(2 ** 31), 2 ** 31 - 1))
    b = data.draw(st.integers(-(2 ** 31), 2 ** 31 - 1))
    wat = (f'(module (func (export "f") (param {ty} {ty}) (result {ty}) '
           f'(local {ty}) (local.set 2 {expr}) (local.get 2)))')
    ours = _outcome(lambda: call(wat, "f", a, b))
    theirs = _outcome(lambda: wasmtime_call(wat, "f", a, b))
    assert ours == theirs, wat


# ---------------------------------------------------------------- deep nesting

def _nested_ifs(n: int) -> str:
    body = "(local.get 1)"
    for i in range(n):
        body = (f"(if (result i32) (i32.ge_u (local.get 0) (i32.const {i})) "
                f"(then (local.set 1 (i32.add (local.get 1) (i32.const 1))) {body}) "
                f"(else (i32.const {i})))")
    return f'(module (func (export "f") (param i32) (result i32) (local i32) {body}))'


@pytest.mark.parametrize("n", [1500])
def test_very_deep_nesting_compiles(n):
    """Nesting far past CPython's limits (and Python's recursion limit) still runs."""
    for wat, args in ((_deep_blocks(n), (0, n // 2, n + 5)), (_nested_ifs(n), (0, 7, n + 1))):
        engine = Engine()
        store = Store(engine)
        module = Module(engine, wasmtime.wat2wasm(wat))
        f = Instance(store, module, []).exports(store)["f"]
        for a in args:
            assert f(store, a) == wasmtime_call(wat, "f", a)


def _many_br_ifs(n: int) -> str:
    checks = " ".join(f"(br_if $out (i32.eq (local.get 0) (i32.const {i}))) "
                      f"(local.set 1 (i32.add (local.get 1) (i32.const {i + 1})))" for i in range(n))
    return (f'(module (func (export "f") (param i32) (result i32) (local i32) '
            f'(block $out {checks}) (local.get 1)))')


@pytest.mark.parametrize("nesting", [0, 3, 8])
def test_many_conditional_branches_in_one_segment(nesting, monkeypatch):
    import wasmbox.exec.control as control
    monkeypatch.setattr(control, "ELSE_NESTING", nesting)
    wat = _many_br_ifs(30)
    store, ex = inst(wat)
    for a in (0, 1, 15, 29, 30, 1000):
        assert ex["f"](store, a) == sum(range(1, min(a, 30) + 1))


# ---------------------------------------------------------------- temporaries

TEMPS = """
(module
  (memory 1)
  (func (export "sel") (param i32 i32) (result i32)
    ;; trapping select operands, the result kept lazily under more work
    (i32.add
      (select (i32.load (local.get 0)) (i32.div_u (i32.const 100) (local.get 1)) (local.get 1))
      (i32.add (i32.const 1) (i32.load (i32.const 4)))))
  (func (export "divs") (param f64) (result f64)
    (f64.add
      (f64.div (f64.const 8) (f64.add (local.get 0) (f64.const 1)))
      (f64.div (f64.const 4) (f64.add (local.get 0) (f64.const 4)))))
)"""


def test_temporaries_are_not_clobbered(mode):
    store, ex = inst(TEMPS)
    assert ex["sel"](store, 0, 7) == 1
    with pytest.raises(Trap, match="integer divide by zero"):
        ex["sel"](store, 0, 0)  # both select operands are evaluated
    assert ex["divs"](store, 1.0) == 8 / 2 + 4 / 5
    assert ex["divs"](store, -1.0) == float("inf")


# ---------------------------------------------------------------- floats vs wasmtime

_F_BIN = ["add", "sub", "mul", "div", "min", "max", "copysign"]
_F_UN = ["abs", "neg", "sqrt", "ceil", "floor", "trunc", "nearest"]
_SPECIAL_COMMON = ["0", "-0", "1.5", "-2.75", "inf", "-inf", "nan", "-nan:0x1", "0x1p-149",
                   "0x1.fffffep+127", "3.4028235e38", "0.1"]
_SPECIAL = {"f32": _SPECIAL_COMMON + ["0x1.000002p+0"],
            "f64": _SPECIAL_COMMON + ["1e300", "0x1p-1074", "0x1.0000001p+0"]}


def _fexpr(ty: str):
    leaf = st.one_of(st.sampled_from(_SPECIAL[ty]).map(lambda v: f"({ty}.const {v})"),
                     st.sampled_from(["(local.get 0)", "(local.get 1)"]))

    def extend(children):
        other = "f64" if ty == "f32" else "f32"
        conv = "demote_f64" if ty == "f32" else "promote_f32"
        return st.one_of(
            st.tuples(st.sampled_from(_F_BIN), children, children).map(
                lambda t: f"({ty}.{t[0]} {t[1]} {t[2]})"),
            st.tuples(st.sampled_from(_F_UN), children).map(lambda t: f"({ty}.{t[0]} {t[1]})"),
            st.sampled_from(_SPECIAL[other]).map(lambda v: f"({ty}.{conv} ({other}.const {v}))"),
            children.map(lambda c: f"({ty}.convert_i32_s (i32.trunc_sat_{ty}_s {c}))"),
        )

    return st.recursive(leaf, extend, max_leaves=10)


def _bits(ty: str, v: float) -> object:
    import struct

    if v != v:
        return "nan"
    return struct.pack("<f" if ty == "f32" else "<d", v)


@settings(max_examples=60, deadline=None)
@given(ty=st.sampled_from(["f32", "f64"]), data=st.data())
def test_float_expressions_match_wasmtime(ty, data):
    expr = data.draw(_fexpr(ty))
    a = data.draw(st.sampled_from([0.0, -0.0, 1.25, -3.5, 1e-40, 7.0e37, float("inf")]))
    b = data.draw(st.sampled_from([0.0, 2.0, -0.5, 1e-45, float("-inf"), 123456.789]))
    wat = (f'(module (func (export "f") (param {ty} {ty}) (result {ty}) '
           f'(local {ty}) (local.set 2 {expr}) (local.get 2)))')
    if ty == "f32":
        import struct

        a, b = (struct.unpack("<f", struct.pack("<f", x))[0] for x in (a, b))
    ours = call(wat, "f", a, b)
    theirs = wasmtime_call(wat, "f", a, b)
    assert _bits(ty, ours) == _bits(ty, theirs), wat


SLOTS = """
(module
  (func $f (result i32) (i32.const 10))
  (func $g (result i32) (i32.const 100))
  (func $f32 (result f32) (f32.const 0.5))
  (func (export "calls") (param i32) (result i32)
    (i32.add (i32.add (local.get 0) (call $f)) (call $g)))
  (func (export "deep") (param i32) (result i32)
    (i32.mul (i32.sub (i32.add (local.get 0) (call $f)) (call $g))
             (i32.add (call $f) (i32.add (call $g) (call $f)))))
  (func (export "f32") (param f32) (result f32)
    (f32.add (f32.min (local.get 0) (f32.demote_f64 (f64.const 0)))
             (f32.add (f32.const 0) (f32.const 1.5))))
  (func (export "f32call") (param f32) (result f32)
    (f32.mul (f32.add (local.get 0) (call $f32)) (f32.sub (call $f32) (f32.const 2))))
)"""


def test_slot_written_twice_under_a_lazy_expression(mode):
    """An expression reading s1 must be evaluated before s1 is reused."""
    store, ex = inst(SLOTS)
    assert ex["calls"](store, 1) == wasmtime_call(SLOTS, "calls", 1) == 111
    assert ex["deep"](store, 5) == wasmtime_call(SLOTS, "deep", 5)
    assert ex["f32"](store, 1.25) == wasmtime_call(SLOTS, "f32", 1.25) == 1.5
    assert ex["f32call"](store, 1.0) == wasmtime_call(SLOTS, "f32call", 1.0)


# ---------------------------------------------------------------- programs vs wasmtime

def _program_expr():
    leaf = st.one_of(
        st.integers(-(2 ** 31), 2 ** 31 - 1).map(lambda v: f"(i32.const {v})"),
        st.sampled_from(["(local.get 0)", "(local.get 1)", "(local.get 2)", "(global.get $g)"]),
    )

    def extend(c):
        return st.one_of(
            st.tuples(st.sampled_from(["add", "sub", "mul", "div_u", "rem_s", "xor", "shl",
                                       "shr_s", "lt_s", "eq", "rotl"]), c, c).map(
                lambda t: f"(i32.{t[0]} {t[1]} {t[2]})"),
            c.map(lambda e: f"(call $side {e})"),
            st.tuples(st.sampled_from([1, 2]), c).map(lambda t: f"(local.tee {t[0]} {t[1]})"),
            c.map(lambda e: f"(i32.load (i32.and {e} (i32.const 252)))"),
            st.tuples(c, c, c).map(lambda t: f"(block (result i32) (drop (br_if 0 {t[0]} {t[1]})) {t[2]})"),
            st.tuples(c, c, c).map(lambda t: f"(if (result i32) {t[0]} (then {t[1]}) (else {t[2]}))"),
            st.tuples(c, c, c).map(lambda t: f"(select {t[0]} {t[1]} {t[2]})"),
            st.tuples(c, c).map(lambda t: f"(block (result i32) (i32.store (i32.and {t[0]} (i32.const 252)) {t[1]}) {t[1]})"),
        )

    return st.recursive(leaf, extend, max_leaves=14)


PROGRAM = """
(module
  (memory 1)
  (global $g (mut i32) (i32.const 7))
  (func $side (param i32) (result i32)
    (global.set $g (i32.add (i32.mul (global.get $g) (i32.const 31)) (local.get 0)))
    (i32.xor (local.get 0) (global.get $g)))
  (func (export "f") (param i32 i32) (result i32) (local i32)
    (local.set 2 {e1})
    (i32.store (i32.and {e2} (i32.const 252)) {e3})
    (i32.add (i32.add (local.get 2) {e4}) (i32.add (global.get $g) (i32.load (i32.const 8))))))
"""


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_programs_match_wasmtime(data):
    parts = {k: data.draw(_program_expr()) for k in ("e1", "e2", "e3", "e4")}
    wat = PROGRAM.format(**parts)
    a = data.draw(st.integers(-(2 ** 31), 2 ** 31 - 1))
    b = data.draw(st.integers(-8, 300))
    ours = _outcome(lambda: call(wat, "f", a, b))
    theirs = _outcome(lambda: wasmtime_call(wat, "f", a, b))
    assert ours == theirs, wat
