"""memory64 and table64: 64-bit addresses, offsets, sizes and table indices.

The edges that matter are where Python ints and the 64-bit address space
disagree: effective addresses are ``address + offset`` without wrap-around
(up to 2^65 - 2), so an access whose end passes the memory's size traps even
when the sum would wrap to a small number in 64 bits; addresses of 2^63 and
more must trap like any other out-of-bounds access (``struct`` raises
``OverflowError`` for them, which must never escape); ``memory.grow`` and
``table.grow`` take and return i64 (-1 = 2^64 - 1 on failure).
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wasmbox import Engine, Instance, LinkError, Linker, Module, Store, Trap, ValidationError
from wasmbox.syntax import module as sm
from wasmbox.syntax import types as ty
from wasmbox.valid import validate_module

PAGE = 65536
U64 = (1 << 64) - 1
OOB = "out of bounds memory access"


def instance(wat: str, store: Store | None = None):
    """(store, exports) of a module given as text."""
    engine = Engine() if store is None else store.engine
    store = Store(engine) if store is None else store
    inst = Instance(store, Module(engine, wat), [])
    return store, inst.exports(store)


def call(store: Store, exports, name: str, *args):
    return exports[name](store, *args)


def traps(store: Store, exports, name: str, *args, message: str = OOB) -> None:
    with pytest.raises(Trap) as ei:
        exports[name](store, *args)
    assert ei.value.message.startswith(message), ei.value.message


# --------------------------------------------------------------- loads and stores

ACCESS = """
(module
  (memory (export "mem") i64 1 4)
  (func (export "ld8") (param i64) (result i32) (i32.load8_u (local.get 0)))
  (func (export "ld16") (param i64) (result i32) (i32.load16_u (local.get 0)))
  (func (export "ld32") (param i64) (result i32) (i32.load (local.get 0)))
  (func (export "ld64") (param i64) (result i64) (i64.load (local.get 0)))
  (func (export "ldf32") (param i64) (result f32) (f32.load (local.get 0)))
  (func (export "ldf64") (param i64) (result f64) (f64.load (local.get 0)))
  (func (export "ld64s32") (param i64) (result i64) (i64.load32_s (local.get 0)))
  (func (export "st8") (param i64 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "st16") (param i64 i32) (i32.store16 (local.get 0) (local.get 1)))
  (func (export "st32") (param i64 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "st64") (param i64 i64) (i64.store (local.get 0) (local.get 1)))
  (func (export "stf32") (param i64 f32) (f32.store (local.get 0) (local.get 1)))
  (func (export "stf64") (param i64 f64) (f64.store (local.get 0) (local.get 1)))
  ;; the largest offset there is
  (func (export "ld8_maxoff") (param i64) (result i32)
    (i32.load8_u offset=0xFFFFFFFFFFFFFFFF (local.get 0)))
  (func (export "ld64_maxoff") (param i64) (result i64)
    (i64.load offset=0xFFFFFFFFFFFFFFFF (local.get 0)))
  (func (export "st32_maxoff") (param i64 i32)
    (i32.store offset=0xFFFFFFFFFFFFFFFF (local.get 0) (local.get 1)))
  ;; offset 2^63: the first effective address struct cannot take
  (func (export "ldf64_off63") (param i64) (result f64)
    (f64.load offset=0x8000000000000000 (local.get 0)))
  (func (export "ld32_off") (param i64) (result i32) (i32.load offset=65532 (local.get 0)))
  ;; constant addresses (folded at compile time)
  (func (export "ld32_const_top") (result i32) (i32.load (i64.const -1)))
  (func (export "ld32_const_63") (result i32) (i32.load (i64.const 0x8000000000000000)))
  (func (export "ld32_const_wrap") (result i32)
    (i32.load offset=0xFFFFFFFFFFFFFFFF (i64.const 1)))
  (func (export "ld32_const_end") (result i32) (i32.load (i64.const 65532)))
  (func (export "st64_const_top") (i64.store (i64.const -1) (i64.const 1)))
  (func (export "size") (result i64) (memory.size))
  (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0)))
)
"""

WIDTHS = {"8": 1, "16": 2, "32": 4, "64": 8, "f32": 4, "f64": 8}


@pytest.fixture()
def acc():
    return instance(ACCESS)


def test_roundtrip_every_width_at_both_ends(acc):
    s, ex = acc
    for w, n in WIDTHS.items():
        for addr in (0, PAGE - n):
            if w.startswith("f"):
                call(s, ex, "st" + w, addr, 1.5)
                assert call(s, ex, "ld" + w, addr) == 1.5
            else:
                v = (1 << (8 * n)) - 2
                call(s, ex, "st" + w, addr, v if n < 8 else -2)
                got = call(s, ex, "ld" + w, addr)
                assert got == (v if n < 4 else -2), (w, addr, got)


def test_little_endian_layout(acc):
    s, ex = acc
    call(s, ex, "st64", 8, 0x0102030405060708)
    mem = ex["mem"]
    assert bytes(mem.read(s, 8, 16)) == bytes([8, 7, 6, 5, 4, 3, 2, 1])
    assert call(s, ex, "ld16", 8) == 0x0708
    assert call(s, ex, "ld64s32", 12) == 0x01020304


def test_one_past_the_end_traps_for_every_width(acc):
    s, ex = acc
    for w, n in WIDTHS.items():
        traps(s, ex, "ld" + w, PAGE - n + 1)
        traps(s, ex, "ld" + w, PAGE)
        args = (1.0,) if w.startswith("f") else (1,)
        with pytest.raises(Trap):
            call(s, ex, "st" + w, PAGE - n + 1, *args)


@pytest.mark.parametrize("addr", [1 << 32, (1 << 63) - 1, 1 << 63, (1 << 63) + 1, U64 - 7, U64])
def test_huge_addresses_trap_and_never_raise_anything_else(acc, addr):
    s, ex = acc
    for w, n in WIDTHS.items():
        traps(s, ex, "ld" + w, addr)
        args = (1.0,) if w.startswith("f") else (1,)
        with pytest.raises(Trap) as ei:
            call(s, ex, "st" + w, addr, *args)
        assert ei.value.message.startswith(OOB)


def test_offset_is_added_without_wrap_around(acc):
    s, ex = acc
    # addr + offset would wrap to a small in-bounds address in 64 bits
    for addr in (0, 1, 2, 9, PAGE, U64):
        traps(s, ex, "ld8_maxoff", addr)
        traps(s, ex, "ld64_maxoff", addr)
        with pytest.raises(Trap):
            call(s, ex, "st32_maxoff", addr, 7)
    for addr in (0, 1 << 62, 1 << 63):
        traps(s, ex, "ldf64_off63", addr)
    traps(s, ex, "ld32_const_top")
    traps(s, ex, "ld32_const_63")
    traps(s, ex, "ld32_const_wrap")
    with pytest.raises(Trap):
        call(s, ex, "st64_const_top")
    assert call(s, ex, "ld32_const_end") == 0
    # a trapping store changed nothing
    assert bytes(ex["mem"].read(s, 0, 16)) == bytes(16)


def test_offset_edge_of_memory(acc):
    s, ex = acc
    call(s, ex, "st32", PAGE - 4, 0x11223344)
    assert call(s, ex, "ld32_off", 0) == 0x11223344
    traps(s, ex, "ld32_off", 1)
    traps(s, ex, "ld32_off", U64)


def test_size_and_grow_are_i64(acc):
    s, ex = acc
    assert call(s, ex, "size") == 1
    assert call(s, ex, "grow", 0) == 1
    for huge in (1 << 32, 1 << 48, 1 << 63, U64):
        assert call(s, ex, "grow", huge) == -1
        assert call(s, ex, "size") == 1
    assert call(s, ex, "grow", 3) == 1          # to the maximum, 4 pages
    assert call(s, ex, "size") == 4
    assert call(s, ex, "grow", 1) == -1         # one past it
    assert call(s, ex, "size") == 4
    # the grown pages read as zero and are addressable right to the new end
    assert call(s, ex, "ld64", 4 * PAGE - 8) == 0
    call(s, ex, "st64", 4 * PAGE - 8, -1)
    assert call(s, ex, "ld64", 4 * PAGE - 8) == -1
    traps(s, ex, "ld8", 4 * PAGE)


def test_grow_inside_a_function_then_access():
    s, ex = instance("""
    (module
      (memory i64 0)
      (func (export "f") (result i64)
        (drop (memory.grow (i64.const 2)))
        (i64.store (i64.const 131064) (i64.const 42))
        (i64.load (i64.const 131064))))
    """)
    assert call(s, ex, "f") == 42


@settings(max_examples=150, deadline=None)
@given(addr=st.one_of(st.integers(0, 2 * PAGE), st.integers(0, U64)),
       w=st.sampled_from(sorted(WIDTHS)))
def test_loads_trap_exactly_past_the_end(addr, w):
    s, ex = _SHARED
    n = WIDTHS[w]
    if addr + n <= PAGE:
        call(s, ex, "ld" + w, addr)
    else:
        traps(s, ex, "ld" + w, addr)


_SHARED = instance(ACCESS)


# --------------------------------------------------------------- bulk memory

BULK = """
(module
  (memory (export "mem") i64 1)
  (data $d "\\01\\02\\03\\04")
  (func (export "fill") (param i64 i32 i64) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy") (param i64 i64 i64) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "init") (param i64 i32 i32) (memory.init $d (local.get 0) (local.get 1) (local.get 2)))
  (func (export "ld8") (param i64) (result i32) (i32.load8_u (local.get 0)))
)
"""


def test_bulk_memory_with_i64_operands():
    s, ex = instance(BULK)
    mem = ex["mem"]
    call(s, ex, "fill", PAGE - 3, 0xAB, 3)
    assert bytes(mem.read(s, PAGE - 3, PAGE)) == b"\xab" * 3
    for d, n in ((PAGE - 3, 4), (U64, 1), (1, U64), (U64, U64), (1 << 63, 1)):
        traps(s, ex, "fill", d, 0xCD, n)
    call(s, ex, "fill", PAGE, 0, 0)                   # zero bytes at the end: fine
    traps(s, ex, "fill", PAGE + 1, 0, 0)              # ... one past: not
    call(s, ex, "init", 10, 0, 4)
    assert bytes(mem.read(s, 10, 14)) == b"\x01\x02\x03\x04"
    traps(s, ex, "init", U64, 0, 1)
    traps(s, ex, "init", PAGE - 2, 0, 4)
    call(s, ex, "copy", 11, 10, 4)                    # overlapping, memmove semantics
    assert bytes(mem.read(s, 10, 15)) == b"\x01\x01\x02\x03\x04"
    for d, src, n in ((U64, 0, 1), (0, U64, 1), (0, 0, U64), (1 << 63, 0, 0), (0, PAGE - 1, 2)):
        traps(s, ex, "copy", d, src, n)
    # nothing partial was written by the failures
    assert mem.read(s, PAGE - 3, PAGE) == bytearray(b"\xab" * 3)
    assert call(s, ex, "ld8", 0) == 0


def test_copy_between_32_and_64_bit_memories():
    s, ex = instance("""
    (module
      (memory $m32 (export "m32") 1)
      (memory $m64 (export "m64") i64 1)
      (data (memory $m32) (i32.const 0) "abcd")
      (func (export "to64") (param i64 i32 i32) (memory.copy $m64 $m32 (local.get 0) (local.get 1) (local.get 2)))
      (func (export "to32") (param i32 i64 i32) (memory.copy $m32 $m64 (local.get 0) (local.get 1) (local.get 2))))
    """)
    call(s, ex, "to64", PAGE - 4, 0, 4)
    assert bytes(ex["m64"].read(s, PAGE - 4, PAGE)) == b"abcd"
    call(s, ex, "to32", 100, PAGE - 4, 4)
    assert bytes(ex["m32"].read(s, 100, 104)) == b"abcd"
    traps(s, ex, "to64", U64, 0, 1)
    traps(s, ex, "to32", 0, U64, 1)


def test_copy_between_32_and_64_bit_memories_takes_an_i32_length():
    head = "(module (memory $a 1) (memory $b i64 1) (func "
    validate(head + "(memory.copy $a $b (i32.const 0) (i64.const 0) (i32.const 0))))")
    validate(head + "(memory.copy $b $a (i64.const 0) (i32.const 0) (i32.const 0))))")
    invalid(head + "(memory.copy $b $a (i64.const 0) (i32.const 0) (i64.const 0))))", "type mismatch")
    invalid(head + "(memory.copy $a $b (i64.const 0) (i64.const 0) (i32.const 0))))", "type mismatch")
    validate("(module (memory i64 1) (func (memory.copy (i64.const 0) (i64.const 0) (i64.const 0))))")


# --------------------------------------------------------------- data segments

def test_data_segment_offsets_are_i64():
    s, ex = instance("""
    (module (memory (export "mem") i64 1)
      (data (i64.const 65534) "xy"))
    """)
    assert bytes(ex["mem"].read(s, PAGE - 2, PAGE)) == b"xy"
    engine = Engine()
    store = Store(engine)
    for off in ("65535", "-1", "0x8000000000000000"):
        m = Module(engine, f'(module (memory i64 1) (data (i64.const {off}) "xy"))')
        with pytest.raises(Trap) as ei:
            Instance(store, m, [])
        assert ei.value.message.startswith(OOB)
    invalid('(module (memory i64 1) (data (i32.const 0) "x"))', "type mismatch")
    invalid('(module (memory 1) (data (i64.const 0) "x"))', "type mismatch")


# --------------------------------------------------------------- validation

def validate(wat: str) -> None:
    Module(Engine(), wat)


def invalid(wat: str, message: str) -> None:
    with pytest.raises(ValidationError) as ei:
        Module(Engine(), wat)
    assert ei.value.message.startswith(message), ei.value.message


def _mem_module(limits: ty.Limits, body: list[sm.Instr] | None = None) -> sm.Module:
    m = sm.Module(mems=[sm.Memory(ty.MemType(limits))])
    if body is not None:
        m.types = [ty.RecType((ty.SubType(ty.FuncType()),))]
        m.funcs = [sm.Func(0, [], body)]
    return m


def test_address_operands_must_be_i64():
    invalid("(module (memory i64 1) (func (drop (i32.load (i32.const 0)))))", "type mismatch")
    invalid("(module (memory i64 1) (func (i32.store (i32.const 0) (i32.const 0))))", "type mismatch")
    invalid("(module (memory i64 1) (func (drop (memory.grow (i32.const 0)))))", "type mismatch")
    invalid("(module (memory i64 1) (func (result i32) (memory.size)))", "type mismatch")
    invalid("(module (memory i64 1) (func (memory.fill (i64.const 0) (i64.const 0) (i64.const 0))))",
            "type mismatch")  # the value is an i32
    invalid("(module (memory 1) (func (drop (i32.load (i64.const 0)))))", "type mismatch")
    invalid("(module (memory i64 1) (data $d \"\") "
            "(func (memory.init $d (i64.const 0) (i64.const 0) (i32.const 0))))", "type mismatch")
    validate("(module (memory i64 1) (data $d \"\") "
             "(func (memory.init $d (i64.const 0) (i32.const 0) (i32.const 0))))")


def test_offset_ranges():
    load = lambda off: [sm.Instr("i64.const", (0,)),  # noqa: E731
                        sm.Instr("i64.load", (sm.MemArg(3, off, 0),)), sm.Instr("drop")]
    validate_module(_mem_module(ty.Limits(1, addr=ty.AddrType.I64), load(U64)))
    with pytest.raises(ValidationError, match="offset out of range"):
        validate_module(_mem_module(ty.Limits(1, addr=ty.AddrType.I64), load(1 << 64)))
    load32 = [sm.Instr("i32.const", (0,)), sm.Instr("i64.load", (sm.MemArg(3, 1 << 32, 0),)),
              sm.Instr("drop")]
    with pytest.raises(ValidationError, match="offset out of range"):
        validate_module(_mem_module(ty.Limits(1), load32))


def test_memory64_size_limits():
    validate("(module (memory i64 0 0x1_0000_0000_0000))")
    validate("(module (memory i64 0x1_0000_0000))")   # valid, just never instantiated here
    invalid("(module (memory i64 0x1_0000_0000_0001))", "memory size must be at most")
    invalid("(module (memory i64 0 0x1_0000_0000_0001))", "memory size must be at most")
    invalid("(module (memory i64 2 1))", "size minimum must not be greater than maximum")


def test_import_address_type_must_match():
    engine = Engine()
    store = Store(engine)
    linker = Linker(engine)
    src = Instance(store, Module(engine, '(module (memory (export "m32") 1) '
                                         '(memory (export "m64") i64 1) '
                                         '(table (export "t32") 1 funcref) '
                                         '(table (export "t64") i64 1 funcref))'), [])
    linker.define_instance(store, "src", src)
    linker.instantiate(store, Module(engine, '(module (import "src" "m64" (memory i64 1)))'))
    linker.instantiate(store, Module(engine, '(module (import "src" "t64" (table i64 1 funcref)))'))
    for wat in ('(module (import "src" "m32" (memory i64 1)))',
                '(module (import "src" "m64" (memory 1)))',
                '(module (import "src" "t32" (table i64 1 funcref)))',
                '(module (import "src" "t64" (table 1 funcref)))'):
        with pytest.raises(LinkError, match="incompatible import type"):
            linker.instantiate(store, Module(engine, wat))


# --------------------------------------------------------------- table64

TABLES = """
(module
  (type $ii (func (param i32) (result i32)))
  (table $t (export "t") i64 3 10 funcref)
  (table $u i32 3 funcref)
  (elem (table $t) (i64.const 1) func $double $inc)
  (func $double (type $ii) (i32.mul (local.get 0) (i32.const 2)))
  (func $inc (type $ii) (i32.add (local.get 0) (i32.const 1)))
  (func (export "call") (param i64 i32) (result i32)
    (call_indirect $t (type $ii) (local.get 1) (local.get 0)))
  (func (export "size") (result i64) (table.size $t))
  (func (export "grow") (param i64) (result i64) (table.grow $t (ref.null func) (local.get 0)))
  (func (export "is_null") (param i64) (result i32) (ref.is_null (table.get $t (local.get 0))))
  (func (export "clear") (param i64) (table.set $t (local.get 0) (ref.null func)))
  (func (export "fill") (param i64 i64) (table.fill $t (local.get 0) (ref.func $inc) (local.get 1)))
  (func (export "copy") (param i64 i64 i64) (table.copy $t $t (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy_to_u") (param i32 i64 i32) (table.copy $u $t (local.get 0) (local.get 1) (local.get 2)))
  (func (export "call_u") (param i32 i32) (result i32)
    (call_indirect $u (type $ii) (local.get 1) (local.get 0)))
)
"""


def test_table64_instructions():
    s, ex = instance(TABLES)
    tab_oob = "out of bounds table access"
    assert call(s, ex, "call", 1, 21) == 42
    assert call(s, ex, "call", 2, 41) == 42
    traps(s, ex, "call", 0, 1, message="uninitialized element")
    for i in (3, 1 << 32, 1 << 63, U64):
        traps(s, ex, "call", i, 1, message="undefined element")
        traps(s, ex, "is_null", i, message=tab_oob)
        traps(s, ex, "clear", i, message=tab_oob)
    assert call(s, ex, "size") == 3
    for huge in (8, 1 << 32, 1 << 63, U64):
        assert call(s, ex, "grow", huge) == -1
    assert call(s, ex, "size") == 3
    assert call(s, ex, "grow", 7) == 3            # to the maximum
    assert call(s, ex, "grow", 1) == -1
    assert call(s, ex, "size") == 10
    call(s, ex, "fill", 5, 5)
    assert call(s, ex, "call", 9, 1) == 2
    for d, n in ((9, 2), (U64, 1), (0, U64)):
        traps(s, ex, "fill", d, n, message=tab_oob)
    call(s, ex, "copy", 0, 1, 2)                   # $double $inc to 0, 1
    assert call(s, ex, "call", 0, 5) == 10
    traps(s, ex, "copy", U64, 0, 1, message=tab_oob)
    traps(s, ex, "copy", 0, 0, U64, message=tab_oob)
    call(s, ex, "copy_to_u", 0, 0, 3)
    assert call(s, ex, "call_u", 0, 5) == 10
    traps(s, ex, "copy_to_u", 0, U64, 1, message=tab_oob)


def test_table64_validation():
    invalid("(module (table i64 1 funcref) (func (drop (table.get 0 (i32.const 0)))))", "type mismatch")
    invalid("(module (table i64 1 funcref) (func (result i32) (table.size 0)))", "type mismatch")
    invalid("(module (type (func)) (table i64 1 funcref) "
            "(func (call_indirect (type 0) (i32.const 0))))", "type mismatch")
    invalid("(module (table i64 1 funcref) (elem (i32.const 0) func))", "type mismatch")
    invalid("(module (table $a i64 1 funcref) (table $b 1 funcref) "
            "(func (table.copy $a $b (i64.const 0) (i32.const 0) (i64.const 0))))", "type mismatch")
    validate("(module (table $a i64 1 funcref) (table $b 1 funcref) "
             "(func (table.copy $a $b (i64.const 0) (i32.const 0) (i32.const 0))))")
    validate("(module (table i64 0 0xffff_ffff_ffff_ffff funcref))")
    invalid("(module (table i64 2 1 funcref))", "size minimum must not be greater than maximum")


def test_generated_source_reads_memory_from_globals_each_time():
    """Loads of a 64-bit memory clamp the address; no memory binding is cached in a local."""
    from wasmbox.exec.compile import function_source
    from wasmbox.text.parse import parse_module

    m = parse_module("""(module (memory i64 1) (memory 1)
      (func (param i64 i32) (result i64)
        (drop (memory.grow 0 (i64.const 1)))
        (i64.add (i64.load offset=8 (local.get 0)) (i64.load 1 offset=8 (local.get 1)))))""")
    src = function_source(m, 0)
    assert "min((l0 + 8), 9223372036854775807)" in src     # memory 0 is 64-bit
    assert "U64(M1, (l1 + 8))" in src                      # memory 1 is 32-bit: no clamp
    assert "= M0" not in src and "= M1" not in src
