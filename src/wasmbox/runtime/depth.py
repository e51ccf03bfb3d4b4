"""Call depth: the stack budget of a call, and Python's recursion limit.

Every Wasm call is one Python call, and deep recursion must end in "call
stack exhausted" -- never in a crash, a ``MemoryError`` or one thread
failing because of another. Two mechanisms:

* **The budget** (``Config.max_wasm_stack`` bytes, wasmtime's option). Each
  generated function takes the remaining budget as its last argument
  ``d``; its prologue checks that its own frame fits and passes what is
  left to its callees, so the budget lives on the Python stack of the
  thread that runs the call: nothing is shared between threads or stores,
  nothing needs undoing when a trap unwinds. A frame is reckoned at
  :data:`FRAME_BASE` bytes plus :data:`FRAME_PER_LOCAL` per Python local
  variable of the generated function (:func:`frame_bytes`). A host function
  called from Wasm keeps its caller's remaining budget in the store
  (``Store._budget``) so that a call back into Wasm continues from it.
* **Python's recursion limit** is process-wide in CPython; the depth it
  limits is per thread. It must be high enough for the deepest budget, so
  :func:`enter` raises it (under a lock) when a thread starts running Wasm
  and :func:`leave` restores the value it found once no thread runs Wasm
  any more. It is only ever raised while any thread is inside Wasm, so no
  thread can lower it under another one. (Python code that is not Wasm and
  that recurses past the original limit while a Wasm call runs in another
  thread may see the limit come back down afterwards; CPython offers no
  per-thread limit.) The budget always ends a call before the raised limit
  is reached; a ``RecursionError`` that happens anyway (deep host code) is
  turned into "call stack exhausted" by the call boundary.

Raises nothing.
"""
from __future__ import annotations

import sys
import threading

#: bytes reckoned for every frame (CPython's frame header and evaluation stack)
FRAME_BASE = 96
#: bytes reckoned for each Python local variable of a generated function
#: (its slot in the frame and, on average, part of the value it holds)
FRAME_PER_LOCAL = 16
#: Python frames a host -> Wasm -> host re-entry adds besides Wasm frames
#: (the host function, its wrapper, Func.__call__, the call boundary)
REENTRY_FRAMES = 8
#: Python frames allowed for everything else (helpers, host code)
FRAME_MARGIN = 500


def frame_bytes(nlocals: int) -> int:
    """The stack a frame with ``nlocals`` Python local variables is reckoned at."""
    return FRAME_BASE + FRAME_PER_LOCAL * nlocals


def frames_for(budget: int, max_reentry: int) -> int:
    """Python frames a call with ``budget`` bytes may need at most."""
    return budget // FRAME_BASE + max_reentry * REENTRY_FRAMES + FRAME_MARGIN


_lock = threading.Lock()
_acquire, _release = _lock.acquire, _lock.release
_get, _set = sys.getrecursionlimit, sys.setrecursionlimit
#: [threads running Wasm, the limit found when the first of them entered,
#: the limit set here (0: left as found)] -- one list, read and written
#: with the lock held (enter/leave are on the path of every call from the host)
_state = [0, 0, 0]


def enter(frames: int) -> None:
    """A thread starts running Wasm that may need ``frames`` Python frames."""
    _acquire()
    try:
        st = _state
        if st[0] == 0:
            st[1] = _get()
            st[2] = 0
        st[0] += 1
        want = st[1] + frames
        if want > _get():
            _set(want)
            st[2] = want
    finally:
        _release()


def leave() -> None:
    """The thread that called :func:`enter` stops running Wasm."""
    _acquire()
    try:
        st = _state
        st[0] -= 1
        if st[0] == 0 and st[2]:
            # someone else changed it meanwhile: theirs stays
            if _get() == st[2]:
                try:
                    _set(st[1])
                except RecursionError:  # pragma: no cover - deeper than the old limit
                    pass
            st[2] = 0
    finally:
        _release()
