"""The on-demand allocator: a mapping per memory, made when the memory is.

Which heap a memory gets (see :mod:`wasmbox.runtime.heap`):

* reserved, of exactly the memory's maximum, when that maximum fits in
  ``Config.memory_reservation`` and is bounded (the default for every
  32-bit memory: growing never copies);
* otherwise, if ``Config.memory_may_move``: dynamic, mapping the initial
  size plus ``memory_reservation_for_growth`` and moving when it grows past;
* otherwise reserved, of ``max(memory_reservation, initial size)``: it
  never moves, and growing past the reservation returns -1.

If the system refuses a reservation (address space exhausted), a movable
memory falls back to a dynamic heap with a small growth margin.

Raises :class:`~wasmbox.errors.InstantiationError` when even that fails.
"""
from __future__ import annotations

import weakref
from typing import Any, Sequence

from ...errors import InstantiationError
from ..heap import Heap
from . import AllocState, InstanceAllocator

#: growth margin of the fallback dynamic heap
_FALLBACK_GROWTH = 16 << 20


class OnDemandState(AllocState):
    """The live heaps of one store (weakly: a heap dies with its memory)."""

    __slots__ = ("heaps",)

    def __init__(self) -> None:
        self.heaps: weakref.WeakSet[Heap] = weakref.WeakSet()

    def close(self, wait: bool = True) -> None:
        for heap in list(self.heaps):
            heap.detach()
        self.heaps.clear()


class OnDemandAllocator(InstanceAllocator):
    """Allocate each memory and table when it is made (see the module docstring)."""

    strategy = "on-demand"

    def __init__(self, config: Any) -> None:
        self.reservation: int = config.memory_reservation
        self.growth: int = config.memory_reservation_for_growth
        self.may_move: bool = config.memory_may_move

    def admit(self, store: Any, mem_min_bytes: Sequence[int], table_mins: Sequence[int]) -> None:
        """Nothing to reserve up front."""

    def memory(self, store: Any, min_bytes: int, max_bytes: int, unbounded: bool) -> Heap:
        reservation = self.reservation
        try:
            if max_bytes <= reservation and not unbounded:
                heap = Heap(max_bytes, max_bytes, min_bytes)
            elif not self.may_move:
                cap = min(max_bytes, max(reservation, min_bytes))
                heap = Heap(cap, cap, min_bytes)
            else:
                cap = min(max_bytes, min_bytes + self.growth)
                heap = Heap(cap, max_bytes, min_bytes, growth=self.growth, may_move=True)
        except InstantiationError:
            if not self.may_move:
                raise
            growth = min(self.growth, _FALLBACK_GROWTH)
            heap = Heap(min(max_bytes, min_bytes + growth), max_bytes, min_bytes, growth=growth,
                        may_move=True)
        state = store._alloc_state
        if state is None:
            state = store._alloc_state = OnDemandState()
        state.heaps.add(heap)
        return heap

    def table(self, store: Any, min_elems: int, elems: list) -> int:
        return store.config.max_table_elements
