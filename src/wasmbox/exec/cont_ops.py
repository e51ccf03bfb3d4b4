"""Emission of the stack-switching instructions: calls into :mod:`wasmbox.runtime.cont`.

Every instruction here can run other Wasm (and suspend this function's own
stack), so each one is emitted like a call: the operands in Wasm order,
effects flushed, fuel synced, results in the slots ``s<h>``.

* ``cont.new $ct``: ``s<h> = cont_new(f)``.
* ``cont.bind $ct $ct2``: ``s<h> = cont_bind(k, (a1, ...))``.
* ``suspend $t`` / ``switch $ct $t``: ``cont_suspend(TG<t>, (args))`` /
  ``cont_switch(k, (args), TG<t>)``, whose value is the tuple of values the
  continuation is resumed with, unpacked into the result slots.
* ``resume $ct (on $t $l)* (on $t switch)*`` (and ``resume_throw``,
  ``resume_throw_ref``): ``v<n> = cont_resume(k, (args), {TG<t>: code, ...},
  {TG<t>: 0, ...}, d)``. The result is ``(-1, results)`` when the
  continuation returned, or ``(code, payload, cont)`` when it suspended to
  the handler clause ``code``: then the code is a ``br`` to that clause's
  label carrying the payload and the continuation (the same moves and jump
  as :meth:`~wasmbox.exec.control.ControlMixin.branch_to`), so the resume is
  planned as a branch (:class:`~wasmbox.exec.structure.Br` with the handler
  labels as targets). The handler dicts are written with the clauses in
  reverse order, so that of two clauses for the same tag the first one wins,
  as the handler search of the spec does.

The tags ``TG<i>`` are the instance's tag objects; nothing from the module's
text is spliced in. Raises nothing on a valid module.
"""
from __future__ import annotations

from typing import Any

from .stack import EXPR, Entry
from .structure import Br, handlers_of


class ContMixin:
    """Stack-switching emission for :class:`~wasmbox.exec.compile.FunctionCompiler`."""

    stack: list[Entry]

    def _unpack(self, expr: str, n: int) -> None:
        """The results of a runtime call that returns a tuple of n values."""
        self._results(f"{expr}[0]" if n == 1 else expr, n)  # type: ignore[attr-defined]

    def _cont_call(self, n: int, extra: int) -> list[Entry]:
        """Pop n + extra operands for a runtime call that can run other code."""
        ops = self._call_args(n, extra)  # type: ignore[attr-defined]
        self.calls = True
        self.sync()  # type: ignore[attr-defined]
        return ops

    @staticmethod
    def _tuple(args: list[Entry]) -> str:
        return "(" + "".join(a.as_int() + ", " for a in args) + ")"

    def emit_cont_instr(self, op: str, imm: tuple[Any, ...]) -> None:
        """cont.new, cont.bind, suspend, switch."""
        env = self.env  # type: ignore[attr-defined]
        if op == "cont.new":
            (f,) = self._cont_call(0, 1)
            self._results(f"{self.use_helper('cont_new')}({f.code})", 1)  # type: ignore[attr-defined]
        elif op == "cont.bind":
            x, y = imm
            n = len(env.cont_functype(x).params) - len(env.cont_functype(y).params)
            ops = self._cont_call(n, 1)
            args, k = ops[:-1], ops[-1]
            call = f"{self.use_helper('cont_bind')}({k.code}, {self._tuple(args)})"  # type: ignore[attr-defined]
            self._results(call, 1)  # type: ignore[attr-defined]
        elif op == "suspend":
            ft = env.tag_type(imm[0])
            args = self._cont_call(len(ft.params), 0)
            call = f"{self.use_helper('cont_suspend')}(TG{imm[0]}, {self._tuple(args)})"  # type: ignore[attr-defined]
            self._unpack(call, len(ft.results))
        else:  # switch $ct $t
            x, tag = imm
            ft = env.cont_functype(x)
            ops = self._cont_call(len(ft.params) - 1, 1)
            args, k = ops[:-1], ops[-1]
            inner = env.cont_functype(ft.params[-1].heap)  # validated: (ref null? $ct')
            call = (f"{self.use_helper('cont_switch')}({k.code}, {self._tuple(args)}, "  # type: ignore[attr-defined]
                    f"TG{tag})")
            self._unpack(call, len(inner.params))

    def emit_resume(self, br: Br, last: bool) -> None:
        """resume / resume_throw / resume_throw_ref (see the module docstring)."""
        ins = br.ins
        op, imm = ins.op, ins.imm
        env = self.env  # type: ignore[attr-defined]
        ft = env.cont_functype(imm[0])
        handlers = handlers_of(op, imm)
        if op == "resume":
            ops = self._cont_call(len(ft.params), 1)
            args, k = ops[:-1], ops[-1]
            what = f"{self.use_helper('cont_resume')}({k.code}, {self._tuple(args)}"  # type: ignore[attr-defined]
        elif op == "resume_throw":
            tag = imm[1]
            ops = self._cont_call(len(env.tag_type(tag).params), 1)
            args, k = ops[:-1], ops[-1]
            exc = f"{self.use_helper('WX')}(TG{tag}, {self._tuple(args)})"  # type: ignore[attr-defined]
            what = f"{self.use_helper('cont_resume_throw')}({k.code}, {exc}"  # type: ignore[attr-defined]
        else:
            exn, k = self._cont_call(0, 2)
            what = f"{self.use_helper('cont_resume_throw_ref')}({k.code}, {exn.as_int()}"  # type: ignore[attr-defined]
        on_label = [(i, h) for i, h in enumerate(handlers) if h.label is not None]
        tags = ", ".join(f"TG{h.tag}: {i}" for i, h in reversed(on_label))
        stags = ", ".join(f"TG{h.tag}: 0" for h in reversed(handlers) if h.label is None)
        self.ntemps += 1  # type: ignore[attr-defined]
        r = f"v{self.ntemps}"  # type: ignore[attr-defined]
        noh = "CONT_NOH"  # the shared empty handler table (read only)
        tags = f"{{{tags}}}" if tags else noh
        stags = f"{{{stags}}}" if stags else noh
        self.emit(f"{r} = {what}, {tags}, {stags}, d)")  # type: ignore[attr-defined]
        # the handler clauses: branches to their labels
        targets = dict(zip((i for i, _ in on_label), br.targets))
        cases: list[tuple[str, list[str]]] = []
        for i, h in on_label:
            t = targets[i]
            te = env.tag_type(h.tag)
            h0 = len(self.stack)
            npay = len(te.params)
            for j in range(npay):
                self.stack.append(Entry(f"{r}[1][{j}]", EXPR, depth=1))
            self.stack.append(Entry(f"{r}[2]", EXPR, depth=1))
            # flat mode has no else arm to skip the rest: a jump then always leaves
            code = self.branch_to(t, last or not self.flat) or ["pass"]  # type: ignore[attr-defined]
            del self.stack[h0:]
            cases.append((f"{r}[0] == {i}", code))
        self._dispatch(br, last, r, cases)
        # the fall-through: the continuation returned (None, one value or a tuple)
        if ft.results:  # (None, one value or a tuple, as a call returns them)
            self._results(f"{r}[1]", len(ft.results))  # type: ignore[attr-defined]

    def _dispatch(self, br: Br, last: bool, r: str, cases: list[tuple[str, list[str]]]) -> None:
        """Emit the handler branches; the code that follows is the fall-through
        (the continuation returned). Mirrors ``br_if``'s emission."""
        if not cases:
            return
        chain: list[Any] = []
        for j, (test, code) in enumerate(cases):
            chain.append((f"{'if' if j == 0 else 'elif'} {test}:", code))
        leaves = all(code and (code[-1] in ("continue", "break") or code[-1].startswith("return"))
                     for _, code in cases)
        if last or self.flat or leaves:  # type: ignore[attr-defined]
            self.out.extend(chain)  # type: ignore[attr-defined]
            return
        reg = self.rstack[-1]  # type: ignore[attr-defined]
        from .control import ELSE_NESTING  # noqa: PLC0415 - circular at import
        if reg.nest < ELSE_NESTING:
            rest: list[Any] = []
            self.out.extend(chain)  # type: ignore[attr-defined]
            self.out.append(("else:", rest))  # type: ignore[attr-defined]
            self.out = rest
            reg.nest += 1
            return
        # too deep: the rest of the segment becomes a new part, skipped by k
        for (i, (test, code)), t in zip(enumerate(cases), br.targets):
            if not any(line.startswith("k = ") for line in code):
                tid = self._tid(t)  # type: ignore[attr-defined]
                self._record(tid, self._target_region(t))  # type: ignore[attr-defined]
                code.append(f"k = {tid}")
        self.out.extend(chain)  # type: ignore[attr-defined]
        reg.split_to = 2 * br.pos + 2
