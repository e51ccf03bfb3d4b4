"""Linear memories.

A :class:`Memory` is a type, a store and a :class:`~wasmbox.runtime.heap.Heap`
(the bytes; made by the engine's allocator: a reserved or dynamic heap on
demand, or a pool slot). Compiled code reaches the bytes as ``M<i>`` in its
instance's globals, a ``memoryview`` of the current size that the heap
rebinds whenever it changes (:meth:`Memory._bind`); ``buf`` is the same view
for the runtime's own use.

Rules (spec): the size is a whole number of pages; ``grow`` returns the old
size in pages or -1 (all ones) and changes nothing on failure; new bytes
read as zero; the store's ``memory_size`` limit and the heap's limit (a
pool slot, a reservation that cannot move) apply on every grow.

For hosts: wasmtime-py's ``read``/``write``/``grow``/``size``/``data_len``
/``type``, typed little-endian accessors (``read_u32(store, addr)``,
``write_f64(store, addr, v)``, ...), and :meth:`Memory.buffer`, a zero-copy
``memoryview`` of the current bytes (``numpy.frombuffer`` works on it). A
buffer covers the size at the time it was taken; it is released -- using it
raises ``ValueError`` -- when the memory moves (a dynamic heap growing past
its mapping) or its store is closed. Take a new one after growing.

Raises :class:`~wasmbox.errors.WasmboxError` when an API call cannot be
done (growing past the maximum), :class:`~wasmbox.errors.Trap` "out of
bounds memory access" for typed accessors out of range,
:class:`IndexError` for ``write`` out of range (as wasmtime-py),
:class:`~wasmbox.errors.InstantiationError` for a memory past a store limit
or that the allocator cannot place, :class:`TypeError`/:class:`ValueError`
for bad arguments.
"""
from __future__ import annotations

import struct
from typing import Any

from ..errors import Trap, TrapCode, WasmboxError
from ..syntax import types as st
from .store import Store, StoreState, store_state
from .types import MemoryType

_OOB = TrapCode.MEMORY_OUT_OF_BOUNDS

#: name -> (struct, 2**bits): integer writes accept -2**(bits-1) <= v < 2**bits
#: (the signed and the unsigned reading of the same bits) for either signedness
_ACCESS: dict[str, tuple[struct.Struct, int]] = {
    "u8": (struct.Struct("<B"), 1 << 8),
    "i8": (struct.Struct("<b"), 1 << 8),
    "u16": (struct.Struct("<H"), 1 << 16),
    "i16": (struct.Struct("<h"), 1 << 16),
    "u32": (struct.Struct("<I"), 1 << 32),
    "i32": (struct.Struct("<i"), 1 << 32),
    "u64": (struct.Struct("<Q"), 1 << 64),
    "i64": (struct.Struct("<q"), 1 << 64),
    "f32": (struct.Struct("<f"), 0),
    "f64": (struct.Struct("<d"), 0),
}


def geometry(mt: st.MemType, max_memory_pages: int) -> tuple[int, bool, int, int, bool]:
    """(page shift, is64, most pages, initial bytes, unbounded) of a memory type.

    ``max_memory_pages`` is the engine's cap (Config, in 64 KiB pages).
    ``unbounded``: no declared maximum and an address space larger than the
    cap. Raises WasmboxError when the minimum is past the most pages.
    """
    shift = mt.page_shift
    is64 = mt.limits.addr is st.AddrType.I64
    # i32 memories: at most 2^32 bytes and fewer than 2^32 pages (custom-page-sizes:
    # with 1-byte pages memory.size must still fit in an i32)
    spec_cap = (1 << (64 - shift)) if is64 else min(1 << (32 - shift), 0xFFFFFFFF)
    cap = min(spec_cap, (max_memory_pages << 16) >> shift)
    max_pages = cap if mt.limits.max is None else min(cap, mt.limits.max)
    if mt.limits.min > max_pages:
        raise WasmboxError(f"memory minimum of {mt.limits.min} pages exceeds the limit "
                           f"of {max_pages} pages")
    unbounded = mt.limits.max is None and spec_cap > cap
    return shift, is64, max_pages, mt.limits.min << shift, unbounded


class Memory:
    """A linear memory; ``Memory(store, MemoryType(Limits(min, max)))``."""

    __slots__ = ("_heap", "_type", "page_shift", "max_pages", "is64", "_store", "__weakref__")

    def __init__(self, store: Store, ty: MemoryType) -> None:
        if not isinstance(store, Store):
            raise TypeError("Memory(store, ty): expected a Store")
        if not isinstance(ty, MemoryType):
            raise TypeError("Memory(store, ty): expected a MemoryType")
        if store.closed:
            raise WasmboxError("the store is closed")
        self._init(store._state, ty._t)

    @classmethod
    def _create(cls, store: Store | StoreState, mt: st.MemType,
                geo: tuple | None = None) -> "Memory":
        """A memory of a module (``geo``: :func:`geometry` of mt, if known)."""
        self = cls.__new__(cls)
        self._init(store_state(store), mt, geo)
        return self

    def _init(self, store: StoreState, mt: st.MemType, geo: tuple | None = None) -> None:
        """Check the limits, then take a heap from the engine's allocator."""
        self._store = store
        self._type = mt
        shift, is64, max_pages, min_bytes, unbounded = \
            geo or geometry(mt, store.config.max_memory_pages)
        self.page_shift = shift
        self.is64 = is64
        if store._limits is not None:
            store._check_counts(1, 0)
            store._check_memory_size(None, min_bytes)
        heap = store.engine._allocator.memory(store, min_bytes, max_pages << shift, unbounded)
        self._heap = heap
        self.max_pages = min(max_pages, heap.limit >> shift)
        store._n_memories += 1

    # -- used by the runtime and compiled code --------------------------------
    @property
    def buf(self) -> memoryview:
        """The current bytes (a view the runtime replaces on growth; see the module docstring)."""
        return self._heap.view

    def _bind(self, owner: Any, name: str) -> None:
        """Bind the bytes as ``owner._g[name]``, now and after every change."""
        self._heap.bind(owner, name)

    def grow_raw(self, delta: int) -> int:
        """memory.grow: the old size in pages, or -1 (as an unsigned value)."""
        heap = self._heap
        shift = self.page_shift
        old = heap.size >> shift
        if delta > self.max_pages - old:
            return 0xFFFFFFFFFFFFFFFF if self.is64 else 0xFFFFFFFF
        if delta:
            new = (old + delta) << shift
            lim = self._store._limits
            if lim is not None and lim.memory_size is not None and new > lim.memory_size:
                return 0xFFFFFFFFFFFFFFFF if self.is64 else 0xFFFFFFFF
            if not heap.grow_to(new):
                return 0xFFFFFFFFFFFFFFFF if self.is64 else 0xFFFFFFFF
        return old

    @property
    def current_pages(self) -> int:
        return self._heap.size >> self.page_shift

    # -- API ------------------------------------------------------------------
    def type(self, store: Any = None) -> MemoryType:
        """The memory's type (with its current minimum)."""
        lim = self._type.limits
        return MemoryType._wrap(st.MemType(st.Limits(self.current_pages, lim.max, lim.addr,
                                                     lim.shared), self._type.page_size_log2))

    def grow(self, store: Any, delta: int) -> int:
        """Grow by delta pages; returns the old size. Raises WasmboxError on failure."""
        if not isinstance(delta, int) or isinstance(delta, bool) or delta < 0:
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
        return self._heap.size

    def page_size(self, store: Any = None) -> int:
        """Bytes per page (65536, or 1 with custom-page-sizes)."""
        return 1 << self.page_shift

    def page_size_log2(self, store: Any = None) -> int:
        """log2 of :meth:`page_size`."""
        return self.page_shift

    def read(self, store: Any, start: int | None = 0, stop: int | None = None) -> bytearray:
        """A copy of bytes [start, stop) (slice semantics: clamped, negatives from the end)."""
        return bytearray(self._heap.view[slice(start, stop)])

    def write(self, store: Any, value: bytes | bytearray | memoryview,
              start: int | None = 0) -> int:
        """Write value at start; returns its length. Raises IndexError if it does not fit."""
        buf = self._heap.view
        size = len(buf)
        if start is None:
            start = 0
        if start < 0:
            start += size
        data = bytes(value)
        if start < 0 or start + len(data) > size or (start >= size and data):
            raise IndexError("index out of range")
        buf[start:start + len(data)] = data
        return len(data)

    def buffer(self, store: Any = None) -> memoryview:
        """A zero-copy, writable ``memoryview`` (format ``B``) of the current bytes.

        ``numpy.frombuffer(mem.buffer(store), dtype=...)`` works on it. It
        covers the size at the time of the call (take a new one after a
        grow) and is released -- any use raises ``ValueError`` -- when the
        memory moves or its store is closed. (Views derived from it, such as
        numpy arrays, cannot be released; they keep the old bytes instead,
        and a pool slot they point into is never given to another tenant.)
        """
        return self._heap.host_view()

    # -- typed accessors (little-endian, bounds-checked) ----------------------
    def _read(self, kind: str, addr: int) -> Any:
        s = _ACCESS[kind][0]
        if not isinstance(addr, int) or isinstance(addr, bool):
            raise TypeError("address must be an int")
        view = self._heap.view
        if addr < 0 or addr + s.size > len(view):
            raise Trap(_OOB, f"out of bounds memory access: {s.size} bytes at {addr}, memory "
                             f"size {len(view)}")
        return s.unpack_from(view, addr)[0]

    def _write(self, kind: str, addr: int, value: Any) -> None:
        s, span = _ACCESS[kind]
        if not isinstance(addr, int) or isinstance(addr, bool):
            raise TypeError("address must be an int")
        if kind[0] == "f":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise TypeError(f"write_{kind}: value must be a float")
            value = float(value)
        else:
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"write_{kind}: value must be an int")
            if not -(span >> 1) <= value < span:
                raise ValueError(f"write_{kind}: {value} does not fit in {s.size * 8} bits")
            if value < 0 and kind[0] == "u":
                value += span
            elif value >= span >> 1 and kind[0] == "i":
                value -= span
        view = self._heap.view
        if addr < 0 or addr + s.size > len(view):
            raise Trap(_OOB, f"out of bounds memory access: {s.size} bytes at {addr}, memory "
                             f"size {len(view)}")
        try:
            s.pack_into(view, addr, value)
        except OverflowError:  # a double that rounds to an infinite f32
            s.pack_into(view, addr, value * float("inf"))

    def read_u8(self, store: Any, addr: int) -> int:
        """The unsigned byte at addr. Raises Trap when out of bounds."""
        return self._read("u8", addr)

    def read_i8(self, store: Any, addr: int) -> int:
        return self._read("i8", addr)

    def read_u16(self, store: Any, addr: int) -> int:
        return self._read("u16", addr)

    def read_i16(self, store: Any, addr: int) -> int:
        return self._read("i16", addr)

    def read_u32(self, store: Any, addr: int) -> int:
        return self._read("u32", addr)

    def read_i32(self, store: Any, addr: int) -> int:
        return self._read("i32", addr)

    def read_u64(self, store: Any, addr: int) -> int:
        return self._read("u64", addr)

    def read_i64(self, store: Any, addr: int) -> int:
        return self._read("i64", addr)

    def read_f32(self, store: Any, addr: int) -> float:
        return self._read("f32", addr)

    def read_f64(self, store: Any, addr: int) -> float:
        return self._read("f64", addr)

    def write_u8(self, store: Any, addr: int, value: int) -> None:
        """Store value (-128..255, kept modulo 256) at addr. Raises Trap, ValueError."""
        self._write("u8", addr, value)

    def write_i8(self, store: Any, addr: int, value: int) -> None:
        self._write("i8", addr, value)

    def write_u16(self, store: Any, addr: int, value: int) -> None:
        self._write("u16", addr, value)

    def write_i16(self, store: Any, addr: int, value: int) -> None:
        self._write("i16", addr, value)

    def write_u32(self, store: Any, addr: int, value: int) -> None:
        self._write("u32", addr, value)

    def write_i32(self, store: Any, addr: int, value: int) -> None:
        self._write("i32", addr, value)

    def write_u64(self, store: Any, addr: int, value: int) -> None:
        self._write("u64", addr, value)

    def write_i64(self, store: Any, addr: int, value: int) -> None:
        self._write("i64", addr, value)

    def write_f32(self, store: Any, addr: int, value: float) -> None:
        """Store value rounded to single precision. Raises Trap, TypeError."""
        self._write("f32", addr, value)

    def write_f64(self, store: Any, addr: int, value: float) -> None:
        self._write("f64", addr, value)

    def __repr__(self) -> str:
        return f"<Memory {self.current_pages} pages>"
