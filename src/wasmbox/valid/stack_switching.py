"""Validation of stack switching: ``cont.new``, ``cont.bind``, ``suspend``,
``resume``, ``resume_throw``, ``resume_throw_ref`` and ``switch``.

The rules register into the instruction validator's rule table
(:mod:`wasmbox.valid.instructions` imports this module at its end). ``$ct``
below is a continuation type ``(cont $ft)``, ``$ft = [t1*] -> [t2*]``:

* ``cont.new $ct : [(ref null $ft)] -> [(ref $ct)]``.
* ``cont.bind $ct $ct2 : [t1a* (ref null $ct)] -> [(ref $ct2)]``: binds the
  first parameters of ``$ct``; what is left, ``[t1b*] -> [t2*]``, must be a
  subtype of ``$ct2``'s function type.
* ``suspend $e : [te1*] -> [te2*]``, the tag's own type.
* ``resume $ct hdl* : [t1* (ref null $ct)] -> [t2*]``; ``resume_throw $ct $e
  hdl*`` takes the tag's parameters instead of ``t1*``,
  ``resume_throw_ref $ct hdl*`` an ``exnref``.
* A handler ``(on $e $l)`` passes the tag's parameters and a continuation to
  label ``$l``: the label must take ``[te1* (ref null? $ct')]`` where
  ``[te2*] -> [t2*]`` matches ``$ct'``'s function type. ``(on $e switch)``
  needs a tag without parameters.
* ``switch $ct $e : [t1a* (ref null $ct)] -> [t2'*]`` where ``$ct``'s last
  parameter is ``(ref null? $ct')``, ``$ct' = cont [t2'*] -> [tr*]``, and the
  tag ``$e : [] -> [te*]`` has ``t2* <: te*`` and ``te* <: tr*``.

Raises :class:`~wasmbox.errors.ValidationError` with the proposal scripts'
messages ("non-continuation type N", "unknown tag N", "type mismatch ...").
"""
from __future__ import annotations

from typing import Any

from ..errors import ValidationError
from ..syntax.types import EXNREF, AbsHeap, ContType, FuncType, RefType, ValType
from .features import stack_switching_disabled
from .instructions import UNSUPPORTED_CHECKS, FuncValidator, _rule
from .types import types_text


def cont_type(v: FuncValidator, x: int) -> FuncType:
    """The function type of continuation type x.

    Raises ValidationError ("unknown type x", "non-continuation type x").
    """
    _enabled(v, "continuation instruction")
    c = v.info.type(x).comp
    if not isinstance(c, ContType):
        raise ValidationError(f"non-continuation type {x}")
    return v.info.func_type(c.type_index)


def _enabled(v: FuncValidator, what: str) -> None:
    if not v.info.stack_switching:
        raise stack_switching_disabled(what)


def _cont_of_ref(v: FuncValidator, t: Any) -> FuncType | None:
    """The function type of the continuation type a reference type names, if it names one."""
    if isinstance(t, RefType) and isinstance(t.heap, int):
        c = v.info.types[t.heap].comp
        if isinstance(c, ContType):
            return v.info.func_type(c.type_index)
    return None


def _mismatch(what: str) -> ValidationError:
    return ValidationError(f"type mismatch: {what}")


def check_handlers(v: FuncValidator, results: tuple[ValType, ...], handlers: Any) -> None:
    """Check a resume's handler clauses; ``results`` are the continuation's results.

    Raises ValidationError ("unknown tag", "unknown label", "type mismatch ...").
    """
    space = v.space
    for h in handlers:
        tag, label = h
        te = v.info.tag(tag)
        if label is None:  # (on $e switch)
            if te.params:
                raise _mismatch(f"the tag of a switch handler takes {types_text(te.params)}")
            continue
        lt = v.label(label)
        if not lt:
            raise _mismatch(f"handler label takes no continuation, has {types_text(lt)}")
        last = lt[-1]
        if isinstance(last, RefType) and isinstance(last.heap, int):
            c = v.info.types[last.heap].comp
            if not isinstance(c, ContType):
                raise ValidationError(f"non-continuation type {last.heap}")
        ft2 = _cont_of_ref(v, last)
        if ft2 is None:
            raise _mismatch("instruction requires concrete continuation reference type "
                            f"but label has {types_text(lt[-1:])}")
        if not space.match_types(te.params, lt[:-1]) or \
                not space.match_comp(FuncType(te.results, results), ft2):
            raise _mismatch(f"handler label takes {types_text(lt)}, the tag gives "
                            f"{types_text(te.params)} and a continuation of "
                            f"{types_text(te.results)} -> {types_text(results)}")


@_rule("cont.new")
def _cont_new(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    x = imm[0]
    cont_type(v, x)
    c = v.info.types[x].comp
    v.pop_vals((RefType(True, c.type_index),))  # type: ignore[union-attr]
    v.vals.append(RefType(False, x))


@_rule("cont.bind")
def _cont_bind(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    x, y = imm
    fx = cont_type(v, x)
    fy = cont_type(v, y)
    n, m = len(fx.params), len(fy.params)
    if n < m:
        raise _mismatch(f"cont.bind to a continuation of more parameters ({m} > {n})")
    bound, rest = fx.params[:n - m], fx.params[n - m:]
    if not v.space.match_comp(FuncType(rest, fx.results), fy):
        raise _mismatch("cont.bind: the remaining parameters and results do not match "
                        f"{types_text(fy.params)} -> {types_text(fy.results)}")
    v.pop_vals(bound + (RefType(True, x),))
    v.vals.append(RefType(False, y))


@_rule("suspend")
def _suspend(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    _enabled(v, "suspend")
    te = v.info.tag(imm[0])
    v.pop_vals(te.params)
    v.vals.extend(te.results)


def _resume_rule(operands: Any) -> Any:
    """The rule of a resume form; ``operands(v, imm, ft)`` gives what it takes
    below the continuation (its parameters, a tag's, or an exnref)."""
    def rule(v: FuncValidator, imm: tuple[Any, ...]) -> None:
        x, handlers = imm[0], imm[-1]
        ft = cont_type(v, x)
        takes = operands(v, imm, ft)
        check_handlers(v, ft.results, handlers)
        v.pop_vals(takes + (RefType(True, x),))
        v.vals.extend(ft.results)
    return rule


_rule("resume")(_resume_rule(lambda v, imm, ft: ft.params))
_rule("resume_throw")(_resume_rule(lambda v, imm, ft: v.info.tag(imm[1]).params))
_rule("resume_throw_ref")(_resume_rule(lambda v, imm, ft: (EXNREF,)))


@_rule("switch")
def _switch(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    x, tag = imm
    ft = cont_type(v, x)
    inner = _cont_of_ref(v, ft.params[-1]) if ft.params else None
    if inner is None:
        raise _mismatch("switch: the continuation's last parameter must be a continuation")
    te = v.info.tag(tag)
    if te.params:
        raise ValidationError(f"type mismatch in switch tag: it takes {types_text(te.params)}")
    space = v.space
    if not space.match_types(ft.results, te.results) or \
            not space.match_types(te.results, inner.results):
        raise _mismatch("switch: the tag's results must match both continuations' results")
    v.pop_vals(ft.params[:-1] + (RefType(True, x),))
    v.vals.extend(inner.params)


def _no_cont_cast(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    """Continuations cannot be cast: ``ref.test``/``ref.cast``/``br_on_cast*``
    to or from a continuation type are invalid ("invalid cast"), which holds
    whether or not the GC instructions are implemented."""
    for h in (imm[2:] if len(imm) == 4 else imm):  # br_on_cast*: flags, label, heap, heap
        if isinstance(h, AbsHeap):
            if h in (AbsHeap.CONT, AbsHeap.NOCONT):
                raise ValidationError("invalid cast")
        elif isinstance(h, int) and not isinstance(h, bool) and 0 <= h < len(v.info.types) \
                and isinstance(v.info.types[h].comp, ContType):
            raise ValidationError("invalid cast")


for _op in ("ref.test", "ref.test_null", "ref.cast", "ref.cast_null", "br_on_cast",
            "br_on_cast_fail"):
    UNSUPPORTED_CHECKS[_op] = _no_cont_cast
