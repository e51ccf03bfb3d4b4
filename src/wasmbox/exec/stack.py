"""The compile-time operand stack: lazy Python expressions instead of values.

Each slot of the Wasm operand stack is an :class:`Entry` holding a Python
expression. Pure expressions stay lazy and are folded into the expression
that consumes them; an entry is *flushed* (assigned to its canonical slot
variable ``s<height>``) when something could change what it reads or the
order of traps:

* before an instruction with side effects or that can trap, every entry that
  can trap or reads mutable state (memory, mutable globals, tables) is
  flushed, bottom to top (the stack order is the order Wasm evaluated them);
* before ``local.set x``, entries that read ``l<x>`` are flushed (with every
  trapping entry below them, to keep the trap order);
* before a construct (block, loop, if) everything except constants is
  flushed, so all paths agree on where values live.

Entries never reference a slot below their own height, but an expression
can reference slots *above* it (``s0 = l0 + s1`` after ``s1`` was consumed):
before anything is written to ``s<j>``, every lazy expression below height
j that reads a slot at or above j is flushed (:meth:`StackMixin.protect`).
Operands that must be evaluated once but are mentioned twice (or out of
order) are assigned to fresh temporaries ``v<n>``, never reused, so a lazy
entry can safely refer to them. (Not ``t<n>``: that is table n's object.)

Every scan starts at the *settled* mark (:attr:`StackMixin.settled`): the
entries below it are constants or their own slot variables, which no flush
changes. At most :data:`MAX_LAZY` entries stay above it (older ones are
flushed to their slots first), so a tall operand stack costs each
instruction a bounded amount of work, not its height.

Comparisons produce entries flagged ``isbool`` (a Python ``bool``) so that
``if``/``br_if``/``select`` test them directly; a bool is converted to an
``int`` whenever it is stored anywhere (slot, local, global, memory, call
argument, result).

Nothing here raises on a valid module.
"""
from __future__ import annotations

CONST, NAME, EXPR = 0, 1, 2

#: flush an expression nested deeper than this (keeps source lines short)
MAX_EXPR_DEPTH = 12
#: entries above the settled mark before the oldest are flushed to their slots
MAX_LAZY = 64


class Entry:
    """One operand-stack slot at compile time (see the module docstring)."""

    __slots__ = ("code", "kind", "locs", "trap", "state", "isbool", "depth", "value", "raw",
                 "rbits", "rwidth", "slots")

    def __init__(self, code: str, kind: int, locs: int = 0, trap: bool = False,
                 state: bool = False, isbool: bool = False, depth: int = 0,
                 value: object = None, raw: str | None = None, rbits: int = 0,
                 slots: int = 0, rwidth: int = 0) -> None:
        self.code = code
        #: bit j set when the code reads the slot variable s<j>
        self.slots = slots
        self.kind = kind
        self.locs = locs
        self.trap = trap
        self.state = state
        self.isbool = isbool
        self.depth = depth
        self.value = value
        #: an expression congruent to the value modulo 2**rwidth but not
        #: reduced (no final mask), at most rbits bits in magnitude; only
        #: ring operations (+ - * << & | ^) of that same width may consume
        #: it (see :meth:`raw_for`): everything else reads ``code``, which
        #: is always reduced
        self.raw = raw
        self.rbits = rbits
        self.rwidth = rwidth if raw is not None else 0

    def raw_for(self, width: int) -> tuple[str, int] | None:
        """(raw code, magnitude bits) for a ring operation of this width, or None.

        An i32 value's raw form is congruent to it modulo 2**32 only, so it
        is no use to an i64 operation (after ``i64.extend_i32_u``, say).
        """
        if self.raw is not None and self.rwidth == width:
            return self.raw, self.rbits
        return None

    @property
    def ival(self) -> int | None:
        """The value of an integer constant known to the compiler, else None.

        Constants whose value is not known here (immutable globals ``G<i>``,
        references) are CONST entries too: they are never folded.
        """
        v = self.value
        return v if self.kind == CONST and type(v) is int else None

    @property
    def simple(self) -> bool:
        """A constant or a variable: safe to mention more than once."""
        return self.kind != EXPR

    @property
    def effectful(self) -> bool:
        """Must be evaluated before any side effect (it can trap or reads state)."""
        return self.trap or self.state

    def as_int(self) -> str:
        """The code of this value as a plain int (bools converted)."""
        if self.isbool:
            return f"(1 if {self.code} else 0)"
        return self.code

    def as_cond(self) -> str:
        """The code of this value used as a truth value."""
        return self.code

    def __repr__(self) -> str:
        return f"Entry({self.code!r})"


def slot_entry(h: int) -> Entry:
    """The entry for the slot variable s<h> (at height h)."""
    return Entry(f"s{h}", NAME, slots=1 << h)


class StackMixin:
    """Operand-stack handling for :class:`~wasmbox.exec.compile.FunctionCompiler`."""

    stack: list[Entry]
    ntemps: int
    #: every entry below this index is a constant or its own slot variable
    #: ``s<i>`` (flushing it does nothing). Lowered when anything else is
    #: put below it; raised by :meth:`flush_all` and :meth:`_settle`.
    #: Appending a constant or ``slot_entry(len(stack))`` needs no update.
    settled: int = 0

    # -- emission hook (defined by the compiler) --------------------------
    def emit(self, line: str) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    # -- pushing ----------------------------------------------------------
    def push(self, e: Entry) -> None:
        """Push any entry (a lazy one included)."""
        h = len(self.stack)
        self.stack.append(e)
        self._pushed(h)
        if e.depth > MAX_EXPR_DEPTH:
            self.flush_effects()
            self.flush_at(h)

    def _pushed(self, h: int) -> None:
        """Keep the settled mark right after an entry was put at index h."""
        if h < self.settled:
            self.settled = h
        elif h - self.settled >= MAX_LAZY:
            self._settle(h - MAX_LAZY // 2)

    def _settle(self, upto: int) -> None:
        """Flush the entries below upto (bottom-up: the order Wasm evaluated them)."""
        for i in range(min(self.settled, upto), upto):
            self.flush_at(i)
        self.settled = upto

    def push_const(self, code: str, value: object = None) -> None:
        self.stack.append(Entry(code, CONST, value=value))

    def push_local(self, x: int) -> None:
        h = len(self.stack)
        self.stack.append(Entry(f"l{x}", NAME, locs=1 << x))
        self._pushed(h)

    def reset_stack(self, base: int, entries: list[Entry]) -> None:
        """Cut the stack to its first base entries, then append entries.

        Used at labels and construct boundaries: the entries below a
        construct's base are the same objects (constants or slot entries)
        on every path through it, so only what lies above is replaced.
        entries must be constants or the slot entries of their positions.
        """
        del self.stack[base:]
        self.stack.extend(entries)

    def push_expr(self, code: str, operands: tuple[Entry, ...] | list[Entry], *, trap: bool = False,
                  state: bool = False, isbool: bool = False, raw: str | None = None,
                  rbits: int = 0, rwidth: int = 0) -> None:
        locs = 0
        depth = 0
        slots = 0
        for o in operands:
            locs |= o.locs
            slots |= o.slots
            trap = trap or o.trap
            state = state or o.state
            if o.depth > depth:
                depth = o.depth
        self.push(Entry(code, EXPR, locs, trap, state, isbool, depth + 1, raw=raw, rbits=rbits,
                        slots=slots, rwidth=rwidth))

    def pop(self) -> Entry:
        return self.stack.pop()

    def popn(self, n: int) -> list[Entry]:
        if n == 0:
            return []
        vals = self.stack[-n:]
        del self.stack[-n:]
        return vals

    # -- flushing ---------------------------------------------------------
    def _lazy_from(self) -> int:
        """The lowest index that may hold an entry a flush would change."""
        return min(self.settled, len(self.stack))

    def protect(self, j: int) -> None:
        """Before writing s<j>: flush lazy expressions below j that read a slot >= j."""
        stack = self.stack
        lo = self._lazy_from()
        n = min(j, len(stack))
        if not any(stack[m].kind == EXPR and stack[m].slots >> j for m in range(lo, n)):
            return
        for m in range(lo, n):  # bottom-up keeps the evaluation order
            if stack[m].kind == EXPR:
                self.flush_at(m)

    def flush_at(self, i: int) -> None:
        """Assign entry i to its slot variable ``s<i>`` (if it is not a constant or already there)."""
        e = self.stack[i]
        if e.kind == CONST:
            return
        name = f"s{i}"
        if e.code == name:
            return
        self.protect(i)
        self.emit(f"{name} = {e.as_int()}")
        self.stack[i] = slot_entry(i)

    def flush_all(self) -> None:
        """Every non-constant entry to its slot (before control constructs)."""
        self._settle(len(self.stack))

    def flush_effects(self) -> None:
        """Entries that can trap or read state, bottom to top (before side effects)."""
        stack = self.stack
        for i in range(self._lazy_from(), len(stack)):
            e = stack[i]
            if e.kind == EXPR and (e.trap or e.state):
                self.flush_at(i)

    def flush_local(self, x: int) -> None:
        """Before ``local.set x``: entries reading l<x>, and trapping ones below them."""
        bit = 1 << x
        stack = self.stack
        lo = self._lazy_from()
        top = -1
        for i in range(lo, len(stack)):
            if stack[i].locs & bit:
                top = i
        for i in range(lo, top + 1):
            e = stack[i]
            if e.locs & bit or (e.kind == EXPR and (e.trap or e.state)):
                self.flush_at(i)

    def materialize(self, e: Entry, always: bool = False) -> Entry:
        """Make a popped operand simple: assign it to a fresh temporary if it is
        an expression (with ``always``: unless it is a constant)."""
        if e.kind == CONST or (e.kind != EXPR and not always):
            return e
        self.ntemps += 1
        name = f"v{self.ntemps}"
        self.emit(f"{name} = {e.as_int()}")
        return Entry(name, NAME)

    def simple_operands(self, ops: list[Entry]) -> list[Entry]:
        """Popped operands (in stack order) made simple, keeping evaluation order."""
        if all(o.kind != EXPR for o in ops):
            return ops
        if any(o.effectful for o in ops):
            self.flush_effects()
        return [self.materialize(o) for o in ops]
