"""Structured control flow: Wasm blocks, loops, ifs and branches as Python code.

CPython allows at most 20 statically nested loops, and Wasm code (a C
``switch`` becomes a ladder of dozens of nested blocks) nests much deeper, so
blocks do not become Python loops. Instead:

* A *region* is straight-line Wasm code in one Python scope: the function
  body, the body of a loop, or one arm of an ``if``. Blocks inside a region
  are dissolved: each block that some branch targets contributes a *label*
  (at its ``end``) to the region. Labels split the region into *segments*.
* A branch to a label jumps forward. The pending target is kept in the
  variable ``k`` (0 = none); a segment that a pending jump may skip is
  guarded by ``if k <= <its label>:`` (label ids grow with the position in
  the body, so a pending target skips exactly the segments before it, and
  the guard of the target resets ``k``). A conditional branch in the middle
  of a segment puts the rest of the segment in the ``else:`` of its test
  (or, past a nesting budget, starts a new guarded part).
* A loop that some branch targets stays a Python ``while True:``: a branch
  to it is ``continue``; from a nested loop it is ``k = W; break`` with
  ``if k == W: k = 0; continue`` at the bottom of the loop. A branch out of
  a loop is ``k = T; break``. An ``if`` stays a Python ``if``/``else``.
  Blocks and loops that no branch targets vanish.
* Operand values that cross a label live in the slot variables ``s<h>``.
* A ``try_table`` (or legacy ``try``) is kept like an ``if``: a Python
  ``try`` statement whose handler branches like ``br``
  (:mod:`wasmbox.exec.exceptions`).

So the only Python loops are Wasm loops. In *flat* mode (used when even
that nests too deeply for CPython) every construct is dissolved: the
function body is one ``while True:`` loop, every jump is
``k = T; continue`` and the segments are dispatched by their guards
(grouped into a binary tree).

Label ids: ``2*pos + 2`` for the label at flat position ``pos`` (a block's
or if's ``end``, an if's ``else``, a dissolved loop's ``loop``, and the
position of a conditional branch that starts a new part), and ``2*end + 3``
for "continue the kept loop ending at ``end``".

Fuel (:mod:`wasmbox.exec.interrupt`): control constructs charge what
wasmtime charges (``if`` and the branches 1, the rest nothing) and the fuel
of straight-line code is paid (``u -= n``) before every branch and where
paths join (labels, the end of an arm or a loop body), so that every path
arrives at a join with nothing pending. Loop headers -- kept loops, flat
mode's loop labels, and loops no branch targets (a ``("lcheck", ctl)``
item where they were) -- get the fuel and epoch checks.

Raises :class:`NeedFlat` (internal) when the structured plan cannot express
a jump; the compiler then retries in flat mode.
"""
from __future__ import annotations

from typing import Any

from ..syntax.module import Instr
from .stack import CONST, NAME, Entry, slot_entry
from .structure import RESUMES, TRY_OPENERS, Br, Ctl


class NeedFlat(Exception):
    """Internal: the structured translation failed; compile in flat mode."""


Body = list  # list[str | tuple[str, Body]]

#: conditional branches nested as if/else in one segment before starting a new part
ELSE_NESTING = 8
#: consecutive parts turned into nested else branches (see _ends_with_jump_past)
DIAMOND_CHAIN = 4
#: br_table with more distinct targets than this (that k cannot reach): a tree of tests
BR_TABLE_CHAIN = 8


def _ends_with_jump_past(code: Body, sid: int) -> bool:
    """Whether code ends with ``if X: [..., k = T]`` (no else) with T > sid.

    Then the part starting at label sid, if only pending jumps guard it, runs
    exactly when X was false, so it can be that if's else branch.
    """
    if not code:
        return False
    last = code[-1]
    if not isinstance(last, tuple) or not last[0].startswith("if ") or last[0].startswith("if k "):
        return False
    body = last[1]
    if not body or not isinstance(body[-1], str) or not body[-1].startswith("k = "):
        return False
    target = body[-1][4:]
    return target.isdigit() and int(target) > sid


def _sets_k(code: Body) -> bool:
    """Whether code starts by assigning k (so resetting k before it is useless)."""
    return bool(code) and isinstance(code[0], str) and code[0].startswith("k = ")


class Seg:
    """A segment: items between two labels of a region."""

    __slots__ = ("items", "start_id", "label", "index")

    def __init__(self, start_id: int, label: Any, index: int) -> None:
        self.items: list[Any] = []
        self.start_id = start_id
        self.label = label  # ("label"|"lhead"|"elselabel", ctl) or ("kept", ctl) or None
        self.index = index


class Region:
    """Straight-line code in one Python scope (see the module docstring)."""

    __slots__ = ("kind", "ctl", "segs", "parent", "cur", "seg", "krec", "restarts", "wk",
                 "nest", "split_to", "may_split", "depth", "loops")

    def __init__(self, kind: str, ctl: Ctl | None, parent: "Region | None") -> None:
        self.kind = kind  # "func", "loop", "arm"
        self.ctl = ctl
        self.segs: list[Seg] = []
        self.parent = parent
        #: regions enclosing this one, and how many of them are loops (Python scopes)
        self.depth: int = 0 if parent is None else parent.depth + 1
        # Python counts try statements (and except clauses, twice) like loops
        self.loops: int = ((0 if parent is None else parent.loops) + (kind == "loop")
                           + (kind == "try") + 2 * (kind == "catch"))
        self.cur = 0  # index of the part being emitted
        self.seg = 0  # index of the segment being emitted
        self.krec: list[tuple[int, int]] = []  # (part index, pending target id)
        self.restarts: list[int] = []
        self.wk = False  # a "k = W" was emitted for this loop region
        self.nest = 0  # else-nesting depth in the current part
        self.split_to: int | None = None  # start a new part with this id
        self.may_split = False  # the current segment may be split into parts


class Frame:
    """A Python loop enclosing the code being emitted (a kept Wasm loop)."""

    __slots__ = ("region", "ctl")

    def __init__(self, region: Region, ctl: Ctl | None) -> None:
        self.region = region
        self.ctl = ctl


_DONE = object()


def label_id(pos: int) -> int:
    return 2 * pos + 2


def _tuple_literal(values: list[int]) -> str:
    """A Python tuple display of ints (one element gets its trailing comma)."""
    return "(" + ", ".join(str(x) for x in values) + ("," if len(values) == 1 else "") + ")"


class ControlMixin:
    """Control-flow emission for :class:`~wasmbox.exec.compile.FunctionCompiler`."""

    flat: bool
    stack: list[Entry]
    out: Body

    # ------------------------------------------------------------ planning
    def plan(self, func: Ctl) -> Region:
        """Build every region of the function.

        Raises NeedFlat (structured mode) as soon as regions nest deeper
        than the generated Python could (each region is one more
        indentation level, each kept loop one more ``while``), rather than
        after emitting the whole function.
        """
        from .compile import MAX_INDENT, MAX_LOOP_NESTING  # noqa: PLC0415 - circular at import
        self.max_depth = MAX_INDENT
        self.max_loops = MAX_LOOP_NESTING
        self.owner: dict[int, Region] = {}  # id(ctl) -> region holding its label
        self.loop_region: dict[int, Region] = {}  # id(kept loop ctl) -> its body region
        self.kept: set[int] = set()  # ids of kept loops
        self.arms: dict[int, tuple[Region, Region | None]] = {}
        return self._make_region("func", func, func.body, None)

    def _flatten(self, items: list[Any], out: list[Any]) -> None:
        """Dissolve blocks (and, in flat mode, everything) into a flat item list.

        Iterative, so that nesting depth is not limited by Python's stack.
        """
        work: list[Any] = [iter(items)]
        while work:
            it = next(work[-1], _DONE)
            if it is _DONE:
                work.pop()
                continue
            if isinstance(it, tuple):  # a marker queued below
                out.append(it)
                continue
            if not isinstance(it, Ctl):
                out.append(it)
                continue
            if it.kind == "block":
                if it.targeted:
                    out.append(("open", it))
                    work.append(iter([("label", it)]))
                work.append(iter(it.body))
            elif it.kind == "loop":
                if not it.targeted:
                    if self.fuel or self.epochs:
                        out.append(("lcheck", it))
                    work.append(iter(it.body))
                elif self.flat:
                    out.append(("lopen", it))
                    out.append(("lhead", it))
                    work.append(iter(it.body))
                else:
                    out.append(("kept", it))
            elif it.kind in TRY_OPENERS:
                if self.flat:
                    self.flatten_try(it, out, work)
                else:
                    out.append(("kept", it))
            elif self.flat:  # if
                out.append(("ifopen", it))
                tail: list[Any] = []
                if it.else_body is not None:
                    tail.append(("ifelse", it))
                    tail.append(("elselabel", it))
                    tail.extend(it.else_body)
                tail.append(("label", it))
                work.append(iter(tail))
                work.append(iter(it.body))
            else:
                out.append(("kept", it))

    def _make_region(self, kind: str, ctl: Ctl | None, items: list[Any],
                     parent: Region | None) -> Region:
        r = Region(kind, ctl, parent)
        if r.depth > self.max_depth or r.loops > self.max_loops:
            raise NeedFlat("constructs nested too deeply")
        flat_items: list[Any] = []
        self._flatten(items, flat_items)
        seg = Seg(0, None, 0)
        r.segs.append(seg)
        for it in flat_items:
            if isinstance(it, tuple):
                tag, c = it
                if tag in ("label", "lhead", "elselabel", "catchlabel"):
                    if tag == "catchlabel":  # flat mode: a legacy catch body
                        sid = label_id(c.pos)
                    elif tag == "label":
                        sid = label_id(c.end)
                        self.owner[id(c)] = r
                    elif tag == "lhead":
                        sid = label_id(c.start)
                        self.owner[id(c)] = r
                    else:
                        sid = label_id(c.else_pos)
                    seg = Seg(sid, it, len(r.segs))
                    r.segs.append(seg)
                    continue
                seg.items.append(it)
                if tag == "kept":
                    if c.kind == "loop":
                        self.kept.add(id(c))
                        self.loop_region[id(c)] = self._make_region("loop", c, c.body, r)
                    elif c.kind in TRY_OPENERS:
                        self.plan_try(c, r)
                    else:
                        self.owner[id(c)] = r
                        c_then = self._make_region("arm", c, c.body, r)
                        c_else = (self._make_region("arm", c, c.else_body, r)
                                  if c.else_body is not None else None)
                        self.arms[id(c)] = (c_then, c_else)
                    seg = Seg(label_id(c.end), it, len(r.segs))
                    r.segs.append(seg)
            else:
                seg.items.append(it)
        return r

    # ------------------------------------------------------------ emission
    def emit_region(self, r: Region) -> Body:
        """Emit a region's segments (with guards) and return its code."""
        self.rstack.append(r)
        saved_out = self.out
        parts: list[tuple[int, Body]] = []
        nseg = len(r.segs)
        for i, seg in enumerate(r.segs):
            r.seg = i
            if i > 0:
                self._enter_label(seg)
            if not self.live:
                continue
            body: Body = []
            self.out = body
            parts.append((seg.start_id, body))
            r.cur = len(parts) - 1
            r.nest = 0
            if seg.label is not None and seg.label[0] == "lhead":  # a flat-mode loop header
                body.extend(self.loop_checks())
            nitems = len(seg.items)
            # more conditional branches than else-nesting allows: parts follow,
            # so a jump to the next label must set k to skip them
            r.may_split = sum(isinstance(it, Br) and it.op not in ("br", "br_table")
                              for it in seg.items[:-1]) > ELSE_NESTING
            for j, it in enumerate(seg.items):
                if not self.live:
                    break
                self.emit_item(it, j == nitems - 1)
                if r.split_to is not None:
                    body = []
                    self.out = body
                    parts.append((r.split_to, body))
                    r.cur = len(parts) - 1
                    r.nest = 0
                    r.split_to = None
            if self.live:
                if i + 1 < nseg:
                    self.sync()  # a label: paths join
                    self._fallthrough_moves(r.segs[i + 1])
                else:
                    self.region_end(r)
        self.out = saved_out
        self.rstack.pop()
        return self._assemble(r, parts)

    def _label_state(self, tag: str, c: Ctl) -> tuple[int, int]:
        """(base height, number of values) at a label."""
        if tag == "catchlabel":  # a legacy catch body starts with the tag's values
            return self.base[id(c.ctl)], c.nparams
        base = self.base[id(c)]
        if tag == "label":
            return base, c.nresults
        return base, c.nparams  # lhead, elselabel

    def _enter_label(self, seg: Seg) -> None:
        lab = seg.label
        if lab is None or lab[0] == "kept":
            return  # state set by the kept construct
        tag, c = lab
        if id(label_ctl(tag, c)) not in self.base:
            self.live = False  # its opening was dead code
            return
        if self.hx_on:
            self.hcur = self.label_ctx(tag, c)
        live = self.live or seg.start_id in self.hits
        if not self.live:
            self.pending = 0  # reached by jumps only, which paid before jumping
        self.live = live
        if live:
            base, n = self._label_state(tag, c)
            self.reset_stack(base, [slot_entry(base + i) for i in range(n)])

    def _fallthrough_moves(self, nxt: Seg) -> None:
        lab = nxt.label
        if lab is None or lab[0] == "kept":
            return
        tag, c = lab
        if id(label_ctl(tag, c)) not in self.base:
            return
        base, n = self._label_state(tag, c)
        self.move_values(base, n)

    def move_values(self, base: int, n: int) -> None:
        """Assign the top n stack values to s<base>..s<base+n-1> (stack unchanged)."""
        if n == 0:
            return
        vals = self.stack[-n:]
        dst = [f"s{base + i}" for i in range(n)]
        pairs = [(d, v) for d, v in zip(dst, vals) if v.code != d]
        if not pairs:
            return
        if len(pairs) == 1:
            self.emit(f"{pairs[0][0]} = {pairs[0][1].as_int()}")
        else:
            self.emit(", ".join(p[0] for p in pairs) + " = " + ", ".join(p[1].as_int() for p in pairs))

    @staticmethod
    def _guards(r: Region, ids: list[int]) -> tuple[list[bool], list[bool]]:
        """(guard, reset) per part: which parts a pending k may skip, and
        which parts are the target of one (and must reset k).

        A jump recorded in part j with target t may skip every later part
        whose start id is <= t; a restart (``continue`` of the dispatch
        loop) may skip any part with id <= t. One pass over the parts with a
        running maximum of the targets recorded so far, so the cost is
        linear in parts + records (not their product).
        """
        n = len(ids)
        by_part: list[int] = [-1] * n  # the largest target recorded in each part
        first_in: dict[int, int] = {}  # target -> first part that records it
        for j, t in r.krec:
            if j < n:
                if t > by_part[j]:
                    by_part[j] = t
                if first_in.get(t, n) > j:
                    first_in[t] = j
        restart_max = max(r.restarts, default=-1)
        restart_set = set(r.restarts)
        guard = [False] * n
        reset = [False] * n
        pending = -1  # the largest target recorded in parts before i
        for i in range(n):
            sid = ids[i]
            if sid <= pending or sid <= restart_max:
                guard[i] = True
                reset[i] = sid in restart_set or first_in.get(sid, n) < i
            if by_part[i] > pending:
                pending = by_part[i]
        return guard, reset

    def _assemble(self, r: Region, parts: list[tuple[int, Body]]) -> Body:
        guard, reset = self._guards(r, [p[0] for p in parts])
        for i in range(len(parts) - 1):
            if reset[i] and not parts[i][1]:
                # a target with no code: the next part is where a jump lands
                reset[i] = False
                guard[i + 1] = reset[i + 1] = True
        items: list[tuple[int, Body, bool]] = []  # (start id, code, guarded)
        tail: Body | None = None  # where a following part may become an else branch
        chain = 0
        for i, (sid, code) in enumerate(parts):
            if not code and not reset[i]:
                continue
            if guard[i] and not reset[i] and tail is not None and chain < DIAMOND_CHAIN \
                    and _ends_with_jump_past(tail, sid):
                # `if X: ...; k = T` then this part: it runs exactly when X was false
                tail.append(("else:", code))
                tail = code
                chain += 1
                continue
            if guard[i]:
                if reset[i] and not _sets_k(code):
                    code = ["k = 0"] + code
                items.append((sid, code, True))
            else:
                items.append((sid, code, False))
            tail = code
            chain = 0
        out: Body = []
        i = 0
        while i < len(items):
            if not items[i][2]:
                out.extend(items[i][1])
                i += 1
                continue
            j = i
            while j < len(items) and items[j][2]:
                j += 1
            out.extend(self._guard_tree(items[i:j]))
            i = j
        return out

    def _guard_tree(self, parts: list[tuple[int, Body, bool]]) -> Body:
        if len(parts) <= 4:
            out: Body = []
            for sid, code, _ in parts:
                out.append((f"if k <= {sid}:" if sid else "if not k:", code))
            return out
        half = len(parts) // 2
        first, second = parts[:half], parts[half:]
        return [(f"if k <= {first[-1][0]}:", self._guard_tree(first))] + self._guard_tree(second)

    # ------------------------------------------------------------ items
    def emit_item(self, it: Any, last: bool) -> None:
        if isinstance(it, Instr):
            self.charge(it.op)
            self.emit_instr(it)
        elif isinstance(it, Br):
            self.charge(it.op)
            if it.op == "br_table":
                self.emit_br_table(it)
            elif it.op == "br":
                self.emit_br(it.targets[0])
            elif it.op == "br_if":
                self.emit_br_if(it, last)
            elif it.op == "br_on_null":
                self.emit_br_on_null(it, last)  # type: ignore[attr-defined]
            elif it.op in RESUMES:
                self.emit_resume(it, last)  # type: ignore[attr-defined]
            else:  # br_on_non_null
                self.emit_br_on_non_null(it, last)  # type: ignore[attr-defined]
        else:
            tag, c = it
            if tag == "open" or tag == "lopen":
                self._open(c)
            elif tag == "kept":
                if c.kind == "loop":
                    self._kept_loop(c)
                elif c.kind in TRY_OPENERS:
                    self.kept_try(c)
                else:
                    self.charge("if")
                    self._kept_if(c)
            elif tag == "ifopen":
                self.charge("if")
                self._flat_if_open(c)
            elif tag == "lcheck":  # a loop no branch targets: its header runs once
                self.sync()
                for line in self.loop_checks():
                    self.emit(line)
            elif tag == "ifelse":
                self._flat_if_else(c)
            elif tag in TRY_ITEMS:
                self.emit_try_item(tag, c)
            else:  # pragma: no cover - planning invariant
                raise NeedFlat(f"unexpected item {tag}")

    def _open(self, c: Ctl) -> None:
        self.flush_all()
        base = len(self.stack) - c.nparams
        self.base[id(c)] = base

    def _kept_loop(self, c: Ctl) -> None:
        self.flush_all()
        base = len(self.stack) - c.nparams
        self.base[id(c)] = base
        # parameters change from one iteration to the next: they live in slots
        self.move_values(base, c.nparams)
        self.sync()
        self.reset_stack(base, [slot_entry(base + i) for i in range(c.nparams)])
        region = self.loop_region[id(c)]
        self.frames.append(Frame(region, c))
        body = self.loop_checks()
        body.extend(self.emit_region(region))
        self.frames.pop()
        end_live = self.live
        if region.wk:
            body.append((f"if k == {2 * c.end + 3}:", ["k = 0", "continue"]))
        if not body or body[-1] != "continue":
            body.append("break")
        self.out.append(("while True:", body))
        self.live = end_live
        self.reset_stack(base, [slot_entry(base + i) for i in range(c.nresults)])

    def _kept_if(self, c: Ctl) -> None:
        cond = self.pop()
        self.flush_all()
        base = len(self.stack) - c.nparams
        self.base[id(c)] = base
        params = self.stack[base:]
        then_r, else_r = self.arms[id(c)]
        self.sync()
        self.live = True
        then_body = self.emit_region(then_r)
        then_live = self.live
        self.reset_stack(base, params)
        self.live = True
        self.pending = 0  # the then arm paid (or ended in a trap)
        if else_r is not None:
            else_body = self.emit_region(else_r)
        else:
            else_body = []
            self.move_values(base, c.nresults)  # params pass through (same slots)
        else_live = self.live
        self.pending = 0  # both arms paid (or ended in a trap)
        if then_body:
            self.out.append((f"if {cond.as_cond()}:", then_body))
            if else_body:
                self.out.append(("else:", else_body))
        elif else_body:
            self.out.append((f"if not {cond.as_cond()}:", else_body))
        elif cond.trap:
            self.emit(cond.code)
        self.live = then_live or else_live or label_id(c.end) in self.hits
        self.reset_stack(base, [slot_entry(base + i) for i in range(c.nresults)])

    def _flat_if_open(self, c: Ctl) -> None:
        cond = self.pop()
        self.flush_all()
        base = len(self.stack) - c.nparams
        self.base[id(c)] = base
        # the else label reads the parameters from their slots
        self.move_values(base, c.nparams)
        self.reset_stack(base, [slot_entry(base + i) for i in range(c.nparams)])
        target = label_id(c.else_pos) if c.else_body is not None else label_id(c.end)
        self.hits.add(target)
        self._record(target, self.rstack[-1])
        self.sync()
        self.out.append((f"if not {cond.as_cond()}:", [f"k = {target}", "continue"]))
        self.rstack[-1].restarts.append(target)

    def _flat_if_else(self, c: Ctl) -> None:
        # end of the then-arm: results to their slots, jump to the end label
        self.move_values(self.base[id(c)], c.nresults)
        self.flat_jump_to_end(c)

    def flat_jump_to_end(self, c: Ctl) -> None:
        """Flat mode: jump to the end label of c (its results already in their slots)."""
        t = label_id(c.end)
        self.hits.add(t)
        self._record(t, self.rstack[-1])
        self.sync()
        self.emit(f"k = {t}")
        self.live = False

    def region_end(self, r: Region) -> None:
        """Fall-through at the end of a region (results to their place)."""
        if r.kind == "func":
            self.emit_return()
        else:
            c = r.ctl
            self.move_values(self.base[id(c)], c.nresults)  # type: ignore[union-attr]
            self.sync()

    # ------------------------------------------------------------ branches
    def _target_region(self, t: Ctl) -> Region:
        if id(t) in self.kept:
            return self.loop_region[id(t)]
        reg = self.owner.get(id(t))
        if reg is None:
            raise NeedFlat("no region for target")
        return reg

    def _record(self, tid: int, owner: Region) -> None:
        """A jump leaves k = tid pending: every region up to its owner must guard."""
        self.uses_k = True
        for reg in reversed(self.rstack):
            reg.krec.append((reg.cur, tid))
            if reg is owner:
                return
        raise NeedFlat("pending jump escapes its owner")

    def _tid(self, t: Ctl) -> int:
        if id(t) in self.kept:
            return 2 * t.end + 3
        if t.kind == "loop":  # dissolved (flat mode)
            return label_id(t.start)
        return label_id(t.end)

    def _dest(self, t: Ctl) -> tuple[int, int]:
        """(base height, arity) for a branch to t."""
        return self.base[id(t)], t.branch_arity

    def _next_label(self) -> int | None:
        """Start id of the segment after the current one in the current region."""
        r = self.rstack[-1]
        return r.segs[r.seg + 1].start_id if r.seg + 1 < len(r.segs) else None

    def _leaves_loop(self, owner: Region) -> bool:
        """Whether a jump to a label of owner must leave the innermost kept loop."""
        if not self.frames:
            return False
        loop_region = self.frames[-1].region
        reg: Region | None = owner
        while reg is not None:
            if reg is loop_region:
                return False
            reg = reg.parent
        return True

    def jump_code(self, t: Ctl, fallthrough_ok: bool) -> list[str]:
        """Statements that transfer control to t (values already moved).

        With fallthrough_ok the caller guarantees that the rest of the
        current segment is skipped (tail position, or an else branch), so a
        forward jump may just set k and fall through to the guards.
        """
        frame = self.frames[-1] if self.frames else None
        if id(t) in self.kept:
            if frame is not None and frame.ctl is t:
                return ["continue"]
            region = self.loop_region[id(t)]
            w = 2 * t.end + 3
            region.wk = True
            self._record(w, region)
            return [f"k = {w}", "break"]
        tid = self._tid(t)
        owner = self._target_region(t)
        self.hits.add(tid)
        if self.flat:
            pre = self.hx_switch(t.hctx)  # a label of another handler context
            nxt = self._next_label()
            if fallthrough_ok and nxt is not None and tid == nxt:
                return pre
            self._record(tid, owner)
            if fallthrough_ok and nxt is not None and tid > nxt:
                return pre + [f"k = {tid}"]
            owner.restarts.append(tid)
            return pre + [f"k = {tid}", "continue"]
        if self._leaves_loop(owner):
            self._record(tid, owner)
            return [f"k = {tid}", "break"]
        if not fallthrough_ok:  # pragma: no cover - callers always arrange the skip
            raise NeedFlat("jump needs a fall-through")
        if owner is self.rstack[-1] and tid == self._next_label() and not owner.may_split:
            return []
        self._record(tid, owner)
        return [f"k = {tid}"]

    def branch_to(self, t: Ctl, fallthrough_ok: bool) -> list[str]:
        """Code for a branch to t: moves of the branch values, then the jump."""
        if t.kind == "func":
            return self.sync_lines() + [self.return_code()]
        base, n = self._dest(t)
        saved = self.out
        lines: Body = []
        self.out = lines
        self.move_values(base, n)
        self.out = saved
        return lines + self.jump_code(t, fallthrough_ok)

    def emit_br(self, t: Ctl) -> None:
        self.flush_effects()
        self.sync()
        for line in self.branch_to(t, True):
            self.emit(line)
        self.live = False

    def emit_br_if(self, br: Br, last: bool) -> None:
        t = br.targets[0]
        cond = self.pop()
        # values stay for the fall-through: evaluate trapping ones first
        self.flush_effects()
        n = self.nresults if t.kind == "func" else t.branch_arity
        if n:
            top = len(self.stack)
            for i in range(top - n, top):
                if self.stack[i].kind not in (CONST, NAME):
                    self.flush_at(i)
        self.sync()
        c = cond.as_cond()
        if last or self.flat:
            code = self.branch_to(t, last)
            if code:
                self.out.append((f"if {c}:", code))
            elif cond.trap:
                self.emit(cond.code)
            return
        code = self.branch_to(t, True)
        if code and code[-1] in ("continue", "break") or (code and code[-1].startswith("return")):
            self.out.append((f"if {c}:", code))  # control leaves: nothing to skip
            return
        r = self.rstack[-1]
        if r.nest < ELSE_NESTING:
            rest: Body = []
            if code:
                self.out.append((f"if {c}:", code))
                self.out.append(("else:", rest))
            else:
                self.out.append((f"if not {c}:", rest))
            self.out = rest
            r.nest += 1
            return
        # too deep: the rest of the segment becomes a new part, skipped by k
        if not any(line.startswith("k = ") for line in code):
            tid = self._tid(t)
            self._record(tid, self._target_region(t))
            code = code + [f"k = {tid}"]
        self.out.append((f"if {c}:", code))
        r.split_to = label_id(br.pos)

    def emit_br_table(self, br: Br) -> None:
        idx = self.pop()
        self.flush_effects()
        targets = list(br.targets)
        default = targets.pop()
        n = default.branch_arity if default.kind != "func" else self.nresults
        if n:
            top = len(self.stack)
            for i in range(top - n, top):
                if self.stack[i].kind not in (CONST, NAME):
                    self.flush_at(i)
        idx = self.simple_operands([idx])[0]
        ic = idx.as_int()
        self.sync()
        self.live = False
        distinct: list[Ctl] = []  # in order of first use
        seen: set[int] = set()
        for t in targets + [default]:
            if id(t) not in seen:
                seen.add(id(t))
                distinct.append(t)
        if len(distinct) == 1:
            for line in self.branch_to(default, True):
                self.emit(line)
            return
        use_table = all(t.kind != "func" for t in distinct)
        if use_table and self.hx_on and any(t.hctx != self.hcur for t in distinct):
            use_table = False  # flat mode: some target needs hx set
        if use_table and n:
            use_table = len({self._dest(t)[0] for t in distinct}) == 1
        if use_table:
            self._br_table_k(targets, default, distinct, ic, n)
            return
        others = [t for t in distinct if t is not default]
        if len(distinct) > BR_TABLE_CHAIN:
            self._br_table_tree(targets, others + [default], ic)
            return
        # general case: a chain of tests, the default last
        groups: dict[int, list[int]] = {}
        for i, t in enumerate(targets):
            groups.setdefault(id(t), []).append(i)
        first = True
        for t in others + [default]:
            code = self.branch_to(t, True) or ["pass"]
            if t is default:
                if first:
                    for line in code:
                        self.emit(line)
                else:
                    self.out.append(("else:", code))
                break
            idxs = groups[id(t)]
            if len(idxs) == 1:
                test = f"{ic} == {idxs[0]}"
            else:
                test = f"{ic} in {{{', '.join(str(x) for x in idxs)}}}"
            self.out.append((f"{'if' if first else 'elif'} {test}:", code))
            first = False

    def _br_table_tree(self, targets: list[Ctl], ranked: list[Ctl], ic: str) -> None:
        """br_table with many distinct targets that k alone cannot reach.

        The target's rank in ``ranked`` (the default last) comes from a
        constant tuple; a binary tree of tests on the rank picks the branch.
        An elif chain would nest as deep as it is long, which CPython's
        compiler cannot take for thousands of targets.
        """
        rank = {id(t): j for j, t in enumerate(ranked)}
        self.ntemps += 1
        j = f"t{self.ntemps}"
        tbl = _tuple_literal([rank[id(t)] for t in targets])
        self.emit(f"{j} = {tbl}[{ic}] if {ic} < {len(targets)} else {len(ranked) - 1}")
        self.out.extend(self._rank_tree(ranked, j, 0, len(ranked)))

    def _rank_tree(self, ranked: list[Ctl], j: str, lo: int, hi: int) -> Body:
        """Tests on the rank j in [lo, hi) leading to the branches to ranked[lo:hi]."""
        if hi - lo <= BR_TABLE_CHAIN // 2:
            out: Body = []
            for r in range(lo, hi):
                code = self.branch_to(ranked[r], True) or ["pass"]
                if r == hi - 1:
                    if not out:
                        return code
                    out.append(("else:", code))
                else:
                    out.append((f"{'elif' if out else 'if'} {j} == {r}:", code))
            return out
        mid = (lo + hi) // 2
        return [(f"if {j} < {mid}:", self._rank_tree(ranked, j, lo, mid)),
                ("else:", self._rank_tree(ranked, j, mid, hi))]

    def _br_table_k(self, targets: list[Ctl], default: Ctl, distinct: list[Ctl], ic: str,
                    n: int) -> None:
        """br_table as one assignment of k from a constant tuple."""
        self.move_values(self._dest(default)[0], n)
        ids = [self._tid(t) for t in targets + [default]]
        frame = self.frames[-1] if self.frames else None
        leave = False  # some target is outside the innermost kept loop
        own = False  # some target is the innermost kept loop's header
        for t in distinct:
            if id(t) in self.kept:
                region = self.loop_region[id(t)]
                region.wk = True
                self._record(2 * t.end + 3, region)
                if frame is not None and frame.ctl is t:
                    own = True
                else:
                    leave = True
            else:
                tid = self._tid(t)
                owner = self._target_region(t)
                self.hits.add(tid)
                self._record(tid, owner)
                if self.flat:
                    owner.restarts.append(tid)
                elif self._leaves_loop(owner):
                    leave = True
        tbl = _tuple_literal(ids[:-1])
        self.emit(f"k = {tbl}[{ic}] if {ic} < {len(ids) - 1} else {ids[-1]}")
        if self.flat:
            self.emit("continue")
            return
        if frame is not None:
            w = 2 * frame.ctl.end + 3  # type: ignore[union-attr]
            if own:
                self.out.append((f"if k == {w}:", ["k = 0", "continue"]))
            if leave:
                self.out.append((f"if k > {w}:", ["break"]))

    # ------------------------------------------------------------ return
    def return_code(self) -> str:
        n = self.nresults
        if n == 0:
            return "return"
        vals = self.stack[-n:]
        if n == 1:
            return f"return {vals[0].as_int()}"
        return "return (" + ", ".join(v.as_int() for v in vals) + ")"

    def emit_return(self) -> None:
        self.flush_effects()
        self.sync()
        self.emit(self.return_code())
        self.live = False


from .exceptions import TRY_ITEMS, label_ctl  # noqa: E402 - exceptions.py imports this module
