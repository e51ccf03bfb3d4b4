"""The bytes behind a linear memory: reserved (static) and moving (dynamic) heaps.

A :class:`Heap` sits on one anonymous private ``mmap``. The part the guest
may address is ``view``, a ``memoryview`` of the first ``size`` bytes:
``struct`` and indexing raise (``struct.error``/``IndexError``) past its
end, so bounds checks cost nothing extra, and the call boundary turns them
into the trap "out of bounds memory access".

Two kinds, one class:

* reserved ("static"): the mapping is as large as the memory may ever get
  (``capacity`` = the limit). Growing makes a longer slice of the same
  mapping: O(1), nothing copied, nothing moves, and the new bytes are zero
  because the system gives untouched pages zeroed.
* dynamic (``may_move``): the mapping holds the current size plus
  ``growth`` bytes. Growing within it is as above; growing past it maps a
  new region, copies the current bytes once, and *moves*: every host view
  of the old bytes is released (using one raises ``ValueError``).

Compiled code reaches the view through names in its instance's globals
(``M<i>``); :meth:`Heap.bind` records each (owner, name) weakly and every
change of ``view`` is published to all of them, so instances that import
and export one memory always agree. Nothing may keep a view across a call
or a grow (generated code reads the global at every use).

Views handed out are tracked so that they can be made invalid: when a
memory moves, or when its store is closed (:meth:`Heap.detach`), they are
released. A view derived from ours by someone else (``numpy.frombuffer``
makes its own) cannot be released; :meth:`Heap.detach` reports whether any
such view is still alive, so that the pooling allocator never hands that
mapping to another tenant. (The mapping is exported through a ``ctypes``
array that only our views hold; while a weak reference to it is alive,
someone still holds a view.)

Raises :class:`~wasmbox.errors.InstantiationError` when a mapping cannot be
made (address space exhausted), :class:`ValueError` for inconsistent sizes
(a memory larger than its reservation); growing never raises (it returns
False).
"""
from __future__ import annotations

import ctypes
import mmap
import platform
import sys
import weakref
from typing import Any

from ..errors import InstantiationError

#: the host's page size (mappings and wipes are rounded to it)
HOST_PAGE = mmap.PAGESIZE

#: ``MAP_NORESERVE``: reserve address space without committing memory. The
#: ``mmap`` module of Python 3.11 does not name it; its value is 0x4000 on
#: the common Linux ports.
_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0)
if not _NORESERVE and sys.platform.startswith("linux") and \
        platform.machine() in ("x86_64", "AMD64", "aarch64", "arm64", "i386", "i686", "armv7l"):
    _NORESERVE = 0x4000

_FLAGS: int | None = None
if hasattr(mmap, "MAP_PRIVATE") and hasattr(mmap, "MAP_ANONYMOUS"):
    _FLAGS = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _NORESERVE

#: ``madvise(MADV_DONTNEED)`` gives zero pages back on Linux (not on BSDs)
CAN_DISCARD = sys.platform.startswith("linux") and hasattr(mmap, "MADV_DONTNEED") and \
    hasattr(mmap.mmap, "madvise")

#: binders and host views are pruned of dead entries past this many
_PRUNE_AT = 32


#: what a detached heap shows: no bytes (every access is out of bounds); never released
_EMPTY = memoryview(bytearray(0))

#: capacity -> ctypes array type (pool slots and common maxima repeat)
_ARRAY_TYPES: dict[int, Any] = {}


def round_up(n: int) -> int:
    """n rounded up to a whole number of host pages (at least one page)."""
    if n <= 0:
        return HOST_PAGE
    return (n + HOST_PAGE - 1) // HOST_PAGE * HOST_PAGE


def map_anonymous(length: int) -> mmap.mmap:
    """A new zeroed private anonymous mapping of ``round_up(length)`` bytes.

    Raises InstantiationError when the system refuses it.
    """
    size = round_up(length)
    try:
        if _FLAGS is None:  # pragma: no cover - non-POSIX hosts
            return mmap.mmap(-1, size)
        return mmap.mmap(-1, size, flags=_FLAGS)
    except (OSError, ValueError, OverflowError, MemoryError) as e:
        raise InstantiationError(f"cannot reserve {size} bytes for a linear memory: {e}") from None


def discard(mm: mmap.mmap, length: int) -> int:
    """Zero the first ``length`` bytes of mm the cheapest way; returns bytes wiped.

    On Linux, ``madvise(MADV_DONTNEED)``: the pages go back to the system and
    read as zero when touched again, so the cost follows the pages that were
    actually used. Elsewhere the bytes are overwritten with zeros.
    """
    if length <= 0:
        return 0
    n = min(round_up(length), len(mm))
    if CAN_DISCARD:
        mm.madvise(mmap.MADV_DONTNEED, 0, n)
    else:  # pragma: no cover - non-Linux hosts
        chunk = 1 << 20
        zeros = bytes(chunk)
        for at in range(0, n, chunk):
            k = min(chunk, n - at)
            mm[at:at + k] = zeros[:k]
    return n


def _release_all(hosts: list[weakref.ref], views: tuple[memoryview, ...],
                 probe: weakref.ref) -> bool:
    """Release the views; True if no view of their mapping survives."""
    clean = True
    for ref in hosts:
        v = ref()
        if v is not None:
            try:
                v.release()
            except BufferError:
                clean = False
    for v in views:  # ours: only a view derived from one of them can refuse
        try:
            v.release()
        except BufferError:
            clean = False
    return clean and probe() is None


class Heap:
    """A memory's bytes (see the module docstring).

    ``Heap(capacity, limit, initial, growth=0, may_move=False)``: a heap on a
    new mapping of its own; ``capacity`` bytes are addressable without
    moving, ``limit`` is the most the heap may ever hold, ``initial`` its
    starting size. :meth:`borrow` makes one on an existing mapping (a pool
    slot) that it never closes.
    """

    __slots__ = ("view", "size", "capacity", "limit", "hwm", "growth", "may_move", "moves",
                 "_mm", "_owned", "_base", "_probe", "_binders", "_hosts", "_prune_at",
                 "__weakref__")

    def __init__(self, capacity: int, limit: int, initial: int, growth: int = 0,
                 may_move: bool = False) -> None:
        if not 0 <= initial <= capacity <= limit or (not may_move and capacity != limit):
            raise ValueError(f"inconsistent heap: initial {initial}, capacity {capacity}, limit "
                             f"{limit} bytes")
        self._start(map_anonymous(capacity), True, capacity, limit, initial, growth, may_move)

    @classmethod
    def borrow(cls, mapping: mmap.mmap, capacity: int, initial: int) -> "Heap":
        """A reserved heap of ``capacity`` bytes on a mapping it does not own (a
        pool slot): it never moves and never closes the mapping.

        Raises ValueError for inconsistent sizes.
        """
        if not 0 <= initial <= capacity <= len(mapping):
            raise ValueError(f"inconsistent heap: initial {initial}, capacity {capacity}, "
                             f"mapping of {len(mapping)} bytes")
        self = cls.__new__(cls)
        self._start(mapping, False, capacity, capacity, initial, 0, False)
        return self

    def _start(self, mm: mmap.mmap, owned: bool, capacity: int, limit: int, initial: int,
               growth: int, may_move: bool) -> None:
        """Set every field of a new heap (the sizes are checked by the caller)."""
        self.limit = limit
        self.growth = growth
        self.may_move = may_move
        self.moves = 0
        self._binders: list[tuple[weakref.ref, str]] = []
        self._hosts: list[weakref.ref] = []
        self._prune_at = _PRUNE_AT
        self._mm = mm
        self._owned = owned
        self._attach(capacity)
        self.size = self.hwm = initial
        self.view = self._base[:initial]

    # -- the mapping ----------------------------------------------------------
    def _attach(self, capacity: int) -> None:
        """Export ``capacity`` bytes of the mapping through a fresh probe."""
        atype = _ARRAY_TYPES.get(capacity)
        if atype is None:
            if len(_ARRAY_TYPES) > 256:
                _ARRAY_TYPES.clear()
            atype = _ARRAY_TYPES[capacity] = ctypes.c_ubyte * capacity
        carr = atype.from_buffer(self._mm)
        self._probe = weakref.ref(carr)
        self._base = memoryview(carr).cast("B")
        self.capacity = capacity

    # -- growing --------------------------------------------------------------
    def grow_to(self, new_size: int) -> bool:
        """Make the heap ``new_size`` bytes (>= its size); False if it cannot."""
        if new_size > self.capacity:
            if not self.may_move or new_size > self.limit:
                return False
            if not self._move(new_size):
                return False
        self.view = self._base[:new_size]
        self.size = new_size
        if new_size > self.hwm:
            self.hwm = new_size
        self._publish()
        return True

    def _move(self, new_size: int) -> bool:
        """Map a larger region, copy the bytes, release views of the old one."""
        capacity = min(self.limit, new_size + self.growth)
        try:
            mm = map_anonymous(capacity)
        except InstantiationError:
            return False
        old_mm, old_owned, old_hosts = self._mm, self._owned, self._hosts
        old_view, old_base, old_probe = self.view, self._base, self._probe
        self._mm, self._owned, self._hosts = mm, True, []
        self._attach(capacity)
        self._base[:self.size] = old_view
        # views derived by others keep the old bytes alive (a stale copy)
        clean = _release_all(old_hosts, (old_view, old_base), old_probe)
        if old_owned and clean:
            try:
                old_mm.close()
            except BufferError:  # pragma: no cover - clean means nothing exports it
                pass
        self.moves += 1
        return True

    # -- views ----------------------------------------------------------------
    def bind(self, owner: Any, name: str) -> None:
        """Bind the view as ``owner._g[name]`` now and after every change."""
        binders = self._binders
        if len(binders) >= _PRUNE_AT:
            binders[:] = [b for b in binders if b[0]() is not None]
        binders.append((weakref.ref(owner), name))
        owner._g[name] = self.view

    def _publish(self) -> None:
        view = self.view
        for ref, name in self._binders:
            owner = ref()
            if owner is not None:
                owner._g[name] = view

    def host_view(self) -> memoryview:
        """A new zero-copy view of the current bytes, released when the heap moves."""
        v = self._base[:self.size]
        hosts = self._hosts
        if len(hosts) >= self._prune_at:  # drop dead entries; amortised O(1)
            hosts[:] = [r for r in hosts if r() is not None]
            self._prune_at = max(_PRUNE_AT, 2 * len(hosts))
        hosts.append(weakref.ref(v))
        return v

    # -- the end --------------------------------------------------------------
    def detach(self) -> bool:
        """Unbind and release everything; True if no view of the bytes survives.

        Afterwards the heap is empty and cannot grow; instances bound to it
        see an empty writable view (every access is out of bounds: a trap,
        never a crash). An owned mapping is closed
        when nothing else holds it; a borrowed one is left to its owner.
        Calling it again does nothing (and returns True).
        """
        mm = self._mm
        if mm is None:
            return True
        for ref, name in self._binders:
            owner = ref()
            if owner is not None:
                owner._g[name] = _EMPTY
        self._binders = []
        clean = _release_all(self._hosts, (self.view, self._base), self._probe)
        self._hosts = []
        self._mm = None
        self.view = self._base = _EMPTY
        self.size = self.capacity = self.limit = 0
        self.may_move = False
        if self._owned and clean:
            try:
                mm.close()
            except BufferError:  # pragma: no cover - clean means nothing exports it
                pass
        return clean

    @property
    def detached(self) -> bool:
        """True once :meth:`detach` ran."""
        return self._mm is None

    def __repr__(self) -> str:
        kind = "dynamic" if self.may_move else "reserved"
        return f"<Heap {kind} {self.size}/{self.capacity} bytes>"
