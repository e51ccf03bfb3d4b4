"""Linear memories.

A :class:`Memory` owns ``buf``, the bytes the guest addresses. Compiled code
binds ``buf`` once and indexes it directly, so the buffer object must never
be replaced: growing extends it in place. (``buf`` is a ``bytearray`` today;
a later backing -- a reserved ``mmap`` -- only has to keep that contract:
same object for the memory's lifetime, ``len`` = accessible size, item and
``struct`` access raising on out-of-bounds.) Never hand out a ``memoryview``
of ``buf``: a live view would make growing fail.

Rules (spec): the size is a whole number of pages; ``grow`` returns the old
size in pages or -1 (all ones) and changes nothing on failure; new bytes
read as zero.

Raises :class:`~wasmbox.errors.WasmboxError` when an API call cannot be
done (growing past the maximum), :class:`IndexError` for API writes out of
range, :class:`TypeError` for bad arguments.
"""
from __future__ import annotations

from typing import Any

from ..errors import WasmboxError
from ..syntax import types as st
from .store import Store
from .types import MemoryType


class Memory:
    """A linear memory; ``Memory(store, MemoryType(Limits(min, max)))``."""

    __slots__ = ("buf", "_type", "page_shift", "max_pages", "is64", "_store", "__weakref__")

    def __init__(self, store: Store, ty: MemoryType) -> None:
        if not isinstance(store, Store):
            raise TypeError("Memory(store, ty): expected a Store")
        if not isinstance(ty, MemoryType):
            raise TypeError("Memory(store, ty): expected a MemoryType")
        self._init(store, ty._t)

    @classmethod
    def _create(cls, store: Store, mt: st.MemType) -> "Memory":
        self = cls.__new__(cls)
        self._init(store, mt)
        return self

    def _init(self, store: Store, mt: st.MemType) -> None:
        self._store = store
        self._type = mt
        self.page_shift = mt.page_size_log2 if mt.page_size_log2 is not None else 16
        self.is64 = mt.limits.addr is st.AddrType.I64
        spec_cap = (1 << (64 - self.page_shift)) if self.is64 else (1 << (32 - self.page_shift))
        cap = min(spec_cap, (store.config.max_memory_pages << 16) >> self.page_shift)
        self.max_pages = cap if mt.limits.max is None else min(cap, mt.limits.max)
        if mt.limits.min > self.max_pages:
            raise WasmboxError(f"memory minimum of {mt.limits.min} pages exceeds the limit "
                               f"of {self.max_pages} pages")
        try:
            self.buf = bytearray(mt.limits.min << self.page_shift)
        except MemoryError:
            raise WasmboxError("cannot allocate the memory's initial size") from None

    # -- used by compiled code ------------------------------------------------
    def grow_raw(self, delta: int) -> int:
        """memory.grow: the old size in pages, or -1 (as an unsigned value)."""
        old = len(self.buf) >> self.page_shift
        fail = 0xFFFFFFFFFFFFFFFF if self.is64 else 0xFFFFFFFF
        if delta > self.max_pages - old:
            return fail
        if delta:
            try:
                self.buf.extend(bytes(delta << self.page_shift))
            except (MemoryError, OverflowError, BufferError):
                return fail
        return old

    @property
    def current_pages(self) -> int:
        return len(self.buf) >> self.page_shift

    # -- API ------------------------------------------------------------------
    def type(self, store: Any = None) -> MemoryType:
        """The memory's type (with its current minimum)."""
        lim = self._type.limits
        return MemoryType._wrap(st.MemType(st.Limits(self.current_pages, lim.max, lim.addr,
                                                     lim.shared), self._type.page_size_log2))

    def grow(self, store: Any, delta: int) -> int:
        """Grow by delta pages; returns the old size. Raises WasmboxError on failure."""
        if not isinstance(delta, int) or delta < 0:
            raise TypeError("Memory.grow: delta must be a non-negative int")
        old = self.grow_raw(delta)
        if old == (0xFFFFFFFFFFFFFFFF if self.is64 else 0xFFFFFFFF):
            raise WasmboxError(f"failed to grow memory by {delta} pages")
        return old

    def size(self, store: Any = None) -> int:
        """Current size in pages."""
        return self.current_pages

    def data_len(self, store: Any = None) -> int:
        """Current size in bytes."""
        return len(self.buf)

    def read(self, store: Any, start: int | None = 0, stop: int | None = None) -> bytearray:
        """A copy of bytes [start, stop) (slice semantics: clamped, negatives from the end)."""
        return bytearray(self.buf[slice(start, stop)])

    def write(self, store: Any, value: bytes | bytearray, start: int | None = 0) -> int:
        """Write value at start; returns its length. Raises IndexError if it does not fit."""
        size = len(self.buf)
        if start is None:
            start = 0
        if start < 0:
            start += size
        data = bytes(value)
        if start < 0 or start + len(data) > size or (start >= size and data):
            raise IndexError("index out of range")
        self.buf[start:start + len(data)] = data
        return len(data)

    def __repr__(self) -> str:
        return f"<Memory {self.current_pages} pages>"
