"""Tests of the text printer (wasmbox.text.print).

Three layers:

1. Hand-built modules: ``wasmtime.wat2wasm(print_module(m))`` must give the
   same bytes as a hand-written reference text of the same module.
2. Constants: every f32/f64 bit pattern printed must assemble to exactly the
   same bits (checked through wasmtime on batches of special and random
   patterns).
3. Round trips over real modules (bench binaries, spec-suite modules): decode
   -> print -> wat2wasm -> decode gives an equal module; and, where the text
   parser exists, parse(print(m)) == m. These need the decoder / parser,
   written in parallel; they are collected only when those modules import.
"""
from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest
import wasmtime

from suites import script_modules, wat_text
from wasmbox.binary.decode import decode_module
from wasmbox.errors import ValidationError
from wasmbox.paths import shared_dir, suite_files
from wasmbox.syntax.module import (
    Catch,
    Custom,
    Data,
    Elem,
    Export,
    ExternKind,
    Func,
    Global,
    Handler,
    Import,
    Instr,
    MemArg,
    Memory,
    Module,
    Names,
    Table,
    Tag,
)
from wasmbox.syntax.types import (
    EXTERNREF,
    F32,
    F64,
    FUNCREF,
    I32,
    I64,
    V128,
    AbsHeap,
    AddrType,
    ArrayType,
    ContType,
    FieldType,
    FuncType,
    GlobalType,
    Limits,
    MemType,
    PackedType,
    RecType,
    RefType,
    StructType,
    SubType,
    TableType,
    TagType,
)
from wasmbox.syntax.opcodes import BLOCK_OPENERS, OPS
from wasmbox.text.parse import parse_module
from wasmbox.text.wast import AssertUninstantiable, AssertUnlinkable, ModuleCommand, ScriptModule
from wasmbox.text.print import (
    escape_bytes,
    format_f32,
    format_f64,
    format_id,
    print_func_type,
    print_import_desc,
    print_instr,
    print_module,
    print_valtype,
)


def I(op: str, *imm) -> Instr:  # noqa: E743 - short on purpose
    return Instr(op, tuple(imm))


def rec1(comp, **kw) -> RecType:
    return RecType((SubType(comp, **kw),))


def same_binary(m: Module, reference_wat: str) -> None:
    """print_module(m) must assemble to the reference text's exact bytes."""
    text = print_module(m)
    try:
        got = wasmtime.wat2wasm(text)
    except Exception as exc:  # pragma: no cover - the message is the point
        pytest.fail(f"wasmtime rejected the printed text: {exc}\n{text}")
    want = wasmtime.wat2wasm(reference_wat)
    assert got == want, f"printed:\n{text}"


# ---------------------------------------------------------------------------
# small helpers


def test_valtype_and_functype_text():
    assert print_valtype(I32) == "i32"
    assert print_valtype(V128) == "v128"
    assert print_valtype(FUNCREF) == "funcref"
    assert print_valtype(EXTERNREF) == "externref"
    assert print_valtype(RefType(False, AbsHeap.ANY)) == "(ref any)"
    assert print_valtype(RefType(True, 3)) == "(ref null 3)"
    assert print_valtype(RefType(True, AbsHeap.NOCONT)) == "(ref null nocont)"
    assert print_func_type(FuncType((I32, I64), (F32,))) == "(func (param i32 i64) (result f32))"
    assert print_func_type(FuncType()) == "(func)"
    with pytest.raises(ValidationError):
        print_valtype("i32")  # type: ignore[arg-type]


def test_identifiers():
    assert format_id("abc") == "$abc"
    assert format_id("a.b/c<d>") == "$a.b/c<d>"
    assert format_id("a b") == '$"a b"'
    assert format_id('q"\\') == '$"q\\22\\5c"'
    assert format_id("é") == '$"\\c3\\a9"'
    assert format_id("") is None


def test_escape_bytes():
    assert escape_bytes(b"ab\x00\xff\"\\ ~\x7f") == '"ab\\00\\ff\\22\\5c ~\\7f"'


def test_print_instr_forms():
    assert print_instr(I("i32.const", -1)) == "i32.const -1"
    assert print_instr(I("i64.const", -(1 << 63))) == f"i64.const {-(1 << 63)}"
    assert print_instr(I("select_t", (I32, F64))) == "select (result i32 f64)"
    assert print_instr(I("ref.test", AbsHeap.ANY)) == "ref.test (ref any)"
    assert print_instr(I("ref.test_null", 2)) == "ref.test (ref null 2)"
    assert print_instr(I("ref.cast", AbsHeap.EQ)) == "ref.cast (ref eq)"
    assert print_instr(I("ref.cast_null", AbsHeap.I31)) == "ref.cast (ref null i31)"
    assert (
        print_instr(I("br_on_cast", 1, 0, AbsHeap.ANY, AbsHeap.EQ))
        == "br_on_cast 0 (ref null any) (ref eq)"
    )
    assert (
        print_instr(I("br_on_cast_fail", 2, 3, AbsHeap.ANY, 5))
        == "br_on_cast_fail 3 (ref any) (ref null 5)"
    )
    assert print_instr(I("i32.load", MemArg(2, 0, 0))) == "i32.load"
    assert print_instr(I("i32.load", MemArg(0, 8, 0))) == "i32.load offset=8 align=1"
    assert print_instr(I("i64.store32", MemArg(2, 0, 1))) == "i64.store32 1"
    assert print_instr(I("v128.load8_lane", MemArg(0, 1, 0), 7)) == "v128.load8_lane offset=1 7"
    assert print_instr(I("br_table", (0, 1, 2), 3)) == "br_table 0 1 2 3"
    assert print_instr(I("call_indirect", 4, 0)) == "call_indirect (type 4)"
    assert print_instr(I("call_indirect", 4, 1)) == "call_indirect 1 (type 4)"
    assert print_instr(I("memory.init", 3, 0)) == "memory.init 3"
    assert print_instr(I("memory.init", 3, 1)) == "memory.init 1 3"
    assert print_instr(I("table.init", 2, 1)) == "table.init 1 2"
    assert print_instr(I("memory.copy", 0, 0)) == "memory.copy"
    assert print_instr(I("resume", 1, (Handler(0, 1), Handler(2, None)))) == (
        "resume 1 (on 0 1) (on 2 switch)"
    )
    assert print_instr(
        I("try_table", None, (Catch("catch", 0, 1), Catch("catch_all_ref", None, 0)))
    ) == "try_table (catch 0 1) (catch_all_ref 0)"


def test_bad_structure_raises_validation_error():
    with pytest.raises(ValidationError):
        print_instr(I("no.such.op"))
    with pytest.raises(ValidationError):
        print_instr(I("local.get"))  # missing immediate
    with pytest.raises(ValidationError):
        print_instr(I("local.get", "x"))
    with pytest.raises(ValidationError):
        print_instr(I("f32.const", 1 << 32))
    m = Module(types=[rec1(FuncType())], funcs=[Func(0, [], [I("bogus")])])
    with pytest.raises(ValidationError):
        print_module(m)
    m = Module(elems=[Elem(FUNCREF, [], mode="sideways")])
    with pytest.raises(ValidationError):
        print_module(m)


# ---------------------------------------------------------------------------
# Floats: exact bits


F32_SPECIAL = [
    0, 0x80000000, 1, 0x80000001, 0x007FFFFF, 0x00800000, 0x3F800000, 0xBF800000,
    0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000,
    0x7F800001, 0xFF800001, 0x7FA00000, 0x7FFFFFFF, 0xFFFFFFFF, 0x3EAAAAAB, 0x00000100,
]
F64_SPECIAL = [
    0, 1 << 63, 1, (1 << 63) | 1, 0x000FFFFFFFFFFFFF, 0x0010000000000000,
    0x3FF0000000000000, 0xBFF0000000000000, 0x7FEFFFFFFFFFFFFF, 0x7FF0000000000000,
    0xFFF0000000000000, 0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001,
    0x7FF4000000000000, 0xFFFFFFFFFFFFFFFF, 0x3FD5555555555555, 0x400921FB54442D18,
]


def test_float_text_shapes():
    assert format_f32(0) == "0x0p+0"
    assert format_f32(0x80000000) == "-0x0p+0"
    assert format_f32(0x3F800000) == "0x1p+0"
    assert format_f32(0x40490FDB) == "0x1.921fb6p+1"
    assert format_f32(1) == "0x0.000002p-126"
    assert format_f32(0x7F800000) == "inf"
    assert format_f32(0xFF800000) == "-inf"
    assert format_f32(0x7FC00000) == "nan"
    assert format_f32(0xFFC00000) == "-nan"
    assert format_f32(0x7F800001) == "nan:0x1"
    assert format_f32(0xFFA00000) == "-nan:0x200000"
    assert format_f64(0x3FF8000000000000) == "0x1.8p+0"
    assert format_f64(1) == "0x0.0000000000001p-1022"
    assert format_f64(0x7FF8000000000000) == "nan"
    assert format_f64(0x7FF0000000000001) == "nan:0x1"


def _global_consts(payload: bytes, kind: int, width: int) -> list[int]:
    """The constants of a module made only of `(global fXX (fXX.const ...))`."""
    # find the global section (id 6) and walk it: type, mut, opcode, bytes, end
    i = 8
    while payload[i] != 6:
        i += 1
        size, i = _leb(payload, i)
        i += size
    size, i = _leb(payload, i + 1)
    count, i = _leb(payload, i)
    out = []
    for _ in range(count):
        assert payload[i] == kind and payload[i + 2] in (0x43, 0x44)
        out.append(int.from_bytes(payload[i + 3 : i + 3 + width], "little"))
        assert payload[i + 3 + width] == 0x0B
        i += 4 + width
    return out


def _leb(b: bytes, i: int) -> tuple[int, int]:
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, i


@pytest.mark.parametrize("width", [4, 8])
def test_float_constants_assemble_to_the_same_bits(width):
    rng = random.Random(1234 + width)
    if width == 4:
        pats = list(F32_SPECIAL)
        pats += [rng.getrandbits(32) for _ in range(3000)]
        pats += [(rng.getrandbits(1) << 31) | (0xFF << 23) | rng.getrandbits(23) for _ in range(300)]
        pats += [(rng.getrandbits(1) << 31) | rng.getrandbits(23) for _ in range(300)]
        fmt, ty, kind = format_f32, "f32", 0x7D
    else:
        pats = list(F64_SPECIAL)
        pats += [rng.getrandbits(64) for _ in range(3000)]
        pats += [(rng.getrandbits(1) << 63) | (0x7FF << 52) | rng.getrandbits(52) for _ in range(300)]
        pats += [(rng.getrandbits(1) << 63) | rng.getrandbits(52) for _ in range(300)]
        fmt, ty, kind = format_f64, "f64", 0x7C
    text = "(module\n" + "\n".join(f"(global {ty} ({ty}.const {fmt(p)}))" for p in pats) + ")"
    got = _global_consts(wasmtime.wat2wasm(text), kind, width)
    assert got == pats


def test_finite_floats_agree_with_python_fromhex():
    rng = random.Random(99)
    for _ in range(2000):
        bits = rng.getrandbits(64)
        if (bits >> 52) & 0x7FF == 0x7FF:
            continue
        assert float.fromhex(format_f64(bits)) == struct.unpack("<d", bits.to_bytes(8, "little"))[0]
        assert struct.pack("<d", float.fromhex(format_f64(bits))) == bits.to_bytes(8, "little")
    for _ in range(2000):
        bits = rng.getrandbits(32)
        if (bits >> 23) & 0xFF == 0xFF:
            continue
        value = float.fromhex(format_f32(bits))
        assert struct.pack("<f", value) == bits.to_bytes(4, "little")


# ---------------------------------------------------------------------------
# Whole modules against hand-written references


FT_II_I = FuncType((I32, I32), (I32,))
FT_V = FuncType()


def test_functions_blocks_and_names():
    m = Module(
        types=[rec1(FT_II_I), rec1(FT_V)],
        imports=[Import("env", "add", ExternKind.FUNC, 0)],
        funcs=[
            Func(
                0,
                [I64, F32, F32],
                [
                    I("local.get", 0),
                    I("if", I32),
                    I("i32.const", 1),
                    I("else"),
                    I("block", None),
                    I("loop", 1),
                    I("br", 1),
                    I("end"),
                    I("end"),
                    I("i32.const", 2),
                    I("end"),
                    I("local.get", 1),
                    I("call", 0),
                    I("local.get", 4),
                    I("drop"),
                ],
            ),
            Func(1, [], []),
        ],
        exports=[Export("main", ExternKind.FUNC, 1), Export("add", ExternKind.FUNC, 0)],
        start=2,
        names=Names(
            module="m",
            funcs={0: "add", 1: "main", 2: "start fn"},
            locals={1: {0: "a", 2: "wide", 4: "f"}, 0: {1: "y"}},
            labels={1: {0: "then", 2: "again"}},
            types={0: "bin"},
        ),
    )
    ref = """
    (module $m
      (type $bin (func (param i32 i32) (result i32)))
      (type (func))
      (import "env" "add" (func $add (type $bin) (param i32) (param $y i32) (result i32)))
      (func $main (type $bin) (param $a i32) (param i32) (result i32)
        (local $wide i64) (local f32) (local $f f32)
        (if $then (result i32) (local.get $a)
          (then (i32.const 1))
          (else
            (block (loop $again (type 1) (br 1)))
            (i32.const 2)))
        (call $add (local.get 1))
        (drop (local.get $f)))
      (func $"start fn" (type 1))
      (export "main" (func $main))
      (export "add" (func $add))
      (start $"start fn"))
    """
    same_binary(m, ref)


def test_duplicate_and_empty_names_use_name_annotations():
    m = Module(
        types=[rec1(FT_V)],
        funcs=[Func(0), Func(0), Func(0)],
        globals=[Global(GlobalType(I32), [I("i32.const", 0)])],
        names=Names(funcs={0: "f", 1: "f", 2: ""}, globals={0: "g"}),
    )
    text = print_module(m)
    assert '(@name "f")' in text and '(@name "")' in text
    ref = """(module (type (func)) (func $f (type 0)) (func (@name "f") (type 0))
      (func (@name "") (type 0)) (global $g i32 (i32.const 0)))"""
    same_binary(m, ref)


def test_gc_types_and_instructions():
    types = [
        RecType(
            (
                SubType(StructType((FieldType(I32, True), FieldType(PackedType.I8))), final=False),
                SubType(
                    StructType((FieldType(I32, True), FieldType(PackedType.I8), FieldType(RefType(True, 1)))),
                    final=True,
                    supertypes=(0,),
                ),
            )
        ),
        rec1(ArrayType(FieldType(PackedType.I16, True)), final=False),
        rec1(FuncType((RefType(True, AbsHeap.ANY),), (RefType(False, AbsHeap.EQ),))),
        RecType(()),
    ]
    body = [
        I("block", RefType(False, AbsHeap.EQ)),
        I("local.get", 0),
        I("br_on_cast", 1, 0, AbsHeap.ANY, AbsHeap.EQ),
        I("ref.cast", 0),
        I("struct.get", 0, 0),
        I("drop"),
        I("i32.const", 3),
        I("array.new_default", 2),
        I("i32.const", 0),
        I("array.get_u", 2),
        I("drop"),
        I("ref.null", AbsHeap.NONE),
        I("ref.test_null", 1),
        I("drop"),
        I("i32.const", 1),
        I("i32.const", 2),
        I("array.new_fixed", 2, 2),
        I("drop"),
        I("i32.const", 7),
        I("ref.i31"),
        I("br_on_cast_fail", 0, 0, AbsHeap.ANY, AbsHeap.I31),
        I("unreachable"),
        I("end"),
    ]
    m = Module(
        types=types,
        funcs=[Func(3, [], body)],
        names=Names(types={0: "A", 1: "B"}, fields={0: {0: "x", 1: "y"}, 1: {2: "next"}}),
    )
    ref = """
    (module
      (rec
        (type $A (sub (struct (field $x (mut i32)) (field $y i8))))
        (type $B (sub final $A (struct (field (mut i32)) (field i8) (field $next (ref null $B))))))
      (type (sub (array (mut i16))))
      (type (func (param anyref) (result (ref eq))))
      (rec)
      (func (type 3)
        block (result (ref eq))
          local.get 0
          br_on_cast 0 anyref (ref eq)
          ref.cast (ref $A)
          struct.get $A $x
          drop
          (array.new_default 2 (i32.const 3))
          (array.get_u 2 (i32.const 0))
          drop
          (ref.test (ref null $B) (ref.null none))
          drop
          (array.new_fixed 2 2 (i32.const 1) (i32.const 2))
          drop
          (ref.i31 (i32.const 7))
          br_on_cast_fail 0 (ref any) (ref i31)
          unreachable
        end))
    """
    same_binary(m, ref)


def test_tables_memories_globals_segments():
    m = Module(
        types=[rec1(FT_V)],
        imports=[
            Import("env", "t", ExternKind.TABLE, TableType(Limits(1, 5), EXTERNREF)),
            Import("env", "mem", ExternKind.MEM, MemType(Limits(1, 2, shared=True))),
            Import("env", "g", ExternKind.GLOBAL, GlobalType(I64, True)),
        ],
        funcs=[
            Func(
                0,
                [],
                [
                    I("i32.const", 0),
                    I("i32.const", 0),
                    I("i32.const", 1),
                    I("memory.init", 1, 1),
                    I("data.drop", 0),
                    I("i64.const", 0),
                    I("i64.load", MemArg(3, 16, 1)),
                    I("drop"),
                    I("i32.const", 0),
                    I("i32.const", 0),
                    I("i32.const", 1),
                    I("table.init", 2, 1),
                    I("table.size", 2),
                    I("drop"),
                    I("i32.const", 0),
                    I("i32.const", 0),
                    I("i32.const", 0),
                    I("table.copy", 1, 2),
                ],
            )
        ],
        tables=[
            Table(TableType(Limits(2), FUNCREF)),
            Table(TableType(Limits(1, 10, AddrType.I64), RefType(False, AbsHeap.FUNC)), [I("ref.func", 0)]),
        ],
        mems=[Memory(MemType(Limits(0, 65536, AddrType.I64), page_size_log2=0))],
        globals=[
            Global(GlobalType(I32), [I("i32.const", 1), I("i32.const", 2), I("i32.add")]),
            Global(GlobalType(FUNCREF, True), [I("ref.null", AbsHeap.FUNC)]),
        ],
        exports=[Export("mem", ExternKind.MEM, 1), Export("g", ExternKind.GLOBAL, 1)],
        elems=[
            Elem(RefType(False, AbsHeap.FUNC), [[I("ref.func", 0)], [I("ref.func", 0)]], "active", 1,
                 [I("i32.const", 0)]),
            Elem(FUNCREF, [[I("ref.func", 0)], [I("ref.null", AbsHeap.FUNC)]], "active", 1,
                 [I("global.get", 1)]),
            Elem(RefType(False, AbsHeap.FUNC), [[I("ref.func", 0)]], "passive"),
            Elem(FUNCREF, [[I("ref.func", 0)]], "declarative"),
            Elem(EXTERNREF, [[I("ref.null", AbsHeap.EXTERN)]], "active", 0, [I("i32.const", 0)]),
        ],
        datas=[
            Data(b"hello\x00\xff\"\\", "active", 0, [I("i32.const", 8)]),
            Data(b"", "passive"),
            Data(b"xyz", "active", 1, [I("i64.const", 0)]),
        ],
        names=Names(tables={1: "tt"}, mems={0: "shared mem"}, globals={0: "gg"}, datas={1: "d1"},
                    elems={3: "dec"}),
    )
    ref = r"""
    (module
      (type (func))
      (import "env" "t" (table 1 5 externref))
      (import "env" "mem" (memory $"shared mem" 1 2 shared))
      (import "env" "g" (global $gg (mut i64)))
      (func (type 0)
        (memory.init 1 $d1 (i32.const 0) (i32.const 0) (i32.const 1))
        (data.drop 0)
        (drop (i64.load 1 offset=16 (i64.const 0)))
        (table.init $tt 2 (i32.const 0) (i32.const 0) (i32.const 1))
        (drop (table.size 2))
        (table.copy $tt 2 (i32.const 0) (i32.const 0) (i32.const 0)))
      (table $tt 2 funcref)
      (table i64 1 10 (ref func) (ref.func 0))
      (memory i64 0 65536 (pagesize 1))
      (global i32 (i32.add (i32.const 1) (i32.const 2)))
      (global (mut funcref) (ref.null func))
      (export "mem" (memory 1))
      (export "g" (global 1))
      (elem (table $tt) (offset (i32.const 0)) func 0 0)
      (elem (table $tt) (offset (global.get 1)) funcref (item ref.func 0) (item ref.null func))
      (elem func 0)
      (elem $dec declare funcref (item ref.func 0))
      (elem (table 0) (offset (i32.const 0)) externref (item ref.null extern))
      (data (i32.const 8) "hello\00\ff\"\\")
      (data $d1 "")
      (data (memory 1) (i64.const 0) "xyz"))
    """
    same_binary(m, ref)


def test_exceptions_legacy_and_try_table():
    m = Module(
        types=[rec1(FuncType((I32,))), rec1(FT_V)],
        imports=[Import("env", "e", ExternKind.TAG, TagType(0))],
        tags=[Tag(TagType(1))],
        funcs=[
            Func(
                1,
                [],
                [
                    I("try", None),
                    I("i32.const", 1),
                    I("throw", 0),
                    I("catch", 0),
                    I("drop"),
                    I("try", None),
                    I("rethrow", 1),
                    I("delegate", 0),
                    I("catch_all"),
                    I("end"),
                    I("block", EXNREF_T),
                    I("block", None),
                    I("try_table", None, (Catch("catch", 1, 0), Catch("catch_all_ref", None, 1))),
                    I("throw", 1),
                    I("end"),
                    I("end"),
                    I("unreachable"),
                    I("end"),
                    I("throw_ref"),
                ],
            )
        ],
        names=Names(tags={0: "e0", 1: "e1"}),
    )
    ref = """
    (module
      (type (func (param i32)))
      (type (func))
      (import "env" "e" (tag $e0 (param i32)))
      (tag $e1 (type 1))
      (func (type 1)
        try
          i32.const 1
          throw $e0
        catch $e0
          drop
          try
            rethrow 1
          delegate 0
        catch_all
        end
        block (result exnref)
          block
            try_table (catch $e1 0) (catch_all_ref 1)
              throw $e1
            end
          end
          unreachable
        end
        throw_ref))
    """
    same_binary(m, ref)


EXNREF_T = RefType(True, AbsHeap.EXN)


def test_stack_switching():
    m = Module(
        types=[rec1(FT_V), rec1(ContType(0)), rec1(FuncType((RefType(True, 1),)))],
        tags=[Tag(TagType(0))],
        funcs=[
            Func(
                2,
                [],
                [
                    I("block", RefType(True, 1)),
                    I("local.get", 0),
                    I("resume", 1, (Handler(0, 0),)),
                    I("ref.null", AbsHeap.CONT),
                    I("drop"),
                    I("local.get", 0),
                    I("resume", 1, (Handler(0, None),)),
                    I("unreachable"),
                    I("end"),
                    I("drop"),
                    I("suspend", 0),
                ],
            ),
            Func(0, [], [I("ref.func", 1), I("cont.new", 1), I("drop")]),
        ],
        elems=[Elem(RefType(False, AbsHeap.FUNC), [[I("ref.func", 1)]], "declarative")],
        names=Names(types={0: "ft", 1: "ct"}, tags={0: "yield"}),
    )
    ref = """
    (module
      (type $ft (func))
      (type $ct (cont $ft))
      (type (func (param (ref null $ct))))
      (tag $yield (type $ft))
      (func (type 2)
        block (result (ref null $ct))
          local.get 0
          resume $ct (on $yield 0)
          ref.null cont
          drop
          local.get 0
          resume $ct (on $yield switch)
          unreachable
        end
        drop
        suspend $yield)
      (func (type $ft) (drop (cont.new $ct (ref.func 1))))
      (elem declare func 1))
    """
    same_binary(m, ref)


def test_simd_and_misc_numeric():
    m = Module(
        types=[rec1(FuncType((), (V128,)))],
        mems=[Memory(MemType(Limits(1)))],
        funcs=[
            Func(
                0,
                [],
                [
                    I("v128.const", (1 << 128) - 1 - 0xFF),
                    I("v128.const", 0x0123456789ABCDEF_FEDCBA9876543210),
                    I("i8x16.shuffle", tuple(range(31, 15, -1))),
                    I("i32.const", 0),
                    I("v128.load32_lane", MemArg(1, 4, 0), 3),
                    I("i32x4.extract_lane", 2),
                    I("i64.const", -5),
                    I("f32.const", 0x7FA00001),
                    I("f64.const", 0xFFF0000000000000),
                    I("drop"),
                    I("drop"),
                    I("drop"),
                    I("drop"),
                ],
            )
        ],
    )
    lo, hi = 0x0123456789ABCDEF_FEDCBA9876543210 & (2**64 - 1), 0x0123456789ABCDEF
    ref = f"""
    (module
      (type (func (result v128)))
      (memory 1)
      (func (type 0)
        v128.const i8x16 0 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1
        v128.const i64x2 {lo} {hi}
        i8x16.shuffle 31 30 29 28 27 26 25 24 23 22 21 20 19 18 17 16
        i32.const 0
        v128.load32_lane offset=4 align=2 3
        i32x4.extract_lane 2
        i64.const -5
        f32.const nan:0x200001
        f64.const -inf
        drop drop drop drop))
    """
    same_binary(m, ref)


def test_select_and_references():
    m = Module(
        types=[rec1(FuncType((I32,), (FUNCREF,)))],
        tables=[Table(TableType(Limits(1), FUNCREF))],
        funcs=[
            Func(
                0,
                [],
                [
                    I("ref.func", 0),
                    I("ref.null", AbsHeap.FUNC),
                    I("local.get", 0),
                    I("select_t", (FUNCREF,)),
                    I("i32.const", 1),
                    I("i32.const", 2),
                    I("local.get", 0),
                    I("select"),
                    I("table.get", 0),
                    I("ref.is_null"),
                    I("drop"),
                ],
            )
        ],
        elems=[Elem(RefType(False, AbsHeap.FUNC), [[I("ref.func", 0)]], "declarative")],
    )
    ref = """
    (module
      (type (func (param i32) (result funcref)))
      (table 1 funcref)
      (func (type 0)
        (select (result funcref) (ref.func 0) (ref.null func) (local.get 0))
        (drop (ref.is_null (table.get 0 (select (i32.const 1) (i32.const 2) (local.get 0))))))
      (elem declare func 0))
    """
    same_binary(m, ref)


def test_custom_sections_and_placement():
    m = Module(
        types=[rec1(FT_V)],
        funcs=[Func(0)],
        customs=[
            Custom("first", b"\x00\x01", 0),
            Custom("after type", b"abc", 1),
            Custom("after code", b"", 10),
            Custom("odd \"name\"", bytes(range(256)), 10),
        ],
    )
    ref = r"""
    (module
      (@custom "first" (before first) "\00\01")
      (type (func))
      (@custom "after type" (after type) "abc")
      (func (type 0))
      (@custom "after code" (after code) "")
      (@custom "odd \"name\"" (after code) """
    ref += escape_bytes(bytes(range(256))) + "))"
    same_binary(m, ref)


def test_custom_section_after_datacount():
    # wasm-tools has no `(after datacount)`; `(before code)` is the same spot.
    m = Module(
        types=[rec1(FT_V)],
        funcs=[Func(0, [], [I("data.drop", 0)])],
        mems=[Memory(MemType(Limits(1)))],
        datas=[Data(b"x", "passive")],
        data_count=1,
        customs=[Custom("dc", b"1", 12), Custom("last", b"2", 11)],
    )
    text = print_module(m)
    assert '(@custom "dc" (before code) "1")' in text
    assert '(@custom "last" (after data) "2")' in text
    assert roundtrip_problem(m) is None


def test_public_helpers_use_module_names():
    m = Module(types=[rec1(FT_V), rec1(FuncType((RefType(True, 0),)))],
               names=Names(types={0: "t"}, funcs={0: "f"}))
    assert print_valtype(RefType(False, 0), m) == "(ref $t)"
    assert print_func_type(FuncType((RefType(True, 0),)), m) == "(func (param (ref null $t)))"
    assert print_instr(I("call", 0), m) == "call $f"
    assert print_instr(I("call", 0)) == "call 0"
    assert print_import_desc(Import("a", "b", ExternKind.FUNC, 1), m) == (
        "(func (type 1) (param (ref null $t)))"
    )
    assert print_import_desc(Import("a", "b", ExternKind.MEM, MemType(Limits(1, 2, AddrType.I64)))) == (
        "(memory i64 1 2)"
    )
    assert print_import_desc(Import("a", "b", ExternKind.TAG, TagType(0)), m) == "(tag (type $t))"
    with pytest.raises(ValidationError):
        print_instr(I("br_table", 5, 0))  # labels must be a tuple


def test_invalid_indices_still_print():
    # A function whose type index is out of range is printed with just
    # `(type N)`; wasmtime's assembler accepts that text.
    m = Module(types=[rec1(StructType(()))], funcs=[Func(0, [I32], [I("local.get", 5)])])
    text = print_module(m)
    assert "(func (type 0)\n    (local i32)\n    local.get 5)" in text
    wasmtime.wat2wasm(text)


# ---------------------------------------------------------------------------
# Round trips through wasmtime's assembler and our decoder




def first_difference(a, b, path: str = "m") -> str | None:
    """Where two module structures differ, for failure messages."""
    if type(a) is not type(b):
        return f"{path}: {a!r} vs {b!r}"
    if hasattr(a, "__dataclass_fields__"):
        for f in a.__dataclass_fields__:
            d = first_difference(getattr(a, f), getattr(b, f), f"{path}.{f}")
            if d:
                return d
        return None
    if isinstance(a, list) or (isinstance(a, tuple) and not hasattr(a, "_fields")):
        if len(a) != len(b):
            return f"{path}: length {len(a)} vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return f"{path}: keys {sorted(a)} vs {sorted(b)}"
        for k in a:
            d = first_difference(a[k], b[k], f"{path}[{k!r}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} vs {b!r}"


def roundtrip_problem(m: Module) -> str | None:
    """None if decode(wat2wasm(print(m))) == m, else what went wrong."""
    text = print_module(m)
    try:
        again = decode_module(wasmtime.wat2wasm(text))
    except Exception as exc:
        return f"wat2wasm/decode of the printed text failed: {str(exc)[:500]}"
    if again != m:
        return f"differs at {first_difference(m, again)}"
    return None


# -- the text modules of a script ---------------------------------------------

# Commands whose module is valid: top-level modules and the modules of
# assert_trap / assert_unlinkable (binary and quote modules are left out).
_VALID_MODULE_COMMANDS = (ModuleCommand, AssertUninstantiable, AssertUnlinkable)


def wast_text_modules(path: Path) -> list[ScriptModule]:
    """The valid text modules of a script, parsed by the script parser."""
    return [
        sm for _, cmd, sm in script_modules(files=[path])
        if isinstance(cmd, _VALID_MODULE_COMMANDS) and sm.kind == "text"
    ]


def _suite_params(*suites: str):
    return [pytest.param(s, p, id=f"{s}/{p.name}") for s in suites for p in suite_files(s)]


# Modules of the suites that wasmtime's assembler itself refuses (so this
# route cannot check them; the parser round trip covers them).
WASMTIME_REFUSES = {
    "names.wast": "a literal U+202E in a string ('likely-confusing unicode character')",
    "rethrow.wast": "folded legacy `try (do ...)` syntax",
    "throw.wast": "folded legacy `try (do ...)` syntax",
    "try_catch.wast": "folded legacy `try (do ...)` syntax",
    "try_delegate.wast": "folded legacy `try (do ...)` syntax",
}


@pytest.mark.parametrize(
    "suite,path",
    _suite_params("wasm2-nosimd", "wasm3", "stack-switching", "legacy-exceptions", "custom-annotations"),
)
def test_suite_modules_roundtrip_through_wasmtime(suite, path):
    modules = wast_text_modules(path)
    problems, checked, refused = [], 0, []
    for sm in modules:
        try:
            binary = wasmtime.wat2wasm(wat_text(sm))
        except Exception as exc:
            refused.append(f"line {sm.line}: {str(exc).splitlines()[0]}")
            continue
        m = decode_module(binary)
        checked += 1
        p = roundtrip_problem(m)
        if p:
            problems.append(f"module at line {sm.line}: {p}")
    assert not problems, "\n".join(problems[:10])
    if refused:
        # Only the files listed above may hold modules wasmtime cannot assemble.
        assert path.name in WASMTIME_REFUSES, refused
    assert checked + len(refused) == len(modules)


def test_bench_binaries_roundtrip_with_names():
    paths = sorted((shared_dir() / "bench" / "wasm").glob("*.wasm"))
    assert len(paths) >= 9
    named = 0
    for p in paths:
        m = decode_module(p.read_bytes())
        named += bool(m.names.funcs)
        problem = roundtrip_problem(m)
        assert problem is None, f"{p.name}: {problem}"
    assert named >= 9  # the names section really took part


# -- every row of the opcode table ---------------------------------------------


_NUMS = (I32, I64, F32, F64, V128)
_HEAPS = tuple(AbsHeap) + (0, 1, 2)


def _rand_valtype(rng: random.Random):
    if rng.random() < 0.5:
        return rng.choice(_NUMS)
    return RefType(rng.random() < 0.5, rng.choice(_HEAPS))


def _rand_imm(kind: str, op_name: str, rng: random.Random):
    if kind in ("label", "func", "type", "table", "mem", "local", "global", "tag", "elem",
                "data", "field", "u32"):
        return rng.choice((0, 1, 2, 7, 300))
    if kind == "lane":
        return rng.randrange(16)
    if kind == "labels":
        return tuple(rng.randrange(5) for _ in range(rng.randrange(4)))
    if kind == "memarg":
        natural = OPS[op_name].natural_align or 0
        return MemArg(rng.choice((natural, 0, natural)), rng.choice((0, 1, 4096, 2**32 - 1)),
                      rng.choice((0, 0, 1, 3)))
    if kind == "i32":
        return rng.randrange(-(2**31), 2**31)
    if kind == "i64":
        return rng.randrange(-(2**63), 2**63)
    if kind == "f32":
        return rng.getrandbits(32)
    if kind == "f64":
        return rng.getrandbits(64)
    if kind == "v128":
        return rng.getrandbits(128)
    if kind == "shuffle":
        return tuple(rng.randrange(32) for _ in range(16))
    if kind == "heap":
        return rng.choice(_HEAPS)
    if kind == "valtypes":
        return tuple(_rand_valtype(rng) for _ in range(rng.randrange(1, 3)))
    if kind == "castflags":
        return rng.randrange(4)
    if kind == "bt":
        r = rng.random()
        return None if r < 0.3 else (rng.randrange(3) if r < 0.5 else _rand_valtype(rng))
    if kind == "catches":
        out = []
        for _ in range(rng.randrange(4)):
            k = rng.choice(("catch", "catch_ref", "catch_all", "catch_all_ref"))
            out.append(Catch(k, None if "all" in k else rng.randrange(3), rng.randrange(3)))
        return tuple(out)
    if kind == "handlers":
        return tuple(Handler(rng.randrange(3), rng.choice((None, 0, 1)))
                     for _ in range(rng.randrange(3)))
    raise AssertionError(kind)


_SEPARATORS = {"else", "end", "catch", "catch_all", "delegate"}


def every_opcode_module(seed: int) -> Module:
    """A module whose one function uses every opcode of the table once, with
    random immediates (blocks closed, ``if``/``try`` given their other parts)."""
    rng = random.Random(seed)
    body = []
    for name, op in OPS.items():
        if name in _SEPARATORS:
            continue
        body.append(Instr(name, tuple(_rand_imm(k, name, rng) for k in op.imms)))
        if name == "if":
            body += [I("nop"), I("else"), I("nop"), I("end")]
        elif name == "try":
            body += [I("nop"), I("catch", 1), I("catch_all"), I("end"), I("try", None),
                     I("delegate", 0)]
        elif name in BLOCK_OPENERS:
            body += [I("nop"), I("end")]
    # The body uses memory.init/data.drop, so the assembler writes a data
    # count section (text cannot say otherwise).
    return Module(types=[rec1(FT_V)], funcs=[Func(0, [I32], body)], data_count=0)


@pytest.mark.parametrize("seed", range(4))
def test_every_opcode_roundtrips(seed):
    assert roundtrip_problem(every_opcode_module(seed)) is None


# -- names --------------------------------------------------------------------


_NAME_CHARS = "abcXYZ09_.$'\"\\ ()é€😀\x00\x7f;"


def _rand_name(rng: random.Random) -> str:
    return "".join(rng.choice(_NAME_CHARS) for _ in range(rng.randrange(0, 6)))


@pytest.mark.parametrize("seed", range(6))
def test_names_of_every_kind_roundtrip(seed):
    rng = random.Random(seed)
    n = 4
    m = Module(
        types=[rec1(FuncType((I32, I64), ())), rec1(StructType((FieldType(I32), FieldType(I64)))),
               rec1(FT_V)],
        imports=[Import("m", _rand_name(rng), ExternKind.FUNC, 0)],
        funcs=[Func(0, [F32, F64], [I("block", None), I("loop", None), I("end"), I("end"),
                                    I("block", None), I("end")]) for _ in range(n)],
        tables=[Table(TableType(Limits(1), FUNCREF)) for _ in range(n)],
        mems=[Memory(MemType(Limits(1))) for _ in range(n)],
        globals=[Global(GlobalType(I32), [I("i32.const", 0)]) for _ in range(n)],
        tags=[Tag(TagType(2)) for _ in range(n)],
        elems=[Elem(FUNCREF, [], "passive") for _ in range(n)],
        datas=[Data(b"", "passive") for _ in range(n)],
    )

    def names(k: int) -> dict[int, str]:
        return {i: _rand_name(rng) for i in range(k) if rng.random() < 0.8}

    m.names = Names(
        module=_rand_name(rng) if rng.random() < 0.5 else None,
        funcs=names(n + 1),
        # the import (function 0) has just its two params
        locals={i: names(4 if i else 2) for i in range(n + 1) if rng.random() < 0.8},
        labels={i: names(3) for i in range(1, n + 1) if rng.random() < 0.8},
        types=names(3),
        tables=names(n),
        mems=names(n),
        globals=names(n),
        elems=names(n),
        datas=names(n),
        fields={1: names(2)},
        tags=names(n),
    )
    for attr in ("locals", "labels"):  # the binary format drops empty maps
        setattr(m.names, attr, {k: v for k, v in getattr(m.names, attr).items() if v})
    m.names.fields = {k: v for k, v in m.names.fields.items() if v}
    assert roundtrip_problem(m) is None, print_module(m)


# ---------------------------------------------------------------------------
# Round trips through our own text parser: parse(print(m)) == m



def parse_problem(m: Module) -> str | None:
    """None if parse_module(print_module(m)) == m, else what went wrong."""
    text = print_module(m)
    try:
        again = parse_module(text)
    except Exception as exc:
        return f"parse of the printed text failed: {exc}"
    if again != m:
        return f"differs at {first_difference(m, again)}"
    return None


@pytest.mark.parametrize(
    "suite,path",
    _suite_params("wasm3", "stack-switching", "legacy-exceptions", "custom-annotations"),
)
def test_suite_modules_roundtrip_through_parser(suite, path):
    """Both a parsed module and the decoded binary of the same text must
    come back equal from parse(print(.))."""
    problems = []
    for sm in wast_text_modules(path):
        k = f"line {sm.line}"
        parsed = sm.module
        p = parse_problem(parsed)
        if p:
            problems.append(f"module at {k} (parsed): {p}")
        try:
            binary = wasmtime.wat2wasm(wat_text(sm))
        except Exception:
            # wasmtime cannot assemble the original, but it must assemble
            # our printed form of it, to the same module.
            assert path.name in WASMTIME_REFUSES
            p = roundtrip_problem(parsed)
            if p:
                problems.append(f"module at {k} (parsed, via wasmtime): {p}")
            continue
        p = parse_problem(decode_module(binary))
        if p:
            problems.append(f"module at {k} (decoded): {p}")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:10])


def test_bench_binaries_roundtrip_through_parser():
    problems = []
    for p in sorted((shared_dir() / "bench" / "wasm").glob("*.wasm")):
        problem = parse_problem(decode_module(p.read_bytes()))
        if problem:
            problems.append(f"{p.name}: {problem}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("seed", range(4))
def test_every_opcode_roundtrips_through_parser(seed):
    assert parse_problem(every_opcode_module(seed)) is None
