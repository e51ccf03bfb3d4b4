"""Validation of a whole module: index spaces, segments, start, exports, bodies.

The order of checks follows the reference interpreter (types, imports,
tables, memories, globals, element and data segments, function bodies,
start, exports), so that a module with one problem reports the same message.

Raises :class:`~wasmbox.errors.ValidationError` for an invalid module and
:class:`~wasmbox.errors.UnsupportedFeature` for a construct of a proposal
beyond Wasm 2.0 that is not implemented (see ``features.py``).
"""
from __future__ import annotations

from ..errors import ValidationError
from ..syntax.module import Expr, ExternKind, Module
from ..syntax.types import (
    I32, I64, AddrType, ContType, GlobalType, MemType, TableType, flatten_types,
)
from .const import validate_const
from .context import ModuleInfo
from .exceptions import check_tag
from .features import stack_switching_disabled, unsupported
from .instructions import validate_function
from .types import (
    canonical_keys,
    check_elem_type,
    check_memtype,
    check_rectype,
    check_tabletype,
    check_valtype,
    defaultable,
    types_text,
)

_ELEM_MODES = ("active", "passive", "declarative")
_DATA_MODES = ("active", "passive")


def _declared_refs(m: Module) -> frozenset[int]:
    """C.refs: function indices named outside function bodies and the start function."""
    exprs: list[Expr] = [g.init for g in m.globals]
    exprs.extend(t.init for t in m.tables if t.init is not None)
    for e in m.elems:
        exprs.extend(e.init)
        if e.offset is not None:
            exprs.append(e.offset)
    exprs.extend(d.offset for d in m.datas if d.offset is not None)
    refs = {imm[0] for ex in exprs for op, imm in ex if op == "ref.func"}
    refs.update(x.index for x in m.exports if x.kind is ExternKind.FUNC)
    return frozenset(refs)


def _build_info(m: Module, stack_switching: bool) -> ModuleInfo:
    """The context C: every index space with its types checked (not yet the code)."""
    types = flatten_types(m.types)
    ntypes = len(types)
    info = ModuleInfo(types=types, type_keys=canonical_keys(m.types),
                      stack_switching=stack_switching)
    if not stack_switching and any(isinstance(st.comp, ContType) for st in types):
        raise stack_switching_disabled("continuation type")
    first = 0
    for r in m.types:
        check_rectype(r, first, info.space)
        first += len(r.subtypes)

    func_idx: list[int] = []
    tables: list[TableType] = []
    mems: list[MemType] = []
    globals_: list[GlobalType] = []
    tags: list[int] = []
    info.tags = tags
    for imp in m.imports:
        k = imp.kind
        d = imp.desc
        if k is ExternKind.FUNC:
            if not isinstance(d, int):
                raise ValidationError(f"malformed function import {imp.module}.{imp.name}")
            info.func_type(d)
            func_idx.append(d)
        elif k is ExternKind.TABLE:
            if not isinstance(d, TableType):
                raise ValidationError(f"malformed table import {imp.module}.{imp.name}")
            check_tabletype(d, ntypes)
            tables.append(d)
        elif k is ExternKind.MEM:
            if not isinstance(d, MemType):
                raise ValidationError(f"malformed memory import {imp.module}.{imp.name}")
            check_memtype(d)
            mems.append(d)
        elif k is ExternKind.GLOBAL:
            if not isinstance(d, GlobalType):
                raise ValidationError(f"malformed global import {imp.module}.{imp.name}")
            check_valtype(d.val, ntypes)
            globals_.append(d)
        elif k is ExternKind.TAG:
            tags.append(check_tag(info, d))
        else:
            raise ValidationError(f"malformed import kind of {imp.module}.{imp.name}")
    info.num_imported_tags = len(tags)
    info.num_imported_funcs = len(func_idx)
    info.num_imported_tables = len(tables)
    info.num_imported_mems = len(mems)
    info.num_imported_globals = len(globals_)

    for f in m.funcs:
        info.func_type(f.type_index)
        func_idx.append(f.type_index)
    for t in m.tables:
        check_tabletype(t.type, ntypes)
        if t.init is None and not defaultable(t.type.elem):
            raise ValidationError(
                f"type mismatch: a table of {types_text([t.type.elem])} needs an initialiser"
            )
        tables.append(t.type)
    for mem in m.mems:
        check_memtype(mem.type)
        mems.append(mem.type)
    for tag in m.tags:
        tags.append(check_tag(info, tag.type))
    for g in m.globals:
        check_valtype(g.type.val, ntypes)
        globals_.append(g.type)

    info.func_type_indices = func_idx
    info.func_types = [info.func_type(x) for x in func_idx]
    info.tables = tables
    info.mems = mems
    info.globals = globals_
    info.elem_types = [e.type for e in m.elems]
    info.num_datas = len(m.datas)
    info.refs = _declared_refs(m)
    return info


def _check_segments(m: Module, info: ModuleInfo) -> None:
    ntypes = len(info.types)
    nig = info.num_imported_globals
    for i, g in enumerate(m.globals):
        validate_const(info, g.init, g.type.val, nig + i)
    for t in m.tables:
        if t.init is not None:
            # tables come before globals: only imported ones are visible
            validate_const(info, t.init, t.type.elem, nig)
    for e in m.elems:
        check_elem_type(e.type, ntypes)
        for ex in e.init:
            validate_const(info, ex, e.type)
        if e.mode not in _ELEM_MODES:
            raise ValidationError(f"malformed element segment mode {e.mode!r}")
        if e.mode == "active":
            tt = info.table(e.table)
            if e.offset is None:
                raise ValidationError("malformed active element segment without offset")
            validate_const(info, e.offset, I64 if tt.limits.addr is AddrType.I64 else I32)
            if not info.space.match_valtype(e.type, tt.elem):
                raise ValidationError(
                    f"type mismatch: element segment of {types_text([e.type])} "
                    f"for a table of {types_text([tt.elem])}"
                )
    for d in m.datas:
        if d.mode not in _DATA_MODES:
            raise ValidationError(f"malformed data segment mode {d.mode!r}")
        if d.mode == "active":
            mt = info.mem(d.mem)
            if d.offset is None:
                raise ValidationError("malformed active data segment without offset")
            validate_const(info, d.offset, I64 if mt.limits.addr is AddrType.I64 else I32)


def _check_exports(m: Module, info: ModuleInfo) -> None:
    seen: set[str] = set()
    for x in m.exports:
        if x.name in seen:
            raise ValidationError(f"duplicate export name {x.name!r}")
        seen.add(x.name)
        k = x.kind
        if k is ExternKind.FUNC:
            info.func(x.index)
        elif k is ExternKind.TABLE:
            info.table(x.index)
        elif k is ExternKind.MEM:
            info.mem(x.index)
        elif k is ExternKind.GLOBAL:
            info.global_(x.index)
        elif k is ExternKind.TAG:
            info.tag(x.index)
        else:
            raise ValidationError(f"malformed export kind of {x.name!r}")


def validate_module(m: Module, *, stack_switching: bool = False) -> ModuleInfo:
    """Validate ``m`` (Wasm 2.0 plus multiple memories, memory64/table64, custom
    page sizes, extended constants, the Wasm 3.0 type system and typed
    function references; see ``features.py``).

    Returns the :class:`ModuleInfo` later stages use. Raises ValidationError
    with a message that starts with the spec test suite's text, or
    UnsupportedFeature("<feature>: <construct>") for proposals not implemented.
    ``stack_switching`` enables the stack-switching proposal (continuation
    types and instructions, tags with results; ``Config.wasm_stack_switching``).
    """
    try:
        info = _build_info(m, stack_switching)
        _check_segments(m, info)
        base = info.num_imported_funcs
        info.max_stack = [validate_function(info, base + i, f) for i, f in enumerate(m.funcs)]
        if m.start is not None:
            ft = info.func(m.start)
            if ft.params or ft.results:
                raise ValidationError(f"start function must have type [] -> [], not {ft!r}")
        _check_exports(m, info)
    except (TypeError, ValueError, IndexError, AttributeError, KeyError) as e:
        # a hand-built Module whose fields have the wrong shape
        raise ValidationError(f"malformed module structure: {type(e).__name__}: {e}") from None
    return info
