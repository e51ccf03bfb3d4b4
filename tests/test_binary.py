"""Tests of wasmbox.binary: LEB128, every section, every opcode, round trips
over the bench corpus and the spec suites, and the spec's malformed-binary
messages.

The .wast scripts are read with the project's script parser (through the
shared helpers of ``tests/suites.py``); text modules are converted with
``wasmtime.wat2wasm``. Nothing is skipped silently: modules wasmtime
cannot convert, and the few conversions whose bytes the spec itself calls
malformed, are counted, printed and bounded by the assertions.
"""
from __future__ import annotations

import functools
from pathlib import Path

import pytest

from suites import script_modules, wat_text
from wasmbox.binary import (
    EncodeError,
    MAX_FUNCTION_LOCALS,
    decode_module,
    decode_names,
    encode_module,
    encode_names,
    leb128,
)
from wasmbox.errors import DecodeError
from wasmbox import paths
from wasmbox.syntax import OPS
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
    Memory,
    MemArg,
    Module,
    Names,
    Table,
    Tag,
)
from wasmbox.syntax.opcodes import BLOCK_OPENERS
from wasmbox.text.wast import (
    AssertInvalid,
    AssertInvalidCustom,
    AssertMalformed,
    AssertMalformedCustom,
    AssertUninstantiable,
    AssertUnlinkable,
    ModuleCommand,
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

# The command keyword of each command that holds a module.
_KEYWORD = {
    ModuleCommand: "module",
    AssertInvalid: "assert_invalid",
    AssertMalformed: "assert_malformed",
    AssertUnlinkable: "assert_unlinkable",
    AssertUninstantiable: "assert_trap",
    AssertInvalidCustom: "assert_invalid_custom",
    AssertMalformedCustom: "assert_malformed_custom",
}


def wast_modules(path) -> list[tuple[str, str, object, str | None]]:
    """``(command keyword, kind, value, expected message)`` for every module
    of a script, in order: kind "binary" with bytes, or "text"/"quote" with
    the text ``wasmtime.wat2wasm`` takes (see ``suites.wat_text``).

    The flat view tests/test_decode_fuzz.py reads its seed modules from.
    """
    return [
        (_KEYWORD[type(cmd)], sm.kind, sm.binary if sm.kind == "binary" else wat_text(sm),
         getattr(cmd, "message", None))
        for _, cmd, sm in script_modules(files=[Path(path)], parse_modules=False)
    ]


def _rel(path) -> str:
    return str(Path(path).relative_to(paths.testsuite_dir()))


# ---------------------------------------------------------------------------
# LEB128
# ---------------------------------------------------------------------------


class TestLeb128:
    def test_unsigned_basic(self):
        assert leb128.read_u32(b"\x00", 0) == (0, 1)
        assert leb128.read_u32(b"\x7f", 0) == (127, 1)
        assert leb128.read_u32(b"\x80\x01", 0) == (128, 2)
        assert leb128.read_u32(b"\xff\xff\xff\xff\x0f", 0) == (0xFFFFFFFF, 5)
        assert leb128.read_u64(b"\xff" * 9 + b"\x01", 0) == (2**64 - 1, 10)
        # non-minimal encodings are allowed within the byte budget
        assert leb128.read_u32(b"\x80\x80\x80\x80\x00", 0) == (0, 5)
        assert leb128.read_u32(b"\x81\x80\x00", 0) == (1, 3)
        # reading starts at pos
        assert leb128.read_u32(b"\xaa\x05", 1) == (5, 2)

    def test_unsigned_too_long(self):
        with pytest.raises(DecodeError, match="^integer representation too long"):
            leb128.read_u32(b"\x80\x80\x80\x80\x80\x00", 0)
        with pytest.raises(DecodeError, match="^integer representation too long"):
            leb128.read_u64(b"\x80" * 10 + b"\x00", 0)
        with pytest.raises(DecodeError, match="^integer representation too long"):
            leb128.read_unsigned(b"\x80\x00", 0, 7)

    def test_unsigned_too_large(self):
        # 5th byte of a u32 may only use its low 4 bits
        with pytest.raises(DecodeError, match="^integer too large") as e:
            leb128.read_u32(b"\x80\x80\x80\x80\x10", 0)
        assert e.value.offset == 4
        with pytest.raises(DecodeError, match="^integer too large"):
            leb128.read_u32(b"\xff\xff\xff\xff\x1f", 0)
        with pytest.raises(DecodeError, match="^integer too large"):
            leb128.read_u64(b"\xff" * 9 + b"\x02", 0)
        with pytest.raises(DecodeError, match="^integer too large"):
            leb128.read_unsigned(b"\x80\x02", 0, 8)  # u8: 256

    def test_unsigned_eof(self):
        with pytest.raises(DecodeError, match="^unexpected end"):
            leb128.read_u32(b"\x80\x80", 0)
        with pytest.raises(DecodeError, match="^unexpected end"):
            leb128.read_u32(b"", 0)

    def test_signed_basic(self):
        assert leb128.read_s32(b"\x7f", 0) == (-1, 1)
        assert leb128.read_s32(b"\x3f", 0) == (63, 1)
        assert leb128.read_s32(b"\x40", 0) == (-64, 1)
        assert leb128.read_s32(b"\xc0\x00", 0) == (64, 2)
        assert leb128.read_s32(b"\xff\xff\xff\xff\x07", 0) == (2**31 - 1, 5)
        assert leb128.read_s32(b"\x80\x80\x80\x80\x78", 0) == (-(2**31), 5)
        assert leb128.read_s64(b"\x80" * 9 + b"\x7f", 0) == (-(2**63), 10)
        assert leb128.read_s33(b"\xff\xff\xff\xff\x0f", 0) == (2**32 - 1, 5)
        assert leb128.read_s33(b"\x80\x80\x80\x80\x70", 0) == (-(2**32), 5)
        assert leb128.read_s32(b"\xff\xff\xff\xff\x7f", 0) == (-1, 5)  # sign-extended, non-minimal

    def test_signed_too_large(self):
        # the unused bits of the last byte must repeat the sign bit
        for bad in (b"\xff\xff\xff\xff\x0f", b"\x80\x80\x80\x80\x70", b"\xff\xff\xff\xff\x4f"):
            with pytest.raises(DecodeError, match="^integer too large"):
                leb128.read_s32(bad, 0)
        with pytest.raises(DecodeError, match="^integer too large"):
            leb128.read_s64(b"\xff" * 9 + b"\x01", 0)
        with pytest.raises(DecodeError, match="^integer too large"):
            leb128.read_s64(b"\x80" * 9 + b"\x7e", 0)
        with pytest.raises(DecodeError, match="^integer too large"):
            leb128.read_s33(b"\xff\xff\xff\xff\x1f", 0)

    def test_signed_too_long(self):
        with pytest.raises(DecodeError, match="^integer representation too long"):
            leb128.read_s32(b"\xff\xff\xff\xff\xff\x7f", 0)
        with pytest.raises(DecodeError, match="^integer representation too long"):
            leb128.read_s64(b"\x80" * 10 + b"\x00", 0)

    @pytest.mark.parametrize("bits", [7, 8, 32, 33, 64])
    def test_write_read_roundtrip(self, bits):
        values = {0, 1, 63, 64, 127, 128, 255, 256, 2**bits - 1, 2 ** (bits - 1), 12345 % 2**bits}
        for v in values:
            if v < 2**bits:
                enc = leb128.write_unsigned(v, bits)
                assert leb128.read_unsigned(enc, 0, bits) == (v, len(enc))
                assert len(enc) == max(1, -(-v.bit_length() // 7))  # minimal
        half = 2 ** (bits - 1)
        for v in {0, -1, 63, -64, 64, -65, half - 1, -half}:
            if not -half <= v < half:
                with pytest.raises(ValueError):
                    leb128.write_signed(v, bits)
                continue
            enc = leb128.write_signed(v, bits)
            assert leb128.read_signed(enc, 0, bits) == (v, len(enc))

    def test_write_range_checks(self):
        assert leb128.write_u32(624485) == b"\xe5\x8e\x26"
        assert leb128.write_s32(-123456) == b"\xc0\xbb\x78"
        with pytest.raises(ValueError):
            leb128.write_u32(2**32)
        with pytest.raises(ValueError):
            leb128.write_unsigned(-1)
        with pytest.raises(ValueError):
            leb128.write_s32(2**31)
        with pytest.raises(ValueError):
            leb128.write_s64(-(2**63) - 1)


# ---------------------------------------------------------------------------
# Hand-made binaries, one section at a time
# ---------------------------------------------------------------------------

HEADER = b"\x00asm\x01\x00\x00\x00"
u = leb128.write_u32


def sec(sid: int, content: bytes) -> bytes:
    return bytes([sid]) + u(len(content)) + content


def vec(*items: bytes) -> bytes:
    return u(len(items)) + b"".join(items)


def name(s: str) -> bytes:
    return u(len(s.encode())) + s.encode()


def mod(*sections: bytes) -> bytes:
    return HEADER + b"".join(sections)


def body(locals_: bytes, code: bytes) -> bytes:
    b = locals_ + code
    return u(len(b)) + b


def roundtrip(m: Module) -> Module:
    b = encode_module(m)
    m2 = decode_module(b)
    assert m2 == m
    assert encode_module(m2) == b  # canonical: a second round gives the same bytes
    return m2


class TestSections:
    def test_empty_module(self):
        m = decode_module(HEADER)
        assert m == Module()
        assert encode_module(m) == HEADER
        assert decode_module(bytearray(HEADER)) == m
        assert decode_module(memoryview(HEADER)) == m

    def test_types(self):
        b = mod(
            sec(
                1,
                vec(
                    b"\x60" + vec(b"\x7f", b"\x7e") + vec(b"\x7d"),  # (func (param i32 i64) (result f32))
                    b"\x4e"
                    + vec(  # rec group of two
                        b"\x50\x00\x5f" + vec(b"\x78\x00", b"\x7c\x01"),  # sub (struct i8 (mut f64))
                        b"\x4f" + vec(b"\x01") + b"\x5e\x63\x01\x01",  # sub final 1 (array (mut (ref null 1)))
                    ),
                    b"\x5d\x00",  # (cont 0)
                    b"\x4e\x00",  # empty rec group
                    b"\x60\x00" + vec(b"\x64\x6e", b"\x6c", b"\x73", b"\x7b"),
                ),
            )
        )
        m = decode_module(b)
        assert m.types == [
            RecType((SubType(FuncType((I32, I64), (F32,))),)),
            RecType(
                (
                    SubType(
                        StructType((FieldType(PackedType.I8, False), FieldType(F64, True))),
                        final=False,
                    ),
                    SubType(ArrayType(FieldType(RefType(True, 1), True)), True, (1,)),
                )
            ),
            RecType((SubType(ContType(0)),)),
            RecType(()),
            RecType(
                (
                    SubType(
                        FuncType(
                            (),
                            (
                                RefType(False, AbsHeap.ANY),
                                RefType(True, AbsHeap.I31),
                                RefType(True, AbsHeap.NOFUNC),
                                V128,
                            ),
                        )
                    ),
                )
            ),
        ]
        assert encode_module(m) == b  # already canonical
        roundtrip(m)

    def test_non_canonical_type_forms_decode_equal(self):
        short = mod(sec(1, vec(b"\x60\x00\x00")))
        sub_final = mod(sec(1, vec(b"\x4f\x00\x60\x00\x00")))
        rec_one = mod(sec(1, vec(b"\x4e\x01\x60\x00\x00")))
        long_null = mod(sec(1, vec(b"\x60\x01\x63\x70\x00")))
        assert decode_module(short) == decode_module(sub_final) == decode_module(rec_one)
        assert encode_module(decode_module(rec_one)) == short
        assert decode_module(long_null).types[0].subtypes[0].comp.params == (FUNCREF,)
        assert encode_module(decode_module(long_null)) == mod(sec(1, vec(b"\x60\x01\x70\x00")))

    def test_cont_type_index_is_s33(self):
        # wasm-encoder writes (cont 66) as 5d c2 00: an s33 heap type
        types = [b"\x60\x00\x00"] * 70 + [b"\x5d\xc2\x00"]
        m = decode_module(mod(sec(1, vec(*types))))
        assert m.types[70].subtypes[0].comp == ContType(66)
        roundtrip(m)

    def test_imports(self):
        b = mod(
            sec(1, vec(b"\x60\x00\x00")),
            sec(
                2,
                vec(
                    name("m") + name("f") + b"\x00\x00",
                    name("m") + name("t") + b"\x01\x70\x01\x01\x02",
                    name("m") + name("t64") + b"\x01\x6f\x04\x00",
                    name("m") + name("mem") + b"\x02\x03\x01\x02",  # shared, with max
                    name("m") + name("m64") + b"\x02\x05\x00\x80\x80\x04",
                    name("m") + name("mps") + b"\x02\x08\x01\x00",  # custom page size 2**0
                    name("m") + name("g") + b"\x03\x7e\x01",
                    name("m") + name("tag") + b"\x04\x00\x00",
                    name("\u00e9") + name("") + b"\x03\x7f\x00",
                ),
            ),
        )
        m = decode_module(b)
        assert m.imports == [
            Import("m", "f", ExternKind.FUNC, 0),
            Import("m", "t", ExternKind.TABLE, TableType(Limits(1, 2), FUNCREF)),
            Import("m", "t64", ExternKind.TABLE, TableType(Limits(0, None, AddrType.I64), EXTERNREF)),
            Import("m", "mem", ExternKind.MEM, MemType(Limits(1, 2, AddrType.I32, True))),
            Import("m", "m64", ExternKind.MEM, MemType(Limits(0, 65536, AddrType.I64))),
            Import("m", "mps", ExternKind.MEM, MemType(Limits(1), page_size_log2=0)),
            Import("m", "g", ExternKind.GLOBAL, GlobalType(I64, True)),
            Import("m", "tag", ExternKind.TAG, TagType(0)),
            Import("\u00e9", "", ExternKind.GLOBAL, GlobalType(I32, False)),
        ]
        assert encode_module(m) == b
        with pytest.raises(DecodeError, match="^malformed limits flags"):
            decode_module(mod(sec(2, vec(name("m") + name("t") + b"\x01\x70\x02\x00"))))  # shared table
        with pytest.raises(DecodeError, match="^zero byte expected"):
            decode_module(mod(sec(2, vec(name("m") + name("e") + b"\x04\x01\x00"))))
        with pytest.raises(DecodeError, match="^malformed import kind"):
            decode_module(mod(sec(2, vec(name("m") + name("e") + b"\x05\x00"))))
        with pytest.raises(DecodeError, match="^malformed UTF-8 encoding"):
            decode_module(mod(sec(2, vec(b"\x01\xff" + name("e") + b"\x00\x00"))))

    def test_page_size_flag_can_be_core_only(self):
        b = mod(sec(5, vec(b"\x08\x00\x10")))
        assert decode_module(b).mems == [Memory(MemType(Limits(0), 16))]
        with pytest.raises(DecodeError, match="^malformed limits flags"):
            decode_module(b, custom_page_sizes=False)
        with pytest.raises(DecodeError, match="^invalid custom page size"):
            decode_module(mod(sec(5, vec(b"\x08\x00\x40"))))
        with pytest.raises(DecodeError, match="^malformed limits flags"):
            decode_module(mod(sec(5, vec(b"\x10\x00"))))

    def test_functions_tables_memories_tags_globals_exports_start(self):
        b = mod(
            sec(1, vec(b"\x60\x00\x00", b"\x60\x01\x7f\x00")),
            sec(3, vec(b"\x00", b"\x00")),
            sec(4, vec(b"\x70\x00\x01", b"\x40\x00\x64\x70\x00\x02\xd2\x00\x0b")),
            sec(5, vec(b"\x01\x01\x02", b"\x04\x80\x80\x80\x80\x10")),
            sec(13, vec(b"\x00\x01")),
            sec(6, vec(b"\x7f\x00\x41\x7f\x0b", b"\x7e\x01\x42\x01\x42\x02\x7c\x0b")),
            sec(7, vec(name("f") + b"\x00\x01", name("t") + b"\x01\x00", name("tag") + b"\x04\x00")),
            sec(8, b"\x01"),
            sec(10, vec(body(b"\x00", b"\x0b"), body(b"\x00", b"\x01\x0b"))),
        )
        m = decode_module(b)
        assert [f.type_index for f in m.funcs] == [0, 0]
        assert m.funcs[1].body == [Instr("nop")]
        assert m.tables == [
            Table(TableType(Limits(1), FUNCREF)),
            Table(TableType(Limits(2), RefType(False, AbsHeap.FUNC)), [Instr("ref.func", (0,))]),
        ]
        assert m.mems == [Memory(MemType(Limits(1, 2))), Memory(MemType(Limits(2**32, None, AddrType.I64)))]
        assert m.tags == [Tag(TagType(1))]
        assert m.globals == [
            Global(GlobalType(I32), [Instr("i32.const", (-1,))]),
            Global(
                GlobalType(I64, True),
                [Instr("i64.const", (1,)), Instr("i64.const", (2,)), Instr("i64.add")],
            ),
        ]
        assert m.exports == [
            Export("f", ExternKind.FUNC, 1),
            Export("t", ExternKind.TABLE, 0),
            Export("tag", ExternKind.TAG, 0),
        ]
        assert m.start == 1
        assert encode_module(m) == b

    def test_elem_all_eight_forms(self):
        off = b"\x41\x00\x0b"
        b = mod(
            sec(1, vec(b"\x60\x00\x00")),
            sec(3, vec(b"\x00")),
            sec(4, vec(b"\x70\x00\x01", b"\x70\x00\x01")),
            sec(
                9,
                vec(
                    b"\x00" + off + vec(b"\x00"),
                    b"\x01\x00" + vec(b"\x00", b"\x00"),
                    b"\x02\x01" + off + b"\x00" + vec(b"\x00"),
                    b"\x03\x00" + vec(b"\x00"),
                    b"\x04" + off + vec(b"\xd2\x00\x0b", b"\xd0\x70\x0b"),
                    b"\x05\x70" + vec(b"\xd0\x70\x0b"),
                    b"\x06\x01" + off + b"\x64\x70" + vec(b"\xd2\x00\x0b"),
                    b"\x07\x70" + vec(b"\xd2\x00\x0b"),
                ),
            ),
            sec(10, vec(body(b"\x00", b"\x0b"))),
        )
        m = decode_module(b)
        rf = [Instr("ref.func", (0,))]
        null = [Instr("ref.null", (AbsHeap.FUNC,))]
        offset = [Instr("i32.const", (0,))]
        REF_FUNC = RefType(False, AbsHeap.FUNC)
        assert m.elems == [
            Elem(REF_FUNC, [rf], "active", 0, offset),
            Elem(REF_FUNC, [rf, rf], "passive"),
            Elem(REF_FUNC, [rf], "active", 1, offset),
            Elem(REF_FUNC, [rf], "declarative"),
            Elem(FUNCREF, [rf, null], "active", 0, offset),
            Elem(FUNCREF, [null], "passive"),
            Elem(REF_FUNC, [rf], "active", 1, offset),
            Elem(FUNCREF, [rf], "declarative"),
        ]
        out = encode_module(m)
        m2 = roundtrip(m)
        # form 6 with (ref func) and only ref.func items is re-encoded in the short form 2
        assert len(out) < len(b)
        assert m2.elems[6] == m.elems[6]
        with pytest.raises(DecodeError, match="^malformed elements segment kind"):
            decode_module(mod(sec(9, vec(b"\x08"))))
        with pytest.raises(DecodeError, match="^malformed element kind"):
            decode_module(mod(sec(9, vec(b"\x01\x01\x00"))))
        with pytest.raises(DecodeError, match="^malformed reference type"):
            decode_module(mod(sec(9, vec(b"\x05\x7f\x00"))))

    def test_data_and_data_count(self):
        b = mod(
            sec(5, vec(b"\x00\x01", b"\x00\x01")),
            sec(12, b"\x03"),
            sec(11, vec(b"\x00\x41\x08\x0b" + name("ab"), b"\x01" + name(""), b"\x02\x01\x41\x00\x0b\x01\xff")),
        )
        m = decode_module(b)
        assert m.data_count == 3
        assert m.datas == [
            Data(b"ab", "active", 0, [Instr("i32.const", (8,))]),
            Data(b"", "passive"),
            Data(b"\xff", "active", 1, [Instr("i32.const", (0,))]),
        ]
        assert encode_module(m) == b
        m.data_count = None
        assert sec(12, b"\x03") not in encode_module(m)
        with pytest.raises(DecodeError, match="^data count and data section have inconsistent lengths"):
            decode_module(mod(sec(12, b"\x01")))
        with pytest.raises(DecodeError, match="^malformed data segment kind"):
            decode_module(mod(sec(11, vec(b"\x03"))))

    def test_data_count_required_by_data_index(self):
        code = sec(10, vec(body(b"\x00", b"\xfc\x09\x00\x0b")))  # data.drop 0
        funcs = (sec(1, vec(b"\x60\x00\x00")), sec(3, vec(b"\x00")))
        with pytest.raises(DecodeError, match="^data count section required"):
            decode_module(mod(*funcs, code, sec(11, vec(b"\x01\x00"))))
        m = decode_module(mod(*funcs, sec(12, b"\x01"), code, sec(11, vec(b"\x01\x00"))))
        assert m.funcs[0].body == [Instr("data.drop", (0,))]
        # a data index in a constant expression does not need it (the spec checks code only)
        decode_module(mod(sec(11, vec(b"\x01\x00"))))

    def test_locals(self):
        b = mod(
            sec(1, vec(b"\x60\x00\x00")),
            sec(3, vec(b"\x00")),
            sec(10, vec(body(vec(b"\x02\x7f", b"\x01\x7e", b"\x00\x7d", b"\x03\x7f"), b"\x0b"))),
        )
        m = decode_module(b)
        assert m.funcs[0].locals == [I32, I32, I64, I32, I32, I32]
        # kept as canonical runs: the empty group dropped, equal neighbours merged
        assert m.funcs[0].locals.runs == ((2, I32), (1, I64), (3, I32))
        # encoding merges runs and drops empty groups
        assert encode_module(m) == mod(
            sec(1, vec(b"\x60\x00\x00")),
            sec(3, vec(b"\x00")),
            sec(10, vec(body(vec(b"\x02\x7f", b"\x01\x7e", b"\x03\x7f"), b"\x0b"))),
        )
        roundtrip(m)

    def test_too_many_locals(self):
        base = (sec(1, vec(b"\x60\x00\x00")), sec(3, vec(b"\x00")))
        huge = vec(b"\xff\xff\xff\xff\x0f\x7f", b"\x02\x7e")
        with pytest.raises(DecodeError, match="^too many locals"):
            decode_module(mod(*base, sec(10, vec(body(huge, b"\x0b")))))
        # one past the spec's limit, split so that no single count overflows u32
        big = vec(u(2**31) + b"\x7f", u(2**31) + b"\x7f")
        with pytest.raises(DecodeError, match="^too many locals"):
            decode_module(mod(*base, sec(10, vec(body(big, b"\x0b")))))
        # the limit is the spec's 2**32 - 1, in one group or several, kept as runs
        assert MAX_FUNCTION_LOCALS == 2**32 - 1
        ok = vec(u(MAX_FUNCTION_LOCALS) + b"\x7f")
        locs = decode_module(mod(*base, sec(10, vec(body(ok, b"\x0b"))))).funcs[0].locals
        assert len(locs) == MAX_FUNCTION_LOCALS and locs.runs == ((MAX_FUNCTION_LOCALS, I32),)
        ok = vec(u(2**31) + b"\x7f", u(2**31 - 1) + b"\x7e")
        locs = decode_module(mod(*base, sec(10, vec(body(ok, b"\x0b"))))).funcs[0].locals
        assert len(locs) == MAX_FUNCTION_LOCALS and locs.runs == ((2**31, I32), (2**31 - 1, I64))

    def test_custom_sections_keep_their_place(self):
        b = mod(
            sec(0, name("first") + b"\x01\x02"),
            sec(1, vec(b"\x60\x00\x00")),
            sec(0, name("after-type") + b""),
            sec(0, name("after-type-2") + b"xyz"),
            sec(3, vec(b"\x00")),
            sec(10, vec(body(b"\x00", b"\x0b"))),
            sec(0, name("last") + b"\x00"),
        )
        m = decode_module(b)
        assert m.customs == [
            Custom("first", b"\x01\x02", 0),
            Custom("after-type", b"", 1),
            Custom("after-type-2", b"xyz", 1),
            Custom("last", b"\x00", 10),
        ]
        assert encode_module(m) == b
        # a custom section placed after a section that the module leaves empty
        m2 = Module(customs=[Custom("c", b"!", 7), Custom("d", b"", 9), Custom("e", b"", 11)])
        out = roundtrip(m2)
        assert out.customs == m2.customs

    def test_name_section(self):
        names = Names(
            module="M",
            funcs={0: "f", 3: "g"},
            locals={0: {0: "x", 1: "y"}, 3: {}},
            labels={0: {0: "l"}},
            types={0: "t"},
            tables={0: "tb"},
            mems={1: "m"},
            globals={0: "g"},
            elems={2: "e"},
            datas={0: "d"},
            fields={0: {0: "a", 1: "b"}},
            tags={0: "tag"},
        )
        payload = encode_names(names)
        assert decode_names(payload) == names
        m = Module(names=names, customs=[Custom("other", b"x", 0)])
        b = encode_module(m)
        assert b.endswith(sec(0, name("name") + payload))  # placed last
        assert roundtrip(m).names == names
        # an empty module name still produces a section
        assert roundtrip(Module(names=Names(module=""))).names.module == ""

    def test_malformed_name_section_is_kept_verbatim(self):
        bad_payloads = [
            b"\x01\x05\x02\x01\x00\x00\x00",  # indices not increasing (1, 0)
            b"\x01\x01",  # subsection runs past the end
            b"\x04\x01\x00\x01\x01\x00",  # subsections out of order (4 then 1)
            b"\x0c\x00",  # unknown subsection id
            b"\x01\x04\x01\x00\x01\xff",  # bad UTF-8
        ]
        for payload in bad_payloads:
            assert decode_names(payload) is None, payload
            m = decode_module(mod(sec(0, name("name") + payload)))
            assert m.names == Names()
            assert m.customs == [Custom("name", payload, 0)]
            roundtrip(m)
        # only the first name section is decoded; later ones stay verbatim
        good = encode_names(Names(funcs={0: "a"}))
        m = decode_module(mod(sec(0, name("name") + good), sec(0, name("name") + good)))
        assert m.names == Names(funcs={0: "a"})
        assert m.customs == [Custom("name", good, 0)]
        roundtrip(m)

    def test_section_order_and_ids(self):
        t = sec(1, vec(b"\x60\x00\x00"))
        with pytest.raises(DecodeError, match="^unexpected content after last section"):
            decode_module(mod(t, t))
        with pytest.raises(DecodeError, match="^unexpected content after last section"):
            decode_module(mod(sec(3, vec()), t))
        with pytest.raises(DecodeError, match="^unexpected content after last section"):
            decode_module(mod(sec(10, vec()), sec(12, b"\x00")))  # data count goes before code
        with pytest.raises(DecodeError, match="^malformed section id"):
            decode_module(mod(sec(14, b"")))
        # tags (13) come between memories (5) and globals (6)
        decode_module(mod(sec(1, vec(b"\x60\x00\x00")), sec(5, vec()), sec(13, vec(b"\x00\x00")), sec(6, vec())))
        with pytest.raises(DecodeError, match="^unexpected content after last section"):
            decode_module(mod(sec(6, vec()), sec(13, vec())))

    def test_header(self):
        with pytest.raises(DecodeError, match="^unexpected end"):
            decode_module(b"\x00as")
        with pytest.raises(DecodeError, match="^magic header not detected") as e:
            decode_module(b"\x00ASM\x01\x00\x00\x00")
        assert e.value.offset == 0
        with pytest.raises(DecodeError, match="^unknown binary version") as e:
            decode_module(b"\x00asm\x02\x00\x00\x00")
        assert e.value.offset == 4
        with pytest.raises(DecodeError):
            decode_module("not bytes")  # type: ignore[arg-type]

    def test_sizes(self):
        with pytest.raises(DecodeError, match="^section size mismatch"):
            decode_module(mod(b"\x01\x05" + vec(b"\x60\x00\x00")))  # declared 5, content 4
        with pytest.raises(DecodeError, match="^length out of bounds"):
            decode_module(mod(b"\x01\x10" + vec(b"\x60\x00\x00")))
        with pytest.raises(DecodeError, match="^length out of bounds"):
            decode_module(mod(sec(1, b"\xff\xff\xff\xff\x0f")))  # 2**32-1 types: no allocation
        with pytest.raises(DecodeError, match="^unexpected end"):
            decode_module(mod(sec(1, b"\x02\x60\x00\x00")))
        with pytest.raises(DecodeError, match="^function and code section have inconsistent lengths"):
            decode_module(mod(sec(1, vec(b"\x60\x00\x00")), sec(3, vec(b"\x00"))))


# ---------------------------------------------------------------------------
# Instructions: every row of the opcode table round trips
# ---------------------------------------------------------------------------

SAMPLE_IMMS = {
    "bt": [None, I32, RefType(False, 5), 7, 200],
    "labels": [(), (0, 1, 200)],
    "memarg": [MemArg(2, 8, 0), MemArg(3, 2**40, 1), MemArg(0, 0, 300)],
    "i32": [0, -1, 63, -65, 2**31 - 1, -(2**31)],
    "i64": [0, -(2**63), 2**63 - 1, 1 << 40],
    "f32": [0, 0x7FC00001, 0xFF800000, 0x80000000],
    "f64": [0, 0xFFF0000000000001, 0x3FF0000000000000],
    "v128": [0, 2**128 - 1, int.from_bytes(bytes(range(16)), "little")],
    "shuffle": [tuple(range(16)), (31,) * 16, (200,) + (0,) * 15],
    "lane": [0, 15, 200],
    "heap": [AbsHeap.ANY, AbsHeap.NOCONT, 3, 100, 2**32 - 1],
    "valtypes": [(), (I32, RefType(True, 3), FUNCREF, V128)],
    "castflags": [0, 1, 2, 3],
    "catches": [
        (),
        (
            Catch("catch", 1, 0),
            Catch("catch_ref", 2, 1),
            Catch("catch_all", None, 2),
            Catch("catch_all_ref", None, 3),
        ),
    ],
    "handlers": [(), (Handler(0, 1), Handler(2, None))],
}
for _k in "label func type table mem local global tag elem data field u32".split():
    SAMPLE_IMMS[_k] = [0, 3, 127, 128, 300, 2**32 - 1]


def _sample_instrs(op) -> list[list[Instr]]:
    """Snippets (each structurally complete) using ``op`` with sample immediates."""
    variants = max((len(SAMPLE_IMMS[k]) for k in op.imms), default=1)
    snippets = []
    for i in range(variants):
        imm = tuple(SAMPLE_IMMS[k][i % len(SAMPLE_IMMS[k])] for k in op.imms)
        ins = Instr(op.name, imm)
        if op.name in BLOCK_OPENERS:
            snippets.append([ins, Instr("nop"), Instr("end")])
        elif op.name == "else":
            snippets.append([Instr("if", (None,)), Instr("nop"), ins, Instr("nop"), Instr("end")])
        elif op.name in ("catch", "catch_all"):
            snippets.append([Instr("try", (None,)), ins, Instr("end")])
        elif op.name == "delegate":
            snippets.append([Instr("try", (I32,)), Instr("unreachable"), ins])
        elif op.name == "end":
            snippets.append([Instr("block", (None,)), ins])
        else:
            snippets.append([ins])
    return snippets


def test_every_opcode_roundtrips():
    funcs = []
    for op in OPS.values():
        for snippet in _sample_instrs(op):
            funcs.append(Func(0, [I32, I32, FUNCREF], snippet))
    m = Module(
        types=[RecType((SubType(FuncType()),))],
        funcs=funcs,
        data_count=0,
        globals=[Global(GlobalType(I32), [Instr("i32.const", (5,)), Instr("global.get", (0,)), Instr("i32.add")])],
    )
    b = encode_module(m)
    m2 = decode_module(b)
    assert m2 == m
    assert len(funcs) > len(OPS)
    # every opcode of the table appears in the output
    seen = {ins.op for f in m2.funcs for ins in f.body}
    assert seen == set(OPS)


def test_instruction_encoding_details():
    def code(*instrs: Instr) -> bytes:
        m = Module(types=[RecType((SubType(FuncType()),))], funcs=[Func(0, [], list(instrs))])
        raw = encode_module(m)
        return raw[raw.index(b"\x0a") :]

    # memarg with a memory index sets bit 6 of the flags
    assert b"\x28\x42\x01\x10" in code(Instr("i32.load", (MemArg(2, 16, 1),)))
    assert b"\x28\x02\x10" in code(Instr("i32.load", (MemArg(2, 16, 0),)))
    # prefixed opcodes use a u32 sub-opcode; relaxed SIMD needs two bytes
    assert b"\xfd\x80\x02" in code(Instr("i8x16.relaxed_swizzle"))
    assert b"\xfc\x0a\x00\x01" in code(Instr("memory.copy", (0, 1)))
    # block types: empty, value type, s33 type index
    assert b"\x02\x40" in code(Instr("block", (None,)), Instr("end"))
    assert b"\x02\xc0\x00" in code(Instr("block", (64,)), Instr("end"))
    assert b"\x02\x64\x6e" in code(Instr("block", (RefType(False, AbsHeap.ANY),)), Instr("end"))
    # i32.const wraps an unsigned view into the signed range
    assert b"\x41\x7f" in code(Instr("i32.const", (0xFFFFFFFF,)))
    with pytest.raises(EncodeError):
        code(Instr("no.such_op"))
    with pytest.raises(EncodeError):
        code(Instr("local.get", ()))
    with pytest.raises(EncodeError):
        code(Instr("i32.const", (2**40,)))


@pytest.mark.parametrize(
    "code, message",
    [
        (b"\x05\x0b", "END opcode expected"),  # else outside if
        (b"\x04\x40\x05\x05\x0b\x0b", "END opcode expected"),  # two elses
        (b"\x19\x0b", "misplaced CATCH_ALL opcode"),
        (b"\x06\x40\x19\x07\x00\x0b\x0b", "misplaced CATCH opcode"),  # catch after catch_all
        (b"\x06\x40\x07\x00\x18\x00", "misplaced DELEGATE opcode"),
        (b"\x18\x00\x0b", "misplaced DELEGATE opcode"),  # outside any try
        (b"\xff\x0b", "illegal opcode ff"),
        (b"\xfc\x20\x0b", "illegal opcode fc 20"),
        (b"\xfd\x80\x04\x0b", "illegal opcode fd 200"),
        (b"\x28\x80\x01\x00\x0b", "malformed memop flags"),
        (b"\xfb\x18\x04\x00\x70\x70\x0b", "malformed br_on_cast flags"),
        (b"\x1f\x40\x01\x04\x00\x0b\x0b", "malformed catch clause"),
        (b"\xe3\x00\x01\x02\x00\x0b", "ON opcode expected"),
        (b"\xd0\x50\x0b", "malformed heap type"),
        (b"\x41\x80\x80\x80\x80\x10\x0b", "integer too large"),
        (b"\x43\x00\x00", "unexpected end"),
        (b"\x02\x40", "unexpected end"),
    ],
)
def test_malformed_code(code, message):
    b = mod(sec(1, vec(b"\x60\x00\x00")), sec(3, vec(b"\x00")), sec(10, vec(body(b"\x00", code))))
    with pytest.raises(DecodeError) as e:
        decode_module(b)
    assert e.value.message.startswith(message), e.value.message


def test_legacy_exceptions_and_try_table_decode():
    code = (
        b"\x06\x40"  # try
        b"\x07\x00\x01"  # catch 0 nop
        b"\x07\x01"  # catch 1
        b"\x19\x01"  # catch_all nop
        b"\x0b"  # end
        b"\x06\x40\x01\x18\x00"  # try nop delegate 0
        b"\x1f\x40\x02\x00\x00\x00\x02\x01\x0b"  # try_table (catch 0 0) (catch_all 1) end
        b"\x0b"
    )
    m = decode_module(mod(sec(1, vec(b"\x60\x00\x00")), sec(3, vec(b"\x00")), sec(10, vec(body(b"\x00", code)))))
    assert m.funcs[0].body == [
        Instr("try", (None,)),
        Instr("catch", (0,)),
        Instr("nop"),
        Instr("catch", (1,)),
        Instr("catch_all"),
        Instr("nop"),
        Instr("end"),
        Instr("try", (None,)),
        Instr("nop"),
        Instr("delegate", (0,)),
        Instr("try_table", (None, (Catch("catch", 0, 0), Catch("catch_all", None, 1)))),
        Instr("end"),
    ]
    roundtrip(m)


# ---------------------------------------------------------------------------
# Round trips over real binaries
# ---------------------------------------------------------------------------

BENCH = sorted((paths.shared_dir() / "bench" / "wasm").glob("*.wasm"))


def test_bench_corpus_present():
    assert len(BENCH) >= 20


@pytest.mark.parametrize("path", BENCH, ids=[p.name for p in BENCH])
def test_bench_roundtrip(path):
    data = path.read_bytes()
    m = decode_module(data)
    assert m.funcs, "bench modules define functions"
    e = encode_module(m)
    assert decode_module(e) == m
    assert encode_module(decode_module(e)) == e
    # our encoding differs from the producer's only by the name section's place
    if not m.names.funcs:
        assert e == data


# Conversions whose bytes the spec's decoder calls malformed, with the reason.
# (file, message prefix) -> reason
KNOWN_WASMTIME_ENCODINGS = {
    ("core/simd_lane.wast", "integer too large"): (
        "lane indices >= 128 in assert_invalid modules: wasm-encoder writes one raw byte, "
        "the spec's laneidx is a u8 LEB128, so the byte starts a two-byte number"
    ),
    ("core/array.wast", "data count section required"): (
        "an assert_invalid module uses a data index without data segments; wasm-encoder "
        "omits the data count section, which the binary format then requires"
    ),
}

# The commands whose modules must decode: module, assert_invalid,
# assert_unlinkable, and assert_trap / assert_uninstantiable on a module.
SUITE_COMMANDS = (ModuleCommand, AssertInvalid, AssertUnlinkable, AssertUninstantiable)


@functools.lru_cache(maxsize=None)
def _suite_binaries() -> tuple[list, dict]:
    """(binaries as (file, command, kind, bytes), wasmtime conversion failures by file)."""
    import wasmtime

    out = []
    conv_fail: dict[str, int] = {}
    # (the text of a module is all wat2wasm needs: no need to parse it here)
    for f, cmd, sm in script_modules(("wasm3", "stack-switching"), parse_modules=False):
        if not isinstance(cmd, SUITE_COMMANDS):
            continue
        rel = _rel(f)
        if sm.kind == "binary":
            value = sm.binary
        else:
            try:
                value = wasmtime.wat2wasm(wat_text(sm))
            except Exception:
                conv_fail[rel] = conv_fail.get(rel, 0) + 1
                continue
        out.append((rel, cmd, sm.kind, value))
    return out, conv_fail


def test_suite_modules_roundtrip():
    binaries, conv_fail = _suite_binaries()
    ok = 0
    known: dict[tuple, int] = {}
    unexpected = []
    for rel, cmd, form, data in binaries:
        try:
            m = decode_module(data)
        except DecodeError as e:
            key = next((k for k in KNOWN_WASMTIME_ENCODINGS if k[0] == rel and e.message.startswith(k[1])), None)
            if key is not None and form != "binary" and isinstance(cmd, AssertInvalid):
                known[key] = known.get(key, 0) + 1
            else:
                unexpected.append((rel, cmd.line, form, str(e)))
            continue
        e1 = encode_module(m)
        m2 = decode_module(e1)
        if m2 != m:
            unexpected.append((rel, cmd.line, form, "decode(encode(m)) != m"))
            continue
        if encode_module(m2) != e1:
            unexpected.append((rel, cmd.line, form, "encoding not canonical"))
            continue
        ok += 1
    print(
        f"\nsuite round trip: {ok} modules ok of {len(binaries)} binaries; "
        f"wasmtime could not convert {sum(conv_fail.values())}: {conv_fail}; "
        f"spec-malformed wasmtime encodings: "
        + "; ".join(f"{k[0]} x{n} ({KNOWN_WASMTIME_ENCODINGS[k]})" for k, n in known.items())
    )
    assert not unexpected, unexpected[:20]
    assert ok >= 5000
    assert sum(conv_fail.values()) <= 5, conv_fail
    assert sum(known.values()) <= 20, known


def test_reencoding_validates_in_wasmtime():
    """Differential check: what wasmtime validates, it validates after our round trip."""
    import wasmtime

    cfg = wasmtime.Config()
    for feature in (
        "wasm_gc",
        "wasm_function_references",
        "wasm_exceptions",
        "wasm_memory64",
        "wasm_multi_memory",
        "wasm_relaxed_simd",
        "wasm_tail_call",
        "wasm_custom_page_sizes",
        "wasm_wide_arithmetic",
        "wasm_threads",
        "wasm_stack_switching",
    ):
        setattr(cfg, feature, True)
    engine = wasmtime.Engine(cfg)
    binaries, _ = _suite_binaries()
    checked = 0
    broken = []
    for rel, cmd, form, data in binaries:
        if isinstance(cmd, AssertInvalid):
            continue
        try:
            wasmtime.Module.validate(engine, data)
        except Exception:
            continue
        try:
            ours = encode_module(decode_module(data))
        except DecodeError as e:
            broken.append((rel, str(e)))
            continue
        try:
            wasmtime.Module.validate(engine, ours)
        except Exception as e:
            broken.append((rel, str(e).splitlines()[0]))
        checked += 1
    print(f"\nwasmtime validated {checked} re-encoded modules")
    assert not broken, broken[:10]
    assert checked >= 2000


# ---------------------------------------------------------------------------
# The spec's malformed binaries, and binaries that must decode
# ---------------------------------------------------------------------------

ALL_WAST = sorted(paths.testsuite_dir().glob("**/*.wast"))
# Proposals outside wasmbox's scope (not Wasm 3.0): their valid modules use
# encodings we do not decode; their malformed ones are still checked.
OUT_OF_SCOPE = ("proposals/custom-descriptors/",)


def _binary_cases():
    """(file, command, bytes, expected message or None) for every binary module
    of every script. Text modules are not parsed: the proposals outside our
    scope write theirs in syntax the text parser does not know."""
    for f, cmd, sm in script_modules(files=ALL_WAST, parse_modules=False):
        if sm.kind == "binary":
            yield _rel(f), cmd, sm.binary, getattr(cmd, "message", None)


def test_assert_malformed_binary_messages():
    total = 0
    wrong = []
    for rel, cmd, data, msg in _binary_cases():
        if not isinstance(cmd, AssertMalformed):
            continue
        total += 1
        # core files test the core format: the custom-page-sizes flag is malformed there
        cps = rel.startswith("proposals/custom-page-sizes/")
        try:
            decode_module(data, custom_page_sizes=cps)
        except DecodeError as e:
            if not e.message.startswith(msg):
                wrong.append((rel, msg, e.message))
            continue
        wrong.append((rel, msg, "decoded without error"))
    print(f"\nassert_malformed (module binary): {total - len(wrong)} of {total} messages match")
    assert total >= 900
    assert not wrong, wrong[:20]


def test_binary_modules_and_assert_invalid_binaries_decode():
    decoded = 0
    out_of_scope = []
    failed = []
    for rel, cmd, data, _msg in _binary_cases():
        if isinstance(cmd, AssertMalformed):
            continue
        try:
            m = decode_module(data, custom_page_sizes=rel.startswith("proposals/custom-page-sizes/"))
        except DecodeError as e:
            (out_of_scope if rel.startswith(OUT_OF_SCOPE) else failed).append((rel, cmd.line, str(e)))
            continue
        assert decode_module(encode_module(m)) == m
        decoded += 1
    print(f"\nbinary modules decoded: {decoded}; out of scope (custom-descriptors): {len(out_of_scope)}")
    assert not failed, failed
    assert decoded >= 130
    assert len(out_of_scope) <= 10

