"""Emission of calls: direct, indirect (through a table) and tail calls.

A direct call is a plain Python call of ``f<i>``, a name in the generated
code's globals that first holds a compiling stub (runtime/plan.py) and
then the compiled function itself. Every call passes the caller's remaining
stack budget ``d`` last (see :mod:`wasmbox.runtime.depth`). Results: none
-> the call is a statement; one -> ``s<h> = f3(..., d)``; several -> tuple
unpacking.

``call_indirect`` looks the function instance up in the table list and
compares its canonical type id with the expected one in a single test; any
failure goes to :func:`wasmbox.exec.support.ci_trap`, which picks the spec's
message ("undefined element", "uninitialized element", "indirect call type
mismatch") -- or, when the expected type is not final (so a function of a
declared subtype may be in the table), to :func:`~wasmbox.exec.support.ci_sub`,
which calls it if the registry of supertypes says its type matches.

``call_ref`` checks its reference for null ("null function reference",
:meth:`CallMixin.ref_callee`) and calls its ``call``.

Tail calls (``return_call*``) do not call: the function returns a
:class:`~wasmbox.exec.support.TailCall` request ``TC(callee, (args...))``
naming the callee's *tail entry* (``Func.tail``: the body of a function
that makes tail calls itself, else its ordinary callable). A function that
makes tail calls is compiled as that body ``B<i>`` plus a driver ``f<i>``
(its ordinary entry) that calls the body and then runs the requests it
gets back in a loop, each with the driver's own budget ``d``
(see :meth:`~wasmbox.exec.compile.FunctionCompiler.compile`). So a chain of
tail calls, however long and across instances, runs in the driver's frame
in constant Python stack, and functions without tail calls are compiled
(and cost) exactly as before.

Raises nothing on a valid module.
"""
from __future__ import annotations

from .stack import NAME, Entry, slot_entry


class CallMixin:
    """Call emission for :class:`~wasmbox.exec.compile.FunctionCompiler`."""

    stack: list[Entry]

    def _call_args(self, nparams: int, extra: int = 0) -> list[Entry]:
        ops = self.popn(nparams + extra)
        self.flush_effects()
        if any(o.effectful for o in ops) and extra:
            ops = self.simple_operands(ops)
        return ops

    def _results(self, callexpr: str, nresults: int) -> None:
        """Emit a call (None, one value or a tuple of ``nresults``) into the result slots."""
        h = len(self.stack)
        if nresults:
            self.protect(h)
        self.emit(self._call_statement(callexpr, h, nresults))
        for i in range(nresults):
            self.stack.append(slot_entry(h + i))

    def emit_call(self, x: int, tail: bool = False) -> None:
        ft = self.env.func_types[x]
        args = self._call_args(len(ft.params))
        self.calls = True
        self.sync()  # the callee (and a host function) sees the exact fuel
        if tail:
            self.func_refs.add(x)
            callee = f"F{x}.tail"
            if x < self.env.n_imported_funcs:  # a host function: its binding here (its Caller)
                callee = f"(f{x} if F{x}._host is not None else F{x}.tail)"
            self.emit(f"return {self.tail_request(callee, args)}")
            self.live = False
            return
        self._results(f"f{x}({''.join(a.as_int() + ', ' for a in args)}d)", len(ft.results))

    def tail_request(self, callee: str, args: list[Entry]) -> str:
        """The expression of a tail call request of ``callee`` (a tail entry) with ``args``."""
        tc = self.use_helper("TC")
        if not args:
            return f"{tc}({callee}, ())"
        return f"{tc}({callee}, ({''.join(a.as_int() + ', ' for a in args)}))"

    def emit_call_indirect(self, typeidx: int, table: int, tail: bool = False) -> None:
        ft = self.env.functype(typeidx)
        tid = self.env.type_ids[typeidx]
        ops = self._call_args(len(ft.params), 1)
        args, idx = ops[:-1], ops[-1]
        if idx.kind != NAME and not idx.simple:
            idx = self.materialize(idx)
        ic = idx.as_int()
        t = f"T{table}"
        self.calls = True
        argtext = ''.join(a.as_int() + ', ' for a in args)
        expr = f"fx.call({argtext}d)"
        test = f"if {ic} < len({t}) and (fx := {t}[{ic}]) is not None and fx.tid == {tid}:"
        if self.env.type_final[typeidx]:
            fail = f"raise {self.use_helper('ci_trap')}({t}, {ic}, {tid})"
        else:  # a subtype's function passes too: the registry decides (off the fast path)
            sub = f"{self.use_helper('ci_sub')}({t}, {ic}, {tid})"
            if tail:
                fail = f"return {self.tail_request(sub + '.tail', args)}"
            else:
                fail = self._call_statement(f"{sub}.call({argtext}d)", len(self.stack),
                                            len(ft.results))
        self.sync()
        h = len(self.stack)
        nres = len(ft.results)
        if nres:
            self.protect(h)
        if tail:
            self.out.append((test, [f"return {self.tail_request('fx.tail', args)}"]))
            self.out.append(("else:", [fail]))
            self.live = False
            return
        call = self._call_statement(expr, h, nres)
        self.out.append((test, [call]))
        self.out.append(("else:", [fail]))
        for i in range(nres):
            self.stack.append(slot_entry(h + i))

    @staticmethod
    def _call_statement(expr: str, h: int, nres: int) -> str:
        """The statement that makes a call and puts its results in s<h>...."""
        if nres == 0:
            return expr
        if nres == 1:
            return f"s{h} = {expr}"
        return ", ".join(f"s{h + i}" for i in range(nres)) + f" = {expr}"

    def ref_callee(self, ref: Entry) -> str:
        """The callee of a ``call_ref``-style call whose function reference is ``ref``.

        Emits the null check (trap "null function reference") and returns
        the name of the function instance (its ``.call``, or ``.tail`` for a
        tail call). The caller has popped the arguments and the reference
        (:meth:`_call_args` with one extra operand) and synced fuel.
        """
        self.emit(f"fx = {ref.code}")
        self.emit("if fx is None: raise Trap(C_NULL_FREF)")
        return "fx"

    def emit_call_ref(self, typeidx: int, tail: bool = False) -> None:
        """``call_ref $t`` (``return_call_ref $t`` with ``tail``): a call through a
        typed function reference (its type is guaranteed by validation, so only
        null needs a check); a tail call requests the reference's tail entry."""
        ft = self.env.functype(typeidx)
        ops = self._call_args(len(ft.params), 1)
        args, ref = ops[:-1], ops[-1]
        self.calls = True
        self.sync()
        callee = self.ref_callee(ref)
        if tail:
            self.emit(f"return {self.tail_request(callee + '.tail', args)}")
            self.live = False
            return
        self._results(f"{callee}.call({''.join(a.as_int() + ', ' for a in args)}d)",
                      len(ft.results))
