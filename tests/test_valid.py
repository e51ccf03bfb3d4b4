"""Tests of wasmbox.valid: unit tests on hand-built modules, then the spec suite.

The spec part runs every ``assert_invalid`` and every plain ``module`` of
the ``wasm2-nosimd`` suite through the text parser / binary decoder and the
validator, and the benchmark binaries in ``shared/bench/wasm``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from suites import module_of, parsed_script
from wasmbox.binary.decode import decode_module
from wasmbox.errors import UnsupportedFeature, ValidationError, WasmboxError
from wasmbox import paths
from wasmbox.syntax.module import (
    Data,
    Elem,
    Export,
    ExternKind,
    Func,
    Global,
    Import,
    Instr,
    MemArg,
    Memory,
    Module,
    Table,
    Tag,
)
from wasmbox.syntax.opcodes import OPS
from wasmbox.text.wast import (
    AssertInvalid,
    AssertUninstantiable,
    AssertUnlinkable,
    ModuleCommand,
    ModuleInstance,
    ScriptModule,
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
    FieldType,
    FuncType,
    GlobalType,
    Limits,
    MemType,
    RecType,
    RefType,
    StructType,
    SubType,
    TableType,
    TagType,
)
from wasmbox.valid import ModuleInfo, canonical_keys, validate_module
from wasmbox.valid.features import feature_of_op
from wasmbox.valid.instructions import supported_instructions
from wasmbox.valid.signatures import MEMOPS, NUMERIC, derive_numeric_signature

# ---------------------------------------------------------------------------
# helpers


def I(text: str) -> list[Instr]:
    """Instructions from a tiny notation: ``"local.get 0; i32.const 5; i32.add"``.

    Integer immediates only, except ``-`` for None; memargs are given as
    ``i32.load align offset [mem]``.
    """
    out: list[Instr] = []
    for part in text.split(";"):
        words = part.split()
        if not words:
            continue
        op, args = words[0], words[1:]
        vals: list[Any] = [None if a == "-" else int(a) for a in args]
        if "memarg" in OPS[op].imms:
            ma = MemArg(*vals[:3]) if vals else MemArg(OPS[op].natural_align or 0, 0)
            out.append(Instr(op, (ma,)))
        elif op == "br_table":
            out.append(Instr(op, (tuple(vals[:-1]), vals[-1])))
        elif op in ("block", "loop", "if") and not vals:
            out.append(Instr(op, (None,)))
        else:
            out.append(Instr(op, tuple(vals)))
    return out


def ft(params: tuple = (), results: tuple = ()) -> RecType:
    return RecType((SubType(FuncType(tuple(params), tuple(results))),))


def module(body: str | list[Instr] = "", params: tuple = (), results: tuple = (), locals_: tuple = (), **kw: Any) -> Module:
    """A module with one function of type params -> results (type 0)."""
    types = kw.pop("types", [])
    m = Module(types=[ft(params, results)] + types, **kw)
    b = I(body) if isinstance(body, str) else body
    m.funcs.insert(0, Func(0, list(locals_), b))
    return m


def invalid(m: Module, msg: str) -> str:
    with pytest.raises(ValidationError) as ei:
        validate_module(m)
    text = ei.value.message
    assert text.startswith(msg), f"expected {msg!r}, got {text!r}"
    return text


def unsupported_(m: Module, feature: str) -> None:
    with pytest.raises(UnsupportedFeature) as ei:
        validate_module(m)
    assert ei.value.message.startswith(feature + ":"), ei.value.message


MEM1 = [Memory(MemType(Limits(1)))]
TAB = [Table(TableType(Limits(10), FUNCREF))]

# ---------------------------------------------------------------------------
# derived tables


def test_numeric_signatures_cover_all_scalar_numeric_opcodes() -> None:
    # every single-byte opcode from i32.eqz (0x45) to i64.extend32_s (0xC4), the
    # consts and the eight saturating truncations, and nothing else
    expected = {n for n, o in OPS.items() if o.prefix == 0 and 0x41 <= o.code <= 0xC4}
    expected |= {n for n, o in OPS.items() if o.prefix == 0xFC and ".trunc_sat_" in n}
    assert set(NUMERIC) == expected
    assert len(NUMERIC) == 4 + 128 + 8


@pytest.mark.parametrize(
    "name,params,results",
    [
        ("i32.add", (I32, I32), (I32,)),
        ("i64.eqz", (I64,), (I32,)),
        ("f64.lt", (F64, F64), (I32,)),
        ("f32.convert_i64_u", (I64,), (F32,)),
        ("i32.wrap_i64", (I64,), (I32,)),
        ("i64.extend_i32_s", (I32,), (I64,)),
        ("i64.extend32_s", (I64,), (I64,)),
        ("i32.trunc_sat_f64_u", (F64,), (I32,)),
        ("f64.reinterpret_i64", (I64,), (F64,)),
        ("f32.copysign", (F32, F32), (F32,)),
        ("i64.rotr", (I64, I64), (I64,)),
        ("f64.const", (), (F64,)),
    ],
)
def test_numeric_signature(name: str, params: tuple, results: tuple) -> None:
    sig = NUMERIC[name]
    assert sig.params == params and sig.results == results


def test_signature_derivation_ignores_non_numeric() -> None:
    for name in ("i64.add128", "i64.mul_wide_s", "i32.load", "memory.size", "i8x16.add", "local.get"):
        assert derive_numeric_signature(name) is None


def test_memops_derived() -> None:
    assert len(MEMOPS) == 23
    assert MEMOPS["i64.load32_u"] == (I64, 2, False)
    assert MEMOPS["i32.store8"] == (I32, 0, True)
    assert MEMOPS["f64.store"] == (F64, 3, True)


def test_every_opcode_is_supported_or_labelled() -> None:
    supported = supported_instructions()
    for name in OPS:
        if name in supported:
            assert feature_of_op(name) is None, name
        else:
            assert feature_of_op(name) is not None, f"{name} has no rule and no feature label"


# ---------------------------------------------------------------------------
# function bodies


def test_simple_function() -> None:
    info = validate_module(module("local.get 0; local.get 1; i32.add", (I32, I32), (I32,)))
    assert isinstance(info, ModuleInfo)
    assert info.max_stack == [2]
    assert info.func_types[0] == FuncType((I32, I32), (I32,))


def test_type_mismatch_operand() -> None:
    msg = invalid(module("i64.const 1; i32.const 2; i32.add", (), (I32,)), "type mismatch")
    assert "[i32 i32]" in msg and "[i64 i32]" in msg and "function 0" in msg


def test_type_mismatch_result() -> None:
    invalid(module("i64.const 1", (), (I32,)), "type mismatch")
    invalid(module("", (), (I32,)), "type mismatch")
    invalid(module("i32.const 1; i32.const 1", (), (I32,)), "type mismatch")
    invalid(module("i32.const 1"), "type mismatch")


def test_stack_underflow_is_type_mismatch() -> None:
    invalid(module("i32.add", (), (I32,)), "type mismatch")
    invalid(module("drop"), "type mismatch")
    # values outside a block are not visible inside it
    invalid(module("i32.const 1; block; drop; end; drop"), "type mismatch")


def test_unknown_indices() -> None:
    invalid(module("local.get 2; drop", (I32,), (), (I64,)), "unknown local 2")
    validate_module(module("local.get 1; drop", (I32,), (), (I64,)))
    invalid(module("br 1"), "unknown label 1")
    invalid(module("call 5"), "unknown function 5")
    invalid(module("global.get 0; drop"), "unknown global 0")
    invalid(module("i32.const 0; call_indirect 0 0"), "unknown table 0")
    invalid(module("i32.const 0; call_indirect 3 0", tables=TAB), "unknown type 3")
    invalid(module("block 7; end"), "unknown type 7")


def test_unreachable_is_polymorphic() -> None:
    validate_module(module("unreachable; i32.add", (), (I32,)))
    validate_module(module("unreachable; drop; drop; i64.const 0", (), (I64,)))
    validate_module(module("return; i32.add; drop"))
    validate_module(module("br 0; select; drop"))
    validate_module(module("unreachable; ref.is_null; drop"))
    # known operands still have to match
    invalid(module("unreachable; i64.const 0; i32.add", (), (I32,)), "type mismatch")
    invalid(module("unreachable; f32.const 0; i32.const 0; select", (), (I64,)), "type mismatch")
    # the polymorphic stack does not leak out of the block
    invalid(module("block; unreachable; end; i32.add", (), (I32,)), "type mismatch")


def test_blocks_and_labels() -> None:
    # multi-value block with a type index: [i32 i32] -> [i64]
    types = [ft((I32, I32), (I64,))]
    validate_module(module("i32.const 1; i32.const 2; block 1; drop; drop; i64.const 0; end", (), (I64,), types=types))
    invalid(module("i32.const 1; block 1; drop; drop; i64.const 0; end", (), (I64,), types=types), "type mismatch")
    # br to a loop label takes the loop's parameters
    types = [ft((I32,), (I32,))]
    validate_module(module("i32.const 0; loop 1; br 0; end", (), (I32,), types=types))
    validate_module(module("block; br 0; end"))
    validate_module(module("block; i32.const 1; br 0; end"))  # br drops extra operands
    invalid(module("block; br 0; i32.const 1; end"), "type mismatch")


def test_block_result_types() -> None:
    m = module([Instr("block", (I32,)), Instr("i32.const", (1,)), Instr("end")], (), (I32,))
    validate_module(m)
    m = module([Instr("block", (I32,)), Instr("i64.const", (1,)), Instr("end")], (), (I32,))
    invalid(m, "type mismatch")


def test_if_else() -> None:
    i32b = [Instr("if", (I32,)), Instr("i32.const", (1,)), Instr("else"), Instr("i32.const", (2,)), Instr("end")]
    validate_module(module([Instr("i32.const", (0,))] + i32b, (), (I32,)))
    invalid(module(i32b, (), (I32,)), "type mismatch")  # no condition
    # if without else needs params == results
    no_else = [Instr("i32.const", (0,)), Instr("if", (I32,)), Instr("i32.const", (1,)), Instr("end")]
    invalid(module(no_else, (), (I32,)), "type mismatch")
    types = [ft((I32,), (I32,))]
    validate_module(module("i32.const 5; i32.const 0; if 1; end", (), (I32,), types=types))
    invalid(module("else"), "else without matching if")


def test_br_if_and_br_table() -> None:
    validate_module(module("block; i32.const 0; br_if 0; end"))
    invalid(module("block; br_if 0; end"), "type mismatch")
    blk = [Instr("block", (I32,)), Instr("block", (I64,))]
    # br_table targets must agree in arity
    body = [Instr("block", (I32,)), Instr("block", (None,)), Instr("i32.const", (1,)), Instr("i32.const", (0,)),
            Instr("br_table", ((0,), 1)), Instr("end"), Instr("i32.const", (2,)), Instr("end")]
    invalid(module(body, (), (I32,)), "type mismatch")
    body = blk + [Instr("i32.const", (1,)), Instr("i32.const", (0,)), Instr("br_table", ((0,), 1))]
    body += [Instr("end"), Instr("drop"), Instr("i32.const", (0,)), Instr("end")]
    invalid(module(body, (), (I32,)), "type mismatch")
    # same arity, compatible types: fine; unreachable operands too
    validate_module(module("block; block; i32.const 0; br_table 0 1 0; end; end"))
    body = [Instr("block", (I32,)), Instr("unreachable"), Instr("br_table", ((0,), 0)), Instr("end")]
    validate_module(module(body, (), (I32,)))


def test_select() -> None:
    validate_module(module("i32.const 1; i32.const 2; i32.const 0; select", (), (I32,)))
    invalid(module("i32.const 1; i64.const 2; i32.const 0; select", (), (I32,)), "type mismatch")
    invalid(module([Instr("ref.null", (AbsHeap.FUNC,)), Instr("ref.null", (AbsHeap.FUNC,)), Instr("i32.const", (0,)),
                    Instr("select"), Instr("drop")]), "type mismatch")
    typed = [Instr("ref.null", (AbsHeap.FUNC,)), Instr("ref.null", (AbsHeap.FUNC,)), Instr("i32.const", (0,)),
             Instr("select_t", ((FUNCREF,),))]
    validate_module(module(typed, (), (FUNCREF,)))
    invalid(module(typed[:3] + [Instr("select_t", ((FUNCREF, FUNCREF),))], (), (FUNCREF,)), "invalid result arity")
    invalid(module(typed[:3] + [Instr("select_t", ((),))], (), (FUNCREF,)), "invalid result arity")


def test_globals_in_code() -> None:
    g = [Global(GlobalType(I32, False), I("i32.const 0")), Global(GlobalType(I64, True), I("i64.const 0"))]
    validate_module(module("global.get 0; drop; i64.const 1; global.set 1", globals=g))
    invalid(module("i32.const 1; global.set 0", globals=g), "immutable global")
    invalid(module("i32.const 1; global.set 1", globals=g), "type mismatch")


def test_memory_instructions() -> None:
    validate_module(module("i32.const 0; i32.load 2 0; drop; i32.const 0; i64.const 0; i64.store32 2 4", mems=MEM1))
    invalid(module("i32.const 0; i32.load 2 0; drop"), "unknown memory 0")
    invalid(module("i32.const 0; i32.load 3 0; drop", mems=MEM1), "alignment must not be larger than natural")
    invalid(module("i32.const 0; i64.load8_u 1 0; drop", mems=MEM1), "alignment must not be larger than natural")
    invalid(module("i32.const 0; i32.load 2 4294967296; drop", mems=MEM1), "offset out of range")
    validate_module(module("i32.const 0; i32.load 2 4294967295; drop", mems=MEM1))
    invalid(module("i32.const 0; f32.store 2 0", mems=MEM1), "type mismatch")
    invalid(module("memory.size 0; drop"), "unknown memory 0")
    validate_module(module("i32.const 1; memory.grow 0; drop", mems=MEM1))
    invalid(module("i32.const 0; i32.const 0; i32.const 0; memory.fill 0"), "unknown memory 0")


def test_multiple_memories() -> None:
    mems = MEM1 + [Memory(MemType(Limits(0, 2)))]
    validate_module(module("i32.const 0; i32.load 2 0 1; drop; i32.const 0; i32.const 0; i32.const 0; memory.copy 1 0",
                           mems=mems))
    invalid(module("i32.const 0; i32.load 2 0 2; drop", mems=mems), "unknown memory 2")
    invalid(module("i32.const 0; i32.const 0; i32.const 0; memory.copy 0 2", mems=mems), "unknown memory 2")


def test_bulk_memory_and_segments() -> None:
    datas = [Data(b"ab")]
    validate_module(module("i32.const 0; i32.const 0; i32.const 1; memory.init 0 0; data.drop 0", mems=MEM1, datas=datas))
    # memory before data segment, as the suite expects
    invalid(module("i32.const 0; i32.const 0; i32.const 1; memory.init 1 0"), "unknown memory 0")
    invalid(module("i32.const 0; i32.const 0; i32.const 1; memory.init 1 0", mems=MEM1, datas=datas),
            "unknown data segment 1")
    invalid(module("data.drop 0"), "unknown data segment 0")


def test_table_instructions() -> None:
    elems = [Elem(FUNCREF, [I("ref.func 0")], "passive")]
    ext = [Table(TableType(Limits(1), EXTERNREF))]
    validate_module(module("i32.const 0; table.get 0; drop; table.size 0; drop", tables=TAB))
    validate_module(module("i32.const 0; i32.const 0; i32.const 0; table.init 0 0; elem.drop 0", tables=TAB, elems=elems))
    invalid(module("i32.const 0; i32.const 0; i32.const 0; table.init 0 0", elems=elems), "unknown table 0")
    invalid(module("i32.const 0; i32.const 0; i32.const 0; table.init 4 0", tables=TAB, elems=elems),
            "unknown elem segment 4")
    invalid(module("i32.const 0; i32.const 0; i32.const 0; table.init 0 0", tables=ext, elems=elems), "type mismatch")
    invalid(module("i32.const 0; i32.const 0; i32.const 0; table.copy 0 1", tables=TAB + ext), "type mismatch")
    validate_module(module("i32.const 0; i32.const 0; i32.const 0; table.copy 1 1", tables=TAB + ext))
    body = [Instr("i32.const", (0,)), Instr("ref.null", (AbsHeap.EXTERN,)), Instr("table.set", (0,))]
    invalid(module(body, tables=TAB), "type mismatch")
    validate_module(module(body, tables=ext))
    body = [Instr("ref.null", (AbsHeap.FUNC,)), Instr("i32.const", (2,)), Instr("table.grow", (0,)), Instr("drop")]
    validate_module(module(body, tables=TAB))
    invalid(module("i32.const 0; call_indirect 0 0", tables=ext), "type mismatch")


def test_ref_func_declaration() -> None:
    body = "ref.func 0; drop"
    invalid(module(body), "undeclared function reference")
    # declared by a declarative segment, an export, a global or an element segment
    validate_module(module(body, elems=[Elem(FUNCREF, [I("ref.func 0")], "declarative")]))
    validate_module(module(body, exports=[Export("f", ExternKind.FUNC, 0)]))
    validate_module(module(body, globals=[Global(GlobalType(FUNCREF), I("ref.func 0"))]))
    # the start function and other bodies do not declare
    m = module(body, start=1)
    m.funcs.append(Func(0, [], I("ref.func 0; drop")))
    invalid(m, "undeclared function reference")
    # a function reference is a funcref
    validate_module(module("ref.func 0", (), (FUNCREF,), exports=[Export("f", ExternKind.FUNC, 0)]))
    invalid(module("ref.func 0", (), (EXTERNREF,), exports=[Export("f", ExternKind.FUNC, 0)]), "type mismatch")


def test_ref_is_null_needs_reference() -> None:
    invalid(module("i32.const 0; ref.is_null; drop"), "type mismatch")
    validate_module(module([Instr("ref.null", (AbsHeap.EXTERN,)), Instr("ref.is_null")], (), (I32,)))


def test_unbalanced_bodies() -> None:
    invalid(module("block"), "unclosed block")
    invalid(module("end; nop"), "unexpected end")


def test_malformed_structures_raise_validation_error() -> None:
    invalid(module([Instr("br_table", (1,))]), "malformed instruction")
    invalid(Module(globals=[Global(GlobalType(I32), [("i32.const",)])]), "malformed module structure")  # type: ignore[list-item]
    invalid(Module(funcs=[Func("x")]), "malformed module structure")  # type: ignore[arg-type]
    invalid(module("", locals_=("i32",)), "malformed value type")


def test_unknown_operator() -> None:
    invalid(module([Instr("i32.frobnicate")]), "unknown operator")


# ---------------------------------------------------------------------------
# module level


def test_const_exprs() -> None:
    def tab_elem(offset: str) -> Module:
        return Module(tables=list(TAB), elems=[Elem(FUNCREF, [], "active", 0, I(offset))])

    validate_module(tab_elem("i32.const 0"))
    invalid(tab_elem("i64.const 0"), "type mismatch")
    invalid(tab_elem("i32.const 0; i32.ctz"), "constant expression required")
    invalid(tab_elem("nop"), "constant expression required")
    invalid(tab_elem(""), "type mismatch")
    invalid(tab_elem("i32.const 0; i32.const 0"), "type mismatch")
    validate_module(tab_elem("i32.const 1; i32.const 2; i32.add; i32.const 3; i32.mul"))  # extended-const
    imp = [Import("m", "g", ExternKind.GLOBAL, GlobalType(I32, False)),
           Import("m", "h", ExternKind.GLOBAL, GlobalType(I32, True))]
    m = tab_elem("global.get 0")
    m.imports = imp
    validate_module(m)
    m = tab_elem("global.get 1")
    m.imports = imp
    invalid(m, "constant expression required")


def test_global_initialisers() -> None:
    g = lambda t, init, mut=False: Global(GlobalType(t, mut), I(init))  # noqa: E731
    validate_module(Module(globals=[g(I32, "i32.const 1"), g(I32, "global.get 0")]))
    invalid(Module(globals=[g(I32, "global.get 1"), g(I32, "i32.const 1")]), "unknown global 1")
    invalid(Module(globals=[g(I32, "global.get 0")]), "unknown global 0")
    invalid(Module(globals=[g(I32, "i32.const 1", True), g(I32, "global.get 0")]), "constant expression required")
    invalid(Module(globals=[g(I64, "i32.const 1")]), "type mismatch")
    invalid(Module(globals=[g(FUNCREF, "ref.func 3")]), "unknown function 3")
    validate_module(Module(globals=[Global(GlobalType(EXTERNREF), [Instr("ref.null", (AbsHeap.EXTERN,))])]))
    invalid(Module(globals=[Global(GlobalType(EXTERNREF), [Instr("ref.null", (AbsHeap.FUNC,))])]), "type mismatch")


def test_segments() -> None:
    invalid(Module(elems=[Elem(FUNCREF, [], "active", 0, I("i32.const 0"))]), "unknown table 0")
    invalid(Module(datas=[Data(b"", "active", 0, I("i32.const 0"))]), "unknown memory 0")
    validate_module(Module(mems=MEM1, datas=[Data(b"x", "active", 0, I("i32.const 0"))]))
    invalid(Module(mems=MEM1, datas=[Data(b"x", "active", 0, I("i64.const 0"))]), "type mismatch")
    ext = [Table(TableType(Limits(1), EXTERNREF))]
    invalid(Module(tables=ext, elems=[Elem(FUNCREF, [], "active", 0, I("i32.const 0"))]), "type mismatch")
    invalid(Module(elems=[Elem(EXTERNREF, [I("ref.func 0")], "passive")], funcs=[Func(0)], types=[ft()]),
            "type mismatch")


def test_limits() -> None:
    mem = lambda lo, hi=None: Module(mems=[Memory(MemType(Limits(lo, hi)))])  # noqa: E731
    validate_module(mem(0, 65536))
    invalid(mem(1, 0), "size minimum must not be greater than maximum")
    invalid(mem(65537), "memory size must be at most 65536 pages (4GiB)")
    invalid(mem(0, 1 << 32), "memory size")
    imp = Import("M", "m", ExternKind.MEM, MemType(Limits(1 << 32)))
    invalid(Module(imports=[imp]), "memory size")
    invalid(Module(tables=[Table(TableType(Limits(2, 1), FUNCREF))]), "size minimum must not be greater than maximum")
    validate_module(Module(tables=[Table(TableType(Limits(0, (1 << 32) - 1), FUNCREF))]))


def test_start_and_exports() -> None:
    validate_module(module("", start=0))
    invalid(module("i32.const 0", (), (I32,), start=0), "start function")
    invalid(module("", (I32,), (), start=0), "start function")
    invalid(module("", start=1), "unknown function 1")
    e = lambda n, k, i: Export(n, k, i)  # noqa: E731
    validate_module(module("", exports=[e("a", ExternKind.FUNC, 0), e("b", ExternKind.FUNC, 0)]))
    invalid(module("", exports=[e("a", ExternKind.FUNC, 0), e("a", ExternKind.FUNC, 0)]), "duplicate export name")
    invalid(module("", exports=[e("m", ExternKind.MEM, 0)]), "unknown memory 0")
    invalid(module("", exports=[e("t", ExternKind.TABLE, 0)]), "unknown table 0")
    invalid(module("", exports=[e("g", ExternKind.GLOBAL, 0)]), "unknown global 0")


def test_function_types() -> None:
    invalid(Module(funcs=[Func(0)]), "unknown type 0")
    invalid(Module(imports=[Import("m", "f", ExternKind.FUNC, 2)], types=[ft()]), "unknown type 2")


def test_module_info_index_spaces() -> None:
    types = [ft((I32,), ()), ft((), (I64,))]
    m = Module(
        types=types,
        imports=[
            Import("m", "f", ExternKind.FUNC, 1),
            Import("m", "t", ExternKind.TABLE, TableType(Limits(1), EXTERNREF)),
            Import("m", "mem", ExternKind.MEM, MemType(Limits(1))),
            Import("m", "g", ExternKind.GLOBAL, GlobalType(F32)),
        ],
        funcs=[Func(0, [], I("call 0; drop")), Func(1, [], I("call 0"))],
        tables=list(TAB),
        mems=[Memory(MemType(Limits(0)))],
        globals=[Global(GlobalType(I32, True), I("i32.const 0"))],
        elems=[Elem(FUNCREF, [I("ref.func 2")], "declarative")],
        datas=[Data(b"")],
    )
    info = validate_module(m)
    assert info.func_type_indices == [1, 0, 1]
    assert info.func_types == [FuncType((), (I64,)), FuncType((I32,), ()), FuncType((), (I64,))]
    assert info.num_imported_funcs == 1
    assert [t.elem for t in info.tables] == [EXTERNREF, FUNCREF]
    assert info.num_imported_tables == 1 and info.num_imported_mems == 1 and info.num_imported_globals == 1
    assert info.mems == [MemType(Limits(1)), MemType(Limits(0))]
    assert info.globals == [GlobalType(F32), GlobalType(I32, True)]
    assert info.elem_types == [FUNCREF]
    assert info.num_datas == 1
    assert info.refs == frozenset({2})
    assert info.max_stack == [1, 1]
    assert len(info.types) == 2


def test_canonical_type_keys() -> None:
    a = [ft((I32,), ()), ft((), (I64,)), ft((I32,), ())]
    b = [ft((), (I64,)), ft((I32,), ())]
    ka, kb = canonical_keys(a), canonical_keys(b)
    assert ka[0] == ka[2] != ka[1]
    assert ka[0] == kb[1] and ka[1] == kb[0]
    assert len({hash(k) for k in ka}) == 2
    # equivalent function types match each other (call_indirect, ref.func)
    m = Module(types=a, funcs=[Func(0)], exports=[Export("f", ExternKind.FUNC, 0)])
    m.funcs.append(Func(1, [], [Instr("ref.func", (0,)), Instr("drop"), Instr("i64.const", (0,))]))
    validate_module(m)


# ---------------------------------------------------------------------------
# features beyond 2.0 are unsupported, not invalid


def test_unsupported_features() -> None:
    unsupported_(Module(mems=[Memory(MemType(Limits(1, 1, shared=True)))]), "threads")
    unsupported_(module("i64.const 0; i64.const 0; i64.const 0; i64.const 0; i64.add128; drop; drop"),
                 "wide-arithmetic")
    unsupported_(module([Instr("ref.null", (AbsHeap.EQ,)), Instr("ref.null", (AbsHeap.EQ,)),
                         Instr("ref.eq", ()), Instr("drop")]), "gc")


def test_relaxed_simd_is_supported() -> None:
    v = [Instr("v128.const", (0,))]
    validate_module(module(v * 2 + [Instr("i8x16.relaxed_swizzle", ()), Instr("drop")]))
    validate_module(module(v + [Instr("i32x4.relaxed_trunc_f64x2_u_zero", ()), Instr("drop")]))
    for op in ("f32x4.relaxed_madd", "f64x2.relaxed_nmadd", "i16x8.relaxed_laneselect",
               "i32x4.relaxed_dot_i8x16_i7x16_add_s"):
        validate_module(module(v * 3 + [Instr(op, ()), Instr("drop")]))
        invalid(module(v * 2 + [Instr(op, ()), Instr("drop")]), "type mismatch")
    invalid(module(v + [Instr("i32.const", (0,)), Instr("i16x8.relaxed_q15mulr_s", ()),
                        Instr("drop")]), "type mismatch")


def test_simd_is_supported() -> None:
    # v128 parameters, locals, constants (also in constant expressions) and operators
    validate_module(module("", (V128,)))
    validate_module(module("", locals_=(V128,)))
    validate_module(module([Instr("v128.const", (0,)), Instr("drop")]))
    validate_module(module("i32.const 0; i8x16.splat; drop"))
    validate_module(Module(globals=[Global(GlobalType(V128), [Instr("v128.const", (0,))])]))
    invalid(Module(globals=[Global(GlobalType(I32), [Instr("v128.const", (0,))])]), "type mismatch")
    # signatures derived from the names
    validate_module(module([Instr("v128.const", (1,)), Instr("i32.const", (3,)), Instr("i16x8.shl", ()),
                            Instr("i16x8.bitmask", ())], results=(I32,)))
    invalid(module([Instr("v128.const", (1,)), Instr("i64.const", (3,)), Instr("i16x8.shl", ()),
                    Instr("drop")]), "type mismatch")
    # lane indices: below the lane count (32 for shuffle)
    validate_module(module([Instr("v128.const", (0,)), Instr("i8x16.extract_lane_s", (15,))],
                           results=(I32,)))
    invalid(module([Instr("v128.const", (0,)), Instr("i8x16.extract_lane_s", (16,)), Instr("drop")]),
            "invalid lane index")
    invalid(module([Instr("v128.const", (0,)), Instr("f64.const", (0,)),
                    Instr("f64x2.replace_lane", (2,)), Instr("drop")]), "invalid lane index")
    two = [Instr("v128.const", (0,)), Instr("v128.const", (0,))]
    validate_module(module(two + [Instr("i8x16.shuffle", (tuple(range(16, 32)),)), Instr("drop")]))
    invalid(module(two + [Instr("i8x16.shuffle", ((32,) + (0,) * 15,)), Instr("drop")]),
            "invalid lane index")
    # memory forms: natural alignment, lane index
    lane = [Instr("i32.const", (0,)), Instr("v128.const", (0,))]
    validate_module(module(lane + [Instr("v128.load16_lane", (MemArg(1, 0), 7)), Instr("drop")], mems=MEM1))
    invalid(module(lane + [Instr("v128.load16_lane", (MemArg(2, 0), 7)), Instr("drop")], mems=MEM1),
            "alignment must not be larger than natural")
    invalid(module(lane + [Instr("v128.store16_lane", (MemArg(1, 0), 8))], mems=MEM1),
            "invalid lane index")
    invalid(module("i32.const 0; v128.load 5 0; drop", mems=MEM1),
            "alignment must not be larger than natural")
    validate_module(module("i32.const 0; v128.load 4 0; drop", mems=MEM1))


def test_exception_handling_is_supported() -> None:
    # (tests/test_exceptions.py holds the details)
    invalid(module("throw 0"), "unknown tag 0")
    validate_module(module([Instr("try", (None,)), Instr("end")]))
    info = validate_module(Module(types=[ft()], tags=[Tag(TagType(0))]))
    assert info.tags == [0] and info.tag(0) == FuncType()
def test_wasm3_types_and_function_references_are_supported() -> None:
    # once unsupported (issue 10 implements them): they now validate
    validate_module(module("", (RefType(False, AbsHeap.FUNC),)))
    validate_module(module("", (RefType(True, 0),)))
    validate_module(module("", (RefType(True, AbsHeap.ANY),)))
    validate_module(module([Instr("ref.null", (0,)), Instr("drop")]))
    validate_module(Module(types=[RecType((SubType(StructType((FieldType(I32),))),))]))
    validate_module(Module(types=[RecType((SubType(ArrayType(FieldType(I32))),))]))
    validate_module(Module(types=[RecType((SubType(FuncType()), SubType(FuncType())))]))
    validate_module(Module(types=[RecType((SubType(FuncType(), final=False),))]))
    validate_module(Module(tables=[Table(TableType(Limits(1), FUNCREF),
                                         [Instr("ref.null", (AbsHeap.FUNC,))])]))
    # a group of two is not the same type as a group of one
    keys = canonical_keys([RecType((SubType(FuncType()), SubType(FuncType()))), ft()])
    assert keys[0] != keys[2] and keys[0] != keys[1]
    # GC instructions stay unsupported
    unsupported_(module([Instr("ref.i31", ()), Instr("drop")]), "gc")


def test_tail_calls_are_supported() -> None:
    validate_module(module("return_call 0"))  # the function calls itself
    with pytest.raises(ValidationError, match="type mismatch"):
        validate_module(Module(types=[ft((), (I32,)), ft()],
                               funcs=[Func(0, [], [Instr("return_call", (1,))]), Func(1)]))


def test_memory64_and_custom_page_sizes_are_supported() -> None:
    # (tests/test_memory64.py and tests/test_custom_page_sizes.py hold the details)
    validate_module(Module(mems=[Memory(MemType(Limits(1, addr=AddrType.I64)))]))
    validate_module(Module(mems=[Memory(MemType(Limits(1), page_size_log2=0))]))


def test_unsupported_is_not_validation_error() -> None:
    assert not issubclass(UnsupportedFeature, ValidationError)


# ---------------------------------------------------------------------------
# the spec test suite

WASM2 = paths.suite_files("wasm2-nosimd")
WASM3 = paths.suite_files("wasm3")
MANIFEST = json.loads((paths.testsuite_dir() / "manifest.json").read_text())


def _module_checks(path: Path) -> list[tuple[int, ScriptModule, str | None]]:
    """``(line, module, expected message)`` for the modules of a script that
    must validate (plain, and those of assert_uninstantiable/assert_unlinkable;
    message None), then for the assert_invalid commands."""
    cmds = parsed_script(path)
    valid: list[tuple[int, ScriptModule, str | None]] = []
    invalid_: list[tuple[int, ScriptModule, str | None]] = []
    for c in cmds:
        if isinstance(c, ModuleCommand):
            valid.append((c.line, c.module, None))
        elif isinstance(c, (AssertUninstantiable, AssertUnlinkable)) and isinstance(c.module, ScriptModule):
            valid.append((c.line, c.module, None))
        elif isinstance(c, AssertInvalid):
            invalid_.append((c.line, c.module, c.message))
    counts = {
        "module": sum(isinstance(c, (ModuleCommand, ModuleInstance)) for c in cmds),
        "assert_invalid": len(invalid_),
    }
    listed = MANIFEST["files"][str(path.relative_to(paths.testsuite_dir()))]["commands"]
    for kind, n in counts.items():
        assert n == listed.get(kind, 0), f"{path.name}: {n} {kind} commands parsed, manifest lists {listed.get(kind, 0)}"
    return valid + invalid_


def _rejected(e: WasmboxError, expected: str | None) -> str:
    if expected is None:
        return f"valid module rejected: {e.one_line()}"
    return f"{e.one_line()} (expected invalid: {expected!r})"


def _verdict(sm: ScriptModule, expected: str | None) -> tuple[str, str]:
    """Validate a script module that must be valid (``expected`` None) or
    invalid with a message starting with ``expected``.

    Returns ("ok", ""), ("unsupported", why) for UnsupportedFeature, or
    ("wrong", why) for any other outcome.
    """
    try:
        validate_module(module_of(sm))
    except UnsupportedFeature as e:
        return "unsupported", _rejected(e, expected)
    except ValidationError as e:
        if expected is None:
            return "wrong", _rejected(e, expected)
        if e.message.startswith(expected):
            return "ok", ""
        return "wrong", f"got {e.message!r}, expected {expected!r}"
    except WasmboxError as e:
        return "wrong", _rejected(e, expected)
    if expected is None:
        return "ok", ""
    return "wrong", f"invalid module accepted (expected {expected!r})"


@pytest.mark.parametrize("path", WASM2, ids=[p.name for p in WASM2])
def test_wasm2_nosimd(path: Path) -> None:
    """Every assert_invalid fails with the expected message; every module validates."""
    failures: list[str] = []
    for line, sm, expected in _module_checks(path):
        verdict, why = _verdict(sm, expected)
        if verdict != "ok":
            failures.append(f"line {line}: {why}")
    assert not failures, f"{path.name}: {len(failures)} failures\n" + "\n".join(failures)


def test_wasm3_never_wrongly_invalid() -> None:
    """Across the 3.0 suite: a valid module never gets ValidationError (features
    we lack are UnsupportedFeature), and an assert_invalid module is never
    accepted; when we report it invalid, the message is the expected one."""
    failures: list[str] = []
    stats = {"valid": 0, "unsupported": 0, "invalid_ok": 0, "invalid_unsupported": 0}
    for path in WASM3:
        for line, sm, expected in _module_checks(path):
            verdict, why = _verdict(sm, expected)
            if verdict == "wrong":
                failures.append(f"{path.name}:{line}: {why}")
            elif expected is None:
                stats["valid" if verdict == "ok" else "unsupported"] += 1
            else:
                stats["invalid_ok" if verdict == "ok" else "invalid_unsupported"] += 1
    assert not failures, "\n".join(failures)
    # the 2.0 part alone has 994 assert_invalid and ~890 valid modules
    assert stats["invalid_ok"] >= 994 and stats["valid"] >= 890, stats


BENCH = sorted((paths.shared_dir() / "bench" / "wasm").glob("*.wasm"))


@pytest.mark.parametrize("path", BENCH, ids=[p.name for p in BENCH])
def test_bench_binaries_validate(path: Path) -> None:
    m = decode_module(path.read_bytes())
    t0 = time.perf_counter()
    info = validate_module(m)
    elapsed = time.perf_counter() - t0
    assert len(info.func_types) == len(m.imports_of(ExternKind.FUNC)) + len(m.funcs)
    assert len(info.max_stack) == len(m.funcs)
    assert elapsed < 1.0, f"{path.name} took {elapsed:.2f}s to validate"
