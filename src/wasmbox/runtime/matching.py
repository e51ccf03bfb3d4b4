"""Import matching: is an external value of the type an import asks for?

The Wasm 3.0 rules (extern type matching), with types compared in their
canonical form (type indices replaced by process-wide canonical ids, see
:mod:`wasmbox.exec.env`), so that items from other modules compare in
O(1) or O(depth of the subtype chain):

* a function matches when its type is the import's type or a declared
  subtype of it (:func:`~wasmbox.exec.env.tid_matches`);
* a table when its element type is equivalent and its limits match;
* a memory when its address type and page size are the same and its limits match;
* a global when its mutability is the same and its value type is a subtype
  (immutable) or equivalent (mutable);
* a tag when its type is equivalent (the same canonical id).

Raises :class:`~wasmbox.errors.LinkError` whose message follows the spec's
phrase: ``incompatible import type for "m" "f": expected (func (param i32)),
found (func)``; :class:`TypeError` for an item that is not an external
value; :class:`~wasmbox.errors.WasmboxError` for one of another store;
:class:`~wasmbox.errors.UnsupportedFeature` for import kinds not supported.
"""
from __future__ import annotations

from typing import Any

from ..errors import LinkError, UnsupportedFeature, WasmboxError
from ..exec.env import match_canon, tid_matches
from ..syntax import module as sm
from ..syntax import types as st
from ..valid.types import type_text
from .func import Func
from .global_ import Global
from .memory import Memory
from .table import Table
from .tag import Tag


def limits_match(actual_min: int, actual_max: int | None, want: st.Limits) -> bool:
    """Whether limits [actual_min, actual_max] lie within ``want``."""
    if actual_min < want.min:
        return False
    if want.max is not None:
        return actual_max is not None and actual_max <= want.max
    return True


# ---------------------------------------------------------------- texts
def _vals(kw: str, ts: Any) -> str:
    return f" ({kw} {' '.join(type_text(t) for t in ts)})" if ts else ""


def func_text(ft: st.FuncType) -> str:
    """``(func (param i32) (result i32))``."""
    return f"(func{_vals('param', ft.params)}{_vals('result', ft.results)})"


def tag_text(ft: st.FuncType) -> str:
    """``(tag (param i32))``."""
    return "(tag" + _vals("param", ft.params) + ")"


def _limits_text(lim_min: int, lim_max: int | None, addr: st.AddrType) -> str:
    a = "i64 " if addr is st.AddrType.I64 else ""
    return f"{a}{lim_min}" + ("" if lim_max is None else f" {lim_max}")


def global_text(gt: st.GlobalType) -> str:
    """``(global (mut i32))``."""
    t = type_text(gt.val)
    return f"(global {'(mut ' + t + ')' if gt.mutable else t})"


def table_text(size: int, tt: st.TableType) -> str:
    """``(table 10 20 funcref)``."""
    return f"(table {_limits_text(size, tt.limits.max, tt.limits.addr)} {type_text(tt.elem)})"


def memory_text(pages: int, mt: st.MemType) -> str:
    """``(memory 2 4)`` (with its page size when not 64 KiB)."""
    ps = "" if mt.page_size_log2 is None else f" (pagesize {1 << mt.page_size_log2})"
    return f"(memory {_limits_text(pages, mt.limits.max, mt.limits.addr)}{ps})"


def item_text(item: Any) -> str:
    """The type of an external value as the text format writes it."""
    if isinstance(item, Func):
        return func_text(item._ft)
    if isinstance(item, Global):
        return global_text(item._type)
    if isinstance(item, Table):
        return table_text(len(item.elems), item._type)
    if isinstance(item, Memory):
        return memory_text(item.current_pages, item._type)
    if isinstance(item, Tag):
        return tag_text(item._ft)
    return type(item).__name__


def import_text(imp: sm.Import) -> str:
    """The type an import declares, as the text format writes it."""
    d = imp.desc
    k = imp.kind
    if k is sm.ExternKind.FUNC:
        return f"(func (type {d}))"
    if k is sm.ExternKind.GLOBAL:
        return global_text(d)  # type: ignore[arg-type]
    if k is sm.ExternKind.TABLE:
        return table_text(d.limits.min, d)  # type: ignore[union-attr,arg-type]
    if k is sm.ExternKind.MEM:
        return memory_text(d.limits.min, d)  # type: ignore[union-attr,arg-type]
    if k is sm.ExternKind.TAG:
        return f"(tag (type {d.type_index}))"  # type: ignore[union-attr]
    return k.text


# ---------------------------------------------------------------- the check
def check_import(env: Any, imp: sm.Import, want: Any, item: Any, store: Any) -> None:
    """Check one import (see the module docstring).

    ``env`` is the importing module's :class:`~wasmbox.exec.env.ModuleEnv`,
    ``want`` the import's canonical type (a type id for a function or a tag,
    a canonical value type for a global or the element type of a table,
    None for a memory).
    """
    if not isinstance(item, (Func, Memory, Table, Global, Tag)):
        raise TypeError(f"import `{imp.module}::{imp.name}`: expected a Func, Memory, Table, "
                        f"Global or Tag, got {type(item).__name__}")
    if getattr(item, "_store", store) is not store:
        raise WasmboxError(f"import `{imp.module}::{imp.name}` belongs to another store")
    kind = imp.kind
    if kind is sm.ExternKind.FUNC:
        ok = isinstance(item, Func) and (item.tid == want or tid_matches(item.tid, want))
    elif kind is sm.ExternKind.TABLE:
        wt: st.TableType = imp.desc  # type: ignore[assignment]
        ok = isinstance(item, Table) and item._ct == want and \
            item._type.limits.addr is wt.limits.addr and \
            limits_match(len(item.elems), item._type.limits.max, wt.limits)
    elif kind is sm.ExternKind.MEM:
        wm: st.MemType = imp.desc  # type: ignore[assignment]
        ok = isinstance(item, Memory) and item._type.limits.addr is wm.limits.addr and \
            item.page_shift == wm.page_shift and \
            limits_match(item.current_pages, item._type.limits.max, wm.limits)
    elif kind is sm.ExternKind.GLOBAL:
        wg: st.GlobalType = imp.desc  # type: ignore[assignment]
        ok = isinstance(item, Global) and item._type.mutable is wg.mutable and (
            item._ct == want if wg.mutable else match_canon(item._ct, want))
    elif kind is sm.ExternKind.TAG:
        ok = isinstance(item, Tag) and item.tid == want
    else:
        raise UnsupportedFeature(f"imports of kind {kind.text} are not supported")
    if not ok:
        if kind is sm.ExternKind.FUNC:
            expected = func_text(env.functype(imp.desc))
        elif kind is sm.ExternKind.TAG:
            expected = tag_text(env.functype(imp.desc.type_index))  # type: ignore[union-attr]
        else:
            expected = import_text(imp)
        raise LinkError(f'incompatible import type for "{imp.module}" "{imp.name}": '
                        f"expected {expected}, found {item_text(item)}")
