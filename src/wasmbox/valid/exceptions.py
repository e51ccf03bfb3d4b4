"""Validation of exception handling: tags, ``throw``, ``throw_ref``, ``try_table``,
and the legacy ``try``/``catch``/``catch_all``/``delegate``/``rethrow``.

The rules register into the instruction validator's rule table
(:mod:`wasmbox.valid.instructions` imports this module at its end), so the
operand-stack algorithm stays in one place.

* A tag's type index names a function type with no results
  ("non-empty tag result type").
* ``throw x`` pops the tag's parameters; ``throw_ref`` pops an ``exnref``;
  both make the rest of the block unreachable.
* ``try_table bt catch*`` is a block whose clauses branch to labels of the
  *enclosing* context, carrying: ``catch x`` the tag's parameters,
  ``catch_ref x`` those plus ``(ref exn)``, ``catch_all`` nothing,
  ``catch_all_ref`` ``(ref exn)``, each checked against the label's types
  with subtyping.
* Legacy: ``try bt`` opens a frame of kind ``try``; ``catch x`` and
  ``catch_all`` close the previous part and open a ``catch``/``catch_all``
  frame whose operands start with the tag's parameters; ``delegate l``
  closes a ``try`` (no catch) and names a label of the enclosing context;
  ``rethrow l`` must name a ``catch``/``catch_all`` frame ("invalid rethrow
  label").

Raises :class:`~wasmbox.errors.ValidationError` with the spec scripts'
messages ("unknown tag N", "type mismatch: ...", "invalid rethrow label",
"non-empty tag result type").
"""
from __future__ import annotations

from typing import Any

from ..errors import ValidationError
from ..syntax.module import Catch
from ..syntax.types import EXNREF, AbsHeap, RefType, TagType, ValType
from .context import ModuleInfo
from .instructions import FuncValidator, _rule
from .types import types_text

#: ``(ref exn)``: what catch_ref / catch_all_ref give the label
EXN_NONNULL = RefType(False, AbsHeap.EXN)
_EXNREF_1: tuple[ValType, ...] = (EXNREF,)


def check_tag(info: ModuleInfo, tt: Any) -> int:
    """Check a tag type (defined or imported); return its function type index.

    Raises ValidationError ("unknown type N", "non-empty tag result type"
    unless stack switching is enabled: its tags may have results).
    """
    if not isinstance(tt, TagType):
        raise ValidationError(f"malformed tag type {tt!r}")
    ft = info.func_type(tt.type_index)
    if ft.results and not info.stack_switching:  # suspend tags have results
        raise ValidationError(f"non-empty tag result type {types_text(ft.results)}")
    return tt.type_index


def catch_types(v: FuncValidator, c: Catch) -> tuple[ValType, ...]:
    """The values a try_table clause passes to its label. Raises ValidationError."""
    kind = c.kind
    if kind == "catch":
        return v.info.tag(c.tag).params  # type: ignore[arg-type]
    if kind == "catch_ref":
        return v.info.tag(c.tag).params + (EXN_NONNULL,)  # type: ignore[arg-type]
    if kind == "catch_all":
        return ()
    if kind == "catch_all_ref":
        return (EXN_NONNULL,)
    raise ValidationError(f"malformed catch clause {kind!r}")


@_rule("throw")
def _throw(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    v.pop_vals(v.info.tag(imm[0]).params)
    v.set_unreachable()


@_rule("throw_ref")
def _throw_ref(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    v.pop_vals(_EXNREF_1)
    v.set_unreachable()


@_rule("try_table")
def _try_table(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    bt, catches = imm
    params, results = v.block_type(bt)
    match = v.space.match_valtype
    for c in catches:
        given = catch_types(v, c)
        want = v.label(c.label)  # a label of the context outside the try_table
        if len(given) != len(want) or not all(match(a, b) for a, b in zip(given, want)):
            raise ValidationError(
                f"type mismatch: {c.kind} gives {types_text(given)} "
                f"but label {c.label} requires {types_text(want)}"
            )
    v.pop_vals(params)
    v.push_ctrl("try_table", params, results)


# -- legacy exception handling ------------------------------------------------


@_rule("try")
def _try(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    params, results = v.block_type(imm[0])
    v.pop_vals(params)
    v.push_ctrl("try", params, results)


@_rule("catch")
def _catch(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    frame = v.ctrls[-1]
    if frame.kind not in ("try", "catch"):
        raise ValidationError("catch without matching try")
    params = v.info.tag(imm[0]).params
    v.pop_ctrl()
    v.push_ctrl("catch", params, frame.end)


@_rule("catch_all")
def _catch_all(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    frame = v.ctrls[-1]
    if frame.kind not in ("try", "catch"):
        raise ValidationError("catch_all without matching try")
    v.pop_ctrl()
    v.push_ctrl("catch_all", (), frame.end)


@_rule("delegate")
def _delegate(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    frame = v.ctrls[-1]
    if frame.kind != "try":
        raise ValidationError("delegate without matching try")
    v.pop_ctrl()
    v.label(imm[0])  # a label of the context outside the try: "unknown label"
    v.vals.extend(frame.end)


@_rule("rethrow")
def _rethrow(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    depth = imm[0]
    v.label(depth)  # "unknown label" when out of range
    if v.ctrls[-1 - depth].kind not in ("catch", "catch_all"):
        raise ValidationError(f"invalid rethrow label {depth}")
    v.set_unreachable()
