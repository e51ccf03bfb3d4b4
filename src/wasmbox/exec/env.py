"""The static view of a module that the compiler needs: its index spaces.

:class:`ModuleEnv` lists, imports first, the type of every function, global,
table and memory of a :class:`~wasmbox.syntax.Module`, and gives each
type a *canonical type id*: a small int shared by every module in the
process, equal for two types exactly when they are the same type under
iso-recursive equivalence (``call_indirect``, ``call_ref`` and linking compare
these ids). The process-wide registry :data:`SUPERS` / :data:`KINDS` says,
per id, which ids are its declared supertypes and what kind of type it is,
so subtyping across modules is a set lookup (:func:`tid_matches`,
:func:`match_canon`).

The compiler may assume a valid module; :class:`ModuleEnv` is built from a
module that passed :func:`wasmbox.valid.validate_module` (or from one the
caller vouches for). It raises nothing for a valid module; for an invalid one
it may raise :class:`~wasmbox.errors.ValidationError`.
"""
from __future__ import annotations

import threading
from typing import Any, Hashable

from ..errors import ValidationError
from ..syntax.module import ExternKind, Module
from ..syntax.types import (
    AbsHeap, ContType, FuncType, GlobalType, MemType, RecType, RefType, SubType, TableType,
    flatten_types,
)

from ..valid.types import abs_sub, abs_sub_defined, canonical_keys as _canonical_keys, comp_kind

_TYPE_IDS: dict[Hashable, int] = {}
_TYPE_IDS_LOCK = threading.Lock()

#: canonical type id -> the ids of all its declared supertypes (transitively),
#: for the types that have any. A type's supertypes are part of its canonical
#: key, so the entry of an id never changes once made.
SUPERS: dict[int, frozenset[int]] = {}
#: canonical type id -> its composite kind (AbsHeap.FUNC, STRUCT, ARRAY or CONT)
KINDS: dict[int, AbsHeap] = {}


def canonical_type_id(key: Hashable) -> int:
    """The process-wide id of a canonical type key (ids start at 1)."""
    tid = _TYPE_IDS.get(key)
    if tid is None:
        with _TYPE_IDS_LOCK:
            tid = _TYPE_IDS.setdefault(key, len(_TYPE_IDS) + 1)
    return tid


def tid_matches(actual: int, expected: int) -> bool:
    """Whether the defined type with id ``actual`` is a subtype of the one with id
    ``expected`` (the same type, or one of its declared supertypes)."""
    return actual == expected or expected in SUPERS.get(actual, ())


def canon_valtype(t: Any, type_ids: list[int]) -> Any:
    """A value type with its type index (if any) replaced by the canonical id:
    comparable across modules with :func:`match_canon`."""
    if isinstance(t, RefType) and isinstance(t.heap, int):
        return RefType(t.nullable, type_ids[t.heap])
    return t


def match_canon(a: Any, b: Any) -> bool:
    """``a <: b`` for value types in canonical form (see :func:`canon_valtype`)."""
    if a == b:
        return True
    if not (isinstance(a, RefType) and isinstance(b, RefType)):
        return False
    if a.nullable and not b.nullable:
        return False
    ha, hb = a.heap, b.heap
    if isinstance(ha, int):
        if isinstance(hb, int):
            return tid_matches(ha, hb)
        return abs_sub(KINDS[ha], hb)
    if isinstance(hb, int):
        return abs_sub_defined(ha, KINDS[hb])
    return abs_sub(ha, hb)


def _register(subtypes: list[SubType], ids: list[int]) -> None:
    """Record the kind and the supertypes of a module's types in the registry."""
    for st, tid in zip(subtypes, ids):
        if tid not in KINDS:
            if st.supertypes:
                sup = ids[st.supertypes[0]]
                SUPERS[tid] = frozenset((sup,)) | SUPERS.get(sup, frozenset())
            KINDS[tid] = comp_kind(st.comp)


def type_keys(rectypes: list[RecType]) -> list[Hashable]:
    """One canonical key per type index (equal keys = the same type, across modules)."""
    return list(_canonical_keys(rectypes))


def functype_id(ft: FuncType) -> int:
    """Canonical type id of a stand-alone (final) function type (host functions).

    Its types must not name type indices (there is no module to resolve them in).
    """
    key = type_keys([RecType((SubType(ft, True, ()),))])[0]
    tid = canonical_type_id(("func", key))
    if tid not in KINDS:
        KINDS[tid] = AbsHeap.FUNC
    return tid


class ModuleEnv:
    """Index spaces and canonical type ids of one module.

    Type ids come from the validator's canonical type keys (see
    :func:`type_keys`); ``info`` (the validator's ``ModuleInfo``) is kept
    for callers that have it. ``fuel``/``epochs``: what the engine's config
    asks the compiler to instrument.
    """

    def __init__(self, module: Module, info: object | None = None, *, fuel: bool = False,
                 epochs: bool = False) -> None:
        self.module = module
        #: compile fuel accounting / epoch checks in (Config.consume_fuel,
        #: Config.epoch_interruption; see wasmbox.exec.interrupt)
        self.fuel = fuel
        self.epochs = epochs
        self.subtypes = subtypes = flatten_types(module.types)
        self.types: list[FuncType | None] = [
            st.comp if isinstance(st.comp, FuncType) else None for st in subtypes
        ]
        self.info = info
        self.type_keys: list[Hashable] = type_keys(module.types)
        self.type_ids: list[int] = [canonical_type_id(("func", k)) for k in self.type_keys]
        _register(subtypes, self.type_ids)
        #: per type index: whether it is final (no other type can be a strict subtype)
        self.type_final: list[bool] = [st.final for st in subtypes]

        self.func_type_idx: list[int] = []
        #: per tag index (imports first): its function type index
        self.tag_type_idx: list[int] = []
        self.globals: list[GlobalType] = []
        self.tables: list[TableType] = []
        self.mems: list[MemType] = []
        for imp in module.imports:
            if imp.kind is ExternKind.FUNC:
                self.func_type_idx.append(imp.desc)  # type: ignore[arg-type]
            elif imp.kind is ExternKind.GLOBAL:
                self.globals.append(imp.desc)  # type: ignore[arg-type]
            elif imp.kind is ExternKind.TABLE:
                self.tables.append(imp.desc)  # type: ignore[arg-type]
            elif imp.kind is ExternKind.MEM:
                self.mems.append(imp.desc)  # type: ignore[arg-type]
            elif imp.kind is ExternKind.TAG:
                self.tag_type_idx.append(imp.desc.type_index)  # type: ignore[union-attr]
        self.n_imported_funcs = len(self.func_type_idx)
        self.n_imported_globals = len(self.globals)
        self.n_imported_tables = len(self.tables)
        self.n_imported_mems = len(self.mems)
        self.n_imported_tags = len(self.tag_type_idx)
        self.tag_type_idx.extend(t.type.type_index for t in module.tags)
        self.func_type_idx.extend(f.type_index for f in module.funcs)
        self.globals.extend(g.type for g in module.globals)
        self.tables.extend(t.type for t in module.tables)
        self.mems.extend(m.type for m in module.mems)
        self.func_types: list[FuncType] = [self.functype(i) for i in self.func_type_idx]

    def functype(self, type_index: int) -> FuncType:
        """The function type at a type index; raises ValidationError if it is not one."""
        if not 0 <= type_index < len(self.types) or self.types[type_index] is None:
            raise ValidationError(f"unknown type {type_index}")
        return self.types[type_index]  # type: ignore[return-value]

    def tag_type(self, tag_index: int) -> FuncType:
        """The function type of a tag (its payload's types are the params)."""
        return self.functype(self.tag_type_idx[tag_index])

    def cont_functype(self, type_index: int) -> FuncType:
        """The function type of continuation type ``type_index`` (``(cont $ft)``).

        Raises ValidationError if it is not a continuation type.
        """
        c = self.subtypes[type_index].comp if 0 <= type_index < len(self.subtypes) else None
        if not isinstance(c, ContType):
            raise ValidationError(f"non-continuation type {type_index}")
        return self.functype(c.type_index)

    def func_tid(self, func_index: int) -> int:
        """Canonical type id of a function."""
        return self.type_ids[self.func_type_idx[func_index]]

    def block_arity(self, bt: object) -> tuple[int, int]:
        """(number of params, number of results) of a block type."""
        if bt is None:
            return 0, 0
        if isinstance(bt, int) and not isinstance(bt, bool):
            ft = self.functype(bt)
            return len(ft.params), len(ft.results)
        return 0, 1
