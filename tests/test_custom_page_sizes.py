"""Custom page sizes: memories with 1-byte pages next to the default 64 KiB.

``memory.size``/``memory.grow`` count pages of the memory's own size, limits
are validated against the address space divided by the page size (and an
i32 memory never has 2^32 pages), and a memory imported with another page
size does not link. The proposal is off by default (``Config.wasm_custom_page_sizes``,
as in wasmtime), so these tests use an engine that enables it.
"""
from __future__ import annotations

import pytest

from wasmbox import (
    Config,
    DecodeError,
    Engine,
    Instance,
    LinkError,
    Linker,
    Module,
    ParseError,
    Store,
    Trap,
    ValidationError,
)
from wasmbox.binary import decode_module, encode_module
from wasmbox.syntax import module as sm
from wasmbox.syntax import types as ty
from wasmbox.text.parse import parse_module
from wasmbox.valid import validate_module

OOB = "out of bounds memory access"


def cps_engine() -> Engine:
    """An engine with the custom-page-sizes proposal enabled."""
    return Engine(Config(wasm_custom_page_sizes=True))


def instance(wat: str):
    engine = cps_engine()
    store = Store(engine)
    return store, Instance(store, Module(engine, wat), []).exports(store)


def invalid(wat: str, message: str) -> None:
    with pytest.raises(ValidationError) as ei:
        Module(cps_engine(), wat)
    assert ei.value.message.startswith(message), ei.value.message


BYTE_PAGES = """
(module
  (memory (export "mem") 0 (pagesize 1))
  (func (export "size") (result i32) (memory.size))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "ld8") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "ld32") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "st8") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
)
"""


def test_pages_of_one_byte_grow_by_bytes():
    s, ex = instance(BYTE_PAGES)
    assert ex["size"](s) == 0
    with pytest.raises(Trap):
        ex["ld8"](s, 0)
    assert ex["grow"](s, 1) == 0
    assert ex["size"](s) == 1
    assert ex["ld8"](s, 0) == 0
    with pytest.raises(Trap) as ei:
        ex["ld32"](s, 0)                      # 4 bytes in a 1-byte memory
    assert ei.value.message.startswith(OOB)
    assert ex["grow"](s, 3) == 1
    assert ex["size"](s) == 4
    assert ex["ld32"](s, 0) == 0
    with pytest.raises(Trap):
        ex["ld32"](s, 1)
    ex["st8"](s, 3, 0x7F)
    assert ex["ld8"](s, 3) == 0x7F
    assert ex["mem"].data_len(s) == 4
    assert ex["mem"].size(s) == 4
    assert ex["grow"](s, 70000) == 4          # more than a 64 KiB page, in bytes
    assert ex["size"](s) == 70004
    assert ex["ld8"](s, 70003) == 0
    ex["fill"](s, 70000, 1, 4)
    with pytest.raises(Trap):
        ex["fill"](s, 70001, 1, 4)
    assert bytes(ex["mem"].read(s, 69999, 70004)) == b"\0\1\1\1\1"


def test_byte_pages_respect_the_maximum():
    s, ex = instance("""
    (module (memory 2 5 (pagesize 1))
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
      (func (export "ld8") (param i32) (result i32) (i32.load8_u (local.get 0))))""")
    assert ex["grow"](s, 4) == -1
    assert ex["grow"](s, 3) == 2              # to the maximum, 5 bytes
    assert ex["grow"](s, 1) == -1             # one past
    assert ex["grow"](s, 0) == 5
    assert ex["ld8"](s, 4) == 0
    with pytest.raises(Trap):
        ex["ld8"](s, 5)


def test_an_i32_memory_of_byte_pages_never_reaches_2_to_the_32_pages():
    s, ex = instance("""
    (module (memory 1 (pagesize 1))
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
      (func (export "size") (result i32) (memory.size)))""")
    # 1 + (2^32 - 1) pages would be 2^32: memory.size could not return it
    assert ex["grow"](s, 0xFFFFFFFF) == -1
    assert ex["size"](s) == 1


def test_default_page_size_written_out():
    s, ex = instance("""
    (module (memory 0 (pagesize 65536))
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
      (func (export "size") (result i32) (memory.size)))""")
    assert ex["grow"](s, 65537) == -1
    assert ex["grow"](s, 1) == 0
    assert ex["size"](s) == 1


def test_inline_data_sizes_the_memory_in_its_pages():
    s, ex = instance("""
    (module (memory (export "mem") (pagesize 1) (data "xyz"))
      (func (export "size") (result i32) (memory.size))
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))""")
    assert ex["size"](s) == 3
    assert ex["grow"](s, 1) == -1             # min = max = 3
    assert bytes(ex["mem"].read(s)) == b"xyz"
    s, ex = instance('(module (memory (pagesize 65536) (data "xyz")) '
                     '(func (export "size") (result i32) (memory.size)))')
    assert ex["size"](s) == 1


def test_data_segments_are_checked_to_the_byte():
    engine = cps_engine()
    store = Store(engine)
    Instance(store, Module(engine, '(module (memory 4 (pagesize 1)) (data (i32.const 1) "abc"))'), [])
    with pytest.raises(Trap) as ei:
        Instance(store, Module(engine, '(module (memory 4 (pagesize 1)) (data (i32.const 2) "abc"))'), [])
    assert ei.value.message.startswith(OOB)


def test_copy_between_memories_of_different_page_sizes():
    s, ex = instance("""
    (module
      (memory $small (export "small") 10 (pagesize 1))
      (memory $large (export "large") 1)
      (data (memory $small) (i32.const 0) "\\11\\22\\33\\44")
      (func (export "s2l") (param i32 i32 i32) (memory.copy $large $small (local.get 0) (local.get 1) (local.get 2)))
      (func (export "l2s") (param i32 i32 i32) (memory.copy $small $large (local.get 0) (local.get 1) (local.get 2))))""")
    ex["s2l"](s, 65532, 0, 4)
    assert bytes(ex["large"].read(s, 65532, 65536)) == b"\x11\x22\x33\x44"
    ex["l2s"](s, 6, 65532, 4)
    assert bytes(ex["small"].read(s, 6, 10)) == b"\x11\x22\x33\x44"
    with pytest.raises(Trap):
        ex["l2s"](s, 7, 0, 4)                 # 7 + 4 > 10 bytes
    with pytest.raises(Trap):
        ex["s2l"](s, 0, 7, 4)


def test_memory64_with_byte_pages():
    s, ex = instance("""
    (module (memory i64 8 (pagesize 1))
      (func (export "size") (result i64) (memory.size))
      (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0)))
      (func (export "ld64") (param i64) (result i64) (i64.load (local.get 0))))""")
    assert ex["size"](s) == 8
    assert ex["ld64"](s, 0) == 0
    with pytest.raises(Trap):
        ex["ld64"](s, 1)
    for huge in (1 << 32, 1 << 63, (1 << 64) - 1):
        assert ex["grow"](s, huge) == -1
    assert ex["grow"](s, 8) == 8
    assert ex["ld64"](s, 8) == 0


# --------------------------------------------------------------- validation

def test_limits_are_checked_against_the_page_size():
    engine = cps_engine()
    Module(engine, "(module (memory 0 0xFFFF_FFFF (pagesize 1)))")
    Module(engine, "(module (memory 65536 (pagesize 65536)))")
    Module(engine, "(module (memory i64 0 0xFFFF_FFFF_FFFF_FFFF (pagesize 1)))")
    Module(engine, "(module (memory i64 0 0x1_0000_0000_0000 (pagesize 65536)))")
    invalid("(module (memory 0x1_0000_0000 (pagesize 1)))", "memory size must be at most")
    invalid("(module (memory 0 0x1_0000_0000 (pagesize 1)))", "memory size must be at most")
    invalid("(module (memory 65537 (pagesize 65536)))", "memory size must be at most 65536 pages")
    invalid("(module (memory i64 0x1_0000_0000_0001 (pagesize 65536)))", "memory size must be at most")
    invalid("(module (memory 3 2 (pagesize 1)))", "size minimum must not be greater than maximum")


@pytest.mark.parametrize("log2", [1, 2, 4, 8, 12, 15, 17, 32])
def test_only_one_byte_and_64k_pages_are_valid(log2):
    m = sm.Module(mems=[sm.Memory(ty.MemType(ty.Limits(0), page_size_log2=log2))])
    with pytest.raises(ValidationError) as ei:
        validate_module(m)
    assert ei.value.message.startswith("invalid custom page size")
    if log2 <= 17:
        invalid(f"(module (memory 0 (pagesize {1 << log2})))", "invalid custom page size")


def test_page_sizes_that_are_not_powers_of_two_are_malformed():
    for n in ("0", "3", "65535", "0x30000"):
        with pytest.raises(ParseError) as ei:
            parse_module(f"(module (memory 0 (pagesize {n})))")
        assert ei.value.message.startswith("invalid custom page size")


def test_limits_past_u64_in_text_are_malformed():
    with pytest.raises(ParseError) as ei:
        parse_module("(module (memory i64 0x1_0000_0000_0000_0000 (pagesize 1)))")
    assert ei.value.message.startswith("i64 constant out of range")


def test_binary_round_trip_keeps_the_page_size():
    for wat in ("(module (memory 1 2 (pagesize 1)))", "(module (memory i64 3 (pagesize 1)))",
                "(module (memory 1 (pagesize 65536)))"):
        m = parse_module(wat)
        back = decode_module(encode_module(m))
        assert back.mems == m.mems
    # without the proposal, flag bit 3 is not a page size
    with pytest.raises(DecodeError):
        decode_module(encode_module(parse_module("(module (memory 1 (pagesize 1)))")),
                      custom_page_sizes=False)


def test_imports_must_agree_on_the_page_size():
    engine = cps_engine()
    store = Store(engine)
    linker = Linker(engine)
    m = linker.instantiate(store, Module(engine, """
    (module (memory (export "small") 0 (pagesize 1)) (memory (export "large") 0))"""))
    linker.define_instance(store, "m", m)
    linker.instantiate(store, Module(engine, '(module (memory (import "m" "small") 0 (pagesize 1)))'))
    linker.instantiate(store, Module(engine, '(module (memory (import "m" "large") 0 (pagesize 65536)))'))
    with pytest.raises(LinkError, match="incompatible import type"):
        linker.instantiate(store, Module(engine, '(module (memory (import "m" "small") 0))'))
    with pytest.raises(LinkError, match="incompatible import type"):
        linker.instantiate(store, Module(engine, '(module (memory (import "m" "large") 0 (pagesize 1)))'))


def test_the_proposal_is_off_by_default():
    """Without Config.wasm_custom_page_sizes, a page size is refused: binary as
    malformed (Wasm 2.0 has no limits flag bit 3), text as invalid."""
    wat = "(module (memory 1 (pagesize 1)))"
    binary = encode_module(parse_module(wat))
    with pytest.raises(DecodeError):
        Module(Engine(), binary)
    for text in (wat, '(module (memory (import "m" "small") 0 (pagesize 1)))'):
        with pytest.raises(ValidationError, match="custom page sizes are not enabled"):
            Module(Engine(), text)
        with pytest.raises(ValidationError, match="custom page sizes are not enabled"):
            Module.validate(Engine(), text)
    Module(Engine(), "(module (memory 1))")  # no page size: nothing to enable
    assert Module(cps_engine(), binary).exports == []
