"""Exception handling in generated code: throw, try_table, legacy try/catch/delegate.

A Wasm exception is a Python exception: ``throw x`` is
``raise WX(TG<x>, (v1, ..., vn))`` (``WX``: :class:`~wasmbox.errors.Thrown`,
a :class:`~wasmbox.errors.WasmException`; ``TG<x>`` the tag instance
bound in the instance's globals). Its ``args`` are the tag and the raw
payload, and the exception object itself is the ``exnref`` value. Traps
(:class:`~wasmbox.errors.Trap` that are not WasmException, stack
exhaustion, fuel, interrupts, Python errors turned into traps at the
boundary) and exceptions of host functions that are not WasmException
(carried as ``HostError``) are never caught: handlers only name
``WXE`` (WasmException).

**Structured mode.** A try_table (or legacy try) is a *kept* construct, like
an ``if``: its body is a region of its own in a Python ``try:``, and the
handler ``except WXE as x<id>:`` tests the tag by identity
(``x<id>.args[0] is TG<x>``), puts the payload (and for ``*_ref`` the
exception, its traceback dropped) in the slots where the catch label
expects its values, and branches there with the same code as ``br``
(:meth:`~wasmbox.exec.control.ControlMixin.branch_to`): ``k = T`` and
fall out of the handler to the guards, ``continue``/``break`` for loops, or
``return``. Nothing matches: bare ``raise``. Legacy catch bodies are
regions inside the handler (so the try's own handlers do not cover them,
as the spec says); ``rethrow`` re-raises ``x<id>``. A ``delegate`` that
skips handlers raises ``DG(x, ctx)`` (:class:`~wasmbox.exec.support.Delegated`,
not a WasmException, so the handlers in between let it pass); the
construct whose context ``ctx`` is unwraps it, and a delegate to the
caller is unwrapped by a ``try`` around the whole body. CPython 3.11's
``try`` costs nothing when nothing is raised.

**Flat mode.** Every construct is dissolved, so the dispatch loop's body is
one ``try:`` and the local ``hx`` says which handler context the running
code is in (context ids: :mod:`wasmbox.exec.exn_structure`). Entering a
try body sets it, leaving one restores it, and any jump to a label of
another context sets it first. The handler is a chain over the contexts,
innermost (largest id) first: each tests its clauses, jumps to the catch
label with ``k = T; continue``, or passes the exception on to its parent
context (for a delegate: to the delegate's target) until ``raise``.

**Fuel.** ``try_table`` and ``try`` cost 1 (wasmtime's count), ``throw``
and ``throw_ref`` 1; everything pending is paid before anything that can
raise (calls already sync), so a handler starts with exact fuel and
nothing pending.

Raises :class:`~wasmbox.exec.control.NeedFlat` (internal) when a
construct cannot be structured.
"""
from __future__ import annotations

from typing import Any

from .control import Body, label_id
from .exn_structure import LCatch
from .stack import slot_entry
from .structure import Ctl

#: the flat-mode items of a dissolved try (see exec/control.py's _flatten)
TRY_ITEMS = frozenset({"tryopen", "tryend", "tryskip", "catchskip"})
#: kinds of Ctl this module emits
TRY_KINDS = frozenset({"try_table", "try"})


class ExceptionMixin:
    """Exception handling for :class:`~wasmbox.exec.compile.FunctionCompiler`."""

    flat: bool
    stack: list
    out: Body

    def init_exn(self) -> None:
        #: flat mode: the handler context of the code being emitted
        self.hcur = 0
        #: flat mode with handlers: the local hx tracks the context
        self.hx_on = False
        #: flat mode: per context id, its part of the handler chain
        self.chain: dict[int, Body] = {}
        #: a delegate hands exceptions to the caller (structured mode)
        self.dg_caller = False

    # ------------------------------------------------------------ planning
    def plan_try(self, c: Ctl, r: Any) -> None:
        """Regions of a kept try_table / try (structured mode)."""
        self.owner[id(c)] = r
        body_r = self._make_region("try", c, c.body, r)
        catch_rs = [self._make_region("catch", c, lc.body, r) for lc in c.catches] \
            if c.kind == "try" else []
        self.arms[id(c)] = (body_r, catch_rs)

    def flatten_try(self, c: Ctl, out: list, work: list) -> None:
        """Flat mode: a try_table / try dissolved into items and labels."""
        out.append(("tryopen", c))
        tail: list[Any] = []
        if c.kind == "try" and c.catches:
            tail.append(("tryskip", c))
            for i, lc in enumerate(c.catches):
                tail.append(("catchlabel", lc))
                tail.extend(lc.body)
                if i + 1 < len(c.catches):
                    tail.append(("catchskip", c))
        else:
            tail.append(("tryend", c))
        tail.append(("label", c))
        work.append(iter(tail))
        work.append(iter(c.body))

    # ------------------------------------------------------------ throw
    def emit_exn(self, op: str, imm: tuple) -> None:
        """throw, throw_ref, rethrow."""
        if op == "throw":
            x = imm[0]
            n = len(self.env.tag_type(x).params)
            args = self._call_args(n)
            self.sync()
            vals = "".join(a.as_int() + ", " for a in args)
            self.emit(f"raise {self.use_helper('WX')}(TG{x}, ({vals}))")
        elif op == "throw_ref":
            v = self.pop()
            self.flush_effects()
            self.sync()
            self.emit(f"raise {self.use_helper('XR')}({v.as_int()})")
        else:  # rethrow: the exception the enclosing catch of that try caught
            t: Ctl = imm[0]
            self.flush_effects()
            self.sync()
            self.emit(f"raise x{t.hid}.with_traceback(None)")
        self.live = False

    # ------------------------------------------------------------ structured
    def kept_try(self, c: Ctl) -> None:
        """A try_table / try as a Python try statement (see the module docstring)."""
        self.charge(c.kind)
        self.flush_all()
        base = len(self.stack) - c.nparams
        self.base[id(c)] = base
        body_r, catch_rs = self.arms[id(c)]
        self.sync()
        self.live = True
        skips = c.delegate is not None and c.delegate != c.hctx
        handled = bool(c.catches or c.dg_target or skips)
        body = self.emit_region(body_r)
        live = self.live
        if not handled:
            self.out.extend(body)  # nothing to catch here: a block
        else:
            x = f"x{c.hid}"
            handler: Body = []
            saved = self.out
            self.out = handler
            if c.dg_target:
                dg = self.use_helper("DG")
                self.out.append((f"if {x}.__class__ is {dg}:",
                                 [(f"if {x}.args[1] != {c.hid}:", ["raise"]),
                                  f"{x} = {x}.args[0]"]))
            if c.kind == "try_table":
                self._table_handlers(c, base, x)
            elif c.catches:
                live = self._legacy_handlers(c, base, x, catch_rs) or live
            else:
                self.emit(f"raise {self.use_helper('DG')}({x}, {c.delegate})")
                if c.delegate == 0:
                    self.dg_caller = True
            self.out = saved
            self.out.append(("try:", body or ["pass"]))
            exc = self.use_helper("WXE")
            if c.dg_target:
                exc = f"({exc}, {self.use_helper('DG')})"
            self.out.append((f"except {exc} as {x}:", handler))
        self.pending = 0  # every path out of it paid
        self.live = live or label_id(c.end) in self.hits
        self.reset_stack(base, [slot_entry(base + i) for i in range(c.nresults)])

    def _no_match(self, c: Ctl, x: str) -> str:
        return f"raise {x}" if c.dg_target else "raise"

    def _payload(self, base: int, n: int, x: str, ref: bool) -> None:
        """Put a caught exception's payload (and for *_ref the exception) in
        s<base>.. and on the compile-time stack."""
        self.reset_stack(base, [])
        names = [f"s{base + i}" for i in range(n)]
        if n == 1:
            self.emit(f"{names[0]} = {x}.args[1][0]")
        elif n:
            self.emit(f"{', '.join(names)} = {x}.args[1]")
        if ref:
            self.emit(f"s{base + n} = {x}.with_traceback(None)")
            n += 1
        for i in range(n):
            self.stack.append(slot_entry(base + i))

    def _clause_code(self, kind: str, tag: int | None, t: Ctl, base: int, x: str) -> Body:
        """A try_table clause's code: payload to its place, then the branch."""
        saved = self.out
        lines: Body = []
        self.out = lines
        n = len(self.env.tag_type(tag).params) if tag is not None else 0
        self._payload(base, n, x, kind.endswith("_ref"))
        self.pending = 0
        if self.flat:
            lines.extend(self._flat_branch(t))
        else:
            lines.extend(self.branch_to(t, True))
        self.out = saved
        self.reset_stack(base, [])
        return lines or ["pass"]

    def _table_handlers(self, c: Ctl, base: int, x: str) -> None:
        first = True
        for kind, tag, t in c.catches:
            code = self._clause_code(kind, tag, t, base, x)
            if tag is None:  # catch_all / catch_all_ref: the rest cannot match
                if first:
                    self.out.extend(code)
                else:
                    self.out.append(("else:", code))
                return
            self.out.append((f"{'if' if first else 'elif'} {x}.args[0] is TG{tag}:", code))
            first = False
        self.out.append(("else:", [self._no_match(c, x)]))

    def _legacy_handlers(self, c: Ctl, base: int, x: str, regions: list) -> bool:
        """The catch bodies of a legacy try, inside its handler; whether one falls through."""
        live = False
        first = True
        for lc, reg in zip(c.catches, regions):
            saved = self.out
            body: Body = []
            self.out = body
            self._payload(base, lc.nparams, x, False)
            self.live = True
            self.pending = 0
            body.extend(self.emit_region(reg))
            live = live or self.live
            self.out = saved
            self.reset_stack(base, [])
            if lc.tag is None:
                if first:
                    self.out.extend(body or ["pass"])
                else:
                    self.out.append(("else:", body or ["pass"]))
                return live
            self.out.append((f"{'if' if first else 'elif'} {x}.args[0] is TG{lc.tag}:",
                             body or ["pass"]))
            first = False
        self.out.append(("else:", [self._no_match(c, x)]))
        return live

    def wrap_delegates(self, body: Body) -> Body:
        """Structured mode: a delegate to the caller is unwrapped around the body."""
        if not self.dg_caller:
            return body
        dg = self.use_helper("DG")
        return [("try:", body), (f"except {dg} as x0:", ["raise x0.args[0]"])]

    # ------------------------------------------------------------ flat mode
    def hx_switch(self, ctx: int) -> list[str]:
        """Flat mode: the assignment that makes hx say ctx (none if it does)."""
        if not self.hx_on or ctx == self.hcur:
            return []
        return [f"hx = {ctx}"]

    def _flat_branch(self, t: Ctl) -> list[str]:
        """A jump from the handler chain to t (flat mode): values already in place."""
        if t.kind == "func":
            return [self.return_code()]
        lines = [f"hx = {t.hctx}"]
        tid = self._tid(t)
        owner = self._target_region(t)
        self.hits.add(tid)
        self._record(tid, owner)
        owner.restarts.append(tid)
        base, n = self._dest(t)
        moves: Body = []
        saved = self.out
        self.out = moves
        self.move_values(base, n)
        self.out = saved
        return moves + lines + [f"k = {tid}", "continue"]

    def emit_try_item(self, tag: str, c: Ctl) -> None:
        """The flat-mode items of a dissolved try_table / try."""
        if tag == "tryopen":
            self.charge(c.kind)
            self.flush_all()
            base = len(self.stack) - c.nparams
            self.base[id(c)] = base
            self.hx_on = True
            self.sync()
            self._flat_chain(c, base)
            self.emit(f"hx = {c.hid}")
            self.hcur = c.hid
        elif tag == "tryend":  # the body falls through to the end label
            for line in self.hx_switch(c.hctx):
                self.emit(line)
            self.hcur = c.hctx
        else:  # tryskip / catchskip: results to their slots, jump past the catches
            self.move_values(self.base[id(c)], c.nresults)
            for line in self.hx_switch(c.hctx):
                self.emit(line)
            self.hcur = c.hctx
            self.flat_jump_to_end(c)

    def _flat_chain(self, c: Ctl, base: int) -> None:
        """This context's part of the handler chain (made while the stack is as at
        the try's start)."""
        saved_stack = list(self.stack)
        saved_out = self.out
        code: Body = []
        self.out = code
        x = "x0"
        if c.kind == "try_table":
            for kind, tag, t in c.catches:
                clause = self._clause_code(kind, tag, t, base, x)
                if tag is None:
                    code.extend(clause)
                    break
                code.append((f"if {x}.args[0] is TG{tag}:", clause))
            else:
                code.append(f"hx = {c.hctx}")
        elif c.catches:
            for lc in c.catches:
                lines: Body = []
                self.out = lines
                self._payload(base, lc.nparams, x, False)
                sid = label_id(lc.pos)
                self.hits.add(sid)
                root = self.rstack[0]
                self._record(sid, root)
                root.restarts.append(sid)
                lines += [f"x{c.hid} = {x}", f"hx = {c.hctx}", f"k = {sid}", "continue"]
                self.out = code
                if lc.tag is None:
                    code.extend(lines)
                    break
                code.append((f"if {x}.args[0] is TG{lc.tag}:", lines))
            else:
                code.append(f"hx = {c.hctx}")
        else:  # catchless, or a delegate: on to the target context
            code.append(f"hx = {c.delegate if c.delegate is not None else c.hctx}")
        self.out = saved_out
        self.stack[:] = saved_stack
        self.chain[c.hid] = code

    def flat_handler(self, body: Body) -> Body:
        """Flat mode: the dispatch loop's body inside a try with the handler chain."""
        if not self.hx_on:
            return body
        chain: Body = []
        for hid in sorted(self.chain, reverse=True):
            chain.append((f"if hx == {hid}:", self.chain[hid]))
        chain.append("raise")
        return [("try:", body), (f"except {self.use_helper('WXE')} as x0:", chain)]

    def label_ctx(self, tag: str, c: Any) -> int:
        """The handler context at a label (flat mode)."""
        if tag == "catchlabel":
            return c.ctl.hctx
        return c.hctx


def label_ctl(tag: str, c: Any) -> Ctl:
    """The construct a segment label belongs to (a catch label: its try)."""
    return c.ctl if isinstance(c, LCatch) else c
