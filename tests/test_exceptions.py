"""Exception handling (issue 10, part 4): tags, throw, try_table, legacy try, the API.

Every module runs in both translations (structured and flat): the ``mode``
fixture sets ``FORCE_FLAT`` and each test makes its own Engine, so that no
compiled code is shared between the two. Fuel after a throw and a catch is
compared with wasmtime-py (``Config.wasm_exceptions``).
"""
from __future__ import annotations

import pytest
import wasmtime

from wasmbox import (
    Config,
    Engine,
    Exhaustion,
    Func,
    FuncType,
    Instance,
    Linker,
    Module,
    Store,
    Tag,
    TagType,
    Trap,
    TrapCode,
    ValType,
    WasmException,
)
from wasmbox.errors import LinkError, ValidationError
from wasmbox.exec import compile as compile_mod
from wasmbox.exec.compile import function_source
from wasmbox.text.parse import parse_module


@pytest.fixture(params=["structured", "flat"])
def mode(request, monkeypatch):
    """Run a test in both translations."""
    monkeypatch.setattr(compile_mod, "FORCE_FLAT", request.param == "flat")
    return request.param


def instance(wat: str, imports: list | None = None, config: Config | None = None):
    engine = Engine(config or Config())
    store = Store(engine)
    inst = Instance(store, Module(engine, wat), imports or [])
    return store, inst.exports(store)


KINDS = """
(module
  (tag $e0)
  (tag $ei (param i32))
  (tag $e2 (param i64 f64))
  (tag $ef (param f32))
  (func $throw (param i32)
    (if (i32.eq (local.get 0) (i32.const 0)) (then (throw $e0)))
    (if (i32.eq (local.get 0) (i32.const 1)) (then (throw $ei (i32.const -7))))
    (if (i32.eq (local.get 0) (i32.const 2)) (then (throw $e2 (i64.const -2) (f64.const 2.5))))
    (if (i32.eq (local.get 0) (i32.const 3)) (then (throw $ef (f32.const 1.5)))))
  ;; which clause caught: 10 + payload for catch, 20 for catch_ref, 30/40 for catch_all(_ref)
  (func (export "kinds") (param i32) (result i64)
    (local $x exnref)
    (block $all (result exnref)
      (block $any
        (block $ref (result i32 exnref)
          (block $two (result i64 f64)
            (block $one (result i32)
              (try_table (catch $ei $one) (catch $e2 $two) (catch_ref $ei $ref)
                         (catch $e0 $any) (catch_all_ref $all)
                (call $throw (local.get 0)))
              (return (i64.const -1)))
            (i64.extend_i32_s) (i64.const 10) (i64.add) (return))
          (drop) (i64.const 100) (i64.add) (return))
        (drop) (drop) (return (i64.const 20)))
      (return (i64.const 30)))
    (local.set $x)
    (if (ref.is_null (local.get $x)) (then (return (i64.const -2))))
    (i64.const 40))
  (func (export "ref-first") (param i32) (result i32)
    (block $r (result i32 exnref)
      (try_table (catch_ref $ei $r) (call $throw (local.get 0)))
      (return (i32.const -1)))
    (drop))
  (func (export "float") (result f32)
    (block $h (result f32)
      (try_table (catch $ef $h) (call $throw (i32.const 3)))
      (f32.const 0)))
)
"""


def test_every_kind_of_catch(mode):
    store, ex = instance(KINDS)
    assert ex["kinds"](store, 1) == 10 - 7  # catch $ei: the payload
    assert ex["kinds"](store, 2) == 100 - 2  # catch $e2: two values (i64, f64)
    assert ex["kinds"](store, 0) == 30  # catch $e0 with no payload (catch_ref $ei is shadowed)
    assert ex["kinds"](store, 3) == 40  # catch_all_ref: a non-null exnref
    assert ex["kinds"](store, 9) == -1  # nothing thrown
    assert ex["ref-first"](store, 1) == -7  # catch_ref: payload then exnref
    assert ex["float"](store) == 1.5


def test_first_matching_clause_wins_and_no_match_propagates(mode):
    wat = """(module (tag $a) (tag $b)
      (func (export "f") (param i32) (result i32)
        (block $x (block $y (block $z
          (try_table (catch $a $x) (catch $a $y) (catch_all $z)
            (if (local.get 0) (then (throw $a)) (else (throw $b)))))
          (return (i32.const 3)))
          (return (i32.const 2)))
        (i32.const 1))
      (func (export "g") (result i32)
        (block $x (try_table (catch $a $x) (throw $b))) (i32.const 0)))"""
    store, ex = instance(wat)
    assert ex["f"](store, 1) == 1
    assert ex["f"](store, 0) == 3
    with pytest.raises(WasmException):
        ex["g"](store)


DEEP = """
(module
  (tag $e (param i32))
  (func $leaf (param i32) (throw $e (local.get 0)))
  (func $mid (param i32) (call $leaf (i32.add (local.get 0) (i32.const 1))))
  (func $top (param i32) (call $mid (i32.mul (local.get 0) (i32.const 10))))
  (func $rethrower (param i32)
    (block $h (result exnref)
      (try_table (catch_all_ref $h) (call $top (local.get 0)))
      (return))
    (throw_ref))
  (func (export "deep") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h) (call $rethrower (local.get 0)))
      (i32.const -1)))
  (func (export "legacy") (param i32) (result i32)
    (try (result i32)
      (do (try (result i32)
            (do (call $top (local.get 0)) (i32.const -1))
            (catch_all (rethrow 0))))
      (catch $e)))
  (func (export "loop") (param i32) (result i32)
    (local $n i32)
    (loop $again
      (block $h (result i32)
        (try_table (catch $e $h) (call $top (local.get $n)))
        (unreachable))
      (local.set $n)
      (br_if $again (i32.lt_u (local.get $n) (local.get 0))))
    (local.get $n))
)
"""


def test_rethrow_through_several_frames(mode):
    store, ex = instance(DEEP)
    assert ex["deep"](store, 4) == 41
    assert ex["legacy"](store, 7) == 71
    assert ex["loop"](store, 1000) == 1111  # 0 -> 1 -> 11 -> 111 -> 1111


def test_uncaught_exception_reaches_python_with_tag_and_values(mode):
    wat = """(module (tag $e (export "e") (param i32 i64 f32 f64 externref))
      (func (export "f") (param externref)
        (throw $e (i32.const -1) (i64.const 5) (f32.const 0.5) (f64.const -2) (local.get 0))))"""
    store, ex = instance(wat)
    marker = object()
    with pytest.raises(WasmException) as info:
        ex["f"](store, marker)
    e = info.value
    assert isinstance(e, Trap)  # wasmtime-style `except Trap` still sees it
    assert e.code is TrapCode.UNCAUGHT_EXCEPTION
    assert e.message == "uncaught exception" and str(e) == "uncaught exception"
    assert e.tag is ex["e"] and e.tag.eq(store, ex["e"])
    assert e.values == [-1, 5, 0.5, -2.0, marker]
    assert e.payload == (0xFFFFFFFF, 5, 0.5, -2.0, marker)


def test_tag_api():
    engine = Engine()
    store = Store(engine)
    ft = FuncType([ValType.i32(), ValType.f64()], [])
    tt = TagType(ft)
    assert tt.functype == ft
    tag = Tag(store, tt)
    assert tag.type(store) == tt and tag.type(store).functype.params == ft.params
    assert tag.eq(store, tag) and not tag.eq(store, Tag(store, tt))
    with pytest.raises(ValueError):
        TagType(FuncType([], [ValType.i32()]))
    with pytest.raises(TypeError):
        TagType(ValType.i32())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Tag(store, ft)  # type: ignore[arg-type]
    m = Module(engine, '(module (tag (import "m" "u") (param f32)) (tag (export "t") (param i32)))')
    assert [e.type for e in m.exports] == [TagType(FuncType([ValType.i32()], []))]
    assert m.imports[0].type == TagType(FuncType([ValType.f32()], []))


def test_host_tags_link_by_identity_and_type(mode):
    engine = Engine()
    store = Store(engine)
    t_i32 = Tag(store, TagType(FuncType([ValType.i32()], [])))
    wat = """(module (tag $t (import "h" "t") (param i32)) (tag $mine (param i32))
      (func (export "throw") (param i32) (throw $t (local.get 0)))
      (func (export "catch-own") (result i32)
        (block $h (result i32) (try_table (catch $mine $h) (call 0 (i32.const 1))) (i32.const 0))))"""
    linker = Linker(engine)
    linker.define(store, "h", "t", t_i32)
    ex = linker.instantiate(store, Module(engine, wat)).exports(store)
    with pytest.raises(WasmException) as info:
        ex["throw"](store, 9)
    assert info.value.tag is t_i32 and info.value.values == [9]
    with pytest.raises(WasmException):  # a tag of the same type is another tag
        ex["catch-own"](store)
    wrong = Tag(store, TagType(FuncType([ValType.i64()], [])))
    linker.define(store, "h2", "t", wrong)
    with pytest.raises(LinkError, match="incompatible import type"):
        linker.instantiate(store, Module(engine, wat.replace('"h"', '"h2"')))


def test_imported_tags_are_the_exporters_object(mode):
    engine = Engine()
    store = Store(engine)
    a = Instance(store, Module(engine, '(module (tag (export "e")) (func (export "f") (throw 0)))'), [])
    e, f = a.exports(store)["e"], a.exports(store)["f"]
    b = Instance(store, Module(engine, """(module (tag $e (import "a" "e")) (func $f (import "a" "f"))
      (func (export "g") (result i32)
        (block $h (try_table (catch $e $h) (call $f)) (return (i32.const 0))) (i32.const 1)))"""),
                 [e, f])
    assert b.exports(store)["g"](store) == 1
    # a second instance of the same module has tags of its own
    a2 = Instance(store, Module(engine, '(module (tag (export "e")) (func (export "f") (throw 0)))'), [])
    assert a2.exports(store)["e"] is not e
    b2 = Instance(store, b._module, [e, a2.exports(store)["f"]])
    with pytest.raises(WasmException) as info:
        b2.exports(store)["g"](store)
    assert info.value.tag is a2.exports(store)["e"]


HOST = """
(module
  (tag $e (import "h" "tag") (param i32))
  (func $host (import "h" "f") (param i32) (result i32))
  (func (export "call") (param i32) (result i32)
    (block $h (result i32)
      (try_table (result i32) (catch $e $h) (call $host (local.get 0)))
      (i32.const 1000) (i32.add)))
  (func (export "all") (param i32) (result i32)
    (block $h
      (try_table (catch_all $h) (drop (call $host (local.get 0))))
      (return (i32.const 0)))
    (i32.const 1))
  (func (export "throw") (param i32) (result i32) (throw $e (local.get 0)))
)
"""


def _host_setup(fn):
    engine = Engine()
    store = Store(engine)
    tag = Tag(store, TagType(FuncType([ValType.i32()], [])))
    f = Func(store, FuncType([ValType.i32()], [ValType.i32()]), fn)
    ex = Instance(store, Module(engine, HOST), [tag, f]).exports(store)
    return store, tag, ex


def test_host_function_throws_a_wasm_exception(mode):
    box: dict = {}

    def host(x: int) -> int:
        if x < 0:
            raise WasmException(box["tag"], [x * 2])
        return x

    store, tag, ex = _host_setup(host)
    box["tag"] = tag
    assert ex["call"](store, 5) == 1005
    assert ex["call"](store, -4) == -8  # caught by the guest's catch $e, payload converted
    assert ex["all"](store, -1) == 1
    with pytest.raises(TypeError):
        WasmException(tag, [1, 2])  # the tag carries one value
    with pytest.raises(TypeError):
        WasmException(tag, ["x"])


def test_exceptions_cross_host_frames_both_ways(mode):
    box: dict = {}

    def host(x: int) -> int:
        # Wasm -> host -> Wasm: the inner exception passes through this frame
        return box["ex"]["throw"](box["store"], x + 1)

    store, tag, ex = _host_setup(host)
    box.update(ex=ex, store=store)
    assert ex["call"](store, 41) == 42  # thrown by the inner call, caught by the outer
    with pytest.raises(WasmException) as info:
        ex["throw"](store, 3)
    assert info.value.values == [3]

    def catching_host(x: int) -> int:
        try:
            box["ex"]["throw"](box["store"], x)
        except WasmException as e:  # the host may catch it too
            return e.values[0] * 3
        return -1

    store, tag, ex = _host_setup(catching_host)
    box.update(ex=ex, store=store)
    assert ex["call"](store, 5) == 1015  # the host returned normally


def test_python_exceptions_of_host_functions_are_never_caught(mode):
    class Boom(Exception):
        pass

    def host(x: int) -> int:
        raise Boom("no")

    store, tag, ex = _host_setup(host)
    with pytest.raises(Boom):
        ex["all"](store, 1)  # catch_all does not see it
    with pytest.raises(Boom):
        ex["call"](store, 1)

    def trapping(x: int) -> int:
        raise Trap(TrapCode.UNREACHABLE)

    store, tag, ex = _host_setup(trapping)
    with pytest.raises(Trap) as info:
        ex["all"](store, 1)
    assert info.value.code is TrapCode.UNREACHABLE and not isinstance(info.value, WasmException)


TRAPS = """
(module
  (tag $e)
  (memory 1)
  (func $rec (param i32) (result i32) (call $rec (i32.add (local.get 0) (i32.const 1))))
  (func $spin (loop $l (br $l)))
  (func (export "t") (param i32) (result i32)
    (block $h
      (try_table (catch_all $h)
        (if (i32.eq (local.get 0) (i32.const 0)) (then unreachable))
        (if (i32.eq (local.get 0) (i32.const 1)) (then (drop (i32.div_s (i32.const 1) (i32.const 0)))))
        (if (i32.eq (local.get 0) (i32.const 2)) (then (drop (i32.load (i32.const 70000)))))
        (if (i32.eq (local.get 0) (i32.const 3)) (then (drop (call $rec (i32.const 0)))))
        (if (i32.eq (local.get 0) (i32.const 4)) (then (call $spin))))
      (return (i32.const 0)))
    (i32.const 1))
  (func (export "legacy") (param i32) (result i32)
    (try (result i32) (do (if (local.get 0) (then unreachable)) (i32.const 0))
      (catch_all (i32.const 1))))
)
"""


def test_traps_are_never_caught(mode):
    store, ex = instance(TRAPS)
    expect = [TrapCode.UNREACHABLE, TrapCode.INTEGER_DIVISION_BY_ZERO,
              TrapCode.MEMORY_OUT_OF_BOUNDS]
    for arg, code in enumerate(expect):
        with pytest.raises(Trap) as info:
            ex["t"](store, arg)
        assert info.value.code is code
    with pytest.raises(Exhaustion):
        ex["t"](store, 3)
    with pytest.raises(Trap) as info:
        ex["legacy"](store, 1)
    assert info.value.code is TrapCode.UNREACHABLE
    assert ex["t"](store, 9) == 0


def test_out_of_fuel_and_interrupts_are_never_caught(mode):
    store, ex = instance(TRAPS, config=Config(consume_fuel=True))
    store.set_fuel(10_000)
    with pytest.raises(Trap) as info:
        ex["t"](store, 4)
    assert info.value.code is TrapCode.OUT_OF_FUEL
    store, ex = instance(TRAPS, config=Config(epoch_interruption=True))
    store.set_epoch_deadline(1)
    store.engine.increment_epoch()
    with pytest.raises(Trap) as info:
        ex["t"](store, 4)
    assert info.value.code is TrapCode.INTERRUPT


def test_exnref_round_trip_through_the_host(mode):
    wat = """(module (tag $e (export "e") (param i32))
      (func (export "catch") (param i32) (result exnref)
        (block $h (result exnref)
          (try_table (catch_all_ref $h) (throw $e (local.get 0)))
          (unreachable)))
      (func (export "rethrow") (param exnref) (throw_ref (local.get 0)))
      (func (export "recatch") (param exnref) (result i32)
        (block $h (result i32)
          (try_table (catch $e $h) (throw_ref (local.get 0)))
          (unreachable))))"""
    store, ex = instance(wat)
    exn = ex["catch"](store, 17)
    assert isinstance(exn, WasmException) and exn.values == [17] and exn.tag is ex["e"]
    assert ex["recatch"](store, exn) == 17
    with pytest.raises(WasmException) as info:
        ex["rethrow"](store, exn)
    assert info.value is exn  # the same exception object: exnref identity
    with pytest.raises(Trap) as info:
        ex["rethrow"](store, None)
    assert info.value.message == "null exception reference"
    with pytest.raises(TypeError):
        ex["rethrow"](store, 5)
    host_made = WasmException(ex["e"], [3])
    assert ex["recatch"](store, host_made) == 3


def test_legacy_delegate_and_catch_bodies(mode):
    wat = """(module (tag $a) (tag $b (param i32))
      (func $thrower (param i32) (if (local.get 0) (then (throw $b (local.get 0))) (else (throw $a))))
      (func (export "skip") (param i32) (result i32)
        (try $t (result i32)
          (do (try (result i32)
                (do (try (result i32) (do (call $thrower (local.get 0)) (i32.const 0)) (delegate $t)))
                (catch_all (i32.const -1))))
          (catch $b (i32.const 100) (i32.add))
          (catch_all (i32.const 7))))
      (func (export "to-caller") (param i32)
        (try (do (try (do (call $thrower (local.get 0))) (delegate 1))) (catch_all)))
      (func (export "in-catch") (param i32) (result i32)
        ;; an exception thrown in a catch body is not caught by the same try
        (try (result i32)
          (do (try (result i32)
                (do (call $thrower (local.get 0)) (i32.const 0))
                (catch $b (drop) (throw $a))
                (catch $a (i32.const 5))))
          (catch $a (i32.const 9)))))"""
    store, ex = instance(wat)
    assert ex["skip"](store, 3) == 103
    assert ex["skip"](store, 0) == 7
    with pytest.raises(WasmException):
        ex["to-caller"](store, 1)
    assert ex["in-catch"](store, 1) == 9
    assert ex["in-catch"](store, 0) == 5


def test_branches_out_of_try_bodies_and_handlers(mode):
    wat = """(module (tag $e (param i32))
      (func (export "f") (param i32) (result i32)
        (local $i i32) (local $acc i32)
        (loop $l
          (block $next
            (block $h (result i32)
              (try_table (catch $e $h)
                (block $a (block $b (block $c
                  (br_table $a $b $c $next (i32.rem_u (local.get $i) (i32.const 4))))
                  (throw $e (local.get $i)))
                  (local.set $acc (i32.add (local.get $acc) (i32.const 1000))) (br $next))
                (local.set $acc (i32.add (local.get $acc) (i32.const 1))))
              (br $next))
            (local.set $acc (i32.add (local.get $acc))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (local.get 0))))
        (local.get $acc)))"""
    store, ex = instance(wat)
    # i%4 == 0: +1, 1: +1000, 2: +i (caught), 3: nothing
    assert ex["f"](store, 8) == 2 + 2000 + (2 + 6)


def test_deep_nesting_falls_back_to_flat():
    depth = 30  # more try statements than CPython nests
    body = "(throw $e (i32.const 5))"
    for _ in range(depth):
        body = f"(block $h (result i32) (try_table (catch $e $h) {body}) (i32.const 0)) (drop)"
    wat = f"""(module (tag $e (param i32))
      (func (export "f") (result i32)
        (block $o (result i32) (try_table (result i32) (catch $e $o) {body} (i32.const 1)))))"""
    store, ex = instance(wat)
    assert ex["f"](store) == 1
    src = function_source(parse_module(wat), 0)
    assert "hx = " in src and src.count("try:") == 1  # flat: one try, contexts in hx


def test_a_try_that_never_throws_adds_only_the_try_statement():
    wat = """(module (tag $e)
      (func (export "f") (param i32) (result i32)
        (block $h (try_table (result i32) (catch $e $h) (i32.add (local.get 0) (i32.const 1)))
          (return))
        (i32.const 0)))"""
    src = function_source(parse_module(wat), 0)
    assert "try:" in src and "except WXE as x1:" in src
    store, ex = instance(wat)
    assert ex["f"](store, 1) == 2


def test_validation_messages():
    def invalid(wat: str, message: str) -> None:
        with pytest.raises(ValidationError) as info:
            Module(Engine(), wat)
        assert info.value.message.startswith(message), info.value.message

    invalid("(module (tag (param i32)) (func (throw 0)))",
            "type mismatch: instruction requires [i32] but stack has []")
    invalid("(module (func (throw 0)))", "unknown tag 0")
    invalid("(module (type (func (result i32))) (tag (type 0)))", "non-empty tag result type")
    invalid("(module (tag) (func (try_table (catch_ref 0 0))))", "type mismatch")
    invalid("(module (func (result exnref) (try_table (catch_all 0)) (unreachable)))",
            "type mismatch")
    invalid("(module (func (block (rethrow 0))))", "invalid rethrow label")
    invalid("(module (func (try (do) (delegate 1))))", "unknown label")
    invalid("(module (func (throw_ref)))", "type mismatch")
    invalid("(module (func (try (do) (catch_all (i32.const 42)))))",
            "type mismatch: block requires [] but stack has [i32]")


# -------------------------------------------------------------------- fuel

FUEL = """
(module
  (tag $e (param i32))
  (tag $f)
  (func $thrower (param i32) (if (local.get 0) (then (throw $e (i32.add (local.get 0) (i32.const 1))))))
  (func (export "run") (param i32) (result i32)
    (block $h (result i32)
      (try_table (result i32) (catch $e $h)
        (call $thrower (local.get 0))
        (i32.const 7) (i32.const 8) (i32.add))
      (i32.const 100) (i32.add)
      (return))
    (i32.const 1000) (i32.add))
  (func (export "ref") (param i32) (result i32)
    (block $h (result exnref)
      (try_table (catch_all_ref $h) (throw $f))
      (unreachable))
    (drop)
    (block $h2 (result i32 exnref)
      (try_table (catch_ref $e $h2) (call $thrower (local.get 0)))
      (i32.const 5) (return))
    (drop))
  (func (export "loop") (param i32) (result i32)
    (local $n i32)
    (loop $l
      (block $h (result i32)
        (try_table (catch $e $h) (call $thrower (i32.const 1)))
        (unreachable))
      (drop)
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $n) (local.get 0))))
    (local.get $n))
  (func (export "nested") (param i32) (result i32)
    (block $o (result i32)
      (try_table (result i32) (catch $e $o)
        (block $h
          (try_table (catch $f $h) (call $thrower (local.get 0)))
          (i32.const 1) (return))
        (i32.const 2))))
)
"""


def _wasmtime_fuel(name: str, arg: int, fuel: int) -> tuple:
    cfg = wasmtime.Config()
    cfg.consume_fuel = True
    cfg.wasm_exceptions = True
    engine = wasmtime.Engine(cfg)
    store = wasmtime.Store(engine)
    inst = wasmtime.Instance(store, wasmtime.Module(engine, FUEL), [])
    store.set_fuel(fuel)
    try:
        out = ("ok", inst.exports(store)[name](store, arg))
    except wasmtime.Trap as e:
        out = ("trap", str(e.trap_code))
    return out, store.get_fuel()


def _wasmbox_fuel(name: str, arg: int, fuel: int) -> tuple:
    store, ex = instance(FUEL, config=Config(consume_fuel=True))
    store.set_fuel(fuel)
    try:
        out = ("ok", ex[name](store, arg))
    except Trap as e:
        assert e.code is TrapCode.OUT_OF_FUEL
        out = ("trap", "TrapCode.OUT_OF_FUEL")
    return out, store.get_fuel()


@pytest.mark.parametrize("name,arg", [("run", 0), ("run", 5), ("ref", 0), ("ref", 3),
                                      ("loop", 5), ("nested", 0), ("nested", 4)])
def test_fuel_after_throw_and_catch_matches_wasmtime(mode, name, arg):
    big = _wasmtime_fuel(name, arg, 10_000)
    assert big == _wasmbox_fuel(name, arg, 10_000)
    used = 10_000 - big[1]
    assert used > 0
    for fuel in range(max(0, used - 3), used + 2):  # running out around the throw, too
        a, b = _wasmtime_fuel(name, arg, fuel), _wasmbox_fuel(name, arg, fuel)
        assert a[0][0] == b[0][0] and a[1] == b[1], (fuel, a, b)
