"""Bulk memory and table operations, in bounded chunks.

``memory.fill``/``copy``/``init`` and ``table.fill``/``copy``/``init``/
``grow`` can touch gigabytes or millions of elements in one instruction.
Done as one slice assignment, such an operation holds the GIL for seconds
(other Python threads, signal handlers and ``KeyboardInterrupt`` wait) and
may need a temporary as large as itself. Here every operation works in
chunks of at most :data:`MEM_CHUNK` bytes or :data:`TABLE_CHUNK` elements:

* between chunks the interpreter may switch threads and run signal
  handlers, and, with ``Config.epoch_interruption``, the store's deadline is
  tested (``ep``/``dl``: the engine's epoch cell and the store's deadline
  cell, passed by the generated code): a deadline that passes during a
  4 GiB fill ends it with ``TrapCode.INTERRUPT`` after at most one chunk;
* the only temporary is one chunk (a fill pattern, a slice of a table);
  bytes are copied between ``memoryview`` slices, which needs none.

The spec's rules hold as before: bounds are checked before anything is
written, so an out-of-bounds operation traps with no effect; ``copy``
behaves like ``memmove`` (chunks go backwards when the destination is above
an overlapping source). An interrupted operation leaves the chunks it
finished written (wasmtime's chunked operations do the same). Fuel is not
charged here (see :mod:`wasmbox.exec.interrupt`).

Raises :class:`~wasmbox.errors.Trap` (out of bounds, interrupt).
"""
from __future__ import annotations

from types import CellType
from typing import Any

from ..errors import Trap, TrapCode

#: bytes per chunk of a memory operation (about 0.1 ms of memset)
MEM_CHUNK = 1 << 20
#: elements per chunk of a table operation
TABLE_CHUNK = 1 << 16

MEM_OOB = TrapCode.MEMORY_OUT_OF_BOUNDS
TABLE_OOB = TrapCode.TABLE_OUT_OF_BOUNDS


def _poll(ep: CellType | None, dl: CellType | None) -> None:
    """Between two chunks: trap if the store's epoch deadline has passed."""
    if ep is not None and ep.cell_contents >= dl.cell_contents:  # type: ignore[union-attr]
        raise Trap(TrapCode.INTERRUPT)


def _spans(d: int, s: int, n: int, chunk: int) -> range:
    """Chunk offsets for copying n units from s to d, memmove-safe."""
    if d > s:  # an overlapping source below the destination: from the end
        return range(n - (n - 1) % chunk - 1 if n else 0, -1, -chunk)
    return range(0, n, chunk)


def mem_fill(buf: memoryview, d: int, val: int, n: int, ep: CellType | None = None,
             dl: CellType | None = None) -> None:
    """memory.fill: traps if [d, d+n) is out of bounds."""
    if d + n > len(buf):
        raise Trap(MEM_OOB)
    if n <= MEM_CHUNK:
        if n:
            buf[d:d + n] = bytes((val & 0xFF,)) * n
        return
    pattern = memoryview(bytes((val & 0xFF,)) * MEM_CHUNK)
    end = d + n
    for at in range(d, end, MEM_CHUNK):
        k = min(MEM_CHUNK, end - at)
        buf[at:at + k] = pattern[:k]
        _poll(ep, dl)


def _move(dst: Any, src: Any, d: int, s: int, n: int, ep: CellType | None,
          dl: CellType | None) -> None:
    """Copy n bytes (bounds already checked), memmove-safe, in chunks."""
    if n <= MEM_CHUNK:
        if n:
            dst[d:d + n] = src[s:s + n]
        return
    for off in _spans(d, s, n, MEM_CHUNK):
        k = min(MEM_CHUNK, n - off)
        dst[d + off:d + off + k] = src[s + off:s + off + k]
        _poll(ep, dl)


def mem_copy(dst: memoryview, src: memoryview, d: int, s: int, n: int,
             ep: CellType | None = None, dl: CellType | None = None) -> None:
    """memory.copy (memmove semantics): traps if either range is out of bounds."""
    if s + n > len(src) or d + n > len(dst):
        raise Trap(MEM_OOB)
    _move(dst, src, d, s, n, ep, dl)


def mem_init(buf: memoryview, seg: Any, d: int, s: int, n: int, ep: CellType | None = None,
             dl: CellType | None = None) -> None:
    """memory.init from a data segment instance (``.data``)."""
    data = seg.data
    if s + n > len(data) or d + n > len(buf):
        raise Trap(MEM_OOB)
    _move(buf, memoryview(data) if n > MEM_CHUNK else data, d, s, n, ep, dl)


def tfill(tab: list, i: int, v: Any, n: int, ep: CellType | None = None,
          dl: CellType | None = None) -> None:
    """table.fill."""
    if i + n > len(tab):
        raise Trap(TABLE_OOB)
    for off in range(0, n, TABLE_CHUNK):
        k = min(TABLE_CHUNK, n - off)
        tab[i + off:i + off + k] = [v] * k
        if k == TABLE_CHUNK:
            _poll(ep, dl)


def tcopy(dst: list, src: list, d: int, s: int, n: int, ep: CellType | None = None,
          dl: CellType | None = None) -> None:
    """table.copy (overlap-safe)."""
    if s + n > len(src) or d + n > len(dst):
        raise Trap(TABLE_OOB)
    for off in _spans(d, s, n, TABLE_CHUNK):
        k = min(TABLE_CHUNK, n - off)
        dst[d + off:d + off + k] = src[s + off:s + off + k]
        if n > TABLE_CHUNK:
            _poll(ep, dl)


def tinit(tab: list, seg: list, d: int, s: int, n: int, ep: CellType | None = None,
          dl: CellType | None = None) -> None:
    """table.init from an element segment instance (a list of references)."""
    if s + n > len(seg) or d + n > len(tab):
        raise Trap(TABLE_OOB)
    for off in range(0, n, TABLE_CHUNK):
        k = min(TABLE_CHUNK, n - off)
        tab[d + off:d + off + k] = seg[s + off:s + off + k]
        if n > TABLE_CHUNK:
            _poll(ep, dl)


def tgrow(tab: list, v: Any, n: int, ep: CellType | None = None,
          dl: CellType | None = None) -> None:
    """Append n elements v to a table's list (the caller checked the limits).

    An interrupt leaves the list as it was: a grow either happens or not.
    """
    old = len(tab)
    try:
        for off in range(0, n, TABLE_CHUNK):
            tab.extend([v] * min(TABLE_CHUNK, n - off))
            if n > TABLE_CHUNK:
                _poll(ep, dl)
    except BaseException:
        del tab[old:]
        raise
