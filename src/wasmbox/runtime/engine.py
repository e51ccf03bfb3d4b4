"""The Engine: a Config, the cache of compiled modules, the instance allocator.

Modules loaded from the same bytes through one engine share their decoded
form and their compiled code (keyed by the SHA-256 of the bytes), so loading
a module a second time costs a hash, not a decode, validation and compile.

The engine's :class:`~wasmbox.runtime.alloc.InstanceAllocator` (chosen by
``Config.allocation_strategy``, made once with the engine) serves every
store made from it. Stores keep their engine (and so its pool) alive, so
dropping an engine before its stores and instances is safe.

Raises :class:`TypeError` for a config that is not a :class:`Config`,
:class:`ValueError` for pool limits that are inconsistent.
"""
from __future__ import annotations

import threading
import types
from collections import OrderedDict
from typing import Any

from .alloc import InstanceAllocator, PoolingAllocatorMetrics, make_allocator
from ..config import Config

#: number of distinct modules an engine keeps compiled
CACHE_SIZE = 64


class Engine:
    """A compilation environment shared by stores and modules."""

    def __init__(self, config: Config | None = None) -> None:
        if config is None:
            config = Config()
        if not isinstance(config, Config):
            raise TypeError("Engine(config): expected a wasmbox Config")
        self.config = config
        self._cache: OrderedDict[bytes, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._allocator: InstanceAllocator = make_allocator(config)
        #: the epoch (Config.epoch_interruption): a cell that compiled code reads
        self._epoch = types.CellType(0)

    def increment_epoch(self) -> None:
        """Advance the epoch by one (wasmtime-py's name). Safe from any thread
        and from a signal handler: one in-place add on an int, which no other
        Python code can interrupt under CPython's GIL (no lock, so a handler
        that interrupts a thread inside this method cannot deadlock)."""
        self._epoch.cell_contents += 1

    @property
    def epoch(self) -> int:
        """The current epoch (starts at 0)."""
        return self._epoch.cell_contents

    def pooling_allocator_metrics(self) -> PoolingAllocatorMetrics | None:
        """Slots in use, warm slots, wipes and bytes wiped of the pooling
        allocator (None with the on-demand allocator), as in wasmtime."""
        return self._allocator.metrics()

    @property
    def allocation_strategy(self) -> str:
        """"on-demand" or "pooling"."""
        return self._allocator.strategy

    def _cached(self, key: bytes) -> Any:
        with self._lock:
            v = self._cache.get(key)
            if v is not None:
                self._cache.move_to_end(key)
            return v

    def _remember(self, key: bytes, value: Any) -> None:
        with self._lock:
            self._cache[key] = value
            self._cache.move_to_end(key)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
