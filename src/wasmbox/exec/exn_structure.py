"""The construct tree's part of exception handling (see :mod:`wasmbox.exec.structure`).

:func:`exn_structure` handles the instructions that open, split or close an
exception-handling construct while :func:`~wasmbox.exec.structure.build_tree`
walks a body:

* ``try_table bt catch*`` becomes a :class:`~wasmbox.exec.structure.Ctl` of
  kind ``try_table`` whose ``catches`` are ``(kind, tag, target Ctl)``; the
  targets are labels of the context *outside* the try_table, marked
  ``targeted`` (they get labels like branch targets).
* legacy ``try`` becomes a Ctl of kind ``try``; each ``catch x`` /
  ``catch_all`` starts a :class:`LCatch` (its own body list) in ``catches``;
  ``delegate l`` closes the try and records in ``delegate`` the handler
  context that receives what it catches; ``rethrow l`` becomes
  ``Instr("rethrow", (try Ctl,))``.

Handler contexts: every try_table/try gets an id ``hid`` (1, 2, ... in
order of appearance, so an enclosing construct has a smaller id); a
construct's ``hctx`` is the context its position is in (0: no handler in
this function). Code in a legacy catch body is in the try's ``hctx``, not
its ``hid``: the try's handlers do not cover its catch bodies. A delegate
to label ``l`` hands the exception to the context of code directly inside
that label's construct (the caller when it is the function).

Raises :class:`~wasmbox.errors.ValidationError` for a broken structure
(never for a validated module).
"""
from __future__ import annotations

from typing import Any

from ..errors import ValidationError
from ..syntax.module import Instr
from .env import ModuleEnv

#: instructions handled here (besides the openers try / try_table)
EXN_PARTS = frozenset({"catch", "catch_all", "delegate", "rethrow"})


class LCatch:
    """One clause of a legacy try: ``tag`` (None for catch_all), its flat
    position, the try's Ctl, how many values the tag carries, and its body."""

    __slots__ = ("tag", "pos", "ctl", "nparams", "body")

    def __init__(self, tag: int | None, pos: int, ctl: Any, nparams: int) -> None:
        self.tag = tag
        self.pos = pos
        self.ctl = ctl
        self.nparams = nparams
        self.body: list[Any] = []

    def __repr__(self) -> str:
        return f"<catch {self.tag} at {self.pos}>"


def _target(stack: list[Any], depth: int) -> Any:
    if not 0 <= depth < len(stack):
        raise ValidationError(f"unknown label {depth}")
    return stack[-1 - depth]


def exn_structure(ins: Instr, pos: int, stack: list[Any], env: ModuleEnv, ntry: int) -> int:
    """Apply one exception-handling instruction to the construct stack.

    Returns the number of handler contexts made so far. Raises ValidationError.
    """
    from .structure import Ctl  # noqa: PLC0415 - structure imports this module

    op = ins.op
    if op == "try_table" or op == "try":
        bt = ins.imm[0]
        np_, nr = env.block_arity(bt)
        parent = stack[-1]
        c = Ctl(op, bt, np_, nr, pos, parent)
        if op == "try_table":
            for cl in ins.imm[1]:
                t = _target(stack, cl.label)
                t.targeted = True
                c.catches.append((cl.kind, cl.tag, t))
        ntry += 1
        c.hid = ntry
        parent.current_body().append(c)
        stack.append(c)
        return ntry
    if op == "catch" or op == "catch_all":
        c = stack[-1]
        if c.kind != "try":
            raise ValidationError(f"{op} without try")
        tag = ins.imm[0] if op == "catch" else None
        n = len(env.tag_type(tag).params) if tag is not None else 0
        c.catches.append(LCatch(tag, pos, c, n))
        c.in_catch = True
        return ntry
    if op == "delegate":
        if len(stack) < 2 or stack[-1].kind != "try" or stack[-1].in_catch:
            raise ValidationError("delegate without try")
        c = stack.pop()
        c.end = pos
        label = _target(stack, ins.imm[0])
        dctx = label.inner_ctx() if label.kind != "func" else 0
        c.delegate = dctx
        if dctx != c.hctx:  # it skips handlers: the receiver must know
            node = label
            while node is not None and not (node.hid == dctx and node.kind != "func"):
                node = node.parent
            (node if node is not None else stack[0]).dg_target = True
        return ntry
    # rethrow: the try whose catch body this is
    t = _target(stack, ins.imm[0])
    stack[-1].current_body().append(Instr("rethrow", (t,)))
    return ntry
