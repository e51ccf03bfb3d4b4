"""From a flat instruction list to a tree of structured control constructs.

:func:`build_tree` turns a function body into a :class:`Ctl` tree:
``block``/``loop``/``if`` become :class:`Ctl` nodes holding their bodies;
branch instructions become :class:`Br` nodes whose targets are resolved to
the :class:`Ctl` they leave (the function itself is the outermost ``Ctl``,
kind ``"func"``: a branch to it is a return). Every other instruction stays
an :class:`~wasmbox.syntax.Instr`.

Dead code (anything after ``br``, ``br_table``, ``return``, a tail call or
``unreachable`` up to the end of the enclosing construct, or to its
``else``) is dropped here, so later stages never see polymorphic stacks.

Each ``Ctl`` records ``targeted``: whether any live branch leaves it. A
block or loop that no branch targets needs no label at all.

:func:`if_nesting` is a quick look at a body before any of that: how deeply
its ``if`` constructs nest (each one is a Python scope in the structured
translation).

Raises :class:`~wasmbox.errors.ValidationError` for a body whose structure is
broken (never for a validated module).
"""
from __future__ import annotations

from typing import Any

from ..errors import ValidationError
from ..syntax.module import Instr
from .env import ModuleEnv
from .exn_structure import EXN_PARTS, exn_structure

UNCONDITIONAL = frozenset({"br", "br_table", "return", "unreachable", "throw", "throw_ref",
                           "rethrow", "return_call", "return_call_indirect", "return_call_ref"})
OPENERS = frozenset({"block", "loop", "if"})
TRY_OPENERS = frozenset({"try", "try_table"})
#: stack switching: a resume branches to its handlers' labels when the continuation suspends
RESUMES = frozenset({"resume", "resume_throw", "resume_throw_ref"})
#: instructions that branch to a label (the conditional ones fall through too)
BRANCHES = frozenset({"br", "br_if", "br_table", "br_on_null", "br_on_non_null"})


class Ctl:
    """A structured construct: ``func``, ``block``, ``loop`` or ``if``.

    ``start``/``else_pos``/``end`` are instruction positions in the flat
    body (the function node has start -1 and end = len(body)).
    """

    __slots__ = (
        "kind", "bt", "nparams", "nresults", "body", "else_body",
        "start", "else_pos", "end", "targeted", "parent",
        # exception handling (see exec/exceptions.py): the handler context
        # of the construct's position, its own context id (try_table/try),
        # the clauses, where a legacy delegate sends what it catches, and
        # whether a delegate targets this construct's context
        "hctx", "hid", "catches", "in_catch", "delegate", "dg_target", "ntry",
    )

    def __init__(self, kind: str, bt: Any, nparams: int, nresults: int, start: int,
                 parent: "Ctl | None") -> None:
        self.kind = kind
        self.bt = bt
        self.nparams = nparams
        self.nresults = nresults
        self.body: list[Any] = []
        self.else_body: list[Any] | None = None
        self.start = start
        self.else_pos = -1
        self.end = -1
        self.targeted = False
        self.parent = parent
        self.hctx = 0 if parent is None else parent.inner_ctx()
        self.hid = 0
        self.catches: list[Any] = []
        self.in_catch = False
        self.delegate: int | None = None
        self.dg_target = False
        self.ntry = 0  # the function node: how many handler contexts it has

    def inner_ctx(self) -> int:
        """The handler context of code directly inside this construct (0: none)."""
        if self.hid and not self.in_catch:
            return self.hid
        return self.hctx

    def current_body(self) -> list[Any]:
        """The item list being filled: the body, the else arm or the last catch."""
        if self.kind == "if" and self.else_body is not None:
            return self.else_body
        if self.in_catch:
            return self.catches[-1].body
        return self.body

    @property
    def branch_arity(self) -> int:
        """Number of values a branch to this construct carries."""
        return self.nparams if self.kind == "loop" else self.nresults

    def __repr__(self) -> str:
        return f"<{self.kind} {self.start}..{self.end}>"


def handlers_of(op: str, imm: tuple[Any, ...]) -> tuple[Any, ...]:
    """The handler clauses (:class:`~wasmbox.syntax.module.Handler`) of a resume's immediates."""
    return tuple(imm[2] if op == "resume_throw" else imm[1])


class Br:
    """A branch: ``op`` is br, br_if, br_table, br_on_null or br_on_non_null;
    ``targets`` the constructs left (for br_table: the table, then the
    default last). A ``resume`` (``resume_throw``, ``resume_throw_ref``) is
    a branch too: ``targets`` are the labels of its ``(on $t $l)`` clauses in
    order, and ``ins`` the instruction."""

    __slots__ = ("op", "targets", "pos", "ins")

    def __init__(self, op: str, targets: tuple[Ctl, ...], pos: int, ins: Instr | None = None) -> None:
        self.op = op
        self.targets = targets
        self.pos = pos
        self.ins = ins

    def __repr__(self) -> str:
        return f"<{self.op} {self.targets}>"


def build_tree(body: list[Instr], env: ModuleEnv, nresults: int) -> Ctl:
    """The construct tree of a function body (see the module docstring).

    Raises ValidationError if the nesting is broken.
    """
    func = Ctl("func", None, 0, nresults, -1, None)
    stack: list[Ctl] = [func]
    cur: list[Any] = func.body
    skip_depth = -1  # >= 0 while skipping dead code
    ntry = 0
    for pos, ins in enumerate(body):
        op = ins.op
        if skip_depth >= 0:
            if op in OPENERS or op in TRY_OPENERS:
                skip_depth += 1
                continue
            if op == "end" or op == "delegate":
                if skip_depth > 0:
                    skip_depth -= 1
                    continue
                skip_depth = -1
            elif skip_depth == 0 and op in ("else", "catch", "catch_all"):
                skip_depth = -1
            else:
                continue
        if op in TRY_OPENERS or op in EXN_PARTS:
            ntry = exn_structure(ins, pos, stack, env, ntry)
            cur = stack[-1].current_body()
            if op == "rethrow":
                skip_depth = 0
            continue
        if op in OPENERS:
            np_, nr = env.block_arity(ins.imm[0])
            c = Ctl(op, ins.imm[0], np_, nr, pos, stack[-1])
            cur.append(c)
            stack.append(c)
            cur = c.body
        elif op == "else":
            c = stack[-1]
            if c.kind != "if" or c.else_body is not None:
                raise ValidationError("else without if")
            c.else_pos = pos
            c.else_body = []
            cur = c.else_body
        elif op == "end":
            if len(stack) < 2:
                raise ValidationError("unexpected end")
            c = stack.pop()
            c.end = pos
            cur = stack[-1].current_body()
        elif op in BRANCHES:
            if op == "br_table":
                depths = tuple(ins.imm[0]) + (ins.imm[1],)
            else:
                depths = (ins.imm[0],)
            targets = []
            for d in depths:
                if not 0 <= d < len(stack):
                    raise ValidationError(f"unknown label {d}")
                t = stack[-1 - d]
                t.targeted = True
                targets.append(t)
            cur.append(Br(op, tuple(targets), pos))
            if op in UNCONDITIONAL:
                skip_depth = 0
        elif op in RESUMES:
            targets = []
            for h in handlers_of(op, ins.imm):
                if h.label is None:  # (on $t switch)
                    continue
                if not 0 <= h.label < len(stack):
                    raise ValidationError(f"unknown label {h.label}")
                t = stack[-1 - h.label]
                t.targeted = True
                targets.append(t)
            cur.append(Br(op, tuple(targets), pos, ins))
        else:
            cur.append(ins)
            if op in UNCONDITIONAL:
                skip_depth = 0
    if len(stack) != 1:
        raise ValidationError("unclosed block")
    func.end = len(body)
    func.ntry = ntry
    return func


def if_nesting(body: list[Instr]) -> int:
    """The deepest nesting of ``if`` constructs in a function body (dead code included).

    One pass over the opcodes, no tree. Raises nothing (a broken body gives
    a meaningless number; :func:`build_tree` reports it).
    """
    opens: list[bool] = []  # per open construct: is it an if
    depth = deepest = 0
    for ins in body:
        op = ins.op
        if op == "if":
            opens.append(True)
            depth += 1
            if depth > deepest:
                deepest = depth
        elif op in OPENERS or op in TRY_OPENERS:
            opens.append(False)
        elif op == "delegate" and opens:
            opens.pop()
        elif op == "end" and opens:
            if opens.pop():
                depth -= 1
    return deepest
