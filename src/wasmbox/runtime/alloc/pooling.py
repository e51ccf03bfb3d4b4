"""The pooling allocator: slots made once, reused by tenant after tenant.

After Lucet's regions and wasmtime's pooling allocator. The pool has
``total_core_instances`` instance slots, ``total_memories`` memory slots
and ``total_tables`` table slots (:class:`~wasmbox.config.PoolingAllocationConfig`).

* A memory slot is an anonymous private mapping of ``max_memory_size``
  bytes, made on the slot's first use and then kept ("warm"). A tenant's
  memory is a reserved :class:`~wasmbox.runtime.heap.Heap` on it: growing
  is O(1), and growing past the slot returns -1.
* Instantiating checks the module against the limits first (memories and
  tables per module, initial sizes against ``max_memory_size`` and
  ``table_elements``) and refuses it, naming the limit, before anything is
  handed out; then it takes the slots it needs, all at once, in O(1) (the
  most recently freed warm slot first). An exhausted pool raises
  :class:`~wasmbox.errors.InstantiationError` at once; nothing waits.
* Closing the store (``store.close()``, or the store being garbage
  collected) gives its slots back. Each memory is detached (instances and
  host views lose access), then wiped: ``madvise(MADV_DONTNEED)`` up to the
  tenant's high-water mark, so the cost follows what the tenant used, not
  the slot's size; the next tenant reads zeros everywhere. If a view derived
  by the host (``numpy.frombuffer`` of ``Memory.buffer``) outlives the
  tenant, the slot's mapping is abandoned to that view and the slot gets a
  new one: no tenant ever sees another's bytes.
* At most ``max_unused_warm_slots`` free slots keep their mapping; the
  least recently used ones past that give it back to the system.

Releases that happen during garbage collection while another thread holds
the pool's lock are queued and done at the next pool operation, so a
collection can never deadlock on the pool.

Raises :class:`~wasmbox.errors.InstantiationError`; :class:`ValueError`
when the pool's limits are inconsistent (its slots could never all be
reserved).
"""
from __future__ import annotations

import sys
import threading
from collections import deque
from typing import Any, Sequence

from ...errors import InstantiationError
from ..heap import Heap, discard, map_anonymous, round_up
from . import AllocState, InstanceAllocator, PoolingAllocatorMetrics

#: address space a pool may reserve in all: half of a 47-bit user space on
#: 64-bit hosts, 2 GiB on 32-bit ones
ADDRESS_SPACE = (1 << 46) if sys.maxsize > (1 << 32) else (1 << 31)


class _Slot:
    """One memory slot: its index and its mapping (None while cold)."""

    __slots__ = ("index", "mm")

    def __init__(self, index: int) -> None:
        self.index = index
        self.mm: Any = None


class PoolState(AllocState):
    """The slots one store holds.

    Owned by the store alone, so it dies with the store: ``__del__`` gives
    the slots back when a store is garbage collected without being closed
    (cheaper than a ``weakref.finalize`` per store, and it holds no
    reference to the store).
    """

    __slots__ = ("pool", "instances", "memories", "reserved", "table_credit", "tables", "done")

    def __init__(self, pool: "PoolingAllocator") -> None:
        self.pool = pool
        self.instances = 0
        #: (slot, heap) for every memory made
        self.memories: list[tuple[_Slot, Heap]] = []
        #: slots taken by admit() for memories not made yet
        self.reserved: list[_Slot] = []
        #: table slots taken by admit() for tables not made yet
        self.table_credit = 0
        #: element lists of the tables made (emptied on release)
        self.tables: list[list] = []
        self.done = False

    def close(self, wait: bool = True) -> None:
        """Give the slots back now (Store.close), or queue that if the pool is
        busy and ``wait`` is false."""
        if not self.done:
            self.done = True
            self.pool._release(self, wait=wait)

    def __del__(self) -> None:
        if self.done:
            return
        self.done = True
        try:
            self.pool._release(self, wait=False)  # may run inside a collection: never block
        except Exception:  # noqa: BLE001 - at interpreter exit the pool may be half gone
            pass


class PoolingAllocator(InstanceAllocator):
    """Pooled instance, memory and table slots (see the module docstring)."""

    strategy = "pooling"

    def __init__(self, cfg: Any) -> None:
        self.total_core_instances: int = cfg.total_core_instances
        self.total_memories: int = cfg.total_memories
        self.total_tables: int = cfg.total_tables
        self.max_memory_size: int = cfg.max_memory_size
        self.max_memories_per_module: int = cfg.max_memories_per_module
        self.max_tables_per_module: int = cfg.max_tables_per_module
        self.table_elements: int = cfg.table_elements
        self.max_unused_warm_slots: int = cfg.max_unused_warm_slots
        total = self.total_memories * round_up(self.max_memory_size)
        if total > ADDRESS_SPACE:
            raise ValueError(f"inconsistent pool limits: {self.total_memories} memory slots of "
                             f"{self.max_memory_size} bytes need {total} bytes of address space, "
                             f"more than the {ADDRESS_SPACE} a pool may reserve")
        self._lock = threading.Lock()
        self._pending: deque[PoolState] = deque()
        self._warm: deque[_Slot] = deque()  # right end = most recently freed
        self._cold: list[_Slot] = []
        self._fresh = 0  # slots with index >= this were never made
        self._instances = 0
        self._memories = 0
        self._tables = 0
        self._wipes = 0
        self._bytes_wiped = 0
        self._decommits = 0
        self._retired = 0

    # -- admission ------------------------------------------------------------
    def _check_fit(self, mem_min_bytes: Sequence[int], table_mins: Sequence[int]) -> None:
        if len(mem_min_bytes) > self.max_memories_per_module:
            raise InstantiationError(
                f"module defines {len(mem_min_bytes)} memories, more than the pool allows "
                f"(max_memories_per_module={self.max_memories_per_module})")
        for i, b in enumerate(mem_min_bytes):
            if b > self.max_memory_size:
                raise InstantiationError(
                    f"memory {i} needs {b} bytes initially, more than a pool slot holds "
                    f"(max_memory_size={self.max_memory_size})")
        if len(table_mins) > self.max_tables_per_module:
            raise InstantiationError(
                f"module defines {len(table_mins)} tables, more than the pool allows "
                f"(max_tables_per_module={self.max_tables_per_module})")
        for i, n in enumerate(table_mins):
            if n > self.table_elements:
                raise InstantiationError(
                    f"table {i} needs {n} elements initially, more than a pool slot holds "
                    f"(table_elements={self.table_elements})")

    def _state(self, store: Any) -> PoolState:
        state = store._alloc_state
        if state is None:
            state = store._alloc_state = PoolState(self)
        return state

    def _reserve(self, instances: int, memories: int, tables: int) -> list[_Slot]:
        """Take slots for an instance, all or nothing. Raises InstantiationError.

        Memory slots come from the warm ones first (the most recently freed),
        then the cold ones, then slots never used.
        """
        with self._lock:
            if self._pending:
                self._drain()
            if self._instances + instances > self.total_core_instances:
                raise InstantiationError(
                    f"pooling allocator exhausted: all {self.total_core_instances} instance "
                    f"slots are in use (total_core_instances)")
            if self._memories + memories > self.total_memories:
                raise InstantiationError(
                    f"pooling allocator exhausted: all {self.total_memories} memory slots are "
                    f"in use (total_memories)")
            if self._tables + tables > self.total_tables:
                raise InstantiationError(
                    f"pooling allocator exhausted: all {self.total_tables} table slots are in "
                    f"use (total_tables)")
            self._instances += instances
            self._memories += memories
            self._tables += tables
            slots = []
            warm, cold = self._warm, self._cold
            for _ in range(memories):
                if warm:
                    slots.append(warm.pop())
                elif cold:
                    slots.append(cold.pop())
                else:
                    slots.append(_Slot(self._fresh))
                    self._fresh += 1
            return slots

    def admit(self, store: Any, mem_min_bytes: Sequence[int], table_mins: Sequence[int]) -> None:
        if mem_min_bytes or table_mins:
            self._check_fit(mem_min_bytes, table_mins)
        state = store._alloc_state
        if state is None:
            state = store._alloc_state = PoolState(self)
        slots = self._reserve(1, len(mem_min_bytes), len(table_mins))
        state.instances += 1
        if slots:
            state.reserved.extend(slots)
        state.table_credit += len(table_mins)

    # -- memories and tables --------------------------------------------------
    def memory(self, store: Any, min_bytes: int, max_bytes: int, unbounded: bool) -> Heap:
        state = self._state(store)
        if state.reserved:
            slot = state.reserved.pop()
        else:  # a memory made by the host: its own admission
            self._check_fit([min_bytes], [])
            slot = self._reserve(0, 1, 0)[0]
        try:
            if slot.mm is None:
                slot.mm = map_anonymous(self.max_memory_size)
            cap = min(max_bytes, self.max_memory_size)
            heap = Heap.borrow(slot.mm, cap, min_bytes)
        except BaseException:
            state.reserved.append(slot)  # given back with the store
            raise
        state.memories.append((slot, heap))
        return heap

    def table(self, store: Any, min_elems: int, elems: list) -> int:
        state = self._state(store)
        if state.table_credit:
            state.table_credit -= 1
        else:  # a table made by the host
            self._check_fit([], [min_elems])
            self._reserve(0, 0, 1)
        state.tables.append(elems)
        return self.table_elements

    # -- release --------------------------------------------------------------
    def _release(self, state: PoolState, wait: bool) -> None:
        """Give a store's slots back (once per state).

        ``wait``: an explicit close waits for the lock. A release from a
        garbage collection does not (the collection may have started inside
        a pool operation of this very thread): if the lock is taken, the
        release is queued and finished by the next pool operation.
        """
        if not self._lock.acquire(blocking=wait):
            self._pending.append(state)
            return
        try:
            self._release_locked(state)
            if self._pending:
                self._drain()
        finally:
            self._lock.release()

    def _drain(self) -> None:
        """Finish the releases queued by _release (lock held)."""
        while self._pending:
            self._release_locked(self._pending.popleft())

    def _release_locked(self, state: PoolState) -> None:
        warm = self._warm
        for slot, heap in state.memories:
            hwm = heap.hwm
            if heap.detach():
                self._bytes_wiped += discard(slot.mm, hwm)
                self._wipes += 1
                warm.append(slot)
            else:
                slot.mm = None  # abandoned to the view that outlived its tenant
                self._retired += 1
                self._cold.append(slot)
        for slot in state.reserved:  # taken, never used: still clean
            (warm if slot.mm is not None else self._cold).append(slot)
        self._memories -= len(state.memories) + len(state.reserved)
        self._instances -= state.instances
        self._tables -= len(state.tables) + state.table_credit
        for elems in state.tables:
            elems.clear()
        state.memories, state.reserved, state.tables = [], [], []
        state.instances = state.table_credit = 0
        while len(warm) > self.max_unused_warm_slots:
            slot = warm.popleft()
            try:
                slot.mm.close()
            except BufferError:  # pragma: no cover - a clean slot exports nothing
                pass
            slot.mm = None
            self._cold.append(slot)
            self._decommits += 1

    # -- metrics --------------------------------------------------------------
    def metrics(self) -> PoolingAllocatorMetrics:
        with self._lock:
            self._drain()
            return PoolingAllocatorMetrics(
                core_instances=self._instances, memories=self._memories, tables=self._tables,
                unused_warm_memories=len(self._warm),
                cold_memories=len(self._cold) + self.total_memories - self._fresh,
                wipes=self._wipes, bytes_wiped=self._bytes_wiped, decommits=self._decommits,
                retired_memories=self._retired)
