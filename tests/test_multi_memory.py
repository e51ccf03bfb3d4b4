"""Multiple memories: the memory index on every memory instruction and on
data segments, isolation between memories, copies across them, and exports
and imports of several memories."""
from __future__ import annotations

import pytest

from wasmbox import Engine, Instance, LinkError, Linker, Module, Store, Trap, ValidationError

PAGE = 65536
OOB = "out of bounds memory access"

THREE = """
(module
  (memory $a (export "a") 1)
  (memory $b (export "b") 1 3)
  (memory $c (export "c") i64 2)
  (data (memory $a) (i32.const 0) "AAAA")
  (data (memory $b) (i32.const 0) "BBBB")
  (data (memory $c) (i64.const 0) "CCCC")
  (data $p "pass")
  (func (export "st_b") (param i32 i64) (i64.store $b (local.get 0) (local.get 1)))
  (func (export "st8_b") (param i32 i32) (i32.store8 $b (local.get 0) (local.get 1)))
  (func (export "st_c") (param i64 i64) (i64.store $c (local.get 0) (local.get 1)))
  (func (export "ld_a") (param i32) (result i64) (i64.load $a (local.get 0)))
  (func (export "ld_b") (param i32) (result i64) (i64.load $b (local.get 0)))
  (func (export "ld8_b") (param i32) (result i32) (i32.load8_u $b (local.get 0)))
  (func (export "size_a") (result i32) (memory.size $a))
  (func (export "size_b") (result i32) (memory.size $b))
  (func (export "size_c") (result i64) (memory.size $c))
  (func (export "grow_b") (param i32) (result i32) (memory.grow $b (local.get 0)))
  (func (export "fill_b") (param i32 i32 i32) (memory.fill $b (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy_ab") (param i32 i32 i32) (memory.copy $a $b (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy_ca") (param i64 i32 i32) (memory.copy $c $a (local.get 0) (local.get 1) (local.get 2)))
  (func (export "init_b") (param i32 i32 i32) (memory.init $b $p (local.get 0) (local.get 1) (local.get 2)))
  (func (export "grow_b_then_store") (param i32 i32) (result i32)
    (drop (memory.grow $b (i32.const 1)))
    (i32.store $b (i32.sub (i32.mul (memory.size $b) (i32.const 65536)) (i32.const 4)) (local.get 1))
    (i32.store $a (local.get 0) (local.get 1))
    (i32.add
      (i32.load $b (i32.sub (i32.mul (memory.size $b) (i32.const 65536)) (i32.const 4)))
      (i32.load $a (local.get 0))))
)
"""


@pytest.fixture()
def three():
    engine = Engine()
    store = Store(engine)
    ex = Instance(store, Module(engine, THREE), []).exports(store)
    return store, ex


def snapshot(store, ex, name):
    return bytes(ex[name].read(store))


def test_data_segments_go_to_their_memory(three):
    s, ex = three
    assert bytes(ex["a"].read(s, 0, 5)) == b"AAAA\0"
    assert bytes(ex["b"].read(s, 0, 5)) == b"BBBB\0"
    assert bytes(ex["c"].read(s, 0, 5)) == b"CCCC\0"


def test_a_store_into_one_memory_never_changes_another(three):
    s, ex = three
    a0, c0 = snapshot(s, ex, "a"), snapshot(s, ex, "c")
    for addr in (0, 8, PAGE - 8):
        ex["st_b"](s, addr, -1)
        assert ex["ld_b"](s, addr) == -1
        assert ex["ld_a"](s, addr) != -1
    ex["fill_b"](s, 0, 0x5A, PAGE)
    ex["init_b"](s, 100, 0, 4)
    ex["st8_b"](s, PAGE - 1, 7)
    assert snapshot(s, ex, "a") == a0
    assert snapshot(s, ex, "c") == c0
    assert snapshot(s, ex, "b")[100:104] == b"pass"
    # and the other way round
    b0 = snapshot(s, ex, "b")
    ex["st_c"](s, PAGE + 8, 12345)
    assert snapshot(s, ex, "b") == b0
    assert snapshot(s, ex, "a") == a0


def test_bounds_are_per_memory(three):
    s, ex = three
    # memory c has 2 pages, b has 1: the same address is fine in one only
    ex["st_c"](s, PAGE + 8, 1)
    with pytest.raises(Trap) as ei:
        ex["st_b"](s, PAGE + 8, 1)
    assert ei.value.message.startswith(OOB)
    with pytest.raises(Trap):
        ex["ld_b"](s, PAGE - 7)
    assert ex["ld_a"](s, PAGE - 8) == 0


def test_sizes_and_growth_are_per_memory(three):
    s, ex = three
    assert (ex["size_a"](s), ex["size_b"](s), ex["size_c"](s)) == (1, 1, 2)
    assert ex["grow_b"](s, 1) == 1
    assert (ex["size_a"](s), ex["size_b"](s), ex["size_c"](s)) == (1, 2, 2)
    assert ex["grow_b"](s, 2) == -1          # b's maximum is 3
    assert ex["grow_b"](s, 1) == 2
    assert ex["grow_b"](s, 1) == -1
    assert ex["size_a"](s) == 1
    assert ex["ld8_b"](s, 3 * PAGE - 1) == 0
    with pytest.raises(Trap):
        ex["ld_a"](s, PAGE)


def test_grow_one_memory_then_use_both_in_the_same_call(three):
    s, ex = three
    assert ex["grow_b_then_store"](s, 16, 21) == 42
    assert ex["size_b"](s) == 2
    assert bytes(ex["b"].read(s, 2 * PAGE - 4, 2 * PAGE)) == (21).to_bytes(4, "little")
    assert bytes(ex["a"].read(s, 16, 20)) == (21).to_bytes(4, "little")


def test_copy_between_memories(three):
    s, ex = three
    ex["copy_ab"](s, 10, 0, 4)
    assert bytes(ex["a"].read(s, 10, 14)) == b"BBBB"
    assert bytes(ex["b"].read(s, 10, 14)) == bytes(4)
    ex["copy_ca"](s, PAGE * 2 - 4, 10, 4)
    assert bytes(ex["c"].read(s, PAGE * 2 - 4, PAGE * 2)) == b"BBBB"
    before = snapshot(s, ex, "a")
    for d, src, n in ((PAGE - 3, 0, 4), (0, PAGE - 3, 4), (0, 0, PAGE + 1)):
        with pytest.raises(Trap) as ei:
            ex["copy_ab"](s, d, src, n)
        assert ei.value.message.startswith(OOB)
    assert snapshot(s, ex, "a") == before
    with pytest.raises(Trap):
        ex["copy_ca"](s, 2 * PAGE - 3, 0, 4)


def test_init_into_a_chosen_memory_traps_out_of_bounds(three):
    s, ex = three
    with pytest.raises(Trap):
        ex["init_b"](s, PAGE - 3, 0, 4)
    with pytest.raises(Trap):
        ex["init_b"](s, 0, 1, 4)
    assert bytes(ex["b"].read(s, PAGE - 3, PAGE)) == bytes(3)


def test_exports_and_imports_of_several_memories():
    engine = Engine()
    store = Store(engine)
    linker = Linker(engine)
    provider = linker.instantiate(store, Module(engine, THREE))
    linker.define_instance(store, "p", provider)
    user = linker.instantiate(store, Module(engine, """
    (module
      (import "p" "c" (memory $c i64 2))
      (import "p" "a" (memory $a 1))
      (memory $own 1)
      (func (export "poke") (param i32 i32)
        (i32.store $a (local.get 0) (local.get 1))
        (i32.store $c (i64.extend_i32_u (local.get 0)) (i32.add (local.get 1) (i32.const 1)))
        (i32.store $own (local.get 0) (i32.add (local.get 1) (i32.const 2))))
      (func (export "own") (param i32) (result i32) (i32.load $own (local.get 0))))
    """))
    pex = provider.exports(store)
    uex = user.exports(store)
    uex["poke"](store, 40, 100)
    assert pex["ld_a"](store, 40) == 100
    assert bytes(pex["c"].read(store, 40, 44)) == (101).to_bytes(4, "little")
    assert bytes(pex["b"].read(store, 40, 44)) == bytes(4)
    assert uex["own"](store, 40) == 102
    # imports are checked against the exporter's current size and maximum
    with pytest.raises(LinkError, match="incompatible import type"):
        linker.instantiate(store, Module(engine, '(module (import "p" "b" (memory 4)))'))
    with pytest.raises(LinkError, match="incompatible import type"):
        linker.instantiate(store, Module(engine, '(module (import "p" "b" (memory 1 2)))'))
    linker.instantiate(store, Module(engine, '(module (import "p" "b" (memory 1 3)))'))


def test_growth_through_one_instance_is_seen_by_the_other():
    engine = Engine()
    store = Store(engine)
    linker = Linker(engine)
    a = linker.instantiate(store, Module(engine, """
    (module (memory (export "m") 1) (memory (export "n") 1)
      (func (export "grow") (result i32) (memory.grow 1 (i32.const 1))))"""))
    linker.define_instance(store, "a", a)
    b = linker.instantiate(store, Module(engine, """
    (module (import "a" "m" (memory 1)) (import "a" "n" (memory 1))
      (func (export "size") (result i32) (memory.size 1))
      (func (export "st") (param i32 i32) (i32.store 1 (local.get 0) (local.get 1)))
      (func (export "ld") (param i32) (result i32) (i32.load 1 (local.get 0))))"""))
    bex = b.exports(store)
    with pytest.raises(Trap):
        bex["st"](store, PAGE, 1)
    assert a.exports(store)["grow"](store) == 1
    assert bex["size"](store) == 2
    bex["st"](store, 2 * PAGE - 4, 9)
    assert bex["ld"](store, 2 * PAGE - 4) == 9
    assert bytes(a.exports(store)["m"].read(store)) == bytes(PAGE)


def test_validation_of_memory_indices():
    engine = Engine()
    with pytest.raises(ValidationError, match="unknown memory"):
        Module(engine, "(module (memory 1) (func (drop (i32.load 1 (i32.const 0)))))")
    with pytest.raises(ValidationError, match="unknown memory"):
        Module(engine, "(module (memory 1) (func (memory.copy 0 1 (i32.const 0) (i32.const 0) (i32.const 0))))")
    with pytest.raises(ValidationError, match="unknown memory"):
        Module(engine, '(module (memory 1) (data (memory 1) (i32.const 0) ""))')
    with pytest.raises(ValidationError, match="unknown memory"):
        Module(engine, '(module (memory 1) (export "m" (memory 1)))')
    Module(engine, "(module (memory 0) (memory 0) (memory 0) (memory 0) "
                   "(func (drop (i32.load 3 (i32.const 0)))))")
