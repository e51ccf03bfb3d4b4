"""Instance allocation: one interface, two strategies.

Every memory and table an instance (or a host) makes, and every instance,
goes through the engine's :class:`InstanceAllocator`:

* :class:`~wasmbox.runtime.alloc.on_demand.OnDemandAllocator` (the default):
  each memory gets its own mapping when it is made (a reserved or dynamic
  :class:`~wasmbox.runtime.heap.Heap`), freed with it;
* :class:`~wasmbox.runtime.alloc.pooling.PoolingAllocator`: fixed numbers of
  instance, memory and table slots, made once (lazily, per slot) and reused;
  a tenant's slots come back, wiped, when its store is closed.

The allocator keeps per-store bookkeeping in ``store._alloc_state`` (an
:class:`AllocState`); :meth:`Store.close` calls its ``close``. Store limits
(:meth:`Store.set_limits`) are the store's business and are checked before
the allocator is asked for anything.

Raises :class:`~wasmbox.errors.InstantiationError` (a module that does not
fit, a pool that is exhausted, a mapping the system refuses).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from ...config import Config
    from ..heap import Heap


class AllocState:
    """What an allocator tracks for one store."""

    __slots__ = ()

    def close(self, wait: bool = True) -> None:  # pragma: no cover - overridden
        """Give everything of the store back (called once, by Store.close).

        ``wait=False`` (a store dropped, possibly inside a garbage collection
        or a pool operation of this thread): never block on a lock."""


@dataclass(frozen=True)
class PoolingAllocatorMetrics:
    """A snapshot of a pooling allocator (``engine.pooling_allocator_metrics()``).

    ``core_instances``, ``memories``, ``tables``: slots in use.
    ``unused_warm_memories``: free memory slots that keep their mapping.
    ``cold_memories``: free memory slots without one (never used, or given
    back past ``max_unused_warm_slots``). ``wipes``/``bytes_wiped``: memory
    slots wiped for reuse and the bytes discarded (each wipe covers the
    tenant's high-water mark, rounded to host pages). ``decommits``: warm
    slots whose mapping was given back. ``retired_memories``: slots whose
    mapping was abandoned because a view derived by the host outlived its
    tenant (the slot gets a fresh mapping; the old one is freed with the
    view).
    """

    core_instances: int
    memories: int
    tables: int
    unused_warm_memories: int
    cold_memories: int
    wipes: int
    bytes_wiped: int
    decommits: int
    retired_memories: int


class InstanceAllocator(ABC):
    """The interface both strategies implement."""

    #: "on-demand" or "pooling"
    strategy: str = ""

    @abstractmethod
    def admit(self, store: Any, mem_min_bytes: Sequence[int], table_mins: Sequence[int]) -> None:
        """Before an instance allocates anything: refuse a module that does not
        fit (InstantiationError naming the limit), reserve what it will need."""

    @abstractmethod
    def memory(self, store: Any, min_bytes: int, max_bytes: int, unbounded: bool) -> "Heap":
        """The heap of a new memory of ``min_bytes`` that may grow to ``max_bytes``.

        ``unbounded``: the memory has no declared maximum and its address
        space is larger than ``max_bytes`` (memory64). The heap's ``limit``
        may be lower than max_bytes (a pool slot, a reservation that cannot
        move); growth past it fails.
        """

    @abstractmethod
    def table(self, store: Any, min_elems: int, elems: list) -> int:
        """Account a new table (its element list); returns the most elements it may hold."""

    def metrics(self) -> PoolingAllocatorMetrics | None:
        """Pool metrics (None for allocators without a pool)."""
        return None


def make_allocator(config: "Config") -> InstanceAllocator:
    """The allocator the config asks for."""
    from ...config import PoolingAllocationConfig
    from .on_demand import OnDemandAllocator
    from .pooling import PoolingAllocator

    strategy = config.allocation_strategy
    if isinstance(strategy, PoolingAllocationConfig):
        return PoolingAllocator(strategy)
    return OnDemandAllocator(config)


__all__ = ["AllocState", "InstanceAllocator", "PoolingAllocatorMetrics", "make_allocator"]
