"""Encode a :class:`wasmbox.syntax.Module` into the binary format.

The output is canonical, so that ``decode_module(encode_module(m)) == m``
for every module that follows the representation conventions of
:mod:`wasmbox.syntax.module`:

* LEB128 numbers in their shortest form; locals as their canonical runs
  (one group per run: no empty group, no two neighbours of equal type).
* A final sub type without supertypes in the short form (no ``sub``
  prefix); a recursion group of one as the bare sub type.
* ``(ref null <abstract>)`` in its one-byte shorthand.
* Element segments in a function-index form (0-3) only when that is
  lossless (type ``(ref func)`` and every item exactly ``ref.func x``),
  else in an expression form (4-7); table 0 and funcref/``(ref func)``
  use the short active forms 0/4.
* The data count section iff ``m.data_count is not None``.
* Custom sections re-emitted after the section named by their ``after``
  field. An empty vector section is emitted when a custom section must
  follow it, so that positions survive a round trip.
* The ``name`` section is built from ``m.names`` when it holds anything and
  placed last (or just before the first verbatim custom section that is
  also called ``name``, so that a re-decode picks the same one).

Raises :class:`EncodeError` when the module breaks those conventions (an
unknown instruction, an immediate of the wrong type or out of range, more
than 2**32 - 1 locals).
"""
from __future__ import annotations

from ..errors import WasmboxError
from ..syntax.module import (
    CATCH_KINDS,
    Elem,
    ExternKind,
    Module,
    Names,
)
from ..syntax.locals import TOO_MANY_LOCALS, too_many_locals
from ..syntax.opcodes import OPS
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
from .decode import MAGIC, NAME_SUBSECTIONS, REF_FUNC, SECTION_ORDER, VERSION
from .leb128 import SMALL_UNSIGNED, write_signed, write_unsigned

__all__ = ["encode_module", "encode_expr", "EncodeError"]


class EncodeError(WasmboxError):
    """The module cannot be encoded (it breaks the representation conventions)."""

    kind = "encode"


def _unsigned_writer(bits: int):
    """The writer of uN, with the one-byte numbers looked up without a call.
    The writers raise ValueError for a value out of range."""

    def write(v: int) -> bytes:
        if 0 <= v < 128:
            return SMALL_UNSIGNED[v]
        return write_unsigned(v, bits)

    return write


_u32 = _unsigned_writer(32)
_u64 = _unsigned_writer(64)


def _s(v: int, bits: int) -> bytes:
    """Signed LEB of ``v`` wrapped into ``bits`` bits (accepts unsigned views too)."""
    half = 1 << (bits - 1)
    if not -half <= v < half:
        if not 0 <= v < 2 * half:
            raise EncodeError(f"constant {v} does not fit in {bits} bits")
        v -= 2 * half
    return write_signed(v, bits)


def _name(s: str) -> bytes:
    raw = s.encode("utf-8")
    return _u32(len(raw)) + raw


def _vec(items, enc) -> bytes:
    parts = [_u32(len(items))]
    parts.extend(enc(x) for x in items)
    return b"".join(parts)


# ---------------------------------------------------------------------------
# Types
# ---------------------------------------------------------------------------

_VALTYPE_CACHE: dict = {}


def _heaptype(h) -> bytes:
    if isinstance(h, AbsHeap):
        return bytes([h.value])
    if isinstance(h, int) and not isinstance(h, bool) and h >= 0:
        return write_signed(h, 33)
    raise EncodeError(f"bad heap type {h!r}")


def _valtype(t) -> bytes:
    r = _VALTYPE_CACHE.get(t)
    if r is not None:
        return r
    if isinstance(t, NumType):
        r = bytes([t.value])
    elif isinstance(t, RefType):
        if t.nullable and isinstance(t.heap, AbsHeap):
            r = bytes([t.heap.value])
        else:
            r = bytes([0x63 if t.nullable else 0x64]) + _heaptype(t.heap)
    else:
        raise EncodeError(f"bad value type {t!r}")
    if len(_VALTYPE_CACHE) < 4096:
        _VALTYPE_CACHE[t] = r
    return r


def _reftype(t) -> bytes:
    if not isinstance(t, RefType):
        raise EncodeError(f"reference type expected, got {t!r}")
    return _valtype(t)


def _fieldtype(f: FieldType) -> bytes:
    st = f.storage
    head = bytes([st.value]) if isinstance(st, PackedType) else _valtype(st)
    return head + (b"\x01" if f.mutable else b"\x00")


def _comptype(c) -> bytes:
    if isinstance(c, FuncType):
        return b"\x60" + _vec(c.params, _valtype) + _vec(c.results, _valtype)
    if isinstance(c, StructType):
        return b"\x5f" + _vec(c.fields, _fieldtype)
    if isinstance(c, ArrayType):
        return b"\x5e" + _fieldtype(c.field)
    if isinstance(c, ContType):
        return b"\x5d" + _heaptype(c.type_index)
    raise EncodeError(f"bad composite type {c!r}")


def _subtype(s: SubType) -> bytes:
    if s.final and not s.supertypes:
        return _comptype(s.comp)
    head = b"\x4f" if s.final else b"\x50"
    return head + _vec(s.supertypes, _u32) + _comptype(s.comp)


def _rectype(r: RecType) -> bytes:
    if len(r.subtypes) == 1:
        return _subtype(r.subtypes[0])
    return b"\x4e" + _vec(r.subtypes, _subtype)


def _limits(lim: Limits, page_size_log2: int | None = None) -> bytes:
    flags = 0
    if lim.max is not None:
        flags |= 1
    if lim.shared:
        flags |= 2
    if lim.addr is AddrType.I64:
        flags |= 4
    if page_size_log2 is not None:
        flags |= 8
    out = bytes([flags]) + _u64(lim.min)
    if lim.max is not None:
        out += _u64(lim.max)
    if page_size_log2 is not None:
        out += _u32(page_size_log2)
    return out


def _tabletype(t: TableType) -> bytes:
    return _reftype(t.elem) + _limits(t.limits)


def _memtype(t: MemType) -> bytes:
    return _limits(t.limits, t.page_size_log2)


def _globaltype(t: GlobalType) -> bytes:
    return _valtype(t.val) + (b"\x01" if t.mutable else b"\x00")


def _tagtype(t: TagType) -> bytes:
    return b"\x00" + _u32(t.type_index)


# ---------------------------------------------------------------------------
# Instructions, driven by the opcode table
# ---------------------------------------------------------------------------


def _w_idx(out: bytearray, v) -> None:
    out += _u32(v)


def _w_bt(out: bytearray, v) -> None:
    if v is None:
        out.append(0x40)
    elif isinstance(v, int) and not isinstance(v, bool):
        if v < 0:
            raise EncodeError(f"bad block type {v}")
        out += write_signed(v, 33)
    else:
        out += _valtype(v)


def _w_labels(out: bytearray, v) -> None:
    out += _u32(len(v))
    for x in v:
        out += _u32(x)


def _w_memarg(out: bytearray, v) -> None:
    align, offset, mem = v
    if not 0 <= align < 64:
        raise EncodeError(f"alignment exponent {align} cannot be encoded")
    if mem:
        out += _u32(align | 0x40)
        out += _u32(mem)
    else:
        out += _u32(align)
    out += _u64(offset)


def _w_signed(bits: int):
    """The writer of an i32/i64 immediate (signed LEB, unsigned views accepted)."""

    def write(out: bytearray, v) -> None:
        out += _s(v, bits)

    return write


def _w_bits(n: int):
    """The writer of an ``n``-byte little-endian immediate (f32, f64, v128 bits)."""

    def write(out: bytearray, v) -> None:
        out += v.to_bytes(n, "little")

    return write


def _w_lane(out: bytearray, v) -> None:
    if not 0 <= v < 256:
        raise EncodeError(f"lane index {v} does not fit in a byte")
    out.append(v)


def _w_shuffle(out: bytearray, v) -> None:
    if len(v) != 16:
        raise EncodeError("i8x16.shuffle needs 16 lane indices")
    for x in v:
        _w_lane(out, x)


def _w_heap(out: bytearray, v) -> None:
    out += _heaptype(v)


def _w_valtypes(out: bytearray, v) -> None:
    out += _vec(v, _valtype)


def _w_castflags(out: bytearray, v) -> None:
    if not 0 <= v <= 3:
        raise EncodeError(f"bad cast flags {v}")
    out.append(v)


def _w_catches(out: bytearray, v) -> None:
    out += _u32(len(v))
    for c in v:
        k = CATCH_KINDS.index(c.kind)
        out.append(k)
        if k < 2:
            out += _u32(c.tag)
        out += _u32(c.label)


def _w_handlers(out: bytearray, v) -> None:
    out += _u32(len(v))
    for h in v:
        if h.label is None:
            out.append(1)
            out += _u32(h.tag)
        else:
            out.append(0)
            out += _u32(h.tag)
            out += _u32(h.label)


_WRITERS = {
    "bt": _w_bt,
    "labels": _w_labels,
    "memarg": _w_memarg,
    "i32": _w_signed(32),
    "i64": _w_signed(64),
    "f32": _w_bits(4),
    "f64": _w_bits(8),
    "v128": _w_bits(16),
    "shuffle": _w_shuffle,
    "lane": _w_lane,
    "heap": _w_heap,
    "valtypes": _w_valtypes,
    "castflags": _w_castflags,
    "catches": _w_catches,
    "handlers": _w_handlers,
}
for _k in "label func type table mem local global tag elem data field u32".split():
    _WRITERS[_k] = _w_idx

# op name -> (opcode bytes, writers)
_ENC: dict[str, tuple[bytes, tuple]] = {}
for _name_, _op in OPS.items():
    _code = bytes([_op.code]) if _op.prefix == 0 else bytes([_op.prefix]) + write_unsigned(_op.code, 32)
    _ENC[_name_] = (_code, tuple(_WRITERS[k] for k in _op.imms))


def _instr_bytes(ins) -> bytes:
    try:
        code, writers = _ENC[ins[0]]
    except (KeyError, TypeError, IndexError):
        raise EncodeError(f"unknown instruction {ins!r}") from None
    if not writers:
        return code
    imm = ins[1]
    if len(imm) != len(writers):
        raise EncodeError(f"{ins[0]} takes {len(writers)} immediates, got {imm!r}")
    out = bytearray(code)
    for w, v in zip(writers, imm):
        w(out, v)
    return bytes(out)


# Instr -> its encoding. Instructions repeat a lot (local.get 0, i32.add, ...),
# so this saves most of the work; bounded so that it cannot grow without limit.
_INSTR_CACHE: dict = {}
_INSTR_CACHE_MAX = 1 << 16


def _expr_into(out: bytearray, instrs) -> None:
    cache = _INSTR_CACHE
    get = cache.get
    for ins in instrs:
        try:
            b = get(ins)
        except TypeError:  # an unhashable immediate (a list): encode directly
            out += _instr_bytes(ins)
            continue
        if b is None:
            b = _instr_bytes(ins)
            if len(cache) >= _INSTR_CACHE_MAX:
                cache.clear()
            cache[ins] = b
        out += b
    out.append(0x0B)


def encode_expr(instrs) -> bytes:
    """Encode an instruction list (without its final ``end``) followed by ``end``.

    Raises EncodeError for an unknown instruction or bad immediates.
    """
    out = bytearray()
    _expr_into(out, instrs)
    return bytes(out)


# ---------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------


def _import(i) -> bytes:
    k = i.kind
    if k is ExternKind.FUNC:
        desc = _u32(i.desc)
    elif k is ExternKind.TABLE:
        desc = _tabletype(i.desc)
    elif k is ExternKind.MEM:
        desc = _memtype(i.desc)
    elif k is ExternKind.GLOBAL:
        desc = _globaltype(i.desc)
    elif k is ExternKind.TAG:
        desc = _tagtype(i.desc)
    else:
        raise EncodeError(f"bad import kind {k!r}")
    return _name(i.module) + _name(i.name) + bytes([k.value]) + desc


def _table(t) -> bytes:
    if t.init is None:
        return _tabletype(t.type)
    return b"\x40\x00" + _tabletype(t.type) + encode_expr(t.init)


def _global(g) -> bytes:
    return _globaltype(g.type) + encode_expr(g.init)


def _export(e) -> bytes:
    return _name(e.name) + bytes([e.kind.value]) + _u32(e.index)


def _funcidx_of(expr) -> int | None:
    """x when ``expr`` is exactly ``[ref.func x]``, else None."""
    if len(expr) == 1:
        ins = expr[0]
        if ins[0] == "ref.func" and len(ins[1]) == 1:
            return ins[1][0]
    return None


def _elem(e: Elem) -> bytes:
    mode = e.mode
    if mode not in ("active", "passive", "declarative"):
        raise EncodeError(f"bad element segment mode {mode!r}")
    idxs = None
    if e.type == REF_FUNC:
        idxs = [_funcidx_of(x) for x in e.init]
        if any(x is None for x in idxs):
            idxs = None
    if mode == "active":
        off = encode_expr(e.offset if e.offset is not None else [])
        if idxs is not None:
            if e.table == 0:
                return b"\x00" + off + _vec(idxs, _u32)
            return b"\x02" + _u32(e.table) + off + b"\x00" + _vec(idxs, _u32)
        if e.table == 0 and e.type == FUNCREF:
            return b"\x04" + off + _vec(e.init, encode_expr)
        return b"\x06" + _u32(e.table) + off + _reftype(e.type) + _vec(e.init, encode_expr)
    passive = mode == "passive"
    if idxs is not None:
        return (b"\x01" if passive else b"\x03") + b"\x00" + _vec(idxs, _u32)
    return (b"\x05" if passive else b"\x07") + _reftype(e.type) + _vec(e.init, encode_expr)


def _code(f) -> bytes:
    out = bytearray()
    # Locals are canonical runs already: one group per run.
    locs = f.locals
    if too_many_locals(locs.total):
        raise EncodeError(f"{TOO_MANY_LOCALS}: {locs.total}")
    out += _u32(len(locs.runs))
    for n, t in locs.runs:
        out += _u32(n)
        out += _valtype(t)
    _expr_into(out, f.body)
    return _u32(len(out)) + bytes(out)


def _data(d) -> bytes:
    init = bytes(d.init)
    tail = _u32(len(init)) + init
    if d.mode == "passive":
        return b"\x01" + tail
    if d.mode != "active":
        raise EncodeError(f"bad data segment mode {d.mode!r}")
    off = encode_expr(d.offset if d.offset is not None else [])
    if d.mem == 0:
        return b"\x00" + off + tail
    return b"\x02" + _u32(d.mem) + off + tail


def _namemap(m: dict, enc=_name) -> bytes:
    """A name map (index -> name), or with ``enc=_namemap`` an indirect one."""
    keys = sorted(m)
    return _u32(len(keys)) + b"".join(_u32(k) + enc(m[k]) for k in keys)


def names_present(n: Names) -> bool:
    """Whether a ``name`` section must be written for ``n``."""
    return n.module is not None or any(
        getattr(n, field) for field, _ in NAME_SUBSECTIONS.values()
    )


def encode_names(n: Names) -> bytes:
    """The payload of a ``name`` custom section (without the section name).

    Empty maps are left out. Raises EncodeError for non-string names.
    """
    out = bytearray()
    if n.module is not None:
        sub = _name(n.module)
        out += b"\x00" + _u32(len(sub)) + sub
    for sid, (field, indirect) in sorted(NAME_SUBSECTIONS.items()):
        value = getattr(n, field)
        if not value:
            continue
        sub = _namemap(value, _namemap if indirect else _name)
        out.append(sid)
        out += _u32(len(sub)) + sub
    return bytes(out)


def _section(out: bytearray, sid: int, content: bytes) -> None:
    out.append(sid)
    out += _u32(len(content))
    out += content


def _encode(m: Module) -> bytes:
    out = bytearray(MAGIC + VERSION)
    after: dict[int, list] = {}
    for c in m.customs:
        after.setdefault(c.after, []).append(c)
    names_payload = encode_names(m.names) if names_present(m.names) else None

    def emit_customs(cs) -> None:
        nonlocal names_payload
        for c in cs:
            if names_payload is not None and c.name == "name":
                _section(out, 0, _name("name") + names_payload)
                names_payload = None
            _section(out, 0, _name(c.name) + bytes(c.data))

    builders = {
        1: lambda: _vec(m.types, _rectype) if m.types else None,
        2: lambda: _vec(m.imports, _import) if m.imports else None,
        3: lambda: _vec([f.type_index for f in m.funcs], _u32) if m.funcs else None,
        4: lambda: _vec(m.tables, _table) if m.tables else None,
        5: lambda: _vec([x.type for x in m.mems], _memtype) if m.mems else None,
        13: lambda: _vec([x.type for x in m.tags], _tagtype) if m.tags else None,
        6: lambda: _vec(m.globals, _global) if m.globals else None,
        7: lambda: _vec(m.exports, _export) if m.exports else None,
        8: lambda: _u32(m.start) if m.start is not None else None,
        9: lambda: _vec(m.elems, _elem) if m.elems else None,
        12: lambda: _u32(m.data_count) if m.data_count is not None else None,
        10: lambda: _vec(m.funcs, _code) if m.funcs else None,
        11: lambda: _vec(m.datas, _data) if m.datas else None,
    }
    emit_customs(after.pop(0, ()))
    for sid in SECTION_ORDER:
        content = builders[sid]()
        if content is None and sid in after and sid not in (8, 12):
            content = b"\x00"  # an empty vector keeps the custom sections' place
        if content is not None:
            _section(out, sid, content)
        emit_customs(after.pop(sid, ()))
    for sid in sorted(after):  # `after` values that name no section: at the end
        emit_customs(after[sid])
    if names_payload is not None:
        _section(out, 0, _name("name") + names_payload)
    return bytes(out)


def encode_module(m: Module) -> bytes:
    """Encode ``m`` canonically (see the module docstring).

    Raises EncodeError when ``m`` breaks the representation conventions.
    """
    try:
        return _encode(m)
    except EncodeError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError) as e:
        raise EncodeError(f"cannot encode module: {type(e).__name__}: {e}") from e
