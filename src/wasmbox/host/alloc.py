"""The host allocator: a freeing-bump heap inside a guest's linear memory.

The design follows Substrate's ``FreeingBumpHeapAllocator`` (the layout and
the rules are the same; the code is our own):

* Sizes are rounded up to a power of two. An *order* names a size:
  order 0 is 8 bytes, order 22 is 32 MiB (:data:`N_ORDERS` = 23 orders).
  Asking for more than :data:`MAX_ALLOCATION` (32 MiB) raises
  :class:`RequestedAllocationTooLarge`; asking for 0 bytes gives an 8-byte
  block.
* Every block is preceded by an 8-byte little-endian *header* in guest
  memory. An occupied block's header has bit 32 set and its order in the low
  32 bits. A free block's header has the high 32 bits clear and holds, in the
  low 32 bits, the address of the next free header of the same order, or
  :data:`NIL` (``0xFFFFFFFF``) at the end of the list.
* One free list per order; the host keeps only the heads. ``allocate`` pops
  the head of its order's list, or, when that list is empty, takes
  ``8 + 2**(order+3)`` bytes from the *bump pointer*, which starts at
  ``heap_base`` rounded up to a multiple of 8. Every pointer handed out is
  therefore 8-byte aligned and points just past its header.
* When the bump pointer would pass the end of the memory, the memory is
  grown: to twice its current page count, or to what the request needs if
  that is more, capped at the memory's declared maximum, the store's
  ``Config.max_memory_pages`` and 4 GiB (headers hold 32-bit links). If the
  doubled size cannot be had (a limit the allocator cannot see, such as the
  store's when it is called with a ``Caller``), it grows by what is needed,
  then as far towards the doubled size as the memory allows; only when even
  the needed size cannot be had is the result :class:`AllocatorOutOfSpace`
  (and the memory is left as it was).
* Block contents are never cleared: a reused block holds whatever was there.

Hostile guests. Headers live in guest memory, so the guest can rewrite them
at any time. Every header the allocator reads is checked before it is
believed, against a compact host-side map of the heap (one byte per 8 bytes
of the heap that has been bumped over: "is a block header here, of which
order, free or occupied" -- at most 1/8 of the heap's size in host memory)
and a count of free blocks per order:

* ``deallocate(ptr)`` needs ``ptr - 8`` to be the header of an occupied block
  according to the map (else :class:`InvalidPointer`: a pointer that was
  never handed out, already freed, or inside a block), and the header in
  memory to still say "occupied, this order" (else :class:`HeapCorrupted`).
* ``allocate`` popping a free list needs the head's header in memory to be a
  free header, and its link to be NIL or the header of another block that
  the map lists as free *and of the same order*. A block is marked occupied
  before its link is checked, so a link to itself, to any occupied block or
  to a block of another order -- which is what every cycle, every link
  outside the heap, every misaligned or forged header comes down to -- is
  caught at the moment it would be followed. No list is ever walked, so
  there is no loop a guest could make endless. A list that ends (NIL) while
  the count says free blocks of that order remain is reported too.

Poisoning: after any :class:`AllocatorError` from :meth:`allocate` or
:meth:`deallocate` (including a too-large request, as in Substrate), the
allocator is *poisoned*: every later call raises :class:`AllocatorPoisoned`.
Programming errors of the embedder (a size or pointer that is not an int)
raise :class:`TypeError` before anything is touched and do not poison.

Statistics (:class:`AllocationStats`, as Substrate's): ``bytes_allocated``
(live bytes, headers included), its peak, ``bytes_allocated_sum`` (every
allocation ever, headers included), ``address_space_used`` (bump pointer
minus the aligned heap base).

Linking. :func:`define_allocator` installs ``malloc``/``free`` host functions
into a :class:`~wasmbox.runtime.linker.Linker` (by default Substrate's
``env.ext_allocator_malloc_version_1`` / ``env.ext_allocator_free_version_1``,
``(i32) -> i32`` and ``(i32) -> ()``). Each calling instance's memory gets its
own allocator, made on first use; see :class:`AllocatorRegistry` for how the
memory and the heap base are found.

Moving data: :meth:`FreeingBumpAllocator.write_bytes` / ``write_str``
allocate and fill a block; module-level :func:`read_bytes` / :func:`read_str`
copy a (pointer, length) range out of a memory, raising
:class:`GuestMemoryError` for a range outside it (or bytes that are not
UTF-8).
"""
from __future__ import annotations

import dataclasses
import weakref
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import WasmboxError
from ..runtime.func import Caller
from ..runtime.global_ import Global
from ..runtime.memory import Memory
from ..runtime.types import FuncType, ValType

__all__ = [
    "ALIGNMENT", "HEADER_SIZE", "MAX_ALLOCATION", "MIN_ALLOCATION", "N_ORDERS", "NIL",
    "AllocationStats", "AllocatorError", "AllocatorOutOfSpace", "AllocatorPoisoned",
    "AllocatorRegistry", "FreeingBumpAllocator", "GuestMemoryError", "HeapCorrupted",
    "InvalidPointer", "RequestedAllocationTooLarge", "decode_header", "define_allocator",
    "encode_header", "order_for_size", "order_size", "read_bytes", "read_str",
]

#: bytes of the header in front of every block
HEADER_SIZE = 8
#: alignment of the heap base, of every header and of every pointer
ALIGNMENT = 8
#: the smallest block (order 0)
MIN_ALLOCATION = 8
#: number of orders: 8 B (order 0) .. 32 MiB (order 22)
N_ORDERS = 23
#: the largest request that can be served (order 22)
MAX_ALLOCATION = MIN_ALLOCATION << (N_ORDERS - 1)
#: the end-of-list marker in a free header
NIL = 0xFFFFFFFF
#: bit 32 of a header: set for an occupied block
OCCUPIED = 1 << 32
#: the heap must end at or below this address (links are 32-bit)
ADDRESS_LIMIT = 1 << 32

# values in the host-side map: 0 = no header here; order + 1 = occupied;
# (order + 1) | _FREE = free
_FREE = 0x80
_M32 = 0xFFFFFFFF
_OCCUPIED_BYTES = [(OCCUPIED | order).to_bytes(8, "little") for order in range(N_ORDERS)]


# ---------------------------------------------------------------- errors
class AllocatorError(WasmboxError):
    """Base class of the host allocator's errors; raising one poisons the allocator."""

    kind = "allocator"


class AllocatorOutOfSpace(AllocatorError):
    """The heap cannot fit the request and the memory cannot grow enough."""


class RequestedAllocationTooLarge(AllocatorError):
    """The request is larger than :data:`MAX_ALLOCATION` (32 MiB), or negative."""


class InvalidPointer(AllocatorError):
    """Freeing something that is not an occupied block handed out by this allocator."""


class HeapCorrupted(AllocatorError):
    """A header in guest memory does not match the heap (the guest overwrote it),
    or the allocator was used with another memory, or the memory shrank."""


class AllocatorPoisoned(AllocatorError):
    """An earlier call failed; the heap can no longer be trusted."""


class GuestMemoryError(WasmboxError):
    """A (pointer, length) range outside the memory, or bytes that are not UTF-8.

    Raised by :func:`read_bytes` and :func:`read_str`; it does not poison
    any allocator.
    """

    kind = "guest memory"


# ---------------------------------------------------------------- stats
@dataclass
class AllocationStats:
    """Counters of one allocator (headers included in every byte count)."""

    #: bytes in blocks currently allocated
    bytes_allocated: int = 0
    #: the highest value bytes_allocated has had
    bytes_allocated_peak: int = 0
    #: bytes of every allocation ever made
    bytes_allocated_sum: int = 0
    #: bump pointer minus the aligned heap base
    address_space_used: int = 0


# ---------------------------------------------------------------- orders and headers
def order_for_size(size: int) -> int:
    """The order serving a request of ``size`` bytes.

    Raises :class:`RequestedAllocationTooLarge` for ``size`` above
    :data:`MAX_ALLOCATION` or below 0 (this function does not poison
    anything; :meth:`FreeingBumpAllocator.allocate` does).
    """
    if size > MAX_ALLOCATION or size < 0:
        raise RequestedAllocationTooLarge(
            f"requested allocation of {size} bytes is larger than the maximum "
            f"of {MAX_ALLOCATION} bytes" if size > 0 else
            f"requested allocation of {size} bytes: sizes are unsigned")
    if size <= MIN_ALLOCATION:
        return 0
    return (size - 1).bit_length() - 3


def order_size(order: int) -> int:
    """Bytes in a block of ``order`` (without its header): ``8 << order``."""
    return MIN_ALLOCATION << order


def encode_header(occupied: bool, value: int) -> bytes:
    """The 8 header bytes: occupied with order ``value``, or free with link ``value``.

    Raises :class:`ValueError` for an order outside 0..22 or a link outside
    32 bits (these are host-side mistakes, not guest data).
    """
    if occupied:
        if not 0 <= value < N_ORDERS:
            raise ValueError(f"order {value} out of range")
        return (OCCUPIED | value).to_bytes(8, "little")
    if not 0 <= value <= NIL:
        raise ValueError(f"link {value} does not fit in 32 bits")
    return value.to_bytes(8, "little")


def decode_header(raw: bytes | bytearray) -> tuple[bool, int]:
    """``(occupied, order-or-link)`` from 8 header bytes.

    Raises :class:`HeapCorrupted` when the bytes are not a header: not 8 of
    them, high bits other than bit 32 set, or an occupied header with an
    order outside 0..22.
    """
    if len(raw) != HEADER_SIZE:
        raise HeapCorrupted(f"a header is 8 bytes, got {len(raw)}")
    v = int.from_bytes(raw, "little")
    high = v >> 32
    low = v & _M32
    if high == 0:
        return False, low
    if high == 1 and low < N_ORDERS:
        return True, low
    raise HeapCorrupted(f"{v:#018x} is not a valid header")


# ---------------------------------------------------------------- the allocator
def _page_size(memory: Any, store: Any) -> int:
    pages = memory.size(store)
    if pages:
        return memory.data_len(store) // pages
    return 1 << getattr(memory, "page_shift", 16)


class FreeingBumpAllocator:
    """A freeing-bump heap starting at ``heap_base`` in one linear memory.

    ``FreeingBumpAllocator(heap_base)``: ``heap_base`` (an int in
    ``[0, 2**32 - 8]``) is rounded up to a multiple of 8. The memory is
    passed to every call, with its store (wasmtime style); the first call
    binds the allocator to that memory, and using it with another one is an
    error. Raises :class:`TypeError` for a heap base that is not an int and
    :class:`AllocatorError` for one out of range.
    """

    __slots__ = ("_base", "_bumper", "_heads", "_nfree", "_map", "_poisoned", "_stats",
                 "_mem_ref", "_seen_len")

    def __init__(self, heap_base: int) -> None:
        if not isinstance(heap_base, int) or isinstance(heap_base, bool):
            raise TypeError("FreeingBumpAllocator(heap_base): heap_base must be an int")
        base = (heap_base + ALIGNMENT - 1) & -ALIGNMENT
        if heap_base < 0 or base > ADDRESS_LIMIT - ALIGNMENT:
            raise AllocatorError(f"heap base {heap_base} is outside the 32-bit address space")
        self._base = base
        self._bumper = base
        self._heads = [NIL] * N_ORDERS
        self._nfree = [0] * N_ORDERS
        self._map = bytearray()
        self._poisoned = False
        self._stats = AllocationStats()
        self._mem_ref: Any = None
        self._seen_len = 0

    # -- introspection ---------------------------------------------------------
    @property
    def heap_base(self) -> int:
        """The heap's first address (the given base rounded up to 8)."""
        return self._base

    @property
    def bumper(self) -> int:
        """The bump pointer: the first address never handed out."""
        return self._bumper

    @property
    def poisoned(self) -> bool:
        """True once a call has failed; every later call raises AllocatorPoisoned."""
        return self._poisoned

    @property
    def stats(self) -> AllocationStats:
        """A snapshot of the counters (a copy: it does not change afterwards)."""
        return dataclasses.replace(self._stats)

    def free_list_head(self, order: int) -> int | None:
        """The header address at the head of ``order``'s free list, or None."""
        h = self._heads[order]
        return None if h == NIL else h

    # -- the two operations ----------------------------------------------------
    def allocate(self, store: Any, memory: Memory, size: int) -> int:
        """Allocate ``size`` bytes in ``memory``; returns the block's address.

        Raises :class:`RequestedAllocationTooLarge` (size above 32 MiB or
        negative), :class:`AllocatorOutOfSpace` (the memory cannot grow
        enough), :class:`HeapCorrupted` (a header the guest overwrote, or
        another memory than the first one), :class:`AllocatorPoisoned`
        (an earlier call failed) -- each poisons the allocator -- and
        :class:`TypeError` when size is not an int.
        """
        if self._poisoned:
            raise AllocatorPoisoned("the allocator is poisoned by an earlier error")
        if type(size) is not int and (not isinstance(size, int) or isinstance(size, bool)):
            raise TypeError("allocate: size must be an int")
        try:
            if size <= MIN_ALLOCATION:
                if size < 0:
                    order_for_size(size)  # raises
                order = 0
            elif size <= MAX_ALLOCATION:
                order = (size - 1).bit_length() - 3
            else:
                order = order_for_size(size)  # raises
            ref = self._mem_ref
            if ref is None or ref() is not memory:
                self._bind(memory)
            dlen = memory.data_len(store)
            if dlen < self._seen_len:
                raise HeapCorrupted("the memory shrank under the allocator")
            self._seen_len = dlen
            head = self._heads[order]
            if head != NIL:
                self._pop(store, memory, order, head, dlen)
                hdr = head
            else:
                hdr = self._bump(store, memory, order, dlen)
            need = HEADER_SIZE + (MIN_ALLOCATION << order)
            st = self._stats
            st.bytes_allocated += need
            if st.bytes_allocated > st.bytes_allocated_peak:
                st.bytes_allocated_peak = st.bytes_allocated
            st.bytes_allocated_sum += need
            st.address_space_used = self._bumper - self._base
            return hdr + HEADER_SIZE
        except AllocatorError:
            self._poisoned = True
            raise
        except (IndexError, ValueError, OverflowError, MemoryError, WasmboxError) as e:
            self._poisoned = True
            raise HeapCorrupted(f"memory access failed while allocating: {e}") from e

    def deallocate(self, store: Any, memory: Memory, ptr: int) -> None:
        """Free the block at ``ptr`` (a value :meth:`allocate` returned).

        Raises :class:`InvalidPointer` (not an occupied block of this heap:
        never allocated, already freed, or not the start of a block),
        :class:`HeapCorrupted` (its header was overwritten, or another
        memory), :class:`AllocatorPoisoned` -- each poisons the allocator --
        and :class:`TypeError` when ptr is not an int.
        """
        if self._poisoned:
            raise AllocatorPoisoned("the allocator is poisoned by an earlier error")
        if type(ptr) is not int and (not isinstance(ptr, int) or isinstance(ptr, bool)):
            raise TypeError("deallocate: ptr must be an int")
        try:
            ref = self._mem_ref
            if ref is None or ref() is not memory:
                self._bind(memory)
            dlen = memory.data_len(store)
            if dlen < self._seen_len:
                raise HeapCorrupted("the memory shrank under the allocator")
            self._seen_len = dlen
            hdr = ptr - HEADER_SIZE
            rel = hdr - self._base
            if rel < 0 or hdr >= self._bumper or rel & (ALIGNMENT - 1):
                raise InvalidPointer(f"{ptr:#x} was not handed out by this allocator")
            i = rel >> 3
            tag = self._map[i]
            if tag == 0 or tag & _FREE:
                raise InvalidPointer(
                    f"{ptr:#x} is not an allocated block" if tag == 0 else
                    f"{ptr:#x} is already free (double free)")
            order = tag - 1
            raw = self._read_header(store, memory, hdr, dlen)
            if raw != OCCUPIED | order:
                raise HeapCorrupted(f"the header of the block at {ptr:#x} was overwritten "
                                    f"({raw:#018x})")
            memory.write(store, self._heads[order].to_bytes(8, "little"), hdr)
            self._heads[order] = hdr
            self._nfree[order] += 1
            self._map[i] = tag | _FREE
            self._stats.bytes_allocated -= HEADER_SIZE + (MIN_ALLOCATION << order)
        except AllocatorError:
            self._poisoned = True
            raise
        except (IndexError, ValueError, OverflowError, MemoryError, WasmboxError) as e:
            self._poisoned = True
            raise HeapCorrupted(f"memory access failed while freeing: {e}") from e

    # -- data helpers ------------------------------------------------------------
    def write_bytes(self, store: Any, memory: Memory, data: bytes | bytearray | memoryview) -> int:
        """Allocate ``len(data)`` bytes, copy ``data`` there, return the pointer.

        Raises what :meth:`allocate` raises.
        """
        data = bytes(data)
        ptr = self.allocate(store, memory, len(data))
        if data:
            memory.write(store, data, ptr)
        return ptr

    def write_str(self, store: Any, memory: Memory, text: str) -> int:
        """Allocate and write ``text`` as UTF-8 (no terminator); returns the pointer.

        The byte length is ``len(text.encode())``. Raises what
        :meth:`allocate` raises, and :class:`TypeError` for a non-str;
        a string with lone surrogates raises :class:`UnicodeEncodeError`
        before anything is allocated.
        """
        if not isinstance(text, str):
            raise TypeError("write_str: text must be a str")
        return self.write_bytes(store, memory, text.encode("utf-8"))

    # -- internals ---------------------------------------------------------------
    def _bind(self, memory: Memory) -> None:
        """Bind to memory on first use; raise if bound to another one."""
        if self._mem_ref is not None:
            raise HeapCorrupted("the allocator is bound to another memory")
        try:
            self._mem_ref = weakref.ref(memory)
        except TypeError:  # an object without weak references: hold it
            self._mem_ref = lambda m=memory: m

    @staticmethod
    def _read_header(store: Any, memory: Memory, hdr: int, dlen: int) -> int:
        if hdr + HEADER_SIZE > dlen:
            raise HeapCorrupted(f"header at {hdr:#x} lies beyond the end of memory")
        raw = memory.read(store, hdr, hdr + HEADER_SIZE)
        if len(raw) != HEADER_SIZE:
            raise HeapCorrupted(f"header at {hdr:#x} could not be read")
        return int.from_bytes(raw, "little")

    def _pop(self, store: Any, memory: Memory, order: int, hdr: int, dlen: int) -> None:
        """Take the head of order's free list (validating its header and link)."""
        base = self._base
        i = (hdr - base) >> 3
        want = (order + 1) | _FREE
        if self._map[i] != want:  # host state; only an allocator bug could break it
            raise HeapCorrupted(f"free list head {hdr:#x} is not a free block")
        raw = self._read_header(store, memory, hdr, dlen)
        if raw >> 32:
            raise HeapCorrupted(f"the header of the free block at {hdr:#x} was overwritten "
                                f"({raw:#018x})")
        self._map[i] = order + 1  # occupied before the link is checked: no self-links
        link = raw
        if link == NIL:
            if self._nfree[order] != 1:
                raise HeapCorrupted(f"the free list of {order_size(order)}-byte blocks ends "
                                    f"early: a link was overwritten")
        else:
            rel = link - base
            if (rel < 0 or link >= self._bumper or rel & (ALIGNMENT - 1)
                    or self._map[rel >> 3] != want):
                raise HeapCorrupted(f"free list link {link:#x} in the header at {hdr:#x} "
                                    f"is not a free {order_size(order)}-byte block")
        self._heads[order] = link
        self._nfree[order] -= 1
        memory.write(store, _OCCUPIED_BYTES[order], hdr)

    def _bump(self, store: Any, memory: Memory, order: int, dlen: int) -> int:
        """Take a new block from the bump pointer, growing the memory if needed."""
        hdr = self._bumper
        end = hdr + HEADER_SIZE + (MIN_ALLOCATION << order)
        if end > ADDRESS_LIMIT:
            raise AllocatorOutOfSpace("the heap would pass the 4 GiB address limit")
        if end > dlen:
            dlen = self._grow(store, memory, end)
        need_map = (end - self._base) >> 3
        m = self._map
        if len(m) < need_map:
            m.extend(bytes(need_map - len(m)))
        m[(hdr - self._base) >> 3] = order + 1
        self._bumper = end
        memory.write(store, _OCCUPIED_BYTES[order], hdr)
        return hdr

    def _grow(self, store: Any, memory: Memory, end: int) -> int:
        """Grow memory so that ``end`` bytes fit: double, else exactly enough."""
        page = _page_size(memory, store)
        cur = memory.size(store)
        required = -(-end // page)
        cap = ADDRESS_LIMIT // page
        declared = memory.type(store).limits.max
        if declared is not None:
            cap = min(cap, declared)
        config = getattr(store, "config", None)
        limit = getattr(config, "max_memory_pages", None)
        if isinstance(limit, int):
            cap = min(cap, (limit << 16) // page)
        if required > cap:
            raise AllocatorOutOfSpace(
                f"the heap needs {required} pages but the memory can have at most {cap}")
        target = min(max(required, 2 * cur), cap)
        if not self._try_grow(store, memory, target - cur):
            # a limit we could not see (e.g. the store's, when called with a
            # Caller): take what is needed, then as much of the rest as the
            # memory allows (a bisection; failed grows change nothing)
            if not self._try_grow(store, memory, required - cur):
                raise AllocatorOutOfSpace(
                    f"cannot grow the memory from {cur} to {required} pages")
            lo, hi = required, target
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if self._try_grow(store, memory, mid - lo):
                    lo = mid
                else:
                    hi = mid
        dlen = memory.data_len(store)
        self._seen_len = dlen
        if dlen >= end:
            return dlen
        raise AllocatorOutOfSpace(f"the memory grew to {dlen} bytes, short of {end}")

    @staticmethod
    def _try_grow(store: Any, memory: Memory, delta: int) -> bool:
        try:
            memory.grow(store, delta)
        except (WasmboxError, MemoryError, OverflowError):
            return False
        return True


# ---------------------------------------------------------------- reading data back
def read_bytes(store: Any, memory: Memory, ptr: int, length: int) -> bytes:
    """A copy of ``length`` bytes at ``ptr`` in ``memory``.

    ``ptr`` and ``length`` may come from the guest as signed i32 values;
    they are read as unsigned 32-bit numbers. Raises
    :class:`GuestMemoryError` when the range is not inside the memory and
    :class:`TypeError` when they are not ints.
    """
    for v in (ptr, length):
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError("read_bytes: ptr and length must be ints")
    if ptr < 0:
        ptr &= _M32
    if length < 0:
        length &= _M32
    dlen = memory.data_len(store)
    if ptr + length > dlen:
        raise GuestMemoryError(f"range [{ptr:#x}, {ptr + length:#x}) is outside the memory "
                               f"({dlen} bytes)")
    data = memory.read(store, ptr, ptr + length)
    if len(data) != length:
        raise GuestMemoryError(f"range [{ptr:#x}, {ptr + length:#x}) could not be read")
    return bytes(data)


def read_str(store: Any, memory: Memory, ptr: int, length: int) -> str:
    """The UTF-8 string of ``length`` bytes at ``ptr``.

    Raises :class:`GuestMemoryError` for a range outside the memory or bytes
    that are not valid UTF-8, :class:`TypeError` for non-int arguments.
    """
    data = read_bytes(store, memory, ptr, length)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise GuestMemoryError(f"the {length} bytes at {ptr:#x} are not UTF-8: {e.reason} "
                               f"at byte {e.start}") from None


# ---------------------------------------------------------------- linking
class AllocatorRegistry:
    """The allocators behind :func:`define_allocator`'s host functions, one per memory.

    ``memory`` says where a caller's memory is: an export name of the
    calling instance (default ``"memory"``), a :class:`Memory` (e.g. one the
    guests import), or a callable ``f(caller) -> Memory``.

    The heap base of a new allocator is, in this order: the ``heap_base``
    given to :meth:`for_memory`; the registry's ``heap_base``; the value of
    the calling instance's exported i32 global named ``heap_base_export``
    (``"__heap_base"``, which wasm-ld emits; the heap then starts just past
    the guest's static data and stack). If none is available the call raises
    :class:`AllocatorError`. The allocator is made on first use -- the
    guest's first ``malloc`` or the host's first :meth:`for_instance` /
    :meth:`for_memory` -- and lives as long as its memory.
    """

    def __init__(self, heap_base: int | None = None, memory: Any = "memory",
                 heap_base_export: str = "__heap_base") -> None:
        if heap_base is not None and (not isinstance(heap_base, int) or isinstance(heap_base, bool)):
            raise TypeError("AllocatorRegistry: heap_base must be an int or None")
        if not (isinstance(memory, (str, Memory)) or callable(memory)):
            raise TypeError("AllocatorRegistry: memory must be an export name, a Memory "
                            "or a callable")
        self.heap_base = heap_base
        self.memory = memory
        self.heap_base_export = heap_base_export
        # id(memory) -> (weak reference to memory, its allocator); an entry
        # goes away with its memory
        self._by_memory: dict[int, tuple[Any, FreeingBumpAllocator]] = {}

    def get(self, memory: Memory) -> FreeingBumpAllocator | None:
        """The allocator already made for ``memory``, or None."""
        e = self._by_memory.get(id(memory))
        if e is not None and e[0]() is memory:
            return e[1]
        return None

    def _put(self, memory: Memory, alloc: FreeingBumpAllocator) -> None:
        key = id(memory)
        table = self._by_memory

        def forget(_ref: Any, key: int = key) -> None:
            e = table.get(key)
            if e is not None and e[0] is _ref:
                del table[key]

        table[key] = (weakref.ref(memory, forget), alloc)

    def for_memory(self, store: Any, memory: Memory,
                   heap_base: int | None = None) -> FreeingBumpAllocator:
        """The allocator of ``memory``, made with ``heap_base`` (or the registry's) if new.

        Raises :class:`AllocatorError` when it is new and no heap base is known.
        """
        return self._get_or_make(memory, heap_base, lambda: None)

    def for_instance(self, store: Any, instance: Any) -> FreeingBumpAllocator:
        """The allocator for ``instance``'s memory (found as for a call from it).

        Raises :class:`AllocatorError` when the memory or the heap base
        cannot be found.
        """
        exports = instance.exports(store)
        return self._get_or_make(
            self._memory_of(exports.get, instance), None,
            lambda: self._export_heap_base(store, exports.get))

    def memory_for_instance(self, store: Any, instance: Any) -> Memory:
        """The memory the registry would use for calls from ``instance``."""
        exports = instance.exports(store)
        return self._memory_of(exports.get, instance)

    def for_caller(self, caller: Caller) -> tuple[FreeingBumpAllocator, Memory]:
        """The allocator and memory serving a host call from ``caller``.

        Raises :class:`AllocatorError` when they cannot be found.
        """
        memory = self._memory_of(caller.get, caller)
        e = self._by_memory.get(id(memory))
        if e is not None and e[0]() is memory:
            alloc = e[1]
        else:
            alloc = self._get_or_make(memory, None,
                                      lambda: self._export_heap_base(caller, caller.get))
        return alloc, memory

    # -- internals ---------------------------------------------------------------
    def _memory_of(self, lookup: Callable[[str], Any], who: Any) -> Memory:
        src = self.memory
        if isinstance(src, Memory):
            return src
        if isinstance(src, str):
            mem = lookup(src)
            if not isinstance(mem, Memory):
                raise AllocatorError(f"the instance exports no memory named {src!r}")
            return mem
        mem = src(who)
        if not isinstance(mem, Memory):
            raise AllocatorError("the memory callable did not return a Memory")
        return mem

    def _export_heap_base(self, store: Any, lookup: Callable[[str], Any]) -> int | None:
        g = lookup(self.heap_base_export)
        if isinstance(g, Global):
            v = g.value(store)
            if isinstance(v, int) and not isinstance(v, bool):
                return v & _M32
        return None

    def _get_or_make(self, memory: Memory, explicit: int | None,
                     from_export: Callable[[], int | None]) -> FreeingBumpAllocator:
        alloc = self.get(memory)
        if alloc is not None:
            return alloc
        base = explicit if explicit is not None else self.heap_base
        if base is None:
            base = from_export()
        if base is None:
            raise AllocatorError(
                f"cannot tell where the heap starts: the instance exports no i32 global "
                f"{self.heap_base_export!r}; pass heap_base= to define_allocator")
        alloc = FreeingBumpAllocator(base)
        self._put(memory, alloc)
        return alloc


def define_allocator(linker: Any, module: str = "env",
                     malloc: str = "ext_allocator_malloc_version_1",
                     free: str = "ext_allocator_free_version_1", *,
                     heap_base: int | None = None, memory: Any = "memory",
                     heap_base_export: str = "__heap_base",
                     registry: AllocatorRegistry | None = None) -> AllocatorRegistry:
    """Define ``module.malloc: (i32) -> i32`` and ``module.free: (i32) -> ()`` in ``linker``.

    The functions work for any store and any instance: each call finds the
    calling instance's memory and its allocator through the returned
    :class:`AllocatorRegistry` (see it for how the memory and the heap base
    are found; ``heap_base``, ``memory`` and ``heap_base_export`` are passed
    to it unless ``registry`` is given). Host code gets the same allocator
    with ``registry.for_instance(store, instance)`` to pass data in and out.

    Inside the guest: ``malloc(size)`` returns a pointer (size is read as
    unsigned); ``free(ptr)`` frees it, and ``free(0)`` does nothing, as in C.
    An allocator error (out of space, a bad pointer, a corrupted header,
    poisoning) aborts the guest's call: the embedder's call into Wasm
    raises that :class:`AllocatorError`.

    Raises what ``Linker.define_func`` raises (e.g. a name defined twice).
    """
    if registry is None:
        registry = AllocatorRegistry(heap_base, memory, heap_base_export)
    elif not isinstance(registry, AllocatorRegistry):
        raise TypeError("define_allocator: registry must be an AllocatorRegistry")
    reg = registry

    def host_malloc(caller: Caller, size: int) -> int:
        alloc, mem = reg.for_caller(caller)
        return alloc.allocate(caller, mem, size & _M32)

    def host_free(caller: Caller, ptr: int) -> None:
        if ptr == 0:
            return
        alloc, mem = reg.for_caller(caller)
        alloc.deallocate(caller, mem, ptr & _M32)

    i32 = ValType.i32()
    linker.define_func(module, malloc, FuncType([i32], [i32]), host_malloc, access_caller=True)
    linker.define_func(module, free, FuncType([i32], []), host_free, access_caller=True)
    return registry
