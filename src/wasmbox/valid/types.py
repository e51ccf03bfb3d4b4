"""Validation of types: well-formedness, limits, subtyping, canonical type keys.

Subtyping lives here and nowhere else (:func:`match_valtype`,
:func:`match_heap`). It follows Wasm 3.0 in full (abstract heap hierarchy,
type indices compared by canonical key, declared supertypes), so typed
references and GC slot in without touching the instruction rules; which
types a module may *use* is decided separately by ``features.py``.

``None`` stands for the unknown ("bottom") operand type of unreachable code;
it matches every type.

Raises :class:`~wasmbox.errors.ValidationError` with the spec test suite's
messages ("unknown type N", "size minimum must not be greater than maximum",
"memory size must be at most 65536 pages (4GiB)", ...), and
:class:`~wasmbox.errors.UnsupportedFeature` for types of proposals beyond 2.0.
"""
from __future__ import annotations

import threading
from typing import Hashable, Sequence

from ..errors import ValidationError
from ..syntax.types import (
    AbsHeap,
    AddrType,
    ArrayType,
    ContType,
    FieldType,
    FuncType,
    HeapType,
    Limits,
    MemType,
    NumType,
    PackedType,
    RecType,
    RefType,
    StructType,
    SubType,
    TableType,
    ValType,
)
from .features import feature_of_valtype, unsupported

MAX_PAGES_32 = 1 << 16
MAX_TABLE_32 = (1 << 32) - 1
MAX_TABLE_64 = (1 << 64) - 1

# --------------------------------------------------------------------------
# Printing (for error messages)


def type_text(t: ValType | None) -> str:
    """A value type as the text format writes it (``funcref``, ``(ref 3)``, ``i32``)."""
    if t is None:
        return "_"
    if isinstance(t, NumType):
        return t.text
    if isinstance(t, RefType):
        h = t.heap
        if t.nullable and isinstance(h, AbsHeap) and h in (AbsHeap.FUNC, AbsHeap.EXTERN, AbsHeap.EXN):
            return h.text + "ref"
        ht = h.text if isinstance(h, AbsHeap) else str(h)
        return f"(ref {'null ' if t.nullable else ''}{ht})"
    return repr(t)


def types_text(ts: Sequence[ValType | None]) -> str:
    """``[i32 funcref]``."""
    return "[" + " ".join(type_text(t) for t in ts) + "]"


# --------------------------------------------------------------------------
# Well-formedness


class _BotHeap:
    """The heap type ``bot`` of the validation algorithm: below every heap type.

    ``(ref bot)`` is what ``ref.as_non_null`` / ``br_on_null`` leave when
    their operand is the unknown type of unreachable code: it matches every
    reference type, but no number type.
    """

    __slots__ = ()
    text = "bot"

    def __repr__(self) -> str:
        return "bot"


BOT = _BotHeap()
BOT_REF = RefType(False, BOT)  # type: ignore[arg-type]


def check_valtype(t: ValType, num_types: int) -> None:
    """Check that a value type is well formed and supported.

    ``num_types``: how many type indices are visible (inside a recursion
    group: up to the group's end). Raises UnsupportedFeature for value
    types of proposals not implemented (none at present), and
    ValidationError("unknown type N") for a reference to a missing type.
    """
    if isinstance(t, RefType):
        h = t.heap
        if isinstance(h, int):
            if not 0 <= h < num_types:
                raise ValidationError(f"unknown type {h}")
            return
        if isinstance(h, AbsHeap):
            return
        raise ValidationError(f"malformed heap type {h!r}")
    if not isinstance(t, NumType):
        raise ValidationError(f"malformed value type {t!r}")
    f = feature_of_valtype(t)
    if f is not None:
        raise unsupported(f, type_text(t))


def check_elem_type(t: RefType, num_types: int) -> None:
    """Check the type of an element segment (any reference type); see :func:`check_valtype`."""
    if not isinstance(t, RefType):
        raise ValidationError(f"malformed element type {t!r}")
    check_valtype(t, num_types)


def check_heap(h: HeapType, num_types: int) -> None:
    """Check a heap type (of ``ref.null``); see :func:`check_valtype`."""
    check_valtype(RefType(True, h), num_types)


def defaultable(t: ValType) -> bool:
    """Whether a value type has a default value (numbers, vectors, nullable references)."""
    return not isinstance(t, RefType) or t.nullable


def _check_storage(t: object, num_types: int) -> None:
    if isinstance(t, PackedType):
        return
    check_valtype(t, num_types)  # type: ignore[arg-type]


def check_rectype(r: RecType, first_index: int, space: "TypeSpace") -> None:
    """Check one recursion group whose first type has index ``first_index``.

    The group's types may refer to each other and to earlier types (not to
    later groups). Each declared supertype must be an earlier type, not
    final, and of a matching composite type (:meth:`TypeSpace.match_comp`);
    a continuation type must name a function type. Raises ValidationError
    ("unknown type N", "sub type ...", "non-function type N") and
    UnsupportedFeature for value types of proposals not implemented.
    """
    hi = first_index + len(r.subtypes)
    types = space.types
    for j, st in enumerate(r.subtypes):
        x = first_index + j
        c = st.comp
        if isinstance(c, FuncType):
            for t in c.params:
                check_valtype(t, hi)
            for t in c.results:
                check_valtype(t, hi)
        elif isinstance(c, StructType):
            for f in c.fields:
                _check_storage(f.storage, hi)
        elif isinstance(c, ArrayType):
            _check_storage(c.field.storage, hi)
        elif isinstance(c, ContType):
            y = c.type_index
            if not isinstance(y, int) or not 0 <= y < hi:
                raise ValidationError(f"unknown type {y}")
            if not isinstance(types[y].comp, FuncType):
                raise ValidationError(f"non-function type {y}")
        else:
            raise ValidationError(f"unknown composite type {c!r}")
        if len(st.supertypes) > 1:
            raise ValidationError(f"sub type {x} has more than one supertype")
        for y in st.supertypes:
            if not isinstance(y, int) or not 0 <= y < hi:
                raise ValidationError(f"unknown type {y}")
            if y >= x:
                raise ValidationError(f"sub type {x} must come after its supertype {y}")
            sup = types[y]
            if sup.final:
                raise ValidationError(f"sub type {x} has a final supertype {y}")
            if not space.match_comp(c, sup.comp):
                raise ValidationError(f"sub type {x} does not match super type {y}")


def check_limits(lim: Limits, bound: int, size_msg: str) -> None:
    """Raise ValidationError unless ``min <= max`` and both are ``<= bound``."""
    if lim.min > bound:
        raise ValidationError(size_msg)
    if lim.max is not None:
        if lim.max > bound:
            raise ValidationError(size_msg)
        if lim.min > lim.max:
            raise ValidationError("size minimum must not be greater than maximum")


#: the page sizes (log2) a memory may declare: 1 byte and 64 KiB
VALID_PAGE_SHIFTS = frozenset({0, 16})
DEFAULT_PAGE_SHIFT = 16


def page_shift(mt: MemType) -> int:
    """log2 of the memory's page size (16 unless a custom page size is declared)."""
    return DEFAULT_PAGE_SHIFT if mt.page_size_log2 is None else mt.page_size_log2


def memory_max_pages(addr: AddrType, shift: int) -> int:
    """The most pages a memory of this address type and page size may declare.

    The whole address space divided by the page size, and never more than
    the largest limit the binary format can encode for the address type
    (``2^32-1`` for i32 limits, ``2^64-1`` for i64 ones): with 1-byte pages an
    i32 memory holds at most ``2^32-1`` pages.
    """
    bits = 64 if addr is AddrType.I64 else 32
    return min(1 << (bits - shift), (1 << bits) - 1)


def _size_text(shift: int, pages: int) -> str:
    """``65536 pages (4GiB)``, ``2^48 pages (16EiB)``, ``2^32-1 pages of 1 byte``."""
    if pages & (pages - 1):  # 2^k - 1: the limit the encoding sets, not the address space
        return f"2^{pages.bit_length()}-1 pages of {1 << shift} byte{'s' if shift else ''}"
    n = f"2^{pages.bit_length() - 1}" if pages > 65536 else str(pages)
    total = pages << shift
    for unit, k in _UNITS:
        if total >= 1 << k:
            return f"{n} pages ({total >> k}{unit})"
    return f"{n} pages ({total}B)"


_UNITS = (("EiB", 60), ("PiB", 50), ("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10))


def check_memtype(mt: MemType) -> None:
    """Check a memory type (i32 or i64 addresses, 1-byte or 64 KiB pages).

    Raises UnsupportedFeature for threads (shared memories);
    ValidationError("invalid custom page size") for a page size other than
    1 or 65536, ("memory size must be at most N pages ...") for limits past
    the address space, ("size minimum must not be greater than maximum").
    """
    lim = mt.limits
    if lim.shared:
        raise unsupported("threads", "shared memory")
    shift = page_shift(mt)
    if shift not in VALID_PAGE_SHIFTS:
        raise ValidationError(f"invalid custom page size: 2^{shift} bytes (only 1 and 65536 are valid)")
    bound = memory_max_pages(lim.addr, shift)
    check_limits(lim, bound, f"memory size must be at most {_size_text(shift, bound)}")


def check_tabletype(tt: TableType, num_types: int) -> None:
    """Check a table type (i32 or i64 indices); raises like :func:`check_valtype`,
    and ValidationError("table size must be at most ...") for limits past the index type."""
    lim = tt.limits
    if lim.addr is AddrType.I64:
        check_limits(lim, MAX_TABLE_64, "table size must be at most 2^64-1")
    else:
        check_limits(lim, MAX_TABLE_32, "table size must be at most 2^32-1")
    check_valtype(tt.elem, num_types)


# --------------------------------------------------------------------------
# Canonical type keys (iso-recursive type equivalence)


# Each distinct recursion group (its structure, with references inside the
# group replaced by positions and references to earlier types by their keys)
# gets a small int, process-wide; a type's key is (group id, position). So
# keys are two ints, cheap to hash and compare, whatever the nesting.
_GROUP_IDS: dict[Hashable, int] = {}
_GROUP_IDS_LOCK = threading.Lock()


def _group_id(group: Hashable) -> int:
    gid = _GROUP_IDS.get(group)
    if gid is None:
        with _GROUP_IDS_LOCK:
            gid = _GROUP_IDS.setdefault(group, len(_GROUP_IDS))
    return gid


def _ref_key(i: int, lo: int, hi: int, keys: list[Hashable]) -> Hashable:
    """A type index as a key: its position if inside the group [lo, hi), else its key."""
    if lo <= i < hi:
        return ("rec", i - lo)
    return keys[i] if 0 <= i < lo else ("bad", i)


def _subst_val(t: object, lo: int, hi: int, keys: list[Hashable]) -> object:
    if isinstance(t, RefType) and isinstance(t.heap, int):
        return (t.nullable, _ref_key(t.heap, lo, hi, keys))
    return t


def _indexed(ts: tuple) -> bool:
    """Whether a tuple of value types names a type index."""
    for t in ts:
        if t.__class__ is RefType and t.heap.__class__ is int:
            return True
    return False


def _subst_comp(c: object, lo: int, hi: int, keys: list[Hashable]) -> Hashable:
    if isinstance(c, FuncType):
        ps, rs = c.params, c.results
        if _indexed(ps):
            ps = tuple(_subst_val(t, lo, hi, keys) for t in ps)
        if _indexed(rs):
            rs = tuple(_subst_val(t, lo, hi, keys) for t in rs)
        return ("func", tuple(ps), tuple(rs))
    if isinstance(c, StructType):
        return ("struct", tuple((_subst_val(f.storage, lo, hi, keys), f.mutable) for f in c.fields))
    if isinstance(c, ArrayType):
        f: FieldType = c.field
        return ("array", _subst_val(f.storage, lo, hi, keys), f.mutable)
    if isinstance(c, ContType):
        return ("cont", _ref_key(c.type_index, lo, hi, keys))
    return ("?", repr(c))


def canonical_keys(rectypes: Sequence[RecType]) -> list[Hashable]:
    """One hashable key per type index; equal keys mean equivalent types.

    Iso-recursive equivalence: two types are the same when their recursion
    groups are structurally identical (finality, supertypes and composite
    types, with type indices inside the group replaced by their position in
    it and references to earlier types by those types' keys) and they sit
    at the same position. Keys are process-wide, so they compare equal
    across modules too (the runtime interns them into small ints for
    ``call_indirect`` and linking). Does not raise for well-formed input
    (invalid references give keys of their own; validation rejects them).
    """
    keys: list[Hashable] = []
    for r in rectypes:
        lo = len(keys)
        hi = lo + len(r.subtypes)
        group = tuple(
            (
                st.final,
                tuple(_ref_key(x, lo, hi, keys) for x in st.supertypes),
                _subst_comp(st.comp, lo, hi, keys),
            )
            for st in r.subtypes
        )
        gid = _group_id(group)
        keys.extend((gid, i) for i in range(len(r.subtypes)))
    return keys


# --------------------------------------------------------------------------
# Subtyping

_ABS_PARENT: dict[AbsHeap, AbsHeap | None] = {
    AbsHeap.ANY: None,
    AbsHeap.EQ: AbsHeap.ANY,
    AbsHeap.I31: AbsHeap.EQ,
    AbsHeap.STRUCT: AbsHeap.EQ,
    AbsHeap.ARRAY: AbsHeap.EQ,
    AbsHeap.FUNC: None,
    AbsHeap.EXTERN: None,
    AbsHeap.EXN: None,
    AbsHeap.CONT: None,
}
# bottom type -> the top of its hierarchy
_BOTTOM_OF: dict[AbsHeap, AbsHeap] = {
    AbsHeap.NONE: AbsHeap.ANY,
    AbsHeap.NOFUNC: AbsHeap.FUNC,
    AbsHeap.NOEXTERN: AbsHeap.EXTERN,
    AbsHeap.NOEXN: AbsHeap.EXN,
    AbsHeap.NOCONT: AbsHeap.CONT,
}


def top_of(h: AbsHeap) -> AbsHeap:
    """The top of the hierarchy an abstract heap type belongs to (any, func, extern, exn, cont)."""
    if h in _BOTTOM_OF:
        return _BOTTOM_OF[h]
    while True:
        p = _ABS_PARENT.get(h)
        if p is None:
            return h
        h = p


def comp_kind(c: object) -> AbsHeap:
    """The abstract heap type directly above a composite type (func, struct, array, cont)."""
    if isinstance(c, FuncType):
        return AbsHeap.FUNC
    if isinstance(c, StructType):
        return AbsHeap.STRUCT
    if isinstance(c, ArrayType):
        return AbsHeap.ARRAY
    return AbsHeap.CONT


def abs_sub(a: AbsHeap, b: AbsHeap) -> bool:
    """``a <: b`` for abstract heap types."""
    if a is b:
        return True
    if a in _BOTTOM_OF:
        return _BOTTOM_OF[a] is top_of(b) and b not in _BOTTOM_OF
    while a is not None:
        if a is b:
            return True
        a = _ABS_PARENT.get(a)  # type: ignore[assignment]
    return False


def abs_sub_defined(a: AbsHeap, kind: AbsHeap) -> bool:
    """``a <: $t`` for an abstract a and a defined type of composite kind ``kind``:
    only the bottom of the hierarchy is."""
    return a in _BOTTOM_OF and _BOTTOM_OF[a] is top_of(kind)


class TypeSpace:
    """The defined types of a module, for subtyping questions."""

    __slots__ = ("types", "keys")

    def __init__(self, types: Sequence[SubType], keys: Sequence[Hashable]) -> None:
        self.types = types
        self.keys = keys

    def match_heap(self, a: HeapType, b: HeapType) -> bool:
        """``a <: b`` for heap types."""
        if a == b or a is BOT:
            return True
        types = self.types
        if isinstance(a, int):
            if isinstance(b, int):
                if self.keys[a] == self.keys[b]:
                    return True
                return any(self.match_heap(s, b) for s in types[a].supertypes)
            if b is BOT:
                return False
            return abs_sub(comp_kind(types[a].comp), b)
        if isinstance(b, int):
            return abs_sub_defined(a, comp_kind(types[b].comp))  # type: ignore[arg-type]
        if b is BOT:
            return False
        return abs_sub(a, b)  # type: ignore[arg-type]

    def match_valtype(self, a: ValType | None, b: ValType | None) -> bool:
        """``a <: b``; the unknown type ``None`` matches everything."""
        if a is b or a is None or b is None:
            return True
        if isinstance(a, RefType) and isinstance(b, RefType):
            if a.nullable and not b.nullable:
                return False
            return self.match_heap(a.heap, b.heap)
        return a == b

    def same_valtype(self, a: object, b: object) -> bool:
        """Type equivalence of two value (or storage) types."""
        if isinstance(a, RefType) and isinstance(b, RefType):
            if a.nullable is not b.nullable:
                return False
            ha, hb = a.heap, b.heap
            if isinstance(ha, int) and isinstance(hb, int):
                return self.keys[ha] == self.keys[hb]
            return ha == hb
        return a == b

    def match_types(self, a: Sequence[ValType], b: Sequence[ValType]) -> bool:
        """Element-wise ``a <: b`` of two result types of the same length."""
        return len(a) == len(b) and all(self.match_valtype(x, y) for x, y in zip(a, b))

    def _match_field(self, a: FieldType, b: FieldType) -> bool:
        if a.mutable is not b.mutable:
            return False
        sa, sb = a.storage, b.storage
        if isinstance(sa, PackedType) or isinstance(sb, PackedType):
            return sa is sb
        if a.mutable:
            return self.same_valtype(sa, sb)
        return self.match_valtype(sa, sb)  # type: ignore[arg-type]

    def match_comp(self, a: object, b: object) -> bool:
        """``a <: b`` for composite types (functions contravariant in their
        parameters, structs by prefix, fields covariant unless mutable)."""
        if isinstance(a, FuncType) and isinstance(b, FuncType):
            return self.match_types(b.params, a.params) and self.match_types(a.results, b.results)
        if isinstance(a, StructType) and isinstance(b, StructType):
            if len(a.fields) < len(b.fields):
                return False
            return all(self._match_field(x, y) for x, y in zip(a.fields, b.fields))
        if isinstance(a, ArrayType) and isinstance(b, ArrayType):
            return self._match_field(a.field, b.field)
        if isinstance(a, ContType) and isinstance(b, ContType):
            return self.match_heap(a.type_index, b.type_index)
        return False
