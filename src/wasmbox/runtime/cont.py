"""Continuations (stack switching) on greenlets: the runtime core of generated code.

Each continuation runs on a greenlet of its own (:class:`Stack`, a real
C-stack switch, the Python counterpart of wasmtime's fiber stacks). What a
``(ref $ct)`` value holds is a :class:`Cont`: a stack and a *revision*.
Continuations are one-shot: ``resume``, ``resume_throw``, ``switch`` and
``cont.bind`` consume the object they are given by bumping the stack's
revision, so using an object a second time (its revision is behind) traps
with "continuation already consumed".

States of a stack (``Stack.state``), and the only transitions:

* FRESH -- made by :func:`cont_new`, never run. -> RUNNING (first
  resume/switch), or RETURNED (``resume_throw`` raises before anything
  runs; dropped).
* RUNNING -- executing. -> PARENT (it resumes a child), SUSPENDED (it
  suspends or switches away), RETURNED (its function returned or raised).
* PARENT -- blocked in a ``resume`` of a child. -> RUNNING (the child
  returned, raised or suspended to this resume's handlers).
* SUSPENDED -- the innermost stack of a suspended continuation. -> RUNNING
  (resumed / switched to / thrown into), RETURNED (dropped: unwound).
* RETURNED -- finished; its greenlet is dead.

The *chain*: a running stack's greenlet ``parent`` is its resumer (another
stack, or the thread's root -- whatever was running when Wasm was entered),
and its ``tags``/``stags`` are the suspend/switch handlers of that resume
(dicts tag -> handler code; tags are opaque objects compared by identity).
A suspended continuation may span several stacks (a suspend that goes past
inner resumes to an outer handler): :attr:`Cont.chain` lists them innermost
first and ``resume`` re-links them, so resuming is O(1) for one stack and
O(n) for a continuation of n stacks -- the same order as the handler search
that captured it.

Values move by value: a resume passes its arguments in the target stack's
``sargs`` slot (never as switch arguments, so that no blocked frame keeps a
continuation object alive), a suspension comes back to the resumer as
``(code, payload, head, chain)`` and :func:`resume` makes the new
:class:`Cont` there. What generated code sees:

* :func:`resume` / :func:`resume_throw` return ``(-1, results)`` when the
  continuation returned (results as a call returns them: None, one value
  or a tuple), or ``(code, payload + (cont,))`` when it suspended to the
  handler whose code is ``code`` (>= 0): the resume site branches on it.
* :func:`suspend` / :func:`switch` return the tuple of values the
  continuation was resumed with.

Host frames are barriers: a suspension may only capture Wasm frames. The
host re-entry depth (``store._tls.depth``, counted by ``call_wasm``) is
recorded at every resume (``rdepth``); a suspend or switch whose handler is
on the other side of a host frame traps with "unhandled tag", as in
wasmtime (which starts a new stack chain at every host entry).

Stack budget: a continuation's function starts with the budget ``d`` that
the resume that starts it had left, less :data:`START_COST` (a fresh
continuation is like a call); one started by ``switch`` gets the budget of
the stack it replaces. Fresh greenlets are always started from the thread's
*launcher* greenlet, so every continuation's C stack begins at the same
place and its Python depth at the launcher's: nesting continuations or
switching between them never piles up C stack.

Dropping: when the valid :class:`Cont` of a suspended continuation is
freed (its :class:`Guard` with it), its stacks are unwound at once with :class:`Dropped` (a
``GreenletExit``: a ``BaseException`` that generated code never catches;
guest handlers catch only Wasm exceptions), so nothing in Wasm runs and
frames that refer back to the continuation cannot keep it alive. A Fresh
one is released without running.

Threads: a continuation belongs to the thread that made it; resuming it
from another thread traps ("continuation belongs to another thread"). One
dropped in another thread is unwound by its own thread, at that thread's
next ``cont.new`` or ``resume`` (a thread that never runs one again keeps
it).

Raises :class:`~wasmbox.errors.Trap` ("null continuation reference",
"null function reference", "continuation already consumed", "unhandled
tag", "continuation belongs to another thread"),
:class:`~wasmbox.errors.Exhaustion` (no budget left to start one), and
whatever the continuation raised (traps, Wasm exceptions) out of
:func:`resume`.
"""
from __future__ import annotations

import itertools
import threading
from typing import Any

from greenlet import GreenletExit, getcurrent, greenlet

from ..errors import Exhaustion, Trap, TrapCode, WasmboxError
from .depth import FRAME_BASE
from .store import _tls

FRESH, RUNNING, PARENT, SUSPENDED, RETURNED = 0, 1, 2, 3, 4
STATE_NAMES = ("Fresh", "Running", "Parent", "Suspended", "Returned")

#: budget charged when a continuation starts (its ``run`` frame and the switch)
START_COST = 2 * FRAME_BASE
#: code of a resume result whose continuation returned
RETURNED_CODE = -1

#: no handlers (the shared empty handler table)
NO_HANDLERS: dict = {}

_NULL = TrapCode.NULL_CONTINUATION
_CONSUMED = TrapCode.CONTINUATION_CONSUMED
_UNHANDLED = TrapCode.UNHANDLED_TAG
_THREAD = TrapCode.CONTINUATION_THREAD
_BARRIER_MSG = "unhandled tag: the handler is outside a host function frame"

_ident = threading.get_ident
_local = threading.local()

_started = itertools.count()
_finished = itertools.count()


class Dropped(GreenletExit):
    """Unwinds a suspended continuation that was dropped (never caught by guest code)."""


class Stack(greenlet):
    """One continuation stack (see the module docstring for the states)."""

    __slots__ = ("state", "rev", "fn", "bound", "sargs", "tags", "stags", "rdepth",
                 "budget", "owner", "guard", "store")

    def run(self) -> Any:  # greenlet's entry point; started by the launcher
        fn = self.fn
        args = self.sargs
        self.fn = self.sargs = None
        next(_started)
        try:
            r = fn(*args, self.budget)
        finally:
            self.state = RETURNED
            self.guard = None
            _release(self)
            next(_finished)
        return (RETURNED_CODE, r)

    def __repr__(self) -> str:
        st = getattr(self, "state", None)
        name = STATE_NAMES[st] if st is not None else "?"
        return f"<Stack {name} rev={getattr(self, 'rev', '?')}>"


class Cont:
    """A continuation object: a ``(ref $ct)`` value. One-shot (see the module docstring)."""

    __slots__ = ("stack", "rev", "chain", "guard")

    def __init__(self, stack: Stack, rev: int, chain: list[Stack] | None,
                 guard: "Guard | None") -> None:
        self.stack = stack  # the outermost stack (revision, handlers, parent)
        self.rev = rev
        self.chain = chain  # None: one stack; else its stacks, innermost first
        self.guard = guard  # while valid: the continuation's Guard

    @property
    def valid(self) -> bool:
        """Whether this object can still be resumed (not consumed)."""
        return self.rev == self.stack.rev

    @property
    def state(self) -> str:
        """The state of the stack execution continues on (for tests and debugging)."""
        top = self.stack if self.chain is None else self.chain[0]
        return STATE_NAMES[top.state]

    def __repr__(self) -> str:
        return f"<Cont {self.state}{'' if self.valid else ' consumed'}>"


class Guard:
    """One per continuation: held by its valid :class:`Cont` while it is Fresh or
    suspended, by its outermost running stack otherwise. When it is freed while
    suspended or Fresh, nothing can resume the continuation: it is dropped.
    (A finalizer here, not on every Cont, so that consumed objects cost nothing
    to free.)"""

    __slots__ = ("stack", "chain")

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.chain: list[Stack] | None = None

    def __del__(self) -> None:
        s = self.stack
        if s.guard is None:  # not held by a running stack: the last Cont is gone
            _drop(s, self.chain)


# -- creation -------------------------------------------------------------------
def _release(s: Stack) -> None:
    """A continuation stack is finished or dropped: it no longer counts
    against its store's ``Config.max_store_continuations``."""
    st = s.store
    if st is not None:
        s.store = None
        st._continuations -= 1


def cont_new(f: Any) -> Cont:
    """``cont.new``: a Fresh continuation of funcref ``f`` (its ``call``: args, then ``d``).

    Raises Trap "null function reference" when ``f`` is None, and "too many
    live continuations" when the store of ``f`` already has
    ``Config.max_store_continuations`` continuations that have not finished.
    """
    if f is None:
        raise Trap(TrapCode.NULL_FUNCTION_REFERENCE)
    if _pending:
        _reap()
    st = f._store
    if st._continuations >= st.config.max_store_continuations:
        raise Trap(TrapCode.TOO_MANY_CONTINUATIONS,
                   f"too many live continuations (Config.max_store_continuations = "
                   f"{st.config.max_store_continuations})")
    st._continuations += 1
    s = Stack()
    s.store = st
    s.state = FRESH
    s.rev = 0
    s.fn = f.call
    s.bound = ()
    s.sargs = None
    s.owner = _ident()
    s.guard = None
    return Cont(s, 0, None, Guard(s))


def cont_bind(k: Cont | None, args: tuple) -> Cont:
    """``cont.bind``: consume ``k`` and return a new object with ``args`` bound first.

    Raises Trap (null / consumed continuation).
    """
    if k is None:
        raise Trap(_NULL)
    s = k.stack
    if k.rev != s.rev:
        raise Trap(_CONSUMED)
    s.rev += 1
    chain = k.chain
    top = s if chain is None else chain[0]
    top.bound = top.bound + args
    g = k.guard
    k.guard = None
    return Cont(s, s.rev, chain, g)


# -- resume ---------------------------------------------------------------------
def _take(k: Cont | None, cur: greenlet, tags: dict, stags: dict, parent: greenlet,
          rdepth: int) -> Stack:
    """Consume ``k``, put its outermost stack under ``parent`` with these handlers,
    re-link its stacks; return the innermost one (where execution continues)."""
    if k is None:
        raise Trap(_NULL)
    s = k.stack
    if k.rev != s.rev:
        raise Trap(_CONSUMED)
    if s.parent is not parent:
        _adopt(s, parent)
    s.rev += 1
    s.guard = k.guard
    k.guard = None
    s.tags = tags
    s.stags = stags
    s.rdepth = rdepth
    chain = k.chain
    return s if chain is None else _relink(chain)


def _adopt(s: Stack, parent: greenlet) -> None:
    """Make ``parent`` the greenlet parent of ``s``; Trap if ``s`` is another thread's."""
    if s.state == FRESH and s.owner != _ident():  # greenlet would let it start here
        raise Trap(_THREAD)
    try:
        s.parent = parent
    except ValueError:  # a started greenlet of another thread
        raise Trap(_THREAD) from None


def _deliver(r: tuple) -> tuple:
    """A resume's result: a suspension's new continuation object is made here."""
    if r[0] < 0:
        return r
    h = r[2]
    g = h.guard
    h.guard = None
    g.chain = r[3]
    return (r[0], r[1], Cont(h, h.rev, r[3], g))


def resume(k: Cont | None, args: tuple, tags: dict, stags: dict, d: int) -> tuple:
    """``resume``: run ``k`` with ``args`` until it returns or suspends to ``tags``.

    ``tags`` maps each tag of this resume's ``(on $t $l)`` clauses to its
    handler code (>= 0), ``stags`` the tags of its ``(on $t switch)`` clauses
    (values unused); ``d`` is the caller's remaining stack budget. Returns
    ``(-1, results)`` or ``(code, payload, cont)`` (see the module
    docstring). Raises Trap (null / consumed / other thread), Exhaustion,
    and whatever the continuation raises.
    """
    # the hot path: _take and _deliver are written out here (a call each saved)
    if k is None:
        raise Trap(_NULL)
    s = k.stack
    if k.rev != s.rev:
        raise Trap(_CONSUMED)
    if _pending:
        _reap()
    cur = getcurrent()
    if s.parent is not cur:
        _adopt(s, cur)
    s.rev += 1
    s.guard = k.guard
    k.guard = None
    s.tags = tags
    s.stags = stags
    s.rdepth = _tls.depth
    chain = k.chain
    if chain is None:
        top = s
    else:
        top = _relink(chain)
    if top.bound:
        args = top.bound + args
        top.bound = ()
    st = top.state
    if st == SUSPENDED:
        top.sargs = args
        top.state = RUNNING
        if type(cur) is Stack:
            cur.state = PARENT
            try:
                r = top.switch()
            finally:
                cur.state = RUNNING
        else:
            r = top.switch()
    elif st == FRESH:
        r = _start(cur, top, args, d - START_COST)
    else:  # pragma: no cover - a valid revision means Fresh or Suspended
        raise WasmboxError(f"internal error: resuming a {STATE_NAMES[st]} stack")
    if r[0] < 0:
        return r
    h = r[2]  # as _deliver does
    g = h.guard
    h.guard = None
    g.chain = r[3]
    return (r[0], r[1], Cont(h, h.rev, r[3], g))


def _relink(chain: list[Stack]) -> Stack:
    """Link the stacks of a suspended continuation again; the innermost one."""
    for i in range(len(chain) - 1):
        chain[i].parent = chain[i + 1]
    return chain[0]


def _start(cur: greenlet, top: Stack, args: tuple, d: int) -> tuple:
    """Start Fresh ``top`` (already under ``cur``) with ``args`` and budget ``d``."""
    if d < 0:
        raise Exhaustion()
    top.sargs = args
    top.budget = d
    top.state = RUNNING
    launcher = _launcher()
    if type(cur) is Stack:
        cur.state = PARENT
        try:
            return launcher.switch(top)
        finally:
            cur.state = RUNNING
    return launcher.switch(top)


def resume_throw(k: Cont | None, exc: BaseException, tags: dict, stags: dict,
                 d: int) -> tuple:
    """``resume_throw``: resume ``k`` by raising ``exc`` where it is suspended.

    A Fresh continuation runs nothing: it is Returned and ``exc`` is raised
    here. Otherwise like :func:`resume` (the continuation may catch ``exc``
    and then return or suspend to these handlers). Raises like resume, and
    ``exc`` when the continuation does not catch it.
    """
    cur = getcurrent()
    top = _take(k, cur, tags, stags, cur, _tls.depth)
    st = top.state
    if st == FRESH:
        top.state = RETURNED
        top.fn = None
        top.bound = ()
        _release(top)
        raise exc
    if st != SUSPENDED:  # pragma: no cover - a valid revision means Fresh or Suspended
        raise WasmboxError(f"internal error: resuming a {STATE_NAMES[st]} stack")
    top.bound = ()
    top.state = RUNNING
    if type(cur) is Stack:
        cur.state = PARENT
        try:
            r = top.throw(exc)
        finally:
            cur.state = RUNNING
    else:
        r = top.throw(exc)
    return _deliver(r)


def resume_throw_ref(k: Cont | None, exn: BaseException | None, tags: dict, stags: dict,
                     d: int) -> tuple:
    """``resume_throw_ref``: :func:`resume_throw` with an exception reference.

    Raises Trap "null exception reference" when ``exn`` is None (after the
    continuation checks), otherwise like resume_throw.
    """
    if k is None:
        raise Trap(_NULL)
    if k.rev != k.stack.rev:
        raise Trap(_CONSUMED)
    if exn is None:
        raise Trap(TrapCode.NULL_REFERENCE, "null exception reference")
    return resume_throw(k, exn, tags, stags, d)


# -- suspend and switch -----------------------------------------------------------
def _find(cur: greenlet, tag: Any, switch: bool) -> tuple[Stack, Any, list[Stack] | None]:
    """The innermost stack whose resume handles ``tag`` (a switch or a suspend
    handler), its handler code, and the stacks up to it (None: just ``cur``)."""
    dep = _tls.depth
    h = cur
    chain = None
    while True:
        if type(h) is not Stack:
            raise Trap(_UNHANDLED)
        if h.rdepth != dep:  # a host frame lies between here and h's resume
            raise Trap(_UNHANDLED, _BARRIER_MSG)
        code = (h.stags if switch else h.tags).get(tag)
        if code is not None:
            return h, code, chain
        if chain is None:
            chain = [h]
        h = h.parent
        if type(h) is Stack:
            chain.append(h)


def suspend(tag: Any, args: tuple) -> tuple:
    """``suspend $tag``: hand ``args`` to the innermost resume handling ``tag``.

    Returns the values the continuation is resumed with (raises what
    ``resume_throw`` throws into it). Raises Trap "unhandled tag" when no
    handler is found (also on the root stack, and across a host frame).
    """
    cur = getcurrent()
    if type(cur) is Stack and cur.rdepth == _tls.depth:
        code = cur.tags.get(tag)
        if code is not None:  # the common case: handled by our own resumer
            cur.state = SUSPENDED
            cur.parent.switch((code, args, cur, None))
            a = cur.sargs
            cur.sargs = None
            return a
    h, code, chain = _find(cur, tag, False)
    cur.state = SUSPENDED
    h.parent.switch((code, args, h, chain))
    a = cur.sargs
    cur.sargs = None
    return a


def switch(k: Cont | None, args: tuple, tag: Any) -> tuple:
    """``switch $ct $tag``: suspend the current continuation up to the innermost
    ``(on $tag switch)`` handler and run ``k`` in its place, with ``args``
    and the continuation of the current one appended.

    Returns the values the current continuation is resumed with. Raises Trap
    (null / consumed ``k``, "unhandled tag", other thread), Exhaustion.
    """
    if k is None:
        raise Trap(_NULL)
    if k.rev != k.stack.rev:
        raise Trap(_CONSUMED)
    cur = getcurrent()
    h, _code, chain = _find(cur, tag, True)
    top = _take(k, cur, h.tags, h.stags, h.parent, h.rdepth)
    b = top.bound
    if b:
        args = b + args
        top.bound = ()
    gd = h.guard
    h.guard = None
    gd.chain = chain
    top.sargs = args + (Cont(h, h.rev, chain, gd),)
    del gd  # this frame stays while we are suspended: it must not keep our guard
    cur.state = SUSPENDED
    if top.state == FRESH:
        top.budget = h.budget
        top.state = RUNNING
        _launcher().switch(top)
    else:
        top.state = RUNNING
        top.switch()
    a = cur.sargs
    cur.sargs = None
    return a


def live_stacks() -> int:
    """Stacks started and not finished yet, in all threads (for leak checks)."""
    # reading a count advances it: both by one, so the difference stays right
    return next(_started) - next(_finished)


def current_stack() -> Stack | None:
    """The continuation running now, or None on a thread's root stack."""
    g = getcurrent()
    return g if type(g) is Stack else None


# -- the launcher and dropping ----------------------------------------------------------
def _launch(g: Stack) -> None:
    """The launcher's loop: start each stack it is handed (see the module docstring)."""
    while True:
        try:
            g = g.switch()
        except GreenletExit:  # the thread is gone: so is its launcher
            raise
        except BaseException as e:  # noqa: BLE001 - the start failed: tell its resumer
            p = g.parent
            g = None  # type: ignore[assignment]
            g = p.throw(e)


def _launcher() -> greenlet:
    """This thread's launcher greenlet (made on first use)."""
    try:
        return _local.launcher
    except AttributeError:
        pass
    root = getcurrent()
    while root.parent is not None:
        root = root.parent
    lg = greenlet(_launch, root)
    _local.launcher = lg
    return lg


#: owner thread -> stacks of continuations dropped in another thread, to unwind there
_pending: dict[int, list] = {}
_pending_lock = threading.Lock()


def _drop(s: Stack, chain: list[Stack] | None) -> None:
    """Nothing can resume this continuation any more: release its stacks now."""
    try:
        s.rev += 1
        stacks = (s,) if chain is None else chain
        top = stacks[0]
        if top.state == FRESH:
            top.state = RETURNED
            top.fn = top.sargs = None
            top.bound = ()
            _release(top)
            return
        if top.state != SUSPENDED:  # it finished (its guard went with it): nothing to do
            return
        if top.owner != _ident():  # only its own thread can switch into it
            with _pending_lock:
                _pending.setdefault(top.owner, []).append(stacks)
            return
        _unwind(stacks)
    except BaseException:  # noqa: BLE001 - never raise out of __del__
        pass


def _unwind(stacks: Any) -> None:
    """Throw Dropped into suspended stacks, innermost first (nothing catches it)."""
    me = getcurrent()
    for x in stacks:
        if x.dead or not x:
            continue
        x.parent = me
        try:
            x.throw(Dropped)
        except Dropped:
            pass


def _reap() -> None:
    """Unwind this thread's continuations that other threads dropped."""
    with _pending_lock:
        todo = _pending.pop(_ident(), None)
    for stacks in todo or ():
        try:
            _unwind(stacks)
        except BaseException:  # noqa: BLE001 - as in __del__
            pass
