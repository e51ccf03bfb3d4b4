"""Decode a WebAssembly binary module into :class:`wasmbox.syntax.Module`.

Covers the Wasm 3.0 binary format (GC types with recursion groups and
subtyping, typed references, exceptions, tail calls, memory64/table64,
multi-memory, SIMD with relaxed SIMD, extended constants), the
stack-switching proposal (``cont`` types, ``resume``/``suspend``/...),
legacy exception handling (``try``/``catch``/``delegate``), threads'
shared-memory limits flag and custom page sizes.

The decoder follows the reference interpreter's reading discipline so that
malformed input produces the spec test suite's messages: reads are not
bounded by a section or function size; each size is checked *after* its
contents were read ("section size mismatch"), a length larger than what is
left of the input is "length out of bounds", and running off the end of the
input is "unexpected end of section or function".

Representation (see :mod:`wasmbox.syntax.module`):

* Function bodies and constant expressions are flat instruction lists
  without their final ``end``; ``Func.locals`` keeps the ``(count, type)``
  groups as runs (:class:`~wasmbox.syntax.locals.Locals`), never expanded.
* Element segments always hold expression lists. The function-index forms
  (0-3) give the element type ``(ref func)``, form 4 gives ``funcref``,
  as in the Wasm 3.0 reference interpreter.
* A table without an initialiser has ``init=None``.
* Custom sections are kept verbatim with ``after`` = the id of the last
  non-custom section before them. The first custom section named ``name``
  is decoded into ``Module.names`` when it is well formed (subsections in
  increasing id order, name maps with strictly increasing indices);
  otherwise it is kept as an ordinary custom section (a malformed custom
  section never makes the module malformed).

A function may declare up to 2**32 - 1 locals, the spec's limit
(:data:`MAX_FUNCTION_LOCALS`); more is "too many locals". Declaring them
costs memory and time in the number of groups, not of locals.

Raises :class:`~wasmbox.errors.DecodeError` (with a byte offset) for any
malformed input, and nothing else.
"""
from __future__ import annotations

from ..errors import DecodeError
from ..syntax.module import (
    CATCH_KINDS,
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
from ..syntax.locals import MAX_LOCALS, TOO_MANY_LOCALS, Locals, too_many_locals
from ..syntax.opcodes import GC, MISC, OPS, OPS_BY_CODE, SIMD
from ..syntax.types import (
    FUNCREF,
    AbsHeap,
    AddrType,
    ArrayType,
    ContType,
    FieldType,
    FuncType,
    GlobalType,
    Limits,
    MemType,
    NumType,
    PackedType,
    RecType,
    RefType,
    StructType,
    SubType,
    TableType,
    TagType,
)
from .leb128 import MSG_EOF, MSG_TOO_LONG, read_signed, read_unsigned

__all__ = ["decode_module", "MAX_FUNCTION_LOCALS", "SECTION_ORDER"]

#: The limit on the number of declared locals of one function: the spec's
#: 2**32 - 1 (kept under this name for existing importers).
MAX_FUNCTION_LOCALS = MAX_LOCALS

#: Section ids in the order the binary format requires (custom sections,
#: id 0, may appear anywhere). Tags (13) sit between memories and globals,
#: the data count (12) between elements and code.
SECTION_ORDER = (1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11)

MAGIC = b"\x00asm"
VERSION = b"\x01\x00\x00\x00"

#: ``(ref func)``: the element type of the function-index element forms.
REF_FUNC = RefType(False, AbsHeap.FUNC)

_new = tuple.__new__  # builds NamedTuples without the Python-level __new__


# ---------------------------------------------------------------------------
# Values and types
# ---------------------------------------------------------------------------

_ABS_BY_BYTE: dict[int, AbsHeap] = {h.value: h for h in AbsHeap}
# Single-byte value types: number/vector types and the nullable shorthands.
_VALTYPE_BYTE: list = [None] * 256
for _t in NumType:
    _VALTYPE_BYTE[_t.value] = _t
_REFTYPE_BYTE: list = [None] * 256
for _b, _h in _ABS_BY_BYTE.items():
    _VALTYPE_BYTE[_b] = _REFTYPE_BYTE[_b] = RefType(True, _h)
_PACKED_BYTE = {p.value: p for p in PackedType}


def _unsigned_reader(bits: int):
    """A reader of uN with a fast path for one-byte numbers. The readers
    raise DecodeError, and IndexError at the end of the input."""

    def read(data: bytes, pos: int) -> tuple[int, int]:
        b = data[pos]
        if b < 0x80:
            return b, pos + 1
        return read_unsigned(data, pos, bits)

    return read


def _signed_reader(bits: int):
    """A reader of sN with a fast path for one-byte numbers (see above)."""

    def read(data: bytes, pos: int) -> tuple[int, int]:
        b = data[pos]
        if b < 0x40:
            return b, pos + 1
        if b < 0x80:
            return b - 0x80, pos + 1
        return read_signed(data, pos, bits)

    return read


_u32 = _unsigned_reader(32)
_u64 = _unsigned_reader(64)
_s32 = _signed_reader(32)
_s64 = _signed_reader(64)


def _len32(data: bytes, pos: int) -> tuple[int, int]:
    """A vector length or byte count: must not exceed what is left of the input."""
    n, p = _u32(data, pos)
    if n > len(data) - pos:
        raise DecodeError("length out of bounds", pos)
    return n, p


def _vec(data: bytes, pos: int, read) -> tuple[list, int]:
    """A vector: its length, then that many items of ``read(data, pos)``."""
    n, pos = _len32(data, pos)
    out = []
    for _ in range(n):
        x, pos = read(data, pos)
        out.append(x)
    return out, pos


def _bytes(data: bytes, pos: int, n: int) -> tuple[bytes, int]:
    end = pos + n
    if end > len(data) or n < 0:
        raise DecodeError(MSG_EOF, len(data))
    return data[pos:end], end


def _name(data: bytes, pos: int) -> tuple[str, int]:
    n, p = _len32(data, pos)
    raw, p = _bytes(data, p, n)
    try:
        return raw.decode("utf-8"), p
    except UnicodeDecodeError:
        raise DecodeError("malformed UTF-8 encoding", pos) from None


def _s33_index(data: bytes, pos: int) -> tuple[int, int]:
    """A multi-byte s33 that must be a type index (first byte >= 0x80).

    Any failure is reported as the reference interpreter does after trying
    every alternative: "integer representation too long".
    """
    try:
        v, p = read_signed(data, pos, 33)
    except DecodeError:
        v, p = -1, pos
    if v < 0:
        raise DecodeError(MSG_TOO_LONG, pos + 1)
    return v, p


def _heaptype(data: bytes, pos: int):
    b = data[pos]
    if b < 0x40:
        return b, pos + 1
    if b < 0x80:
        h = _ABS_BY_BYTE.get(b)
        if h is None:
            raise DecodeError("malformed heap type", pos)
        return h, pos + 1
    return _s33_index(data, pos)


def _type_reader(one_byte: list):
    """A reader of value types whose one-byte forms are ``one_byte`` (all
    value types, or only the reference types), and ``(ref null? ht)``."""

    def read(data: bytes, pos: int):
        b = data[pos]
        t = one_byte[b]
        if t is not None:
            return t, pos + 1
        if b == 0x63 or b == 0x64:
            h, p = _heaptype(data, pos + 1)
            return RefType(b == 0x63, h), p
        if b >= 0x80:
            raise DecodeError(MSG_TOO_LONG, pos + 1)
        raise DecodeError("malformed reference type", pos)

    return read


_valtype = _type_reader(_VALTYPE_BYTE)
_reftype = _type_reader(_REFTYPE_BYTE)


def _valtypes(data: bytes, pos: int) -> tuple[tuple, int]:
    out, pos = _vec(data, pos, _valtype)
    return tuple(out), pos


def _blocktype(data: bytes, pos: int):
    b = data[pos]
    if b == 0x40:
        return None, pos + 1
    if b < 0x40:
        return b, pos + 1
    if b < 0x80:
        return _valtype(data, pos)
    return _s33_index(data, pos)


def _mutability(data: bytes, pos: int) -> tuple[bool, int]:
    b = data[pos]
    if b > 1:
        raise DecodeError("malformed mutability", pos)
    return b == 1, pos + 1


def _fieldtype(data: bytes, pos: int) -> tuple[FieldType, int]:
    b = data[pos]
    st = _PACKED_BYTE.get(b)
    if st is not None:
        pos += 1
    else:
        try:
            st, pos = _valtype(data, pos)
        except DecodeError:
            raise DecodeError("malformed storage type", pos) from None
    mut, pos = _mutability(data, pos)
    return FieldType(st, mut), pos


def _comptype(data: bytes, pos: int):
    b = data[pos]
    pos += 1
    if b == 0x60:
        params, pos = _valtypes(data, pos)
        results, pos = _valtypes(data, pos)
        return FuncType(params, results), pos
    if b == 0x5F:
        fields, pos = _vec(data, pos, _fieldtype)
        return StructType(tuple(fields)), pos
    if b == 0x5E:
        f, pos = _fieldtype(data, pos)
        return ArrayType(f), pos
    if b == 0x5D:
        h, p = _heaptype(data, pos)
        if not isinstance(h, int):
            raise DecodeError("malformed type index", pos)
        return ContType(h), p
    if b >= 0x80:
        raise DecodeError(MSG_TOO_LONG, pos)
    raise DecodeError("malformed definition type", pos - 1)


def _subtype(data: bytes, pos: int) -> tuple[SubType, int]:
    b = data[pos]
    if b == 0x50 or b == 0x4F:
        sups, pos = _vec(data, pos + 1, _u32)
        ct, pos = _comptype(data, pos)
        return SubType(ct, b == 0x4F, tuple(sups)), pos
    ct, pos = _comptype(data, pos)
    return SubType(ct, True, ()), pos


def _rectype(data: bytes, pos: int) -> tuple[RecType, int]:
    if data[pos] == 0x4E:
        subs, pos = _vec(data, pos + 1, _subtype)
        return RecType(tuple(subs)), pos
    st, pos = _subtype(data, pos)
    return RecType((st,)), pos


def _limits(data: bytes, pos: int, is_mem: bool, page_sizes: bool):
    """limits: flags byte, min, max?, page size? -> (Limits, page_log2, pos)."""
    flags = data[pos]
    mask = (0xF0 if page_sizes else 0xF8) if is_mem else 0xFA
    if flags & mask:
        if is_mem and not page_sizes and not flags & 0xF0:  # only the page-size bit
            raise DecodeError("malformed limits flags (a page size: custom page sizes "
                              "are not enabled)", pos)
        raise DecodeError("malformed limits flags", pos)
    pos += 1
    mn, pos = _u64(data, pos)
    mx = None
    if flags & 1:
        mx, pos = _u64(data, pos)
    lim = Limits(mn, mx, AddrType.I64 if flags & 4 else AddrType.I32, bool(flags & 2))
    page = None
    if flags & 8:
        p0 = pos
        page, pos = _u32(data, pos)
        if page >= 64:
            raise DecodeError("invalid custom page size", p0)
    return lim, page, pos


def _tabletype(data: bytes, pos: int) -> tuple[TableType, int]:
    rt, pos = _reftype(data, pos)
    lim, _, pos = _limits(data, pos, False, False)
    return TableType(lim, rt), pos


def _memtype(data: bytes, pos: int, page_sizes: bool) -> tuple[MemType, int]:
    lim, page, pos = _limits(data, pos, True, page_sizes)
    return MemType(lim, page), pos


def _globaltype(data: bytes, pos: int) -> tuple[GlobalType, int]:
    t, pos = _valtype(data, pos)
    mut, pos = _mutability(data, pos)
    return GlobalType(t, mut), pos


def _tagtype(data: bytes, pos: int) -> tuple[TagType, int]:
    if data[pos] != 0:
        raise DecodeError("zero byte expected", pos)
    x, pos = _u32(data, pos + 1)
    return TagType(x), pos


# ---------------------------------------------------------------------------
# Immediate readers (generic path), one per immediate kind of the opcode table
# ---------------------------------------------------------------------------


def _imm_lane(data: bytes, pos: int) -> tuple[int, int]:
    # laneidx ::= byte (a raw byte, not LEB128: lanes 128..255 are one byte)
    return data[pos], pos + 1


def _imm_shuffle(data: bytes, pos: int) -> tuple[tuple, int]:
    chunk = data[pos : pos + 16]
    if len(chunk) < 16:
        raise IndexError  # reported as "unexpected end" by the caller
    return tuple(chunk), pos + 16


def _imm_memarg(data: bytes, pos: int) -> tuple[MemArg, int]:
    p0 = pos
    flags, pos = _u32(data, pos)
    if flags >= 0x80:
        raise DecodeError("malformed memop flags", p0)
    mem = 0
    if flags & 0x40:
        mem, pos = _u32(data, pos)
    off, pos = _u64(data, pos)
    return MemArg(flags & 0x3F, off, mem), pos


def _imm_labels(data: bytes, pos: int) -> tuple[tuple, int]:
    out, pos = _vec(data, pos, _u32)
    return tuple(out), pos


def _imm_bits(n: int):
    """A reader of an ``n``-byte little-endian immediate (f32, f64, v128 bits)."""

    def read(data: bytes, pos: int) -> tuple[int, int]:
        raw, pos = _bytes(data, pos, n)
        return int.from_bytes(raw, "little"), pos

    return read


def _imm_castflags(data: bytes, pos: int) -> tuple[int, int]:
    b = data[pos]
    if b & 0xFC:
        raise DecodeError("malformed br_on_cast flags", pos)
    return b, pos + 1


def _imm_catches(data: bytes, pos: int) -> tuple[tuple, int]:
    n, pos = _len32(data, pos)
    out = []
    for _ in range(n):
        k = data[pos]
        if k > 3:
            raise DecodeError("malformed catch clause", pos)
        pos += 1
        tag = None
        if k < 2:
            tag, pos = _u32(data, pos)
        label, pos = _u32(data, pos)
        out.append(Catch(CATCH_KINDS[k], tag, label))
    return tuple(out), pos


def _imm_handlers(data: bytes, pos: int) -> tuple[tuple, int]:
    n, pos = _len32(data, pos)
    out = []
    for _ in range(n):
        k = data[pos]
        if k > 1:
            raise DecodeError("ON opcode expected", pos)
        tag, pos = _u32(data, pos + 1)
        label = None
        if k == 0:
            label, pos = _u32(data, pos)
        out.append(Handler(tag, label))
    return tuple(out), pos


_INDEX_KINDS = frozenset(
    "label func type table mem local global tag elem data field u32".split()
)

_IMM_READER = {
    "bt": _blocktype,
    "labels": _imm_labels,
    "memarg": _imm_memarg,
    "i32": _s32,
    "i64": _s64,
    "f32": _imm_bits(4),
    "f64": _imm_bits(8),
    "v128": _imm_bits(16),
    "shuffle": _imm_shuffle,
    "lane": _imm_lane,
    "heap": _heaptype,
    "valtypes": _valtypes,
    "castflags": _imm_castflags,
    "catches": _imm_catches,
    "handlers": _imm_handlers,
}
for _k in _INDEX_KINDS:
    _IMM_READER[_k] = _u32


# ---------------------------------------------------------------------------
# Dispatch tables built from the opcode table
# ---------------------------------------------------------------------------

# Dispatch kinds of single-byte opcodes.
K_ILLEGAL = 0
K_NONE = 1  # no immediate: a shared Instr
K_IDX = 2  # one u32 index
K_MEMARG = 3
K_I32 = 4
K_END = 5
K_BLOCK = 6  # block/loop/if/try: a block type, opens a frame
K_I64 = 7
K_F32 = 8
K_F64 = 9
K_PREFIX = 10
K_GENERIC = 11
K_ELSE = 12
K_CATCH = 13
K_CATCH_ALL = 14
K_DELEGATE = 15
K_TRY_TABLE = 16

# Frames of the structure check.
F_BLOCK = 0  # block, loop, try_table
F_IF = 1
F_ELSE = 2
F_TRY = 3
F_CATCH = 4
F_CATCH_ALL = 5

_KIND = [K_ILLEGAL] * 256
_NAME: list = [None] * 256
_NOIMM: list = [None] * 256  # shared Instr objects for ops without immediates
_IDX_CACHE: list = [None] * 256  # per op: Instr for each single-byte index
_READERS: list = [None] * 256  # per op: tuple of immediate readers
_FRAME = [F_BLOCK] * 256
_BLOCK_VOID: list = [None] * 256  # Instr(block/loop/if/try, (None,))
_USES_DATA = [False] * 256
# per memory op: [align][offset] -> Instr, filled lazily for align < 8, offset < 128
_MEM_CACHE: list = [None] * 256

_SPECIAL = {
    "end": K_END,
    "else": K_ELSE,
    "catch": K_CATCH,
    "catch_all": K_CATCH_ALL,
    "delegate": K_DELEGATE,
    "try_table": K_TRY_TABLE,
}

for (_p, _c), _op in OPS_BY_CODE.items():
    if _p != 0:
        continue
    _NAME[_c] = _op.name
    _READERS[_c] = tuple(_IMM_READER[k] for k in _op.imms)
    _USES_DATA[_c] = "data" in _op.imms
    if _op.name in _SPECIAL:
        _KIND[_c] = _SPECIAL[_op.name]
        if not _op.imms:
            _NOIMM[_c] = Instr(_op.name)
    elif not _op.imms:
        _KIND[_c] = K_NONE
        _NOIMM[_c] = Instr(_op.name)
    elif _op.imms == ("bt",):
        _KIND[_c] = K_BLOCK
        _BLOCK_VOID[_c] = Instr(_op.name, (None,))
        _FRAME[_c] = {"if": F_IF, "try": F_TRY}.get(_op.name, F_BLOCK)
    elif len(_op.imms) == 1 and _op.imms[0] in _INDEX_KINDS:
        _KIND[_c] = K_IDX
        _IDX_CACHE[_c] = [Instr(_op.name, (i,)) for i in range(128)]
    elif _op.imms == ("memarg",):
        _KIND[_c] = K_MEMARG
        _MEM_CACHE[_c] = [[None] * 128 for _ in range(8)]
    elif _op.imms == ("i32",):
        _KIND[_c] = K_I32
        _IDX_CACHE[_c] = [Instr(_op.name, (i if i < 0x40 else i - 0x80,)) for i in range(128)]
    elif _op.imms == ("i64",):
        _KIND[_c] = K_I64
        _IDX_CACHE[_c] = [Instr(_op.name, (i if i < 0x40 else i - 0x80,)) for i in range(128)]
    elif _op.imms == ("f32",):
        _KIND[_c] = K_F32
    elif _op.imms == ("f64",):
        _KIND[_c] = K_F64
    else:
        _KIND[_c] = K_GENERIC
for _p in (GC, MISC, SIMD):
    _KIND[_p] = K_PREFIX

# Prefixed opcodes: prefix -> {sub-opcode: (name, shared Instr or None, readers, uses data)}
_PREFIXED: dict[int, dict[int, tuple]] = {GC: {}, MISC: {}, SIMD: {}}
for (_p, _c), _op in OPS_BY_CODE.items():
    if _p == 0:
        continue
    _PREFIXED[_p][_c] = (
        _op.name,
        Instr(_op.name) if not _op.imms else None,
        tuple(_IMM_READER[k] for k in _op.imms),
        "data" in _op.imms,
    )

_REF_FUNC_CODE = OPS["ref.func"].code
_I_END = Instr("end")
_I_ELSE = Instr("else")
_I_CATCH_ALL = Instr("catch_all")


def _decode_expr(data: bytes, pos: int, state: list) -> tuple[list, int]:
    """Decode instructions up to and including the ``end`` that closes the
    expression; return them (without that ``end``) and the position after it.

    ``state[0]`` is set to True when an instruction uses a data index.
    Raises DecodeError; IndexError at the end of the input.
    """
    out: list = []
    append = out.append
    stack: list = []
    push = stack.append
    KIND = _KIND
    NOIMM = _NOIMM
    IDXC = _IDX_CACHE
    NAME = _NAME
    new = _new
    I = Instr
    MEMC = _MEM_CACHE
    while True:
        b = data[pos]
        pos += 1
        k = KIND[b]
        if k == 1:  # K_NONE
            append(NOIMM[b])
            continue
        if k == 2:  # K_IDX
            x = data[pos]
            if x < 0x80:
                pos += 1
                append(IDXC[b][x])
            else:
                x, pos = read_unsigned(data, pos, 32)
                append(new(I, (NAME[b], (x,))))
            continue
        if k == 4:  # K_I32
            x = data[pos]
            if x < 0x80:
                pos += 1
                append(IDXC[b][x])
            else:
                x, pos = read_signed(data, pos, 32)
                append(new(I, (NAME[b], (x,))))
            continue
        if k == 3:  # K_MEMARG
            a = data[pos]
            o = data[pos + 1]
            if a < 8 and o < 0x80:
                row = MEMC[b][a]
                ins = row[o]
                if ins is None:
                    ins = row[o] = new(I, (NAME[b], (MemArg(a, o, 0),)))
                pos += 2
                append(ins)
            else:
                ma, pos = _imm_memarg(data, pos)
                append(new(I, (NAME[b], (ma,))))
            continue
        if k == 5:  # K_END
            if not stack:
                return out, pos
            stack.pop()
            append(_I_END)
            continue
        if k == 7:  # K_I64
            x = data[pos]
            if x < 0x80:
                pos += 1
                append(IDXC[b][x])
            else:
                x, pos = read_signed(data, pos, 64)
                append(new(I, (NAME[b], (x,))))
            continue
        if k == 6:  # K_BLOCK
            if data[pos] == 0x40:
                pos += 1
                append(_BLOCK_VOID[b])
            else:
                bt, pos = _blocktype(data, pos)
                append(new(I, (NAME[b], (bt,))))
            push(_FRAME[b])
            continue
        if k == 8 or k == 9:  # K_F32 / K_F64
            n = 4 if k == 8 else 8
            end = pos + n
            if end > len(data):
                raise DecodeError(MSG_EOF, len(data))
            append(new(I, (NAME[b], (int.from_bytes(data[pos:end], "little"),))))
            pos = end
            continue
        if k == 10:  # K_PREFIX
            start = pos - 1
            sub = data[pos]
            if sub < 0x80:
                pos += 1
            else:
                sub, pos = read_unsigned(data, pos, 32)
            ent = _PREFIXED[b].get(sub)
            if ent is None:
                raise DecodeError(f"illegal opcode {b:02x} {sub:02x}", start)
            name, shared, readers, uses_data = ent
            if shared is not None:
                append(shared)
                continue
            imm = []
            for rd in readers:
                v, pos = rd(data, pos)
                imm.append(v)
            if uses_data:
                state[0] = True
            append(new(I, (name, tuple(imm))))
            continue
        if k == 11 or k == 16:  # K_GENERIC / K_TRY_TABLE
            imm = []
            for rd in _READERS[b]:
                v, pos = rd(data, pos)
                imm.append(v)
            if _USES_DATA[b]:
                state[0] = True
            append(new(I, (NAME[b], tuple(imm))))
            if k == 16:
                push(F_BLOCK)
            continue
        if k == 12:  # K_ELSE
            if not stack or stack[-1] != F_IF:
                raise DecodeError("END opcode expected", pos - 1)
            stack[-1] = F_ELSE
            append(_I_ELSE)
            continue
        if k == 13:  # K_CATCH
            if not stack or stack[-1] not in (F_TRY, F_CATCH):
                raise DecodeError("misplaced CATCH opcode", pos - 1)
            stack[-1] = F_CATCH
            x, pos = _u32(data, pos)
            append(new(I, ("catch", (x,))))
            continue
        if k == 14:  # K_CATCH_ALL
            if not stack or stack[-1] not in (F_TRY, F_CATCH):
                raise DecodeError("misplaced CATCH_ALL opcode", pos - 1)
            stack[-1] = F_CATCH_ALL
            append(_I_CATCH_ALL)
            continue
        if k == 15:  # K_DELEGATE
            if not stack or stack[-1] != F_TRY:
                raise DecodeError("misplaced DELEGATE opcode", pos - 1)
            stack.pop()
            x, pos = _u32(data, pos)
            append(new(I, ("delegate", (x,))))
            continue
        raise DecodeError(f"illegal opcode {b:02x}", pos - 1)


# ---------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------

_EXTERN_KINDS = list(ExternKind)


def _tag(data: bytes, pos: int) -> tuple[Tag, int]:
    tt, pos = _tagtype(data, pos)
    return Tag(tt), pos


def _export(data: bytes, pos: int) -> tuple[Export, int]:
    nm, pos = _name(data, pos)
    k = data[pos]
    if k > 4:
        raise DecodeError("malformed export kind", pos)
    x, pos = _u32(data, pos + 1)
    return Export(nm, _EXTERN_KINDS[k], x), pos


_REF_FUNC_CACHE = _IDX_CACHE[_REF_FUNC_CODE]  # ref.func x for x < 128


def _ref_func_expr(data: bytes, pos: int) -> tuple[list, int]:
    """A function index of an element segment, as the expression ``[ref.func x]``."""
    x, pos = _u32(data, pos)
    return [_REF_FUNC_CACHE[x] if x < 128 else Instr("ref.func", (x,))], pos


class _ModuleDecoder:
    """Holds the input and the module being built; one method per section."""

    def __init__(self, data: bytes, page_sizes: bool) -> None:
        self.data = data
        self.page_sizes = page_sizes
        self.m = Module()
        self.func_types: list[int] = []
        self.bodies: list[tuple[Locals, list]] = []
        self.state: list = [False]  # [an instruction uses a data index]
        self.names_seen = False

    def expr(self, data: bytes, pos: int) -> tuple[list, int]:
        return _decode_expr(data, pos, self.state)

    # -- sections ---------------------------------------------------------
    # Each section reader takes the position of its contents and returns the
    # position after them; item readers take (data, pos) as _vec wants.

    def sec_type(self, pos: int) -> int:
        self.m.types, pos = _vec(self.data, pos, _rectype)
        return pos

    def _import(self, data: bytes, pos: int) -> tuple[Import, int]:
        mod, pos = _name(data, pos)
        nm, pos = _name(data, pos)
        k = data[pos]
        if k > 4:
            raise DecodeError("malformed import kind", pos)
        pos += 1
        if k == 0:
            desc, pos = _u32(data, pos)
        elif k == 1:
            desc, pos = _tabletype(data, pos)
        elif k == 2:
            desc, pos = _memtype(data, pos, self.page_sizes)
        elif k == 3:
            desc, pos = _globaltype(data, pos)
        else:
            desc, pos = _tagtype(data, pos)
        return Import(mod, nm, _EXTERN_KINDS[k], desc), pos

    def sec_import(self, pos: int) -> int:
        self.m.imports, pos = _vec(self.data, pos, self._import)
        return pos

    def sec_func(self, pos: int) -> int:
        self.func_types, pos = _vec(self.data, pos, _u32)
        return pos

    def _table(self, data: bytes, pos: int) -> tuple[Table, int]:
        if data[pos] == 0x40:
            if data[pos + 1] != 0:
                raise DecodeError("zero byte expected", pos + 1)
            tt, pos = _tabletype(data, pos + 2)
            init, pos = self.expr(data, pos)
            return Table(tt, init), pos
        tt, pos = _tabletype(data, pos)
        return Table(tt), pos

    def sec_table(self, pos: int) -> int:
        self.m.tables, pos = _vec(self.data, pos, self._table)
        return pos

    def sec_memory(self, pos: int) -> int:
        ps = self.page_sizes

        def mem(data: bytes, p: int) -> tuple[Memory, int]:
            mt, p = _memtype(data, p, ps)
            return Memory(mt), p

        self.m.mems, pos = _vec(self.data, pos, mem)
        return pos

    def sec_tag(self, pos: int) -> int:
        self.m.tags, pos = _vec(self.data, pos, _tag)
        return pos

    def _global(self, data: bytes, pos: int) -> tuple[Global, int]:
        gt, pos = _globaltype(data, pos)
        init, pos = self.expr(data, pos)
        return Global(gt, init), pos

    def sec_global(self, pos: int) -> int:
        self.m.globals, pos = _vec(self.data, pos, self._global)
        return pos

    def sec_export(self, pos: int) -> int:
        self.m.exports, pos = _vec(self.data, pos, _export)
        return pos

    def sec_start(self, pos: int) -> int:
        self.m.start, pos = _u32(self.data, pos)
        return pos

    def _elem(self, data: bytes, pos: int) -> tuple[Elem, int]:
        p0 = pos
        form, pos = _u32(data, pos)
        if form > 7:
            raise DecodeError("malformed elements segment kind", p0)
        mode = "active"
        table = 0
        offset = None
        if form & 1:
            mode = "declarative" if form & 2 else "passive"
        else:
            if form & 2:
                table, pos = _u32(data, pos)
            offset, pos = self.expr(data, pos)
        if form & 4:
            if form == 4:
                et = FUNCREF
            else:
                et, pos = _reftype(data, pos)
            init, pos = _vec(data, pos, self.expr)
        else:
            if form != 0:
                if data[pos] != 0:
                    raise DecodeError("malformed element kind", pos)
                pos += 1
            et = REF_FUNC
            init, pos = _vec(data, pos, _ref_func_expr)
        return Elem(et, init, mode, table, offset), pos

    def sec_elem(self, pos: int) -> int:
        self.m.elems, pos = _vec(self.data, pos, self._elem)
        return pos

    def sec_datacount(self, pos: int) -> int:
        self.m.data_count, pos = _u32(self.data, pos)
        return pos

    def _code(self, data: bytes, pos: int) -> tuple[tuple[Locals, list], int]:
        size, pos = _len32(data, pos)
        start = pos
        # locals: (count, type) groups, kept as runs
        n, pos = _len32(data, pos)
        groups = []
        total = 0
        for _ in range(n):
            c, pos = _u32(data, pos)
            t, pos = _valtype(data, pos)
            total += c
            groups.append((c, t))
        if too_many_locals(total):
            raise DecodeError(TOO_MANY_LOCALS, start)
        locs = Locals.from_runs(groups)
        body, pos = self.expr(data, pos)
        if pos != start + size:
            raise DecodeError("section size mismatch", start)
        return (locs, body), pos

    def sec_code(self, pos: int) -> int:
        self.bodies, pos = _vec(self.data, pos, self._code)
        return pos

    def _data(self, data: bytes, pos: int) -> tuple[Data, int]:
        p0 = pos
        form, pos = _u32(data, pos)
        if form > 2:
            raise DecodeError("malformed data segment kind", p0)
        mem = 0
        offset = None
        mode = "passive" if form == 1 else "active"
        if form == 2:
            mem, pos = _u32(data, pos)
        if form != 1:
            offset, pos = self.expr(data, pos)
        n, pos = _len32(data, pos)
        init, pos = _bytes(data, pos, n)
        return Data(init, mode, mem, offset), pos

    def sec_data(self, pos: int) -> int:
        self.m.datas, pos = _vec(self.data, pos, self._data)
        return pos

    def custom(self, pos: int, size: int, after: int) -> int:
        data = self.data
        start = pos
        nm, pos = _name(data, pos)
        content, pos = _bytes(data, pos, size - (pos - start))
        if nm == "name" and not self.names_seen:
            self.names_seen = True
            names = decode_names(content)
            if names is not None:
                self.m.names = names
                return pos
        self.m.customs.append(Custom(nm, content, after))
        return pos

    # -- the module -------------------------------------------------------

    def module(self) -> Module:
        data = self.data
        total = len(data)
        if total < 4:
            raise DecodeError(MSG_EOF, total)
        if data[:4] != MAGIC:
            raise DecodeError("magic header not detected", 0)
        if total < 8:
            raise DecodeError(MSG_EOF, total)
        if data[4:8] != VERSION:
            raise DecodeError("unknown binary version", 4)
        pos = 8
        next_index = 0
        last = 0
        while pos < total:
            sid = data[pos]
            if sid > 13:
                raise DecodeError("malformed section id", pos)
            if sid == 0:
                size, p = _len32(data, pos + 1)
                end = self.custom(p, size, last)
                if end != p + size:  # cannot happen: the custom reader takes `size`
                    raise DecodeError("section size mismatch", p)
                pos = end
                continue
            try:
                idx = SECTION_ORDER.index(sid, next_index)
            except ValueError:
                raise DecodeError("unexpected content after last section", pos) from None
            next_index = idx + 1
            size, p = _len32(data, pos + 1)
            end = _SECTION_READERS[sid](self, p)
            if end != p + size:
                raise DecodeError("section size mismatch", p)
            pos = end
            last = sid
        m = self.m
        if len(self.func_types) != len(self.bodies):
            raise DecodeError("function and code section have inconsistent lengths", total)
        if m.data_count is not None and m.data_count != len(m.datas):
            raise DecodeError("data count and data section have inconsistent lengths", total)
        if m.data_count is None and self.state[0]:
            raise DecodeError("data count section required", total)
        m.funcs = [Func(t, locs, body) for t, (locs, body) in zip(self.func_types, self.bodies)]
        return m


_SECTION_READERS = {
    1: _ModuleDecoder.sec_type,
    2: _ModuleDecoder.sec_import,
    3: _ModuleDecoder.sec_func,
    4: _ModuleDecoder.sec_table,
    5: _ModuleDecoder.sec_memory,
    13: _ModuleDecoder.sec_tag,
    6: _ModuleDecoder.sec_global,
    7: _ModuleDecoder.sec_export,
    8: _ModuleDecoder.sec_start,
    9: _ModuleDecoder.sec_elem,
    12: _ModuleDecoder.sec_datacount,
    10: _ModuleDecoder.sec_code,
    11: _ModuleDecoder.sec_data,
}


# ---------------------------------------------------------------------------
# The name section
# ---------------------------------------------------------------------------

# subsection id -> (Names field, indirect?)
NAME_SUBSECTIONS: dict[int, tuple[str, bool]] = {
    1: ("funcs", False),
    2: ("locals", True),
    3: ("labels", True),
    4: ("types", False),
    5: ("tables", False),
    6: ("mems", False),
    7: ("globals", False),
    8: ("elems", False),
    9: ("datas", False),
    10: ("fields", True),
    11: ("tags", False),
}


def _namemap(data: bytes, pos: int, read=_name) -> tuple[dict, int]:
    """A name map (index -> name), or with ``read=_namemap`` an indirect one
    (index -> name map). Indices must increase."""
    n, pos = _len32(data, pos)
    out: dict = {}
    prev = -1
    for _ in range(n):
        x, pos = _u32(data, pos)
        if x <= prev:
            raise DecodeError("name map indices not increasing", pos)
        prev = x
        out[x], pos = read(data, pos)
    return out, pos


def decode_names(content: bytes) -> Names | None:
    """Decode the payload of a ``name`` custom section (after its name).

    Returns None when the payload is not a well-formed name section (the
    caller then keeps the section verbatim). Never raises.
    """
    names = Names()
    pos = 0
    total = len(content)
    last = -1
    try:
        while pos < total:
            sid = content[pos]
            if sid <= last or sid > 11:
                return None
            last = sid
            size, pos = _len32(content, pos + 1)
            end = pos + size
            if end > total:
                return None
            sub = content[pos:end]
            if sid == 0:
                names.module, p = _name(sub, 0)
            else:
                field, indirect = NAME_SUBSECTIONS[sid]
                value, p = _namemap(sub, 0, _namemap if indirect else _name)
                setattr(names, field, value)
            if p != len(sub):
                return None
            pos = end
    except (DecodeError, IndexError):
        return None
    return names


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def decode_module(data: bytes | bytearray | memoryview, *, custom_page_sizes: bool = True) -> Module:
    """Decode a binary module.

    ``custom_page_sizes`` enables the custom-page-sizes proposal's limits
    flag (bit 3); with it off, that flag is "malformed limits flags" as in
    the core spec.

    Raises DecodeError (message from the spec test suite, byte offset) for
    any malformed input; never any other exception.
    """
    if not isinstance(data, bytes):
        try:
            data = bytes(data)
        except TypeError:
            raise DecodeError("module bytes expected", None) from None
    try:
        return _ModuleDecoder(data, custom_page_sizes).module()
    except DecodeError:
        raise
    except IndexError:
        raise DecodeError(MSG_EOF, len(data)) from None
    except RecursionError:  # pragma: no cover - the decoder does not recurse
        raise DecodeError("module too deeply nested", None) from None
    except MemoryError:
        raise DecodeError("module too large to decode", None) from None
    except Exception as e:  # pragma: no cover - safety net; a bug if it fires
        raise DecodeError(f"malformed module ({type(e).__name__}: {e})", None) from e
